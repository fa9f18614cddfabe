//! Black-box checks of the traffic-control and validation namespaces on the real binary:
//! json-schema, CEL, router/proxy rate limits, circuit breaker and HTTP cache.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use common::Gateway;

/// The test backend's address and the switches and counters the tests look at.
struct Backend {
    addr: SocketAddr,
    /// Calls of `/cached`.
    cached: Arc<AtomicUsize>,
    /// Failed calls of `/fail` and `/flaky`.
    failed: Arc<AtomicUsize>,
    /// While set, `/flaky` fails like `/fail`.
    flaky_down: Arc<AtomicBool>,
}

/// A keep-alive HTTP/1.1 backend counting calls per path: `/cached` says `max-age=60`,
/// `/fail` answers 500, `/flaky` too while [`Backend::flaky_down`], anything else 200.
fn counting_backend() -> Backend {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let cached = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let flaky_down = Arc::new(AtomicBool::new(true));
    let (c, f, down) = (cached.clone(), failed.clone(), flaky_down.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (c, f, down) = (c.clone(), f.clone(), down.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut out = stream;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                            break;
                        }
                    }
                    let (status, extra, body) = if path.starts_with("/cached") {
                        let n = c.fetch_add(1, Ordering::SeqCst) + 1;
                        (
                            "200 OK",
                            "Cache-Control: max-age=60\r\n",
                            format!("{{\"n\":{n}}}"),
                        )
                    } else if path.starts_with("/fail")
                        || (path.starts_with("/flaky") && down.load(Ordering::SeqCst))
                    {
                        f.fetch_add(1, Ordering::SeqCst);
                        ("500 Internal Server Error", "", "{}".to_string())
                    } else {
                        ("200 OK", "", "{\"ok\":true}".to_string())
                    };
                    let _ = write!(
                        out,
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                }
            });
        }
    });
    Backend {
        addr,
        cached,
        failed,
        flaky_down,
    }
}

fn config(b: SocketAddr) -> String {
    r#"{"version": 3, "port": PORT, "extra_config": {"router": {"return_error_msg": true}},
      "endpoints": [
        {"endpoint": "/schema", "method": "POST",
         "extra_config": {"validation/json-schema": {"type": "object", "required": ["name"]}},
         "backend": [{"host": ["B"], "url_pattern": "/ok"}]},
        {"endpoint": "/cel/{id}",
         "extra_config": {"validation/cel": [{"check_expr": "int(req_params.Id) > 10"}]},
         "backend": [{"host": ["B"], "url_pattern": "/ok"}]},
        {"endpoint": "/limited",
         "extra_config": {"qos/ratelimit/router": {"client_max_rate": 2, "every": "1h", "strategy": "header", "key": "X-User"}},
         "backend": [{"host": ["B"], "url_pattern": "/ok"}]},
        {"endpoint": "/proxy-limited",
         "backend": [{"host": ["B"], "url_pattern": "/ok",
            "extra_config": {"qos/ratelimit/proxy": {"max_rate": 1, "every": "1h"}}}]},
        {"endpoint": "/breaker",
         "backend": [{"host": ["B"], "url_pattern": "/fail",
            "extra_config": {"qos/circuit-breaker": {"interval": 60, "timeout": 60, "max_errors": 1}}}]},
        {"endpoint": "/cached",
         "backend": [{"host": ["B"], "url_pattern": "/cached",
            "extra_config": {"qos/http-cache": {"shared": true}}}]},
        {"endpoint": "/martian",
         "backend": [{"host": ["B"], "url_pattern": "/ok",
            "extra_config": {"modifier/martian": {"fifo.Group": {"scope": ["request", "response"], "modifiers": [
              {"querystring.Modifier": {"scope": ["request"], "name": "x", "value": "1"}},
              {"body.Modifier": {"scope": ["response"], "contentType": "application/json", "body": "eyJtYXJ0aWFuIjp0cnVlfQ=="}}
            ]}}}}]}
      ]}"#
    .replace("\"B\"", &format!("\"http://{b}\""))
}

