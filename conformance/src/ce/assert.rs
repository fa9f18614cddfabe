//! The assertions of `MOCK_BACKEND.md` §2.2: status, headers, then schema or
//! body. Every mismatch is collected and rendered with a readable diff.

use std::fmt;

use bytes::Bytes;
use serde_json::Value;

use super::client::{gunzip, GoResponse};
use super::goheader;
use super::spec::SpecResponse;

/// One failed assertion.
#[derive(Debug, Clone, PartialEq)]
pub enum Mismatch {
    /// Wrong status.
    Status {
        /// Expected.
        expected: u16,
        /// Received.
        actual: u16,
    },
    /// An expected header is absent and the expectation was not `[""]`.
    MissingHeader {
        /// Canonical name.
        name: String,
        /// Expected values.
        expected: Vec<String>,
    },
    /// A header's value list differs.
    HeaderValues {
        /// Canonical name.
        name: String,
        /// Expected values.
        expected: Vec<String>,
        /// Received values.
        actual: Vec<String>,
    },
    /// The body could not be read (bad gzip).
    BodyUnreadable(String),
    /// The schema check failed (invalid schema, empty/non-JSON body, violations).
    Schema(String),
    /// Text body differs.
    BodyText {
        /// Expected text.
        expected: String,
        /// Received text (lossy UTF-8).
        actual: String,
    },
    /// The response is not JSON while a JSON body was expected.
    BodyNotJson {
        /// Parse error.
        error: String,
        /// Received text (lossy UTF-8).
        actual: String,
    },
    /// JSON bodies differ at these paths.
    BodyJson(Vec<String>),
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Status { expected, actual } => {
                write!(f, "status: expected {expected}, got {actual}")
            }
            Mismatch::MissingHeader { name, expected } => {
                write!(f, "header {name}: expected {expected:?}, but it is absent")
            }
            Mismatch::HeaderValues {
                name,
                expected,
                actual,
            } => {
                write!(f, "header {name}: expected {expected:?}, got {actual:?}")
            }
            Mismatch::BodyUnreadable(e) => write!(f, "body unreadable: {e}"),
            Mismatch::Schema(e) => write!(f, "schema: {e}"),
            Mismatch::BodyText { expected, actual } => {
                write!(f, "body: {}", text_diff(expected, actual))
            }
            Mismatch::BodyNotJson { error, actual } => {
                write!(
                    f,
                    "body: expected JSON, got unparsable text ({error}): {}",
                    shorten(actual, 300)
                )
            }
            Mismatch::BodyJson(diffs) => write!(f, "body JSON differs: {}", diffs.join("; ")),
        }
    }
}

/// Checks `response` against `expected`; empty when everything holds.
pub fn check(expected: &SpecResponse, response: &GoResponse) -> Vec<Mismatch> {
    let mut mismatches = Vec::new();
    if expected.status_code != response.status {
        mismatches.push(Mismatch::Status {
            expected: expected.status_code,
            actual: response.status,
        });
    }
    mismatches.extend(check_headers(expected, response));
    match response_body(response) {
        Ok(body) => mismatches.extend(check_body(expected, &body)),
        Err(e) => mismatches.push(Mismatch::BodyUnreadable(e)),
    }
    mismatches
}

/// Rule 2: listed headers only; exact value lists; absent only when the first expected value is `""`.
pub fn check_headers(expected: &SpecResponse, response: &GoResponse) -> Vec<Mismatch> {
    let mut mismatches = Vec::new();
    for (raw_name, want) in &expected.header {
        let name = goheader::canonical(raw_name);
        let got: Vec<String> = response
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        if got.is_empty() {
            if want.first().is_some_and(|first| !first.is_empty()) {
                mismatches.push(Mismatch::MissingHeader {
                    name,
                    expected: want.clone(),
                });
            }
        } else if &got != want {
            mismatches.push(Mismatch::HeaderValues {
                name,
                expected: want.clone(),
                actual: got,
            });
        }
    }
    mismatches
}

