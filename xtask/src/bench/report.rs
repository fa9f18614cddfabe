//! `report.md`: the tables a reader needs, from a [`Report`].

use std::fmt::Write;

use super::analysis::kib_to_mb;
use super::contenders::Contender;
use super::model::{Load, Report, Run, Verdict};

/// A load generator above this share of its core may be the ceiling of the figure.
const CLIENT_SATURATED: f64 = 0.9;

fn us(value: f64) -> String {
    if value >= 10_000.0 {
        format!("{:.1} ms", value / 1000.0)
    } else {
        format!("{value:.0} µs")
    }
}

fn verdict(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Met => "✅ met",
        Verdict::Missed => "❌ missed",
        Verdict::Inconclusive => "⚠️ inconclusive (client-bound)",
        Verdict::NotMeasured => "— not measured",
    }
}

/// Throughput ratio for a peak run; for a fixed-rate run, the latency added over the direct
/// backend at the same rate ("vs direct" column only; the slowest backend path when several).
fn ratio_cell(report: &Report, run: &Run, denominator: Contender) -> String {
    if matches!(run.load, Load::FixedRate { .. }) {
        if denominator != Contender::Direct {
            return "—".into();
        }
        if run.contender == Contender::Direct {
            return "reference".into();
        }
        let slowest = report
            .runs
            .iter()
            .filter(|r| {
                r.scenario == run.scenario && r.contender == Contender::Direct && r.load == run.load
            })
            .filter_map(|r| r.result.as_ref())
            .max_by(|a, b| a.p50_us.total_cmp(&b.p50_us));
        return match (slowest, &run.result) {
            (Some(d), Some(r)) => format!(
                "p50 {:+.0} µs, p99 {:+.0} µs",
                r.p50_us - d.p50_us,
                r.p99_us - d.p99_us
            ),
            _ => "—".into(),
        };
    }
    if run.contender == denominator {
        return "1.00×".into();
    }
    match report.ratios.iter().find(|r| {
        r.scenario == run.scenario && r.numerator == run.contender && r.denominator == denominator
    }) {
        Some(r) if r.client_bound => "client-bound?".into(),
        Some(r) => format!("{:.2}×", r.value),
        None => "—".into(),
    }
}

/// req/s, with the spread of the rounds of a peak run when there were several.
fn rps_cell(run: &Run, rps: f64) -> String {
    if run.rounds.len() < 2 || !matches!(run.load, Load::Peak { .. }) {
        return format!("{rps:.0}");
    }
    let min = run.rounds.iter().copied().fold(f64::INFINITY, f64::min);
    let max = run.rounds.iter().copied().fold(0.0, f64::max);
    format!("{rps:.0} ({min:.0}–{max:.0})")
}

fn load_cell(load: &Load) -> String {
    match load {
        Load::Peak { connections } => format!("peak, {connections} conns"),
        Load::FixedRate { connections, rate } => format!("{rate:.0} req/s, {connections} conns"),
    }
}

