//! A tiny blocking HTTP/1.1 client for readiness and sanity checks (never for load).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// What one GET answered: the status code and the body.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// Sends `GET path` to 127.0.0.1:`port` with `Connection: close` and reads the whole answer.
pub fn get(port: u16, path: &str, timeout: Duration) -> Result<Answer> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_answer(&raw)
}

/// Parses a raw HTTP/1.1 answer (status line, headers, body; chunked bodies are not decoded).
pub fn parse_answer(raw: &[u8]) -> Result<Answer> {
    let text = String::from_utf8_lossy(raw);
    let status_line = text.lines().next().context("empty answer")?;
    let mut words = status_line.split_whitespace();
    if !words.next().is_some_and(|w| w.starts_with("HTTP/1.")) {
        bail!("not an HTTP/1 answer: {status_line:?}");
    }
    let status = words
        .next()
        .context("no status code")?
        .parse()
        .context("bad status code")?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok(Answer { status, body })
}

/// Polls `GET path` until it answers 200; returns how long it took from `since`.
/// `alive` is asked between polls and ends the wait early with its error.
pub fn wait_for_200(
    port: u16,
    path: &str,
    since: Instant,
    limit: Duration,
    mut alive: impl FnMut() -> Result<()>,
) -> Result<Duration> {
    let mut last = String::from("no answer");
    while since.elapsed() < limit {
        match get(port, path, Duration::from_millis(500)) {
            Ok(answer) if answer.status == 200 => return Ok(since.elapsed()),
            Ok(answer) => last = format!("status {}", answer.status),
            Err(error) => last = error.to_string(),
        }
        alive()?;
        std::thread::sleep(Duration::from_micros(250));
    }
    bail!("127.0.0.1:{port}{path} gave no 200 within {limit:?} (last: {last})")
}

/// A free TCP port on 127.0.0.1 (the kernel's pick; free when this returns).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_body() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"a\":1}";
        assert_eq!(
            parse_answer(raw).unwrap(),
            Answer {
                status: 200,
                body: "{\"a\":1}".into()
            }
        );
        let raw = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(parse_answer(raw).unwrap().status, 404);
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_answer(b"").is_err());
        assert!(parse_answer(b"SSH-2.0-OpenSSH\r\n").is_err());
        assert!(parse_answer(b"HTTP/1.1 abc\r\n\r\n").is_err());
    }

    #[test]
    fn talks_to_a_real_socket() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || loop {
            // Other tests poll ports the kernel may hand out again: answer only our request.
            let (mut stream, _) = listener.accept().unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            if request.starts_with(b"GET /__health HTTP/1.1\r\nHost: 127.0.0.1:") {
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .unwrap();
                return;
            }
        });
        let answer = get(port, "/__health", Duration::from_secs(2)).unwrap();
        assert_eq!(
            answer,
            Answer {
                status: 200,
                body: "ok".into()
            }
        );
        server.join().unwrap();
    }

    #[test]
    fn waiting_on_a_closed_port_times_out() {
        let port = free_port().unwrap();
        let error = wait_for_200(port, "/", Instant::now(), Duration::from_millis(50), || {
            Ok(())
        });
        assert!(error
            .unwrap_err()
            .to_string()
            .contains("gave no 200 within"));
    }

    #[test]
    fn a_dead_process_ends_the_wait_at_once() {
        let port = free_port().unwrap();
        let started = Instant::now();
        let error = wait_for_200(port, "/", started, Duration::from_secs(30), || {
            anyhow::bail!("exited early")
        });
        assert_eq!(error.unwrap_err().to_string(), "exited early");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
