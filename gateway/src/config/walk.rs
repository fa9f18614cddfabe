//! A small typed reader over a parsed config tree that records every problem with its JSON path.

use std::time::Duration;

use serde_json::{Map, Value};

use super::duration::parse_go_duration;
use super::error::Problem;

/// Collects problems and ignored namespaces while the tree is read.
#[derive(Debug, Default)]
pub struct Walker {
    /// Every problem found so far.
    pub problems: Vec<Problem>,
    /// Namespaces present but not implemented: (path, namespace).
    pub ignored: Vec<(String, String)>,
    /// Keys no KrakenD version knows at that place (likely typos), by JSON path.
    pub unknown_keys: Vec<String>,
}

/// `parent.key` in JSON-path notation.
pub fn join(parent: &str, key: &str) -> String {
    let simple = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    match (parent.is_empty(), simple) {
        (true, true) => key.to_string(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{key:?}]"),
    }
}

/// `parent[i]`.
pub fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// The JSON type name Go/KrakenD users know.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Walker {
    /// Notes keys of `obj` outside `known` (`@comments` and `$schema` are always fine).
    pub fn note_unknown_keys(&mut self, obj: &Map<String, Value>, path: &str, known: &[&str]) {
        for k in obj.keys() {
            if !k.starts_with('@') && !k.starts_with('$') && !known.contains(&k.as_str()) {
                self.unknown_keys.push(join(path, k));
            }
        }
    }

    /// Records a problem.
    pub fn fail(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    fn wrong_type(&mut self, path: String, want: &str, got: &Value) {
        self.fail(path, format!("must be {want}, found {}", type_name(got)));
    }

    /// An optional string field.
    pub fn string(&mut self, obj: &Map<String, Value>, key: &str, path: &str) -> Option<String> {
        match obj.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => {
                self.wrong_type(join(path, key), "a string", other);
                None
            }
        }
    }

    /// An optional boolean field.
    pub fn boolean(&mut self, obj: &Map<String, Value>, key: &str, path: &str) -> Option<bool> {
        match obj.get(key)? {
            Value::Bool(b) => Some(*b),
            Value::Null => None,
            other => {
                self.wrong_type(join(path, key), "a boolean", other);
                None
            }
        }
    }

    /// An optional non-negative integer field, bounded by `max`.
    pub fn unsigned(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        path: &str,
        max: u64,
    ) -> Option<u64> {
        let v = obj.get(key)?;
        if v.is_null() {
            return None;
        }
        match v.as_u64() {
            Some(n) if n <= max => Some(n),
            Some(n) => {
                self.fail(join(path, key), format!("{n} is out of range (max {max})"));
                None
            }
            None => {
                let what = if v.is_number() {
                    "a non-negative integer"
                } else {
                    "an integer"
                };
                if v.is_number() {
                    self.fail(join(path, key), format!("must be {what}, found {v}"));
                } else {
                    self.wrong_type(join(path, key), what, v);
                }
                None
            }
        }
    }

    /// An optional Go duration (`"3s"`); a bare integer is read as nanoseconds, as Go does.
    pub fn duration(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<Duration> {
        match obj.get(key)? {
            Value::String(s) => match parse_go_duration(s) {
                Ok(d) => Some(d),
                Err(e) => {
                    self.fail(join(path, key), e);
                    None
                }
            },
            Value::Number(n) if n.as_u64().is_some() => Some(Duration::from_nanos(n.as_u64()?)),
            Value::Null => None,
            other => {
                self.wrong_type(join(path, key), "a duration string like \"3s\"", other);
                None
            }
        }
    }

    /// An optional list of strings.
    pub fn strings(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<Vec<String>> {
        match obj.get(key)? {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        other => self.wrong_type(index(&join(path, key), i), "a string", other),
                    }
                }
                Some(out)
            }
            Value::Null => None,
            other => {
                self.wrong_type(join(path, key), "an array of strings", other);
                None
            }
        }
    }

    /// An optional object field.
    pub fn object<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<&'a Map<String, Value>> {
        match obj.get(key)? {
            Value::Object(m) => Some(m),
            Value::Null => None,
            other => {
                self.wrong_type(join(path, key), "an object", other);
                None
            }
        }
    }

    /// Requires `v` to be an object.
    pub fn expect_object<'a>(
        &mut self,
        v: &'a Value,
        path: &str,
    ) -> Option<&'a Map<String, Value>> {
        match v {
            Value::Object(m) => Some(m),
            other => {
                self.wrong_type(path.to_string(), "an object", other);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_wrong_types_with_paths() {
        let mut w = Walker::default();
        let v = json!({"a": 1, "b": "x", "c": [1, "y"], "d": "nope"});
        let m = v.as_object().unwrap();
        assert_eq!(w.string(m, "a", "root"), None);
        assert_eq!(w.boolean(m, "b", "root"), None);
        assert_eq!(w.strings(m, "c", "root"), Some(vec!["y".to_string()]));
        assert_eq!(w.duration(m, "d", "root"), None);
        let paths: Vec<_> = w.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["root.a", "root.b", "root.c[0]", "root.d"]);
    }

    #[test]
    fn join_quotes_namespaces() {
        assert_eq!(
            join("extra_config", "backend/http"),
            "extra_config[\"backend/http\"]"
        );
        assert_eq!(join("", "port"), "port");
    }
}
