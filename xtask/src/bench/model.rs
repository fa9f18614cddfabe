//! What a bench run produces: the measurements and what they mean, serialised as
//! `report.json` (schema 1) so that two commits can be compared by a script.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::contenders::Contender;
use super::loadgen::LoadResult;

/// The whole result of `cargo xtask bench`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Report {
    /// Bumped when a field changes meaning.
    pub schema: u32,
    pub version: String,
    pub commit: String,
    /// UTC, RFC 3339.
    pub date: String,
    pub quick: bool,
    pub machine: Machine,
    /// Tool name -> version line (wrk, oha, nginx, haproxy, caddy).
    pub tools: BTreeMap<String, String>,
    pub runs: Vec<Run>,
    pub startups: Vec<Startup>,
    /// Pairs of servers whose peak throughputs were within [`super::analysis::CLIENT_BOUND`].
    pub client_bound: Vec<ClientBound>,
    pub ratios: Vec<Ratio>,
    pub targets: Vec<Target>,
    /// Free-form remarks (skipped parts, tools that are missing, machine load).
    pub notes: Vec<String>,
}

/// The machine the run happened on.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub kernel: String,
    /// The 1-minute load average when the run started (other work on the box skews figures).
    pub load_average: f64,
    pub client_cpu: String,
    pub server_cpu: String,
}

/// How the load was offered.
///
/// Serialised through the flat [`LoadRepr`] rather than an internally tagged enum: serde
/// buffers tagged content, and with serde_json's `arbitrary_precision` (which the gateway
/// enables, and cargo unifies across a workspace build) buffered numbers no longer read back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "LoadRepr", try_from = "LoadRepr")]
pub enum Load {
    /// Closed loop (wrk): as fast as the server answers.
    Peak { connections: u32 },
    /// Open loop at a fixed rate (oha `-q`, latency corrected).
    FixedRate { connections: u32, rate: f64 },
}

/// The JSON form of [`Load`]: `{"kind": "peak"|"fixed-rate", "connections": N, "rate": R}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct LoadRepr {
    kind: String,
    connections: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rate: Option<f64>,
}

impl From<Load> for LoadRepr {
    fn from(load: Load) -> Self {
        match load {
            Load::Peak { connections } => LoadRepr {
                kind: "peak".into(),
                connections,
                rate: None,
            },
            Load::FixedRate { connections, rate } => LoadRepr {
                kind: "fixed-rate".into(),
                connections,
                rate: Some(rate),
            },
        }
    }
}

impl TryFrom<LoadRepr> for Load {
    type Error = String;

    fn try_from(repr: LoadRepr) -> Result<Self, Self::Error> {
        match (repr.kind.as_str(), repr.rate) {
            ("peak", _) => Ok(Load::Peak {
                connections: repr.connections,
            }),
            ("fixed-rate", Some(rate)) => Ok(Load::FixedRate {
                connections: repr.connections,
                rate,
            }),
            ("fixed-rate", None) => Err("a fixed-rate load needs a rate".into()),
            (other, _) => Err(format!("unknown load kind {other:?}")),
        }
    }
}

/// One load measurement of one contender in one scenario.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    pub scenario: String,
    pub contender: Contender,
    /// The request path (the direct backend has several in the aggregate scenario).
    pub path: String,
    pub load: Load,
    /// None when the contender was not available or the run failed (see `note`).
    pub result: Option<LoadResult>,
    /// The load generator's CPU use, as a share of its one core.
    pub client_cpu: Option<f64>,
    /// The contender's peak RSS (VmHWM summed over its processes) at the end, KiB.
    pub peak_rss_kib: Option<u64>,
    /// The contender's CPU time (user + system, all its processes) per request of the
    /// measured load, µs: unlike req/s, this hardly moves when other work shares the machine.
    #[serde(default)]
    pub server_cpu_us: Option<f64>,
    pub note: Option<String>,
    /// Every round's figure (req/s for peak runs, p99 µs for fixed-rate runs); `result` is
    /// the median round's.
    #[serde(default)]
    pub rounds: Vec<f64>,
}

/// Start-up to the first 200 on `/__health`, over several starts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Startup {
    pub contender: Contender,
    /// `process` or `container`.
    pub kind: String,
    pub samples_ms: Vec<f64>,
    /// RSS (VmRSS summed over its processes) once healthy and idle, KiB.
    pub idle_rss_kib: Option<u64>,
    pub note: Option<String>,
}

/// Two servers that gave near-identical peak throughput: the client may be the ceiling.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientBound {
    pub scenario: String,
    pub a: Contender,
    pub b: Contender,
    /// |a − b| / max(a, b).
    pub difference: f64,
}

/// `numerator` req/s over `denominator` req/s in one scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    pub scenario: String,
    pub numerator: Contender,
    pub denominator: Contender,
    pub value: f64,
    /// Set when either side is part of a client-bound pair: the ratio is not trustworthy.
    pub client_bound: bool,
}

/// Whether a target of issue 7 was met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Met,
    Missed,
    /// Measured, but a client-bound flag makes the figure untrustworthy.
    Inconclusive,
    NotMeasured,
}

/// One target of issue 7 and its figure.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Target {
    pub name: String,
    /// The goal, in words (e.g. "≥ 1.00× nginx").
    pub goal: String,
    pub value: Option<f64>,
    pub unit: String,
    pub verdict: Verdict,
    pub note: Option<String>,
}

impl Startup {
    /// The median of the samples, in ms.
    pub fn median_ms(&self) -> Option<f64> {
        median(&self.samples_ms)
    }
}

/// The median of a list (mean of the middle two when even); None when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[f64::NAN, 5.0]), Some(5.0));
    }

    #[test]
    fn load_serialises_with_a_kind_tag() {
        let json = serde_json::to_value(Load::FixedRate {
            connections: 50,
            rate: 1000.0,
        })
        .unwrap();
        assert_eq!(json["kind"], "fixed-rate");
        assert_eq!(json["rate"], 1000.0);
        let back: Load = serde_json::from_value(json).unwrap();
        assert_eq!(
            back,
            Load::FixedRate {
                connections: 50,
                rate: 1000.0
            }
        );
    }
}
