//! Applies `modifier/martian` modifiers to a backend request before it is sent and to the
//! backend response before it is decoded.

use bytes::Bytes;
use http::header::{self, HeaderMap};

use crate::backend::client::{BodyMode, Outgoing};
use crate::config::namespaces::martian::{Modifier, Scope};

/// Applies the request side of `m` to `out`.
pub fn modify_request(m: &Modifier, out: &mut Outgoing) {
    request(
        m,
        out,
        Scope {
            request: true,
            response: true,
        },
    );
}

fn request(m: &Modifier, out: &mut Outgoing, outer: Scope) {
    let on = |s: &Scope| s.request && outer.request;
    match m {
        Modifier::Header { scope, name, value } if on(scope) => {
            out.headers.insert(name.clone(), value.clone());
        }
        Modifier::Query { scope, name, value } if on(scope) => {
            out.url = set_query(&out.url, name, value);
            out.uri = None;
        }
        Modifier::Body {
            scope,
            content_type,
            body,
        } if on(scope) => {
            out.body = body.clone();
            out.mode = BodyMode::Sized;
            if let Some(ct) = content_type {
                out.headers.insert(header::CONTENT_TYPE, ct.clone());
            }
        }
        Modifier::Group { scope, modifiers } => {
            for inner in modifiers {
                request(inner, out, *scope);
            }
        }
        _ => {}
    }
}

/// Applies the response side of `m` to a backend response's headers and body.
pub fn modify_response(m: &Modifier, headers: &mut HeaderMap, body: &mut Bytes) {
    response(
        m,
        headers,
        body,
        Scope {
            request: true,
            response: true,
        },
    );
}

fn response(m: &Modifier, headers: &mut HeaderMap, body: &mut Bytes, outer: Scope) {
    let on = |s: &Scope| s.response && outer.response;
    match m {
        Modifier::Header { scope, name, value } if on(scope) => {
            headers.insert(name.clone(), value.clone());
        }
        Modifier::Body {
            scope,
            content_type,
            body: b,
        } if on(scope) => {
            *body = b.clone();
            headers.remove(header::CONTENT_LENGTH);
            if let Some(ct) = content_type {
                headers.insert(header::CONTENT_TYPE, ct.clone());
            }
        }
        Modifier::Group { scope, modifiers } => {
            for inner in modifiers {
                response(inner, headers, body, *scope);
            }
        }
        _ => {}
    }
}

/// `url` with query parameter `name` set to `value` (other parameters kept, in order).
fn set_query(url: &str, name: &str, value: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k != name {
            ser.append_pair(&k, &v);
        }
    }
    ser.append_pair(name, value);
    format!("{base}?{}", ser.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::namespaces::martian::parse;
    use crate::config::walk::Walker;
    use serde_json::json;

    fn modifier(v: serde_json::Value) -> Modifier {
        let mut w = Walker::default();
        let m = parse(&v, "m", &mut w).unwrap();
        assert!(w.problems.is_empty());
        m
    }

    fn outgoing() -> Outgoing {
        Outgoing {
            method: http::Method::GET,
            url: "http://b/x?a=1&keep=2".into(),
            uri: None,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            mode: BodyMode::None,
        }
    }

    #[test]
    fn request_side() {
        let m = modifier(
            json!({"fifo.Group": {"scope": ["request", "response"], "modifiers": [
                {"header.Modifier": {"scope": ["request"], "name": "X-Martian", "value": "yes"}},
                {"querystring.Modifier": {"scope": ["request"], "name": "a", "value": "z z"}},
                {"body.Modifier": {"scope": ["request"], "contentType": "text/plain", "body": "aGk="}},
                {"header.Modifier": {"scope": ["response"], "name": "X-Resp", "value": "r"}}
            ]}}),
        );
        let mut out = outgoing();
        modify_request(&m, &mut out);
        assert_eq!(out.headers["x-martian"], "yes");
        assert!(out.headers.get("x-resp").is_none());
        assert_eq!(out.url, "http://b/x?keep=2&a=z+z");
        assert_eq!(out.body, Bytes::from_static(b"hi"));
        assert_eq!(out.mode, BodyMode::Sized);
        assert_eq!(out.headers["content-type"], "text/plain");
    }

    #[test]
    fn response_side_and_group_scope() {
        let m = modifier(json!({"fifo.Group": {"scope": ["response"], "modifiers": [
            {"header.Modifier": {"scope": ["request", "response"], "name": "X-Both", "value": "1"}},
            {"body.Modifier": {"scope": ["response"], "contentType": "application/json", "body": "eyJhIjoxfQ=="}}
        ]}}));
        let mut out = outgoing();
        modify_request(&m, &mut out);
        assert!(out.headers.is_empty(), "the group is response-only");
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, "3".parse().unwrap());
        let mut body = Bytes::from_static(b"old");
        modify_response(&m, &mut h, &mut body);
        assert_eq!(h["x-both"], "1");
        assert_eq!(h["content-type"], "application/json");
        assert!(h.get(header::CONTENT_LENGTH).is_none());
        assert_eq!(body, Bytes::from_static(b"{\"a\":1}"));
    }
}
