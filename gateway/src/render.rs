//! Output encodings: how an endpoint writes its (merged) response to the client.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::StatusCode;
use serde_json::{Map, Value};

use crate::body::{self, Body};
use crate::codec::{json, xml};
use crate::config::OutputEncoding;
use crate::http1::is_hop_by_hop;
use crate::proxy::{Passthrough, Response};

/// `application/json; charset=utf-8`.
pub const JSON: &str = "application/json; charset=utf-8";

/// Renders `response` with `encoding`; `accept` is the client's `Accept` (for negotiate).
pub fn render(
    encoding: OutputEncoding,
    response: Option<Response>,
    accept: Option<&str>,
    headers: &mut HeaderMap,
) -> (StatusCode, Body) {
    let ok = StatusCode::OK;
    match encoding {
        OutputEncoding::NoOp => match response.and_then(|r| r.passthrough) {
            Some(p) => {
                let ours = std::mem::take(headers);
                let (status, merged, body) = pass_through(p, ours);
                *headers = merged;
                (status, body)
            }
            None => (StatusCode::INTERNAL_SERVER_ERROR, body::empty()),
        },
        OutputEncoding::Json => json_body(response.as_ref().map(|r| &r.data), headers),
        OutputEncoding::JsonCollection => {
            let list = response
                .as_ref()
                .map(|r| &r.data)
                .and_then(|d| d.get("collection"))
                .cloned()
                .unwrap_or(Value::Array(vec![]));
            set_type(headers, JSON);
            (ok, body::full(json::to_vec(&list)))
        }
        OutputEncoding::String => {
            let text = response
                .as_ref()
                .map(|r| &r.data)
                .and_then(|d| d.get("content"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            set_type(headers, "text/plain; charset=utf-8");
            (ok, body::full(text))
        }
        OutputEncoding::Xml => xml_body(response.as_ref().map(|r| &r.data), headers),
        OutputEncoding::Yaml => yaml_body(response.as_ref().map(|r| &r.data), headers),
        OutputEncoding::Negotiate => match negotiate(accept) {
            Negotiated::Xml => xml_body(response.as_ref().map(|r| &r.data), headers),
            Negotiated::Yaml => yaml_body(response.as_ref().map(|r| &r.data), headers),
            Negotiated::Json => json_body(response.as_ref().map(|r| &r.data), headers),
        },
    }
}

/// A backend response passed through: its status, body and headers (hop-by-hop ones
/// dropped), with `ours` added under the names the backend did not send, so that its values
/// replace ours name by name. `ours` comes as a `HeaderMap` iterates by value: a name's
/// values together, the first with its name.
pub fn pass_through(
    p: Passthrough,
    ours: impl IntoIterator<Item = (Option<HeaderName>, HeaderValue)>,
) -> (StatusCode, HeaderMap, Body) {
    let mut headers = p.headers;
    if headers.keys().any(is_hop_by_hop) {
        let hop_by_hop: Vec<HeaderName> = headers
            .keys()
            .filter(|name| is_hop_by_hop(name))
            .cloned()
            .collect();
        for name in hop_by_hop {
            headers.remove(name);
        }
    }
    // One lookup per name: the entry of a name the backend lacks takes ours, and keeps
    // taking that name's further values.
    let mut current: Option<header::OccupiedEntry<'_, HeaderValue>> = None;
    for (name, value) in ours {
        match name {
            Some(name) => {
                current = None;
                if let header::Entry::Vacant(entry) = headers.entry(name) {
                    current = Some(entry.insert_entry(value));
                }
            }
            None => {
                if let Some(entry) = current.as_mut() {
                    entry.append(value);
                }
            }
        }
    }
    (p.status, headers, p.body)
}

fn set_type(headers: &mut HeaderMap, value: &'static str) {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
}

fn json_body(data: Option<&Map<String, Value>>, headers: &mut HeaderMap) -> (StatusCode, Body) {
    set_type(headers, JSON);
    let bytes = match data {
        Some(d) => json::to_vec(d),
        None => b"{}".to_vec(),
    };
    (StatusCode::OK, body::full(bytes))
}

fn xml_body(data: Option<&Map<String, Value>>, headers: &mut HeaderMap) -> (StatusCode, Body) {
    set_type(headers, "application/xml");
    let text = data.map(xml::encode).unwrap_or_default();
    (StatusCode::OK, body::full(text))
}

fn yaml_body(data: Option<&Map<String, Value>>, headers: &mut HeaderMap) -> (StatusCode, Body) {
    set_type(headers, "application/yaml; charset=utf-8");
    let empty = Map::new();
    let text = serde_yaml::to_string(data.unwrap_or(&empty)).unwrap_or_default();
    (StatusCode::OK, body::full(Bytes::from(text)))
}

/// The formats `negotiate` picks from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Negotiated {
    /// `application/json` (also the default).
    Json,
    /// `application/xml`.
    Xml,
    /// `text/plain` (YAML, as KrakenD does).
    Yaml,
}

/// gin's `NegotiateFormat(json, plain, xml)`: first accepted type matching an offer by prefix.
pub fn negotiate(accept: Option<&str>) -> Negotiated {
    const OFFERS: [(&str, Negotiated); 3] = [
        ("application/json", Negotiated::Json),
        ("text/plain", Negotiated::Yaml),
        ("application/xml", Negotiated::Xml),
    ];
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Negotiated::Json;
    };
    for part in accept.split(',') {
        let accepted = part.split(';').next().unwrap_or("").trim().as_bytes();
        for (offer, kind) in OFFERS {
            let offer = offer.as_bytes();
            let mut i = 0;
            while i < accepted.len() && i < offer.len() {
                if accepted[i] == b'*' || offer[i] == b'*' {
                    return kind;
                }
                if accepted[i] != offer[i] {
                    break;
                }
                i += 1;
            }
            if i == accepted.len() {
                return kind;
            }
        }
    }
    Negotiated::Json
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_op_keeps_the_backend_headers_over_ours_and_drops_hop_by_hop_ones() {
        let mut backend = HeaderMap::new();
        backend.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/x"));
        backend.insert("x-krakend", HeaderValue::from_static("backend's"));
        backend.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        backend.append(header::SET_COOKIE, HeaderValue::from_static("a=1"));
        backend.append(header::SET_COOKIE, HeaderValue::from_static("b=2"));
        let response = Response {
            data: Map::new(),
            is_complete: true,
            passthrough: Some(crate::proxy::Passthrough {
                status: StatusCode::ACCEPTED,
                headers: backend,
                body: body::empty(),
            }),
            headers: Default::default(),
        };
        let mut ours = HeaderMap::new();
        ours.insert("x-krakend", HeaderValue::from_static("ours"));
        ours.append("x-script", HeaderValue::from_static("1"));
        ours.append("x-script", HeaderValue::from_static("2"));
        ours.append(header::SET_COOKIE, HeaderValue::from_static("ours=1"));
        ours.insert("x-krakend-completed", HeaderValue::from_static("true"));
        let (status, _) = render(OutputEncoding::NoOp, Some(response), None, &mut ours);
        assert_eq!(status, StatusCode::ACCEPTED);
        let all = |name: &str| -> Vec<&str> {
            ours.get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap())
                .collect()
        };
        assert_eq!(all("x-krakend"), ["backend's"]);
        assert_eq!(all("set-cookie"), ["a=1", "b=2"]);
        assert_eq!(all("x-script"), ["1", "2"]);
        assert_eq!(all("x-krakend-completed"), ["true"]);
        assert_eq!(all("content-type"), ["text/x"]);
        assert!(all("connection").is_empty());
        assert_eq!(ours.len(), 7);
    }

    #[test]
    fn negotiates_like_gin() {
        assert_eq!(negotiate(None), Negotiated::Json);
        assert_eq!(negotiate(Some("application/xml")), Negotiated::Xml);
        assert_eq!(
            negotiate(Some("text/plain, application/json")),
            Negotiated::Yaml
        );
        assert_eq!(
            negotiate(Some("application/json; charset=utf-8")),
            Negotiated::Json
        );
        assert_eq!(negotiate(Some("*/*")), Negotiated::Json);
        assert_eq!(negotiate(Some("image/png")), Negotiated::Json);
    }

    #[test]
    fn string_render_uses_content() {
        let mut h = HeaderMap::new();
        let mut r = Response::default();
        r.data.insert("content".into(), Value::String("hi".into()));
        let (status, _) = render(OutputEncoding::String, Some(r), None, &mut h);
        assert_eq!(status, StatusCode::OK);
        assert_eq!(h[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    }
}
