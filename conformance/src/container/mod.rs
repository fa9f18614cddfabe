//! The container conformance harness: every check an image must pass before it ships,
//! run against a real Docker engine (issue 6).
//!
//! Groups, in run order, per architecture: `library` (docker-library's generic tests and
//! their negative twins), `contract` (image config, filesystem listing, files),
//! `entrypoint` (the §5 table in containers), `gateway` (quick start, check, bad config,
//! graceful stop), `fc` (the Hub page's Flexible Configuration examples: FC variables on a
//! mounted tree, a template error, the two-stage Dockerfile), `ce` (the CE spec suite against the containerised gateway); then
//! `parity` (the Dockerfile-built image equals the daemonless one) once.
//!
//! Only loopback is ever a target: ports are published on 127.0.0.1, or the container
//! shares the host's network. Every container and derived image carries the run's label
//! and is removed at the end, also when a check fails.

pub mod binfmt;
mod ce;
mod contract;
pub mod engine;
mod entrypoint;
mod flexible;
mod gateway;
mod library;
pub mod listing;
mod parity;
pub mod report;
mod snapshot;

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use engine::{ContainerSpec, Engine, RunOutput};
pub use report::{CheckResult, Outcome, Report};

/// The check groups, in run order.
pub const GROUPS: [&str; 7] = [
    "library",
    "contract",
    "entrypoint",
    "gateway",
    "fc",
    "ce",
    "parity",
];

/// A CPU architecture the image is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    Amd64,
    Arm64,
}

impl Arch {
    /// Docker's name: `amd64`, `arm64`.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }

    /// The `--platform` value.
    pub fn platform(self) -> &'static str {
        match self {
            Arch::Amd64 => "linux/amd64",
            Arch::Arm64 => "linux/arm64",
        }
    }

    /// docker-library's tag suffix: `amd64`, `arm64v8`.
    pub fn tag_suffix(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64v8",
        }
    }

    /// The architecture this process runs on, if it is one the image is built for.
    pub fn native() -> Option<Arch> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Arch::Amd64),
            "aarch64" => Some(Arch::Arm64),
            _ => None,
        }
    }
}

/// What to check.
#[derive(Debug, Clone)]
pub struct Options {
    /// The image of the native architecture, e.g. `cephalo:0.1.0`.
    pub image: String,
    /// Architectures to check.
    pub arches: Vec<Arch>,
    /// Image per non-native architecture; default `<image>-<suffix>` (e.g.
    /// `cephalo:0.1.0-arm64v8`, as `cargo xtask image --load` tags them).
    pub arch_images: Vec<(Arch, String)>,
    /// The `cargo xtask release` tree with the Dockerfile for the parity check.
    pub release_tree: Option<PathBuf>,
    /// Directory of the upstream CE test material (`krakend-ce-tests`), if present.
    pub ce_tests: Option<PathBuf>,
    /// Only run checks whose `group/name` contains one of these texts (all when empty).
    pub filters: Vec<String>,
}

/// Why the harness could not do its work (not a check failing).
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("no Docker engine reachable: {0}")]
    NoEngine(String),
    #[error("Docker API: {what}: {detail}")]
    Api { what: String, detail: String },
    #[error("building {tag}: {detail}")]
    Build { tag: String, detail: String },
    #[error("{what} took longer than {limit:?}")]
    Timeout { what: String, limit: Duration },
    #[error("{0}")]
    Io(String),
}

/// What a check says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Passed; the text is a note for the report (may be empty).
    Pass(String),
    Fail(String),
    Skip(String),
}

impl Verdict {
    /// `Pass` when `problems` is empty, else `Fail` listing them.
    pub fn from_problems(problems: Vec<String>, note: impl Into<String>) -> Verdict {
        if problems.is_empty() {
            Verdict::Pass(note.into())
        } else {
            Verdict::Fail(problems.join("; "))
        }
    }
}

