//! Go's `http.Server` read deadlines on one connection, which hyper lacks: while a request
//! head is awaited, `read_header_timeout` (else `read_timeout`); while a keep-alive
//! connection waits for its next request, `idle_timeout` (else `read_timeout`). When one
//! elapses the connection reads end-of-stream and hyper closes it, as Go does.
//!
//! A connection is busy from the service call until its response body is dropped; no deadline
//! runs then. The tracking costs one atomic add per request and allocates only per connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use hyper::body::{Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::body::{Body, BoxError};

/// The deadlines of each phase; built once from the service settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// Awaiting a request head (new connection, or bytes of the next request arrived).
    pub head: Option<Duration>,
    /// Keep-alive: awaiting the first byte of the next request.
    pub idle: Option<Duration>,
}

impl Deadlines {
    /// Go's fallbacks: a zero `read_header_timeout` or `idle_timeout` takes `read_timeout`.
    /// `None` when no deadline is set at all (connections are then not wrapped).
    pub fn from_go(
        read_timeout: Option<Duration>,
        read_header_timeout: Option<Duration>,
        idle_timeout: Option<Duration>,
    ) -> Option<Self> {
        let set = |d: Option<Duration>| d.filter(|d| !d.is_zero());
        let read = set(read_timeout);
        let d = Self {
            head: set(read_header_timeout).or(read),
            idle: set(idle_timeout).or(read),
        };
        (d.head.is_some() || d.idle.is_some()).then_some(d)
    }
}

/// The requests of one connection still being served.
#[derive(Debug, Clone, Default)]
pub struct InFlight(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    count: AtomicUsize,
    /// The connection task, woken when its last request ends so the idle deadline starts.
    idle_waker: AtomicWaker,
}

impl InFlight {
    /// Marks a request as started; it ends when the guard is dropped.
    pub fn start(&self) -> RequestGuard {
        self.0.count.fetch_add(1, Ordering::AcqRel);
        RequestGuard(self.clone())
    }

    /// Whether a request is being served; if so, `cx` is woken when the last one ends.
    fn busy(&self, cx: &mut Context<'_>) -> bool {
        if self.0.count.load(Ordering::Acquire) == 0 {
            return false;
        }
        self.0.idle_waker.register(cx.waker());
        // The last request may have ended between the load and the registration.
        self.0.count.load(Ordering::Acquire) > 0
    }
}

/// Ends a request of an [`InFlight`] on drop.
#[derive(Debug)]
pub struct RequestGuard(InFlight);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let shared = &self.0 .0;
        if shared.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            shared.idle_waker.wake();
        }
    }
}

/// A response body that keeps its request in flight until hyper drops it (fully written).
pub struct TrackedBody {
    inner: Body,
    _guard: Option<RequestGuard>,
}

impl TrackedBody {
    /// Wraps `inner`; with no guard this is a plain pass-through.
    pub fn new(inner: Body, guard: Option<RequestGuard>) -> Self {
        Self {
            inner,
            _guard: guard,
        }
    }
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Head,
    Busy,
    Idle,
}

struct Watch {
    deadlines: Deadlines,
    in_flight: InFlight,
    phase: Phase,
    armed: bool,
    /// Whether any byte was read yet (the HTTP/2 preface is looked for in the first ones).
    seen_bytes: bool,
    timer: Pin<Box<Sleep>>,
}

/// The start of the HTTP/2 connection preface (h2c with prior knowledge).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0";

impl Watch {
    fn arm(&mut self, limit: Option<Duration>) {
        self.armed = limit.is_some();
        if let Some(d) = limit {
            self.timer.as_mut().reset(Instant::now() + d);
        }
    }

    /// Bytes arrived: a request head starts unless one is already being read or served.
    fn on_bytes(&mut self, cx: &mut Context<'_>) {
        if self.in_flight.busy(cx) {
            self.phase = Phase::Busy;
            self.armed = false;
        } else if self.phase != Phase::Head {
            self.phase = Phase::Head;
            self.arm(self.deadlines.head);
        }
    }

