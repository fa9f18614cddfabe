//! A lean HTTP/1.1 client connection: the request is written and the response read by the
//! task that asked for it, with no connection task, no channel between them, and no buffer
//! held while the connection is idle in the pool.
//!
//! It covers what a gateway's backend exchange needs: in-memory request bodies (sized or one
//! chunk), responses framed by `Content-Length`, chunked transfer coding (trailers skipped) or
//! the connection's end, interim 1xx answers skipped, and Go's keep-alive rules. The head is
//! parsed with `httparse`, as hyper does; header values are slices of the read buffer.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{PathAndQuery, Scheme};
use http::{Method, Response, StatusCode, Uri, Version};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use hyper_rustls::MaybeHttpsStream;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::http1::fields::{RawFields, Span};
use crate::http1::framing::{self, BodyDecoder, Decoded, Framing};
use crate::http1::{wants_close_in, write_title_case};

/// The transport under a connection: TCP, or TLS over TCP. Plain TCP is tokio's stream
/// itself, read and written with no adapter between (hyper's I/O traits, which the TLS
/// connector speaks, cost two conversions per read).
pub enum Transport {
    /// `http`.
    Plain(TcpStream),
    /// `https`; boxed, a TLS session is large.
    Tls(Box<TokioIo<MaybeHttpsStream<TokioIo<TcpStream>>>>),
}

impl Transport {
    /// What the HTTPS-or-HTTP connector dialled.
    pub fn from_connector(stream: MaybeHttpsStream<TokioIo<TcpStream>>) -> Self {
        match stream {
            MaybeHttpsStream::Http(tcp) => Self::Plain(tcp.into_inner()),
            tls => Self::Tls(Box::new(TokioIo::new(tls))),
        }
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Self::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Self::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Self::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Self::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

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
    ) -> Result<(ResponseHead, ResponseBody), H1Error> {
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
            let status = head.status;
            // Interim answers (100 Continue, 103 Early Hints) precede the real one.
            if status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS {
                interim = true;
                continue;
            }
            let framing = framing_of(&method, &head)?;
            close |= closes(&head);
            break (head, framing);
        };
        close |= matches!(framing, Framing::UntilClose)
            || response.status == StatusCode::SWITCHING_PROTOCOLS;
        let decoder = BodyDecoder::new(framing);
        let body = ResponseBody {
            connection: Some(self),
            decoder,
            reusable: !close,
            done: decoder.is_done(),
            read_size: READ_CHUNK,
        };
        Ok((response, body))
    }

    /// Reads until a whole response head is buffered and takes it off the buffer.
    async fn read_head(&mut self) -> Result<ResponseHead, H1Error> {
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
            let n = if answered {
                self.read_buf.reserve(READ_CHUNK);
                std::future::poll_fn(|cx| {
                    tokio_util::io::poll_read_buf(Pin::new(&mut *self.io), cx, &mut self.read_buf)
                })
                .await?
            } else {
                self.read_first().await?
            };
            if n == 0 {
                return Err(H1Error::Incomplete { answered });
            }
        }
    }
}

