//! A lean HTTP/1.1 client connection: the request is written and the response read by the
//! task that asked for it, with no connection task, no channel between them, and no buffer
//! held while the connection is idle in the pool.
//!
//! It covers what a gateway's backend exchange needs: in-memory request bodies (sized or one
//! chunk), responses framed by `Content-Length`, chunked transfer coding (trailers skipped) or
//! the connection's end, interim 1xx answers skipped, and Go's keep-alive rules. The head is
//! parsed with `httparse`, as hyper does; header values are slices of the read buffer.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use hyper_rustls::MaybeHttpsStream;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::net::TcpStream;

/// The transport under a connection: TCP, or TLS over TCP.
pub type Transport = TokioIo<MaybeHttpsStream<TokioIo<TcpStream>>>;

/// Go's `http.Transport.MaxResponseHeaderBytes` default: 10 MiB.
pub const MAX_RESPONSE_HEAD: usize = 10 << 20;
/// The first read of a response asks for this much.
const READ_CHUNK: usize = 4096;
/// A body's reads double while they fill their buffer, up to this size.
const MAX_READ_CHUNK: usize = 256 * 1024;
/// Header lines parsed without allocating.
const INLINE_HEADERS: usize = 64;

/// A request body, held in memory as the gateway's backend requests are.
#[derive(Debug, Clone, Default)]
pub enum OutgoingBody {
    /// No body and no framing header.
    #[default]
    None,
    /// `Content-Length` and the bytes.
    Sized(Bytes),
    /// `Transfer-Encoding: chunked`, the bytes as one chunk.
    Chunked(Bytes),
}

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum H1Error {
    /// Reading or writing the connection failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The connection ended before a complete response.
    #[error("server closed the connection before a complete response")]
    Incomplete {
        /// Whether any byte of the response had arrived.
        answered: bool,
    },
    /// The response was not valid HTTP/1.x.
    #[error("malformed HTTP response: {0}")]
    Malformed(String),
    /// The response head went past [`MAX_RESPONSE_HEAD`].
    #[error("net/http: server response headers exceeded {MAX_RESPONSE_HEAD} bytes; aborted")]
    HeadTooLarge,
}

impl H1Error {
    /// The connection broke before any byte of an answer: the backend had closed it.
    pub fn closed_before_answer(&self) -> bool {
        match self {
            Self::Incomplete { answered } => !answered,
            Self::Io(e) => matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
            ),
            _ => false,
        }
    }
}

/// One HTTP/1.1 connection to a backend.
pub struct H1Connection {
    /// Boxed: a TLS session is large, and connections move in and out of the pool.
    io: Box<Transport>,
    /// Bytes read past the current message; empty (no allocation) between exchanges.
    read_buf: BytesMut,
}

impl H1Connection {
    /// Wraps a connected transport.
    pub fn new(io: Transport) -> Self {
        Self {
            io: Box::new(io),
            read_buf: BytesMut::new(),
        }
    }

    /// Whether an idle connection is still usable: no end, error or stray bytes pending.
    pub fn is_reusable(&mut self) -> bool {
        let waker = futures_util::task::noop_waker_ref();
        let mut cx = Context::from_waker(waker);
        let mut probe = [0u8; 1];
        let mut buf = tokio::io::ReadBuf::new(&mut probe);
        matches!(
            Pin::new(&mut *self.io).poll_read(&mut cx, &mut buf),
            Poll::Pending
        )
    }

