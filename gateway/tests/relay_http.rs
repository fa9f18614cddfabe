//! The relay (a `no-op` endpoint with one plain `no-op` backend, served without the proxy
//! tiers) against the general path it stands in for: two `krakend` processes run the same
//! configuration, one with the relay and one with `CEPHALO_RELAY=off`, each in front of its
//! own scripted backend. For every case the backend must receive the same bytes from both,
//! and the client the same status, headers and body.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What a scripted backend received, one entry per request, as text.
type Log = Arc<Mutex<Vec<String>>>;

/// A backend that records each request's bytes and answers by path with raw bytes.
fn scripted_backend(log: Log) -> SocketAddr {
    common::spawn_backend(move |mut stream, _| {
        let log = log.clone();
        async move {
            let mut pending = Vec::new();
            let mut buf = vec![0u8; 8192];
            loop {
                let Some(request) = read_request(&mut stream, &mut pending, &mut buf).await else {
                    return;
                };
                let text = String::from_utf8_lossy(&request).into_owned();
                log.lock().unwrap().push(text.clone());
                let path = text.split(' ').nth(1).unwrap_or("/").to_string();
                let gzip = text
                    .to_ascii_lowercase()
                    .contains("\r\naccept-encoding: gzip");
                if path.starts_with("/slow") {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                }
                let (answer, close) = answer(&path, gzip);
                if stream.write_all(&answer).await.is_err() || close {
                    return;
                }
            }
        }
    })
}

/// Reads one request (head and body, by `Content-Length` or chunked) off the stream.
async fn read_request(
    stream: &mut tokio::net::TcpStream,
    pending: &mut Vec<u8>,
    buf: &mut [u8],
) -> Option<Vec<u8>> {
    let head_end = loop {
        if let Some(at) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(buf).await.ok()?;
        if n == 0 {
            return None;
        }
        pending.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&pending[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .split("\r\n")
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let chunked = head.contains("\r\ntransfer-encoding: chunked");
    loop {
        let body = &pending[head_end..];
        let complete = if chunked {
            body.windows(5).any(|w| w == b"0\r\n\r\n")
        } else {
            body.len() >= length
        };
        if complete {
            let end = if chunked {
                head_end + body.windows(5).position(|w| w == b"0\r\n\r\n").unwrap() + 5
            } else {
                head_end + length
            };
            return Some(pending.drain(..end).collect());
        }
        let n = stream.read(buf).await.ok()?;
        if n == 0 {
            return None;
        }
        pending.extend_from_slice(&buf[..n]);
    }
}

/// The scripted answer to `path` (raw bytes), and whether the connection then closes.
fn answer(path: &str, gzip: bool) -> (Vec<u8>, bool) {
    let path = path.split('?').next().unwrap_or(path);
    let date = "Date: Tue, 01 Dec 2026 10:00:00 GMT\r\n";
    let text = |s: &str| s.as_bytes().to_vec();
    let with_body = |head: &str, body: &[u8]| {
        let mut out = format!("{head}Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        out.extend_from_slice(body);
        out
    };
    match path {
        "/mixed" => (
            with_body(
                &format!(
                    "HTTP/1.1 201 Created\r\nset-cookie: a=1\r\nX-Custom: one\r\nSET-COOKIE: b=2\r\n\
                     content-TYPE: application/x-thing\r\nKeep-Alive: timeout=5\r\nUpgrade: h2c\r\n\
                     Proxy-Connection: keep-alive\r\nTrailer: X-T\r\nTE: trailers\r\n\
                     X-Krakend-Completed: backend-says\r\nx-custom: two\r\n{date}"
                ),
                b"{\"mixed\":true}",
            ),
            false,
        ),
        "/chunked" => (
            text(&format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n{date}Transfer-Encoding: chunked\r\n\r\n\
                 5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n"
            )),
            false,
        ),
        "/nocontent" => (text("HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n"), false),
        "/notmodified" => (
            text(&format!("HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n{date}\r\n")),
            false,
        ),
        "/failing" => (
            with_body(
                &format!("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n{date}"),
                b"down for now",
            ),
            false,
        ),
        "/redirect" => (
            with_body(
                &format!("HTTP/1.1 302 Found\r\nLocation: /plain?from=redirect\r\n{date}"),
                b"",
            ),
            false,
        ),
        "/gzip" if gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(b"{\"compressed\":true}").unwrap();
            let zipped = encoder.finish().unwrap();
            (
                with_body(
                    &format!("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Type: application/json\r\n{date}"),
                    &zipped,
                ),
                false,
            )
        }
        "/brotli" => (
            with_body(
                &format!("HTTP/1.1 200 OK\r\nContent-Encoding: br\r\n{date}"),
                b"not really brotli",
            ),
            false,
        ),
        "/http10" => (
            text("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"),
            true,
        ),
        "/nodate" => (with_body("HTTP/1.1 200 OK\r\nX-Krakend: backend's own\r\n", b"{}"), false),
        "/big" => {
            let body: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
            (with_body(&format!("HTTP/1.1 200 OK\r\n{date}"), &body), false)
        }
        _ => (
            with_body(
                &format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{date}"),
                b"{\"plain\":true}",
            ),
            false,
        ),
    }
}

/// The configuration of both gateways; with `h2c`, plain connections are served by hyper
/// (HTTP/1.1 and h2c), which takes a relayed answer as an `http` response.
fn config(backend: SocketAddr, h2c: bool) -> String {
    let b = format!("http://{backend}");
    r#"{
      "version": 3, "port": PORT, "timeout": "1s", "use_h2c": H2C,
      "extra_config": {"router": {"return_error_msg": true},
                       "security/cors": {"allow_origins": ["https://app.example"], "expose_headers": ["X-Custom"]}},
      "endpoints": [
        {"endpoint": "/pass/{path}", "output_encoding": "no-op",
         "input_query_strings": ["a", "b", "c d"],
         "backend": [{"host": ["B"], "url_pattern": "/{path}", "encoding": "no-op"}]},
        {"endpoint": "/all/{path}", "output_encoding": "no-op", "input_headers": ["*"],
         "input_query_strings": ["*"],
         "backend": [{"host": ["B"], "url_pattern": "/{path}?fixed=1", "encoding": "no-op"}]},
        {"endpoint": "/listed/{path}", "method": "POST", "output_encoding": "no-op",
         "input_headers": ["User-Agent", "X-Forwarded-For", "Content-Type", "X-Keep", "X-Drop"],
         "backend": [{"host": ["B"], "url_pattern": "/{path}", "encoding": "no-op", "method": "PUT",
                      "input_headers": ["X-Keep", "Content-Type"]}]},
        {"endpoint": "/ranged/{path}", "output_encoding": "no-op", "input_headers": ["Range", "Accept-Encoding"],
         "backend": [{"host": ["B"], "url_pattern": "/{path}", "encoding": "no-op"}]},
        {"endpoint": "/refused", "output_encoding": "no-op",
         "backend": [{"host": ["http://127.0.0.1:9"], "url_pattern": "/", "encoding": "no-op"}]}
      ]
    }"#
    .replace("\"B\"", &format!("\"{b}\""))
    .replace("H2C", &h2c.to_string())
}

