//! `check --lint`: validates the config tree against schema rules, offline.
//!
//! The built-in rules (`rules.json`, our own JSON Schema subset written from KrakenD's
//! documented types, enums and required fields) are embedded in the binary; `-s PATH` uses a
//! local schema file instead (for example KrakenD's published schema, downloaded beforehand).
//! No network is ever used: references to other documents are reported as skipped.
//!
//! Supported keywords: `type`, `enum`, `const`, `required`, `properties`,
//! `patternProperties` (prefix match on `^literal`), `additionalProperties`, `items`,
//! `minimum`, `maximum`, `minItems`, `minLength`, `anyOf`, `oneOf`, `allOf`, local `$ref`
//! (`#/...`), `definitions`/`$defs`.

use serde_json::Value;

/// The embedded rules.
pub const BUILTIN_RULES: &str = include_str!("rules.json");

/// One schema violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON path in the config (`endpoints[0].method`).
    pub path: String,
    /// What rule failed.
    pub message: String,
}

/// Validates `config` against `schema`.
pub fn validate(schema: &Value, config: &Value) -> Vec<Violation> {
    let mut v = Validator {
        root: schema,
        out: Vec::new(),
        depth: 0,
    };
    v.check(schema, config, "");
    v.out
}

struct Validator<'a> {
    root: &'a Value,
    out: Vec<Violation>,
    depth: usize,
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else if key.contains(['.', '/', ' ']) {
        format!("{path}[{key:?}]")
    } else {
        format!("{path}.{key}")
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.as_i64().is_some() || v.as_u64().is_some(),
        _ => true,
    }
}

impl<'a> Validator<'a> {
    fn fail(&mut self, path: &str, message: String) {
        self.out.push(Violation {
            path: if path.is_empty() {
                "(root)".into()
            } else {
                path.into()
            },
            message,
        });
    }

    fn resolve(&self, r: &str) -> Option<&'a Value> {
        let pointer = r.strip_prefix('#')?;
        self.root.pointer(pointer)
    }

    /// Whether `v` is valid against `schema` without recording anything.
    fn quiet(&mut self, schema: &Value, v: &Value, path: &str) -> bool {
        let before = self.out.len();
        self.check(schema, v, path);
        let ok = self.out.len() == before;
        self.out.truncate(before);
        ok
    }

    fn check(&mut self, schema: &Value, v: &Value, path: &str) {
        let Some(s) = schema.as_object() else { return };
        if self.depth > 64 {
            return;
        }
        self.depth += 1;
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            match self.resolve(r) {
                Some(target) => self.check(target, v, path),
                None if !r.starts_with('#') => {} // another document: skipped offline
                None => self.fail(path, format!("schema reference {r} not found")),
            }
        }
        if let Some(t) = s.get("type") {
            let ok = match t {
                Value::String(t) => type_matches(t, v),
                Value::Array(ts) => ts
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|t| type_matches(t, v)),
                _ => true,
            };
            if !ok {
                self.fail(path, format!("must be of type {t}, found {}", kind(v)));
                self.depth -= 1;
                return;
            }
        }
        if let Some(e) = s.get("enum").and_then(Value::as_array) {
            if !e.contains(v) {
                let allowed: Vec<String> = e.iter().map(Value::to_string).collect();
                self.fail(path, format!("{v} is not one of {}", allowed.join(", ")));
            }
        }
        if let Some(c) = s.get("const") {
            if c != v {
                self.fail(path, format!("must be {c}"));
            }
        }
        if let Some(n) = v.as_f64() {
            if let Some(min) = s.get("minimum").and_then(Value::as_f64) {
                if n < min {
                    self.fail(path, format!("must be >= {min}"));
                }
            }
            if let Some(max) = s.get("maximum").and_then(Value::as_f64) {
                if n > max {
                    self.fail(path, format!("must be <= {max}"));
                }
            }
        }
        if let (Some(min), Some(text)) = (s.get("minLength").and_then(Value::as_u64), v.as_str()) {
            if (text.chars().count() as u64) < min {
                self.fail(path, format!("must have at least {min} characters"));
            }
        }
        if let Value::Object(obj) = v {
            if let Some(req) = s.get("required").and_then(Value::as_array) {
                for k in req.iter().filter_map(Value::as_str) {
                    if !obj.contains_key(k) {
                        self.fail(path, format!("missing required property {k:?}"));
                    }
                }
            }
            let props = s.get("properties").and_then(Value::as_object);
            let patterns = s.get("patternProperties").and_then(Value::as_object);
            for (k, val) in obj {
                let p = child(path, k);
                let mut matched = false;
                if let Some(ps) = props.and_then(|ps| ps.get(k)) {
                    matched = true;
                    self.check(ps, val, &p);
                }
                if let Some(pats) = patterns {
                    for (re, ps) in pats {
                        if pattern_matches(re, k) {
                            matched = true;
                            self.check(ps, val, &p);
                        }
                    }
                }
                if !matched {
                    match s.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            self.fail(&p, "is not an allowed property here".into());
                        }
                        Some(extra @ Value::Object(_)) => self.check(extra, val, &p),
                        _ => {}
                    }
                }
            }
        }
        if let Value::Array(items) = v {
            if let Some(min) = s.get("minItems").and_then(Value::as_u64) {
                if (items.len() as u64) < min {
                    self.fail(path, format!("must have at least {min} items"));
                }
            }
            if let Some(is) = s.get("items") {
                for (i, item) in items.iter().enumerate() {
                    self.check(is, item, &format!("{path}[{i}]"));
                }
            }
        }
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            for sub in all {
                self.check(sub, v, path);
            }
        }
        for (kw, exactly_one) in [("anyOf", false), ("oneOf", true)] {
            if let Some(list) = s.get(kw).and_then(Value::as_array) {
                let n = list.iter().filter(|sub| self.quiet(sub, v, path)).count();
                if n == 0 || (exactly_one && n > 1) {
                    self.fail(path, format!("does not match {kw} of the allowed shapes"));
                }
            }
        }
        self.depth -= 1;
    }
}

