//! Our own HTTP/1.1 server connection: one task reads a request head, runs the handler while
//! feeding it the body and watching for a client that goes away, writes the response, and
//! waits for the next request under Go's deadlines.
//!
//! What it keeps per connection is small: no buffer while idle (the first bytes of a request
//! are read on the stack), the read buffer only while a head or body is arriving, and the
//! handler's future on the heap. hyper still serves HTTP/2 (h2c, TLS with ALPN h2).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::{Method, Request};
use hyper::body::Body as HttpBody;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

use super::body::{Fed, RequestBody};
use super::deadline::Deadlines;
use super::wire::{self, Exchange, Outgoing, Rejection, RequestHead};
use crate::http1::BodyDecoder;
use crate::reply::Reply;

/// The handler's answer, as a future the connection holds in its own while it runs; `None`
/// drops the connection (the write timeout elapsed).
pub trait Handling: Future<Output = Option<Reply>> + Unpin {}

impl<F: Future<Output = Option<Reply>> + Unpin> Handling for F {}

/// Per-server settings of every connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnSettings {
    /// Go's read deadlines, if any.
    pub deadlines: Option<Deadlines>,
    /// The largest request head accepted (Go: `max_header_bytes` + 4 KiB).
    pub max_head: usize,
    /// `read_timeout`: the whole request, head and body, from its first byte.
    pub read_timeout: Option<Duration>,
}

impl ConnSettings {
    /// Go's `http.Server` limit: `max_header_bytes` (default 1 MiB) plus 4 KiB of slack.
    pub fn new(
        deadlines: Option<Deadlines>,
        max_header_bytes: Option<usize>,
        read_timeout: Option<Duration>,
    ) -> Self {
        Self {
            deadlines,
            max_head: max_header_bytes.unwrap_or(1 << 20) + 4096,
            read_timeout: read_timeout.filter(|d| !d.is_zero()),
        }
    }
}

/// A body that arrived with its head and is at most this large is copied out of the read
/// buffer (so the buffer can be reused or freed); a larger one is split off it.
const COPY_BODY_UP_TO: u64 = 64 * 1024;
/// Response body bytes gathered before a write.
const WRITE_BATCH: usize = 64 * 1024;

/// Serves HTTP/1.x requests on `io` until the client closes, a deadline elapses, or
/// `shutdown` turns true while the connection is idle.
pub async fn serve_connection<IO, H, F>(
    mut io: IO,
    settings: ConnSettings,
    shutdown: watch::Receiver<bool>,
    handler: H,
) where
    IO: AsyncRead + AsyncWrite + Unpin,
    H: FnMut(Request<RequestBody>) -> F,
    F: Handling,
{
    serve_requests(&mut io, settings, shutdown, handler).await;
    // A clean end: FIN, and TLS's close_notify first (bounded: the peer may not be reading).
    let _ = tokio::time::timeout(Duration::from_secs(1), io.shutdown()).await;
}

