//! What the measurements mean: ratios in the same run, client-bound flags, and the targets
//! of issue 7 with met / missed.

use super::contenders::Contender;
use super::model::{ClientBound, Load, Ratio, Report, Run, Target, Verdict};

/// Two different servers whose peak throughputs differ by at most this share are flagged:
/// the load generator, not the servers, is probably the ceiling.
pub const CLIENT_BOUND: f64 = 0.03;

/// Scenario names, as in `--only` and in the report.
pub const PROXY_NOOP: &str = "proxy-noop";
pub const PROXY_JSON: &str = "proxy-json";
pub const AGGREGATE: &str = "aggregate";
pub const LATENCY: &str = "latency";
pub const CONNECTIONS: &str = "connections";
pub const STARTUP: &str = "startup";
pub const SCENARIOS: [&str; 6] = [
    PROXY_NOOP,
    PROXY_JSON,
    AGGREGATE,
    LATENCY,
    CONNECTIONS,
    STARTUP,
];

/// The peak (closed-loop) req/s of a run, when it has one.
fn peak_rps(run: &Run) -> Option<f64> {
    match run.load {
        Load::Peak { .. } => run.result.as_ref().map(|r| r.rps),
        Load::FixedRate { .. } => None,
    }
}

/// The figure that ranks rounds: req/s of a peak run, p99 of a fixed-rate run.
fn round_figure(run: &Run) -> Option<f64> {
    let result = run.result.as_ref()?;
    Some(match run.load {
        Load::Peak { .. } => result.rps,
        Load::FixedRate { .. } => result.p99_us,
    })
}

/// Folds the rounds of each (scenario, contender, path, load) into one run: the median
/// round (the lower middle one when even), with every round's figure in `rounds`, the
/// highest peak RSS, and the notes of failed rounds when no round succeeded.
pub fn merge_rounds(runs: Vec<Run>) -> Vec<Run> {
    let mut groups: Vec<Vec<Run>> = Vec::new();
    for run in runs {
        let same = |g: &Vec<Run>| {
            let f = &g[0];
            f.scenario == run.scenario
                && f.contender == run.contender
                && f.path == run.path
                && f.load == run.load
        };
        match groups.iter_mut().find(|g| same(g)) {
            Some(group) => group.push(run),
            None => groups.push(vec![run]),
        }
    }
    groups
        .into_iter()
        .map(|group| {
            let peak_rss_kib = group.iter().filter_map(|r| r.peak_rss_kib).max();
            let mut measured: Vec<Run> = group
                .iter()
                .filter(|r| r.result.is_some())
                .cloned()
                .collect();
            if measured.is_empty() {
                return group.into_iter().next().expect("groups are never empty");
            }
            measured.sort_by(|a, b| {
                round_figure(a)
                    .unwrap_or(0.0)
                    .total_cmp(&round_figure(b).unwrap_or(0.0))
            });
            let rounds: Vec<f64> = group.iter().filter_map(round_figure).collect();
            let mut median = measured.swap_remove((measured.len() - 1) / 2);
            median.rounds = rounds;
            median.peak_rss_kib = peak_rss_kib;
            median
        })
        .collect()
}

/// Every pair of different servers, in one scenario, within [`CLIENT_BOUND`] of each other
/// and of the scenario's best figure. A pair well below the best cannot be at the client's
/// ceiling: the same client drove another server faster in the same scenario.
pub fn client_bound_pairs(runs: &[Run]) -> Vec<ClientBound> {
    let mut pairs = Vec::new();
    let best = |scenario: &str| {
        runs.iter()
            .filter(|r| r.scenario == scenario)
            .filter_map(peak_rps)
            .fold(0.0, f64::max)
    };
    for (i, a) in runs.iter().enumerate() {
        let Some(a_rps) = peak_rps(a) else { continue };
        if a_rps < best(&a.scenario) * (1.0 - CLIENT_BOUND) {
            continue;
        }
        for b in &runs[i + 1..] {
            let Some(b_rps) = peak_rps(b) else { continue };
            if a.scenario != b.scenario || a.contender == b.contender {
                continue;
            }
            let difference = (a_rps - b_rps).abs() / a_rps.max(b_rps);
            if difference <= CLIENT_BOUND {
                pairs.push(ClientBound {
                    scenario: a.scenario.clone(),
                    a: a.contender,
                    b: b.contender,
                    difference,
                });
            }
        }
    }
    pairs
}

