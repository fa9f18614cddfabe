//! Every config in `examples/` is valid, and the README's first example answers as documented.

mod common;

use std::path::Path;
use std::process::Command;

#[test]
fn every_example_passes_check() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let mut check = Command::new(env!("CARGO_BIN_EXE_krakend"));
        check.args(["check", "-t", "-c"]);
        if path.is_dir() {
            // A Flexible Configuration project: `krakend.tmpl` plus `config/{settings,
            // partials,templates}`, as the Docker Hub page lays it out.
            let config = path.join("config");
            check
                .arg(path.join("krakend.tmpl"))
                .env("FC_ENABLE", "1")
                .env("FC_SETTINGS", config.join("settings"))
                .env("FC_PARTIALS", config.join("partials"))
                .env("FC_TEMPLATES", config.join("templates"));
        } else {
            check.arg(&path);
        }
        let out = check.output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        n += 1;
    }
    assert!(n >= 1);
}

#[test]
fn hello_example_answers_through_its_own_echo_endpoint() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello.json"),
    )
    .unwrap();
    // Same config on a free port (the example proxies to itself on 8080).
    let config = text.replace("8080", "PORT");
    let gw = common::Gateway::start(&config);
    let r = gw.request("GET", "/hello/world", &[], "");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        serde_json::json!({"req_querystring": {}, "req_uri": "/__echo/world"})
    );
}
