//! Black-box tests of the service-level HTTP settings with the real binary: the backend client
//! (`disable_compression`, `disable_keep_alives`, `response_header_timeout`), the server's
//! `idle_timeout` and `write_timeout`, and `router.error_body`.

mod common;

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use common::Gateway;

/// A backend that answers with the request headers and the number of the TCP connection the
/// request came on; `/slow` waits a second first.
fn start_counting_backend() -> SocketAddr {
    common::spawn_backend(|stream, conn| async move {
        let svc = service_fn(
            move |req: hyper::Request<hyper::body::Incoming>| async move {
                if req.uri().path() == "/slow" {
                    tokio::time::sleep(Duration::from_millis(1000)).await;
                }
                let headers: serde_json::Map<String, serde_json::Value> = req
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").into()))
                    .collect();
                let body = serde_json::json!({"conn": conn, "headers": headers}).to_string();
                Ok::<_, Infallible>(
                    hyper::Response::builder()
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(body)))
                        .unwrap(),
                )
            },
        );
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), svc)
            .await;
    })
}

fn config(backend: SocketAddr, service_settings: &str) -> String {
    config_with_router(backend, service_settings, "")
}

fn config_with_router(backend: SocketAddr, service_settings: &str, router: &str) -> String {
    format!(
        r#"{{
      "version": 3, "port": PORT, "timeout": "3s", {service_settings}
      "extra_config": {{"router": {{"return_error_msg": true, {router}
        "error_body": {{"404": {{"error": "no such route", "code": 404}}, "405": {{"error": "wrong method"}}}}}}}},
      "endpoints": [
        {{"endpoint": "/seen", "backend": [{{"host": ["http://{backend}"], "url_pattern": "/seen"}}]}},
        {{"endpoint": "/slow", "backend": [{{"host": ["http://{backend}"], "url_pattern": "/slow"}}]}}
      ]
    }}"#
    )
}

/// (connection number, headers) the backend saw for one `/seen` call.
fn seen(gw: &Gateway) -> (u64, serde_json::Value) {
    let r = gw.request("GET", "/seen", &[], "");
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    (v["conn"].as_u64().unwrap(), v["headers"].clone())
}

#[test]
fn default_transport_pools_connections_and_asks_for_gzip() {
    let gw = Gateway::start(&config(start_counting_backend(), ""));
    let (first, headers) = seen(&gw);
    let (second, _) = seen(&gw);
    assert_eq!(first, second, "the pooled connection was not reused");
    assert_eq!(headers["accept-encoding"], "gzip");
    assert!(headers.get("connection").is_none(), "{headers}");
}

#[test]
fn disable_keep_alives_and_compression_reach_the_backend() {
    let settings = r#""disable_keep_alives": true, "disable_compression": true,"#;
    let gw = Gateway::start(&config(start_counting_backend(), settings));
    let (first, headers) = seen(&gw);
    let (second, _) = seen(&gw);
    assert_ne!(
        first, second,
        "a connection was reused despite disable_keep_alives"
    );
    assert_eq!(headers["connection"], "close");
    assert!(headers.get("accept-encoding").is_none(), "{headers}");
}

