//! Header fields kept as they arrived: the bytes of a message head and where each name and
//! value lies in them. A backend response relayed to the client as it came is written from
//! these without a `HeaderMap` being built; one that a layer works on is turned into one.

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};

/// Where one field's name and value lie in a head's bytes (start and end of each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    name: (u32, u32),
    value: (u32, u32),
}

impl Span {
    /// The positions of a name and a value; a head past 4 GiB has no positions here (the
    /// client refuses one much smaller).
    pub fn new(name: (usize, usize), value: (usize, usize)) -> Self {
        Self {
            name: (name.0 as u32, name.1 as u32),
            value: (value.0 as u32, value.1 as u32),
        }
    }
}

/// The header fields of a parsed head, in the order they came, names as written.
#[derive(Debug, Clone, Default)]
pub struct RawFields {
    bytes: Bytes,
    spans: Vec<Span>,
}

impl RawFields {
    /// The fields of `bytes` at `spans`, which must lie in it.
    pub fn new(bytes: Bytes, spans: Vec<Span>) -> Self {
        debug_assert!(spans
            .iter()
            .all(|s| s.name.1 as usize <= bytes.len() && s.value.1 as usize <= bytes.len()));
        Self { bytes, spans }
    }

    /// Every (name, value), in order; names as they were written.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.spans.iter().map(|s| self.pair(s))
    }

    /// Field number `i` (name, value), if there is one.
    pub fn field(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.spans.get(i).map(|s| self.pair(s))
    }

    /// How many fields there are.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there is no field.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The values of `name` (lower case; matched regardless of case), in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The first value of `name` (lower case; matched regardless of case).
    pub fn get<'a>(&'a self, name: &'a str) -> Option<&'a [u8]> {
        self.get_all(name).next()
    }

    /// Whether `name` (lower case) is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The fields as a map, with room for `spare` more names; the values share the head's
    /// bytes. Fails on a name or value the map refuses.
    pub fn to_header_map(&self, spare: usize) -> Result<HeaderMap, String> {
        let mut headers = HeaderMap::with_capacity(self.spans.len() + spare);
        for span in &self.spans {
            let raw = self.slice(span.name);
            let name = HeaderName::from_bytes(raw)
                .map_err(|e| format!("header name {:?}: {e}", String::from_utf8_lossy(raw)))?;
            let value = HeaderValue::from_maybe_shared(
                self.bytes
                    .slice(span.value.0 as usize..span.value.1 as usize),
            )
            .map_err(|e| e.to_string())?;
            headers.append(name, value);
        }
        Ok(headers)
    }

    fn pair(&self, span: &Span) -> (&[u8], &[u8]) {
        (self.slice(span.name), self.slice(span.value))
    }

    fn slice(&self, (start, end): (u32, u32)) -> &[u8] {
        &self.bytes[start as usize..end as usize]
    }
}

/// A header field on its way out: its name as it came (any case), or already in Go's
/// canonical case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireField<'a> {
    /// The name.
    pub name: &'a [u8],
    /// The value.
    pub value: &'a [u8],
    /// The name is in canonical case already.
    pub canonical: bool,
}

impl<'a> WireField<'a> {
    /// A field as it came.
    pub fn raw((name, value): (&'a [u8], &'a [u8])) -> Self {
        Self {
            name,
            value,
            canonical: false,
        }
    }
}

/// Whether `name` (any case) is one of `lower_names`.
pub fn name_is_any(name: &[u8], lower_names: &[&str]) -> bool {
    lower_names
        .iter()
        .any(|l| l.len() == name.len() && name.eq_ignore_ascii_case(l.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(head: &'static str) -> RawFields {
        // Positions found by hand: `Name: value` lines after the first line.
        let bytes = Bytes::from_static(head.as_bytes());
        let mut positions = Vec::new();
        let mut at = head.find("\r\n").unwrap() + 2;
        while !head[at..].starts_with("\r\n") {
            let end = at + head[at..].find("\r\n").unwrap();
            let colon = at + head[at..end].find(':').unwrap();
            let value_start =
                colon + 1 + head[colon + 1..end].len() - head[colon + 1..end].trim_start().len();
            positions.push(Span::new((at, colon), (value_start, end)));
            at = end + 2;
        }
        RawFields::new(bytes, positions)
    }

    #[test]
    fn fields_keep_their_order_and_case_and_are_found_in_any_case() {
        let f = fields(
            "HTTP/1.1 200 OK\r\nSet-Cookie: a\r\ncontent-TYPE: text/x\r\nSET-COOKIE: b\r\n\r\n",
        );
        assert_eq!(f.len(), 3);
        let all: Vec<_> = f.iter().collect();
        assert_eq!(
            all,
            vec![
                (&b"Set-Cookie"[..], &b"a"[..]),
                (&b"content-TYPE"[..], &b"text/x"[..]),
                (&b"SET-COOKIE"[..], &b"b"[..]),
            ]
        );
        assert_eq!(f.get("content-type"), Some(&b"text/x"[..]));
        assert_eq!(
            f.get_all("set-cookie").collect::<Vec<_>>(),
            vec![b"a", b"b"]
        );
        assert!(!f.contains("date"));
    }

    #[test]
    fn the_map_holds_the_same_fields() {
        let f = fields(
            "HTTP/1.1 200 OK\r\nSet-Cookie: a\r\nContent-Type: text/x\r\nSet-Cookie: b\r\n\r\n",
        );
        let map = f.to_header_map(2).unwrap();
        assert_eq!(map.len(), 3);
        assert_eq!(map["content-type"], "text/x");
        let cookies: Vec<_> = map.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, vec!["a", "b"]);
        assert!(map.capacity() >= 4);
    }

    #[test]
    fn names_match_regardless_of_case() {
        assert!(name_is_any(b"Keep-ALIVE", &["connection", "keep-alive"]));
        assert!(!name_is_any(b"keep-alive2", &["keep-alive"]));
        assert!(!name_is_any(b"", &["te"]));
    }
}
