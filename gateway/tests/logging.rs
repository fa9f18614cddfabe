//! `telemetry/logging` through the real binary: prefix and level on the application log,
//! the gin-style access log on stdout, logstash JSON lines, and nothing per request without
//! the namespace.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, raw_request};

/// Runs the gateway with `logging` as the namespace (or none), sends `/a` twice, stops it
/// with SIGTERM and returns (stdout, stderr).
fn run_with(logging: Option<&str>) -> (String, String) {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let extra = logging
        .map(|l| format!(r#", "extra_config": {{"telemetry/logging": {l}}}"#))
        .unwrap_or_default();
    let config = format!(
        r#"{{"version": 3, "port": {port}, "endpoints": [{{"endpoint": "/a", "backend": [{{"host": ["http://127.0.0.1:9"], "url_pattern": "/a"}}]}}]{extra}}}"#
    );
    let path = dir.path().join("krakend.json");
    std::fs::write(&path, config).unwrap();
    let out = std::fs::File::create(dir.path().join("out")).unwrap();
    let err = std::fs::File::create(dir.path().join("err")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_krakend"))
        .args(["run", "-c"])
        .arg(&path)
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while raw_request(port, "GET", "/__health", &[], "").is_err() {
        assert!(Instant::now() < deadline, "gateway did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    for _ in 0..2 {
        let _ = raw_request(port, "GET", "/a", &[], "");
    }
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    child.wait().unwrap();
    let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap();
    (read("out"), read("err"))
}

#[test]
fn default_format_prefix_level_and_access_log_on_stdout() {
    let (out, err) = run_with(Some(
        r#"{"level": "INFO", "prefix": "[KRAKEND]", "stdout": true}"#,
    ));
    let app: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("[KRAKEND] "))
        .collect();
    assert!(
        app.iter()
            .any(|l| l.contains(" ▶ INFO ") && l.contains("listening on")),
        "stdout:\n{out}\nstderr:\n{err}"
    );
    let access: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("[GIN] ") && l.contains("\"/a\""))
        .collect();
    assert_eq!(access.len(), 2, "stdout:\n{out}");
    assert!(
        access[0].contains("| 500 |") || access[0].contains("| 502 |"),
        "{}",
        access[0]
    );
}

#[test]
fn logstash_lines_are_json_and_level_filters() {
    let (out, err) = run_with(Some(
        r#"{"level": "WARNING", "prefix": "[GW]", "stdout": true, "format": "logstash"}"#,
    ));
    // INFO start-up lines are filtered at WARNING; access log lines still show.
    assert!(!out.contains("listening on"), "{out}");
    for line in out.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value = serde_json::from_str(line).expect(line);
        assert_eq!(v["module"], "GW");
    }
    assert!(out.contains("[GIN] "), "stdout:\n{out}\nstderr:\n{err}");
}

#[test]
fn without_the_namespace_no_access_log_is_written() {
    let (out, err) = run_with(None);
    assert!(
        !out.contains("[GIN]") && !err.contains("[GIN]"),
        "{out}{err}"
    );
}
