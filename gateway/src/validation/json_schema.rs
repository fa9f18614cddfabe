//! The `validation/json-schema` layer: request bodies that do not satisfy the endpoint's
//! schema are refused with `400 Bad Request` before any backend is called. The error text
//! follows KrakenD's: one `- <field>: <reason>` line per violation.

use jsonschema::Validator;
use std::sync::Arc;

use crate::error::ProxyError;
use crate::proxy::{Outcome, Proxy, ProxyFuture, Request, SharedProxy};

/// The message for bodies that are not JSON (empty ones included), as KrakenD words it.
pub const MALFORMED_BODY: &str = "could not validate a malformed body";

/// Validates the request body, then calls the next layer.
pub struct JsonSchemaValidation {
    schema: Arc<Validator>,
    next: SharedProxy,
}

impl JsonSchemaValidation {
    /// A validator over `next`.
    pub fn new(schema: Arc<Validator>, next: SharedProxy) -> Self {
        Self { schema, next }
    }
}

/// Why `body` fails `schema`, or `None` when it is valid.
pub fn violations(schema: &Validator, body: &[u8]) -> Option<String> {
    let instance: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return Some(MALFORMED_BODY.to_string()),
    };
    let lines: Vec<String> = schema
        .iter_errors(&instance)
        .map(|e| {
            let at = field_name(e.instance_path().as_str());
            format!("- {at}: {}", e)
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// A JSON pointer as a dotted field name; `(root)` for the document itself.
fn field_name(pointer: &str) -> String {
    if pointer.is_empty() {
        return "(root)".to_string();
    }
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

impl Proxy for JsonSchemaValidation {
    fn call(&self, request: Request) -> ProxyFuture {
        if let Some(message) = violations(&self.schema, &request.body) {
            return Box::pin(async move {
                Outcome::err(ProxyError::WithStatus {
                    status: 400,
                    body: message,
                    content_type: None,
                })
            });
        }
        self.next.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::testing::{answering, request};
    use bytes::Bytes;
    use serde_json::json;

    fn layer(schema: serde_json::Value) -> JsonSchemaValidation {
        JsonSchemaValidation::new(
            Arc::new(jsonschema::validator_for(&schema).unwrap()),
            answering(json!({"ok": true})),
        )
    }

    fn with_body(b: &str) -> Request {
        let mut r = request();
        r.body = Bytes::from(b.to_string());
        r.has_body = !b.is_empty();
        r
    }

    fn rejection(o: Outcome) -> (u16, String) {
        match o.error {
            Some(ProxyError::WithStatus { status, body, .. }) => (status, body),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn valid_body_reaches_the_backend() {
        let o = layer(json!({"type": "number"})).call(with_body("42")).await;
        assert!(o.error.is_none());
        assert_eq!(o.response.unwrap().data["ok"], json!(true));
    }

    #[tokio::test]
    async fn schema_violation_is_400_with_one_line_per_error() {
        let l = layer(json!({
            "type": "object",
            "required": ["name"],
            "properties": {"age": {"type": "integer", "minimum": 0}}
        }));
        let (status, body) = rejection(l.call(with_body(r#"{"age": -1}"#)).await);
        assert_eq!(status, 400);
        let mut lines: Vec<&str> = body.lines().collect();
        lines.sort();
        assert_eq!(lines.len(), 2, "{body}");
        assert!(lines[0].starts_with("- (root): "), "{body}");
        assert!(lines[0].contains("\"name\""), "{body}");
        assert!(lines[1].starts_with("- age: "), "{body}");
    }

    #[tokio::test]
    async fn type_mismatch_like_the_ce_spec() {
        let (status, body) = rejection(
            layer(json!({"type": "number"}))
                .call(with_body(r#"{"foo": 42}"#))
                .await,
        );
        assert_eq!(status, 400);
        assert!(body.starts_with("- (root): "), "{body}");
    }

    #[tokio::test]
    async fn malformed_and_empty_bodies_are_400() {
        for b in ["", "{nope", "[1,"] {
            let (status, body) =
                rejection(layer(json!({"type": "object"})).call(with_body(b)).await);
            assert_eq!((status, body.as_str()), (400, MALFORMED_BODY), "body {b:?}");
        }
    }

    #[tokio::test]
    async fn big_numbers_validate_exactly() {
        let l = layer(json!({"type": "integer", "maximum": 9007199254740993u64}));
        assert!(l.call(with_body("9007199254740993")).await.error.is_none());
        assert!(l.call(with_body("9007199254740994")).await.error.is_some());
    }

    #[test]
    fn nested_fields_are_dotted() {
        assert_eq!(field_name("/a/0/b~1c"), "a.0.b/c");
        assert_eq!(field_name(""), "(root)");
    }
}
