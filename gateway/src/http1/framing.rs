//! How an HTTP/1.x message body is delimited, and the decoder that takes its data off a read
//! buffer: `Content-Length`, chunked transfer coding (extensions and trailers skipped), or the
//! connection's end.

use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderValue};

/// How a body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    /// This many bytes remain.
    Length(u64),
    /// Chunked transfer coding, in the given state.
    Chunked(Chunk),
    /// Until the peer closes the connection.
    UntilClose,
}

/// Where a chunked body's decoder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// This many data bytes remain in the current chunk.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines until an empty one.
    Trailers,
}

impl Framing {
    /// A chunked body, before its first chunk.
    pub const CHUNKED: Self = Self::Chunked(Chunk::Size);
}

/// Whether `Transfer-Encoding` is present, and if so whether `chunked` is its last coding.
pub fn chunked_last(headers: &HeaderMap) -> Option<bool> {
    chunked_last_in(
        headers
            .get_all(header::TRANSFER_ENCODING)
            .iter()
            .map(HeaderValue::as_bytes),
    )
}

/// [`chunked_last`] from the values of a message's `Transfer-Encoding` headers.
pub fn chunked_last_in<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Option<bool> {
    values
        .into_iter()
        .filter_map(super::visible_str)
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .last()
        .map(|last| last.eq_ignore_ascii_case("chunked"))
}

/// A length written as plain decimal digits (the usual `Content-Length`), read without the
/// general parse; `None` for anything else, which the general parse then reads.
pub fn plain_length(value: &[u8]) -> Option<u64> {
    // 19 digits always fit in a u64.
    if value.is_empty() || value.len() > 19 {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// The `Content-Length`, if any; repeated equal values are one, different ones an error.
pub fn content_length(headers: &HeaderMap) -> Result<Option<u64>, String> {
    content_length_in(
        headers
            .get_all(header::CONTENT_LENGTH)
            .iter()
            .map(HeaderValue::as_bytes),
    )
}

/// [`content_length`] from the values of a message's `Content-Length` headers.
pub fn content_length_in<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Option<u64>, String> {
    let mut length: Option<u64> = None;
    for value in values {
        if let Some(n) = plain_length(value) {
            if length.is_some_and(|l| l != n) {
                return Err("conflicting Content-Length".into());
            }
            length = Some(n);
            continue;
        }
        for part in super::visible_str(value).unwrap_or("x").split(',') {
            let n: u64 = part
                .trim()
                .parse()
                .map_err(|_| format!("bad Content-Length {:?}", String::from_utf8_lossy(value)))?;
            if length.is_some_and(|l| l != n) {
                return Err("conflicting Content-Length".into());
            }
            length = Some(n);
        }
    }
    Ok(length)
}

/// What the decoder found in the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Body data.
    Data(Bytes),
    /// More bytes are needed.
    Read,
    /// A line (chunk size or trailer) is incomplete with this many bytes buffered.
    ReadLine(usize),
    /// The body has ended.
    End,
}

/// A body decoder: the framing and how far into it the message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyDecoder {
    framing: Framing,
}

impl BodyDecoder {
    /// Starts decoding a body framed so.
    pub fn new(framing: Framing) -> Self {
        let framing = match framing {
            Framing::Length(0) => Framing::Empty,
            other => other,
        };
        Self { framing }
    }

    /// The body has been read to its end.
    pub fn is_done(&self) -> bool {
        self.framing == Framing::Empty
    }

    /// Only the connection's end delimits the body.
    pub fn until_close(&self) -> bool {
        self.framing == Framing::UntilClose
    }

    /// The bytes left, when known.
    pub fn remaining(&self) -> Option<u64> {
        match self.framing {
            Framing::Empty => Some(0),
            Framing::Length(n) => Some(n),
            _ => None,
        }
    }

