//! Metrics through the real binary: a Prometheus scrape after N requests to an endpoint with
//! three backends shows N router requests and 3N backend requests; the legacy JSON stats
//! agree; failing backends are counted with their status.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, raw_request, start_backend};

struct Running {
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(config: &str, port: u16) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("krakend.json");
    std::fs::write(&path, config).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_krakend"))
        .args(["run", "-c"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while raw_request(port, "GET", "/__health", &[], "").is_err() {
        assert!(Instant::now() < deadline, "gateway did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Running { child, _dir: dir }
}

/// Sum of the samples of `metric` whose labels contain every `needle`.
fn sum(scrape: &str, metric: &str, needles: &[&str]) -> u64 {
    scrape
        .lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")))
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

#[test]
fn prometheus_scrape_explains_fan_out() {
    let backend = start_backend();
    let port = free_port();
    let prom = free_port();
    let stats = free_port();
    let b = |path: &str, group: &str| {
        format!(r#"{{"host": ["http://{backend}"], "url_pattern": "{path}", "group": "{group}"}}"#)
    };
    let config = format!(
        r#"{{"version": 3, "port": {port},
        "extra_config": {{
          "telemetry/opentelemetry": {{"exporters": {{"prometheus": [{{"name": "local", "port": {prom}, "listen_ip": "127.0.0.1"}}]}}}},
          "telemetry/metrics": {{"listen_address": "127.0.0.1:{stats}"}}
        }},
        "endpoints": [
          {{"endpoint": "/fan", "backend": [{}, {}, {}]}},
          {{"endpoint": "/broken", "backend": [{{"host": ["http://{backend}"], "url_pattern": "/status/503"}}]}}
        ]}}"#,
        b("/user", "a"),
        b("/data/b", "b"),
        b("/data/c", "c"),
    );
    let _gw = start(&config, port);
    const N: u64 = 40;
    for _ in 0..N {
        let r = raw_request(port, "GET", "/fan", &[], "").unwrap();
        assert_eq!(r.status, 200);
    }
    for _ in 0..3 {
        let _ = raw_request(port, "GET", "/broken", &[], "").unwrap();
    }
    let scrape = raw_request(prom, "GET", "/metrics", &[], "").unwrap();
    assert_eq!(scrape.status, 200);
    let text = scrape.body.clone();

    let fan = "http_route=\"/fan\"";
    assert_eq!(
        sum(&text, "krakend_router_requests_total", &[fan]),
        N,
        "{text}"
    );
    assert_eq!(
        sum(&text, "krakend_backend_requests_total", &[fan]),
        3 * N,
        "{text}"
    );
    for path in ["/user", "/data/b", "/data/c"] {
        let p = format!("url_path=\"{path}\"");
        assert_eq!(
            sum(&text, "krakend_backend_requests_total", &[fan, &p]),
            N,
            "{text}"
        );
    }
    assert_eq!(
        sum(&text, "krakend_router_duration_seconds_count", &[fan]),
        N,
        "{text}"
    );
    assert!(sum(&text, "krakend_router_response_size_bytes_total", &[fan]) > 0);
    let broken = "http_route=\"/broken\"";
    assert_eq!(
        sum(
            &text,
            "krakend_backend_requests_total",
            &[broken, "http_response_status_code=\"503\""]
        ),
        3,
        "{text}"
    );
    assert!(text.contains("process_resident_memory_bytes "), "{text}");
    assert!(text.contains("krakend_open_connections "), "{text}");
    assert!(text.contains("tokio_alive_tasks "), "{text}");

    let json = raw_request(stats, "GET", "/__stats/", &[], "").unwrap();
    assert_eq!(json.status, 200);
    let v: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(v["router"]["GET /fan"]["count"], N);
}

#[test]
fn disabled_backend_layer_is_not_published() {
    let backend = start_backend();
    let port = free_port();
    let stats = free_port();
    let config = format!(
        r#"{{"version": 3, "port": {port},
        "extra_config": {{"telemetry/metrics": {{"listen_address": "127.0.0.1:{stats}", "backend_disabled": true}}}},
        "endpoints": [{{"endpoint": "/u", "backend": [{{"host": ["http://{backend}"], "url_pattern": "/user"}}]}}]}}"#
    );
    let _gw = start(&config, port);
    raw_request(port, "GET", "/u", &[], "").unwrap();
    let json = raw_request(stats, "GET", "/__stats", &[], "").unwrap();
    let v: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(v["router"]["GET /u"]["count"], 1);
    assert_eq!(v["backend"], serde_json::json!({}));
}
