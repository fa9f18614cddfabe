//! The CE spec suite against the containerised gateway: host networking (the gateway and
//! the mock backend share 127.0.0.1, upstream's ports 8080 and 8081), the fixture folder
//! mounted read-only, and the same runner as `cargo xtask ce` (`crate::ce`).

use std::path::Path;
use std::time::Duration;

use crate::ce::{self, MockConfig, PortsLock, RunOptions, SessionOptions, LOCK_PATH};

use super::engine::{Engine, RunOutput};
use super::gateway;
use super::{ContainerError, Harness, Target, Verdict};

/// Where the fixture folder (upstream's `tests/`) is mounted in the container.
const MOUNT: &str = "/etc/krakend/ce";

/// Runs the upstream suite, when present, against `target`.
pub async fn checks(harness: &mut Harness, target: &Target) {
    let arch = target.arch.name();
    let Some(dir) = harness.options.ce_tests.clone() else {
        harness.skip(
            "ce",
            "upstream spec suite",
            arch,
            "krakend-ce-tests not found (../shared/krakend-ce-tests or CEPHALO_CE_TESTS)",
        );
        return;
    };
    let engine = harness.engine.clone();
    harness
        .check(
            "ce",
            "upstream spec suite",
            arch,
            suite(&engine, target, &dir),
        )
        .await;
}

async fn suite(engine: &Engine, target: &Target, dir: &Path) -> Result<Verdict, ContainerError> {
    let suite = ce::upstream_suite(dir).map_err(|e| ContainerError::Io(e.to_string()))?;
    // Upstream's fixed ports are machine-wide: hold the lock the CE runner uses.
    let _lock = PortsLock::acquire(LOCK_PATH, || {
        eprintln!("ce: waiting for the ports lock {LOCK_PATH}")
    })
    .map_err(|e| ContainerError::Io(format!("ports lock {LOCK_PATH}: {e}")))?;

    let mut spec = target.spec().args(&[
        "run",
        "-d",
        "-c",
        &format!("{MOUNT}/{}", suite.config_arg().display()),
    ]);
    spec.binds = vec![format!("{}:{MOUNT}:ro", suite.workdir.display())];
    spec.working_dir = Some(MOUNT.to_string());
    spec.host_network = true;
    let running = engine.start(&spec).await?;
    // Wait here, where the container's death is visible, rather than let the runner poll
    // a gateway that has already exited.
    let ready = gateway::wait_health(
        &running,
        ([127, 0, 0, 1], 8080).into(),
        target.limit(Duration::from_secs(30)),
    )
    .await?;
    if let Err(why) = ready {
        let logs = running.logs().await.ok();
        running.remove().await?;
        return Ok(Verdict::Fail(format!("{why}{}", log_tail(logs))));
    }

    let mut session = SessionOptions::existing("http://127.0.0.1:8080");
    session.lock = None;
    session.mock = Some(
        MockConfig::new(([127, 0, 0, 1], 8081).into()).with_data_dir(ce::upstream_mock_data(dir)),
    );
    session.ready_timeout = target.limit(Duration::from_secs(30));
    let options = RunOptions::default().with_known_gaps();
    let outcome = ce::run_suite(&suite, &session, &options, |_| {}, |p| eprintln!("ce: {p}")).await;
    let logs = running.logs().await.ok();
    running.remove().await?;

    Ok(match outcome {
        Ok(report) if report.ok() => Verdict::Pass(
            [Some(report.summary_line()), report.expected_line()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Ok(report) => Verdict::Fail(format!(
            "{}; unexpected failures: {}",
            report.summary_line(),
            report.unexpected_failures().join(", ")
        )),
        Err(e) => Verdict::Fail(format!("the suite could not run: {e}{}", log_tail(logs))),
    })
}

fn log_tail(logs: Option<RunOutput>) -> String {
    let Some(logs) = logs else {
        return String::new();
    };
    let text = format!("{}{}", logs.stdout_text(), logs.stderr_text());
    let mut tail: Vec<&str> = text.lines().rev().take(6).collect();
    tail.reverse();
    format!("\ncontainer log tail:\n{}", tail.join("\n"))
}
