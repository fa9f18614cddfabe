//! `cargo xtask ce`: the KrakenD CE integration specs (upstream and the
//! project's own) against a gateway binary, with the Go-faithful runner and
//! mock backend of `conformance::ce`.
//!
//! Case lines and the closing `N passed, M failed, K skipped` line go to
//! stdout; progress goes to stderr. Exits non-zero on an unexpected failure.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use conformance::ce::{
    self, build, tables, GatewayTarget, MockConfig, Report, RunOptions, SessionOptions, Suite,
};

use crate::project;

/// Options of `cargo xtask ce`.
#[derive(clap::Args)]
pub struct Args {
    /// Gateway binary to test (default: build `gateway` with `--profile`).
    #[arg(long, value_name = "PATH")]
    bin: Option<PathBuf>,
    /// Cargo profile used to build the gateway when `--bin` is absent.
    #[arg(long, default_value = "fastrelease", value_name = "NAME")]
    profile: String,
    /// A spec directory (`<dir>/../krakend.json` is its config, `<dir>/../..` the
    /// gateway's working directory). Repeatable. When given, only these run.
    #[arg(long = "specs", value_name = "DIR")]
    specs: Vec<PathBuf>,
    /// The shared krakend-ce-tests folder (default: $CEPHALO_CE_TESTS, then
    /// ../shared/krakend-ce-tests from the repository root).
    #[arg(long, value_name = "DIR")]
    ce_dir: Option<PathBuf>,
    /// Run only the upstream suite.
    #[arg(long, conflicts_with = "specs")]
    upstream_only: bool,
    /// Run only the project's own suites (conformance/specs).
    #[arg(long, conflicts_with_all = ["specs", "upstream_only"])]
    project_only: bool,
    /// Only cases whose name matches this glob (`*`, `?`). Repeatable.
    #[arg(long, value_name = "GLOB")]
    filter: Vec<String>,
    /// Treat failures of the cases in the known-gaps table (`conformance/src/ce/tables.rs`:
    /// cases needing a namespace not implemented yet) as expected.
    #[arg(long)]
    known_gaps: bool,
    /// Extra expected failures, `NAMESPACE=GLOB[,GLOB...]`. Repeatable.
    #[arg(long, value_name = "NS=GLOBS")]
    expect_fail: Vec<String>,
    /// Do not start a gateway: test the one running at `--base-url`.
    #[arg(long, requires = "base_url")]
    no_spawn: bool,
    /// Base URL of a running gateway (with `--no-spawn`); requests keep
    /// `Host: localhost:8080` as the specs expect.
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Address of the mock backend.
    #[arg(long, default_value = "127.0.0.1:8081", value_name = "ADDR")]
    mock_addr: std::net::SocketAddr,
    /// Delay of the mock's `/delayed/` route, in milliseconds.
    #[arg(long, default_value_t = 200, value_name = "MS")]
    delay_ms: u64,
    /// Bound on the gateway's start-up, in seconds.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    ready_timeout: u64,
    /// Do not follow redirects (upstream `-client_not_follow_redirects`).
    #[arg(long)]
    no_follow_redirects: bool,
    /// Run the cases in a random order (as upstream does), reproducible from
    /// this seed; `--shuffle` alone picks and prints a seed.
    #[arg(long, value_name = "SEED", num_args = 0..=1, default_missing_value = "0")]
    shuffle: Option<u64>,
}

/// A suite to run and whether it gets the shared mock data.
struct Planned {
    suite: Suite,
    mock_data: Option<PathBuf>,
}

