//! The container checks that need only the image (docker-library tests and their negative
//! twins, the image contract with its snapshots, the entrypoint table), run by
//! `cargo test` against the native image that `cargo xtask image --load` loaded.
//!
//! The full gate, gateway and CE suite and arm64 included, is `cargo xtask conformance`.
//! Without an engine or without the image, the test says it did not run and returns: the
//! image is built after the unit tests in CI, and the xtask run is what must pass there.

use conformance::container::{self, Arch, ContainerError, Options};

fn image() -> String {
    std::env::var("CEPHALO_IMAGE")
        .unwrap_or_else(|_| format!("cephalo:{}", env!("CARGO_PKG_VERSION")))
}

#[test]
fn library_contract_and_entrypoint_checks_pass_on_the_native_image() {
    let Some(arch) = Arch::native() else {
        eprintln!("not run: no image is built for this architecture");
        return;
    };
    let options = Options {
        image: image(),
        arches: vec![arch],
        arch_images: vec![],
        release_tree: None,
        ce_tests: None,
        filters: vec!["library".into(), "contract".into(), "entrypoint".into()],
    };
    let report = match container::run_blocking(options) {
        Ok(report) => report,
        Err(ContainerError::NoEngine(why)) => {
            eprintln!("not run: no Docker engine ({why})");
            return;
        }
        Err(e) => panic!("the harness could not run: {e}"),
    };
    if report
        .checks
        .iter()
        .any(|c| c.group == "image" && c.name == "present")
    {
        eprintln!(
            "not run: {} is not loaded (cargo xtask image --load)",
            image()
        );
        return;
    }
    eprintln!("{}", report.table());
    let failed: Vec<String> = report
        .checks
        .iter()
        .filter(|c| matches!(c.outcome, container::Outcome::Failed(_)))
        .map(|c| format!("{}/{}", c.group, c.name))
        .collect();
    assert!(
        report.checks.len() >= 30,
        "too few checks ran: {}",
        report.summary_line()
    );
    assert!(failed.is_empty(), "failed: {failed:?}");
}