async fn serve_requests<IO, H, F>(
    io: &mut IO,
    settings: ConnSettings,
    mut shutdown: watch::Receiver<bool>,
    mut handler: H,
) where
    IO: AsyncRead + AsyncWrite + Unpin,
    H: FnMut(Request<RequestBody>) -> F,
    F: Handling,
{
    let seen = shutdown.clone();
    let mut stop = Stop {
        wait: std::pin::pin!(shutdown.changed()),
        seen,
        armed_for: None,
        stopping: false,
    };
    let mut buf = BytesMut::new();
    let mut first = true;
    loop {
        let (head, started) = match read_head(io, &mut buf, first, settings, &mut stop).await {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(rejection) => {
                let _ = io.write_all(&rejection.response()).await;
                let _ = io.flush().await;
                return;
            }
        };
        first = false;
        let RequestHead {
            request,
            framing,
            expect_continue,
            close,
        } = head;
        let exchange = Exchange {
            head_request: request.method() == Method::HEAD,
            version: request.version(),
            close,
        };
        let decoder = BodyDecoder::new(framing);
        let (body, mut feeder) = match decoder.remaining() {
            Some(0) => (RequestBody::Empty, None),
            Some(n) if buf.len() as u64 >= n => {
                let bytes = if n <= COPY_BODY_UP_TO {
                    let copy = Bytes::copy_from_slice(&buf[..n as usize]);
                    buf.advance(n as usize);
                    copy
                } else {
                    buf.split_to(n as usize).freeze()
                };
                (RequestBody::Full(Some(bytes)), None)
            }
            _ => {
                let (body, feeder) = RequestBody::streamed(decoder, expect_continue);
                (body, Some(feeder))
            }
        };
        if buf.is_empty() {
            // Nothing pipelined: no buffer is held while the request runs.
            buf = BytesMut::new();
        }

        // Go's read_timeout bounds the body too: a body still arriving then fails.
        let mut body_deadline = match (settings.read_timeout, started, &feeder) {
            (Some(limit), Some(started), Some(_)) => {
                Some(Box::pin(tokio::time::sleep_until(started + limit)))
            }
            _ => None,
        };
        let mut handling = handler(request.map(|()| body));
        let mut fed = if feeder.is_none() {
            Some(Fed::Done)
        } else {
            None
        };
        let outcome = std::future::poll_fn(|cx| {
            if let Poll::Ready(response) = Pin::new(&mut handling).poll(cx) {
                return Poll::Ready(Some(response));
            }
            if let Some(f) = feeder.as_mut() {
                if body_deadline
                    .as_mut()
                    .is_some_and(|d| d.as_mut().poll(cx).is_ready())
                {
                    f.time_out();
                    fed = Some(Fed::Broken);
                    feeder = None;
                    return Poll::Pending;
                }
                if let Poll::Ready(end) = f.poll_feed(cx, io, &mut buf) {
                    fed = Some(end);
                    feeder = None;
                }
                // Feeding woke the handler if it had anything for it.
                return Poll::Pending;
            }
            // With the request read, a read that ends means the client went away; bytes
            // are a pipelined request, kept for later.
            if fed == Some(Fed::Done) && buf.is_empty() {
                if let Poll::Ready(closed) = poll_read_ahead(cx, io, &mut buf) {
                    if closed {
                        return Poll::Ready(None);
                    }
                }
            }
            Poll::Pending
        })
        .await;
        drop(feeder);
        let response = match outcome {
            // The client went away: the handler (and its backend calls) is cancelled.
            None => return,
            // The write timeout elapsed: Go drops the connection.
            Some(None) => return,
            Some(Some(response)) => response,
        };
        drop(handling);
        let stopping = stop.begun();
        let exchange = Exchange {
            close: exchange.close || fed != Some(Fed::Done) || stopping,
            ..exchange
        };
        match write_reply(io, response, exchange).await {
            Ok(false) => {}
            Ok(true) | Err(_) => return,
        }
    }
}

