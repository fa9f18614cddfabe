//! The project's own spec suites (conformance/specs/<suite>/fixtures) against
//! the real gateway. They need no shared folder; they are written from
//! KrakenD's documented behaviour, not from our gateway's output.

use std::path::PathBuf;

use conformance::ce::{build, run_suite, RunOptions, SessionOptions, Suite};

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn project_suites() -> Vec<Suite> {
    let base = workspace_root().join("conformance").join("specs");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("fixtures").join("specs").is_dir())
        .collect();
    dirs.sort();
    dirs.iter().map(|d| Suite::load_root(d).unwrap()).collect()
}

#[test]
fn project_specs_are_well_formed() {
    let suites = project_suites();
    assert!(!suites.is_empty(), "no suite under conformance/specs");
    let total: usize = suites.iter().map(|s| s.cases.len()).sum();
    assert!(total >= 15, "only {total} project cases");
    for suite in &suites {
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&suite.config).unwrap()).expect("config is JSON");
        assert_eq!(config["version"], 3, "{}", suite.config.display());
        assert_eq!(config["port"], 8080, "the runner polls 127.0.0.1:8080");
        for case in &suite.cases {
            assert!(
                case.spec.request.url.starts_with("http://localhost:8080/"),
                "{}",
                case.name
            );
            assert!(case.spec.response.status_code >= 100, "{}", case.name);
            let expects_something =
                case.spec.response.body.is_some() || case.spec.response.schema.is_some();
            assert!(expects_something, "{} checks no body", case.name);
        }
    }
}

#[test]
fn project_specs_pass_against_the_gateway() {
    let root = workspace_root();
    let bin = build::gateway_bin_for_tests(&root).expect("gateway binary");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut failures = Vec::new();
    for suite in project_suites() {
        let session = SessionOptions::spawn(bin.clone());
        let report = runtime
            .block_on(run_suite(
                &suite,
                &session,
                &RunOptions::default(),
                |r| println!("{r}"),
                |p| eprintln!("ce: {p}"),
            ))
            .unwrap_or_else(|e| panic!("suite {} could not run: {e}", suite.name));
        println!("{}: {}", suite.name, report.summary_line());
        failures.extend(
            report
                .unexpected_failures()
                .iter()
                .map(|n| format!("{}/{n}", suite.name)),
        );
    }
    assert!(failures.is_empty(), "failing project cases: {failures:?}");
}
