//! The command line: `check` on broken configs, exit codes, version and plugin commands.

mod common;

use common::output_text as text;
use std::path::Path;
use std::process::{Command, Output};

fn krakend(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_krakend"))
        .args(args)
        .output()
        .expect("run krakend")
}

#[test]
fn check_rejects_every_broken_config_naming_the_path() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken-configs");
    let table = std::fs::read_to_string(dir.join("expectations.txt")).unwrap();
    let mut checked = 0;
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (file, expected) = line.split_once('\t').expect("file<TAB>text");
        let path = dir.join(file);
        let out = krakend(&["check", "-c", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{file}: {}", text(&out));
        assert!(
            text(&out).contains(expected),
            "{file}: expected {expected:?} in:\n{}",
            text(&out)
        );
        checked += 1;
    }
    let files = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name() != "expectations.txt")
        .count();
    assert_eq!(
        checked, files,
        "every broken config needs an expectation line"
    );
    assert!(checked >= 20);
}

#[test]
fn check_reports_all_problems_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.json");
    std::fs::write(&path, r#"{"version": 3, "port": -1, "endpoints": [{"endpoint": "/a", "backend": [{"url_pattern": "/x/{y}"}]}]}"#).unwrap();
    let out = krakend(&["check", "-c", path.to_str().unwrap()]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(t.contains("3 problems"), "{t}");
    assert!(
        t.contains("port:")
            && t.contains("backend[0].url_pattern")
            && t.contains("backend[0].host"),
        "{t}"
    );
}

#[test]
fn check_accepts_a_good_config_and_lints_namespaces() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.json");
    std::fs::write(&path, r#"{"version": 3, "extra_config": {"auth/api-keys": {}}, "endpoints": [{"endpoint": "/a/{id}", "backend": [{"host": ["localhost:1"], "url_pattern": "/x/{id}", "alow": ["a"]}]}]}"#).unwrap();
    let p = path.to_str().unwrap();
    let out = krakend(&["check", "-c", p]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("Syntax OK!"));
    let out = krakend(&["validate", "-c", p, "--lint"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out).contains("auth/api-keys"), "{}", text(&out));
    assert!(
        text(&out).contains("endpoints[0].backend[0].alow: unknown key"),
        "{}",
        text(&out)
    );
    let out = krakend(&["check", "-t", "-d", "-c", p]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out).contains("/a/{id}"), "{}", text(&out));
}

#[test]
fn check_t_reports_route_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.json");
    std::fs::write(
        &path,
        r#"{"version": 3, "endpoints": [
        {"endpoint": "/a/{id}", "backend": [{"host": ["h"], "url_pattern": "/x"}]},
        {"endpoint": "/a/{name}/b", "backend": [{"host": ["h"], "url_pattern": "/y"}]}]}"#,
    )
    .unwrap();
    let p = path.to_str().unwrap();
    assert_eq!(krakend(&["check", "-c", p]).status.code(), Some(0));
    let out = krakend(&["check", "-t", "-c", p]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("conflicts with {id}"), "{}", text(&out));
}

#[test]
fn usage_errors_exit_2_and_version_prints_versions() {
    assert_eq!(krakend(&["run"]).status.code(), Some(2));
    assert_eq!(krakend(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(krakend(&["check", "--bogus"]).status.code(), Some(2));
    let out = krakend(&["version"]);
    assert_eq!(out.status.code(), Some(0));
    let t = text(&out);
    assert!(
        t.contains(env!("CARGO_PKG_VERSION")) && t.contains("2.13.8") && t.contains("rustc"),
        "{t}"
    );
    assert_eq!(krakend(&["--help"]).status.code(), Some(0));
    assert_eq!(krakend(&["help", "check"]).status.code(), Some(0));
}

#[test]
fn plugins_are_refused_clearly() {
    for cmd in ["check-plugin", "test-plugin"] {
        let out = krakend(&[cmd, "-g", "1.22"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(text(&out).contains("cannot load KrakenD Go plugins"));
    }
}

#[test]
fn audit_reports_findings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.json");
    std::fs::write(&path, r#"{"version": 3, "debug_endpoint": true, "extra_config": {"auth/validator": {}}, "endpoints": []}"#).unwrap();
    let out = krakend(&["audit", "-c", path.to_str().unwrap()]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        t.contains("debug_endpoint") && t.contains("NOT enforced"),
        "{t}"
    );
}

#[test]
fn run_with_invalid_config_exits_1() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken-configs/02-version-2.json");
    let out = krakend(&["run", "-c", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("version"));
}

#[test]
fn upstream_fixture_config_is_accepted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let ce = std::env::var_os("CEPHALO_CE_TESTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/krakend-ce-tests"));
    let fixture = ce.join("tests/fixtures/krakend.json");
    if !fixture.exists() {
        eprintln!(
            "skipped: {} not found (set CEPHALO_CE_TESTS)",
            fixture.display()
        );
        return;
    }
    let out = krakend(&["check", "-t", "-c", fixture.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
