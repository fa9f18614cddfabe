//! HTTP/1.x wire pieces shared by the backend client (`backend::h1`) and the server's own
//! connection (`server::conn`): message body framing and decoding, keep-alive rules, and
//! header names in Go's canonical case.

pub mod fields;
pub mod framing;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::Version;

pub use framing::{BodyDecoder, Decoded, Framing};

/// A map with at most this many names is searched by scanning them: for the few headers of
/// a usual message that is cheaper than hashing the name for a lookup.
pub const SCAN_UP_TO: usize = 8;

/// The first value of `name`, as `HeaderMap::get` gives it (scanned in a small map).
pub fn first_value<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a HeaderValue> {
    // Most lookups are for a name the message lacks: scanning the names (not the values)
    // says so without hashing; a name that is there is then looked up as usual.
    if headers.keys_len() <= SCAN_UP_TO && !headers.keys().any(|n| n == name) {
        None
    } else {
        headers.get(name)
    }
}

/// Whether `headers` has `name`, as `HeaderMap::contains_key` tells (scanned in a small map).
pub fn has_header(headers: &HeaderMap, name: &HeaderName) -> bool {
    first_value(headers, name).is_some()
}

/// Whether these headers (and HTTP version) end the connection after this exchange: HTTP/1.0
/// closes unless `Connection: keep-alive`, HTTP/1.1 stays open unless `Connection: close`.
pub fn wants_close(headers: &HeaderMap, version: Version) -> bool {
    wants_close_in(connection_values(headers), version)
}

/// The values of a message's `Connection` headers.
fn connection_values(headers: &HeaderMap) -> impl Iterator<Item = &[u8]> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .map(HeaderValue::as_bytes)
}

/// [`wants_close`] from the values of a message's `Connection` headers.
pub fn wants_close_in<'a>(
    connection: impl IntoIterator<Item = &'a [u8]>,
    version: Version,
) -> bool {
    if version == Version::HTTP_10 {
        !lists_token(connection, "keep-alive")
    } else {
        lists_token(connection, "close")
    }
}

/// Whether a `Connection` header lists `token`.
pub fn has_connection_token(headers: &HeaderMap, token: &str) -> bool {
    lists_token(connection_values(headers), token)
}

/// Whether any of these comma-separated values lists `token` (case aside).
pub fn lists_token<'a>(values: impl IntoIterator<Item = &'a [u8]>, token: &str) -> bool {
    values.into_iter().any(|v| {
        visible_str(v).is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

/// A header value as text, as `HeaderValue::to_str` reads it: `None` unless every byte is
/// visible ASCII or a tab.
pub fn visible_str(value: &[u8]) -> Option<&str> {
    value
        .iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
        .then(|| std::str::from_utf8(value).ok())
        .flatten()
}

/// The headers that belong to one connection only (RFC 9110 section 7.6.1, plus the
/// `Keep-Alive` and `Proxy-Connection` of older clients): a proxy does not forward them.
pub const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
];

/// Whether a header is one of [`HOP_BY_HOP`].
pub fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "proxy-connection"
    )
}

/// Appends a header name in Go's canonical case: `x-forwarded-for` -> `X-Forwarded-For`.
/// Names come lower case, as `HeaderName` keeps them; see [`write_canonical`].
pub fn write_title_case(out: &mut Vec<u8>, name: &str) {
    write_canonical(out, name.as_bytes());
}

/// Appends a header name of any case in Go's canonical case (`textproto`'s
/// `CanonicalMIMEHeaderKey` for a valid token): the first letter and each letter after a `-`
/// upper case, every other letter lower case; eight bytes at a time, the last word padded
/// with zeros (neither letters nor dashes) that are cut off again.
pub fn write_canonical(out: &mut Vec<u8>, name: &[u8]) {
    let start = out.len();
    out.extend_from_slice(name);
    out.extend_from_slice(&[0; 7]);
    let words = name.len().div_ceil(8);
    let mut raise_next = true;
    for word in out[start..start + words * 8].chunks_exact_mut(8) {
        let w = u64::from_le_bytes((&*word).try_into().expect("chunks of eight"));
        // Lower case first (an upper-case letter gains 0x20), then raise word starts.
        let w = w | (letters_in(w, b'A', b'Z') >> 2);
        let dashes = bytes_equal(w, b'-');
        // A byte is raised after a dash, the word's first after the previous word's last.
        let starts = (dashes << 8) | if raise_next { 0x80 } else { 0 };
        let raised = w - ((starts & letters_in(w, b'a', b'z')) >> 2);
        word.copy_from_slice(&raised.to_le_bytes());
        raise_next = dashes >> 56 != 0;
    }
    out.truncate(start + name.len());
}

