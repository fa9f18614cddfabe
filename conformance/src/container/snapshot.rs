//! insta snapshots from inside the harness: the same `.snap` files serve `cargo test` and
//! `cargo xtask conformance`, live in `conformance/snapshots/`, and are reviewed with
//! `cargo insta review`. A mismatch becomes a failed check (insta prints the diff and, unless
//! `INSTA_UPDATE=no` as in CI, leaves a `.snap.new` beside the snapshot).

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::Verdict;

/// Compares `text` with the snapshot `name`.
pub fn compare(name: &str, text: &str) -> Verdict {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_snapshot!(name.to_string(), text));
    }));
    match outcome {
        Ok(()) => Verdict::Pass(format!("matches snapshots/{name}.snap")),
        Err(_) => Verdict::Fail(format!(
            "differs from conformance/snapshots/{name}.snap (diff above; review with \
             `cargo insta review`)"
        )),
    }
}