fn is_flagged(flags: &[ClientBound], scenario: &str, contender: Contender) -> bool {
    flags
        .iter()
        .any(|f| f.scenario == scenario && (f.a == contender || f.b == contender))
}

/// Each proxy against the direct backend, and Cephalo against each peer, per scenario.
pub fn ratios(runs: &[Run], flags: &[ClientBound]) -> Vec<Ratio> {
    let mut scenarios: Vec<&str> = runs.iter().map(|r| r.scenario.as_str()).collect();
    scenarios.dedup();
    let mut out = Vec::new();
    for scenario in scenarios {
        let rps = |contender: Contender| {
            runs.iter()
                .filter(|r| r.scenario == scenario && r.contender == contender)
                .find_map(peak_rps)
        };
        let mut pairs: Vec<(Contender, Contender)> = Contender::PROXIES
            .iter()
            .map(|&p| (p, Contender::Direct))
            .collect();
        pairs.extend(
            Contender::PROXIES[1..]
                .iter()
                .map(|&peer| (Contender::Cephalo, peer)),
        );
        for (numerator, denominator) in pairs {
            let (Some(n), Some(d)) = (rps(numerator), rps(denominator)) else {
                continue;
            };
            if d <= 0.0 {
                continue;
            }
            out.push(Ratio {
                scenario: scenario.to_string(),
                numerator,
                denominator,
                value: n / d,
                client_bound: is_flagged(flags, scenario, numerator)
                    || is_flagged(flags, scenario, denominator),
            });
        }
    }
    out
}

fn find_ratio<'a>(
    ratios: &'a [Ratio],
    scenario: &str,
    n: Contender,
    d: Contender,
) -> Option<&'a Ratio> {
    ratios
        .iter()
        .find(|r| r.scenario == scenario && r.numerator == n && r.denominator == d)
}

/// A fixed-rate run's result in a scenario, for one contender (and path, when given).
fn fixed_rate<'a>(
    runs: &'a [Run],
    scenario: &str,
    contender: Contender,
) -> impl Iterator<Item = &'a Run> {
    let scenario = scenario.to_string();
    runs.iter().filter(move |r| {
        r.scenario == scenario
            && r.contender == contender
            && matches!(r.load, Load::FixedRate { .. })
    })
}

/// Decimal megabytes from KiB.
pub fn kib_to_mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

