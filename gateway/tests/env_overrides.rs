//! `KRAKEND_*` root-setting overrides and `USAGE_DISABLE` through the real binary.

mod common;

use common::output_text as text;
use std::process::{Command, Output};

fn check(config: &str, env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("krakend.json");
    std::fs::write(&path, config).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_krakend"));
    cmd.args(["check", "-d", "-c", path.to_str().unwrap()]);
    cmd.envs(env.iter().copied());
    cmd.output().expect("run krakend")
}

const CONFIG: &str = r#"{"version": 3, "name": "file name", "port": 8080, "timeout": "3s",
  "endpoints": [{"endpoint": "/a", "backend": [{"host": ["http://127.0.0.1:9"], "url_pattern": "/a"}]}]}"#;

#[test]
fn krakend_port_name_and_timeout_override_the_file() {
    let out = check(
        CONFIG,
        &[
            ("KRAKEND_PORT", "9876"),
            ("KRAKEND_NAME", "from env"),
            ("KRAKEND_TIMEOUT", "250ms"),
            ("USAGE_DISABLE", "1"),
        ],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("Service: \"from env\", port 9876, timeout 250ms"),
        "{t}"
    );
}

#[test]
fn without_overrides_the_file_wins() {
    let out = check(CONFIG, &[]);
    let t = text(&out);
    assert!(
        t.contains("Service: \"file name\", port 8080, timeout 3s"),
        "{t}"
    );
}

#[test]
fn a_bad_override_is_reported_as_the_key() {
    let out = check(CONFIG, &[("KRAKEND_PORT", "eighty")]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("port"), "{t}");
}
