//! The KrakenD CE integration suite, re-implemented: a runner and a mock
//! backend reproducing `../shared/krakend-ce-tests/MOCK_BACKEND.md`.
//!
//! * [`Suite::load`] reads a directory of spec files (`fixtures/specs` layout);
//! * [`MockBackend::start`] serves the Go mock's routes (port 8081 upstream);
//! * [`run_case`] / [`run_cases`] send each spec's request like Go's
//!   `http.DefaultClient` and check the response with upstream's rules;
//! * [`run_suite`] does it all around a spawned or already running gateway,
//!   under the machine-wide ports lock [`PortsLock`].

pub mod assert;
pub mod build;
pub mod client;
pub mod gateway;
pub mod goheader;
pub mod gojson;
pub mod gourl;
pub mod lock;
pub mod mock;
pub mod runner;
pub mod session;
pub mod spec;
pub mod tables;

pub use client::{ClientOptions, GoResponse};
pub use lock::{PortsLock, LOCK_PATH};
pub use mock::{MockBackend, MockConfig};
pub use runner::{check_case, run_case, run_cases, CaseResult, Outcome, Report, RunOptions};
pub use session::{run_suite, GatewayTarget, SessionError, SessionOptions};
pub use spec::{Case, Spec, Suite};
pub use tables::{ExpectedFailure, SkipRule};

use std::path::{Path, PathBuf};

/// Environment variable naming the shared `krakend-ce-tests` folder.
pub const CE_TESTS_ENV: &str = "CEPHALO_CE_TESTS";

/// The shared upstream folder: `$CEPHALO_CE_TESTS`, else
/// `<workspace root>/../shared/krakend-ce-tests`; `None` when absent.
pub fn upstream_dir(workspace_root: &Path) -> Option<PathBuf> {
    let dir = match std::env::var_os(CE_TESTS_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root
            .join("..")
            .join("shared")
            .join("krakend-ce-tests"),
    };
    if !dir.join("tests").join("fixtures").join("specs").is_dir() {
        return None;
    }
    Some(std::fs::canonicalize(&dir).unwrap_or(dir))
}

/// The upstream suite inside the shared folder (`tests/` is its working directory).
pub fn upstream_suite(ce_dir: &Path) -> Result<Suite, spec::SpecError> {
    Suite::load_root(ce_dir.join("tests"))
}

/// The mock-backend data folder inside the shared folder.
pub fn upstream_mock_data(ce_dir: &Path) -> PathBuf {
    ce_dir.join("mock-backend")
}
