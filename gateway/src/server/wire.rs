//! The HTTP/1.x wire format on the server side: request heads parsed with `httparse` (the
//! target and header values copied into one buffer of their own, so the read buffer is free
//! again at once), response heads encoded with names in Go's canonical case, and the answers
//! Go's server gives to requests it cannot parse.

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, StatusCode, Uri, Version};

use crate::http1::fields::WireField;
use crate::http1::framing::{self, Framing};
use crate::http1::{wants_close, write_canonical, write_title_case};

/// Header lines parsed without allocating.
const INLINE_HEADERS: usize = 64;
/// The most header lines a request may have (hyper's server allowed 100); more is answered
/// as a head too large. It bounds the parser's scratch space at 256 KiB.
const MAX_HEADERS: usize = 8192;

/// A parsed request head and what the connection needs to know about its message.
#[derive(Debug)]
pub struct RequestHead {
    /// Method, target, version and headers.
    pub request: Request<()>,
    /// How its body is delimited.
    pub framing: Framing,
    /// The client waits for `100 Continue` before sending the body.
    pub expect_continue: bool,
    /// The client asked to close the connection after this exchange.
    pub close: bool,
}

/// A request the server answers itself, then closes the connection, as Go's does.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejection {
    /// `400 Bad Request`, with Go's reason when it gives one.
    BadRequest(&'static str),
    /// The head went past the limit: `431 Request Header Fields Too Large`.
    HeadTooLarge,
    /// A transfer coding other than chunked: `501 Not Implemented`.
    UnsupportedTransferEncoding,
    /// Not HTTP/1.0 or 1.1: `505 HTTP Version Not Supported`.
    UnsupportedVersion,
}

impl Rejection {
    /// The whole answer as Go's server writes it: plain text, `Connection: close`; a reason
    /// goes into the status line and the body alike.
    pub fn response(&self) -> Vec<u8> {
        let (status, reason) = match self {
            Self::BadRequest(why) => ("400 Bad Request", *why),
            Self::HeadTooLarge => ("431 Request Header Fields Too Large", ""),
            Self::UnsupportedTransferEncoding => {
                return b"HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nUnsupported transfer encoding".to_vec();
            }
            Self::UnsupportedVersion => (
                "505 HTTP Version Not Supported",
                "unsupported protocol version",
            ),
        };
        let line = if reason.is_empty() {
            status.to_string()
        } else {
            format!("{status}: {reason}")
        };
        format!(
            "HTTP/1.1 {line}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n{line}"
        )
        .into_bytes()
    }
}