    /// Writes `request` and reads the response head. The body owns the connection;
    /// [`ResponseBody::take_reusable`] hands it back when reusable.
    pub async fn send(
        mut self,
        request: PreparedRequest,
    ) -> Result<Response<ResponseBody>, H1Error> {
        let PreparedRequest {
            head,
            body,
            method,
            mut close,
        } = request;
        match &body {
            OutgoingBody::Sized(bytes) if !bytes.is_empty() && bytes.len() <= 4096 => {
                let mut all = head;
                all.extend_from_slice(bytes);
                self.io.write_all(&all).await?;
            }
            OutgoingBody::Sized(bytes) => {
                self.io.write_all(&head).await?;
                self.io.write_all(bytes).await?;
            }
            OutgoingBody::Chunked(bytes) => {
                let mut all = head;
                if !bytes.is_empty() {
                    all.extend_from_slice(format!("{:x}\r\n", bytes.len()).as_bytes());
                    all.extend_from_slice(bytes);
                    all.extend_from_slice(b"\r\n");
                }
                all.extend_from_slice(b"0\r\n\r\n");
                self.io.write_all(&all).await?;
            }
            OutgoingBody::None => self.io.write_all(&head).await?,
        }
        self.io.flush().await?;

        let mut interim = false;
        let (response, framing) = loop {
            let head = match self.read_head().await {
                Ok(head) => head,
                // After an interim answer the backend has answered, even if it then failed.
                Err(H1Error::Incomplete { .. }) if interim => {
                    return Err(H1Error::Incomplete { answered: true })
                }
                Err(e) => return Err(e),
            };
            let status = head.status();
            // Interim answers (100 Continue, 103 Early Hints) precede the real one.
            if status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS {
                interim = true;
                continue;
            }
            let framing = framing_of(&method, &head)?;
            break (head, framing);
        };
        close |= wants_close(response.headers(), response.version())
            || matches!(framing, Framing::UntilClose)
            || response.status() == StatusCode::SWITCHING_PROTOCOLS;
        let mut body = ResponseBody {
            connection: Some(self),
            framing,
            reusable: !close,
            done: false,
            read_size: READ_CHUNK,
        };
        body.settle();
        Ok(response.map(|()| body))
    }

    /// Reads until a whole response head is buffered and takes it off the buffer.
    async fn read_head(&mut self) -> Result<Response<()>, H1Error> {
        loop {
            if !self.read_buf.is_empty() {
                if let Some(parsed) = parse_head(&mut self.read_buf)? {
                    return Ok(parsed);
                }
                if self.read_buf.len() > MAX_RESPONSE_HEAD {
                    return Err(H1Error::HeadTooLarge);
                }
            }
            let answered = !self.read_buf.is_empty();
            self.read_buf.reserve(READ_CHUNK);
            let n = std::future::poll_fn(|cx| {
                tokio_util::io::poll_read_buf(Pin::new(&mut *self.io), cx, &mut self.read_buf)
            })
            .await?;
            if n == 0 {
                return Err(H1Error::Incomplete { answered });
            }
        }
    }
}

/// A request encoded for the wire: what an exchange needs of it, and nothing more to carry
/// across its awaits.
pub struct PreparedRequest {
    head: Vec<u8>,
    body: OutgoingBody,
    method: Method,
    close: bool,
}

impl PreparedRequest {
    /// Encodes `request` (origin-form URI, `Host` set).
    pub fn new(request: Request<OutgoingBody>) -> Self {
        let (parts, body) = request.into_parts();
        Self {
            head: encode_head(&parts.method, &parts.uri, &parts.headers, &body),
            close: wants_close(&parts.headers, parts.version),
            method: parts.method,
            body,
        }
    }
}

