//! `extra_config["modifier/martian"]` (backend level): Martian modifiers KrakenD CE ships,
//! here `header.Modifier`, `querystring.Modifier`, `body.Modifier` and `fifo.Group`, each with
//! its `scope` (`request`, `response` or both).

use serde_json::{Map, Value};

use crate::config::walk::{join, type_name, Walker};

/// The namespace key.
pub const NAMESPACE: &str = "modifier/martian";

/// Where a modifier acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scope {
    /// On the backend request.
    pub request: bool,
    /// On the backend response.
    pub response: bool,
}

/// One modifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modifier {
    /// `header.Modifier`: sets header `name` to `value`.
    Header {
        /// Scope.
        scope: Scope,
        /// Header name.
        name: http::HeaderName,
        /// Header value.
        value: http::HeaderValue,
    },
    /// `querystring.Modifier`: sets query parameter `name` to `value` (request only).
    Query {
        /// Scope.
        scope: Scope,
        /// Parameter name.
        name: String,
        /// Parameter value.
        value: String,
    },
    /// `body.Modifier`: replaces the body (given base64-encoded) and its content type.
    Body {
        /// Scope.
        scope: Scope,
        /// `contentType`.
        content_type: Option<http::HeaderValue>,
        /// Decoded `body`.
        body: bytes::Bytes,
    },
    /// `fifo.Group`: its modifiers in order, within the group's scope.
    Group {
        /// Scope.
        scope: Scope,
        /// `modifiers`.
        modifiers: Vec<Modifier>,
    },
}

fn scope(v: &Map<String, Value>, path: &str, w: &mut Walker) -> Scope {
    let list = w.strings(v, "scope", path).unwrap_or_default();
    let mut s = Scope::default();
    for (i, item) in list.iter().enumerate() {
        match item.as_str() {
            "request" => s.request = true,
            "response" => s.response = true,
            other => w.fail(
                format!("{}[{i}]", join(path, "scope")),
                format!("unknown scope {other:?} (request or response)"),
            ),
        }
    }
    s
}

/// Reads one `{"<kind>": {...}}` modifier object at `path`.
pub fn parse(v: &Value, path: &str, w: &mut Walker) -> Option<Modifier> {
    let obj = w.expect_object(v, path)?;
    if obj.len() != 1 {
        w.fail(path, "must hold exactly one modifier");
        return None;
    }
    let (kind, body) = obj.iter().next()?;
    let p = join(path, kind);
    let o = w.expect_object(body, &p)?;
    let sc = scope(o, &p, w);
    match kind.as_str() {
        "header.Modifier" => {
            let name = w.string(o, "name", &p).unwrap_or_default();
            let value = w.string(o, "value", &p).unwrap_or_default();
            let Ok(name) = http::HeaderName::from_bytes(name.as_bytes()) else {
                w.fail(join(&p, "name"), format!("{name:?} is not a header name"));
                return None;
            };
            let Ok(value) = http::HeaderValue::from_str(&value) else {
                w.fail(join(&p, "value"), "is not a valid header value");
                return None;
            };
            Some(Modifier::Header {
                scope: sc,
                name,
                value,
            })
        }
        "querystring.Modifier" => {
            let name = w.string(o, "name", &p).unwrap_or_default();
            if name.is_empty() {
                w.fail(join(&p, "name"), "is required");
                return None;
            }
            Some(Modifier::Query {
                scope: sc,
                name,
                value: w.string(o, "value", &p).unwrap_or_default(),
            })
        }
        "body.Modifier" => {
            use base64::Engine;
            let raw = w.string(o, "body", &p).unwrap_or_default();
            let Ok(body) = base64::engine::general_purpose::STANDARD.decode(raw.trim()) else {
                w.fail(join(&p, "body"), "must be base64");
                return None;
            };
            let content_type = w
                .string(o, "contentType", &p)
                .filter(|s| !s.is_empty())
                .and_then(|s| http::HeaderValue::from_str(&s).ok());
            Some(Modifier::Body {
                scope: sc,
                content_type,
                body: body.into(),
            })
        }
        "fifo.Group" => {
            let mut modifiers = Vec::new();
            match o.get("modifiers") {
                Some(Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(m) = parse(item, &format!("{}[{i}]", join(&p, "modifiers")), w)
                        {
                            modifiers.push(m);
                        }
                    }
                }
                Some(other) => w.fail(
                    join(&p, "modifiers"),
                    format!("must be an array, found {}", type_name(other)),
                ),
                None => {}
            }
            Some(Modifier::Group {
                scope: sc,
                modifiers,
            })
        }
        other => {
            w.fail(
                p.clone(),
                format!("modifier {other:?} is not supported by Cephalo (header.Modifier, querystring.Modifier, body.Modifier, fifo.Group)"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_group() {
        let mut w = Walker::default();
        let v = json!({"fifo.Group": {"scope": ["request", "response"], "aggregateErrors": true, "modifiers": [
            {"header.Modifier": {"scope": ["request"], "name": "X-Martian", "value": "ok"}},
            {"querystring.Modifier": {"scope": ["request"], "name": "a", "value": "b"}},
            {"body.Modifier": {"scope": ["response"], "contentType": "application/json", "body": "eyJtc2ciOiJoaSJ9"}}
        ]}});
        let m = parse(&v, "m", &mut w).unwrap();
        assert!(w.problems.is_empty(), "{:?}", w.problems);
        let Modifier::Group { scope, modifiers } = m else {
            panic!()
        };
        assert!(scope.request && scope.response);
        assert_eq!(modifiers.len(), 3);
        assert!(
            matches!(&modifiers[2], Modifier::Body { body, .. } if body.as_ref() == b"{\"msg\":\"hi\"}")
        );
    }

    #[test]
    fn located_errors() {
        let mut w = Walker::default();
        let v = json!({"fifo.Group": {"modifiers": [
            {"cookie.Modifier": {}},
            {"body.Modifier": {"body": "!!"}},
            {"header.Modifier": {"scope": ["both"], "name": "X", "value": "y"}}
        ]}});
        parse(&v, "m", &mut w);
        let paths: Vec<_> = w.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "m[\"fifo.Group\"].modifiers[0][\"cookie.Modifier\"]",
                "m[\"fifo.Group\"].modifiers[1][\"body.Modifier\"].body",
                "m[\"fifo.Group\"].modifiers[2][\"header.Modifier\"].scope[0]",
            ]
        );
    }
}