/// The high bit of each byte of a word.
const HIGH: u64 = 0x8080_8080_8080_8080;
/// The low seven bits of each byte of a word.
const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// The high bit set in each byte of `w` that equals `b`, and in no other.
fn bytes_equal(w: u64, b: u8) -> u64 {
    let x = w ^ (u64::from(b) * 0x0101_0101_0101_0101);
    // A byte is non-zero when its high bit or any low bit is set; no carry crosses bytes.
    !(((x & LOW) + LOW) | x) & HIGH
}

/// The high bit set in each byte of `w` that lies in `first..=last` (ASCII letters' ranges).
fn letters_in(w: u64, first: u8, last: u8) -> u64 {
    let low = w & LOW;
    let at_least_first = low + u64::from(0x80 - first) * 0x0101_0101_0101_0101;
    let above_last = low + u64::from(0x7f - last) * 0x0101_0101_0101_0101;
    at_least_first & !above_last & !w & HIGH
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-by-byte rule the word-at-a-time one must match.
    fn title_case_slowly(name: &str) -> String {
        let mut raise = true;
        name.bytes()
            .map(|b| {
                let out = if raise {
                    b.to_ascii_uppercase()
                } else {
                    b.to_ascii_lowercase()
                };
                raise = b == b'-';
                out as char
            })
            .collect()
    }

    #[test]
    fn title_case_matches_the_byte_rule_at_every_length_and_position() {
        // Every token byte a header name may hold, both cases, dashes at and across word
        // edges.
        let alphabet =
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-!#$%&'*+.^_`|~";
        let mut names: Vec<String> = vec![
            String::new(),
            "-".into(),
            "--".into(),
            "x-forwarded-for".into(),
            "content-security-policy-report-only".into(),
            "abcdefg-h".into(),
            "abcdefgh-i".into(),
            "abcdefg--hijklmn-o".into(),
            "`a-z".into(),
            "X-FORWARDED-FOR".into(),
            "cONTENT-tYPE".into(),
            "@[`{".into(),
        ];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for len in 0..40 {
            for _ in 0..50 {
                let name = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        alphabet[(seed % alphabet.len() as u64) as usize] as char
                    })
                    .collect();
                names.push(name);
            }
        }
        for name in names {
            let mut out = b"prefix:".to_vec();
            write_title_case(&mut out, &name);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                format!("prefix:{}", title_case_slowly(&name)),
                "{name:?}"
            );
        }
    }

    #[test]
    fn scanned_lookups_agree_with_the_maps_own_in_small_and_large_maps() {
        let names = [
            header::USER_AGENT,
            header::RANGE,
            HeaderName::from_static("x-custom"),
        ];
        for others in [0, 3, SCAN_UP_TO - 1, SCAN_UP_TO, SCAN_UP_TO + 4] {
            let mut headers = HeaderMap::new();
            for i in 0..others {
                let name = HeaderName::from_bytes(format!("x-other-{i}").as_bytes()).unwrap();
                headers.append(name, "o".parse().unwrap());
            }
            for name in &names {
                assert!(!has_header(&headers, name));
                assert_eq!(first_value(&headers, name), None);
            }
            headers.append(header::USER_AGENT, "first".parse().unwrap());
            headers.append(HeaderName::from_static("x-custom"), "c".parse().unwrap());
            headers.append(header::USER_AGENT, "second".parse().unwrap());
            for name in &names {
                assert_eq!(has_header(&headers, name), headers.contains_key(name));
                assert_eq!(
                    first_value(&headers, name),
                    headers.get(name),
                    "{others} {name}"
                );
            }
            assert_eq!(first_value(&headers, &header::USER_AGENT).unwrap(), "first");
        }
    }

    #[test]
    fn hop_by_hop_names_are_the_listed_ones() {
        for name in HOP_BY_HOP {
            assert!(is_hop_by_hop(&HeaderName::from_static(name)), "{name}");
        }
        for name in ["content-length", "host", "x-krakend", "trailers", "tes"] {
            assert!(!is_hop_by_hop(&HeaderName::from_static(name)), "{name}");
        }
    }

    #[test]
    fn header_names_go_out_in_canonical_case() {
        let mut out = Vec::new();
        write_title_case(&mut out, "x-forwarded-for");
        out.push(b' ');
        write_title_case(&mut out, "etag");
        assert_eq!(out, b"X-Forwarded-For Etag");
    }

    #[test]
    fn keep_alive_rules_follow_the_version() {
        let mut h = HeaderMap::new();
        assert!(!wants_close(&h, Version::HTTP_11));
        assert!(wants_close(&h, Version::HTTP_10));
        h.insert(header::CONNECTION, "Keep-Alive".parse().unwrap());
        assert!(!wants_close(&h, Version::HTTP_10));
        h.insert(header::CONNECTION, "foo, close".parse().unwrap());
        assert!(wants_close(&h, Version::HTTP_11));
    }
}