/// Renders the Markdown report.
pub fn markdown(report: &Report) -> String {
    let mut md = String::new();
    let m = &report.machine;
    let _ = writeln!(md, "# Cephalo benchmark report\n");
    let _ = writeln!(
        md,
        "Cephalo {} at `{}`, {} (UTC){}.\n",
        report.version,
        report.commit.get(..12).unwrap_or(&report.commit),
        report.date,
        if report.quick {
            ", **quick run** (short runs: a smoke test, not figures to quote)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        md,
        "Machine: {} CPU(s), {}, Linux {}; load average {:.2} at start. Load generator pinned to CPU {}, \
         every server (contender and backend) to CPU {}, one worker each. Figures that compare are \
         ratios measured in this run; absolute req/s on a shared 2-core box are noise.\n",
        m.cpus, m.cpu_model, m.kernel, m.load_average, m.client_cpu, m.server_cpu
    );
    if !report.tools.is_empty() {
        let tools: Vec<String> = report
            .tools
            .iter()
            .map(|(k, v)| format!("{k} `{v}`"))
            .collect();
        let _ = writeln!(md, "Tools: {}.\n", tools.join(", "));
    }

    let _ = writeln!(md, "## Targets (issue 7)\n");
    let _ = writeln!(
        md,
        "| target | goal | figure | verdict |\n| --- | --- | --- | --- |"
    );
    for t in &report.targets {
        let figure = match t.value {
            Some(v) if t.unit == "×" => format!("{v:.2}×"),
            Some(v) if t.unit == "µs" => format!("{v:+.0} µs"),
            Some(v) => format!("{v:.1} {}", t.unit),
            None => "—".into(),
        };
        let note = t
            .note
            .as_ref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        let _ = writeln!(
            md,
            "| {} | {} | {figure}{note} | {} |",
            t.name,
            t.goal,
            verdict(t.verdict)
        );
    }

    let mut scenarios: Vec<&str> = report.runs.iter().map(|r| r.scenario.as_str()).collect();
    scenarios.dedup();
    for scenario in scenarios {
        let _ = writeln!(md, "\n## {scenario}\n");
        let _ = writeln!(md, "{}\n", scenario_blurb(scenario));
        let _ = writeln!(
            md,
            "| contender | path | load | req/s | p50 | p99 | p99.9 | errors | peak RSS | CPU/req | vs direct | vs nginx | client CPU |\n\
             | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for run in report.runs.iter().filter(|r| r.scenario == scenario) {
            let rss = run
                .peak_rss_kib
                .map(|k| format!("{:.1} MB", kib_to_mb(k)))
                .unwrap_or("—".into());
            let server_cpu = run
                .server_cpu_us
                .map(|us| format!("{us:.1} µs"))
                .unwrap_or("—".into());
            let cpu = run
                .client_cpu
                .map(|c| format!("{:.0} %", c * 100.0))
                .unwrap_or("—".into());
            match &run.result {
                Some(r) => {
                    let _ = writeln!(
                        md,
                        "| {} | `{}` | {} | {} | {} | {} | {} | {} | {rss} | {server_cpu} | {} | {} | {cpu} |",
                        run.contender,
                        run.path,
                        load_cell(&run.load),
                        rps_cell(run, r.rps),
                        us(r.p50_us),
                        us(r.p99_us),
                        us(r.p999_us),
                        r.errors,
                        ratio_cell(report, run, Contender::Direct),
                        ratio_cell(report, run, Contender::Nginx),
                    );
                }
                None => {
                    let note = run.note.as_deref().unwrap_or("no result");
                    let _ = writeln!(
                        md,
                        "| {} | `{}` | {} | {note} | | | | | | | | | |",
                        run.contender,
                        run.path,
                        load_cell(&run.load)
                    );
                }
            }
        }
        for flag in report
            .client_bound
            .iter()
            .filter(|f| f.scenario == scenario)
        {
            let _ = writeln!(
                md,
                "\n⚠️ **client-bound?** {} and {} are within {:.1} % of each other: the load generator may be \
                 the ceiling, so their ratio is not reported (see the client CPU column).",
                flag.a,
                flag.b,
                flag.difference * 100.0
            );
        }
        for run in report
            .runs
            .iter()
            .filter(|r| r.scenario == scenario && r.result.is_some())
        {
            if let Some(note) = &run.note {
                let _ = writeln!(md, "\nNote ({}): {note}", run.contender);
            }
            let saturated = run.client_cpu.filter(|&c| c >= CLIENT_SATURATED);
            if let (Some(cpu), Load::Peak { .. }) = (saturated, &run.load) {
                let _ = writeln!(
                    md,
                    "\n⚠️ wrk used {:.0} % of its core against {}: that figure may be the client's \
                     ceiling, so ratios over it are upper bounds for the other servers.",
                    cpu * 100.0,
                    run.contender
                );
            }
        }
    }

    if !report.startups.is_empty() {
        let _ = writeln!(md, "\n## start-up\n");
        let _ = writeln!(md, "{}\n", scenario_blurb("startup"));
        let _ = writeln!(md, "| contender | kind | starts | median | min | max | idle RSS |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |");
        for s in &report.startups {
            let rss = s
                .idle_rss_kib
                .map(|k| format!("{:.1} MB", kib_to_mb(k)))
                .unwrap_or("—".into());
            match s.median_ms() {
                Some(median) => {
                    let min = s.samples_ms.iter().copied().fold(f64::INFINITY, f64::min);
                    let max = s.samples_ms.iter().copied().fold(0.0, f64::max);
                    let _ = writeln!(
                        md,
                        "| {} | {} | {} | {median:.1} ms | {min:.1} ms | {max:.1} ms | {rss} |",
                        s.contender,
                        s.kind,
                        s.samples_ms.len()
                    );
                }
                None => {
                    let note = s.note.as_deref().unwrap_or("not measured");
                    let _ = writeln!(md, "| {} | {} | {note} | | | | |", s.contender, s.kind);
                }
            }
        }
    }

    let _ = writeln!(md, "\n![throughput and latency](report.svg)\n");
    if !report.notes.is_empty() {
        let _ = writeln!(md, "## Notes\n");
        for note in &report.notes {
            let _ = writeln!(md, "* {note}");
        }
    }
    md
}

fn scenario_blurb(scenario: &str) -> &'static str {
    match scenario {
        "proxy-noop" => "One endpoint, one backend, pass-through (`no-op` encoding for the gateway; \
                         plain `proxy_pass` / `reverse_proxy` for the peers), small JSON body, keep-alive; closed loop (wrk).",
        "proxy-json" => "The same backend through the gateway's `json` encoding (decode + re-encode). \
                         The peers cannot do this; the direct backend is the reference.",
        "aggregate" => "One endpoint merging three backends with `allow`, `group` and `mapping`, \
                        `timeout: 500ms`. Peak (wrk) plus a fixed rate (oha) beside each backend path at the same rate.",
        "latency" => "Every server at the same fixed rate, half of Cephalo's no-op peak (oha `-q` with \
                      coordinated-omission correction). Added latency = contender − direct.",
        "connections" => "1,000 concurrent keep-alive clients (wrk -c 1000); peak RSS is VmHWM of the \
                          contender's processes at the end of the run.",
        "startup" => "Process spawn to the first 200 on `/__health`, polled every 0.25 ms; idle RSS right after.",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::analysis::{analyse, tests::*, LATENCY, PROXY_NOOP};
    use crate::bench::model::Startup;

    fn sample() -> Report {
        let mut report = Report {
            schema: 1,
            version: "0.1.0".into(),
            commit: "0123456789abcdef0123".into(),
            date: "2026-11-24T10:00:00Z".into(),
            runs: vec![
                peak(PROXY_NOOP, Contender::Direct, 100_000.0),
                peak(PROXY_NOOP, Contender::Cephalo, 50_000.0),
                peak(PROXY_NOOP, Contender::Nginx, 40_000.0),
                peak(PROXY_NOOP, Contender::Haproxy, 40_500.0),
                Run {
                    result: None,
                    note: Some("not available: no binary".into()),
                    ..peak(PROXY_NOOP, Contender::Caddy, 0.0)
                },
                fixed(LATENCY, Contender::Direct, "/", 100.0, 400.0),
                fixed(LATENCY, Contender::Cephalo, "/", 180.0, 12_345.0),
            ],
            startups: vec![Startup {
                contender: Contender::Cephalo,
                kind: "process".into(),
                samples_ms: vec![3.0, 4.0],
                idle_rss_kib: Some(4096),
                note: None,
            }],
            notes: vec!["container start-up skipped: no image".into()],
            ..Report::default()
        };
        analyse(&mut report);
        report
    }

    #[test]
    fn tables_carry_figures_ratios_flags_and_verdicts() {
        let md = markdown(&sample());
        assert!(md.contains("at `0123456789ab`"), "short commit");
        assert!(md.contains("| cephalo | `/` | peak, 64 conns | 50000 | 500 µs | 2000 µs | 4000 µs | 0 | 8.2 MB | 20.0 µs | 0.50× | 1.25× | 50 % |"), "{md}");
        // nginx and haproxy are within 3 %: their ratio is withheld and the pair is named.
        assert!(md.contains("| nginx | `/` | peak, 64 conns | 40000 | 500 µs | 2000 µs | 4000 µs | 0 | 8.2 MB | 20.0 µs | 0.40× | 1.00× |"), "{md}");
        assert!(
            !md.contains("client-bound"),
            "nginx and haproxy are close but far below direct"
        );
        assert!(md.contains("| caddy | `/` | peak, 64 conns | not available: no binary |"));
        assert!(md.contains("12.3 ms"), "large latencies in ms");
        assert!(
            !md.contains("of its core"),
            "the sample's client ran at 50 %"
        );
        let mut busy = sample();
        busy.runs[0].client_cpu = Some(0.97);
        assert!(markdown(&busy).contains("wrk used 97 % of its core against direct"));
        let mut rounds = sample();
        rounds.runs[1].rounds = vec![48_000.0, 50_000.0, 52_500.0];
        assert!(
            markdown(&rounds).contains("| 50000 (48000–52500) |"),
            "spread of rounds"
        );
        assert!(
            md.contains("| reference | — |"),
            "the direct fixed-rate row is the reference"
        );
        assert!(md.contains("| p50 +80 µs, p99 +11945 µs | — |"), "{md}");
        assert!(md.contains("| p99 added latency at half of peak load | < 1,000 µs over direct at the same rate | +11945 µs | ❌ missed |"), "{md}");
        assert!(md.contains("| proxy throughput vs nginx (no-op) | ≥ 1.00× nginx, same worker count | 1.25× | ✅ met |"));
        assert!(
            md.contains("| cephalo | process | 2 | 3.5 ms | 3.0 ms | 4.0 ms | 4.2 MB |"),
            "{md}"
        );
        assert!(md.contains("* container start-up skipped: no image"));
        assert!(
            md.contains("— not measured"),
            "RSS with 1,000 clients was not run"
        );
    }

    #[test]
    fn client_bound_pairs_are_named_and_their_ratios_withheld() {
        let mut report = sample();
        report.runs[0] = peak(PROXY_NOOP, Contender::Direct, 51_000.0);
        analyse(&mut report);
        let md = markdown(&report);
        assert!(md.contains("direct and cephalo are within 2.0 %"), "{md}");
        assert!(
            md.contains("| 8.2 MB | 20.0 µs | client-bound? | client-bound? | 50 % |"),
            "{md}"
        );
        assert!(
            md.contains("| 1.25× | ⚠️ inconclusive (client-bound) |"),
            "{md}"
        );
    }

    #[test]
    fn report_json_round_trips() {
        let report = sample();
        let json = serde_json::to_string_pretty(&report).unwrap();
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back.runs.len(), report.runs.len());
        assert_eq!(back.ratios, report.ratios);
        assert_eq!(back.client_bound, report.client_bound);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["runs"][1]["contender"], "cephalo");
        assert_eq!(value["runs"][1]["load"]["kind"], "peak");
        assert_eq!(value["targets"][0]["verdict"], "met");
    }
}
