//! Black-box behaviour of the real `krakend` binary against a local test backend.

mod common;

use common::{start_backend, Gateway};
use serde_json::json;

fn config(backend: std::net::SocketAddr) -> String {
    let b = format!("http://{backend}");
    r#"{
      "version": 3, "port": PORT, "timeout": "1s", "cache_ttl": "300s",
      "extra_config": {"router": {"return_error_msg": true}, "security/cors": {"allow_origins": ["*"]}},
      "endpoints": [
        {"endpoint": "/merge/{id}", "backend": [
          {"host": ["B"], "url_pattern": "/user", "target": "user", "deny": ["secret"], "group": "profile"},
          {"host": ["B"], "url_pattern": "/data/{id}", "allow": ["path", "n"], "mapping": {"n": "number"}}
        ]},
        {"endpoint": "/partial", "timeout": "400ms", "backend": [
          {"host": ["B"], "url_pattern": "/data/fast", "allow": ["path"], "group": "fast"},
          {"host": ["B"], "url_pattern": "/slow", "group": "slow"}
        ]},
        {"endpoint": "/fails", "backend": [{"host": ["B"], "url_pattern": "/status/418"}]},
        {"endpoint": "/code", "backend": [{"host": ["B"], "url_pattern": "/status/418",
           "extra_config": {"backend/http": {"return_error_code": true}}}]},
        {"endpoint": "/noop", "method": "POST", "output_encoding": "no-op",
         "backend": [{"host": ["B"], "url_pattern": "/cookies", "encoding": "no-op"}]},
        {"endpoint": "/list", "backend": [{"host": ["B"], "url_pattern": "/list", "is_collection": true,
           "mapping": {"collection": "items"}}]},
        {"endpoint": "/text", "output_encoding": "string",
         "backend": [{"host": ["B"], "url_pattern": "/text", "encoding": "string"}]},
        {"endpoint": "/seq/{id}", "extra_config": {"proxy": {"sequential": true}}, "backend": [
          {"host": ["B"], "url_pattern": "/data/{id}", "allow": ["n"]},
          {"host": ["B"], "url_pattern": "/data/next/{resp0_n}", "allow": ["path"]}
        ]},
        {"endpoint": "/forward/{p}", "method": "POST", "input_headers": ["X-Keep"], "input_query_strings": ["q"],
         "backend": [{"host": ["B"], "url_pattern": "/data/{p}", "allow": ["headers", "query", "body", "method"]}]},
        {"endpoint": "/redirected", "backend": [{"host": ["B"], "url_pattern": "/moved", "allow": ["path", "headers"]}]},
        {"endpoint": "/static", "extra_config": {"proxy": {"static": {"strategy": "errored", "data": {"fallback": true}}}},
         "backend": [{"host": ["B"], "url_pattern": "/status/500"}]},
        {"endpoint": "/wild/*", "backend": [{"host": ["B"], "url_pattern": "/data/wild", "allow": ["path"]}]}
      ]
    }"#
    .replace("\"B\"", &format!("\"{b}\""))
}