/// The body as the runner reads it: gunzipped when it still carries
/// `Content-Encoding: gzip`/`x-gzip` (the spec asked for it explicitly).
pub fn response_body(response: &GoResponse) -> Result<Bytes, String> {
    let encoding = response
        .headers
        .get(hyper::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if encoding.eq_ignore_ascii_case("gzip") || encoding.eq_ignore_ascii_case("x-gzip") {
        gunzip(&response.body).map_err(|e| format!("gzip: {e}"))
    } else {
        Ok(response.body.clone())
    }
}

/// Rule 3: schema, else string body byte-exact, else JSON deep comparison.
pub fn check_body(expected: &SpecResponse, body: &[u8]) -> Vec<Mismatch> {
    if let Some(schema) = expected
        .schema
        .as_ref()
        .filter(|s| s.as_object().is_some_and(|o| !o.is_empty()))
    {
        return check_schema(schema, body)
            .err()
            .map(Mismatch::Schema)
            .into_iter()
            .collect();
    }
    match &expected.body {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) => {
            if text.as_bytes() == body {
                Vec::new()
            } else {
                vec![Mismatch::BodyText {
                    expected: text.clone(),
                    actual: String::from_utf8_lossy(body).into_owned(),
                }]
            }
        }
        Some(want) => match serde_json::from_slice::<Value>(body) {
            Err(e) => vec![Mismatch::BodyNotJson {
                error: e.to_string(),
                actual: String::from_utf8_lossy(body).into_owned(),
            }],
            Ok(got) => {
                let mut diffs = Vec::new();
                json_diff("$", want, &got, &mut diffs);
                if diffs.is_empty() {
                    Vec::new()
                } else {
                    vec![Mismatch::BodyJson(diffs)]
                }
            }
        },
    }
}