/// A tiny regex subset: `^literal` prefix, `literal$` suffix, `.*` anything; else substring.
fn pattern_matches(re: &str, key: &str) -> bool {
    if re == ".*" || re == "^.*$" {
        return true;
    }
    let anchored_start = re.starts_with('^');
    let anchored_end = re.ends_with('$') && !re.ends_with("\\$");
    let core = re.trim_start_matches('^').trim_end_matches('$');
    if core.contains(['*', '+', '[', '(', '|', '?', '\\']) {
        // Beyond the subset: accept rather than report false positives.
        return true;
    }
    match (anchored_start, anchored_end) {
        (true, true) => key == core,
        (true, false) => key.starts_with(core),
        (false, true) => key.ends_with(core),
        (false, false) => key.contains(core),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn builtin(config: Value) -> Vec<String> {
        let schema: Value = serde_json::from_str(BUILTIN_RULES).unwrap();
        validate(&schema, &config)
            .into_iter()
            .map(|v| format!("{}: {}", v.path, v.message))
            .collect()
    }

    #[test]
    fn builtin_rules_accept_a_typical_config() {
        let v = builtin(json!({"version": 3, "port": 8080, "timeout": "3s",
            "extra_config": {"telemetry/logging": {"level": "INFO", "stdout": true}},
            "endpoints": [{"endpoint": "/a", "method": "GET", "output_encoding": "json",
                "backend": [{"host": ["http://x"], "url_pattern": "/a", "encoding": "json"}]}]}));
        assert!(v.is_empty(), "{v:?}");
    }

    #[test]
    fn builtin_rules_report_types_enums_and_required() {
        let v = builtin(json!({"version": 3, "port": "80",
            "extra_config": {"telemetry/logging": {"level": "LOUD"}},
            "endpoints": [{"endpoint": "/a", "method": "FETCH",
                "backend": [{"host": "http://x"}]}]}));
        let all = v.join("\n");
        assert!(
            all.contains("port: must be of type \"integer\", found string"),
            "{all}"
        );
        assert!(
            all.contains("telemetry/logging\"].level: \"LOUD\" is not one of"),
            "{all}"
        );
        assert!(
            all.contains("endpoints[0].method: \"FETCH\" is not one of"),
            "{all}"
        );
        assert!(
            all.contains("endpoints[0].backend[0].host: must be of type \"array\""),
            "{all}"
        );
        assert!(
            all.contains("endpoints[0].backend[0]: missing required property \"url_pattern\""),
            "{all}"
        );
    }

    #[test]
    fn local_refs_any_of_and_additional_properties() {
        let schema = json!({"definitions": {"d": {"type": "string", "minLength": 2}},
            "type": "object", "additionalProperties": false,
            "properties": {"a": {"$ref": "#/definitions/d"},
                           "b": {"anyOf": [{"type": "integer"}, {"type": "boolean"}]},
                           "c": {"$ref": "https://elsewhere/schema.json"}}});
        let v = validate(&schema, &json!({"a": "x", "b": "no", "c": 1, "z": 0}));
        let paths: Vec<&str> = v.iter().map(|v| v.path.as_str()).collect();
        assert_eq!(paths, vec!["a", "b", "z"], "{v:?}");
    }
}