impl H1Connection {
    /// A response's first read goes to the stack, and only what arrived is copied to the
    /// heap: a usual small response then takes a buffer of its own size, where reading in
    /// place would take a [`READ_CHUNK`] one per exchange.
    async fn read_first(&mut self) -> io::Result<usize> {
        std::future::poll_fn(|cx| {
            // Made per poll, so it is not kept in the future across the wait.
            let mut stack = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
            let mut read = tokio::io::ReadBuf::uninit(&mut stack);
            match Pin::new(&mut *self.io).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) => {
                    self.read_buf.extend_from_slice(read.filled());
                    Poll::Ready(Ok(read.filled().len()))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }
}

/// What a request head is made of, borrowed from the caller: nothing is cloned to encode it.
pub struct RequestHead<'a> {
    /// Method.
    pub method: &'a Method,
    /// The absolute URI: its path and query make the request line, its authority the `Host`
    /// header unless `headers` carry one.
    pub uri: &'a Uri,
    /// Headers, written in their order with names in Go's canonical case.
    pub headers: &'a HeaderMap,
    /// Names of `headers` left out (stripped, or replaced by `extra`).
    pub skip: &'a [HeaderName],
    /// Headers written after `headers`.
    pub extra: &'a [(HeaderName, HeaderValue)],
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
    /// Encodes `head` with the framing header `body` calls for.
    pub fn new(head: &RequestHead<'_>, body: OutgoingBody) -> Self {
        let mut writer = HeadWriter::new(head.method, head.uri, &body, head.headers.len());
        let written = head
            .headers
            .iter()
            .filter(|(name, _)| !head.skip.contains(name))
            .chain(head.extra.iter().map(|(name, value)| (name, value)));
        for (name, value) in written {
            writer.field(name, value.as_bytes());
        }
        writer.finish(head.method, head.uri, body)
    }
}

/// A request head being written: the request line (origin-form target), the fields as they
/// are given, names in Go's canonical case, `Host` when none was given, and the framing
/// header the body calls for. It also notes whether a `Connection` field asks to close.
pub struct HeadWriter {
    out: Vec<u8>,
    framed: bool,
    has_host: bool,
    close: bool,
}

impl HeadWriter {
    /// Starts the head of a request to `uri` with `body`, with room for about `fields`
    /// fields.
    pub fn new(method: &Method, uri: &Uri, body: &OutgoingBody, fields: usize) -> Self {
        let target = match uri.path_and_query().map(PathAndQuery::as_str) {
            Some(pq) if !pq.is_empty() => pq,
            _ => "/",
        };
        let mut out = Vec::with_capacity(96 + target.len() + fields * 40);
        out.extend_from_slice(method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        Self {
            out,
            framed: matches!(body, OutgoingBody::Sized(_) | OutgoingBody::Chunked(_)),
            has_host: false,
            close: false,
        }
    }

    /// Writes one field; a framed body's own framing header replaces any given one.
    pub fn field(&mut self, name: &HeaderName, value: &[u8]) {
        if self.admits(name, value) {
            write_title_case(&mut self.out, name.as_str());
            self.value(value);
        }
    }

    /// [`HeadWriter::field`] for a name whose canonical case is known already (`canonical`).
    pub fn field_named(&mut self, name: &HeaderName, canonical: &[u8], value: &[u8]) {
        debug_assert!(canonical.eq_ignore_ascii_case(name.as_str().as_bytes()));
        if self.admits(name, value) {
            self.out.extend_from_slice(canonical);
            self.value(value);
        }
    }

    /// Whether the field goes into the head, noting `Host` and `Connection: close`.
    fn admits(&mut self, name: &HeaderName, value: &[u8]) -> bool {
        if self.framed && (name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING) {
            return false;
        }
        if name == header::HOST {
            self.has_host = true;
        } else if name == header::CONNECTION {
            self.close |= crate::http1::lists_token([value], "close");
        }
        true
    }

    fn value(&mut self, value: &[u8]) {
        self.out.extend_from_slice(b": ");
        self.out.extend_from_slice(value);
        self.out.extend_from_slice(b"\r\n");
    }

    /// Ends the head (`Host` from `uri` when no field gave one, then the body's framing)
    /// and makes the request.
    pub fn finish(self, method: &Method, uri: &Uri, body: OutgoingBody) -> PreparedRequest {
        self.finish_with(method, HostLine::Of(uri), body)
    }

    /// [`HeadWriter::finish`] with the `Host` line given.
    pub fn finish_with(
        mut self,
        method: &Method,
        host: HostLine<'_>,
        body: OutgoingBody,
    ) -> PreparedRequest {
        if !self.has_host {
            match host {
                HostLine::Of(uri) => write_host(&mut self.out, uri),
                HostLine::Written(line) => self.out.extend_from_slice(line),
            }
        }
        match &body {
            OutgoingBody::Sized(bytes) => {
                self.out.extend_from_slice(b"Content-Length: ");
                self.out
                    .extend_from_slice(itoa::Buffer::new().format(bytes.len()).as_bytes());
                self.out.extend_from_slice(b"\r\n");
            }
            OutgoingBody::Chunked(_) => self
                .out
                .extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
            OutgoingBody::None => {}
        }
        self.out.extend_from_slice(b"\r\n");
        PreparedRequest {
            head: self.out,
            body,
            method: method.clone(),
            close: self.close,
        }
    }
}

/// Where a request head's `Host` line comes from.
#[derive(Clone, Copy)]
pub enum HostLine<'a> {
    /// The URI's authority.
    Of(&'a Uri),
    /// A line made before by [`host_line`] for the same URI's origin.
    Written(&'a [u8]),
}

/// The `Host` line [`HeadWriter::finish`] writes for a URI: `Host: host[:port]\r\n`.
pub fn host_line(uri: &Uri) -> Vec<u8> {
    let mut line = Vec::new();
    write_host(&mut line, uri);
    line
}

/// `Host: ` the URI's host, and its port unless it is the scheme's default. Read straight
/// off the authority's text, which the URI has already checked (`Uri::host` and
/// `Uri::port_u16` would each parse it again).
fn write_host(out: &mut Vec<u8>, uri: &Uri) {
    let Some(authority) = uri.authority() else {
        return;
    };
    // Byte searches: the authority is ASCII, and a few bytes long.
    let text = authority.as_str().as_bytes();
    let host_port = match text.iter().rposition(|&b| b == b'@') {
        Some(at) => &text[at + 1..],
        None => text,
    };
    // A colon after an IPv6 literal's `]`, or in a name, starts the port.
    let (host, port) = match host_port.iter().rposition(|&b| b == b':' || b == b']') {
        Some(colon) if host_port[colon] == b':' => (
            &host_port[..colon],
            std::str::from_utf8(&host_port[colon + 1..])
                .ok()
                .and_then(|p| p.parse::<u16>().ok()),
        ),
        _ => (host_port, None),
    };
    out.extend_from_slice(b"Host: ");
    out.extend_from_slice(host);
    let default_port = if uri.scheme() == Some(&Scheme::HTTPS) {
        443
    } else {
        80
    };
    if let Some(port) = port.filter(|&p| p != default_port) {
        out.push(b':');
        out.extend_from_slice(itoa::Buffer::new().format(port).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// Parses a buffered response head and splits it off `buf`; `None` while it is incomplete.
fn parse_head(buf: &mut BytesMut) -> Result<Option<ResponseHead>, H1Error> {
    // Left uninitialised: httparse writes the headers it finds (no 2 KiB memset per head).
    let mut inline = [const { MaybeUninit::uninit() }; INLINE_HEADERS];
    let mut many;
    let config = httparse::ParserConfig::default();
    let mut parsed = httparse::Response::new(&mut []);
    let mut result = config.parse_response_with_uninit_headers(&mut parsed, buf, &mut inline);
    if matches!(result, Err(httparse::Error::TooManyHeaders)) {
        many = vec![MaybeUninit::uninit(); 8192];
        parsed = httparse::Response::new(&mut []);
        result = config.parse_response_with_uninit_headers(&mut parsed, buf, &mut many);
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
    // Where each name and value lies in the head: the fields stay slices of the head's
    // bytes, as hyper keeps them, and no map is built unless a layer asks for one.
    let base = buf.as_ptr() as usize;
    let span = |part: &[u8]| {
        let start = part.as_ptr() as usize - base;
        (start, start + part.len())
    };
    let mut noted = Noted::default();
    for h in parsed.headers.iter() {
        noted.note(h.name.as_bytes());
    }
    let spans: Vec<Span> = parsed
        .headers
        .iter()
        .map(|h| Span::new(span(h.name.as_bytes()), span(h.value)))
        .collect();
    let head = buf.split_to(consumed).freeze();
    Ok(Some(ResponseHead {
        status,
        version,
        fields: RawFields::new(head, spans),
        noted,
    }))
}

/// A response head as it came: status, version, and the header fields as they were written.
#[derive(Debug)]
pub struct ResponseHead {
    /// Status.
    pub status: StatusCode,
    /// Version of the status line.
    pub version: Version,
    /// The header fields, in order, names as written.
    pub fields: RawFields,
    noted: Noted,
}

impl ResponseHead {
    /// The head as an `http` response, with room in its map for the few headers the
    /// gateway adds to a response it passes through.
    pub fn into_response(self) -> Result<Response<()>, H1Error> {
        let headers = self.fields.to_header_map(4).map_err(H1Error::Malformed)?;
        let mut response = Response::new(());
        *response.status_mut() = self.status;
        *response.version_mut() = self.version;
        *response.headers_mut() = headers;
        Ok(response)
    }
}

/// Which headers that framing and keep-alive depend on a head carries, noted while parsing it
/// so that a head without them needs no lookup.
#[derive(Debug, Default, Clone, Copy)]
struct Noted {
    transfer_encoding: bool,
    content_length: bool,
    connection: bool,
}

impl Noted {
    fn note(&mut self, name: &[u8]) {
        match name.len() {
            14 => self.content_length |= name.eq_ignore_ascii_case(b"content-length"),
            17 => self.transfer_encoding |= name.eq_ignore_ascii_case(b"transfer-encoding"),
            10 => self.connection |= name.eq_ignore_ascii_case(b"connection"),
            _ => {}
        }
    }
}

/// Whether the connection ends after this response: HTTP/1.0 closes unless kept alive,
/// HTTP/1.1 when `Connection: close`.
fn closes(head: &ResponseHead) -> bool {
    if head.noted.connection {
        wants_close_in(head.fields.get_all("connection"), head.version)
    } else {
        head.version == Version::HTTP_10
    }
}

fn framing_of(method: &Method, head: &ResponseHead) -> Result<Framing, H1Error> {
    let status = head.status;
    if method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Framing::Empty);
    }
    if head.noted.transfer_encoding {
        match framing::chunked_last_in(head.fields.get_all("transfer-encoding")) {
            Some(true) if head.version == Version::HTTP_11 => return Ok(Framing::CHUNKED),
            // A coding other than chunked last: the body runs to the end of the connection.
            Some(_) => return Ok(Framing::UntilClose),
            None => {}
        }
    }
    if !head.noted.content_length {
        return Ok(Framing::UntilClose);
    }
    Ok(
        match framing::content_length_in(head.fields.get_all("content-length"))
            .map_err(H1Error::Malformed)?
        {
            Some(0) => Framing::Empty,
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        },
    )
}

/// A response body read from its connection as the consumer polls.
pub struct ResponseBody {
    connection: Option<H1Connection>,
    decoder: BodyDecoder,
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

    /// Whether the body has been read to its end.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Ends the body; the connection, left mid-message or broken, is closed.
    fn end_and_close(&mut self) {
        self.connection = None;
        self.done = true;
    }
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
            let Some(conn) = this.connection.as_mut() else {
                this.done = true;
                return Poll::Ready(None);
            };
            let step = match this.decoder.step(&mut conn.read_buf) {
                Ok(step) => step,
                Err(e) => {
                    this.end_and_close();
                    return Poll::Ready(Some(Err(H1Error::Malformed(e))));
                }
            };
            match step {
                Decoded::Data(bytes) => {
                    this.done = this.decoder.is_done();
                    return Poll::Ready(Some(Ok(Frame::data(bytes))));
                }
                Decoded::End => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Decoded::ReadLine(buffered) if buffered > 64 * 1024 => {
                    this.end_and_close();
                    return Poll::Ready(Some(Err(H1Error::Malformed(
                        "chunk line too long".into(),
                    ))));
                }
                Decoded::Read | Decoded::ReadLine(_) => {
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
                            if this.decoder.until_close() {
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
        self.done || self.decoder.is_done()
    }

    fn size_hint(&self) -> SizeHint {
        match self.decoder.remaining() {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
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
    fn host_is_the_authority_without_credentials_or_a_default_port() {
        let cases = [
            ("http://127.0.0.1:18112/", "127.0.0.1:18112"),
            ("http://example.com:80/a", "example.com"),
            ("https://example.com:443/a", "example.com"),
            ("https://example.com:80/a", "example.com:80"),
            ("http://example.com:0443/a", "example.com:443"),
            ("http://user:pw@example.com:8080/a", "example.com:8080"),
            ("http://[::1]:8080/a", "[::1]:8080"),
            ("http://[::1]/a", "[::1]"),
            ("http://[::1]:80/a", "[::1]"),
            ("http://example.com/a", "example.com"),
        ];
        for (url, expected) in cases {
            let uri: Uri = url.parse().unwrap();
            let mut out = Vec::new();
            write_host(&mut out, &uri);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                format!("Host: {expected}\r\n")
            );
            // The same as the http crate's own reading of host and port.
            let default = if uri.scheme() == Some(&Scheme::HTTPS) {
                443
            } else {
                80
            };
            let theirs = match uri.port_u16().filter(|&p| p != default) {
                Some(p) => format!("{}:{p}", uri.host().unwrap()),
                None => uri.host().unwrap().to_string(),
            };
            assert_eq!(theirs, expected, "{url}");
        }
    }

    fn head(text: &str) -> ResponseHead {
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
        assert_eq!(framing_of(&get, &r).unwrap(), Framing::CHUNKED);
        let r = head("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(framing_of(&get, &r).unwrap(), Framing::UntilClose);
        let r = head("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(framing_of(&get, &r).unwrap(), Framing::Empty);
        let r = head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");
        assert!(framing_of(&get, &r).is_err());
    }

    fn encoded(head: &RequestHead<'_>, body: OutgoingBody) -> (String, bool) {
        let prepared = PreparedRequest::new(head, body);
        (String::from_utf8(prepared.head).unwrap(), prepared.close)
    }

    #[test]
    fn request_heads_carry_their_framing() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("h:1"));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("99"));
        let uri: Uri = "http://backend:8080/a?b=1".parse().unwrap();
        let head = RequestHead {
            method: &Method::POST,
            uri: &uri,
            headers: &headers,
            skip: &[],
            extra: &[],
        };
        let sized = OutgoingBody::Sized(Bytes::from_static(b"{}"));
        assert_eq!(
            encoded(&head, sized).0,
            "POST /a?b=1 HTTP/1.1\r\nHost: h:1\r\nContent-Length: 2\r\n\r\n"
        );
        let chunked = OutgoingBody::Chunked(Bytes::new());
        let text = encoded(&head, chunked).0;
        assert!(
            text.ends_with("Host: h:1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            "{text}"
        );
    }

    #[test]
    fn request_heads_skip_add_and_take_host_from_the_uri() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        headers.insert("x-kept", HeaderValue::from_static("k"));
        let extra = [(header::CONNECTION, HeaderValue::from_static("Close"))];
        let uri: Uri = "http://backend:8080".parse().unwrap();
        let head = RequestHead {
            method: &Method::GET,
            uri: &uri,
            headers: &headers,
            skip: &[header::COOKIE, header::CONNECTION],
            extra: &extra,
        };
        let (text, close) = encoded(&head, OutgoingBody::None);
        assert_eq!(
            text,
            "GET / HTTP/1.1\r\nX-Kept: k\r\nConnection: Close\r\nHost: backend:8080\r\n\r\n"
        );
        assert!(close, "Connection: close was not noticed");
        let kept = RequestHead {
            skip: &[],
            extra: &[],
            ..head
        };
        assert!(!encoded(&kept, OutgoingBody::None).1);

        for (uri, host) in [
            ("http://h:80/x", "h"),
            ("https://h:443/x", "h"),
            ("https://api.example:8443/x", "api.example:8443"),
            ("http://[::1]:9/x", "[::1]:9"),
        ] {
            let uri: Uri = uri.parse().unwrap();
            let head = RequestHead {
                uri: &uri,
                skip: &[],
                extra: &[],
                ..head
            };
            let text = encoded(&head, OutgoingBody::None).0;
            assert!(text.contains(&format!("\r\nHost: {host}\r\n")), "{text}");
        }
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection() {
        assert!(!closes(&head(
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        )));
        assert!(closes(&head(
            "HTTP/1.1 200 OK\r\nconnection: Close\r\n\r\n"
        )));
        assert!(closes(&head(
            "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"
        )));
        assert!(!closes(&head(
            "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n"
        )));
        let many: String = (0..100).map(|i| format!("X-H{i}: {i}\r\n")).collect();
        let big = head(&format!(
            "HTTP/1.1 200 OK\r\n{many}Content-Length: 3\r\nConnection: close\r\n\r\n"
        ));
        assert_eq!(big.fields.len(), 102);
        assert_eq!(big.fields.get("x-h99"), Some(&b"99"[..]));
        assert_eq!(framing_of(&Method::GET, &big).unwrap(), Framing::Length(3));
        assert!(closes(&big));
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
        H1Connection::new(Transport::Plain(tcp))
    }

    async fn exchange(
        conn: H1Connection,
        method: Method,
    ) -> Result<(Response<()>, Bytes, Option<H1Connection>), H1Error> {
        use http_body_util::BodyExt;
        let uri = Uri::from_static("http://test/");
        let head = RequestHead {
            method: &method,
            uri: &uri,
            headers: &HeaderMap::new(),
            skip: &[],
            extra: &[],
        };
        let (head, mut body) = conn
            .send(PreparedRequest::new(&head, OutgoingBody::None))
            .await?;
        let mut data = Vec::new();
        while let Some(frame) = body.frame().await {
            data.extend_from_slice(&frame?.into_data().unwrap());
        }
        let again = body.take_reusable();
        Ok((head.into_response()?, data.into(), again))
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
        let uri = Uri::from_static("http://test/");
        let head = RequestHead {
            method: &Method::GET,
            uri: &uri,
            headers: &HeaderMap::new(),
            skip: &[],
            extra: &[],
        };
        let (_, mut response) = connect(addr)
            .await
            .send(PreparedRequest::new(&head, OutgoingBody::None))
            .await
            .unwrap();
        let (mut received, mut frames) = (Vec::new(), 0);
        while let Some(frame) = response.frame().await {
            received.extend_from_slice(&frame.unwrap().into_data().unwrap());
            frames += 1;
        }
        assert!(received == body, "the body was corrupted");
        // 4 KiB reads throughout would take at least 733 frames.
        assert!(frames < 400, "{frames} frames: the reads did not grow");
        assert!(response.take_reusable().is_some());
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