/// Reads until a request head is complete, and tells when the request began (with
/// `read_timeout` only). `Ok(None)`: the connection ends quietly (client closed, a deadline
/// elapsed, or shutdown while idle).
async fn read_head<IO: AsyncRead + Unpin>(
    io: &mut IO,
    buf: &mut BytesMut,
    first: bool,
    settings: ConnSettings,
    stop: &mut Stop<'_, impl Future<Output = StopResult>>,
) -> Result<Option<(RequestHead, Option<Instant>)>, Rejection> {
    // Go's phases: a new connection, or one whose next request has begun, has the head
    // deadline; a keep-alive connection waiting for the next request's first byte, the idle one.
    let mut idle = buf.is_empty() && !first;
    let mut deadline: Option<Pin<Box<Sleep>>> = settings
        .deadlines
        .and_then(|d| if idle { d.idle } else { d.head })
        .map(sleep);
    let now = || settings.read_timeout.map(|_| Instant::now());
    let mut started = if idle { None } else { now() };
    loop {
        if !buf.is_empty() {
            let buffered = buf.len();
            if let Some(head) = wire::parse_request_head(buf)? {
                if buffered - buf.len() > settings.max_head {
                    return Err(Rejection::HeadTooLarge);
                }
                return Ok(Some((head, started)));
            }
            if buf.len() > settings.max_head {
                return Err(Rejection::HeadTooLarge);
            }
            if idle {
                idle = false;
                started = now();
                deadline = settings.deadlines.and_then(|d| d.head).map(sleep);
            }
        }
        let wait = std::future::poll_fn(|cx| {
            // Only a connection waiting for its next request is closed by the shutdown.
            if buf.is_empty() && stop.poll(cx) {
                return Poll::Ready(Wait::Stop);
            }
            if let Some(d) = deadline.as_mut() {
                if d.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Wait::Stop);
                }
            }
            if buf.is_empty() {
                return poll_read_ahead(cx, &mut *io, buf).map(|closed| {
                    if closed {
                        Wait::Stop
                    } else {
                        Wait::Bytes
                    }
                });
            }
            buf.reserve(4096);
            match tokio_util::io::poll_read_buf(Pin::new(&mut *io), cx, buf) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Ok(0) | Err(_)) => Poll::Ready(Wait::Stop),
                Poll::Ready(Ok(_)) => Poll::Ready(Wait::Bytes),
            }
        })
        .await;
        if wait == Wait::Stop {
            return Ok(None);
        }
    }
}

/// What the shutdown wait resolves to (the watch channel's `changed`).
type StopResult = Result<(), watch::error::RecvError>;

/// The server's shutdown as a connection sees it: one wait on the watch channel for the
/// connection's whole life, registered by its first poll and left registered, and a look at
/// the channel's version for every other check. Any change is the shutdown (the value only
/// turns true), as is the sender's end.
struct Stop<'a, F> {
    wait: Pin<&'a mut F>,
    /// A second receiver of the channel, to look without registering.
    seen: watch::Receiver<bool>,
    /// The waker the wait was registered with (a task's waker stays the same).
    armed_for: Option<Waker>,
    stopping: bool,
}

impl<F: Future<Output = StopResult>> Stop<'_, F> {
    /// Whether the shutdown has begun; nothing is registered.
    fn begun(&mut self) -> bool {
        if !self.stopping && self.seen.has_changed().unwrap_or(true) {
            self.stopping = true;
        }
        self.stopping
    }

    /// Whether the shutdown has begun; until it has, `cx` is woken when it does. Polling the
    /// wait takes its list's lock, so it is polled again only for another waker.
    fn poll(&mut self, cx: &mut Context<'_>) -> bool {
        let armed = self
            .armed_for
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()));
        if !self.stopping && !armed {
            if self.wait.as_mut().poll(cx).is_ready() {
                self.stopping = true;
            }
            self.armed_for = Some(cx.waker().clone());
        }
        self.begun()
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Wait {
    Bytes,
    Stop,
}

fn sleep(limit: Duration) -> Pin<Box<Sleep>> {
    Box::pin(tokio::time::sleep(limit))
}

/// Reads whatever is there into a stack buffer and appends it to `buf` (which holds no
/// allocation until then). Ready(true) when the connection has ended or failed.
fn poll_read_ahead<IO: AsyncRead + Unpin>(
    cx: &mut Context<'_>,
    io: &mut IO,
    buf: &mut BytesMut,
) -> Poll<bool> {
    let mut stack = [std::mem::MaybeUninit::<u8>::uninit(); 2048];
    let mut read = ReadBuf::uninit(&mut stack);
    match Pin::new(io).poll_read(cx, &mut read) {
        Poll::Pending => Poll::Pending,
        Poll::Ready(Ok(())) if read.filled().is_empty() => Poll::Ready(true),
        Poll::Ready(Ok(())) => {
            buf.extend_from_slice(read.filled());
            Poll::Ready(false)
        }
        Poll::Ready(Err(_)) => Poll::Ready(true),
    }
}

