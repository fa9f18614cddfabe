//! Running cases: selection, skips, expected failures, one result line per
//! case, and the closing `N passed, M failed, K skipped` line.

use std::fmt;
use std::time::{Duration, Instant};

use super::assert;
use super::client::{self, ClientOptions};
use super::spec::Case;
use super::tables::{self, glob_match, ExpectedFailure, SkipRule};

/// What happened to one case.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every assertion held.
    Pass,
    /// Some assertion failed (or the request failed); the reason.
    Fail(String),
    /// Not run; the reason.
    Skip(String),
    /// Failed, but listed as an expected failure.
    ExpectedFail {
        /// The namespace that will make it pass.
        namespace: String,
        /// The table's reason.
        reason: String,
        /// The actual failure.
        failure: String,
    },
}

/// The result of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// Case name.
    pub name: String,
    /// Outcome.
    pub outcome: Outcome,
    /// Wall time of the exchange (zero when skipped).
    pub duration: Duration,
}

impl fmt::Display for CaseResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            Outcome::Pass => write!(f, "PASS {}", self.name),
            Outcome::Fail(reason) => write!(f, "FAIL {}: {reason}", self.name),
            Outcome::Skip(reason) => write!(f, "SKIP {}: {reason}", self.name),
            Outcome::ExpectedFail {
                namespace,
                reason,
                failure,
            } => {
                write!(
                    f,
                    "XFAIL {} (known gap, needs {namespace}: {reason}): {failure}",
                    self.name
                )
            }
        }
    }
}

/// How to run a set of cases.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Case-name globs to run; empty means all.
    pub filter: Vec<String>,
    /// Cases never run.
    pub skips: Vec<SkipRule>,
    /// Cases allowed to fail (the known-gaps table and/or explicit lists).
    pub expected_failures: Vec<ExpectedFailure>,
    /// Client settings.
    pub client: ClientOptions,
    /// Run in a pseudo-random order from this seed (upstream runs in Go's
    /// random map order, so specs must not depend on order); `None`: by name.
    pub shuffle_seed: Option<u64>,
}

impl Default for RunOptions {
    /// All cases, the built-in skips, no expected failures, Go client defaults.
    fn default() -> Self {
        Self {
            filter: Vec::new(),
            skips: tables::default_skips(),
            expected_failures: Vec::new(),
            client: ClientOptions::default(),
            shuffle_seed: None,
        }
    }
}

impl RunOptions {
    /// Adds the built-in known-gaps table (`--known-gaps`).
    pub fn with_known_gaps(mut self) -> Self {
        self.expected_failures.extend(tables::known_gaps());
        self
    }

    /// Whether `name` is selected by the filter.
    pub fn selects(&self, name: &str) -> bool {
        self.filter.is_empty() || self.filter.iter().any(|g| glob_match(g, name))
    }
}

/// Sends one case's request and checks the response; `Err` holds a readable reason.
pub async fn check_case(case: &Case, client: &ClientOptions) -> Result<(), String> {
    let spec = &case.spec;
    let expected_error = spec.error.as_deref().filter(|e| !e.is_empty());
    let response = match client::send(&spec.request, client).await {
        Ok(response) => response,
        Err(e) => {
            let text = e.to_string();
            return match expected_error {
                Some(want) if text.contains(want) => Ok(()),
                Some(want) => Err(format!(
                    "request error {text:?} does not contain the expected {want:?}"
                )),
                None => Err(format!("request failed: {text}")),
            };
        }
    };
    if let Some(want) = expected_error {
        return Err(format!(
            "expected the request to fail with {want:?}, got status {}",
            response.status
        ));
    }
    let mismatches = assert::check(&spec.response, &response);
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(mismatches
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" | "))
    }
}

/// Runs one case with skips and expected failures applied.
pub async fn run_case(case: &Case, options: &RunOptions) -> CaseResult {
    if let Some(skip) = options
        .skips
        .iter()
        .find(|s| glob_match(&s.pattern, &case.name))
    {
        return CaseResult {
            name: case.name.clone(),
            outcome: Outcome::Skip(skip.reason.clone()),
            duration: Duration::ZERO,
        };
    }
    let started = Instant::now();
    let result = check_case(case, &options.client).await;
    let duration = started.elapsed();
    let outcome = match result {
        Ok(()) => Outcome::Pass,
        Err(failure) => match options
            .expected_failures
            .iter()
            .find(|x| glob_match(&x.pattern, &case.name))
        {
            Some(x) => Outcome::ExpectedFail {
                namespace: x.namespace.clone(),
                reason: x.reason.clone(),
                failure,
            },
            None => Outcome::Fail(failure),
        },
    };
    CaseResult {
        name: case.name.clone(),
        outcome,
        duration,
    }
}