/// The image under test for one architecture.
#[derive(Debug, Clone)]
pub struct Target {
    pub arch: Arch,
    pub image: String,
    /// `--platform` for its containers (set for emulated architectures).
    pub platform: Option<String>,
    /// Readiness limits are longer under emulation.
    pub slowdown: u32,
}

impl Target {
    /// A spec for this image with its own ENTRYPOINT and CMD.
    pub fn spec(&self) -> ContainerSpec {
        ContainerSpec::new(&self.image).platform(self.platform.as_deref())
    }

    /// `base` scaled for emulation.
    pub fn limit(&self, base: Duration) -> Duration {
        base * self.slowdown
    }
}

/// The state of a run: the engine, the report so far, the options.
pub struct Harness {
    pub engine: Engine,
    pub report: Report,
    pub options: Options,
}

impl Harness {
    /// Runs `check` unless filtered out, timing it and recording its verdict (an engine
    /// error is a failure of that check).
    pub async fn check<F>(&mut self, group: &str, name: &str, arch: &str, check: F)
    where
        F: Future<Output = Result<Verdict, ContainerError>>,
    {
        let id = format!("{group}/{name}");
        if !self.options.filters.is_empty()
            && !self.options.filters.iter().any(|f| id.contains(f.as_str()))
        {
            return;
        }
        let started = Instant::now();
        let verdict = check.await;
        let took = started.elapsed();
        let (outcome, note) = match verdict {
            Ok(Verdict::Pass(note)) => (Outcome::Passed, note),
            Ok(Verdict::Fail(why)) => (Outcome::Failed(why), String::new()),
            Ok(Verdict::Skip(why)) => (Outcome::Skipped(why), String::new()),
            Err(e) => (Outcome::Failed(e.to_string()), String::new()),
        };
        let mark = match &outcome {
            Outcome::Passed => "ok  ",
            Outcome::Failed(_) => "FAIL",
            Outcome::Skipped(_) => "skip",
        };
        eprintln!("[{mark}] {id} ({arch}, {:.1} s)", took.as_secs_f64());
        if let Outcome::Failed(why) = &outcome {
            for line in why.lines().take(12) {
                eprintln!("       {line}");
            }
        }
        self.report.push(group, name, arch, outcome, note, took);
    }

    /// Whether any check of `group` can pass the filters: a filter naming a group (`library`
    /// or `library/...`) selects only that group; other filters may match any group.
    pub fn wants(&self, group: &str) -> bool {
        self.options.filters.is_empty()
            || self.options.filters.iter().any(|f| {
                let named = f.split('/').next().unwrap_or("");
                !GROUPS.contains(&named) || named == group
            })
    }

    /// Records a check that could not run.
    pub fn skip(&mut self, group: &str, name: &str, arch: &str, why: &str) {
        self.report.push(
            group,
            name,
            arch,
            Outcome::Skipped(why.to_string()),
            String::new(),
            Duration::ZERO,
        );
    }
}

/// Runs every check of `options` and returns the report (check failures are in the report;
/// an `Err` means the harness itself could not run, e.g. no engine).
pub async fn run(options: Options) -> Result<Report, ContainerError> {
    let started = Instant::now();
    let engine = Engine::connect().await?;
    let version = engine.version().await?;
    let mut harness = Harness {
        engine: engine.clone(),
        report: Report {
            image: options.image.clone(),
            engine: version,
            ..Default::default()
        },
        options: options.clone(),
    };
    let stale = engine.cleanup_stale().await?;
    if stale > 0 {
        harness.report.notes.push(format!(
            "removed {stale} container(s) left by an interrupted earlier run"
        ));
    }
    let outcome = run_checks(&mut harness).await;
    let cleaned = engine.cleanup().await;
    harness.report.seconds = started.elapsed().as_secs_f64();
    if let Err(e) = cleaned {
        harness
            .report
            .notes
            .push(format!("cleanup of this run's containers failed: {e}"));
    }
    outcome?;
    Ok(harness.report)
}

