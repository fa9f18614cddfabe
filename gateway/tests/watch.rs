//! `run --watch` through the real binary: a changed config file brings its new route into
//! service without a restart; a broken change is logged and the running router keeps
//! answering; requests keep flowing during the swaps.

mod common;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_port, raw_request};

fn config(port: u16, endpoint: &str) -> String {
    // The endpoint answers from the gateway's own health check: no backend needed.
    format!(
        r#"{{"version": 3, "port": {port}, "endpoints": [{{"endpoint": "{endpoint}",
        "backend": [{{"host": ["http://127.0.0.1:{port}"], "url_pattern": "/__health"}}]}}]}}"#
    )
}

fn status(port: u16, path: &str) -> u16 {
    raw_request(port, "GET", path, &[], "").map_or(0, |r| r.status)
}

/// Polls until `path` answers `want` (or 10 s pass).
fn wait_for(port: u16, path: &str, want: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if status(port, path) == want {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn watch_swaps_in_a_changed_router_and_keeps_the_old_one_on_a_broken_change() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("krakend.json");
    std::fs::write(&path, config(port, "/one")).unwrap();
    let err = std::fs::File::create(dir.path().join("err")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_krakend"))
        .args(["run", "--watch", "-c"])
        .arg(&path)
        .env("CEPHALO_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::from(err))
        .spawn()
        .unwrap();
    assert!(wait_for(port, "/one", 200), "the gateway did not start");

    // Traffic all along: no request may fail while routers are swapped.
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let traffic = {
        let (stop, failures, sent) = (stop.clone(), failures.clone(), sent.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if status(port, "/__health") != 200 {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    std::fs::write(&path, config(port, "/two")).unwrap();
    assert!(wait_for(port, "/two", 200), "the new route never answered");
    assert_eq!(status(port, "/one"), 404, "the old route is gone");

    std::fs::write(&path, "{ \"version\": 3, \"endpoints\": [ ").unwrap();
    // Several polls later the running router still answers.
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(
        status(port, "/two"),
        200,
        "a broken change must keep the old router"
    );

    std::fs::write(&path, config(port, "/three")).unwrap();
    assert!(
        wait_for(port, "/three", 200),
        "a fixed config is picked up again"
    );

    stop.store(true, Ordering::Relaxed);
    traffic.join().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(sent.load(Ordering::Relaxed) > 10);
    assert_eq!(failures.load(Ordering::Relaxed), 0);
    let log = std::fs::read_to_string(dir.path().join("err")).unwrap();
    assert!(
        log.contains("configuration change rejected, keeping the running router"),
        "{log}"
    );
    assert!(log.contains("new router with 1 endpoints"), "{log}");
}
