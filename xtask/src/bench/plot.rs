//! `report.svg`: peak throughput of the no-op proxy and p99 at a fixed rate, per contender.

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use super::analysis::{LATENCY, PROXY_NOOP};
use super::model::{Load, Report};

/// One bar: a label and its value.
type Bars = Vec<(String, f64)>;

/// The bars of the two panels: (no-op peak req/s, fixed-rate p99 in µs).
pub fn bars(report: &Report) -> (Bars, Bars) {
    let pick = |scenario: &str,
                fixed: bool,
                value: fn(&super::loadgen::LoadResult) -> f64|
     -> Bars {
        report
            .runs
            .iter()
            .filter(|r| r.scenario == scenario && matches!(r.load, Load::FixedRate { .. }) == fixed)
            .filter_map(|r| {
                r.result
                    .as_ref()
                    .map(|x| (r.contender.to_string(), value(x)))
            })
            .collect()
    };
    (
        pick(PROXY_NOOP, false, |r| r.rps),
        pick(LATENCY, true, |r| r.p99_us),
    )
}

fn panel(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    title: &str,
    unit: &str,
    bars: &Bars,
) -> Result<()> {
    let max = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(1.0) * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d((0..bars.len().max(1) - 1).into_segmented(), 0.0..max)
        .map_err(|e| anyhow!("plot: {e}"))?;
    let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc(unit)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .x_labels(bars.len().max(1))
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .draw()
        .map_err(|e| anyhow!("plot: {e}"))?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (name, value))| {
            let color = if name == "cephalo" {
                RGBColor(214, 96, 38)
            } else {
                RGBColor(90, 120, 160)
            };
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), *value),
                ],
                color.filled(),
            );
            bar.set_margin(0, 0, 8, 8);
            bar
        }))
        .map_err(|e| anyhow!("plot: {e}"))?;
    Ok(())
}

/// Draws the two panels into an SVG file; returns false (and draws nothing) without data.
pub fn write_svg(report: &Report, path: &Path) -> Result<bool> {
    let (throughput, latency) = bars(report);
    if throughput.is_empty() && latency.is_empty() {
        return Ok(false);
    }
    let root = SVGBackend::new(path, (1000, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("plot: {e}"))?;
    let (left, right) = root.split_horizontally(500);
    panel(
        &left,
        "proxy no-op: peak req/s (higher is better)",
        "req/s",
        &throughput,
    )?;
    panel(
        &right,
        "latency scenario: p99 at a fixed rate (lower is better)",
        "µs",
        &latency,
    )?;
    root.present().map_err(|e| anyhow!("plot: {e}"))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::analysis::tests::{fixed, peak};
    use crate::bench::contenders::Contender;

    #[test]
    fn draws_both_panels_with_every_contender() {
        let report = Report {
            runs: vec![
                peak(PROXY_NOOP, Contender::Direct, 100_000.0),
                peak(PROXY_NOOP, Contender::Cephalo, 50_000.0),
                peak(PROXY_NOOP, Contender::Nginx, 40_000.0),
                fixed(LATENCY, Contender::Direct, "/", 100.0, 400.0),
                fixed(LATENCY, Contender::Cephalo, "/", 180.0, 900.0),
            ],
            ..Report::default()
        };
        let (throughput, latency) = bars(&report);
        assert_eq!(
            throughput.iter().map(|b| b.0.as_str()).collect::<Vec<_>>(),
            ["direct", "cephalo", "nginx"]
        );
        assert_eq!(
            latency,
            [
                ("direct".to_string(), 400.0),
                ("cephalo".to_string(), 900.0)
            ]
        );
        let path =
            std::env::temp_dir().join(format!("xtask-bench-plot-{}.svg", std::process::id()));
        assert!(write_svg(&report, &path).unwrap());
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(svg.starts_with("<svg"));
        for label in ["cephalo", "nginx", "direct", "peak req/s"] {
            assert!(svg.contains(label), "{label} missing from the plot");
        }
    }

    #[test]
    fn nothing_to_draw_writes_nothing() {
        let path =
            std::env::temp_dir().join(format!("xtask-bench-empty-{}.svg", std::process::id()));
        assert!(!write_svg(&Report::default(), &path).unwrap());
        assert!(!path.exists());
    }
}