/// Writes an answer; `Ok(true)` when the connection must close after it.
async fn write_reply<IO: AsyncWrite + Unpin>(
    io: &mut IO,
    reply: Reply,
    exchange: Exchange,
) -> io::Result<bool> {
    match reply {
        Reply::Made(response) => {
            let (parts, body) = response.into_parts();
            let length = body.size_hint().exact();
            let mut out = head_buffer(length);
            let (outgoing, close) =
                wire::encode_head(&mut out, parts.status, &parts.headers, length, exchange);
            drop(parts);
            write_body(io, out, body, outgoing, close).await
        }
        Reply::Relayed(relayed) => {
            let length = relayed.body.size_hint().exact();
            let mut out = head_buffer(length);
            let (outgoing, close) =
                wire::encode_head(&mut out, relayed.status, relayed.fields(), length, exchange);
            write_body(io, out, relayed.body, outgoing, close).await
        }
    }
}

/// A buffer for a response head and, when it is small and known, its body.
fn head_buffer(body_len: Option<u64>) -> Vec<u8> {
    Vec::with_capacity(256 + body_len.unwrap_or(0).min(WRITE_BATCH as u64) as usize)
}

/// Writes a response body after its head (`out`, not written yet) as `outgoing` frames it;
/// `Ok(true)` when the connection must close after it.
async fn write_body<IO, B>(
    io: &mut IO,
    mut out: Vec<u8>,
    mut body: B,
    outgoing: Outgoing,
    mut close: bool,
) -> io::Result<bool>
where
    IO: AsyncWrite + Unpin,
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<crate::body::BoxError>,
{
    if outgoing == Outgoing::Nothing {
        io.write_all(&out).await?;
        io.flush().await?;
        return Ok(close);
    }
    let mut written: u64 = 0;
    loop {
        // Frames that are ready join the pending bytes; the pending bytes go out before
        // waiting for more.
        let frame = match std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut body).poll_frame(cx)))
            .await
        {
            Poll::Ready(frame) => frame,
            Poll::Pending => {
                if !out.is_empty() {
                    io.write_all(&out).await?;
                    out.clear();
                }
                io.flush().await?;
                std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
            }
        };
        let data = match frame {
            None => break,
            Some(Err(e)) => return Err(io::Error::other(e.into())),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                // Trailers are not sent.
                Err(_) => continue,
            },
        };
        written += data.len() as u64;
        if let Outgoing::Length(n) = outgoing {
            if written > n {
                return Err(io::Error::other(
                    "response body longer than its Content-Length",
                ));
            }
        }
        let small = wire::fits_with_head(&data);
        match outgoing {
            Outgoing::Chunked if small => wire::put_chunk(&mut out, &data),
            Outgoing::Chunked => {
                out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
                io.write_all(&out).await?;
                out.clear();
                io.write_all(&data).await?;
                out.extend_from_slice(b"\r\n");
            }
            _ if small => out.extend_from_slice(&data),
            _ => {
                if !out.is_empty() {
                    io.write_all(&out).await?;
                    out.clear();
                }
                io.write_all(&data).await?;
            }
        }
        if out.len() >= WRITE_BATCH {
            io.write_all(&out).await?;
            out.clear();
        }
    }
    match outgoing {
        Outgoing::Chunked => out.extend_from_slice(wire::LAST_CHUNK),
        Outgoing::Length(n) if written != n => close = true,
        _ => {}
    }
    if !out.is_empty() {
        io.write_all(&out).await?;
    }
    io.flush().await?;
    Ok(close)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, DuplexStream};

    /// A fake next service: echoes method, path and body; `/slow` waits (and records being
    /// dropped); `/stream` answers with a body of unknown length.
    /// What the test handler returns: any answer, boxed.
    type Boxed = Pin<Box<dyn Future<Output = Option<Reply>> + Send>>;

    fn echo(dropped: Arc<AtomicBool>) -> impl FnMut(Request<RequestBody>) -> Boxed {
        move |req| {
            let dropped = dropped.clone();
            Box::pin(async move {
                let (parts, body) = req.into_parts();
                if parts.uri.path() == "/slow" {
                    struct Flag(Arc<AtomicBool>);
                    impl Drop for Flag {
                        fn drop(&mut self) {
                            self.0.store(true, Ordering::SeqCst);
                        }
                    }
                    let _flag = Flag(dropped);
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
                let data = match body.collect().await {
                    Ok(c) => c.to_bytes(),
                    Err(e) => Bytes::from(format!("error: {e}")),
                };
                let text = format!(
                    "{} {} {}",
                    parts.method,
                    parts.uri,
                    String::from_utf8_lossy(&data)
                );
                let body = if parts.uri.path() == "/stream" {
                    let stream = futures_util::stream::iter(vec![
                        Ok::<_, crate::body::BoxError>(hyper::body::Frame::data(Bytes::from("ab"))),
                        Ok(hyper::body::Frame::data(Bytes::from("cd"))),
                    ]);
                    http_body_util::StreamBody::new(stream).boxed()
                } else {
                    crate::body::full(text)
                };
                Some(Reply::Made(http::Response::new(body)))
            })
        }
    }

    struct Client {
        io: DuplexStream,
        stop: watch::Sender<bool>,
        dropped: Arc<AtomicBool>,
        task: tokio::task::JoinHandle<()>,
    }

    fn start(deadlines: Option<Deadlines>) -> Client {
        let (client, server) = tokio::io::duplex(1 << 16);
        let (stop, rx) = watch::channel(false);
        let dropped = Arc::new(AtomicBool::new(false));
        let settings = ConnSettings::new(deadlines, Some(1024), Some(Duration::from_secs(20)));
        let task = tokio::spawn(serve_connection(
            server,
            settings,
            rx,
            echo(dropped.clone()),
        ));
        Client {
            io: client,
            stop,
            dropped,
            task,
        }
    }

    impl Client {
        async fn send(&mut self, text: &str) {
            self.io.write_all(text.as_bytes()).await.unwrap();
        }

        /// Reads until `n` responses' worth of text ending in `last` has arrived.
        async fn read_until(&mut self, last: &str) -> String {
            let mut out = Vec::new();
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(&out).contains(last) {
                let n = tokio::time::timeout(Duration::from_secs(5), self.io.read(&mut buf))
                    .await
                    .expect("no answer")
                    .unwrap();
                assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&out));
                out.extend_from_slice(&buf[..n]);
            }
            String::from_utf8(out).unwrap()
        }

        async fn read_to_end(&mut self) -> String {
            let mut out = Vec::new();
            tokio::time::timeout(Duration::from_secs(60), self.io.read_to_end(&mut out))
                .await
                .expect("not closed")
                .unwrap();
            String::from_utf8(out).unwrap()
        }
    }

    #[tokio::test]
    async fn pipelined_requests_are_answered_in_order() {
        let mut c = start(None);
        c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyzGET /c HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let text = c.read_until("GET /c ").await;
        let a = text.find("GET /a ").unwrap();
        let b = text.find("POST /b xyz").unwrap();
        let cc = text.find("GET /c ").unwrap();
        assert!(a < b && b < cc, "{text}");
        assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 3);
    }

    #[tokio::test]
    async fn chunked_and_continued_bodies_reach_the_handler() {
        let mut c = start(None);
        c.send("PUT /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
            .await;
        c.send("2\r\nde\r\n0\r\n\r\n").await;
        let text = c.read_until("PUT /up abcde").await;
        assert!(text.contains("Content-Length: 13\r\n"), "{text}");

        c.send("POST /c HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
            .await;
        let interim = c.read_until("\r\n\r\n").await;
        assert_eq!(interim, "HTTP/1.1 100 Continue\r\n\r\n");
        c.send("body").await;
        c.read_until("POST /c body").await;
    }

    #[tokio::test]
    async fn a_body_of_unknown_length_goes_chunked() {
        let mut c = start(None);
        c.send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let text = c.read_until("0\r\n\r\n").await;
        assert!(text.contains("Transfer-Encoding: chunked\r\n"), "{text}");
        assert!(
            text.ends_with("\r\n\r\n2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_client_that_goes_away_cancels_its_request() {
        let mut c = start(None);
        c.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!c.dropped.load(Ordering::SeqCst));
        let Client {
            io, task, dropped, ..
        } = c;
        drop(io);
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
        assert!(dropped.load(Ordering::SeqCst), "the handler still runs");
    }

    #[tokio::test]
    async fn http_1_0_closes_unless_kept_alive() {
        let mut c = start(None);
        c.send("GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .await;
        let text = c.read_until("GET /k ").await;
        assert!(text.starts_with("HTTP/1.0 200 OK\r\n"), "{text}");
        assert!(text.contains("Connection: keep-alive\r\n"), "{text}");
        c.send("GET /z HTTP/1.0\r\n\r\n").await;
        let text = c.read_to_end().await;
        assert!(text.contains("Connection: close\r\n"), "{text}");
        assert!(text.ends_with("GET /z "), "{text}");
    }

    #[tokio::test]
    async fn bad_and_oversized_heads_get_gos_answers() {
        let mut c = start(None);
        c.send("GET / HTTP/1.1\r\n\r\n").await;
        let text = c.read_to_end().await;
        assert!(
            text.starts_with("HTTP/1.1 400 Bad Request: missing required Host header\r\n"),
            "{text}"
        );
        assert!(text.ends_with("missing required Host header"), "{text}");

        let mut c = start(None);
        let big = "a".repeat(6000);
        c.send(&format!(
            "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n"
        ))
        .await;
        let text = c.read_to_end().await;
        assert!(text.starts_with("HTTP/1.1 431 "), "{text}");
    }

    #[tokio::test]
    async fn shutdown_closes_idle_connections_and_lets_busy_ones_finish() {
        let mut c = start(None);
        c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n").await;
        c.read_until("GET /a ").await;
        c.stop.send_replace(true);
        assert_eq!(c.read_to_end().await, "");

        let mut c = start(None);
        c.send("POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n")
            .await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        c.stop.send_replace(true);
        c.send("hi").await;
        let text = c.read_to_end().await;
        assert!(text.contains("Connection: close\r\n"), "{text}");
        assert!(text.ends_with("POST /b hi"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn read_timeout_bounds_a_slow_body() {
        let mut c = start(None);
        c.send("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
            .await;
        let started = tokio::time::Instant::now();
        let text = c.read_to_end().await;
        assert_eq!(started.elapsed().as_secs(), 20);
        assert!(text.ends_with("POST /up error: i/o timeout"), "{text}");
        assert!(text.contains("Connection: close\r\n"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn idle_and_head_deadlines_end_the_connection() {
        let deadlines = Deadlines {
            head: Some(Duration::from_secs(2)),
            idle: Some(Duration::from_secs(10)),
        };
        // A head that never completes ends after the head deadline.
        let mut c = start(Some(deadlines));
        c.send("GET / HTTP/1.1\r\n").await;
        let started = tokio::time::Instant::now();
        assert_eq!(c.read_to_end().await, "");
        assert_eq!(started.elapsed().as_secs(), 2);

        // After a response, the idle deadline applies.
        let mut c = start(Some(deadlines));
        c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n").await;
        c.read_until("GET /a ").await;
        let started = tokio::time::Instant::now();
        assert_eq!(c.read_to_end().await, "");
        assert_eq!(started.elapsed().as_secs(), 10);
    }
}
