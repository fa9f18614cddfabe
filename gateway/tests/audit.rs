//! `krakend audit` filters (-i, -s), Go-template format (-f) and --fail-on exit codes.

mod common;

use std::process::{Command, Output};

const CONFIG: &str = r#"{"version": 3, "debug_endpoint": true,
  "extra_config": {"security/cors": {"allow_origins": ["*"], "allow_credentials": true}},
  "endpoints": [{"endpoint": "/a", "extra_config": {"auth/validator": {"jwk_url": "https://idp/jwk"}},
    "backend": [{"host": ["https://b.example"], "url_pattern": "/a"}]}]}"#;

fn audit(args: &[&str]) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.json");
    std::fs::write(&path, CONFIG).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_krakend"))
        .args(["audit", "-c", path.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    let t = common::output_text(&out);
    (out, t)
}

#[test]
fn default_report_lists_rules_by_severity() {
    let (out, t) = audit(&[]);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("1.1.1\t[HIGH]   \t"), "{t}");
    assert!(t.contains("4.2.1\t[HIGH]"), "{t}"); // JWT without alg
    assert!(t.contains("4.3.1\t[HIGH]"), "{t}"); // CORS * with credentials
    assert!(t.contains("5.1.1\t[MEDIUM]"), "{t}"); // no rate limit
    let first_medium = t.find("[MEDIUM]").unwrap();
    assert!(
        t.rfind("[HIGH]").unwrap() < first_medium,
        "sorted by severity:\n{t}"
    );
}

#[test]
fn ignore_severity_and_format_filters() {
    let (_, t) = audit(&[
        "-i",
        "1.1.1,4.3.1",
        "-s",
        "HIGH",
        "-f",
        "{{ range .Recommendations }}{{ .Rule }};{{ end }}",
    ]);
    assert!(
        !t.contains("1.1.1") && !t.contains("4.3.1") && !t.contains("5.1.1"),
        "{t}"
    );
    assert!(t.contains("4.2.1;"), "{t}");
}

#[test]
fn fail_on_exits_non_zero_at_or_above_the_level() {
    let (out, t) = audit(&["--fail-on", "HIGH"]);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let (out, t) = audit(&["--fail-on", "CRITICAL"]);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let (out, t) = audit(&["-s", "LOW,MEDIUM", "--fail-on", "HIGH"]);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let (out, _) = audit(&["--fail-on", "urgent"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bad_format_is_a_usage_error() {
    let (out, t) = audit(&["-f", "{{ range .Recommendations }}"]);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("template: format:1"), "{t}");
}

/// `check -l` / `-n` / `-s`: schema lint, offline.
mod lint {
    use std::process::Command;

    fn check(config: &str, args: &[&str], schema: Option<&str>) -> (Option<i32>, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        std::fs::write(&path, config).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_krakend"));
        cmd.args(["check", "-c", path.to_str().unwrap()]).args(args);
        if let Some(s) = schema {
            let sp = dir.path().join("schema.json");
            std::fs::write(&sp, s).unwrap();
            cmd.args(["-s", sp.to_str().unwrap()]);
        }
        let out = cmd.output().unwrap();
        let t = super::common::output_text(&out);
        (out.status.code(), t)
    }

    const BAD_LEVEL: &str = r#"{"version": 3, "extra_config": {"telemetry/logging": {"level": "INFO", "format": "fancy-json"}},
        "endpoints": [{"endpoint": "/a", "backend": [{"host": ["http://127.0.0.1:1"], "url_pattern": "/a"}]}]}"#;

    #[test]
    fn lint_flags_enum_violations_with_their_path() {
        // Now that CORS is a typed namespace its parser rejects the value first; either way
        // the message must name the JSON path.
        let cfg = r#"{"version": 3, "extra_config": {"security/cors": {"allow_credentials": "yes"}},
            "endpoints": [{"endpoint": "/a", "backend": [{"host": ["http://127.0.0.1:1"], "url_pattern": "/a"}]}]}"#;
        for flag in ["-l", "-n"] {
            let (code, t) = check(cfg, &[flag], None);
            assert_eq!(code, Some(1), "{flag}: {t}");
            assert!(
                t.contains("extra_config[\"security/cors\"].allow_credentials: must be"),
                "{t}"
            );
        }
        let (code, t) = check(BAD_LEVEL, &[], None);
        assert_eq!(code, Some(1), "{t}");
    }

    #[test]
    fn lint_passes_a_clean_config_and_uses_a_local_schema() {
        let cfg = r#"{"version": 3, "name": "x", "endpoints": [{"endpoint": "/a", "backend": [{"host": ["http://127.0.0.1:1"], "url_pattern": "/a"}]}]}"#;
        let (code, t) = check(cfg, &["-l"], None);
        assert_eq!(code, Some(0), "{t}");
        assert!(t.contains("follows the schema rules"), "{t}");
        let schema = r#"{"type": "object", "required": ["owner"]}"#;
        let (code, t) = check(cfg, &[], Some(schema));
        assert_eq!(code, Some(1), "{t}");
        assert!(t.contains("missing required property \"owner\""), "{t}");
    }
}