/// Whether these headers (and HTTP version) end the connection after this exchange.
fn wants_close(headers: &HeaderMap, version: Version) -> bool {
    let has = |token: &str| {
        headers.get_all(header::CONNECTION).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if version == Version::HTTP_10 {
        !has("keep-alive")
    } else {
        has("close")
    }
}

/// The request line and headers, names in Go's canonical case, plus the framing header.
fn encode_head(
    method: &Method,
    uri: &http::Uri,
    headers: &HeaderMap,
    body: &OutgoingBody,
) -> Vec<u8> {
    let path = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let mut out = Vec::with_capacity(64 + path.len() + headers.len() * 32);
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        if matches!(body, OutgoingBody::Sized(_) | OutgoingBody::Chunked(_))
            && (name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING)
        {
            continue;
        }
        write_title_case(&mut out, name.as_str());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    match body {
        OutgoingBody::Sized(bytes) => {
            out.extend_from_slice(format!("Content-Length: {}\r\n", bytes.len()).as_bytes());
        }
        OutgoingBody::Chunked(_) => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        OutgoingBody::None => {}
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// `x-forwarded-for` -> `X-Forwarded-For`.
fn write_title_case(out: &mut Vec<u8>, name: &str) {
    let mut upper = true;
    for &b in name.as_bytes() {
        out.push(if upper { b.to_ascii_uppercase() } else { b });
        upper = b == b'-';
    }
}

/// Parses a buffered response head and splits it off `buf`; `None` while it is incomplete.
fn parse_head(buf: &mut BytesMut) -> Result<Option<Response<()>>, H1Error> {
    let mut inline = [httparse::EMPTY_HEADER; INLINE_HEADERS];
    let mut many;
    let mut parsed = httparse::Response::new(&mut inline);
    let mut result = parsed.parse(buf);
    if matches!(result, Err(httparse::Error::TooManyHeaders)) {
        many = vec![httparse::EMPTY_HEADER; 8192];
        parsed = httparse::Response::new(&mut many);
        result = parsed.parse(buf);
    }
    let consumed = match result {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(H1Error::Malformed(e.to_string())),
    };
    let status = StatusCode::from_u16(parsed.code.unwrap_or(0))
        .map_err(|e| H1Error::Malformed(e.to_string()))?;
    let version = if parsed.version == Some(0) {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    // Header values stay slices of the head's bytes, as hyper keeps them.
    let base = buf.as_ptr() as usize;
    let ranges: Vec<(HeaderName, std::ops::Range<usize>)> = parsed
        .headers
        .iter()
        .map(|h| {
            let name = HeaderName::from_bytes(h.name.as_bytes())
                .map_err(|e| H1Error::Malformed(format!("header name {:?}: {e}", h.name)))?;
            let start = h.value.as_ptr() as usize - base;
            Ok((name, start..start + h.value.len()))
        })
        .collect::<Result<_, H1Error>>()?;
    let head = buf.split_to(consumed).freeze();
    let mut headers = HeaderMap::with_capacity(ranges.len());
    for (name, range) in ranges {
        let value = HeaderValue::from_maybe_shared(head.slice(range))
            .map_err(|e| H1Error::Malformed(e.to_string()))?;
        headers.append(name, value);
    }
    let mut response = Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = version;
    *response.headers_mut() = headers;
    Ok(Some(response))
}

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No body.
    Empty,
    /// This many bytes remain.
    Length(u64),
    /// Chunked transfer coding, in the given state.
    Chunked(Chunk),
    /// Until the backend closes the connection.
    UntilClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// This many data bytes remain in the current chunk.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines until an empty one.
    Trailers,
}

fn framing_of(method: &Method, response: &Response<()>) -> Result<Framing, H1Error> {
    let status = response.status();
    if method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Framing::Empty);
    }
    let headers = response.headers();
    let chunked = headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .rfind(|t| !t.is_empty())
        .map(|last| last.eq_ignore_ascii_case("chunked"));
    match chunked {
        Some(true) if response.version() == Version::HTTP_11 => {
            return Ok(Framing::Chunked(Chunk::Size))
        }
        // A coding other than chunked last: the body runs to the end of the connection.
        Some(_) => return Ok(Framing::UntilClose),
        None => {}
    }
    let mut length: Option<u64> = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        for part in value.to_str().unwrap_or("x").split(',') {
            let n: u64 = part
                .trim()
                .parse()
                .map_err(|_| H1Error::Malformed(format!("bad Content-Length {value:?}")))?;
            if length.is_some_and(|l| l != n) {
                return Err(H1Error::Malformed("conflicting Content-Length".into()));
            }
            length = Some(n);
        }
    }
    Ok(match length {
        Some(0) => Framing::Empty,
        Some(n) => Framing::Length(n),
        None => Framing::UntilClose,
    })
}

/// A response body read from its connection as the consumer polls.
pub struct ResponseBody {
    connection: Option<H1Connection>,
    framing: Framing,
    reusable: bool,
    done: bool,
    /// The next read's size: small bodies take one small buffer, large ones few reads.
    read_size: usize,
}

impl ResponseBody {
    /// The connection back once the body has ended cleanly and may carry another exchange;
    /// `None` otherwise (it is then closed on drop).
    pub fn take_reusable(&mut self) -> Option<H1Connection> {
        if !(self.done && self.reusable) {
            return None;
        }
        let mut connection = self.connection.take()?;
        if !connection.read_buf.is_empty() {
            return None;
        }
        // Idle connections hold no buffer.
        connection.read_buf = BytesMut::new();
        Some(connection)
    }

    /// Marks an empty body done at once.
    fn settle(&mut self) {
        if self.framing == Framing::Empty {
            self.done = true;
        }
    }

    /// Whether the body has been read to its end.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Ends the body; the connection, left mid-message or broken, is closed.
    fn end_and_close(&mut self) {
        self.connection = None;
        self.done = true;
    }

