//! `extra_config["validation/json-schema"]` (endpoint level): the whole object is a JSON
//! Schema (draft 4, 6, 7, 2019-09 or 2020-12, chosen by `$schema`; 2020-12 when absent) that
//! request bodies must satisfy. The schema is compiled once, here.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::config::walk::Walker;

/// The namespace key.
pub const NAMESPACE: &str = "validation/json-schema";

/// A compiled request-body schema.
#[derive(Clone)]
pub struct JsonSchema(pub Arc<jsonschema::Validator>);

impl fmt::Debug for JsonSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JsonSchema(..)")
    }
}

/// Compiles the schema at `path`; an invalid schema is a config problem (KrakenD only logs it
/// and then forwards unvalidated bodies, which silently disables the protection).
pub fn parse(v: &Map<String, Value>, path: &str, w: &mut Walker) -> Option<JsonSchema> {
    match jsonschema::validator_for(&Value::Object(v.clone())) {
        Ok(validator) => Some(JsonSchema(Arc::new(validator))),
        Err(e) => {
            let at = e.schema_path().as_str();
            let path = if at.is_empty() {
                path.to_string()
            } else {
                format!("{path}{}", pointer_as_path(at))
            };
            w.fail(path, format!("invalid JSON schema: {e}"));
            None
        }
    }
}

/// `/a/0/b` -> `.a[0].b`.
fn pointer_as_path(pointer: &str) -> String {
    pointer
        .split('/')
        .skip(1)
        .map(|seg| {
            if seg.chars().all(|c| c.is_ascii_digit()) && !seg.is_empty() {
                format!("[{seg}]")
            } else {
                crate::config::walk::join("x", seg)
                    .trim_start_matches('x')
                    .to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compiles_valid_schemas_of_every_draft() {
        for draft in [
            "http://json-schema.org/draft-04/schema#",
            "http://json-schema.org/draft-06/schema#",
            "http://json-schema.org/draft-07/schema#",
            "https://json-schema.org/draft/2019-09/schema",
            "https://json-schema.org/draft/2020-12/schema",
        ] {
            let mut w = Walker::default();
            let s = json!({"$schema": draft, "type": "object", "required": ["a"]});
            let v = parse(s.as_object().unwrap(), "p", &mut w).expect(draft);
            assert!(w.problems.is_empty(), "{draft}: {:?}", w.problems);
            assert!(v.0.is_valid(&json!({"a": 1})));
            assert!(!v.0.is_valid(&json!({"b": 1})));
        }
    }

    #[test]
    fn invalid_schema_is_a_located_problem() {
        let mut w = Walker::default();
        let s = json!({"type": "object", "properties": {"a": {"type": 12}}});
        assert!(parse(
            s.as_object().unwrap(),
            "endpoints[0].extra_config[\"validation/json-schema\"]",
            &mut w
        )
        .is_none());
        assert_eq!(w.problems.len(), 1);
        assert!(
            w.problems[0]
                .path
                .starts_with("endpoints[0].extra_config[\"validation/json-schema\"]"),
            "{:?}",
            w.problems
        );
        assert!(w.problems[0].message.starts_with("invalid JSON schema"));
    }
}
