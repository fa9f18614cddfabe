//! The runner proven on its own: a tiny fake gateway (a hyper server written
//! here) answers spec cases written here, so that the wire headers, redirect
//! following, gzip, assertions, skips, known gaps, filters and the process
//! guard are checked without the real gateway.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use conformance::ce::gateway::GatewayError;
use conformance::ce::mock::handlers::go_server_headers;
use conformance::ce::{
    gojson, run_suite, GatewayTarget, MockBackend, MockConfig, Outcome, Report, RunOptions,
    SessionError, SessionOptions, Suite,
};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;

/// Starts the fake gateway; `mock` is where `/proxy/...` forwards.
async fn fake_gateway(mock: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let service =
                    service_fn(move |r| async move { Ok::<_, Infallible>(route(r, mock).await) });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn reply(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    for (name, value) in headers {
        response.headers_mut().append(
            hyper::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    response
}

async fn route(request: Request<Incoming>, mock: SocketAddr) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_string();
    let host = request
        .headers()
        .get("host")
        .map(|h| h.to_str().unwrap().to_string())
        .unwrap_or_default();
    match path.as_str() {
        "/__health" => reply(
            200,
            &[("content-type", "application/json")],
            r#"{"agents":{},"now":"x","status":"ok"}"#,
        ),
        // What arrived on the wire: method, Host, headers (Go server view), body.
        "/wire" | "/wire/after" => {
            let method = request.method().to_string();
            let headers = go_server_headers(request.headers());
            let body = request.into_body().collect().await.unwrap().to_bytes();
            let doc = json!({"method": method, "host": host, "headers": headers,
                             "body": String::from_utf8_lossy(&body)});
            reply(
                200,
                &[("content-type", "application/json")],
                gojson::marshal(&doc),
            )
        }
        "/redirect/302" => reply(302, &[("location", "/wire/after?from=302")], ""),
        "/redirect/307" => reply(307, &[("location", "/wire/after?from=307")], ""),
        "/redirect/loop" => reply(302, &[("location", "/redirect/loop")], ""),
        "/gzip" => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(b"compressed hello").unwrap();
            reply(
                200,
                &[("content-encoding", "gzip"), ("content-type", "text/plain")],
                enc.finish().unwrap(),
            )
        }
        "/cookies" => reply(
            200,
            &[
                ("set-cookie", "a=1"),
                ("set-cookie", "b=2"),
                ("vary", "Origin"),
            ],
            "ok",
        ),
        p if p.starts_with("/proxy/") => {
            let target =
                request.uri().path_and_query().unwrap().as_str()["/proxy".len()..].to_string();
            proxy(&target, &host, mock).await
        }
        _ => reply(404, &[("content-type", "text/plain")], "404 page not found"),
    }
}

/// Forwards a GET to the mock's echo with the headers the real gateway sends.
async fn proxy(rest: &str, client_host: &str, mock: SocketAddr) -> Response<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(mock).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let request = Request::get(format!("/param_forwarding{rest}"))
        .header("host", mock.to_string())
        .header("user-agent", "KrakenD Version 2.13.8")
        .header("x-forwarded-for", "127.0.0.1")
        .header("x-forwarded-host", client_host)
        .header("accept-encoding", "gzip")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let mut out = reply(status, &[], body);
    for name in ["content-type", "set-cookie"] {
        for value in headers.get_all(name) {
            out.headers_mut().append(name, value.clone());
        }
    }
    out
}

/// Writes spec files into a fresh suite directory and loads it.
fn suite(tag: &str, cases: &[(&str, serde_json::Value)]) -> (Suite, PathBuf) {
    let root = std::env::temp_dir().join(format!("cephalo-ce-runner-{tag}-{}", std::process::id()));
    let specs = root.join("fixtures").join("specs");
    std::fs::create_dir_all(&specs).unwrap();
    for (name, case) in cases {
        std::fs::write(
            specs.join(format!("{name}.json")),
            serde_json::to_vec_pretty(case).unwrap(),
        )
        .unwrap();
    }
    (Suite::load(&specs).unwrap(), root)
}

