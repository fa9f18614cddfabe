//! HTTP/1.x wire pieces shared by the backend client (`backend::h1`) and the server's own
//! connection (`server::conn`): message body framing and decoding, keep-alive rules, and
//! header names in Go's canonical case.

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
    if version == Version::HTTP_10 {
        !has_connection_token(headers, "keep-alive")
    } else {
        has_connection_token(headers, "close")
    }
}

/// Whether a `Connection` header lists `token`.
pub fn has_connection_token(headers: &HeaderMap, token: &str) -> bool {
    headers.get_all(header::CONNECTION).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

/// Whether a header belongs to one connection only (RFC 9110 section 7.6.1, plus the
/// `Keep-Alive` and `Proxy-Connection` of older clients): a proxy does not forward it.
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
pub fn write_title_case(out: &mut Vec<u8>, name: &str) {
    let start = out.len();
    out.extend_from_slice(name.as_bytes());
    let mut upper = true;
    for b in &mut out[start..] {
        if upper {
            b.make_ascii_uppercase();
        }
        upper = *b == b'-';
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
