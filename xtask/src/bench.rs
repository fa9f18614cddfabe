//! `cargo xtask bench`: Cephalo beside nginx, HAProxy and Caddy, and beside the backend
//! reached directly, under the same load generator and CPU pinning (method:
//! `../shared/docs/benchmarks.md`). Writes `report.md`, `report.json` and `report.svg`
//! under `<target>/bench/`.
//!
//! | module | one job |
//! | --- | --- |
//! | `tools` | install the peers and load generators when missing; release builds |
//! | `process` | pinned child processes that always stop; RSS and CPU from `/proc` |
//! | `probe` | a tiny HTTP/1.1 client for readiness checks |
//! | `contenders` | render the peers' and the gateway's configs from `bench/`, start them |
//! | `loadgen` | run and parse wrk (peak) and oha (fixed rate) |
//! | `startup` | process and container start-up to the first 200 |
//! | `model` | the report's data (`report.json`) |
//! | `analysis` | ratios, client-bound flags, targets |
//! | `report`, `plot` | `report.md`, `report.svg` |

mod analysis;
mod contenders;
mod loadgen;
mod model;
mod plot;
mod probe;
mod process;
mod report;
mod startup;
mod tools;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::project;
use analysis::{AGGREGATE, CONNECTIONS, LATENCY, PROXY_JSON, PROXY_NOOP, SCENARIOS, STARTUP};
use contenders::{Contender, Setup};
use loadgen::{Oha, Wrk};
use model::{Load, Machine, Report, Run};
use process::Running;

/// The load generator's CPU, and the CPU every server shares.
const CLIENT_CPU: &str = "0";
const SERVER_CPU: &str = "1";

/// Options of `cargo xtask bench`.
#[derive(clap::Args)]
pub struct Args {
    /// Short runs (2 s each, fastrelease build): a smoke test that stays under 2 minutes.
    #[arg(long)]
    quick: bool,
    /// Run one scenario only.
    #[arg(long, value_name = "SCENARIO", value_parser = SCENARIOS)]
    only: Option<String>,
    /// Benchmark this gateway binary instead of building the static musl one.
    #[arg(long, value_name = "PATH")]
    gateway_bin: Option<PathBuf>,
    /// Rounds of each scenario, interleaving the contenders (default 3, or 1 with --quick).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=9))]
    rounds: Option<u32>,
    /// Seconds per load run (default 8, or 2 with --quick; at most 20).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=20))]
    duration: Option<u64>,
    /// Keep-alive connections of the peak-throughput runs.
    #[arg(long, default_value_t = 64)]
    connections: u32,
    /// Re-write report.md and report.svg from an existing report.json; runs nothing.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["quick", "only", "gateway_bin"])]
    from_json: Option<PathBuf>,
    /// Do not install missing peers or load generators.
    #[arg(long)]
    no_install: bool,
}

/// What one measured load run gave.
struct Measured {
    result: loadgen::LoadResult,
    /// The load generator's share of its core.
    client_cpu: Option<f64>,
    /// The contender's CPU µs per request.
    server_cpu_us: Option<f64>,
}

/// Runs `load`, reading the contender's CPU time (process tree of `pid`) around it.
fn measured_with_server_cpu(
    pid: u32,
    load: impl FnOnce() -> Result<(loadgen::LoadResult, Option<f64>)>,
) -> Result<Measured> {
    let before = process::tree_cpu_ticks(pid);
    let (result, client_cpu) = load()?;
    let after = process::tree_cpu_ticks(pid);
    let server_cpu_us = match (before, after) {
        (Some(b), Some(a)) if result.requests > 0 => Some(
            a.saturating_sub(b) as f64 / process::TICKS_PER_SECOND * 1e6 / result.requests as f64,
        ),
        _ => None,
    };
    Ok(Measured {
        result,
        client_cpu,
        server_cpu_us,
    })
}

/// Everything a scenario needs while it runs.
struct Bench {
    setup: Setup,
    backend: Running,
    backend_port: u16,
    wrk_script: PathBuf,
    duration: Duration,
    warmup: Duration,
    connections: u32,
    has_oha: bool,
    /// Contenders that cannot run, with the reason.
    unavailable: Vec<(Contender, String)>,
    runs: Vec<Run>,
}