async fn run(suite: &Suite, base: SocketAddr, options: &RunOptions) -> Report {
    let session = SessionOptions {
        mock: None,
        lock: None,
        ready_timeout: Duration::from_secs(5),
        ..SessionOptions::existing(format!("http://{base}"))
    };
    let mut lines = Vec::new();
    let report = run_suite(
        suite,
        &session,
        options,
        |r| lines.push(r.to_string()),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(lines.len(), report.results.len());
    report
}

fn outcome<'a>(report: &'a Report, name: &str) -> &'a Outcome {
    &report
        .results
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no result for {name}"))
        .outcome
}

fn assert_pass(report: &Report, name: &str) {
    assert_eq!(outcome(report, name), &Outcome::Pass, "{name}");
}

#[tokio::test]
async fn runner_sends_go_wire_requests_and_checks_responses() {
    let mock = MockBackend::start(MockConfig::new("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let gateway = fake_gateway(mock.addr()).await;
    let ua = "Go-http-client/1.1";
    let (suite, root) = suite(
        "wire",
        &[
            // Exact wire view of a GET: Host from the URL, Go's two default headers, canonical names.
            (
                "get_headers",
                json!({"in": {"url": "http://localhost:8080/wire", "header": {"x-y-Z": "1"}},
                "out": {"status_code": 200, "body": gojson::marshal(&json!({"body": "", "host": "localhost:8080", "method": "GET",
                    "headers": {"Accept-Encoding": ["gzip"], "User-Agent": [ua], "X-Y-Z": ["1"]}}))}}),
            ),
            // A JSON body is re-marshalled compact and sorted; POST carries Content-Length; Host override.
            (
                "post_body",
                json!({"in": {"method": "POST", "url": "http://localhost:8080/wire",
                    "header": {"Host": "example.test", "User-Agent": "custom"}, "body": {"z": 1, "a": "<b>"}},
                "out": {"status_code": 200, "body": {"body": "{\"a\":\"\\u003cb\\u003e\",\"z\":1}", "host": "example.test",
                    "method": "POST", "headers": {"Accept-Encoding": ["gzip"], "Content-Length": ["27"], "User-Agent": ["custom"]}}}}),
            ),
            // Empty POST still sends Content-Length: 0, as Go does.
            (
                "post_empty",
                json!({"in": {"method": "POST", "url": "http://localhost:8080/wire"},
                "out": {"status_code": 200, "body": {"body": "", "host": "localhost:8080", "method": "POST",
                    "headers": {"Accept-Encoding": ["gzip"], "Content-Length": ["0"], "User-Agent": [ua]}}}}),
            ),
            // 302 after POST: GET without body, Referer = previous URL.
            (
                "redirect_302",
                json!({"in": {"method": "POST", "url": "http://localhost:8080/redirect/302", "body": "x"},
                "out": {"status_code": 200, "body": {"body": "", "host": "localhost:8080", "method": "GET",
                    "headers": {"Accept-Encoding": ["gzip"], "Referer": ["http://localhost:8080/redirect/302"], "User-Agent": [ua]}}}}),
            ),
            // 307 keeps method and body.
            (
                "redirect_307",
                json!({"in": {"method": "PUT", "url": "http://localhost:8080/redirect/307", "body": "x"},
                "out": {"status_code": 200, "body": {"body": "x", "host": "localhost:8080", "method": "PUT",
                    "headers": {"Accept-Encoding": ["gzip"], "Content-Length": ["1"], "Referer": ["http://localhost:8080/redirect/307"], "User-Agent": [ua]}}}}),
            ),
            // Transparent gunzip removes Content-Encoding.
            (
                "gzip",
                json!({"in": {"url": "http://localhost:8080/gzip"},
                "out": {"status_code": 200, "body": "compressed hello", "header": {"Content-Encoding": [""], "content-type": ["text/plain"]}}}),
            ),
            // Spec-requested gzip: the transport leaves it, the runner still decompresses the body.
            (
                "gzip_explicit",
                json!({"in": {"url": "http://localhost:8080/gzip", "header": {"Accept-Encoding": "gzip"}},
                "out": {"status_code": 200, "body": "compressed hello", "header": {"Content-Encoding": ["gzip"]}}}),
            ),
            (
                "cookies",
                json!({"in": {"url": "http://localhost:8080/cookies"},
                "out": {"status_code": 200, "body": "ok", "header": {"set-cookie": ["a=1", "b=2"], "Vary": ["Origin"], "X-Absent": [""]}}}),
            ),
            // Through the fake gateway to the mock: the echo's exact bytes and both cookies.
            (
                "proxy_echo",
                json!({"in": {"url": "http://localhost:8080/proxy/a%20b?x=1&x=2&y"},
                "out": {"status_code": 200,
                    "body": "{\"foo\":42,\"headers\":{\"Accept-Encoding\":[\"gzip\"],\"User-Agent\":[\"KrakenD Version 2.13.8\"],\"X-Forwarded-Host\":[\"localhost:8080\"]},\"path\":\"/param_forwarding/a b\",\"query\":{\"x\":[\"1\",\"2\"],\"y\":[\"\"]}}\n",
                    "header": {"Content-Type": ["application/json"], "Set-Cookie": ["test1=test1", "test2=test2"]}}}),
            ),
            (
                "schema",
                json!({"in": {"url": "http://localhost:8080/__health"},
                "out": {"status_code": 200, "schema": {"$schema": "http://json-schema.org/draft-07/schema#",
                    "required": ["agents", "now", "status"], "properties": {"status": {"enum": ["ok"]}}}}}),
            ),
        ],
    );
    let report = run(&suite, gateway, &RunOptions::default()).await;
    for result in &report.results {
        assert_eq!(result.outcome, Outcome::Pass, "{result}");
    }
    assert_eq!(report.summary_line(), "10 passed, 0 failed, 0 skipped");
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn failures_skips_known_gaps_and_filters() {
    let mock = MockBackend::start(MockConfig::new("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let gateway = fake_gateway(mock.addr()).await;
    let (suite, root) = suite(
        "outcomes",
        &[
            (
                "wrong_status",
                json!({"in": {"url": "http://localhost:8080/cookies"}, "out": {"status_code": 201}}),
            ),
            (
                "wrong_header",
                json!({"in": {"url": "http://localhost:8080/cookies"},
                "out": {"status_code": 200, "header": {"Set-Cookie": ["a=1"]}}}),
            ),
            (
                "wrong_body",
                json!({"in": {"url": "http://localhost:8080/cookies"}, "out": {"status_code": 200, "body": "ko"}}),
            ),
            (
                "too_many_redirects",
                json!({"in": {"url": "http://localhost:8080/redirect/loop"}, "out": {"status_code": 302}}),
            ),
            (
                "rss",
                json!({"in": {"url": "http://localhost:8080/never"}, "out": {"status_code": 200}}),
            ),
            (
                "cel-9",
                json!({"in": {"url": "http://localhost:8080/cookies"}, "out": {"status_code": 204}}),
            ),
            (
                "jwt_10",
                json!({"in": {"url": "http://localhost:8080/cookies"}, "out": {"status_code": 200}}),
            ),
        ],
    );

    let report = run(&suite, gateway, &RunOptions::default()).await;
    let fail_text = |name: &str| match outcome(&report, name) {
        Outcome::Fail(reason) => reason.clone(),
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(fail_text("wrong_status"), "status: expected 201, got 200");
    assert!(fail_text("wrong_header")
        .contains("header Set-Cookie: expected [\"a=1\"], got [\"a=1\", \"b=2\"]"));
    assert!(fail_text("wrong_body").contains("differs at byte 0"));
    assert!(fail_text("too_many_redirects").contains("stopped after 10 redirects"));
    assert!(fail_text("cel-9").contains("status"));
    assert!(matches!(outcome(&report, "rss"), Outcome::Skip(r) if r.contains("internet")));
    assert_pass(&report, "jwt_10");
    assert_eq!(report.summary_line(), "1 passed, 5 failed, 1 skipped");
    assert!(!report.ok());

    // Expected failures turn cel-9 into an expected failure; a passing one stays a pass.
    let expecting = RunOptions {
        expected_failures: conformance::ce::tables::parse_expected_failures(
            "validation/cel=cel-*,jwt_*",
        )
        .unwrap(),
        ..Default::default()
    };
    let report = run(&suite, gateway, &expecting).await;
    assert!(
        matches!(outcome(&report, "cel-9"), Outcome::ExpectedFail { namespace, .. } if namespace == "validation/cel")
    );
    assert_pass(&report, "jwt_10");
    assert_eq!(
        report.unexpected_failures(),
        [
            "too_many_redirects",
            "wrong_body",
            "wrong_header",
            "wrong_status"
        ]
    );

    // Explicit expected failures per namespace plus a filter.
    let options = RunOptions {
        filter: vec!["wrong_*".into()],
        expected_failures: conformance::ce::tables::parse_expected_failures("container=wrong_s*")
            .unwrap(),
        ..RunOptions::default()
    };
    let report = run(&suite, gateway, &options).await;
    assert_eq!(report.results.len(), 3);
    assert!(
        matches!(outcome(&report, "wrong_status"), Outcome::ExpectedFail { namespace, .. } if namespace == "container")
    );
    assert_eq!(report.unexpected_failures(), ["wrong_body", "wrong_header"]);
    std::fs::remove_dir_all(root).unwrap();
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn spawn_session(bin: PathBuf, root: &Path) -> SessionOptions {
    SessionOptions {
        gateway: GatewayTarget::Spawn {
            bin,
            env: vec![("CEPHALO_TEST_MARK".into(), "1".into())],
        },
        mock: None,
        lock: None,
        gateway_ports: Vec::new(),
        ready_url: Some("http://127.0.0.1:9/__health".into()),
        ready_timeout: Duration::from_millis(800),
        log_dir: root.to_path_buf(),
    }
}

#[tokio::test]
async fn spawned_gateway_args_env_and_early_exit_are_reported() {
    let (suite, root) = suite("spawn-exit", &[]);
    // Prints how it was started, then exits: the runner must say so, with the output.
    let bin = script(
        &root,
        "gw-exit",
        "echo \"args=$* cwd=$(pwd) usage=$USAGE_DISABLE mark=$CEPHALO_TEST_MARK\"; exit 3",
    );
    let err = run_suite(
        &suite,
        &spawn_session(bin, &root),
        &RunOptions::default(),
        |_| {},
        |_| {},
    )
    .await
    .unwrap_err();
    let SessionError::Gateway(GatewayError::Exited { status, log }) = err else {
        panic!("{err}")
    };
    assert!(status.contains('3'), "{status}");
    assert_eq!(
        log,
        format!(
            "args=run -d -c fixtures/krakend.json cwd={} usage=1 mark=1",
            root.display()
        )
    );
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn never_ready_gateway_is_killed_after_the_bound() {
    let (suite, root) = suite("spawn-hang", &[]);
    let pid_file = root.join("pid");
    let bin = script(
        &root,
        "gw-hang",
        &format!("echo $$ > {}; exec sleep 60", pid_file.display()),
    );
    let err = run_suite(
        &suite,
        &spawn_session(bin, &root),
        &RunOptions::default(),
        |_| {},
        |_| {},
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, SessionError::Gateway(GatewayError::NotReady { .. })),
        "{err}"
    );
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let alive = Path::new("/proc").join(pid.trim()).join("status");
    let state = std::fs::read_to_string(&alive).unwrap_or_default();
    assert!(
        state.is_empty() || state.contains("zombie"),
        "gateway still running: {state}"
    );
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn mock_answers_over_real_sockets() {
    let data = std::env::temp_dir().join(format!("cephalo-ce-mockdata-{}", std::process::id()));
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("xml.body.xml"), "<own/>").unwrap();
    let config = MockConfig::new("127.0.0.1:0".parse().unwrap())
        .with_data_dir(&data)
        .with_delay(Duration::from_millis(150));
    let mock = MockBackend::start(config).await.unwrap();
    let base = format!("http://{}", mock.addr());
    let no_follow = conformance::ce::ClientOptions {
        follow_redirects: false,
        ..Default::default()
    };
    let get = |path: &str, headers: &[(&str, &str)], follow: bool| {
        let request = conformance::ce::spec::SpecRequest {
            url: format!("{base}{path}"),
            header: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            ..Default::default()
        };
        let options = if follow {
            Default::default()
        } else {
            no_follow.clone()
        };
        async move { conformance::ce::client::send(&request, &options).await }
    };
    let xff = [("X-Forwarded-For", "127.0.0.1")];

    let r = get("/param_forwarding?a=1&b=2", &[], false).await.unwrap();
    assert_eq!(r.status, 301);
    assert_eq!(r.headers["location"], "/param_forwarding/?a=1&b=2");
    assert_eq!(
        r.body,
        "<a href=\"/param_forwarding/?a=1&amp;b=2\">Moved Permanently</a>.\n\n"
    );

    let r = get("/nothing", &[], false).await.unwrap();
    assert_eq!((r.status, &r.body[..]), (404, &b"404 page not found\n"[..]));
    assert_eq!(r.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    assert_eq!(r.headers["content-length"], "19");
    assert!(r.headers.contains_key("date"));

    let r = get(
        "/param_forwarding/",
        &[("X-Forwarded-For", "127.0.0.1, 127.0.0.2")],
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        (r.status, &r.body[..]),
        (400, &b"invalid X-Forwarded-For\n"[..])
    );
    let r = get("/param_forwarding/", &[], false).await.unwrap();
    assert_eq!(r.status, 400);

    let r = get("/param_forwarding/x", &xff, false).await.unwrap();
    assert_eq!(r.status, 200);
    let cookies: Vec<_> = r.headers.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["test1=test1", "test2=test2"]);

    // Bodies over 2048 bytes are chunked, as Go's server does.
    let long = "h".repeat(3000);
    let r = get(
        "/param_forwarding/x",
        &[("X-Forwarded-For", "127.0.0.1"), ("X-Long", long.as_str())],
        false,
    )
    .await
    .unwrap();
    assert!(!r.headers.contains_key("content-length"));
    assert!(r.body.len() > 3000);

    let r = get("/xml", &xff, false).await.unwrap();
    assert_eq!((r.status, &r.body[..]), (200, &b"<own/>"[..]));
    assert_eq!(r.headers["content-type"], "application/xml; charset=utf-8");
    let r = get("/jwk/symmetric", &[], false).await.unwrap();
    assert_eq!(r.status, 500, "no JWK file in this data dir");

    let started = std::time::Instant::now();
    let r = get("/delayed/d", &xff, false).await.unwrap();
    assert_eq!(r.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));

    let r = get("/redirect/?status=307", &xff, false).await.unwrap();
    assert_eq!(r.status, 307);
    assert_eq!(r.headers["location"], "/param_forwarding/?status=307");
    let r = get("/redirect/?status=x7", &xff, false).await.unwrap();
    assert_eq!(
        (r.status, &r.body[..]),
        (400, &b"strconv.Atoi: parsing \"x7\": invalid syntax\n"[..])
    );
    assert!(
        get("/redirect/", &xff, false).await.is_err(),
        "missing status must drop the connection"
    );

    // Followed by the Go client: the echo shows the Referer of the pre-redirect URL.
    let r = get("/redirect/?status=301", &xff, true).await.unwrap();
    assert_eq!(r.status, 200);
    let text = String::from_utf8(r.body.to_vec()).unwrap();
    assert!(
        text.contains(&format!("\"Referer\":[\"{base}/redirect/?status=301\"]")),
        "{text}"
    );
    assert!(text.contains("\"path\":\"/param_forwarding/\""), "{text}");
    std::fs::remove_dir_all(data).unwrap();
}
