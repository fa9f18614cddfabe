//! Black-box tests of the router's client-IP options with the real binary: `trusted_proxies`
//! stops a client from choosing its IP for an `ip` rate limit, as gin's `ClientIP` does.

mod common;

use common::Gateway;

fn config(backend: std::net::SocketAddr, router: &str) -> String {
    format!(
        r#"{{"version": 3, "port": PORT, "extra_config": {{"router": {{{router}}}}},
      "endpoints": [
        {{"endpoint": "/limited",
         "extra_config": {{"qos/ratelimit/router": {{"client_max_rate": 1, "every": "1h", "strategy": "ip"}}}},
         "backend": [{{"host": ["http://{backend}"], "url_pattern": "/seen"}}]}}
      ]}}"#
    )
}

/// Two requests from 127.0.0.1 claiming different addresses; the statuses and the
/// `X-Forwarded-For` the backend saw on the first.
fn two_spoofed_requests(gw: &Gateway) -> (u16, u16, String) {
    let first = gw.request("GET", "/limited", &[("X-Forwarded-For", "6.6.6.6")], "");
    let second = gw.request("GET", "/limited", &[("X-Forwarded-For", "7.7.7.7")], "");
    let seen = first.json()["headers"]["x-forwarded-for"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (first.status, second.status, seen)
}

#[test]
fn untrusted_peer_cannot_spoof_its_ip() {
    let backend = common::start_backend();
    let gw = Gateway::start(&config(backend, r#""trusted_proxies": ["10.0.0.0/8"]"#));
    let (first, second, seen) = two_spoofed_requests(&gw);
    assert_eq!(first, 200);
    assert_eq!(second, 429, "both requests share the bucket of 127.0.0.1");
    assert_eq!(seen, "127.0.0.1");
}

#[test]
fn by_default_every_peer_is_trusted() {
    let backend = common::start_backend();
    let gw = Gateway::start(&config(backend, ""));
    let (first, second, seen) = two_spoofed_requests(&gw);
    assert_eq!(
        (first, second),
        (200, 200),
        "one bucket per claimed address"
    );
    assert_eq!(seen, "6.6.6.6");
}

#[test]
fn a_bad_trusted_proxy_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("krakend.json");
    let cfg = config(
        "127.0.0.1:9".parse().unwrap(),
        r#""trusted_proxies": ["10.0.0.0/8", "10.0.0.300"]"#,
    );
    std::fs::write(&path, cfg.replace("PORT", "0")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_krakend"))
        .args(["check", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    let text = common::output_text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("extra_config.router.trusted_proxies[1]"),
        "{text}"
    );
}