/// Runs the task.
pub fn run(args: Args) -> Result<()> {
    let root = project::root();
    let plan = plan(&args, &root)?;
    if plan.is_empty() {
        bail!("no spec suite to run");
    }

    let target = if args.no_spawn {
        GatewayTarget::Existing {
            base_url: args
                .base_url
                .clone()
                .context("--no-spawn needs --base-url")?,
        }
    } else {
        let bin = match &args.bin {
            Some(bin) => std::path::absolute(bin)?,
            None => {
                eprintln!(
                    "ce: building the gateway (cargo build -p gateway --profile {})",
                    args.profile
                );
                build::cargo_build_gateway(&root, &args.profile)?
            }
        };
        GatewayTarget::Spawn {
            bin,
            env: Vec::new(),
        }
    };

    let mut options = RunOptions {
        filter: args.filter.clone(),
        ..RunOptions::default()
    };
    if args.known_gaps {
        options = options.with_known_gaps();
    }
    for spec in &args.expect_fail {
        options
            .expected_failures
            .extend(tables::parse_expected_failures(spec).map_err(anyhow::Error::msg)?);
    }
    options.client.follow_redirects = !args.no_follow_redirects;
    options.shuffle_seed = args.shuffle.map(|seed| {
        let seed = if seed == 0 {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64 | 1)
        } else {
            seed
        };
        eprintln!("ce: case order shuffled with --shuffle {seed}");
        seed
    });

    let runtime = tokio::runtime::Runtime::new()?;
    let mut total = Report::default();
    for Planned { suite, mock_data } in &plan {
        eprintln!(
            "ce: suite {} ({} cases, config {})",
            suite.name,
            suite.cases.len(),
            suite.config.display()
        );
        let mut mock =
            MockConfig::new(args.mock_addr).with_delay(Duration::from_millis(args.delay_ms));
        mock.data_dir = mock_data.clone();
        let mut session = match &target {
            GatewayTarget::Spawn { bin, .. } => SessionOptions::spawn(bin.clone()),
            GatewayTarget::Existing { base_url } => SessionOptions::existing(base_url.clone()),
        };
        session.mock = Some(mock);
        session.ready_timeout = Duration::from_secs(args.ready_timeout);
        let report = runtime
            .block_on(ce::run_suite(
                suite,
                &session,
                &options,
                |r| println!("{r}"),
                |p| eprintln!("ce: {p}"),
            ))
            .with_context(|| format!("suite {} could not run", suite.name))?;
        eprintln!("ce: suite {}: {}", suite.name, report.summary_line());
        total.extend(report);
    }

    if let Some(line) = total.expected_line() {
        println!("{line}");
    }
    println!("{}", total.summary_line());
    if !total.ok() {
        bail!(
            "unexpected failures: {}",
            total.unexpected_failures().join(", ")
        );
    }
    Ok(())
}

/// The suites to run, from the options.
fn plan(args: &Args, root: &Path) -> Result<Vec<Planned>> {
    if !args.specs.is_empty() {
        return args
            .specs
            .iter()
            .map(|dir| {
                let suite =
                    Suite::load(dir).with_context(|| format!("loading {}", dir.display()))?;
                Ok(Planned {
                    suite,
                    mock_data: None,
                })
            })
            .collect();
    }
    let mut plan = Vec::new();
    if !args.project_only {
        let ce_dir = match &args.ce_dir {
            Some(dir) => Some(dir.clone()).filter(|d| d.join("tests/fixtures/specs").is_dir()),
            None => ce::upstream_dir(root),
        };
        match ce_dir {
            Some(dir) => {
                let suite = ce::upstream_suite(&dir).with_context(|| format!("loading the upstream suite in {}", dir.display()))?;
                plan.push(Planned { suite, mock_data: Some(ce::upstream_mock_data(&dir)) });
            }
            None if args.upstream_only || args.ce_dir.is_some() => {
                bail!("the upstream krakend-ce-tests folder was not found (use --ce-dir or {})", ce::CE_TESTS_ENV)
            }
            None => eprintln!(
                "ce: upstream suite SKIPPED: krakend-ce-tests not found (set --ce-dir or {}; default ../shared/krakend-ce-tests)",
                ce::CE_TESTS_ENV
            ),
        }
    }
    if !args.upstream_only {
        for suite in project_suites(root)? {
            plan.push(Planned {
                suite,
                mock_data: None,
            });
        }
    }
    Ok(plan)
}

/// The project's own suites: `conformance/specs/<name>/fixtures/specs`.
fn project_suites(root: &Path) -> Result<Vec<Suite>> {
    let base = root.join("conformance").join("specs");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&base)
        .with_context(|| format!("reading {}", base.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("fixtures").join("specs").is_dir())
        .collect();
    dirs.sort();
    dirs.iter()
        .map(|d| Suite::load_root(d).with_context(|| format!("loading {}", d.display())))
        .collect()
}