/// Validates `body` against `schema` (draft chosen from `$schema`).
pub fn check_schema(schema: &Value, body: &[u8]) -> Result<(), String> {
    if body.is_empty() {
        return Err("empty body".into());
    }
    let instance: Value =
        serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
    let validator =
        jsonschema::validator_for(schema).map_err(|e| format!("invalid schema: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// Deep comparison as Go's `reflect.DeepEqual` on `json.Unmarshal` output:
/// key order irrelevant, numbers as `float64`, arrays ordered.
pub fn json_diff(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (key, wv) in w {
                let child = format!("{path}.{key}");
                match g.get(key) {
                    Some(gv) => json_diff(&child, wv, gv, out),
                    None => out.push(format!("{child}: missing (expected {})", compact(wv))),
                }
            }
            for (key, gv) in g {
                if !w.contains_key(key) {
                    out.push(format!("{path}.{key}: unexpected {}", compact(gv)));
                }
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            if w.len() != g.len() {
                out.push(format!(
                    "{path}: expected {} items, got {}",
                    w.len(),
                    g.len()
                ));
            }
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                json_diff(&format!("{path}[{i}]"), wv, gv, out);
            }
        }
        (Value::Number(w), Value::Number(g)) => {
            if w.as_f64() != g.as_f64() {
                out.push(format!("{path}: expected {w}, got {g}"));
            }
        }
        (w, g) => {
            if w != g {
                out.push(format!(
                    "{path}: expected {}, got {}",
                    compact(w),
                    compact(g)
                ));
            }
        }
    }
}

fn compact(v: &Value) -> String {
    shorten(&v.to_string(), 200)
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// A one-line diff of two texts: the first differing byte with context on both sides.
pub fn text_diff(expected: &str, actual: &str) -> String {
    let common = expected
        .bytes()
        .zip(actual.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let start = floor_char_boundary(expected, common.saturating_sub(40));
    let window = |s: &str| -> String {
        let from = floor_char_boundary(s, start.min(s.len()));
        let to = floor_char_boundary(s, (common + 60).min(s.len()));
        format!("{:?}", &s[from..to])
    };
    format!(
        "differs at byte {common} (expected {} bytes, got {}): expected …{}…, got …{}…",
        expected.len(),
        actual.len(),
        window(expected),
        window(actual)
    )
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;
    use hyper::HeaderMap;
    use serde_json::json;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> GoResponse {
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.append(
                hyper::header::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        GoResponse {
            status,
            headers: map,
            body: Bytes::from(body.to_string()),
            final_url: String::new(),
        }
    }

    fn expect(value: Value) -> SpecResponse {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn status_must_match() {
        let e = expect(json!({"status_code": 200}));
        assert!(check(&e, &response(200, &[], "")).is_empty());
        assert_eq!(
            check(&e, &response(404, &[], "")),
            [Mismatch::Status {
                expected: 200,
                actual: 404
            }]
        );
    }

    #[test]
    fn header_lists_must_match_exactly() {
        let e = expect(json!({"status_code": 200, "header": {"vary": ["Origin"]}}));
        assert!(check(&e, &response(200, &[("vary", "Origin")], "")).is_empty());
        let two = response(200, &[("vary", "Origin"), ("vary", "Accept-Encoding")], "");
        assert!(matches!(
            check(&e, &two)[..],
            [Mismatch::HeaderValues { .. }]
        ));
        assert!(matches!(
            check(&e, &response(200, &[], ""))[..],
            [Mismatch::MissingHeader { .. }]
        ));
    }

    #[test]
    fn empty_first_value_means_absent() {
        let e = expect(json!({"status_code": 200, "header": {"Cache-Control": [""]}}));
        assert!(check(&e, &response(200, &[], "")).is_empty());
        let present = response(200, &[("cache-control", "public, max-age=3600")], "");
        assert!(matches!(
            check(&e, &present)[..],
            [Mismatch::HeaderValues { .. }]
        ));
    }

    #[test]
    fn unlisted_headers_are_not_checked() {
        let e = expect(json!({"status_code": 200, "header": {}}));
        assert!(check(&e, &response(200, &[("x-anything", "1")], "")).is_empty());
    }

    #[test]
    fn string_bodies_compare_bytes() {
        let e = expect(json!({"status_code": 200, "body": "{\"a\":1}"}));
        assert!(check(&e, &response(200, &[], "{\"a\":1}")).is_empty());
        let spaced = check(&e, &response(200, &[], "{\"a\": 1}"));
        assert!(matches!(&spaced[..], [Mismatch::BodyText { .. }]));
        assert!(
            spaced[0].to_string().contains("differs at byte 5"),
            "{}",
            spaced[0]
        );
        assert!(!check(&e, &response(200, &[], "{\"a\":1}\n")).is_empty());
    }

    #[test]
    fn empty_string_body_requires_empty_response() {
        let e = expect(json!({"status_code": 403, "body": ""}));
        assert!(check(&e, &response(403, &[], "")).is_empty());
        assert!(!check(&e, &response(403, &[], "Forbidden")).is_empty());
    }

    #[test]
    fn json_bodies_compare_deeply_with_float_numbers() {
        let e = expect(json!({"status_code": 200, "body": {"b": [1, 2], "a": {"x": 1.0}}}));
        assert!(check(&e, &response(200, &[], "{\"a\":{\"x\":1},\"b\":[1,2.0]}")).is_empty());
        let diff = check(
            &e,
            &response(200, &[], "{\"a\":{\"x\":2},\"b\":[2,1],\"c\":0}"),
        );
        let Mismatch::BodyJson(paths) = &diff[0] else {
            panic!("{diff:?}")
        };
        assert!(
            paths.contains(&"$.a.x: expected 1.0, got 2".to_string()),
            "{paths:?}"
        );
        assert!(paths.iter().any(|p| p.starts_with("$.b[0]")));
        assert!(paths.iter().any(|p| p.starts_with("$.c: unexpected")));
        assert!(matches!(
            check(&e, &response(200, &[], "nope"))[..],
            [Mismatch::BodyNotJson { .. }]
        ));
    }

    #[test]
    fn no_body_no_schema_is_not_checked() {
        let e = expect(json!({"status_code": 200}));
        assert!(check(&e, &response(200, &[], "anything at all")).is_empty());
    }

    #[test]
    fn schema_wins_over_body_draft7_and_draft4() {
        for draft in [
            "http://json-schema.org/draft-07/schema#",
            "http://json-schema.org/draft-04/schema#",
        ] {
            let e = expect(json!({"status_code": 200, "body": "ignored", "schema": {
                "$schema": draft, "required": ["status"],
                "properties": {"status": {"type": "string", "enum": ["ok"]}}}}));
            assert!(
                check(&e, &response(200, &[], "{\"status\":\"ok\"}")).is_empty(),
                "{draft}"
            );
            assert!(matches!(
                check(&e, &response(200, &[], "{\"status\":\"ko\"}"))[..],
                [Mismatch::Schema(_)]
            ));
            assert!(matches!(
                check(&e, &response(200, &[], "{}"))[..],
                [Mismatch::Schema(_)]
            ));
            assert!(matches!(
                check(&e, &response(200, &[], ""))[..],
                [Mismatch::Schema(_)]
            ));
        }
    }

    #[test]
    fn draft4_exclusive_maximum_is_boolean() {
        // Draft-04 semantics differ from draft-07: this schema is only valid/meaningful in draft-04.
        let schema = json!({"$schema": "http://json-schema.org/draft-04/schema#",
            "properties": {"n": {"maximum": 5, "exclusiveMaximum": true}}});
        assert!(check_schema(&schema, b"{\"n\":4}").is_ok());
        assert!(check_schema(&schema, b"{\"n\":5}").is_err());
    }

    #[test]
    fn gzip_encoded_bodies_are_decompressed() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"plain").unwrap();
        let mut r = response(200, &[("content-encoding", "x-gzip")], "");
        r.body = Bytes::from(enc.finish().unwrap());
        let e = expect(json!({"status_code": 200, "body": "plain"}));
        assert!(check(&e, &r).is_empty());
        let mut broken = response(200, &[("content-encoding", "gzip")], "junk");
        broken.body = Bytes::from_static(b"junk");
        assert!(matches!(
            check(&e, &broken)[..],
            [Mismatch::BodyUnreadable(_)]
        ));
    }
}