/// The targets of issue 7, evaluated on a report whose runs, startups, flags and ratios are set.
pub fn targets(report: &Report) -> Vec<Target> {
    let mut targets = Vec::new();
    let mut push = |name: &str,
                    goal: &str,
                    unit: &str,
                    value: Option<f64>,
                    ok: fn(f64) -> bool,
                    inconclusive: bool,
                    note: Option<String>| {
        let verdict = match value {
            None => Verdict::NotMeasured,
            Some(_) if inconclusive => Verdict::Inconclusive,
            Some(v) if ok(v) => Verdict::Met,
            Some(_) => Verdict::Missed,
        };
        targets.push(Target {
            name: name.into(),
            goal: goal.into(),
            value,
            unit: unit.into(),
            verdict,
            note,
        });
    };

    let vs_nginx = find_ratio(
        &report.ratios,
        PROXY_NOOP,
        Contender::Cephalo,
        Contender::Nginx,
    );
    push(
        "proxy throughput vs nginx (no-op)",
        "≥ 1.00× nginx, same worker count",
        "×",
        vs_nginx.map(|r| r.value),
        |v| v >= 1.0,
        vs_nginx.is_some_and(|r| r.client_bound),
        None,
    );
    let vs_direct = find_ratio(
        &report.ratios,
        PROXY_NOOP,
        Contender::Cephalo,
        Contender::Direct,
    );
    push(
        "proxy throughput vs direct backend (no-op)",
        "≥ 0.50× direct",
        "×",
        vs_direct.map(|r| r.value),
        |v| v >= 0.5,
        vs_direct.is_some_and(|r| r.client_bound),
        None,
    );

    let p99 =
        |c| fixed_rate(&report.runs, LATENCY, c).find_map(|r| r.result.as_ref().map(|x| x.p99_us));
    let added_p99 = p99(Contender::Cephalo)
        .zip(p99(Contender::Direct))
        .map(|(g, d)| g - d);
    push(
        "p99 added latency at half of peak load",
        "< 1,000 µs over direct at the same rate",
        "µs",
        added_p99,
        |v| v < 1000.0,
        false,
        None,
    );

    let gateway_p50 = fixed_rate(&report.runs, AGGREGATE, Contender::Cephalo)
        .find_map(|r| r.result.as_ref().map(|x| x.p50_us));
    let slowest_backend = fixed_rate(&report.runs, AGGREGATE, Contender::Direct)
        .filter_map(|r| r.result.as_ref().map(|x| (x.p50_us, r.path.clone())))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    push(
        "aggregate of 3 backends: p50 added over the slowest backend",
        "< 200 µs",
        "µs",
        gateway_p50
            .zip(slowest_backend.as_ref())
            .map(|(g, (s, _))| g - s),
        |v| v < 200.0,
        false,
        slowest_backend.map(|(p50, path)| format!("slowest backend {path} at p50 {p50:.0} µs")),
    );

    let gateway_startup = report
        .startups
        .iter()
        .find(|s| s.contender == Contender::Cephalo && s.kind == "process");
    push(
        "idle RSS",
        "< 10 MB",
        "MB",
        gateway_startup.and_then(|s| s.idle_rss_kib).map(kib_to_mb),
        |v| v < 10.0,
        false,
        None,
    );
    let connections_rss = report
        .runs
        .iter()
        .find(|r| {
            r.scenario == CONNECTIONS && r.contender == Contender::Cephalo && r.result.is_some()
        })
        .and_then(|r| r.peak_rss_kib);
    push(
        "peak RSS with 1,000 keep-alive clients",
        "< 30 MB (KrakenD: under 50 MB)",
        "MB",
        connections_rss.map(kib_to_mb),
        |v| v < 30.0,
        false,
        None,
    );
    push(
        "start-up to first 200 on /__health (process, median)",
        "< 50 ms",
        "ms",
        gateway_startup.and_then(|s| s.median_ms()),
        |v| v < 50.0,
        false,
        None,
    );
    targets
}

