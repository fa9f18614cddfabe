//! Start-up to healthy: the process (every contender that has one), and the container
//! (when an image `cephalo:<version>` is loaded in Docker).

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::contenders::{Contender, Setup};
use super::model::Startup;
use super::probe;
use super::process::{tree_kib, Running};

/// Starts `contender` `starts` times; records time to first 200 and RSS once idle.
pub fn process(
    setup: &Setup,
    contender: Contender,
    backend: (&Running, u16),
    starts: usize,
) -> Startup {
    let mut startup = Startup {
        contender,
        kind: "process".into(),
        samples_ms: Vec::new(),
        idle_rss_kib: None,
        note: None,
    };
    for _ in 0..starts {
        match setup.start(contender, backend) {
            Ok(server) => {
                startup
                    .samples_ms
                    .push(server.ready_after.as_secs_f64() * 1e3);
                // Let start-up work (threads, buffers) settle before reading the idle RSS.
                std::thread::sleep(Duration::from_millis(200));
                startup.idle_rss_kib = server
                    .process
                    .as_ref()
                    .and_then(|p| tree_kib(p.pid(), "VmRSS"));
            }
            Err(error) => {
                startup.note = Some(format!("failed: {error:#}"));
                break;
            }
        }
    }
    startup
}

/// Removes a container when dropped.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

/// The container start-up, or a note saying why it was skipped.
pub fn container(setup: &Setup, image: &str, backend_port: u16, starts: usize) -> Startup {
    let mut startup = Startup {
        contender: Contender::Cephalo,
        kind: "container".into(),
        samples_ms: Vec::new(),
        idle_rss_kib: None,
        note: None,
    };
    let loaded = Command::new("docker")
        .args(["image", "inspect", image])
        .output();
    if !matches!(loaded, Ok(ref o) if o.status.success()) {
        startup.note = Some(format!(
            "skipped: image {image} is not loaded in Docker (build it with `cargo xtask image`)"
        ));
        return startup;
    }
    for i in 0..starts {
        match container_once(setup, image, backend_port, i) {
            Ok(ms) => startup.samples_ms.push(ms),
            Err(error) => {
                startup.note = Some(format!("failed: {error:#}"));
                break;
            }
        }
    }
    startup
}

fn container_once(setup: &Setup, image: &str, backend_port: u16, i: usize) -> Result<f64> {
    let port = probe::free_port()?;
    let launch = setup.launch(Contender::Cephalo, port, backend_port)?;
    drop(launch); // Only wanted its side effect: gateway.json written for this port.
    let name = format!("cephalo-bench-{}-{i}", std::process::id());
    let dir = setup.dir.display().to_string();
    let started = Instant::now();
    let _guard = Container(name.clone());
    // Host networking keeps all traffic on loopback (no bridge, no 172.x addresses).
    let output = Command::new("docker")
        .args(["run", "-d", "--network", "host", "--name", &name, "-v"])
        .arg(format!("{dir}:/bench:ro"))
        .args([image, "run", "-c", "/bench/gateway.json"])
        .output()
        .context("running docker")?;
    if !output.status.success() {
        bail!(
            "docker run failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let mut last_check = Instant::now();
    let running = || {
        let out = Command::new("docker")
            .args(["inspect", "-f", "{{.State.Running}}", &name])
            .output()?;
        anyhow::ensure!(
            String::from_utf8_lossy(&out.stdout).trim() == "true",
            "the container stopped"
        );
        Ok(())
    };
    let ready = probe::wait_for_200(port, "/__health", started, Duration::from_secs(20), || {
        // docker inspect is slow: ask only a few times a second.
        if last_check.elapsed() < Duration::from_millis(300) {
            return Ok(());
        }
        last_check = Instant::now();
        running()
    })?;
    Ok(ready.as_secs_f64() * 1e3)
}