/// A running gateway, the relay on or off.
struct Gateway {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Gateway {
    fn start(config: &str, relay: bool) -> Self {
        let port = common::free_port();
        let dir = tempfile::tempdir().unwrap();
        let path: PathBuf = dir.path().join("krakend.json");
        std::fs::write(&path, config.replace("PORT", &port.to_string())).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_krakend"));
        command
            .args(["run", "-c"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if !relay {
            command.env("CEPHALO_RELAY", "off");
        }
        let gateway = Self {
            child: command.spawn().unwrap(),
            port,
            _dir: dir,
        };
        common::wait_until_listening(port);
        gateway
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One raw request (its text with `HOST` for the gateway's address) and the raw answer.
fn exchange(port: u16, request: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let request = request.replace("HOST", &format!("localhost:{port}"));
    s.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    raw
}

/// A response as the comparison sees it: status line, each header name (as written) with
/// its values in order (the `Date` value aside), and the body (the backend's port in an
/// error message made `BACKEND`).
fn response_view(
    raw: &[u8],
    backend: SocketAddr,
) -> (String, BTreeMap<String, Vec<String>>, Vec<u8>) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole head")
        + 4;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.trim_end().split("\r\n");
    let status = lines.next().unwrap().to_string();
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in lines {
        let (name, value) = line.split_once(": ").unwrap();
        let value = if name == "Date" { "<date>" } else { value };
        headers
            .entry(name.to_string())
            .or_default()
            .push(value.to_string());
    }
    let body = match std::str::from_utf8(&raw[end..]) {
        Ok(text) => text
            .replace(&backend.port().to_string(), "BACKEND")
            .into_bytes(),
        Err(_) => raw[end..].to_vec(),
    };
    if let Some(length) = headers.get_mut("Content-Length") {
        // An error message names the backend's port, which differs in length.
        length[0] = body.len().to_string();
    }
    (status, headers, body)
}

/// The order header names first appear in a response head.
fn name_order(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap();
    head.split("\r\n")
        .skip(1)
        .filter_map(|l| l.split_once(": ").map(|(n, _)| n.to_string()))
        .collect()
}

/// What a backend received for the last request, with the gateway's port made `PORT` and
/// the backend's `BACKEND`. The backend records a request before it answers, so the entries
/// are there once the client has its answer.
fn drain(log: &Log, port: u16, backend: SocketAddr) -> Vec<String> {
    let entries: Vec<String> = log.lock().unwrap().drain(..).collect();
    entries
        .into_iter()
        .map(|e| {
            e.replace(&backend.port().to_string(), "BACKEND")
                .replace(&port.to_string(), "PORT")
        })
        .collect()
}

#[test]
fn the_relay_sends_and_answers_what_the_general_path_does() {
    let (relay, general) = compare_on_every_case(false);
    // The relay was in use: it keeps the backend's header order, where the general path's
    // map groups a name's values together.
    let mixed = "GET /pass/mixed HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n";
    assert_eq!(
        name_order(&exchange(relay.port, mixed))[..4],
        ["Set-Cookie", "X-Custom", "Set-Cookie", "Content-Type"]
    );
    assert_eq!(
        name_order(&exchange(general.port, mixed))[..4],
        ["Set-Cookie", "Set-Cookie", "X-Custom", "X-Custom"]
    );
}

/// Served by hyper (`use_h2c`), a relayed answer becomes an `http` response: the same again.
#[test]
fn relayed_answers_taken_as_http_responses_are_the_same_too() {
    compare_on_every_case(true);
}

/// Sends every case to both gateways and compares what their backends received and what
/// they answered; returns the two gateways, relay first.
fn compare_on_every_case(h2c: bool) -> (Gateway, Gateway) {
    let (relay_log, general_log): (Log, Log) = Default::default();
    let relay_backend = scripted_backend(relay_log.clone());
    let general_backend = scripted_backend(general_log.clone());
    let relay = Gateway::start(&config(relay_backend, h2c), true);
    let general = Gateway::start(&config(general_backend, h2c), false);

    let get = |path: &str, extra: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: HOST\r\n{extra}Connection: close\r\n\r\n")
    };
    let cases = [
        get("/pass/plain", ""),
        get(
            "/pass/plain?b=2&a=1&z=9&a=x%20y&c+d=%2F",
            "Content-Type: text/x\r\nUser-Agent: curl/8\r\nX-Forwarded-For: 10.9.9.9\r\n",
        ),
        get("/pass/mixed", ""),
        get("/pass/chunked", ""),
        get("/pass/nocontent", ""),
        get("/pass/notmodified", ""),
        get("/pass/failing", ""),
        get("/pass/redirect", "Cookie: c=1\r\n"),
        get("/pass/gzip", ""),
        get("/pass/brotli", ""),
        get("/pass/http10", ""),
        get("/pass/nodate", ""),
        get("/pass/big", ""),
        get("/pass/slow", ""),
        get("/pass/a%20b", ""),
        get(
            "/all/plain?q=1&q=2",
            "Accept: */*\r\nUser-Agent: curl/8\r\nX-Forwarded-Host: spoofed\r\n\
             X-Forwarded-Via: spoofed\r\nKeep-Alive: 5\r\nX-Multi: 1\r\nX-Other: o\r\nX-Multi: 2\r\n",
        ),
        get("/all/gzip", "Accept-Encoding: identity\r\n"),
        get("/all/redirect", "Authorization: Basic eDp5\r\n"),
        get("/ranged/gzip", "Range: bytes=0-4\r\n"),
        get("/ranged/gzip", "Accept-Encoding: gzip\r\n"),
        "POST /listed/plain HTTP/1.1\r\nHost: HOST\r\nContent-Type: application/json\r\n\
         X-Keep: k\r\nX-Drop: d\r\nUser-Agent: own/1\r\nX-Forwarded-For: 1.2.3.4\r\n\
         Content-Length: 7\r\nConnection: close\r\n\r\n{\"a\":1}"
            .to_string(),
        "POST /listed/plain HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
            .to_string(),
        "POST /listed/redirect HTTP/1.1\r\nHost: HOST\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            .to_string(),
        get("/refused", ""),
        get("/pass/mixed", "Origin: https://app.example\r\n"),
        "GET /pass/plain HTTP/1.0\r\nHost: HOST\r\n\r\n".to_string(),
        "GET /pass/http10 HTTP/1.0\r\n\r\n".to_string(),
        "POST /listed/plain HTTP/1.1\r\nHost: HOST\r\nContent-Length: 3\r\n\
         Expect: 100-continue\r\nConnection: close\r\n\r\nabc"
            .to_string(),
    ];
    for request in &cases {
        let from_relay = exchange(relay.port, request);
        let from_general = exchange(general.port, request);
        let sent_by_relay = drain(&relay_log, relay.port, relay_backend);
        let sent_by_general = drain(&general_log, general.port, general_backend);
        assert_eq!(
            sent_by_relay, sent_by_general,
            "backend requests differ for {request:?}"
        );
        assert_eq!(
            response_view(&from_relay, relay_backend),
            response_view(&from_general, general_backend),
            "responses differ for {request:?}:\n{}\n---\n{}",
            String::from_utf8_lossy(&from_relay),
            String::from_utf8_lossy(&from_general)
        );
    }
    (relay, general)
}
