//! The load generators: `wrk` (closed loop, peak throughput) and `oha` (fixed rate with
//! coordinated-omission correction, tail latency), run pinned and parsed into [`LoadResult`].

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// What one load run measured. Latencies are in microseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadResult {
    /// `wrk` or `oha`.
    pub tool: String,
    pub requests: u64,
    pub duration_s: f64,
    /// Completed requests per second (errors included, as the tools count them).
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    /// Transport errors (connect, read, write, timeout) plus answers that were not 2xx/3xx.
    pub errors: u64,
}

/// The marker line printed by `bench/wrk-report.lua`.
const WRK_MARKER: &str = "CEPHALO_WRK";

/// The Lua script that makes wrk print [`WRK_MARKER`] lines.
pub const WRK_SCRIPT: &str = include_str!("../../../bench/wrk-report.lua");

/// A closed-loop wrk run: one thread, `connections` keep-alive connections.
pub struct Wrk<'a> {
    pub cpu: &'a str,
    pub script: &'a Path,
    pub connections: u32,
    pub duration: Duration,
}

impl Wrk<'_> {
    /// The command line (also shown in the report).
    pub fn command(&self, url: &str) -> Command {
        let mut command = Command::new("taskset");
        command.args(["-c", self.cpu, "wrk", "-t1"]);
        command.arg(format!("-c{}", self.connections));
        command.arg(format!("-d{}s", self.duration.as_secs().max(1)));
        // Above 2 s a request counts as a timeout error: a stuck contender shows up as errors.
        command
            .args(["--timeout", "2s", "-s"])
            .arg(self.script)
            .arg(url);
        command
    }

    /// Runs wrk and returns its result and the client's CPU use (share of one core).
    pub fn run(&self, url: &str) -> Result<(LoadResult, Option<f64>)> {
        let child = self
            .command(url)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .context("starting wrk")?;
        let pid = child.id();
        let (output, cpu) = with_cpu_share(pid, self.duration, || child.wait_with_output())?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!(
                "wrk failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok((parse_wrk(&stdout)?, cpu))
    }
}

/// Samples a process's CPU time while `wait` runs; returns the share of one core it used.
fn with_cpu_share<T>(
    pid: u32,
    duration: Duration,
    wait: impl FnOnce() -> std::io::Result<T>,
) -> Result<(T, Option<f64>)> {
    // Sample just before the end: once the process exits its counters are gone.
    let sampler = std::thread::spawn(move || {
        let start = super::process::cpu_ticks(pid)?;
        let started = std::time::Instant::now();
        std::thread::sleep(duration.saturating_sub(Duration::from_millis(300)));
        let end = super::process::cpu_ticks(pid)?;
        let seconds = started.elapsed().as_secs_f64();
        Some((end - start) as f64 / super::process::TICKS_PER_SECOND / seconds)
    });
    let value = wait()?;
    let share = sampler.join().ok().flatten();
    Ok((value, share))
}

/// Parses the [`WRK_MARKER`] line of a wrk run's standard output.
pub fn parse_wrk(stdout: &str) -> Result<LoadResult> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(WRK_MARKER))
        .with_context(|| format!("wrk printed no {WRK_MARKER} line:\n{stdout}"))?;
    let field = |name: &str| -> Result<f64> {
        line.split_whitespace()
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            .with_context(|| format!("no {name} in {line:?}"))?
            .parse::<f64>()
            .with_context(|| format!("{name} is not a number in {line:?}"))
    };
    let requests = field("requests")?;
    let duration_s = field("duration_us")? / 1e6;
    if duration_s <= 0.0 {
        bail!("wrk ran for no time: {line:?}");
    }
    let errors = ["connect", "read", "write", "status", "timeout"]
        .iter()
        .map(|name| field(name))
        .sum::<Result<f64>>()?;
    Ok(LoadResult {
        tool: "wrk".into(),
        requests: requests as u64,
        duration_s,
        rps: requests / duration_s,
        p50_us: field("p50_us")?,
        p99_us: field("p99_us")?,
        p999_us: field("p999_us")?,
        errors: errors as u64,
    })
}

