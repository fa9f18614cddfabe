//! Flexible Configuration end to end: `krakend check -d -t -c krakend.tmpl` with the `FC_*`
//! variables on the multi-file tree under tests/fc (settings per environment, partials,
//! templates), `FC_OUT`, and located template errors.

mod common;

use common::output_text as text;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tree() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fc")
}

fn krakend(args: &[&str], env: &[(&str, &Path)], enable: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_krakend"));
    cmd.args(args);
    for name in [
        "FC_ENABLE",
        "FC_SETTINGS",
        "FC_PARTIALS",
        "FC_TEMPLATES",
        "FC_OUT",
    ] {
        cmd.env_remove(name);
    }
    if enable {
        cmd.env("FC_ENABLE", "1");
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run krakend")
}

fn fc_env(env: &str) -> Vec<(&'static str, PathBuf)> {
    let t = tree();
    vec![
        ("FC_SETTINGS", t.join("settings").join(env)),
        ("FC_PARTIALS", t.join("partials")),
        ("FC_TEMPLATES", t.join("templates")),
    ]
}

fn borrow<'a>(v: &'a [(&'static str, PathBuf)]) -> Vec<(&'static str, &'a Path)> {
    v.iter().map(|(k, p)| (*k, p.as_path())).collect()
}

#[test]
fn hub_example_check_renders_settings_partials_and_templates() {
    let tmpl = tree().join("krakend.tmpl");
    let env = fc_env("prod");
    let out = krakend(
        &["check", "-d", "-t", "-c", tmpl.to_str().unwrap()],
        &borrow(&env),
        true,
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("\"prod gateway\", port 8080"), "{t}");
    assert!(t.contains("timeout 1.5s"), "{t}");
    assert!(t.contains("Endpoints: 2"), "{t}");
    assert!(t.contains("GET /users/{id}"), "{t}");
    assert!(
        t.contains("http://127.0.0.1:9101,http://127.0.0.1:9102/u/{id}"),
        "{t}"
    );
}

#[test]
fn settings_directory_selects_the_environment() {
    let tmpl = tree().join("krakend.tmpl");
    let env = fc_env("dev");
    let out = krakend(
        &["check", "-d", "-c", tmpl.to_str().unwrap()],
        &borrow(&env),
        true,
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("\"dev gateway\", port 8000"), "{t}");
}

#[test]
fn fc_out_writes_the_rendered_config_which_then_checks_without_fc() {
    let tmpl = tree().join("krakend.tmpl");
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("rendered.json");
    let mut env = fc_env("prod");
    env.push(("FC_OUT", out_file.clone()));
    let out = krakend(
        &["check", "-c", tmpl.to_str().unwrap()],
        &borrow(&env),
        true,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rendered = std::fs::read_to_string(&out_file).unwrap();
    let v: serde_json::Value = serde_json::from_str(&rendered).expect("rendered JSON");
    assert_eq!(v["port"], 8080);
    assert_eq!(v["endpoints"][1]["backend"][1]["group"], "b");
    assert_eq!(
        v["extra_config"]["telemetry/logging"]["prefix"],
        "[KRAKEND]"
    );
    // The rendered output is a plain config.
    let plain = krakend(&["check", "-c", out_file.to_str().unwrap()], &[], false);
    assert_eq!(plain.status.code(), Some(0), "{}", text(&plain));
}

#[test]
fn without_fc_enable_the_template_is_not_rendered() {
    let tmpl = tree().join("krakend.tmpl");
    let env = fc_env("prod");
    let out = krakend(
        &["check", "-c", tmpl.to_str().unwrap()],
        &borrow(&env),
        false,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("syntax error"), "{}", text(&out));
}

#[test]
fn template_errors_stop_with_file_and_line() {
    let tmpl = tree().join("broken.tmpl");
    let env = fc_env("prod");
    let out = krakend(
        &["check", "-c", tmpl.to_str().unwrap()],
        &borrow(&env),
        true,
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("template: broken.tmpl:4: nil pointer evaluating interface {}.field"),
        "{t}"
    );
}

#[test]
fn missing_partial_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let tmpl = dir.path().join("k.tmpl");
    std::fs::write(&tmpl, "{\n\"version\": 3 {{ include \"nope.json\" }}\n}").unwrap();
    let partials = dir.path().to_path_buf();
    let out = krakend(
        &["check", "-c", tmpl.to_str().unwrap()],
        &[("FC_PARTIALS", partials.as_path())],
        true,
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("k.tmpl:2: error calling include: cannot read partial"),
        "{t}"
    );
}