#[test]
fn response_header_timeout_fails_a_slow_backend_like_go() {
    let backend = start_counting_backend();
    let gw = Gateway::start(&config(backend, r#""response_header_timeout": "200ms","#));
    let start = Instant::now();
    let r = gw.request("GET", "/slow", &[], "");
    let took = start.elapsed();
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(
        r.body
            .contains("net/http: timeout awaiting response headers"),
        "{}",
        r.body
    );
    assert!(took < Duration::from_millis(900), "took {took:?}");
    // Fast backends are unaffected.
    assert_eq!(seen(&gw).1["accept-encoding"], "gzip");

    let without = Gateway::start(&config(backend, ""));
    assert_eq!(without.request("GET", "/slow", &[], "").status, 200);
}

/// Sends one keep-alive GET on `s` and reads exactly its (Content-Length) response.
fn keep_alive_get(s: &mut TcpStream, path: &str) -> String {
    write!(s, "GET {path} HTTP/1.1\r\nHost: gw\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "connection closed mid-head");
        raw.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&raw).to_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .expect("content-length")
        .trim()
        .parse()
        .unwrap();
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    head
}

/// How long an idle keep-alive connection stays open after a response (capped at `limit`).
fn idle_lifetime(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    s.set_read_timeout(Some(limit)).unwrap();
    let start = Instant::now();
    match s.read(&mut [0u8; 1]) {
        Ok(0) => Some(start.elapsed()),
        Ok(_) => panic!("unexpected bytes on an idle connection"),
        Err(_) => None,
    }
}

#[test]
fn idle_timeout_closes_idle_keep_alive_connections_only() {
    let backend = start_counting_backend();
    let gw = Gateway::start(&config(backend, r#""idle_timeout": "400ms","#));
    let mut s = TcpStream::connect(("127.0.0.1", gw.port)).unwrap();
    // A request served for longer than idle_timeout is not cut.
    assert!(keep_alive_get(&mut s, "/slow").starts_with("http/1.1 200"));
    assert!(keep_alive_get(&mut s, "/seen").starts_with("http/1.1 200"));
    let closed = idle_lifetime(&mut s, Duration::from_secs(3)).expect("idle connection kept open");
    assert!(
        closed >= Duration::from_millis(350) && closed < Duration::from_millis(2500),
        "closed after {closed:?}"
    );

    // read_timeout is the fallback when idle_timeout is zero.
    let gw = Gateway::start(&config(
        backend,
        r#""idle_timeout": "0s", "read_timeout": "300ms","#,
    ));
    let mut s = TcpStream::connect(("127.0.0.1", gw.port)).unwrap();
    keep_alive_get(&mut s, "/seen");
    assert!(idle_lifetime(&mut s, Duration::from_secs(3)).is_some());

    // With only read_header_timeout, an idle connection stays open (Go: no idle limit).
    let gw = Gateway::start(&config(backend, r#""read_header_timeout": "300ms","#));
    let mut s = TcpStream::connect(("127.0.0.1", gw.port)).unwrap();
    keep_alive_get(&mut s, "/seen");
    assert_eq!(idle_lifetime(&mut s, Duration::from_millis(1200)), None);
}

#[test]
fn write_timeout_drops_a_request_not_answered_in_time() {
    let backend = start_counting_backend();
    let gw = Gateway::start(&config(backend, r#""write_timeout": "300ms","#));
    let mut s = TcpStream::connect(("127.0.0.1", gw.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    write!(s, "GET /slow HTTP/1.1\r\nHost: gw\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let read = s.read_to_end(&mut answer);
    let took = started.elapsed();
    // Go closes the connection without an answer; nothing was written before the deadline.
    assert!(read.is_ok(), "{read:?} after {took:?}");
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    assert!(took < Duration::from_millis(900), "took {took:?}");
    // A request answered within the limit is served.
    assert_eq!(seen(&gw).1["accept-encoding"], "gzip");
}

#[test]
fn router_error_body_replaces_404_and_405() {
    let gw = Gateway::start(&config(start_counting_backend(), ""));
    let r = gw.request("GET", "/nowhere", &[], "");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(r.body, r#"{"code":404,"error":"no such route"}"#);
    let r = gw.request("POST", "/seen", &[], "x");
    assert_eq!(r.status, 405);
    assert_eq!(r.json(), serde_json::json!({"error": "wrong method"}));
    assert_eq!(r.header("allow"), Some("GET"));
}

#[test]
fn remove_extra_slash_matches_the_cleaned_path() {
    let backend = start_counting_backend();
    let gw = Gateway::start(&config_with_router(
        backend,
        "",
        r#""remove_extra_slash": true,"#,
    ));
    assert_eq!(gw.request("GET", "//seen", &[], "").status, 200);
    assert_eq!(gw.request("GET", "/x/..//seen", &[], "").status, 200);
    // Without it gin does not match `//seen` (it redirects to the fixed path).
    let gw = Gateway::start(&config(backend, ""));
    assert_ne!(gw.request("GET", "//seen", &[], "").status, 200);
}
