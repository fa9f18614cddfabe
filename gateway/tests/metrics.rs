//! Metrics through the real binary: a Prometheus scrape after N requests to an endpoint with
//! three backends shows N router requests and 3N backend requests; the legacy JSON stats
//! agree; failing backends are counted with their status.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

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
    common::wait_until_listening(port);
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

/// Router requests x fan-out = backend requests, each backend called once per request.
fn assert_fan_out(text: &str, route: &str, paths: &[&str], n: u64) {
    assert_eq!(
        sum(text, "krakend_router_requests_total", &[route]),
        n,
        "{text}"
    );
    let fan_out = paths.len() as u64;
    assert_eq!(
        sum(text, "krakend_backend_requests_total", &[route]),
        fan_out * n,
        "{text}"
    );
    for path in paths {
        let p = format!("url_path=\"{path}\"");
        assert_eq!(
            sum(text, "krakend_backend_requests_total", &[route, &p]),
            n,
            "{text}"
        );
    }
}

/// A running gateway with a Prometheus exporter and the legacy stats listener.
struct Metered {
    _gw: Running,
    port: u16,
    prom: u16,
    stats: u16,
}

/// A gateway whose `endpoint` fans out to `paths` of the test backend, with `legacy` extra
/// `telemetry/metrics` fields (e.g. `, "collection_time": "1s"`) and `more` endpoints
/// (JSON, `BACKEND` replaced by the backend's address).
fn metered_gateway(endpoint: &str, paths: &[&str], legacy: &str, more: &str) -> Metered {
    let backend = start_backend();
    let (port, prom, stats) = (free_port(), free_port(), free_port());
    let backends: Vec<String> = paths
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(r#"{{"host": ["http://{backend}"], "url_pattern": "{p}", "group": "g{i}"}}"#)
        })
        .collect();
    let config = format!(
        r#"{{"version": 3, "port": {port},
        "extra_config": {{
          "telemetry/opentelemetry": {{"exporters": {{"prometheus": [{{"name": "local", "port": {prom}, "listen_ip": "127.0.0.1"}}]}}}},
          "telemetry/metrics": {{"listen_address": "127.0.0.1:{stats}"{legacy}}}
        }},
        "endpoints": [{{"endpoint": "{endpoint}", "backend": [{}]}}{}]}}"#,
        backends.join(","),
        more.replace("BACKEND", &backend.to_string()),
    );
    Metered {
        _gw: start(&config, port),
        port,
        prom,
        stats,
    }
}

#[test]
fn prometheus_scrape_explains_fan_out() {
    let gw = metered_gateway(
        "/fan",
        &["/user", "/data/b", "/data/c"],
        "",
        r#", {"endpoint": "/broken", "backend": [{"host": ["http://BACKEND"], "url_pattern": "/status/503"}]}"#,
    );
    let (port, prom, stats) = (gw.port, gw.prom, gw.stats);
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
    assert_fan_out(&text, fan, &["/user", "/data/b", "/data/c"], N);
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

/// The number after `"key":` in a JSON document's flat KrakenD keys.
fn stat(v: &serde_json::Value, key: &str) -> u64 {
    v.get(key)
        .and_then(serde_json::Value::as_u64)
        .unwrap_or_else(|| panic!("no {key} in {v:#}"))
}

#[test]
fn loaded_gateway_with_a_failing_backend_keeps_layers_consistent() {
    let gw = metered_gateway(
        "/mixed",
        &["/user", "/data/b", "/status/503"],
        r#", "collection_time": "100ms""#,
        "",
    );
    let (port, prom, stats) = (gw.port, gw.prom, gw.stats);
    // Load: 8 clients in parallel, 25 requests each.
    const CLIENTS: u64 = 8;
    const EACH: u64 = 25;
    const N: u64 = CLIENTS * EACH;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            std::thread::spawn(move || {
                (0..EACH)
                    .map(|_| raw_request(port, "GET", "/mixed", &[], "").unwrap().status)
                    .collect::<Vec<u16>>()
            })
        })
        .collect();
    let statuses: Vec<u16> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert_eq!(statuses.len() as u64, N);
    let text = raw_request(prom, "GET", "/metrics", &[], "").unwrap().body;
    let route = "http_route=\"/mixed\"";

    assert_fan_out(&text, route, &["/user", "/data/b", "/status/503"], N);
    let failed = [
        "url_path=\"/status/503\"",
        "http_response_status_code=\"503\"",
    ];
    assert_eq!(
        sum(&text, "krakend_backend_requests_total", &failed),
        N,
        "{text}"
    );
    // The pipe saw every request as an incomplete, errored merge.
    let pipe = [route, "layer=\"pipe\""];
    assert_eq!(
        sum(&text, "krakend_proxy_requests_total", &pipe),
        N,
        "{text}"
    );
    let partial = [
        route,
        "layer=\"pipe\"",
        "complete=\"false\"",
        "error=\"true\"",
    ];
    assert_eq!(
        sum(&text, "krakend_proxy_requests_total", &partial),
        N,
        "{text}"
    );
    // Backend layer: the healthy ones complete without error, the failing one errs.
    let healthy = [
        "layer=\"backend\"",
        "name=\"/user\"",
        "complete=\"true\"",
        "error=\"false\"",
    ];
    assert_eq!(
        sum(&text, "krakend_proxy_requests_total", &healthy),
        N,
        "{text}"
    );
    let erring = [
        "layer=\"backend\"",
        "name=\"/status/503\"",
        "error=\"true\"",
    ];
    assert_eq!(
        sum(&text, "krakend_proxy_requests_total", &erring),
        N,
        "{text}"
    );
    assert_eq!(
        sum(&text, "krakend_proxy_duration_seconds_count", &pipe),
        N,
        "{text}"
    );
    // Response sizes: the backends' bodies were measured.
    let user = [route, "url_path=\"/user\""];
    assert!(
        sum(&text, "krakend_backend_response_size_bytes_total", &user) >= N,
        "{text}"
    );

    // The legacy JSON, with KrakenD's keys; the collection has aggregated the handler counts.
    std::thread::sleep(Duration::from_millis(350));
    let v: serde_json::Value = serde_json::from_str(
        &raw_request(stats, "GET", "/__stats/", &[], "")
            .unwrap()
            .body,
    )
    .unwrap();
    let mut distinct = statuses.clone();
    distinct.dedup();
    distinct.sort_unstable();
    distinct.dedup();
    for s in distinct {
        let seen = statuses.iter().filter(|x| **x == s).count() as u64;
        let key = format!("krakend.router.response./mixed.status.{s}.count");
        assert_eq!(stat(&v, &key), seen, "{v:#}");
    }
    assert_eq!(
        stat(
            &v,
            "krakend.proxy.requests.layer.pipe.name./mixed.complete.false.error.true"
        ),
        N
    );
    assert_eq!(
        stat(
            &v,
            "krakend.proxy.requests.layer.backend.name./data/b.complete.true.error.false"
        ),
        N
    );
    assert_eq!(
        stat(
            &v,
            "krakend.proxy.requests.layer.backend.name./status/503.complete.false.error.true"
        ),
        N
    );
    assert_eq!(stat(&v, "krakend.router.response./mixed.size.count"), N);
    assert!(stat(&v, "krakend.router.response./mixed.size.max") > 0);
    assert_eq!(
        stat(&v, "krakend.router.connected-total") + stat(&v, "krakend.router.connected"),
        N,
        "{v:#}"
    );
    assert_eq!(
        stat(&v, "krakend.router.connected"),
        0,
        "collected after 100 ms"
    );
}
