//! Test harness: a small hyper backend with our own data, a free-port allocator, and a
//! running `krakend` binary with its config in a temporary directory.
#![allow(dead_code)]

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;

/// What a finished `krakend` command printed: standard output, then standard error.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Waits (up to 10 s) until something accepts HTTP on 127.0.0.1:`port`'s `/__health`.
pub fn wait_until_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while raw_request(port, "GET", "/__health", &[], "").is_err() {
        assert!(Instant::now() < deadline, "gateway did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn backend_answer(
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let mut headers = serde_json::Map::new();
    for (k, v) in req.headers() {
        headers.insert(
            k.as_str().to_string(),
            serde_json::Value::String(v.to_str().unwrap_or("").to_string()),
        );
    }
    let method = req.method().to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let json = |status: u16, v: serde_json::Value| {
        hyper::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(v.to_string())))
            .unwrap()
    };
    let resp = if let Some(code) = path.strip_prefix("/status/") {
        hyper::Response::builder()
            .status(code.parse::<u16>().unwrap_or(500))
            .header("content-type", "text/plain")
            .body(Full::new(Bytes::from_static(b"teapot says no")))
            .unwrap()
    } else if path == "/slow" {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        json(200, serde_json::json!({"slow": true}))
    } else if path == "/list" {
        json(
            200,
            serde_json::json!([{"id": 1, "tag": "x"}, {"id": 2, "tag": "y"}]),
        )
    } else if path == "/text" {
        hyper::Response::builder()
            .header("content-type", "text/plain")
            .body(Full::new(Bytes::from_static(b"plain words")))
            .unwrap()
    } else if path == "/cookies" {
        hyper::Response::builder()
            .status(202)
            .header("content-type", "application/x-custom")
            .header("set-cookie", "a=1")
            .header("set-cookie", "b=2")
            .body(Full::new(Bytes::from_static(b"raw-bytes")))
            .unwrap()
    } else if path == "/moved" {
        hyper::Response::builder()
            .status(302)
            .header("location", "/data/after-redirect")
            .body(Full::new(Bytes::new()))
            .unwrap()
    } else if path == "/user" {
        json(
            200,
            serde_json::json!({"user": {"id": 7, "name": "Ada", "secret": "s"}, "meta": {"v": 1}}),
        )
    } else {
        json(
            200,
            serde_json::json!({
                "path": path, "query": query, "method": method, "headers": headers,
                "body": String::from_utf8_lossy(&body), "n": 42
            }),
        )
    };
    Ok(resp)
}

/// Starts the test backend on a runtime thread; returns its address.
pub fn start_backend() -> SocketAddr {
    spawn_backend(|stream, _conn| async move {
        let _ = Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(stream), service_fn(backend_answer))
            .await;
    })
}

/// Runs an accept loop on 127.0.0.1 in a runtime thread; `serve` gets each connection with
/// its number (from 1). Returns the address.
pub fn spawn_backend<F, Fut>(serve: F) -> SocketAddr
where
    F: Fn(tokio::net::TcpStream, usize) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let mut accepted = 0;
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                accepted += 1;
                tokio::spawn(serve(stream, accepted));
            }
        });
    });
    addr
}

/// A running gateway process, killed on drop.
pub struct Gateway {
    pub child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Gateway {
    /// Writes `config` (with `PORT` replaced) and runs `krakend run -c` on it until healthy.
    pub fn start(config: &str) -> Self {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let path: PathBuf = dir.path().join("krakend.json");
        std::fs::write(&path, config.replace("PORT", &port.to_string())).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_krakend"))
            .args(["run", "-d", "-c"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let gw = Self { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(r) = gw.try_request("GET", "/__health", &[], "") {
                if r.status == 200 {
                    return gw;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("gateway did not become healthy");
    }

    /// Sends one HTTP/1.1 request.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        self.try_request(method, path, headers, body)
            .expect("request")
    }

    fn try_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> std::io::Result<Reply> {
        raw_request(self.port, method, path, headers, body)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A parsed response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// Every value of a header (case-insensitive name).
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_all(name).into_iter().next()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One request over a fresh connection (`Connection: close`), read to the end.
pub fn raw_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<Reply> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(": ")
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Ok(Reply {
        status,
        headers,
        body,
    })
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}