/// [`run`] on its own Tokio runtime, for callers without one (the xtask).
pub fn run_blocking(options: Options) -> Result<Report, ContainerError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| ContainerError::Io(format!("starting a Tokio runtime: {e}")))?
        .block_on(run(options))
}

async fn run_checks(harness: &mut Harness) -> Result<(), ContainerError> {
    let native = Arch::native();
    for arch in harness.options.arches.clone() {
        let image = image_for(&harness.options, arch, native);
        let emulated = Some(arch) != native;
        let mut target = Target {
            arch,
            image: image.clone(),
            platform: emulated.then(|| arch.platform().to_string()),
            slowdown: if emulated { 6 } else { 1 },
        };
        let present = harness.engine.inspect_image(&image).await?;
        let Some(inspect) = present else {
            harness
                .check("image", "present", arch.name(), async {
                    Ok(Verdict::Fail(format!(
                        "the engine has no image {image}: run `cargo xtask image --load` first"
                    )))
                })
                .await;
            continue;
        };
        let actual_arch = inspect.architecture.clone().unwrap_or_default();
        if actual_arch != arch.name() {
            harness
                .check("image", "architecture", arch.name(), async {
                    Ok(Verdict::Fail(format!(
                        "{image} is a {actual_arch} image, expected {}",
                        arch.name()
                    )))
                })
                .await;
            continue;
        }
        if emulated {
            let setup = binfmt::ensure_emulation(arch);
            harness.report.notes.push(format!(
                "{}: {}",
                arch.name(),
                match &setup {
                    Ok(how) => how.clone(),
                    Err(why) => format!("no binfmt emulation ({why})"),
                }
            ));
            if setup.is_err() {
                binfmt::fallback_checks(harness, &target).await;
                continue;
            }
        } else {
            target.platform = None;
        }
        if harness.wants("library") {
            library::checks(harness, &target).await;
        }
        if harness.wants("contract") {
            contract::checks(harness, &target, &inspect).await;
        }
        if harness.wants("entrypoint") {
            entrypoint::checks(harness, &target).await;
        }
        if harness.wants("gateway") {
            gateway::checks(harness, &target).await;
        }
        if harness.wants("fc") {
            flexible::checks(harness, &target).await;
        }
        if harness.wants("ce") {
            ce::checks(harness, &target).await;
        }
    }
    if harness.wants("parity") {
        parity::checks(harness).await;
    }
    Ok(())
}

pub(crate) fn image_for(options: &Options, arch: Arch, native: Option<Arch>) -> String {
    if let Some((_, image)) = options.arch_images.iter().find(|(a, _)| *a == arch) {
        return image.clone();
    }
    if Some(arch) == native {
        options.image.clone()
    } else {
        format!("{}-{}", options.image, arch.tag_suffix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_native_images_follow_the_xtask_image_tags() {
        let options = Options {
            image: "cephalo:0.1.0".into(),
            arches: vec![Arch::Amd64, Arch::Arm64],
            arch_images: vec![],
            release_tree: None,
            ce_tests: None,
            filters: vec![],
        };
        assert_eq!(
            image_for(&options, Arch::Arm64, Some(Arch::Amd64)),
            "cephalo:0.1.0-arm64v8"
        );
        assert_eq!(
            image_for(&options, Arch::Amd64, Some(Arch::Amd64)),
            "cephalo:0.1.0"
        );
        let options = Options {
            arch_images: vec![(Arch::Arm64, "mine:arm".into())],
            ..options
        };
        assert_eq!(
            image_for(&options, Arch::Arm64, Some(Arch::Amd64)),
            "mine:arm"
        );
    }

    #[test]
    fn verdict_from_problems() {
        assert_eq!(
            Verdict::from_problems(vec![], "n"),
            Verdict::Pass("n".into())
        );
        assert_eq!(
            Verdict::from_problems(vec!["a".into(), "b".into()], ""),
            Verdict::Fail("a; b".into())
        );
    }
}