#[test]
fn traffic_namespaces_are_enforced() {
    let Backend {
        addr,
        cached: cached_calls,
        failed: failed_calls,
        ..
    } = counting_backend();
    let gw = Gateway::start(&config(addr));

    let r = gw.request(
        "POST",
        "/schema",
        &[("Content-Type", "application/json")],
        r#"{"name":"x"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = gw.request(
        "POST",
        "/schema",
        &[("Content-Type", "application/json")],
        r#"{"age":1}"#,
    );
    assert_eq!(r.status, 400);
    assert!(r.body.starts_with("- (root): "), "{}", r.body);
    assert!(r.body.contains("\"name\""), "{}", r.body);

    assert_eq!(gw.request("GET", "/cel/11", &[], "").status, 200);
    let r = gw.request("GET", "/cel/3", &[], "");
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "request aborted by evaluator #0")
    );

    for _ in 0..2 {
        assert_eq!(
            gw.request("GET", "/limited", &[("X-User", "a")], "").status,
            200
        );
    }
    let r = gw.request("GET", "/limited", &[("X-User", "a")], "");
    assert_eq!((r.status, r.body.as_str()), (429, ""));
    assert_eq!(
        gw.request("GET", "/limited", &[("X-User", "b")], "").status,
        200
    );

    assert_eq!(gw.request("GET", "/proxy-limited", &[], "").status, 200);
    let r = gw.request("GET", "/proxy-limited", &[], "");
    assert_eq!(
        (r.status, r.body.as_str()),
        (503, "ERROR: rate limit exceeded")
    );

    for _ in 0..2 {
        assert_eq!(gw.request("GET", "/breaker", &[], "").status, 500);
    }
    let r = gw.request("GET", "/breaker", &[], "");
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "circuit breaker is open")
    );
    assert_eq!(
        failed_calls.load(Ordering::SeqCst),
        2,
        "the open breaker spares the backend"
    );

    let first = gw.request("GET", "/cached", &[], "");
    let second = gw.request("GET", "/cached", &[], "");
    assert_eq!(first.json(), serde_json::json!({"n": 1}));
    assert_eq!(second.json(), serde_json::json!({"n": 1}));
    assert_eq!(
        cached_calls.load(Ordering::SeqCst),
        1,
        "served from the cache"
    );
}

/// Each refusal with its exact status and body, and the way back: a client bucket refilled,
/// a breaker half-open (failed trial: open again; good trial: closed), a schema violation.
#[test]
fn refusals_are_exact_and_recover() {
    let backend = counting_backend();
    let config = r#"{"version": 3, "port": PORT, "extra_config": {"router": {"return_error_msg": true}},
      "endpoints": [
        {"endpoint": "/schema", "method": "POST",
         "extra_config": {"validation/json-schema": {"type": "object", "required": ["name"]}},
         "backend": [{"host": ["B"], "url_pattern": "/ok"}]},
        {"endpoint": "/refill",
         "extra_config": {"qos/ratelimit/router": {"client_max_rate": 1, "every": "1s"}},
         "backend": [{"host": ["B"], "url_pattern": "/ok"}]},
        {"endpoint": "/flaky",
         "backend": [{"host": ["B"], "url_pattern": "/flaky",
            "extra_config": {"qos/circuit-breaker": {"interval": 60, "timeout": 1, "max_errors": 0}}}]}
      ]}"#
    .replace("\"B\"", &format!("\"http://{}\"", backend.addr));
    let gw = Gateway::start(&config);
    let get = |path: &str| {
        let r = gw.request("GET", path, &[], "");
        (r.status, r.body)
    };
    let ok = (200, r#"{"ok":true}"#.to_string());
    let open = (500, "circuit breaker is open".to_string());
    let pause = || std::thread::sleep(std::time::Duration::from_millis(1100));

    let r = gw.request(
        "POST",
        "/schema",
        &[("Content-Type", "application/json")],
        r#"{"age":1}"#,
    );
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "- (root): \"name\" is a required property")
    );

    assert_eq!(get("/refill"), ok);
    assert_eq!(get("/refill"), (429, String::new()));
    pause();
    assert_eq!(get("/refill"), ok, "refilled after `every`");

    let backend_error = (
        500,
        format!(
            "invalid status code 500 [GET /flaky]: http://{}/flaky",
            backend.addr
        ),
    );
    assert_eq!(get("/flaky"), backend_error);
    assert_eq!(get("/flaky"), open);
    assert_eq!(backend.failed.load(Ordering::SeqCst), 1);
    pause();
    // Half-open: one trial reaches the backend; it fails, so the breaker opens again.
    assert_eq!(get("/flaky"), backend_error);
    assert_eq!(backend.failed.load(Ordering::SeqCst), 2);
    assert_eq!(get("/flaky"), open);
    pause();
    backend.flaky_down.store(false, Ordering::SeqCst);
    assert_eq!(get("/flaky"), ok, "a good trial closes the breaker");
    assert_eq!(get("/flaky"), ok);
}
