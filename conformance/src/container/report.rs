//! The results of a conformance run: one row per check and architecture, rendered as a
//! terminal table, Markdown and JSON, summed up as `N passed, M failed, K skipped`.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

/// How a check ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Failed(String),
    Skipped(String),
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// The group: `library`, `contract`, `entrypoint`, `gateway`, `ce`, `parity`, ...
    pub group: String,
    /// The check, e.g. `utc` or `rejects TZ image`.
    pub name: String,
    /// `amd64`, `arm64`, or `-` for checks across architectures.
    pub arch: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Extra facts worth reading even on success (timings, versions).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
    pub seconds: f64,
}

impl CheckResult {
    /// Whether the check passed.
    pub fn passed(&self) -> bool {
        self.outcome == Outcome::Passed
    }
}

/// Everything a run found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub image: String,
    pub engine: String,
    /// Notes about the run as a whole (emulation method, images used).
    pub notes: Vec<String>,
    pub checks: Vec<CheckResult>,
    pub seconds: f64,
}

/// Totals of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Report {
    /// Adds a result.
    pub fn push(
        &mut self,
        group: &str,
        name: &str,
        arch: &str,
        outcome: Outcome,
        note: String,
        took: Duration,
    ) {
        self.checks.push(CheckResult {
            group: group.to_string(),
            name: name.to_string(),
            arch: arch.to_string(),
            outcome,
            note,
            seconds: took.as_secs_f64(),
        });
    }

    /// Passed, failed and skipped counts.
    pub fn totals(&self) -> Totals {
        let count = |f: fn(&Outcome) -> bool| self.checks.iter().filter(|c| f(&c.outcome)).count();
        Totals {
            passed: count(|o| matches!(o, Outcome::Passed)),
            failed: count(|o| matches!(o, Outcome::Failed(_))),
            skipped: count(|o| matches!(o, Outcome::Skipped(_))),
        }
    }

    /// The closing line: `N passed, M failed, K skipped`.
    pub fn summary_line(&self) -> String {
        let t = self.totals();
        format!(
            "{} passed, {} failed, {} skipped",
            t.passed, t.failed, t.skipped
        )
    }

    /// Per group and architecture: passed/failed/skipped counts, in first-seen order.
    pub fn per_group(&self) -> Vec<(String, String, Totals)> {
        let mut rows: Vec<(String, String, Totals)> = Vec::new();
        for check in &self.checks {
            let index = match rows
                .iter()
                .position(|(g, a, _)| *g == check.group && *a == check.arch)
            {
                Some(i) => i,
                None => {
                    rows.push((
                        check.group.clone(),
                        check.arch.clone(),
                        Totals {
                            passed: 0,
                            failed: 0,
                            skipped: 0,
                        },
                    ));
                    rows.len() - 1
                }
            };
            let totals = &mut rows[index].2;
            match check.outcome {
                Outcome::Passed => totals.passed += 1,
                Outcome::Failed(_) => totals.failed += 1,
                Outcome::Skipped(_) => totals.skipped += 1,
            }
        }
        rows
    }

    /// A plain-text table for the terminal.
    pub fn table(&self) -> String {
        let width = self
            .checks
            .iter()
            .map(|c| c.group.len() + c.name.len() + 1)
            .max()
            .unwrap_or(10)
            .max(5);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<width$}  {:<5}  {:<7}  {:>6}  detail",
            "check", "arch", "result", "secs"
        );
        for c in &self.checks {
            let (result, detail) = outcome_words(&c.outcome, &c.note);
            let _ = writeln!(
                out,
                "{:<width$}  {:<5}  {:<7}  {:>6.1}  {}",
                format!("{}/{}", c.group, c.name),
                c.arch,
                result,
                c.seconds,
                first_line(&detail)
            );
        }
        out
    }

    /// The Markdown report (`report.md`).
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Container conformance report\n");
        let _ = writeln!(out, "* image: `{}`", self.image);
        let _ = writeln!(out, "* engine: Docker {}", self.engine);
        let _ = writeln!(out, "* duration: {:.1} s", self.seconds);
        for note in &self.notes {
            let _ = writeln!(out, "* {note}");
        }
        let _ = writeln!(out, "\n**{}**\n", self.summary_line());
        let _ = writeln!(out, "| group | arch | passed | failed | skipped |");
        let _ = writeln!(out, "| --- | --- | ---: | ---: | ---: |");
        for (group, arch, t) in self.per_group() {
            let _ = writeln!(
                out,
                "| {group} | {arch} | {} | {} | {} |",
                t.passed, t.failed, t.skipped
            );
        }
        let _ = writeln!(out, "\n| check | arch | result | s | detail |");
        let _ = writeln!(out, "| --- | --- | --- | ---: | --- |");
        for c in &self.checks {
            let (result, detail) = outcome_words(&c.outcome, &c.note);
            let _ = writeln!(
                out,
                "| {}/{} | {} | {} | {:.1} | {} |",
                c.group,
                c.name,
                c.arch,
                result,
                c.seconds,
                markdown_cell(&detail)
            );
        }
        out
    }

    /// The JSON report (`report.json`).
    pub fn json(&self) -> String {
        #[derive(Serialize)]
        struct Document<'a> {
            #[serde(flatten)]
            report: &'a Report,
            totals: Totals,
            summary: String,
        }
        serde_json::to_string_pretty(&Document {
            report: self,
            totals: self.totals(),
            summary: self.summary_line(),
        })
        .expect("a report serializes")
    }
}

fn outcome_words(outcome: &Outcome, note: &str) -> (&'static str, String) {
    match outcome {
        Outcome::Passed => ("passed", note.to_string()),
        Outcome::Failed(why) => ("FAILED", why.clone()),
        Outcome::Skipped(why) => ("skipped", why.clone()),
    }
}

fn first_line(text: &str) -> &str {
    let line = text.lines().next().unwrap_or("");
    match line.char_indices().nth(110) {
        Some((i, _)) => &line[..i],
        None => line,
    }
}

fn markdown_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', "<br>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let mut r = Report {
            image: "cephalo:0.1.0".into(),
            engine: "20.10".into(),
            ..Default::default()
        };
        let t = Duration::from_millis(100);
        r.push("library", "utc", "amd64", Outcome::Passed, String::new(), t);
        r.push(
            "library",
            "utc",
            "arm64",
            Outcome::Failed("printed CET".into()),
            String::new(),
            t,
        );
        r.push(
            "ce",
            "suite",
            "amd64",
            Outcome::Skipped("no specs | here".into()),
            String::new(),
            t,
        );
        r
    }

    #[test]
    fn summary_counts_every_outcome() {
        let r = report();
        assert_eq!(r.summary_line(), "1 passed, 1 failed, 1 skipped");
        assert_eq!(
            r.per_group()
                .iter()
                .map(|(g, a, t)| format!("{g}/{a}:{}{}{}", t.passed, t.failed, t.skipped))
                .collect::<Vec<_>>(),
            ["library/amd64:100", "library/arm64:010", "ce/amd64:001"]
        );
    }

    #[test]
    fn markdown_escapes_cells_and_json_carries_totals() {
        let r = report();
        let md = r.markdown();
        assert!(md.contains("| ce/suite | amd64 | skipped | 0.1 | no specs \\| here |"));
        assert!(md.contains("**1 passed, 1 failed, 1 skipped**"));
        let json: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(json["totals"]["failed"], 1);
        assert_eq!(json["checks"][1]["outcome"], "failed");
        assert_eq!(json["checks"][1]["detail"], "printed CET");
    }
}