/// Runs the selected cases sequentially, calling `on_result` after each.
pub async fn run_cases(
    cases: &[Case],
    options: &RunOptions,
    mut on_result: impl FnMut(&CaseResult),
) -> Report {
    let mut selected: Vec<&Case> = cases.iter().filter(|c| options.selects(&c.name)).collect();
    if let Some(seed) = options.shuffle_seed {
        shuffle(&mut selected, seed);
    }
    let mut results = Vec::new();
    for case in selected {
        let result = run_case(case, options).await;
        on_result(&result);
        results.push(result);
    }
    Report { results }
}

/// Fisher–Yates with a splitmix64 stream: reproducible from the seed.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    for i in (1..items.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// The results of a run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// One per selected case, in run order.
    pub results: Vec<CaseResult>,
}

impl Report {
    /// Merges another report into this one.
    pub fn extend(&mut self, other: Report) {
        self.results.extend(other.results);
    }

    /// Passed cases.
    pub fn passed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Pass))
    }

    /// Failed cases, expected or not.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Fail(_) | Outcome::ExpectedFail { .. }))
    }

    /// Failures that are listed as expected.
    pub fn expected_failures(&self) -> usize {
        self.count(|o| matches!(o, Outcome::ExpectedFail { .. }))
    }

    /// Skipped cases.
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skip(_)))
    }

    /// Names of the failures that are not expected.
    pub fn unexpected_failures(&self) -> Vec<&str> {
        self.results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Fail(_)))
            .map(|r| r.name.as_str())
            .collect()
    }

    /// True when no failure is unexpected.
    pub fn ok(&self) -> bool {
        self.unexpected_failures().is_empty()
    }

    /// The closing line: `N passed, M failed, K skipped` (M counts expected failures too).
    pub fn summary_line(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped",
            self.passed(),
            self.failed(),
            self.skipped()
        )
    }

    /// The line printed before the closing one when some failures were expected.
    pub fn expected_line(&self) -> Option<String> {
        let expected = self.expected_failures();
        (expected > 0).then(|| {
            format!(
                "{expected} of the {} failures are known gaps; {} unexpected",
                self.failed(),
                self.failed() - expected
            )
        })
    }

    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.results.iter().filter(|r| f(&r.outcome)).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, outcome: Outcome) -> CaseResult {
        CaseResult {
            name: name.into(),
            outcome,
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn lines_have_the_documented_shape() {
        assert_eq!(result("a", Outcome::Pass).to_string(), "PASS a");
        assert_eq!(
            result("b", Outcome::Fail("status: x".into())).to_string(),
            "FAIL b: status: x"
        );
        assert_eq!(
            result("c", Outcome::Skip("why".into())).to_string(),
            "SKIP c: why"
        );
        let x = Outcome::ExpectedFail {
            namespace: "security/cors".into(),
            reason: "r".into(),
            failure: "f".into(),
        };
        assert_eq!(
            result("d", x).to_string(),
            "XFAIL d (known gap, needs security/cors: r): f"
        );
    }

    #[test]
    fn report_counts_and_summary() {
        let report = Report {
            results: vec![
                result("a", Outcome::Pass),
                result("b", Outcome::Fail("x".into())),
                result("c", Outcome::Skip("y".into())),
                result(
                    "d",
                    Outcome::ExpectedFail {
                        namespace: "n".into(),
                        reason: "r".into(),
                        failure: "f".into(),
                    },
                ),
            ],
        };
        assert_eq!(report.summary_line(), "1 passed, 2 failed, 1 skipped");
        assert_eq!(report.unexpected_failures(), ["b"]);
        assert!(!report.ok());
        assert_eq!(
            report.expected_line().unwrap(),
            "1 of the 2 failures are known gaps; 1 unexpected"
        );
    }

    #[test]
    fn shuffle_is_a_reproducible_permutation() {
        let mut a: Vec<u32> = (0..20).collect();
        let mut b = a.clone();
        shuffle(&mut a, 7);
        shuffle(&mut b, 7);
        assert_eq!(a, b);
        assert_ne!(a, (0..20).collect::<Vec<_>>());
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..20).collect::<Vec<_>>());
        let mut c: Vec<u32> = (0..20).collect();
        shuffle(&mut c, 8);
        assert_ne!(a, c);
    }

    #[test]
    fn filter_selects_by_glob() {
        let mut options = RunOptions::default();
        assert!(options.selects("anything"));
        options.filter = vec!["param_*".into(), "static".into()];
        assert!(options.selects("param_forwarding_1"));
        assert!(options.selects("static"));
        assert!(!options.selects("static_2"));
    }
}