/// Parses a buffered request head and takes it off `buf`; `None` while it is incomplete.
pub fn parse_request_head(buf: &mut BytesMut) -> Result<Option<RequestHead>, Rejection> {
    // Go skips empty lines before a request line (RFC 9112 section 2.2).
    while buf.starts_with(b"\r\n") {
        buf.advance(2);
    }
    while buf.starts_with(b"\n") {
        buf.advance(1);
    }
    // Left uninitialised: httparse writes the headers it finds (no 2 KiB memset per head).
    let mut inline = [const { MaybeUninit::uninit() }; INLINE_HEADERS];
    let mut many;
    let mut parsed = httparse::Request::new(&mut []);
    let mut result = parsed.parse_with_uninit_headers(buf, &mut inline);
    if matches!(result, Err(httparse::Error::TooManyHeaders)) {
        many = vec![MaybeUninit::uninit(); MAX_HEADERS];
        parsed = httparse::Request::new(&mut []);
        result = parsed.parse_with_uninit_headers(buf, &mut many);
    }
    let consumed = match result {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::Version) => return Err(Rejection::UnsupportedVersion),
        Err(httparse::Error::TooManyHeaders) => return Err(Rejection::HeadTooLarge),
        Err(_) => return Err(Rejection::BadRequest("")),
    };
    let version = match parsed.version {
        Some(0) => Version::HTTP_10,
        Some(1) => Version::HTTP_11,
        _ => return Err(Rejection::UnsupportedVersion),
    };
    let method = Method::from_bytes(parsed.method.unwrap_or("").as_bytes())
        .map_err(|_| Rejection::BadRequest("invalid method"))?;
    let target = parsed.path.unwrap_or("");

    // The target and every header value go into one buffer of their own.
    let values_len: usize = parsed.headers.iter().map(|h| h.value.len()).sum();
    let mut own = BytesMut::with_capacity(target.len() + values_len);
    own.put_slice(target.as_bytes());
    for h in parsed.headers.iter() {
        own.put_slice(h.value);
    }
    let mut own = own.freeze();
    let uri = Uri::from_maybe_shared(own.split_to(target.len()))
        .map_err(|_| Rejection::BadRequest("invalid request target"))?;
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    // One pass notes the headers that matter to the connection; most requests have none
    // but Host, and skip the lookups below.
    let (mut hosts, mut framed, mut expect, mut connection) = (0, false, false, false);
    for h in parsed.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| Rejection::BadRequest("invalid header name"))?;
        let value = HeaderValue::from_maybe_shared(own.split_to(h.value.len()))
            .map_err(|_| Rejection::BadRequest("invalid header value"))?;
        if name == header::HOST {
            hosts += 1;
        } else if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
            framed = true;
        } else if name == header::EXPECT {
            expect = true;
        } else if name == header::CONNECTION {
            connection = true;
        }
        headers.append(name, value);
    }
    buf.advance(consumed);

    if version == Version::HTTP_11 && hosts == 0 {
        return Err(Rejection::BadRequest("missing required Host header"));
    }
    if hosts > 1 {
        return Err(Rejection::BadRequest("too many Host headers"));
    }
    let framing = if !framed {
        Framing::Empty
    } else {
        framing_of_request(&mut headers, version)?
    };
    let expect_continue = expect
        && version == Version::HTTP_11
        && headers
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let close = if connection {
        wants_close(&headers, version)
    } else {
        version == Version::HTTP_10
    };
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = headers;
    Ok(Some(RequestHead {
        request,
        framing,
        expect_continue,
        close,
    }))
}

/// RFC 9112 section 6.3 for a request that has `Transfer-Encoding` or `Content-Length`, as
/// Go reads it: `Transfer-Encoding` is dropped from the head; on HTTP/1.0 it is ignored, on
/// HTTP/1.1 it must be exactly `chunked` and overrides `Content-Length`.
fn framing_of_request(headers: &mut HeaderMap, version: Version) -> Result<Framing, Rejection> {
    let only_chunked = match headers.entry(header::TRANSFER_ENCODING) {
        header::Entry::Occupied(entry) => {
            let (_, mut values) = entry.remove_entry_mult();
            Some(match (values.next(), values.next()) {
                (Some(v), None) => v.as_bytes().eq_ignore_ascii_case(b"chunked"),
                _ => false,
            })
        }
        header::Entry::Vacant(_) => None,
    };
    if let Some(only_chunked) = only_chunked {
        if version == Version::HTTP_11 {
            if !only_chunked {
                return Err(Rejection::UnsupportedTransferEncoding);
            }
            headers.remove(header::CONTENT_LENGTH);
            return Ok(Framing::CHUNKED);
        }
    }
    match framing::content_length(headers) {
        Ok(Some(0) | None) => Ok(Framing::Empty),
        Ok(Some(n)) => Ok(Framing::Length(n)),
        Err(_) => Err(Rejection::BadRequest("bad Content-Length")),
    }
}

/// How a response body goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outgoing {
    /// Nothing after the head (HEAD, 1xx, 204, 304, or an empty body).
    Nothing,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the connection closes (an HTTP/1.0 client and a body of unknown length).
    UntilClose,
}

/// The exchange facts a response head depends on.
#[derive(Debug, Clone, Copy)]
pub struct Exchange {
    /// The request was HEAD.
    pub head_request: bool,
    /// The request's version (the status line answers in it).
    pub version: Version,
    /// The connection closes after this response.
    pub close: bool,
}