#[test]
fn gateway_behaves_like_krakend() {
    let backend = start_backend();
    let gw = Gateway::start(&config(backend));

    // Merge of two backends with target/deny/group and allow/mapping.
    let r = gw.request("GET", "/merge/5", &[], "");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-krakend"), Some("Version 2.13.8"));
    assert_eq!(r.header("x-krakend-completed"), Some("true"));
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(
        r.json(),
        json!({"profile": {"id": 7, "name": "Ada"}, "path": "/data/5", "number": 42})
    );

    // A slow backend is cut at the merge deadline: partial, incomplete, no Cache-Control.
    let started = std::time::Instant::now();
    let r = gw.request("GET", "/partial", &[], "");
    assert!(started.elapsed() < std::time::Duration::from_millis(1200));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-krakend-completed"), Some("false"));
    assert_eq!(r.header("cache-control"), None);
    assert_eq!(r.json(), json!({"fast": {"path": "/data/fast"}}));

    // A failing single backend: 500 with KrakenD's message (return_error_msg).
    let r = gw.request("GET", "/fails", &[], "");
    assert_eq!(r.status, 500);
    assert_eq!(
        r.body,
        format!("invalid status code 418 [GET /status/418]: http://{backend}/status/418")
    );

    // return_error_code: the backend status and body go through.
    let r = gw.request("GET", "/code", &[], "");
    assert_eq!(r.status, 418);
    assert_eq!(r.body, "teapot says no");
    assert_eq!(r.header("content-type"), Some("text/plain"));

    // no-op: status, headers (all Set-Cookie values) and body untouched.
    let r = gw.request("POST", "/noop", &[], "");
    assert_eq!(r.status, 202);
    assert_eq!(r.header_all("set-cookie"), vec!["a=1", "b=2"]);
    assert_eq!(r.header("content-type"), Some("application/x-custom"));
    assert_eq!(r.body, "raw-bytes");
    assert_eq!(r.header("x-krakend-completed"), Some("false"));

    // Collections are wrapped and can be renamed.
    let r = gw.request("GET", "/list", &[], "");
    assert_eq!(
        r.json(),
        json!({"items": [{"id": 1, "tag": "x"}, {"id": 2, "tag": "y"}]})
    );

    // string encodings.
    let r = gw.request("GET", "/text", &[], "");
    assert_eq!(r.body, "plain words");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));

    // Sequential: the first response's value fills the second URL.
    let r = gw.request("GET", "/seq/1", &[], "");
    assert_eq!(r.json(), json!({"n": 42, "path": "/data/next/42"}));

    // Header and query filtering, X-Forwarded-*, User-Agent, chunked body forwarding.
    let r = gw.request(
        "POST",
        "/forward/x?q=1&drop=2",
        &[
            ("X-Keep", "yes"),
            ("X-Drop", "no"),
            ("X-Forwarded-For", "10.1.2.3"),
        ],
        "{\"k\":1}",
    );
    let v = r.json();
    assert_eq!(v["query"], json!("q=1"));
    assert_eq!(v["method"], json!("POST"));
    assert_eq!(v["body"], json!("{\"k\":1}"));
    let h = &v["headers"];
    assert_eq!(h["x-keep"], json!("yes"));
    assert!(h.get("x-drop").is_none());
    assert_eq!(h["x-forwarded-for"], json!("10.1.2.3"));
    assert_eq!(
        h["x-forwarded-host"],
        json!(format!("localhost:{}", gw.port))
    );
    assert_eq!(h["user-agent"], json!("KrakenD Version 2.13.8"));
    assert_eq!(h["accept-encoding"], json!("gzip"));
    assert_eq!(h["transfer-encoding"], json!("chunked"));

    // Backend redirects are followed, with a Referer.
    let r = gw.request("GET", "/redirected", &[], "");
    let v = r.json();
    assert_eq!(v["path"], json!("/data/after-redirect"));
    assert_eq!(
        v["headers"]["referer"],
        json!(format!("http://{backend}/moved"))
    );

    // Static data with the "errored" strategy fills in for a failed backend.
    let r = gw.request("GET", "/static", &[], "");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"fallback": true}));
    assert_eq!(r.header("x-krakend-completed"), Some("false"));

    // Double-encoded parameters are refused (gin's paramChecker).
    let r = gw.request("GET", "/merge/..%252Fadmin", &[], "");
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "error: encoded url params")
    );

    // Wildcard endpoints.
    assert_eq!(gw.request("GET", "/wild/a/b", &[], "").status, 200);

    // Router: 404, 405 with Allow, trailing slash and fixed-path redirects.
    let r = gw.request("GET", "/nowhere", &[], "");
    assert_eq!((r.status, r.body.as_str()), (404, "404 page not found"));
    let r = gw.request("GET", "/noop", &[], "");
    assert_eq!((r.status, r.body.as_str()), (405, "405 method not allowed"));
    assert_eq!(r.header("allow"), Some("POST"));
    let r = gw.request("GET", "/TEXT?x=1", &[], "");
    assert_eq!((r.status, r.header("location")), (301, Some("/text?x=1")));
    let r = gw.request("GET", "/text/", &[], "");
    assert_eq!((r.status, r.header("location")), (301, Some("/text")));
    let r = gw.request("POST", "/noop/", &[], "");
    assert_eq!(r.status, 307);

    // Built-ins.
    let v = gw.request("GET", "/__health", &[], "").json();
    assert_eq!(v["status"], json!("ok"));
    assert_eq!(v["agents"], json!({}));
    let r = gw.request("GET", "/__debug/anything", &[], "");
    assert_eq!(r.json(), json!({"message": "pong"}));
}

#[test]
fn echo_endpoint_and_disabled_health() {
    let gw_config = r#"{"version": 3, "port": PORT, "echo_endpoint": true,
        "extra_config": {"router": {"health_path": "/ready"}}, "endpoints": []}"#;
    let gw = Gateway::start(&gw_config.replace("/ready", "/__health"));
    let r = gw.request("PUT", "/__echo/x?b=2&a=1", &[("X-Test", "1")], "hi");
    let v = r.json();
    assert_eq!(v["req_uri"], json!("/__echo/x?b=2&a=1"));
    assert_eq!(v["req_method"], json!("PUT"));
    assert_eq!(v["req_body"], json!("hi"));
    assert_eq!(v["req_querystring"], json!({"a": ["1"], "b": ["2"]}));
    assert_eq!(v["req_headers"]["X-Test"], json!(["1"]));
    assert_eq!(v["req_uri_details"]["query"], json!("a=1&b=2"));
}

/// `use_h2c: true` (root, or `router.use_h2c`, which Lura copies into gin's `UseH2C`) adds
/// cleartext HTTP/2 (prior knowledge) beside HTTP/1.1; without it the port speaks HTTP/1.1
/// only, as KrakenD's.
#[test]
fn h2c_only_with_use_h2c() {
    let backend = start_backend();
    let base = config(backend);
    let plain = Gateway::start(&base);
    let h2c =
        Gateway::start(&base.replacen("\"version\": 3,", "\"version\": 3, \"use_h2c\": true,", 1));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(h2_get(h2c.port, "/merge/5")), Ok(200));
    let refused = rt.block_on(h2_get(plain.port, "/merge/5"));
    assert!(refused.is_err(), "HTTP/2 without use_h2c: {refused:?}");
    assert_eq!(h2c.request("GET", "/merge/5", &[], "").status, 200);
    assert_eq!(plain.request("GET", "/merge/5", &[], "").status, 200);
    let router_h2c =
        Gateway::start(&base.replacen("\"router\": {", "\"router\": {\"use_h2c\": true, ", 1));
    assert_eq!(rt.block_on(h2_get(router_h2c.port, "/merge/5")), Ok(200));
}

/// One HTTP/2 prior-knowledge GET; the status, or why it failed.
async fn h2_get(port: u16, path: &str) -> Result<u16, String> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let request = http::Request::get(format!("http://127.0.0.1:{port}{path}"))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        send.send_request(request),
    )
    .await
    .map_err(|_| "timed out".to_string())?
    .map_err(|e| e.to_string())?;
    Ok(response.status().as_u16())
}
