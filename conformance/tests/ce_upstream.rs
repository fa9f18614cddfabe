//! The upstream KrakenD CE suite against the real gateway binary.
//!
//! Reads the shared folder (`$CEPHALO_CE_TESTS` or `../shared/krakend-ce-tests`)
//! and skips with a message when it is absent. Uses `$CEPHALO_GATEWAY_BIN` or
//! builds the gateway. Holds the ports lock (8080/8081/8090 are fixed by the
//! fixture). Cases needing namespaces other issues bring are expected failures
//! (the known-gaps table); every other case must pass.

use std::path::PathBuf;

use conformance::ce::{self, build, run_suite, MockConfig, RunOptions, SessionOptions};

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn upstream_suite_passes_outside_known_gaps() {
    let root = workspace_root();
    let Some(ce_dir) = ce::upstream_dir(&root) else {
        eprintln!(
            "SKIPPED: the shared krakend-ce-tests folder is absent (set {} or provide ../shared/krakend-ce-tests)",
            ce::CE_TESTS_ENV
        );
        return;
    };
    let suite = ce::upstream_suite(&ce_dir).expect("upstream specs load");
    assert!(
        suite.cases.len() >= 40,
        "only {} upstream cases found",
        suite.cases.len()
    );
    let bin = build::gateway_bin_for_tests(&root).expect("gateway binary");

    let mut session = SessionOptions::spawn(bin);
    session.mock = Some(
        MockConfig::new(([127, 0, 0, 1], 8081).into())
            .with_data_dir(ce::upstream_mock_data(&ce_dir)),
    );
    let options = RunOptions::default().with_known_gaps();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let report = runtime
        .block_on(run_suite(
            &suite,
            &session,
            &options,
            |r| println!("{r}"),
            |p| eprintln!("ce: {p}"),
        ))
        .unwrap_or_else(|e| panic!("the upstream suite could not run: {e}"));
    if let Some(line) = report.expected_line() {
        println!("{line}");
    }
    println!("{}", report.summary_line());
    assert!(
        report.ok(),
        "unexpected failures: {:?} ({})",
        report.unexpected_failures(),
        report.summary_line()
    );
}

/// The skip and known-gap tables must name real upstream cases (or they rot).
#[test]
fn tables_name_real_upstream_cases() {
    let Some(ce_dir) = ce::upstream_dir(&workspace_root()) else {
        eprintln!("SKIPPED: the shared krakend-ce-tests folder is absent");
        return;
    };
    let suite = ce::upstream_suite(&ce_dir).expect("upstream specs load");
    let names: Vec<&str> = suite.cases.iter().map(|c| c.name.as_str()).collect();
    for skip in ce::tables::default_skips() {
        assert!(
            names.contains(&skip.pattern.as_str()),
            "skip {} names no upstream case",
            skip.pattern
        );
    }
    for gap in ce::tables::known_gaps() {
        assert!(
            names
                .iter()
                .any(|n| ce::tables::glob_match(&gap.pattern, n)),
            "known gap {} matches no upstream case",
            gap.pattern
        );
    }
    // Every case outside the tables is one the core gateway must pass.
    let gaps = ce::tables::known_gaps();
    let core: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !ce::tables::default_skips().iter().any(|s| s.pattern == *n))
        .filter(|n| !gaps.iter().any(|g| ce::tables::glob_match(&g.pattern, n)))
        .collect();
    assert!(
        core.contains(&"param_forwarding_2")
            && core.contains(&"timeout")
            && core.contains(&"no-op_1")
    );
    eprintln!(
        "{} upstream cases must pass: {}",
        core.len(),
        core.join(" ")
    );
}