/// A header field as a response head writes it.
pub trait OutField {
    /// Whether the field is `name`.
    fn is(&self, name: &HeaderName) -> bool;
    /// Writes the name in Go's canonical case.
    fn write_name(&self, out: &mut Vec<u8>);
    /// The value.
    fn value(&self) -> &[u8];
}

impl OutField for (&HeaderName, &HeaderValue) {
    fn is(&self, name: &HeaderName) -> bool {
        self.0 == name
    }

    fn write_name(&self, out: &mut Vec<u8>) {
        write_title_case(out, self.0.as_str());
    }

    fn value(&self) -> &[u8] {
        self.1.as_bytes()
    }
}

impl OutField for WireField<'_> {
    fn is(&self, name: &HeaderName) -> bool {
        self.name.eq_ignore_ascii_case(name.as_str().as_bytes())
    }

    fn write_name(&self, out: &mut Vec<u8>) {
        if self.canonical {
            out.extend_from_slice(self.name);
        } else {
            write_canonical(out, self.name);
        }
    }

    fn value(&self) -> &[u8] {
        self.value
    }
}

/// Encodes a response head of `status` and `fields` into `out`: hyper's framing rules (a
/// known body size becomes `Content-Length`, an unknown one chunked), a `Date`, and
/// `Connection` as the exchange needs. Returns the body's framing and whether the
/// connection must close after it.
pub fn encode_head<F: OutField>(
    out: &mut Vec<u8>,
    status: StatusCode,
    fields: impl IntoIterator<Item = F>,
    body_len: Option<u64>,
    exchange: Exchange,
) -> (Outgoing, bool) {
    out.extend_from_slice(if exchange.version == Version::HTTP_10 {
        b"HTTP/1.0 "
    } else {
        b"HTTP/1.1 "
    });
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(
        status
            .canonical_reason()
            .unwrap_or("status code")
            .as_bytes(),
    );
    out.extend_from_slice(b"\r\n");

    // One pass writes the handler's headers and notes the ones the framing depends on.
    let mut close = exchange.close;
    let mut declared: Option<u64> = None;
    let mut has_date = false;
    for field in fields {
        let value = field.value();
        if field.is(&header::CONTENT_LENGTH) {
            if declared.is_none() {
                declared = framing::plain_length(value).or_else(|| {
                    crate::http1::visible_str(value).and_then(|v| v.trim().parse().ok())
                });
            }
            continue;
        }
        if field.is(&header::CONNECTION) {
            close |= crate::http1::lists_token([value], "close");
            continue;
        }
        if field.is(&header::TRANSFER_ENCODING) {
            continue;
        }
        has_date |= field.is(&header::DATE);
        field.write_name(out);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }

    let bodiless_status = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    // (Content-Length to write, framing of the bytes that follow)
    let (length_header, mut outgoing) = if bodiless_status {
        (None, Outgoing::Nothing)
    } else {
        match (body_len, declared) {
            (Some(0), _) if exchange.head_request => (declared, Outgoing::Nothing),
            (Some(0), _) => (Some(0), Outgoing::Nothing),
            (Some(n), d) => (Some(d.unwrap_or(n)), Outgoing::Length(n)),
            (None, Some(d)) => (Some(d), Outgoing::Length(d)),
            (None, None) if exchange.head_request => (None, Outgoing::Nothing),
            (None, None) if exchange.version == Version::HTTP_10 => {
                close = true;
                (None, Outgoing::UntilClose)
            }
            (None, None) => (None, Outgoing::Chunked),
        }
    };
    if exchange.head_request {
        outgoing = Outgoing::Nothing;
    }
    if let Some(n) = length_header {
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if outgoing == Outgoing::Chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    }
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if exchange.version == Version::HTTP_10 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    if !has_date {
        out.extend_from_slice(b"Date: ");
        write_date(out);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    (outgoing, close)
}

thread_local! {
    /// The `Date` value of the current second, formatted once per second per thread.
    static DATE: RefCell<(u64, [u8; 29])> = const { RefCell::new((u64::MAX, [0; 29])) };
}

/// Appends the current time as an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn write_date(out: &mut Vec<u8>) {
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != second {
            let text = httpdate::fmt_http_date(now);
            if text.len() == 29 {
                cached.1.copy_from_slice(text.as_bytes());
                cached.0 = second;
            } else {
                out.extend_from_slice(text.as_bytes());
                return;
            }
        }
        out.extend_from_slice(&cached.1);
    });
}