    /// The next piece of data from the buffer, or what to read next.
    fn step(&mut self) -> Result<Step, H1Error> {
        let Some(conn) = self.connection.as_mut() else {
            return Ok(Step::End);
        };
        let buf = &mut conn.read_buf;
        loop {
            match self.framing {
                Framing::Empty => return Ok(Step::End),
                Framing::Length(0) => {
                    self.framing = Framing::Empty;
                }
                Framing::Length(remaining) => {
                    if buf.is_empty() {
                        return Ok(Step::Read);
                    }
                    let n = remaining.min(buf.len() as u64);
                    self.framing = Framing::Length(remaining - n);
                    return Ok(Step::Data(buf.split_to(n as usize).freeze()));
                }
                Framing::UntilClose => {
                    if buf.is_empty() {
                        return Ok(Step::Read);
                    }
                    return Ok(Step::Data(buf.split().freeze()));
                }
                Framing::Chunked(Chunk::Size) => {
                    let Some(line_end) = find_crlf(buf) else {
                        return Ok(Step::ReadLine(buf.len()));
                    };
                    let line = &buf[..line_end];
                    let size_text = line.split(|&b| b == b';').next().unwrap_or(b"");
                    let size_text = std::str::from_utf8(size_text)
                        .map_err(|_| H1Error::Malformed("bad chunk size".into()))?
                        .trim();
                    let size = u64::from_str_radix(size_text, 16)
                        .map_err(|_| H1Error::Malformed(format!("bad chunk size {size_text:?}")))?;
                    buf.advance(line_end + 2);
                    self.framing = Framing::Chunked(if size == 0 {
                        Chunk::Trailers
                    } else {
                        Chunk::Data(size)
                    });
                }
                Framing::Chunked(Chunk::Data(remaining)) => {
                    if buf.is_empty() {
                        return Ok(Step::Read);
                    }
                    let n = remaining.min(buf.len() as u64);
                    self.framing = Framing::Chunked(if n == remaining {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(remaining - n)
                    });
                    return Ok(Step::Data(buf.split_to(n as usize).freeze()));
                }
                Framing::Chunked(Chunk::DataEnd) => {
                    if buf.len() < 2 {
                        return Ok(Step::Read);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(H1Error::Malformed("missing CRLF after chunk".into()));
                    }
                    buf.advance(2);
                    self.framing = Framing::Chunked(Chunk::Size);
                }
                Framing::Chunked(Chunk::Trailers) => {
                    let Some(line_end) = find_crlf(buf) else {
                        return Ok(Step::ReadLine(buf.len()));
                    };
                    buf.advance(line_end + 2);
                    if line_end == 0 {
                        self.framing = Framing::Empty;
                    }
                }
            }
        }
    }
}