/// A fixed-rate oha run with coordinated-omission correction.
pub struct Oha<'a> {
    pub cpu: &'a str,
    pub connections: u32,
    pub rate: f64,
    pub duration: Duration,
}

impl Oha<'_> {
    /// The command line (also shown in the report).
    pub fn command(&self, url: &str) -> Command {
        let mut command = Command::new("taskset");
        command.args(["-c", self.cpu, "oha", "--no-tui", "--output-format", "json"]);
        command.args(["--worker-threads", "1", "--latency-correction", "-w"]);
        command.arg("-c").arg(self.connections.to_string());
        command.arg("-q").arg(format!("{:.0}", self.rate.max(1.0)));
        command
            .arg("-z")
            .arg(format!("{}s", self.duration.as_secs().max(1)));
        command.args(["-t", "2s"]).arg(url);
        command
    }

    /// Runs oha and returns its result and the client's CPU use (share of one core).
    pub fn run(&self, url: &str) -> Result<(LoadResult, Option<f64>)> {
        let child = self
            .command(url)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .context("starting oha")?;
        let pid = child.id();
        let (output, cpu) = with_cpu_share(pid, self.duration, || child.wait_with_output())?;
        if !output.status.success() {
            bail!(
                "oha failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok((parse_oha(&String::from_utf8_lossy(&output.stdout))?, cpu))
    }
}

/// The parts of oha's `--output-format json` document the bench reads.
#[derive(Deserialize)]
struct OhaJson {
    summary: OhaSummary,
    #[serde(rename = "latencyPercentiles")]
    latency_percentiles: std::collections::BTreeMap<String, Option<f64>>,
    #[serde(rename = "statusCodeDistribution", default)]
    status_codes: std::collections::BTreeMap<String, u64>,
    #[serde(rename = "errorDistribution", default)]
    errors: std::collections::BTreeMap<String, u64>,
}

#[derive(Deserialize)]
struct OhaSummary {
    /// Seconds.
    total: f64,
    #[serde(rename = "requestsPerSec")]
    requests_per_sec: f64,
}

/// Parses oha's JSON output (latencies there are in seconds).
pub fn parse_oha(stdout: &str) -> Result<LoadResult> {
    let json: OhaJson =
        serde_json::from_str(stdout.trim()).context("oha printed no JSON report")?;
    let percentile = |name: &str| -> Result<f64> {
        let seconds = json
            .latency_percentiles
            .get(name)
            .copied()
            .flatten()
            .with_context(|| format!("oha's report has no {name} latency"))?;
        Ok(seconds * 1e6)
    };
    let answered: u64 = json.status_codes.values().sum();
    let not_ok: u64 = json
        .status_codes
        .iter()
        .filter(|(code, _)| !code.starts_with('2') && !code.starts_with('3'))
        .map(|(_, n)| n)
        .sum();
    let transport: u64 = json.errors.values().sum();
    Ok(LoadResult {
        tool: "oha".into(),
        requests: answered,
        duration_s: json.summary.total,
        rps: json.summary.requests_per_sec,
        p50_us: percentile("p50")?,
        p99_us: percentile("p99")?,
        p999_us: percentile("p99.9")?,
        errors: not_ok + transport,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK_OUTPUT: &str = "Running 1s test @ http://127.0.0.1:18001/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   679.63us    1.09ms   8.98ms   90.66%
  107776 requests in 1.10s, 42.45MB read
Requests/sec:  97606.21
CEPHALO_WRK requests=107776 duration_us=1104192 bytes=44511488 connect=0 read=2 write=0 status=5 timeout=1 p50_us=274 p99_us=5531 p999_us=8757 max_us=8982
";

    #[test]
    fn parses_the_marker_line() {
        let result = parse_wrk(WRK_OUTPUT).unwrap();
        assert_eq!(result.requests, 107_776);
        assert!((result.duration_s - 1.104192).abs() < 1e-9);
        assert!((result.rps - 97_606.2).abs() < 0.1, "{}", result.rps);
        assert_eq!(
            (result.p50_us, result.p99_us, result.p999_us),
            (274.0, 5531.0, 8757.0)
        );
        assert_eq!(result.errors, 8, "read + status + timeout");
        assert_eq!(result.tool, "wrk");
    }

    #[test]
    fn missing_marker_or_field_is_an_error() {
        assert!(parse_wrk("Requests/sec: 1000\n").is_err());
        let without_p99 = WRK_OUTPUT.replace(" p99_us=5531", "");
        assert!(parse_wrk(&without_p99).is_err());
        let zero_time = WRK_OUTPUT.replace("duration_us=1104192", "duration_us=0");
        assert!(parse_wrk(&zero_time).is_err());
    }

    #[test]
    fn field_names_do_not_match_by_prefix() {
        // `p99_us` must not be read from `p999_us`.
        let swapped = WRK_OUTPUT
            .replace(" p99_us=5531", "")
            .replace("max_us", "p99_us");
        assert_eq!(parse_wrk(&swapped).unwrap().p99_us, 8982.0);
    }

    #[test]
    fn command_pins_and_bounds_the_run() {
        let wrk = Wrk {
            cpu: "0",
            script: Path::new("/tmp/s.lua"),
            connections: 1000,
            duration: Duration::from_secs(10),
        };
        let command = wrk.command("http://127.0.0.1:1/");
        let args: Vec<_> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(command.get_program(), "taskset");
        assert_eq!(
            args,
            [
                "-c",
                "0",
                "wrk",
                "-t1",
                "-c1000",
                "-d10s",
                "--timeout",
                "2s",
                "-s",
                "/tmp/s.lua",
                "http://127.0.0.1:1/"
            ]
        );
    }
    const OHA_OUTPUT: &str = r#"{
  "summary": {"successRate": 0.99, "total": 2.000733426, "slowest": 0.0071, "fastest": 0.00002,
              "average": 0.000267, "requestsPerSec": 19977.67, "totalData": 12150880,
              "sizePerRequest": 304, "sizePerSec": 6073212.8},
  "latencyPercentiles": {"p10": 0.000077945, "p50": 0.000247617, "p99": 0.000861086,
                         "p99.9": 0.00351625, "p99.99": 0.007084787},
  "statusCodeDistribution": {"200": 39960, "502": 10},
  "errorDistribution": {"connection closed before message completed": 3}
}"#;

    #[test]
    fn parses_oha_json_in_microseconds() {
        let result = parse_oha(OHA_OUTPUT).unwrap();
        assert_eq!(result.tool, "oha");
        assert_eq!(result.requests, 39_970);
        assert!((result.rps - 19_977.67).abs() < 1e-6);
        assert!((result.p50_us - 247.617).abs() < 1e-6);
        assert!((result.p99_us - 861.086).abs() < 1e-6);
        assert!((result.p999_us - 3516.25).abs() < 1e-6);
        assert_eq!(result.errors, 13, "the 502s plus the transport errors");
    }

    #[test]
    fn oha_without_percentiles_or_json_is_an_error() {
        assert!(parse_oha("Summary:\n  Success rate: 100.00%").is_err());
        let no_p999 = OHA_OUTPUT.replace("\"p99.9\": 0.00351625,", "");
        assert!(parse_oha(&no_p999).is_err());
        // oha writes null percentiles when nothing was answered.
        let null = OHA_OUTPUT.replace("\"p50\": 0.000247617", "\"p50\": null");
        assert!(parse_oha(&null).is_err());
    }

    #[test]
    fn oha_command_is_fixed_rate_with_correction() {
        let oha = Oha {
            cpu: "0",
            connections: 50,
            rate: 15000.4,
            duration: Duration::from_secs(5),
        };
        let command = oha.command("http://127.0.0.1:1/");
        let args: Vec<_> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = args.join(" ");
        assert!(joined.starts_with("-c 0 oha "), "{joined}");
        for part in [
            "--latency-correction",
            "-q 15000",
            "-z 5s",
            "-c 50",
            "--worker-threads 1",
        ] {
            assert!(joined.contains(part), "{part} missing from {joined}");
        }
    }
}
