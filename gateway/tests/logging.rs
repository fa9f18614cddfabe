//! `telemetry/logging` through the real binary: prefix and level on the application log,
//! logstash JSON lines, and KrakenD's gin access log: on by default (with or without the
//! namespace), always on stdout in gin's layout, off with `router.disable_access_log`.

mod common;

use std::process::{Command, Stdio};

use common::{free_port, raw_request};

/// Runs the gateway with `logging` as the namespace (or none), sends `/a` twice, stops it
/// with SIGTERM and returns (stdout, stderr).
fn run_with(logging: Option<&str>) -> (String, String) {
    let extra = logging
        .map(|l| format!(r#""telemetry/logging": {l}"#))
        .unwrap_or_default();
    run_with_extra(&extra, &[])
}

/// Runs the gateway with `extra` as the service's `extra_config` members, sends `/a` twice
/// (with `headers`), stops it with SIGTERM and returns (stdout, stderr).
fn run_with_extra(extra: &str, headers: &[(&str, &str)]) -> (String, String) {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(r#", "extra_config": {{{extra}}}"#);
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
    common::wait_until_listening(port);
    for _ in 0..2 {
        let _ = raw_request(port, "GET", "/a", headers, "");
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

/// gin's default formatter: `[GIN] yyyy/mm/dd - hh:mm:ss | sss | latency(13) | ip(15) |
/// method(-7)  "path"`.
fn is_gin_line(line: &str, status: &str, ip: &str, path: &str) -> bool {
    let Some(rest) = line.strip_prefix("[GIN] ") else {
        return false;
    };
    let (stamp, rest) = rest.split_at(22.min(rest.len()));
    let stamp_ok = stamp.len() == 22
        && stamp.as_bytes()[4] == b'/'
        && stamp.as_bytes()[10..13] == *b" - "
        && stamp.ends_with(' ');
    let fields: Vec<&str> = rest.split(" | ").collect();
    stamp_ok
        && fields.len() == 4
        && fields[0] == format!("| {status}")
        && fields[1].len() >= 13
        && fields[1].trim_start().ends_with('s')
        && fields[2] == format!("{ip:>15}")
        && fields[3] == format!("GET      \"{path}\"")
}

#[test]
fn without_the_namespace_the_access_log_is_on_stdout_as_krakend() {
    let (out, err) = run_with(None);
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("[GIN] ")).collect();
    assert_eq!(
        lines.len(),
        3,
        "health + 2 requests:\nstdout:\n{out}\nstderr:\n{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| is_gin_line(l, "200", "127.0.0.1", "/__health")),
        "{out}"
    );
    assert!(!err.contains("[GIN]"), "{err}");
}

#[test]
fn access_log_ignores_the_application_log_destination_and_level() {
    // The application log goes to stderr at ERROR; the access log stays on stdout.
    let (out, err) = run_with(Some(r#"{"level": "ERROR", "stdout": false}"#));
    assert_eq!(
        out.lines().filter(|l| l.starts_with("[GIN] ")).count(),
        3,
        "{out}"
    );
    assert!(!err.contains("[GIN]"), "{err}");
}

#[test]
fn access_log_shows_the_client_ip_gin_trusts_and_the_query() {
    let (out, _) = run_with_extra(
        r#""router": {"logger_skip_paths": ["/__health"]}"#,
        &[("X-Forwarded-For", "203.0.113.7, 10.0.0.1")],
    );
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("[GIN] ")).collect();
    assert_eq!(lines.len(), 2, "skip paths leave out /__health:\n{out}");
    for l in lines {
        assert!(
            l.contains(" |     203.0.113.7 | ") && l.contains(" \"/a\""),
            "{l}"
        );
    }
}

#[test]
fn disable_access_log_turns_it_off() {
    let (out, err) = run_with_extra(r#""router": {"disable_access_log": true}"#, &[]);
    assert!(
        !out.contains("[GIN]") && !err.contains("[GIN]"),
        "{out}{err}"
    );
}