    /// Takes the next piece of data off `buf`, or says what to read next.
    pub fn step(&mut self, buf: &mut BytesMut) -> Result<Decoded, String> {
        loop {
            match self.framing {
                Framing::Empty => return Ok(Decoded::End),
                Framing::Length(remaining) => {
                    if buf.is_empty() {
                        return Ok(Decoded::Read);
                    }
                    let n = remaining.min(buf.len() as u64);
                    self.framing = match remaining - n {
                        0 => Framing::Empty,
                        left => Framing::Length(left),
                    };
                    return Ok(Decoded::Data(buf.split_to(n as usize).freeze()));
                }
                Framing::UntilClose => {
                    if buf.is_empty() {
                        return Ok(Decoded::Read);
                    }
                    return Ok(Decoded::Data(buf.split().freeze()));
                }
                Framing::Chunked(Chunk::Size) => {
                    let Some(line_end) = find_crlf(buf) else {
                        return Ok(Decoded::ReadLine(buf.len()));
                    };
                    let line = &buf[..line_end];
                    let size_text = line.split(|&b| b == b';').next().unwrap_or(b"");
                    let size_text = std::str::from_utf8(size_text)
                        .map_err(|_| "bad chunk size".to_string())?
                        .trim();
                    let size = u64::from_str_radix(size_text, 16)
                        .map_err(|_| format!("bad chunk size {size_text:?}"))?;
                    buf.advance(line_end + 2);
                    self.framing = Framing::Chunked(if size == 0 {
                        Chunk::Trailers
                    } else {
                        Chunk::Data(size)
                    });
                }
                Framing::Chunked(Chunk::Data(remaining)) => {
                    if buf.is_empty() {
                        return Ok(Decoded::Read);
                    }
                    let n = remaining.min(buf.len() as u64);
                    self.framing = Framing::Chunked(if n == remaining {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(remaining - n)
                    });
                    return Ok(Decoded::Data(buf.split_to(n as usize).freeze()));
                }
                Framing::Chunked(Chunk::DataEnd) => {
                    if buf.len() < 2 {
                        return Ok(Decoded::Read);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err("missing CRLF after chunk".into());
                    }
                    buf.advance(2);
                    self.framing = Framing::Chunked(Chunk::Size);
                }
                Framing::Chunked(Chunk::Trailers) => {
                    let Some(line_end) = find_crlf(buf) else {
                        return Ok(Decoded::ReadLine(buf.len()));
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

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lengths_read_as_the_general_parse_does() {
        for text in ["0", "7", "0042", "9999999999999999999"] {
            assert_eq!(plain_length(text.as_bytes()), text.parse().ok(), "{text}");
        }
        // Left to the general parse: signs, spaces, lists, 20 digits, nothing.
        for text in ["+5", " 5", "5 ", "5,5", "18446744073709551615", "", "x"] {
            assert_eq!(plain_length(text.as_bytes()), None, "{text}");
        }
        let mut h = HeaderMap::new();
        h.append(
            header::CONTENT_LENGTH,
            "18446744073709551615".parse().unwrap(),
        );
        assert_eq!(content_length(&h), Ok(Some(u64::MAX)));
        let mut h = HeaderMap::new();
        h.append(header::CONTENT_LENGTH, "12".parse().unwrap());
        h.append(header::CONTENT_LENGTH, " 12".parse().unwrap());
        assert_eq!(content_length(&h), Ok(Some(12)));
        h.append(header::CONTENT_LENGTH, "13".parse().unwrap());
        assert!(content_length(&h).is_err());
    }

    fn decode_all(framing: Framing, wire: &[u8]) -> Result<(Vec<u8>, bool), String> {
        let mut decoder = BodyDecoder::new(framing);
        let mut buf = BytesMut::from(wire);
        let mut out = Vec::new();
        loop {
            match decoder.step(&mut buf)? {
                Decoded::Data(d) => out.extend_from_slice(&d),
                Decoded::End => return Ok((out, true)),
                Decoded::Read | Decoded::ReadLine(_) => return Ok((out, false)),
            }
        }
    }

    #[test]
    fn chunked_bodies_decode_with_extensions_and_trailers() {
        let wire = b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: y\r\n\r\nNEXT";
        let (data, ended) = decode_all(Framing::CHUNKED, wire).unwrap();
        assert_eq!(data, b"abcde");
        assert!(ended);
    }

    #[test]
    fn a_chunked_body_cut_short_asks_for_more() {
        let (data, ended) = decode_all(Framing::CHUNKED, b"5\r\nab").unwrap();
        assert_eq!(data, b"ab");
        assert!(!ended);
        assert!(decode_all(Framing::CHUNKED, b"zz\r\n").is_err());
        assert!(decode_all(Framing::CHUNKED, b"1\r\naXY").is_err());
    }

    #[test]
    fn a_sized_body_stops_at_its_length() {
        let mut decoder = BodyDecoder::new(Framing::Length(3));
        let mut buf = BytesMut::from(&b"abcdef"[..]);
        assert_eq!(
            decoder.step(&mut buf).unwrap(),
            Decoded::Data(Bytes::from_static(b"abc"))
        );
        assert!(decoder.is_done());
        assert_eq!(&buf[..], b"def");
    }

    #[test]
    fn framing_headers_are_read_strictly() {
        let mut h = HeaderMap::new();
        assert_eq!(content_length(&h), Ok(None));
        h.append(header::CONTENT_LENGTH, "5".parse().unwrap());
        h.append(header::CONTENT_LENGTH, "5".parse().unwrap());
        assert_eq!(content_length(&h), Ok(Some(5)));
        h.append(header::CONTENT_LENGTH, "6".parse().unwrap());
        assert!(content_length(&h).is_err());
        h.insert(header::TRANSFER_ENCODING, "gzip, chunked".parse().unwrap());
        assert_eq!(chunked_last(&h), Some(true));
        h.insert(header::TRANSFER_ENCODING, "chunked, gzip".parse().unwrap());
        assert_eq!(chunked_last(&h), Some(false));
    }
}
