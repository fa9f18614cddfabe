//! The body of a client request, as the gateway reads it.
//!
//! On our HTTP/1.1 connections a body that arrived with its head is handed over whole; a larger
//! or chunked one is read from the connection while the handler polls for it, through a
//! one-chunk slot shared by the handler's [`RequestBody`] and the connection's [`Feeder`]. Both
//! run in the connection's task, so the slot's lock is never contended.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::body::BoxError;
use crate::http1::{BodyDecoder, Decoded};

/// A request body: from our HTTP/1.1 connection, or from hyper's HTTP/2 ones.
pub enum RequestBody {
    /// No body.
    Empty,
    /// The whole body, read with the head.
    Full(Option<Bytes>),
    /// Read from the connection as it is polled.
    Streamed(Arc<Mutex<Slot>>),
    /// From a connection hyper serves (h2c, TLS with ALPN h2).
    Hyper(hyper::body::Incoming),
}

impl RequestBody {
    /// The whole body when it is already here (none, or read with the head), taken out;
    /// `None` while it is still to be read.
    pub fn take_whole(&mut self) -> Option<Bytes> {
        match self {
            Self::Empty => Some(Bytes::new()),
            Self::Full(bytes) => Some(bytes.take().unwrap_or_default()),
            Self::Streamed(_) | Self::Hyper(_) => None,
        }
    }

    /// A body read from the connection by the returned feeder.
    pub fn streamed(decoder: BodyDecoder, expect_continue: bool) -> (Self, Feeder) {
        let slot = Arc::new(Mutex::new(Slot::default()));
        let feeder = Feeder {
            slot: slot.clone(),
            decoder,
            continue_written: if expect_continue { Some(0) } else { None },
        };
        (Self::Streamed(slot), feeder)
    }
}

/// The chunk handed from the connection to the handler, and who waits for whom.
#[derive(Default)]
pub struct Slot {
    chunk: Option<Bytes>,
    end: Option<Result<(), String>>,
    /// The handler has asked for data (sends `100 Continue` when the client expects it).
    wanted: bool,
    /// The handler dropped its body.
    abandoned: bool,
    handler: Option<Waker>,
    connection: Option<Waker>,
}

fn lock(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn wake(waker: &mut Option<Waker>) {
    if let Some(w) = waker.take() {
        w.wake();
    }
}

impl HttpBody for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Self::Empty => Poll::Ready(None),
            Self::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Self::Hyper(incoming) => Pin::new(incoming)
                .poll_frame(cx)
                .map_err(|e| Box::new(e) as BoxError),
            Self::Streamed(slot) => {
                let mut slot = lock(slot);
                if let Some(chunk) = slot.chunk.take() {
                    wake(&mut slot.connection);
                    return Poll::Ready(Some(Ok(Frame::data(chunk))));
                }
                match &slot.end {
                    Some(Ok(())) => Poll::Ready(None),
                    Some(Err(e)) => Poll::Ready(Some(Err(e.clone().into()))),
                    None => {
                        slot.wanted = true;
                        slot.handler = Some(cx.waker().clone());
                        wake(&mut slot.connection);
                        Poll::Pending
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Empty => true,
            Self::Full(bytes) => bytes.is_none(),
            Self::Hyper(incoming) => incoming.is_end_stream(),
            Self::Streamed(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Empty => SizeHint::with_exact(0),
            Self::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Self::Hyper(incoming) => incoming.size_hint(),
            Self::Streamed(_) => SizeHint::default(),
        }
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        if let Self::Streamed(slot) = self {
            let mut slot = lock(slot);
            slot.abandoned = true;
            wake(&mut slot.connection);
        }
    }
}

/// How feeding a body ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Fed {
    /// The body was read to its end.
    Done,
    /// The handler dropped the body before its end; the rest is still on the connection.
    Abandoned,
    /// The connection failed or the body was malformed; the handler got the error.
    Broken,
}

const INTERIM_CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// The connection's side of a streamed body.
pub struct Feeder {
    slot: Arc<Mutex<Slot>>,
    decoder: BodyDecoder,
    /// `Some(bytes written)` while a `100 Continue` is owed.
    continue_written: Option<usize>,
}

impl Feeder {
    /// Moves body data from `buf` (reading `io` when it runs dry) into the slot while the slot
    /// has room; ready when the body has ended one way or another.
    pub fn poll_feed<IO: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut IO,
        buf: &mut BytesMut,
    ) -> Poll<Fed> {
        let mut slot = lock(&self.slot);
        loop {
            if slot.abandoned {
                return Poll::Ready(Fed::Abandoned);
            }
            if slot.chunk.is_some() {
                slot.connection = Some(cx.waker().clone());
                return Poll::Pending;
            }
            if let Some(written) = self.continue_written {
                if !slot.wanted {
                    slot.connection = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                match Pin::new(&mut *io).poll_write(cx, &INTERIM_CONTINUE[written..]) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(n)) if n > 0 => {
                        let written = written + n;
                        self.continue_written =
                            (written < INTERIM_CONTINUE.len()).then_some(written);
                        if self.continue_written.is_none() {
                            // TLS buffers: the client waits for these bytes.
                            let _ = Pin::new(&mut *io).poll_flush(cx);
                        }
                        continue;
                    }
                    Poll::Ready(_) => return Poll::Ready(fail(&mut slot, "write failed")),
                }
            }
            match self.decoder.step(buf) {
                Ok(Decoded::Data(chunk)) => {
                    slot.chunk = Some(chunk);
                    wake(&mut slot.handler);
                }
                Ok(Decoded::End) => {
                    slot.end = Some(Ok(()));
                    wake(&mut slot.handler);
                    return Poll::Ready(Fed::Done);
                }
                Ok(Decoded::ReadLine(buffered)) if buffered > 64 * 1024 => {
                    return Poll::Ready(fail(&mut slot, "chunk line too long"));
                }
                Ok(Decoded::Read | Decoded::ReadLine(_)) => {
                    buf.reserve(16 * 1024);
                    match tokio_util::io::poll_read_buf(Pin::new(&mut *io), cx, buf) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok(0)) => {
                            return Poll::Ready(fail(&mut slot, "unexpected EOF"))
                        }
                        Poll::Ready(Ok(_)) => {}
                        Poll::Ready(Err(e)) => return Poll::Ready(fail(&mut slot, &e.to_string())),
                    }
                }
                Err(e) => return Poll::Ready(fail(&mut slot, &e)),
            }
        }
    }

    /// The request's read deadline elapsed: the handler's body read fails as Go's does.
    pub fn time_out(&mut self) {
        fail(&mut lock(&self.slot), "i/o timeout");
    }
}