    /// HTTP/2 has no head phase between requests: Go applies only `IdleTimeout` there.
    fn http2(&mut self) {
        self.deadlines.head = self.deadlines.idle;
        if self.phase == Phase::Head {
            self.arm(self.deadlines.head);
        }
    }

    /// Nothing to read: true when the current deadline has elapsed.
    fn elapsed(&mut self, cx: &mut Context<'_>) -> bool {
        if self.in_flight.busy(cx) {
            self.phase = Phase::Busy;
            self.armed = false;
            return false;
        }
        if self.phase == Phase::Busy {
            self.phase = Phase::Idle;
            self.arm(self.deadlines.idle);
        }
        if self.armed && self.timer.as_mut().poll(cx).is_ready() {
            self.armed = false;
            tracing::debug!(phase = ?self.phase, "connection read deadline elapsed");
            return true;
        }
        false
    }
}

/// A server connection's I/O with Go's read deadlines applied.
pub struct DeadlineIo<T> {
    inner: T,
    watch: Option<Watch>,
}

impl<T> DeadlineIo<T> {
    /// Wraps `inner`; returns the request tracker the service must use, when deadlines apply.
    pub fn new(inner: T, deadlines: Option<Deadlines>) -> (Self, Option<InFlight>) {
        let Some(deadlines) = deadlines else {
            return (Self { inner, watch: None }, None);
        };
        let in_flight = InFlight::default();
        let mut watch = Watch {
            deadlines,
            in_flight: in_flight.clone(),
            phase: Phase::Head,
            armed: false,
            seen_bytes: false,
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
        };
        // A new connection awaits its first request head at once, as Go's `readRequest`.
        watch.arm(deadlines.head);
        let io = Self {
            inner,
            watch: Some(watch),
        };
        (io, Some(in_flight))
    }
}