/// Appends one chunk of a chunked body: size line, data, CRLF.
pub fn put_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The end of a chunked body.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// A body small enough to go out in the same write as its head.
pub fn fits_with_head(data: &Bytes) -> bool {
    data.len() <= 16 * 1024
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<RequestHead>, Rejection> {
        parse_request_head(&mut BytesMut::from(text.as_bytes()))
    }

    #[test]
    fn a_request_head_is_parsed_and_taken_off_the_buffer() {
        let mut buf =
            BytesMut::from(&b"\r\nPOST /a/b?c=1 HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\nX-A: 1\r\nx-a: 2\r\n\r\nabcGET"[..]);
        let head = parse_request_head(&mut buf).unwrap().unwrap();
        assert_eq!(&buf[..], b"abcGET");
        let r = &head.request;
        assert_eq!(r.method(), Method::POST);
        assert_eq!(r.uri(), "/a/b?c=1");
        assert_eq!(r.version(), Version::HTTP_11);
        let xa: Vec<_> = r.headers().get_all("x-a").iter().collect();
        assert_eq!(xa, ["1", "2"]);
        assert_eq!(head.framing, Framing::Length(3));
        assert!(!head.close);
        assert!(!head.expect_continue);
    }

    #[test]
    fn many_headers_parse_up_to_the_bound() {
        let lines = |n: usize| (0..n).map(|i| format!("X-{i}: v\r\n")).collect::<String>();
        let text = format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n", lines(1000));
        let head = parse(&text).unwrap().unwrap();
        assert_eq!(head.request.headers().len(), 1001);
        let text = format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n", lines(MAX_HEADERS));
        assert_eq!(parse(&text).unwrap_err(), Rejection::HeadTooLarge);
    }

    #[test]
    fn partial_heads_wait_for_more() {
        assert!(parse("GET / HTTP/1.1\r\nHost: a\r\n").unwrap().is_none());
    }

    #[test]
    fn framing_and_connection_follow_the_head() {
        let head = parse("PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\nExpect: 100-continue\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(head.framing, Framing::CHUNKED);
        assert!(head.request.headers().get("content-length").is_none());
        assert!(head.expect_continue);
        let head = parse("GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(head.close);
        assert_eq!(head.framing, Framing::Empty);
        let head = parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!head.close);
    }

    #[test]
    fn bad_requests_are_rejected_like_go() {
        assert_eq!(
            parse("GET / HTTP/1.1\r\n\r\n").unwrap_err(),
            Rejection::BadRequest("missing required Host header")
        );
        assert_eq!(
            parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
                .unwrap_err(),
            Rejection::BadRequest("bad Content-Length")
        );
        assert_eq!(
            parse("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n").unwrap_err(),
            Rejection::UnsupportedTransferEncoding
        );
        assert_eq!(
            parse("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
                .unwrap_err(),
            Rejection::UnsupportedTransferEncoding
        );
        // HTTP/1.0 ignores Transfer-Encoding (Go's issue 12785): Content-Length frames the body.
        let head =
            parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n")
                .unwrap()
                .unwrap();
        assert_eq!(head.framing, Framing::Length(2));
        assert!(head.request.headers().get("transfer-encoding").is_none());
        assert_eq!(
            parse("GET / HTTP/2.0\r\n\r\n").unwrap_err(),
            Rejection::UnsupportedVersion
        );
        assert_eq!(
            parse("G@T / HTTP/1.1\r\n\r\n").unwrap_err(),
            Rejection::BadRequest("")
        );
        let text = String::from_utf8(Rejection::HeadTooLarge.response()).unwrap();
        assert!(text.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(text.ends_with("\r\n\r\n431 Request Header Fields Too Large"));
        let text =
            String::from_utf8(Rejection::BadRequest("missing required Host header").response())
                .unwrap();
        assert_eq!(text, "HTTP/1.1 400 Bad Request: missing required Host header\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: missing required Host header");
        let text = String::from_utf8(Rejection::BadRequest("").response()).unwrap();
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\n400 Bad Request"), "{text}");
    }

    #[test]
    fn the_head_does_not_share_the_read_buffer() {
        let mut buf = BytesMut::from(&b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n"[..]);
        let range = buf.as_ptr_range();
        let head = parse_request_head(&mut buf).unwrap().unwrap();
        let r = head.request;
        assert!(!range.contains(&r.uri().path().as_ptr()));
        assert!(!range.contains(&r.headers()["host"].as_bytes().as_ptr()));
    }

    fn encode(
        status: u16,
        headers: &[(&str, &str)],
        body_len: Option<u64>,
        head_request: bool,
        version: Version,
    ) -> (String, Outgoing, bool) {
        let mut response = http::Response::new(());
        *response.status_mut() = StatusCode::from_u16(status).unwrap();
        for (k, v) in headers {
            response.headers_mut().append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let mut out = Vec::new();
        let exchange = Exchange {
            head_request,
            version,
            close: false,
        };
        let (outgoing, close) = encode_head(
            &mut out,
            response.status(),
            response.headers(),
            body_len,
            exchange,
        );
        let text = String::from_utf8(out).unwrap();
        // The date changes: check its shape and take it out.
        let date_at = text.find("Date: ").expect("a Date header");
        let date = &text[date_at + 6..date_at + 6 + 29];
        assert!(date.ends_with(" GMT"), "{date}");
        let text = text.replace(date, "<date>");
        (text, outgoing, close)
    }

    #[test]
    fn response_heads_take_hypers_framing_rules() {
        let v11 = Version::HTTP_11;
        let (text, outgoing, close) = encode(
            200,
            &[("content-type", "application/json")],
            Some(2),
            false,
            v11,
        );
        assert_eq!(text, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nDate: <date>\r\n\r\n");
        assert_eq!((outgoing, close), (Outgoing::Length(2), false));

        let (text, outgoing, _) =
            encode(502, &[("x-krakend-completed", "false")], None, false, v11);
        assert_eq!(text, "HTTP/1.1 502 Bad Gateway\r\nX-Krakend-Completed: false\r\nTransfer-Encoding: chunked\r\nDate: <date>\r\n\r\n");
        assert_eq!(outgoing, Outgoing::Chunked);

        let (text, outgoing, _) = encode(200, &[], Some(0), false, v11);
        assert!(text.contains("Content-Length: 0\r\n"), "{text}");
        assert_eq!(outgoing, Outgoing::Nothing);

        let (text, outgoing, _) = encode(200, &[], Some(7), true, v11);
        assert!(text.contains("Content-Length: 7\r\n"), "{text}");
        assert_eq!(outgoing, Outgoing::Nothing);

        let (text, outgoing, _) = encode(204, &[("content-length", "5")], Some(5), false, v11);
        assert!(!text.contains("Content-Length"), "{text}");
        assert_eq!(outgoing, Outgoing::Nothing);

        let (text, outgoing, close) = encode(200, &[], None, false, Version::HTTP_10);
        assert!(text.starts_with("HTTP/1.0 200 OK\r\n"), "{text}");
        assert!(text.contains("Connection: close\r\n"), "{text}");
        assert_eq!((outgoing, close), (Outgoing::UntilClose, true));

        let (text, _, close) = encode(200, &[("connection", "close")], Some(1), false, v11);
        assert!(text.contains("Connection: close\r\n"), "{text}");
        assert!(close);
    }

    #[test]
    fn chunks_are_framed() {
        let mut out = Vec::new();
        put_chunk(&mut out, b"hello world, a chunk");
        put_chunk(&mut out, b"");
        out.extend_from_slice(LAST_CHUNK);
        assert_eq!(out, b"14\r\nhello world, a chunk\r\n0\r\n\r\n");
    }
}