/// Ends the body with an error the handler reads as its body's failure.
fn fail(slot: &mut Slot, why: &str) -> Fed {
    slot.end = Some(Err(why.to_string()));
    wake(&mut slot.handler);
    Fed::Broken
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::Framing;
    use http_body_util::BodyExt;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn only_a_body_already_here_is_taken_whole() {
        assert_eq!(RequestBody::Empty.take_whole(), Some(Bytes::new()));
        let mut full = RequestBody::Full(Some(Bytes::from_static(b"abc")));
        assert_eq!(full.take_whole(), Some(Bytes::from_static(b"abc")));
        assert!(full.is_end_stream());
        let (mut streamed, _feeder) =
            RequestBody::streamed(BodyDecoder::new(Framing::Length(3)), false);
        assert_eq!(streamed.take_whole(), None);
    }

    /// Feeds `body` to completion while collecting it, as a connection does.
    async fn feed_and_collect(
        decoder: BodyDecoder,
        expect_continue: bool,
        wire: &'static [u8],
    ) -> (Result<Bytes, String>, Fed, Vec<u8>) {
        let (client, mut server) = tokio::io::duplex(64);
        let (body, mut feeder) = RequestBody::streamed(decoder, expect_continue);
        let writer = tokio::spawn(async move {
            let mut client = client;
            // Like a client that waits for 100 Continue, read it before sending (when owed).
            let mut seen = Vec::new();
            if expect_continue {
                let mut b = [0u8; 25];
                tokio::io::AsyncReadExt::read_exact(&mut client, &mut b)
                    .await
                    .unwrap();
                seen.extend_from_slice(&b);
            }
            for piece in wire.chunks(7) {
                client.write_all(piece).await.unwrap();
            }
            client.shutdown().await.unwrap();
            // Keep the duplex open until the test is done reading.
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            seen
        });
        let mut buf = BytesMut::new();
        let mut collecting = Box::pin(body.collect());
        let mut fed = None;
        let collected = std::future::poll_fn(|cx| {
            if fed.is_none() {
                if let Poll::Ready(f) = feeder.poll_feed(cx, &mut server, &mut buf) {
                    fed = Some(f);
                }
            }
            collecting.as_mut().poll(cx)
        })
        .await;
        let seen = writer.await.unwrap();
        (
            collected.map(|c| c.to_bytes()).map_err(|e| e.to_string()),
            fed.unwrap(),
            seen,
        )
    }

    use std::future::Future;

    #[tokio::test]
    async fn a_chunked_body_streams_through_the_slot() {
        let wire = b"4\r\nabcd\r\n6\r\nefghij\r\n0\r\n\r\n";
        let (body, fed, _) =
            feed_and_collect(BodyDecoder::new(Framing::CHUNKED), false, wire).await;
        assert_eq!(body.unwrap(), "abcdefghij");
        assert_eq!(fed, Fed::Done);
    }

    #[tokio::test]
    async fn continue_is_sent_once_the_handler_asks_for_the_body() {
        let (body, fed, seen) =
            feed_and_collect(BodyDecoder::new(Framing::Length(5)), true, b"hello").await;
        assert_eq!(body.unwrap(), "hello");
        assert_eq!(fed, Fed::Done);
        assert_eq!(seen, INTERIM_CONTINUE);
    }

    #[tokio::test]
    async fn a_truncated_body_is_an_error_for_the_handler() {
        let (body, fed, _) =
            feed_and_collect(BodyDecoder::new(Framing::Length(50)), false, b"short").await;
        assert!(body.unwrap_err().contains("unexpected EOF"));
        assert_eq!(fed, Fed::Broken);
    }

    #[test]
    fn a_dropped_body_abandons_the_feed() {
        let (client, mut server) = tokio::io::duplex(64);
        let (body, mut feeder) = RequestBody::streamed(BodyDecoder::new(Framing::Length(9)), false);
        drop(body);
        let waker = futures_util::task::noop_waker_ref();
        let mut cx = Context::from_waker(waker);
        let mut buf = BytesMut::new();
        assert_eq!(
            feeder.poll_feed(&mut cx, &mut server, &mut buf),
            Poll::Ready(Fed::Abandoned)
        );
        drop(client);
    }
}