impl<T> DeadlineIo<T> {
    /// The connection speaks HTTP/2 (negotiated by TLS ALPN): only the idle deadline applies.
    pub fn set_http2(&mut self) {
        if let Some(w) = self.watch.as_mut() {
            w.http2();
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for DeadlineIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        let Some(watch) = this.watch.as_mut() else {
            return polled;
        };
        match polled {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                if !watch.seen_bytes && buf.filled()[before..].starts_with(H2_PREFACE) {
                    watch.http2();
                }
                watch.seen_bytes = true;
                watch.on_bytes(cx);
                Poll::Ready(Ok(()))
            }
            // End of stream: the connection closes after this read.
            Poll::Pending if watch.elapsed(cx) => Poll::Ready(Ok(())),
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for DeadlineIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn secs(n: u64) -> Option<Duration> {
        Some(Duration::from_secs(n))
    }

    #[test]
    fn go_fallbacks() {
        assert_eq!(Deadlines::from_go(None, None, None), None);
        assert_eq!(
            Deadlines::from_go(Some(Duration::ZERO), None, Some(Duration::ZERO)),
            None
        );
        let d = Deadlines::from_go(secs(5), None, None).unwrap();
        assert_eq!((d.head, d.idle), (secs(5), secs(5)));
        let d = Deadlines::from_go(secs(5), secs(1), secs(9)).unwrap();
        assert_eq!((d.head, d.idle), (secs(1), secs(9)));
        let d = Deadlines::from_go(None, secs(1), None).unwrap();
        assert_eq!((d.head, d.idle), (secs(1), None));
    }

    fn deadlines(head: u64, idle: u64) -> Option<Deadlines> {
        Some(Deadlines {
            head: Some(Duration::from_millis(head)),
            idle: Some(Duration::from_millis(idle)),
        })
    }

    /// Reads until data or end of stream; the count and how long it took.
    async fn timed_read<T: AsyncRead + Unpin>(io: &mut T) -> (usize, Duration) {
        let start = Instant::now();
        let n = io.read(&mut [0u8; 8]).await.unwrap();
        (n, start.elapsed())
    }

    #[tokio::test]
    async fn silent_new_connection_ends_after_head_deadline() {
        let (_client, server) = tokio::io::duplex(64);
        let (mut io, _flight) = DeadlineIo::new(server, deadlines(100, 2000));
        let (n, took) = timed_read(&mut io).await;
        assert_eq!(n, 0);
        assert!(took >= Duration::from_millis(100) && took < Duration::from_millis(1500));
    }

    #[tokio::test]
    async fn busy_connection_has_no_deadline_then_idle_one_applies() {
        let (mut client, server) = tokio::io::duplex(64);
        let (mut io, flight) = DeadlineIo::new(server, deadlines(50, 300));
        let flight = flight.unwrap();
        client.write_all(b"GET").await.unwrap();
        assert_eq!(timed_read(&mut io).await.0, 3);
        let guard = flight.start();
        // Served for longer than both deadlines: no end of stream.
        let waited = tokio::time::timeout(Duration::from_millis(600), timed_read(&mut io)).await;
        assert!(waited.is_err(), "read ended while a request was in flight");
        drop(guard);
        let (n, took) = timed_read(&mut io).await;
        assert_eq!(n, 0);
        assert!(
            took >= Duration::from_millis(300),
            "idle deadline too early: {took:?}"
        );
    }

    #[tokio::test]
    async fn ending_the_last_request_wakes_a_pending_read_into_the_idle_deadline() {
        let (mut client, server) = tokio::io::duplex(64);
        let (mut io, flight) = DeadlineIo::new(server, deadlines(50, 200));
        client.write_all(b"GET").await.unwrap();
        assert_eq!(timed_read(&mut io).await.0, 3);
        let guard = flight.unwrap().start();
        let reader = tokio::spawn(async move { timed_read(&mut io).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(guard);
        let (n, took) = tokio::time::timeout(Duration::from_secs(3), reader)
            .await
            .expect("the pending read was never woken")
            .unwrap();
        assert_eq!(n, 0);
        assert!(took >= Duration::from_millis(300), "{took:?}");
        drop(client);
    }

    #[tokio::test]
    async fn bytes_of_the_next_request_switch_to_the_head_deadline() {
        let (mut client, server) = tokio::io::duplex(64);
        let (mut io, flight) = DeadlineIo::new(server, deadlines(100, 5000));
        client.write_all(b"GET").await.unwrap();
        assert_eq!(timed_read(&mut io).await.0, 3);
        drop(flight.unwrap().start());
        client.write_all(b"GE").await.unwrap();
        assert_eq!(timed_read(&mut io).await.0, 2);
        // A partial head: the 100 ms head deadline, not the 5 s idle one.
        let (n, took) = timed_read(&mut io).await;
        assert_eq!(n, 0);
        assert!(took < Duration::from_millis(2000), "{took:?}");
    }

    #[tokio::test]
    async fn http2_waits_for_requests_under_the_idle_deadline_only() {
        let (mut client, server) = tokio::io::duplex(64);
        let (mut io, _flight) = DeadlineIo::new(server, deadlines(50, 400));
        client.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
        let mut buf = [0u8; 64];
        assert!(io.read(&mut buf).await.unwrap() > 0);
        let (n, took) = timed_read(&mut io).await;
        assert_eq!(n, 0);
        assert!(
            took >= Duration::from_millis(350),
            "head deadline applied: {took:?}"
        );
    }

    #[tokio::test]
    async fn without_deadlines_reads_pass_through() {
        let (mut client, server) = tokio::io::duplex(64);
        let (mut io, flight) = DeadlineIo::new(server, None);
        assert!(flight.is_none());
        let waited = tokio::time::timeout(Duration::from_millis(300), timed_read(&mut io)).await;
        assert!(waited.is_err());
        client.write_all(b"x").await.unwrap();
        assert_eq!(timed_read(&mut io).await.0, 1);
    }
}