enum Step {
    Data(Bytes),
    Read,
    /// A line is incomplete with this many bytes buffered.
    ReadLine(usize),
    End,
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

impl HttpBody for ResponseBody {
    type Data = Bytes;
    type Error = H1Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, H1Error>>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            let step = match this.step() {
                Ok(step) => step,
                Err(e) => {
                    this.end_and_close();
                    return Poll::Ready(Some(Err(e)));
                }
            };
            match step {
                Step::Data(bytes) => {
                    if this.framing == Framing::Empty || this.framing == Framing::Length(0) {
                        this.framing = Framing::Empty;
                        this.done = true;
                    }
                    return Poll::Ready(Some(Ok(Frame::data(bytes))));
                }
                Step::End => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Step::ReadLine(buffered) if buffered > 64 * 1024 => {
                    this.end_and_close();
                    return Poll::Ready(Some(Err(H1Error::Malformed(
                        "chunk line too long".into(),
                    ))));
                }
                Step::Read | Step::ReadLine(_) => {
                    let Some(conn) = this.connection.as_mut() else {
                        this.done = true;
                        return Poll::Ready(None);
                    };
                    conn.read_buf.reserve(this.read_size);
                    let read = tokio_util::io::poll_read_buf(
                        Pin::new(&mut *conn.io),
                        cx,
                        &mut conn.read_buf,
                    );
                    match read {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(e)) => {
                            this.end_and_close();
                            return Poll::Ready(Some(Err(e.into())));
                        }
                        Poll::Ready(Ok(0)) => {
                            this.end_and_close();
                            if this.framing == Framing::UntilClose {
                                return Poll::Ready(None);
                            }
                            return Poll::Ready(Some(Err(H1Error::Incomplete { answered: true })));
                        }
                        Poll::Ready(Ok(n)) => {
                            if n >= this.read_size {
                                this.read_size = (this.read_size * 2).min(MAX_READ_CHUNK);
                            }
                        }
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.framing == Framing::Empty
    }

    fn size_hint(&self) -> SizeHint {
        match self.framing {
            Framing::Empty => SizeHint::with_exact(0),
            Framing::Length(n) => SizeHint::with_exact(n),
            _ => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_cheap_to_move() {
        assert!(std::mem::size_of::<H1Connection>() <= 64);
    }

    #[test]
    fn header_names_go_out_in_canonical_case() {
        let mut out = Vec::new();
        write_title_case(&mut out, "x-forwarded-for");
        assert_eq!(out, b"X-Forwarded-For");
    }

    fn head(text: &str) -> Response<()> {
        let mut buf = BytesMut::from(text.as_bytes());
        parse_head(&mut buf).unwrap().unwrap()
    }

    #[test]
    fn framing_follows_rfc_9112() {
        let get = Method::GET;
        let r = head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(framing_of(&get, &r).unwrap(), Framing::Length(5));
        assert_eq!(framing_of(&Method::HEAD, &r).unwrap(), Framing::Empty);
        let r = head(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n\r\n",
        );
        assert_eq!(framing_of(&get, &r).unwrap(), Framing::Chunked(Chunk::Size));
        let r = head("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(framing_of(&get, &r).unwrap(), Framing::UntilClose);
        let r = head("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(framing_of(&get, &r).unwrap(), Framing::Empty);
        let r = head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");
        assert!(framing_of(&get, &r).is_err());
    }

    #[test]
    fn keep_alive_rules_follow_the_version() {
        let mut h = HeaderMap::new();
        assert!(!wants_close(&h, Version::HTTP_11));
        assert!(wants_close(&h, Version::HTTP_10));
        h.insert(header::CONNECTION, HeaderValue::from_static("Keep-Alive"));
        assert!(!wants_close(&h, Version::HTTP_10));
        h.insert(header::CONNECTION, HeaderValue::from_static("foo, close"));
        assert!(wants_close(&h, Version::HTTP_11));
    }

    #[test]
    fn request_heads_carry_their_framing() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("h:1"));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("99"));
        let uri: http::Uri = "/a?b=1".parse().unwrap();
        let sized = OutgoingBody::Sized(Bytes::from_static(b"{}"));
        let text = String::from_utf8(encode_head(&Method::POST, &uri, &headers, &sized)).unwrap();
        assert_eq!(
            text,
            "POST /a?b=1 HTTP/1.1\r\nHost: h:1\r\nContent-Length: 2\r\n\r\n"
        );
        let chunked = OutgoingBody::Chunked(Bytes::new());
        let text = String::from_utf8(encode_head(&Method::PUT, &uri, &headers, &chunked)).unwrap();
        assert!(
            text.ends_with("Host: h:1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            "{text}"
        );
    }

    #[test]
    fn malformed_heads_are_errors() {
        let mut buf = BytesMut::from(&b"HTTP/1.1 abc\r\n\r\n"[..]);
        assert!(parse_head(&mut buf).is_err());
        let mut partial = BytesMut::from(&b"HTTP/1.1 200 OK\r\nA: b"[..]);
        assert!(parse_head(&mut partial).unwrap().is_none());
    }

    /// A backend that answers each request on one connection with the next scripted reply,
    /// written in pieces; returns its address.
    async fn scripted(replies: Vec<Vec<&'static [u8]>>) -> std::net::SocketAddr {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut pending = Vec::new();
            let mut buf = [0u8; 4096];
            for reply in replies {
                while !pending.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = stream.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    pending.extend_from_slice(&buf[..n]);
                }
                let end = pending.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
                pending.drain(..end + 4);
                for piece in reply {
                    stream.write_all(piece).await.unwrap();
                    stream.flush().await.unwrap();
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            }
        });
        addr
    }

    async fn connect(addr: std::net::SocketAddr) -> H1Connection {
        let tcp = TcpStream::connect(addr).await.unwrap();
        H1Connection::new(TokioIo::new(MaybeHttpsStream::Http(TokioIo::new(tcp))))
    }

    async fn exchange(
        conn: H1Connection,
        method: Method,
    ) -> Result<(Response<()>, Bytes, Option<H1Connection>), H1Error> {
        use http_body_util::BodyExt;
        let mut request = Request::new(OutgoingBody::None);
        *request.method_mut() = method;
        request
            .headers_mut()
            .insert(header::HOST, HeaderValue::from_static("test"));
        let response = conn.send(PreparedRequest::new(request)).await?;
        let (parts, mut body) = response.into_parts();
        let mut data = Vec::new();
        while let Some(frame) = body.frame().await {
            data.extend_from_slice(&frame?.into_data().unwrap());
        }
        let again = body.take_reusable();
        Ok((Response::from_parts(parts, ()), data.into(), again))
    }

    #[tokio::test]
    async fn chunked_and_split_bodies_are_reassembled_and_the_connection_reused() {
        let addr = scripted(vec![
            vec![
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n",
                b"X-A: 1\r\n\r\n5\r\nhel",
                b"lo\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n",
                b"\r\n",
            ],
            vec![
                b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234",
                b"56789",
            ],
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"],
            vec![b"HTTP/1.0 200 OK\r\n\r\nuntil ", b"the end"],
        ])
        .await;
        let conn = connect(addr).await;
        let (head, body, again) = exchange(conn, Method::GET).await.unwrap();
        assert_eq!(head.headers()["x-a"], "1");
        assert_eq!(body, "hello world");
        let (_, body, again) = exchange(again.expect("reusable after chunked"), Method::GET)
            .await
            .unwrap();
        assert_eq!(body, "0123456789");
        let (head, body, again) = exchange(again.expect("reusable"), Method::HEAD)
            .await
            .unwrap();
        assert_eq!(head.status(), 200);
        assert!(body.is_empty());
        let (_, body, again) = exchange(again.expect("reusable after HEAD"), Method::GET)
            .await
            .unwrap();
        assert_eq!(body, "until the end");
        assert!(again.is_none(), "a body delimited by the close was reused");
    }

    #[tokio::test]
    async fn a_large_body_arrives_whole_in_growing_reads() {
        use http_body_util::BodyExt;
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
        let head: &'static [u8] = Box::leak(head.into_bytes().into_boxed_slice());
        let payload: &'static [u8] = Box::leak(body.clone().into_boxed_slice());
        let addr = scripted(vec![vec![head, payload]]).await;
        let mut request = Request::new(OutgoingBody::None);
        request
            .headers_mut()
            .insert(header::HOST, HeaderValue::from_static("test"));
        let mut response = connect(addr)
            .await
            .send(PreparedRequest::new(request))
            .await
            .unwrap();
        let (mut received, mut frames) = (Vec::new(), 0);
        while let Some(frame) = response.body_mut().frame().await {
            received.extend_from_slice(&frame.unwrap().into_data().unwrap());
            frames += 1;
        }
        assert!(received == body, "the body was corrupted");
        // 4 KiB reads throughout would take at least 733 frames.
        assert!(frames < 400, "{frames} frames: the reads did not grow");
        assert!(response.body_mut().take_reusable().is_some());
    }

    #[tokio::test]
    async fn a_truncated_body_and_a_bad_chunk_are_errors() {
        let addr = scripted(vec![vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        ]])
        .await;
        let error = exchange(connect(addr).await, Method::GET)
            .await
            .err()
            .unwrap();
        assert!(
            matches!(error, H1Error::Incomplete { answered: true }),
            "{error}"
        );

        let addr = scripted(vec![vec![
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ]])
        .await;
        let error = exchange(connect(addr).await, Method::GET)
            .await
            .err()
            .unwrap();
        assert!(matches!(error, H1Error::Malformed(_)), "{error}");

        let addr = scripted(vec![vec![]]).await;
        let error = exchange(connect(addr).await, Method::GET)
            .await
            .err()
            .unwrap();
        assert!(error.closed_before_answer(), "{error}");

        // An interim answer counts: the request reached the backend.
        let addr = scripted(vec![vec![b"HTTP/1.1 100 Continue\r\n\r\n"]]).await;
        let error = exchange(connect(addr).await, Method::GET)
            .await
            .err()
            .unwrap();
        assert!(!error.closed_before_answer(), "{error}");
    }
}
