//! `bench-backend`: the fast HTTP/1.1 backend that `cargo xtask bench` puts behind every
//! contender (the gateway, nginx, HAProxy, Caddy) and also measures directly.
//!
//! It answers from static bytes, so its own cost is as small as hyper + tokio allow:
//!
//! | path | body |
//! | --- | --- |
//! | `/__health` | `{"status":"ok"}` |
//! | `/a` | a user record (the aggregate scenario's first backend) |
//! | `/b` | a list of orders (second backend) |
//! | `/c` | a settings object (third backend) |
//! | anything else | the small JSON document of the proxy scenarios |
//!
//! Usage: `bench-backend [--port N] [--threads N]` (defaults 8000 and 1); it listens on
//! 127.0.0.1 only, prints `listening on 127.0.0.1:N` on stderr once ready, and stops on
//! SIGTERM or Ctrl-C.
#![forbid(unsafe_code)]

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The body of the proxy scenarios: a small JSON object (about 300 bytes).
const PROXY_BODY: &[u8] = br#"{"id":42,"name":"Cephalo benchmark item","active":true,"price":19.99,"tags":["gateway","proxy","json"],"owner":{"id":7,"login":"octo","email":"octo@example.com"},"created_at":"2026-01-01T00:00:00Z","stock":{"warehouse":"north","units":1234},"description":"A small JSON document for the proxy scenarios."}"#;

/// Aggregate backend 1: a user record (the gateway keeps some fields with `allow`).
const BODY_A: &[u8] = br#"{"id":1,"login":"octo","name":"Octo Cat","email":"octo@example.com","company":"Cephalo","location":"Lisbon","followers":120,"following":3,"created_at":"2020-02-02T10:00:00Z"}"#;

/// Aggregate backend 2: orders (the gateway nests them under `group`).
const BODY_B: &[u8] = br#"{"total":3,"orders":[{"id":101,"amount":12.5,"status":"shipped"},{"id":102,"amount":7.25,"status":"pending"},{"id":103,"amount":99.0,"status":"delivered"}]}"#;

/// Aggregate backend 3: settings (the gateway renames fields with `mapping`).
const BODY_C: &[u8] = br#"{"theme":"dark","lang":"pt-PT","notifications":{"email":true,"sms":false},"plan":"pro","quota":{"used":512,"limit":2048}}"#;

const HEALTH_BODY: &[u8] = br#"{"status":"ok"}"#;

/// Command-line options.
struct Options {
    port: u16,
    threads: usize,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut options = Options {
            port: 8000,
            threads: 1,
        };
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
            match arg.as_str() {
                "--port" => {
                    options.port = value("--port")?
                        .parse()
                        .map_err(|e| format!("--port: {e}"))?
                }
                "--threads" => {
                    options.threads = value("--threads")?
                        .parse()
                        .map_err(|e| format!("--threads: {e}"))?;
                    if options.threads == 0 {
                        return Err("--threads must be at least 1".into());
                    }
                }
                "-h" | "--help" => {
                    return Err("usage: bench-backend [--port N] [--threads N]".into());
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(options)
    }
}

/// Picks the static body for a request path.
fn body_for(path: &str) -> &'static [u8] {
    match path {
        "/__health" => HEALTH_BODY,
        "/a" => BODY_A,
        "/b" => BODY_B,
        "/c" => BODY_C,
        _ => PROXY_BODY,
    }
}

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = Response::new(Full::new(Bytes::from_static(body_for(
        request.uri().path(),
    ))));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

async fn serve(port: u16) -> std::io::Result<()> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    eprintln!("listening on {}", listener.local_addr()?);
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => return Ok(()),
        };
        // Small responses on loopback: send them at once.
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            // Clients that hang up mid-request are normal under load: nothing to report.
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn main() -> std::process::ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("bench-backend: {message}");
            return std::process::ExitCode::from(2);
        }
    };
    // One thread: a current-thread runtime avoids the work-stealing machinery altogether.
    let runtime = if options.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.threads)
            .enable_all()
            .build()
    };
    let result = runtime.and_then(|runtime| runtime.block_on(serve(options.port)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench-backend: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        Options::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn options_default_and_override() {
        let defaults = parse(&[]).unwrap();
        assert_eq!((defaults.port, defaults.threads), (8000, 1));
        let set = parse(&["--port", "9001", "--threads", "3"]).unwrap();
        assert_eq!((set.port, set.threads), (9001, 3));
    }

    #[test]
    fn options_reject_bad_values() {
        assert!(parse(&["--threads", "0"]).is_err());
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--port", "x"]).is_err());
        assert!(parse(&["--frobnicate"]).is_err());
    }

    #[test]
    fn every_body_is_a_distinct_json_object() {
        let bodies = ["/", "/a", "/b", "/c", "/__health"].map(body_for);
        for body in bodies {
            assert!(body.starts_with(b"{") && body.ends_with(b"}"));
        }
        for (i, x) in bodies.iter().enumerate() {
            for y in &bodies[i + 1..] {
                assert_ne!(x, y);
            }
        }
    }
}
