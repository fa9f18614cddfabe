//! The proxy-tier request the benches feed their layers: a GET of `path` with a page query,
//! an `Id` parameter and JSON/forwarding headers plus `extra` ones.

use bytes::Bytes;
use gateway::proxy::Request;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

/// A GET proxy request for `path` (`?page=2`, param `Id=42`).
pub fn proxy_request(path: &str, extra: &[(&'static str, &'static str)]) -> Request {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("x-forwarded-for", HeaderValue::from_static("127.0.0.1"));
    for (name, value) in extra {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    Request {
        method: Method::GET,
        path: path.into(),
        query: [("page".to_string(), vec!["2".to_string()])].into(),
        params: [("Id".to_string(), "42".to_string())].into(),
        headers,
        body: Bytes::new(),
        has_body: false,
        target: None,
    }
}