/// Fills the derived parts of a report (flags, ratios, targets) from its measurements.
pub fn analyse(report: &mut Report) {
    report.client_bound = client_bound_pairs(&report.runs);
    report.ratios = ratios(&report.runs, &report.client_bound);
    report.targets = targets(report);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::bench::loadgen::LoadResult;
    use crate::bench::model::Startup;

    pub fn result(rps: f64, p50: f64, p99: f64) -> LoadResult {
        LoadResult {
            tool: "wrk".into(),
            requests: (rps * 10.0) as u64,
            duration_s: 10.0,
            rps,
            p50_us: p50,
            p99_us: p99,
            p999_us: p99 * 2.0,
            errors: 0,
        }
    }

    pub fn peak(scenario: &str, contender: Contender, rps: f64) -> Run {
        Run {
            scenario: scenario.into(),
            contender,
            path: "/".into(),
            load: Load::Peak { connections: 64 },
            result: Some(result(rps, 500.0, 2000.0)),
            client_cpu: Some(0.5),
            peak_rss_kib: Some(8000),
            server_cpu_us: Some(20.0),
            note: None,
            rounds: Vec::new(),
        }
    }

    pub fn fixed(scenario: &str, contender: Contender, path: &str, p50: f64, p99: f64) -> Run {
        Run {
            load: Load::FixedRate {
                connections: 50,
                rate: 10_000.0,
            },
            path: path.into(),
            result: Some(result(10_000.0, p50, p99)),
            ..peak(scenario, contender, 0.0)
        }
    }

    #[test]
    fn near_identical_servers_are_flagged_and_distinct_ones_are_not() {
        let runs = vec![
            peak(PROXY_NOOP, Contender::Direct, 100_000.0),
            peak(PROXY_NOOP, Contender::Cephalo, 98_000.0), // 2 % below direct
            peak(PROXY_NOOP, Contender::Nginx, 60_000.0),
            peak(PROXY_NOOP, Contender::Haproxy, 50_000.0),
            // Same figure, other scenario: never compared across scenarios.
            peak(PROXY_JSON, Contender::Caddy, 60_000.0),
        ];
        let flags = client_bound_pairs(&runs);
        assert_eq!(flags.len(), 1, "{flags:?}");
        assert_eq!(
            (flags[0].a, flags[0].b),
            (Contender::Direct, Contender::Cephalo)
        );
        assert!((flags[0].difference - 0.02).abs() < 1e-9);
    }

    #[test]
    fn rounds_fold_into_the_median_round() {
        let mut runs = Vec::new();
        for (nginx, direct) in [
            (30_000.0, 90_000.0),
            (10_000.0, 80_000.0),
            (20_000.0, 100_000.0),
        ] {
            runs.push(peak(PROXY_NOOP, Contender::Nginx, nginx));
            runs.push(peak(PROXY_NOOP, Contender::Direct, direct));
        }
        runs[2].peak_rss_kib = Some(9_999);
        // A failed round of caddy and a fixed-rate run of nginx (another key).
        runs.push(Run {
            result: None,
            note: Some("failed: x".into()),
            ..peak(PROXY_NOOP, Contender::Caddy, 0.0)
        });
        runs.push(fixed(LATENCY, Contender::Nginx, "/", 100.0, 700.0));
        runs.push(fixed(LATENCY, Contender::Nginx, "/", 100.0, 500.0));
        let merged = merge_rounds(runs);
        assert_eq!(merged.len(), 4);
        assert_eq!(merged[0].contender, Contender::Nginx);
        assert_eq!(merged[0].result.as_ref().unwrap().rps, 20_000.0);
        assert_eq!(merged[0].rounds, [30_000.0, 10_000.0, 20_000.0]);
        assert_eq!(
            merged[0].peak_rss_kib,
            Some(9_999),
            "the highest RSS of any round"
        );
        assert_eq!(merged[1].result.as_ref().unwrap().rps, 90_000.0);
        assert!(merged[2].result.is_none());
        assert_eq!(merged[2].note.as_deref(), Some("failed: x"));
        assert_eq!(
            merged[3].result.as_ref().unwrap().p99_us,
            500.0,
            "lower middle of two"
        );
        assert_eq!(merged[3].rounds, [700.0, 500.0]);
    }

    #[test]
    fn the_three_percent_edge_is_inclusive() {
        let runs = vec![
            peak(PROXY_NOOP, Contender::Nginx, 100.0),
            peak(PROXY_NOOP, Contender::Caddy, 97.0),
        ];
        assert_eq!(client_bound_pairs(&runs).len(), 1);
        let runs = vec![
            peak(PROXY_NOOP, Contender::Nginx, 100.0),
            peak(PROXY_NOOP, Contender::Caddy, 96.9),
        ];
        assert!(client_bound_pairs(&runs).is_empty());
    }

    #[test]
    fn fixed_rate_runs_are_never_flagged() {
        let runs = vec![
            fixed(LATENCY, Contender::Direct, "/", 100.0, 200.0),
            fixed(LATENCY, Contender::Cephalo, "/", 100.0, 200.0),
        ];
        assert!(client_bound_pairs(&runs).is_empty());
    }

    #[test]
    fn ratios_against_direct_and_peers_carry_the_flag() {
        let runs = vec![
            peak(PROXY_NOOP, Contender::Direct, 100_000.0),
            peak(PROXY_NOOP, Contender::Cephalo, 45_000.0),
            peak(PROXY_NOOP, Contender::Nginx, 40_000.0),
            peak(PROXY_NOOP, Contender::Haproxy, 44_000.0), // within 3 % of cephalo
        ];
        // Not at the top: direct went faster with the same client, so nothing is flagged.
        assert!(client_bound_pairs(&runs).is_empty());
        let ratios_found = ratios(&runs, &[]);
        let get = |n, d| find_ratio(&ratios_found, PROXY_NOOP, n, d).unwrap().clone();
        assert!((get(Contender::Cephalo, Contender::Direct).value - 0.45).abs() < 1e-9);
        assert!((get(Contender::Cephalo, Contender::Nginx).value - 1.125).abs() < 1e-9);
        assert!((get(Contender::Nginx, Contender::Direct).value - 0.40).abs() < 1e-9);
        assert!(ratios_found.iter().all(|r| !r.client_bound));
        assert!(
            find_ratio(
                &ratios_found,
                PROXY_NOOP,
                Contender::Caddy,
                Contender::Direct
            )
            .is_none(),
            "caddy did not run"
        );

        // Direct and Cephalo at the same top figure: every ratio touching them is withheld.
        let runs = vec![
            peak(PROXY_NOOP, Contender::Direct, 46_000.0),
            peak(PROXY_NOOP, Contender::Cephalo, 45_000.0),
            peak(PROXY_NOOP, Contender::Nginx, 40_000.0),
        ];
        let flags = client_bound_pairs(&runs);
        assert_eq!(flags.len(), 1);
        let ratios_found = ratios(&runs, &flags);
        let get = |n, d| find_ratio(&ratios_found, PROXY_NOOP, n, d).unwrap().clone();
        assert!(get(Contender::Cephalo, Contender::Direct).client_bound);
        assert!(get(Contender::Cephalo, Contender::Nginx).client_bound);
        assert!(get(Contender::Nginx, Contender::Direct).client_bound);
    }

    #[test]
    fn targets_met_missed_inconclusive_and_not_measured() {
        let mut report = Report {
            runs: vec![
                peak(PROXY_NOOP, Contender::Direct, 100_000.0),
                peak(PROXY_NOOP, Contender::Cephalo, 45_000.0),
                peak(PROXY_NOOP, Contender::Nginx, 40_000.0),
                fixed(LATENCY, Contender::Direct, "/", 100.0, 300.0),
                fixed(LATENCY, Contender::Cephalo, "/", 150.0, 1_500.0),
                fixed(AGGREGATE, Contender::Direct, "/a", 100.0, 300.0),
                fixed(AGGREGATE, Contender::Direct, "/b", 120.0, 300.0),
                fixed(AGGREGATE, Contender::Cephalo, "/aggregate", 250.0, 900.0),
            ],
            startups: vec![Startup {
                contender: Contender::Cephalo,
                kind: "process".into(),
                samples_ms: vec![4.0, 6.0, 5.0],
                idle_rss_kib: Some(20_000),
                note: None,
            }],
            ..Report::default()
        };
        analyse(&mut report);
        fn verdict_of(report: &Report, prefix: &str) -> (Verdict, Option<f64>) {
            let t = report
                .targets
                .iter()
                .find(|t| t.name.starts_with(prefix))
                .unwrap();
            (t.verdict, t.value)
        }
        let verdict = |prefix: &str| verdict_of(&report, prefix);
        assert_eq!(verdict("proxy throughput vs nginx").0, Verdict::Met);
        assert_eq!(
            verdict("proxy throughput vs direct").0,
            Verdict::Missed,
            "0.45 < 0.50"
        );
        assert_eq!(verdict("p99 added"), (Verdict::Missed, Some(1_200.0)));
        assert_eq!(
            verdict("aggregate"),
            (Verdict::Met, Some(130.0)),
            "over the slowest (/b)"
        );
        assert_eq!(
            verdict("idle RSS").0,
            Verdict::Missed,
            "20 000 KiB = 20.5 MB"
        );
        assert_eq!(verdict("peak RSS").0, Verdict::NotMeasured);
        assert_eq!(verdict("start-up"), (Verdict::Met, Some(5.0)));

        // Direct, Cephalo and nginx at one figure: the client is the ceiling, no verdict.
        report.runs[0] = peak(PROXY_NOOP, Contender::Direct, 45_500.0);
        report.runs[2] = peak(PROXY_NOOP, Contender::Nginx, 44_500.0);
        analyse(&mut report);
        assert_eq!(
            verdict_of(&report, "proxy throughput vs nginx").0,
            Verdict::Inconclusive
        );
    }
}
