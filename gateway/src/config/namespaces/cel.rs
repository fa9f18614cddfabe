//! `extra_config["validation/cel"]` (endpoint and backend level): a list of
//! `{"check_expr": "..."}` objects. Expressions are compiled once, here; like KrakenD, an
//! expression runs on the request when it mentions `req`, on the response when it mentions
//! `resp`, and on the JWT claims (by the JWT validator) when it mentions `JWT`.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::config::walk::{index, join, type_name, Walker};

/// The namespace key.
pub const NAMESPACE: &str = "validation/cel";

/// One compiled `check_expr`.
#[derive(Clone)]
pub struct CelRule {
    /// The expression as written.
    pub source: String,
    /// The compiled program.
    pub program: Arc<cel_interpreter::Program>,
}

impl fmt::Debug for CelRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CelRule({:?})", self.source)
    }
}

impl CelRule {
    /// Whether this rule checks the request (`req_*` variables).
    pub fn on_request(&self) -> bool {
        self.source.contains("req")
    }
    /// Whether this rule checks the response (`resp_*` variables).
    pub fn on_response(&self) -> bool {
        self.source.contains("resp")
    }
    /// Whether this rule checks the JWT claims (`JWT`).
    pub fn on_jwt(&self) -> bool {
        self.source.contains("JWT")
    }
}

/// Reads the rule list at `path`. Expressions that do not parse are config problems (KrakenD
/// would log them and silently drop every rule of the list).
pub fn parse(v: &Value, path: &str, w: &mut Walker) -> Vec<CelRule> {
    let items = match v {
        Value::Array(items) => items,
        other => {
            w.fail(
                path,
                format!("must be an array, found {}", type_name(other)),
            );
            return Vec::new();
        }
    };
    let mut rules = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = index(path, i);
        let Some(obj) = w.expect_object(item, &at) else {
            continue;
        };
        w.note_unknown_keys(obj, &at, &["check_expr", "mod_expr"]);
        let Some(source) = w.string(obj, "check_expr", &at) else {
            continue;
        };
        if source.trim().is_empty() {
            continue;
        }
        // The crate's generated parser panics on some malformed input (antlr4rust
        // "unreachable"): contain it here, at start-up, and report a located problem.
        let compiled = std::panic::catch_unwind(|| cel_interpreter::Program::compile(&source));
        match compiled {
            Ok(Ok(p)) => rules.push(CelRule {
                source,
                program: Arc::new(p),
            }),
            Ok(Err(e)) => w.fail(
                join(&at, "check_expr"),
                format!("invalid CEL expression: {e}"),
            ),
            Err(_) => w.fail(join(&at, "check_expr"), "invalid CEL expression"),
        }
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compiles_and_classifies_rules() {
        let mut w = Walker::default();
        let v = json!([
            {"check_expr": "req_method == 'GET'"},
            {"check_expr": "resp_completed"},
            {"check_expr": "size(JWT.roles) > 1"},
            {"check_expr": ""}
        ]);
        let r = parse(&v, "p", &mut w);
        assert!(w.problems.is_empty());
        assert_eq!(r.len(), 3);
        assert!(r[0].on_request() && !r[0].on_response());
        assert!(r[1].on_response() && !r[1].on_request());
        assert!(r[2].on_jwt() && !r[2].on_request());
    }

    #[test]
    fn syntax_errors_are_located() {
        let mut w = Walker::default();
        let v = json!([
            {"check_expr": "true"},
            {"check_expr": "req_method == ("},
            {"check_expr": "req_method ==="}
        ]);
        let r = parse(&v, "e[\"validation/cel\"]", &mut w);
        assert_eq!(r.len(), 1);
        assert_eq!(w.problems.len(), 2);
        assert_eq!(w.problems[0].path, "e[\"validation/cel\"][1].check_expr");
        assert_eq!(w.problems[1].path, "e[\"validation/cel\"][2].check_expr");
        let mut w = Walker::default();
        parse(&json!({"check_expr": "true"}), "x", &mut w);
        assert_eq!(w.problems[0].message, "must be an array, found an object");
    }
}