/// Runs the task.
pub fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    let out_dir = project::target_dir().join("bench");
    if let Some(path) = &args.from_json {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut report: Report = serde_json::from_str(&text).context("parsing report.json")?;
        analysis::analyse(&mut report);
        std::fs::create_dir_all(&out_dir)?;
        return write_outputs(&report, &out_dir);
    }
    let work = out_dir.join("work");
    if work.exists() {
        std::fs::remove_dir_all(&work).with_context(|| format!("cleaning {}", work.display()))?;
    }
    std::fs::create_dir_all(&work)?;

    let mut report = Report {
        schema: 1,
        version: project::version().into(),
        commit: project::commit().unwrap_or_else(|_| "unknown".into()),
        date: utc_now(),
        quick: args.quick,
        machine: machine(),
        ..Report::default()
    };
    if report.machine.cpus < 2 {
        report.notes.push(
            "fewer than 2 CPUs: client and servers share a core; figures are not comparable".into(),
        );
    }
    if !args.no_install {
        tools::ensure_installed(&mut report.notes);
    }
    report.tools = tools::versions();
    raise_open_files_limit(&mut report.notes);

    let profile = if args.quick { "fastrelease" } else { "release" };
    let backend_bin = match tools::build("conformance", "bench-backend", profile) {
        Ok(path) => path,
        // The conformance crate is shared: when it does not build, an earlier build will do.
        Err(error) => {
            let earlier = project::target_dir().join(profile).join("bench-backend");
            anyhow::ensure!(earlier.is_file(), "{error:#}");
            eprintln!(
                "bench: {error:#}; using the earlier build {}",
                earlier.display()
            );
            report.notes.push(format!(
                "bench-backend did not build ({error}); an earlier build was used"
            ));
            earlier
        }
    };
    let mut unavailable = Vec::new();
    let gateway_bin = match args.gateway_bin.clone() {
        Some(path) => Some(path),
        None => match shipped_gateway(profile) {
            Ok(path) => Some(path),
            // Without the musl toolchain, the host build is measured, and the report says so.
            Err(error) => {
                eprintln!("bench: {error:#}; measuring the host build instead");
                report.notes.push(format!(
                    "the static musl binary did not build ({error}); the host (glibc) build was measured"
                ));
                match tools::build("gateway", "krakend", profile) {
                    Ok(path) => Some(path),
                    Err(error) => {
                        unavailable.push((Contender::Cephalo, format!("not available: {error:#}")));
                        None
                    }
                }
            }
        },
    };
    if let Some(path) = &gateway_bin {
        let shown = path.strip_prefix(project::root()).unwrap_or(path);
        report
            .notes
            .push(format!("gateway binary measured: {}", shown.display()));
    }
    // Our binaries, just built, start from disk as the peers' do (see the function).
    for path in std::iter::once(&backend_bin).chain(gateway_bin.as_ref()) {
        if let Err(error) = tools::evict_from_page_cache(path) {
            report
                .notes
                .push(format!("{error:#}: its RSS may read high"));
        }
    }
    for contender in [Contender::Nginx, Contender::Haproxy, Contender::Caddy] {
        if tools::which(contender.name()).is_none() {
            unavailable.push((
                contender,
                format!("not available: {} is not installed", contender.name()),
            ));
        }
    }

    let _autogroup = raise_priority(&mut report.notes);
    let setup = Setup {
        dir: work.clone(),
        backend_bin,
        gateway_bin,
        server_cpu: SERVER_CPU.into(),
    };
    let (backend, backend_port) = setup.start_backend()?;
    let wrk_script = work.join("wrk-report.lua");
    std::fs::write(&wrk_script, loadgen::WRK_SCRIPT)?;
    let duration = Duration::from_secs(args.duration.unwrap_or(if args.quick { 2 } else { 8 }));
    let mut bench = Bench {
        setup,
        backend,
        backend_port,
        wrk_script,
        duration,
        warmup: if args.quick {
            Duration::ZERO
        } else {
            Duration::from_secs(1)
        },
        connections: args.connections,
        has_oha: tools::which("oha").is_some(),
        unavailable,
        runs: Vec::new(),
    };
    if !bench.has_oha {
        report
            .notes
            .push("oha is missing: fixed-rate latency runs are skipped".into());
    }
    bench.check_gateway();

    let wanted = |name: &str| args.only.as_deref().is_none_or(|only| only == name);
    // Rounds interleave the contenders, so a burst of other work on the box hits them all;
    // the report keeps each figure's median round.
    let rounds = args.rounds.unwrap_or(if args.quick { 1 } else { 3 });
    for round in 1..=rounds {
        eprintln!("bench: round {round}/{rounds}");
        if wanted(PROXY_NOOP) {
            for contender in [
                Contender::Direct,
                Contender::Cephalo,
                Contender::Nginx,
                Contender::Haproxy,
                Contender::Caddy,
            ] {
                bench.peak(
                    PROXY_NOOP,
                    contender,
                    path(PROXY_NOOP, contender),
                    bench.connections,
                );
            }
        }
        if wanted(PROXY_JSON) {
            for contender in [Contender::Direct, Contender::Cephalo] {
                bench.peak(
                    PROXY_JSON,
                    contender,
                    path(PROXY_JSON, contender),
                    bench.connections,
                );
            }
        }
        if wanted(AGGREGATE) {
            bench.peak(AGGREGATE, Contender::Direct, "/a", bench.connections);
            bench.peak(
                AGGREGATE,
                Contender::Cephalo,
                "/aggregate",
                bench.connections,
            );
            // Latency at a light fixed rate: the gateway beside each of its three backends.
            for (contender, path) in [
                (Contender::Direct, "/a"),
                (Contender::Direct, "/b"),
                (Contender::Direct, "/c"),
                (Contender::Cephalo, "/aggregate"),
            ] {
                bench.fixed_rate(AGGREGATE, contender, path, 1000.0, 16);
            }
        }
    }
    if wanted(LATENCY) {
        let rate = bench.half_of_gateway_peak();
        for _ in 0..rounds {
            for contender in [
                Contender::Direct,
                Contender::Cephalo,
                Contender::Nginx,
                Contender::Haproxy,
                Contender::Caddy,
            ] {
                bench.fixed_rate(
                    LATENCY,
                    contender,
                    path(LATENCY, contender),
                    rate,
                    bench.connections,
                );
            }
        }
    }
    if wanted(CONNECTIONS) {
        for contender in [
            Contender::Direct,
            Contender::Cephalo,
            Contender::Nginx,
            Contender::Haproxy,
            Contender::Caddy,
        ] {
            bench.peak(CONNECTIONS, contender, path(CONNECTIONS, contender), 1000);
        }
    }
    if wanted(STARTUP) {
        let starts = if args.quick { 3 } else { 10 };
        for contender in Contender::PROXIES {
            if let Some(reason) = bench.unavailable_reason(contender) {
                let note = Some(reason.to_string());
                report.startups.push(model::Startup {
                    contender,
                    kind: "process".into(),
                    samples_ms: vec![],
                    idle_rss_kib: None,
                    note,
                });
                continue;
            }
            eprintln!("bench: [startup] {contender} x{starts}");
            report.startups.push(startup::process(
                &bench.setup,
                contender,
                (&bench.backend, bench.backend_port),
                starts,
            ));
        }
        let image = format!("cephalo:{}", project::version());
        eprintln!("bench: [startup] container {image}");
        let container = startup::container(
            &bench.setup,
            &image,
            bench.backend_port,
            if args.quick { 1 } else { 3 },
        );
        if let Some(note) = &container.note {
            report.notes.push(format!("container start-up {note}"));
        }
        report.startups.push(container);
    }

    report.runs = analysis::merge_rounds(std::mem::take(&mut bench.runs));
    drop(bench); // Stops the backend.
    let load_after = machine().load_average;
    report.notes.push(format!(
        "load average {:.2} at start, {load_after:.2} at the end (2 CPUs: above ~0.5, other work shared the box)",
        report.machine.load_average
    ));
    analysis::analyse(&mut report);
    write_outputs(&report, &out_dir)?;
    eprintln!("bench: done in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The first line of an error and its causes (log tails follow on later lines).
fn first_line(error: &anyhow::Error) -> String {
    format!("{error:#}")
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The request path of a contender in a scenario.
fn path(scenario: &str, contender: Contender) -> &'static str {
    match (scenario, contender) {
        (PROXY_JSON, Contender::Cephalo) => "/json",
        (_, Contender::Cephalo) => "/noop",
        _ => "/",
    }
}

impl Bench {
    fn unavailable_reason(&self, contender: Contender) -> Option<&str> {
        self.unavailable
            .iter()
            .find(|(c, _)| *c == contender)
            .map(|(_, reason)| reason.as_str())
    }

    /// The gateway takes part only when it answers `/__health` and proxies `/noop`.
    fn check_gateway(&mut self) {
        if self.unavailable_reason(Contender::Cephalo).is_some() {
            return;
        }
        let verdict = self
            .setup
            .start(Contender::Cephalo, (&self.backend, self.backend_port))
            .and_then(|server| {
                let answer = probe::get(server.port, "/noop", Duration::from_secs(2))?;
                anyhow::ensure!(answer.status == 200, "GET /noop answered {}", answer.status);
                Ok(())
            });
        if let Err(error) = verdict {
            let reason = format!("not available: {}", first_line(&error));
            eprintln!("bench: cephalo {reason}");
            self.unavailable.push((Contender::Cephalo, reason));
        }
    }

    /// Starts a contender, checks that `path` answers 200, and runs `measure` against it.
    fn with_server(
        &mut self,
        scenario: &str,
        contender: Contender,
        path: &str,
        load: Load,
        measure: impl FnOnce(&Self, &str, u32) -> Result<Measured>,
    ) {
        let mut run = Run {
            scenario: scenario.into(),
            contender,
            path: path.into(),
            load,
            result: None,
            client_cpu: None,
            peak_rss_kib: None,
            server_cpu_us: None,
            note: None,
            rounds: Vec::new(),
        };
        if let Some(reason) = self.unavailable_reason(contender) {
            run.note = Some(reason.into());
            eprintln!("bench: [{scenario}] {contender}: {reason}");
            self.runs.push(run);
            return;
        }
        // A fresh process per run, so each peak RSS belongs to that run alone.
        let server = match self
            .setup
            .start(contender, (&self.backend, self.backend_port))
        {
            Ok(server) => server,
            Err(error) => {
                eprintln!("bench: [{scenario}] {contender}: {error:#}");
                let reason = format!("not available: {}", first_line(&error));
                run.note = Some(reason.clone());
                // Once is enough: later scenarios skip it with the same reason.
                self.unavailable.push((contender, reason));
                self.runs.push(run);
                return;
            }
        };
        let outcome = (|| -> Result<()> {
            let answer = probe::get(server.port, path, Duration::from_secs(2))?;
            anyhow::ensure!(
                answer.status == 200,
                "GET {path} answered {}",
                answer.status
            );
            let url = format!("http://127.0.0.1:{}{path}", server.port);
            let pid = server.pid(&self.backend);
            let Measured {
                result,
                client_cpu,
                server_cpu_us,
            } = measure(self, &url, pid)?;
            run.peak_rss_kib = process::tree_kib(pid, "VmHWM");
            run.client_cpu = client_cpu;
            run.server_cpu_us = server_cpu_us;
            eprintln!(
                "bench: [{scenario}] {contender} {path}: {:.0} req/s, p50 {:.0} µs, p99 {:.0} µs, {} errors",
                result.rps, result.p50_us, result.p99_us, result.errors
            );
            if let Load::FixedRate { rate, .. } = run.load {
                if result.rps < rate * 0.95 {
                    run.note = Some(format!(
                        "offered {rate:.0} req/s, achieved {:.0}: saturated",
                        result.rps
                    ));
                }
            }
            run.result = Some(result);
            Ok(())
        })();
        if let Err(error) = outcome {
            eprintln!("bench: [{scenario}] {contender}: failed: {error:#}");
            run.note = Some(format!("failed: {}", first_line(&error)));
        }
        self.runs.push(run);
    }

    /// A closed-loop wrk run (after a warm-up) against a fresh contender.
    fn peak(&mut self, scenario: &str, contender: Contender, path: &str, connections: u32) {
        self.with_server(
            scenario,
            contender,
            path,
            Load::Peak { connections },
            |bench, url, pid| {
                let wrk = |duration| Wrk {
                    cpu: CLIENT_CPU,
                    script: &bench.wrk_script,
                    connections,
                    duration,
                };
                if !bench.warmup.is_zero() {
                    wrk(bench.warmup).run(url)?;
                }
                measured_with_server_cpu(pid, || wrk(bench.duration).run(url))
            },
        );
    }

    /// A fixed-rate oha run against a fresh contender.
    fn fixed_rate(
        &mut self,
        scenario: &str,
        contender: Contender,
        path: &str,
        rate: f64,
        connections: u32,
    ) {
        if !self.has_oha {
            return;
        }
        self.with_server(
            scenario,
            contender,
            path,
            Load::FixedRate { connections, rate },
            |bench, url, pid| {
                if !bench.warmup.is_zero() {
                    let wrk = Wrk {
                        cpu: CLIENT_CPU,
                        script: &bench.wrk_script,
                        connections,
                        duration: bench.warmup,
                    };
                    wrk.run(url)?;
                }
                measured_with_server_cpu(pid, || {
                    Oha {
                        cpu: CLIENT_CPU,
                        connections,
                        rate,
                        duration: bench.duration,
                    }
                    .run(url)
                })
            },
        );
    }

    /// Half of Cephalo's no-op peak (nginx's, then direct's, when Cephalo is not available),
    /// measured in this run or, when that scenario was not run, by a short peak probe.
    fn half_of_gateway_peak(&mut self) -> f64 {
        let measured = |runs: &[Run], c: Contender| {
            let rps: Vec<f64> = runs
                .iter()
                .filter(|r| r.scenario == PROXY_NOOP && r.contender == c)
                .filter_map(|r| r.result.as_ref().map(|x| x.rps))
                .collect();
            model::median(&rps)
        };
        for contender in [Contender::Cephalo, Contender::Nginx, Contender::Direct] {
            if let Some(rps) = measured(&self.runs, contender) {
                return rps / 2.0;
            }
            if self.unavailable_reason(contender).is_some() {
                continue;
            }
            let before = self.runs.len();
            self.peak(
                PROXY_NOOP,
                contender,
                path(PROXY_NOOP, contender),
                self.connections,
            );
            if let Some(rps) = self.runs[before..]
                .iter()
                .find_map(|r| r.result.as_ref().map(|x| x.rps))
            {
                return rps / 2.0;
            }
        }
        1000.0
    }
}

fn write_outputs(report: &Report, out_dir: &std::path::Path) -> Result<()> {
    let json_path = out_dir.join("report.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(report)? + "\n")?;
    let svg_path = out_dir.join("report.svg");
    if !plot::write_svg(report, &svg_path)? {
        let _ = std::fs::remove_file(&svg_path);
    }
    let md_path = out_dir.join("report.md");
    std::fs::write(&md_path, report::markdown(report))?;
    for target in &report.targets {
        eprintln!(
            "bench: target {}: {:?} ({:?})",
            target.name, target.verdict, target.value
        );
    }
    eprintln!(
        "bench: wrote {}, {} and {}",
        md_path.display(),
        json_path.display(),
        svg_path.display()
    );
    Ok(())
}

/// Every process started from now on (servers and load generators) inherits a high
/// priority, so that other work on a shared box (compilers) barely competes with the runs.
/// Every contender gets the same, so the comparison stays fair. With autogroup scheduling
/// (the kernel default) a nice value only counts inside its session, so the session's
/// autogroup is raised too; the guard puts it back.
fn raise_priority(notes: &mut Vec<String>) -> Option<AutogroupNice> {
    if let Err(error) = rustix::process::setpriority_process(None, BENCH_NICE) {
        notes.push(format!(
            "could not raise the priority ({error}): other work on the machine competes with the runs"
        ));
        return None;
    }
    let autogroup = AutogroupNice::raise();
    notes.push(format!(
        "servers and load generators ran at nice {BENCH_NICE}{}",
        if autogroup.is_some() {
            " (and so did their session's autogroup)"
        } else {
            ""
        }
    ));
    autogroup
}

/// The session's autogroup nice value before the bench raised it; restored on drop.
struct AutogroupNice(i32);

impl AutogroupNice {
    const PATH: &'static str = "/proc/self/autogroup";

    fn raise() -> Option<Self> {
        let text = std::fs::read_to_string(Self::PATH).ok()?;
        let before = parse_autogroup_nice(&text)?;
        std::fs::write(Self::PATH, BENCH_NICE.to_string()).ok()?;
        Some(AutogroupNice(before))
    }
}

impl Drop for AutogroupNice {
    fn drop(&mut self) {
        let _ = std::fs::write(Self::PATH, self.0.to_string());
    }
}

/// Reads the nice value out of `/proc/<pid>/autogroup` (`/autogroup-11 nice 0`).
fn parse_autogroup_nice(text: &str) -> Option<i32> {
    text.split_whitespace()
        .skip_while(|w| *w != "nice")
        .nth(1)?
        .parse()
        .ok()
}

/// The nice value of the bench's processes (root may go below 0).
const BENCH_NICE: i32 = -15;

/// wrk -c 1000 and the contenders need more than the usual 1,024 descriptors.
fn raise_open_files_limit(notes: &mut Vec<String>) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let wanted = 16_384u64;
    if limit.current.is_some_and(|c| c >= wanted) {
        return;
    }
    let maximum = limit.maximum;
    let current = Some(maximum.map_or(wanted, |m| m.min(wanted)));
    if setrlimit(Resource::Nofile, Rlimit { current, maximum }).is_err() || current < Some(2_100) {
        notes.push(
            "could not raise the open-files limit: the 1,000-connection runs may fail".into(),
        );
    }
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let load_average = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    Machine {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model,
        kernel,
        load_average,
        client_cpu: CLIENT_CPU.into(),
        server_cpu: SERVER_CPU.into(),
    }
}

/// The current UTC time as RFC 3339 (seconds).
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

/// The gateway as the image ships it: the static musl binary of this machine's architecture
/// (`cargo xtask dist`'s build), so that the figures are the image's and not a glibc build's
/// (another allocator path, another `memcpy`, another RSS).
fn shipped_gateway(profile: &str) -> Result<PathBuf> {
    use crate::image::platform::Arch;
    let arch = if cfg!(target_arch = "aarch64") {
        Arch::Arm64
    } else {
        Arch::Amd64
    };
    crate::dist::build(&[arch], profile, false)?;
    let path = project::target_dir()
        .join(arch.rust_target())
        .join(profile)
        .join("krakend");
    anyhow::ensure!(
        path.is_file(),
        "{} is missing after the build",
        path.display()
    );
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
    }

    #[test]
    fn autogroup_nice_is_parsed() {
        assert_eq!(parse_autogroup_nice("/autogroup-11 nice 0\n"), Some(0));
        assert_eq!(parse_autogroup_nice("/autogroup-7 nice -15"), Some(-15));
        assert_eq!(parse_autogroup_nice("garbage"), None);
    }

    #[test]
    fn paths_per_scenario() {
        assert_eq!(path(PROXY_NOOP, Contender::Cephalo), "/noop");
        assert_eq!(path(PROXY_JSON, Contender::Cephalo), "/json");
        assert_eq!(path(CONNECTIONS, Contender::Nginx), "/");
        assert_eq!(path(LATENCY, Contender::Direct), "/");
    }

    #[test]
    fn machine_facts_are_read() {
        let m = machine();
        assert!(m.cpus >= 1);
        assert!(!m.kernel.is_empty());
    }
}
