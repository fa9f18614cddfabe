//! `KRAKEND_*` overrides: a root-level string, integer or boolean setting `key` that is
//! present in the config takes the value of the environment variable `KRAKEND_<KEY>`
//! (`KRAKEND_PORT`, `KRAKEND_NAME`, `KRAKEND_TIMEOUT`, `KRAKEND_CACHE_TTL`...), as
//! KrakenD does. Keys absent from the file are not added. `USAGE_DISABLE` needs no
//! handling: Cephalo never reports usage.

use serde_json::Value;

/// Applies the overrides found by `lookup` (the process environment in production).
pub fn apply(tree: &mut Value, lookup: impl Fn(&str) -> Option<String>) {
    let Value::Object(root) = tree else { return };
    for (key, value) in root.iter_mut() {
        if !matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
            continue;
        }
        let Some(raw) = lookup(&format!("KRAKEND_{}", key.to_ascii_uppercase())) else {
            continue;
        };
        *value = match value {
            Value::Number(_) => raw
                .trim()
                .parse::<i64>()
                .map(Value::from)
                // Keep the text: validation then names the key and the bad value.
                .unwrap_or(Value::String(raw)),
            Value::Bool(_) => match raw.trim().to_ascii_lowercase().as_str() {
                "1" | "t" | "true" => Value::Bool(true),
                "0" | "f" | "false" => Value::Bool(false),
                _ => Value::String(raw),
            },
            _ => Value::String(raw),
        };
    }
}

/// Applies the overrides from the process environment.
pub fn apply_from_env(tree: &mut Value) {
    apply(tree, |name| std::env::var(name).ok());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |n| {
            pairs
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn overrides_present_root_scalars_with_their_types() {
        let mut t = json!({"port": 8080, "name": "a", "timeout": "3s", "disable_rest": false,
                           "endpoints": []});
        apply(
            &mut t,
            env(&[
                ("KRAKEND_PORT", "9000"),
                ("KRAKEND_NAME", "build 42"),
                ("KRAKEND_TIMEOUT", "500ms"),
                ("KRAKEND_DISABLE_REST", "true"),
                ("KRAKEND_ENDPOINTS", "x"),
            ]),
        );
        assert_eq!(t["port"], 9000);
        assert_eq!(t["name"], "build 42");
        assert_eq!(t["timeout"], "500ms");
        assert_eq!(t["disable_rest"], true);
        assert_eq!(t["endpoints"], json!([]));
    }

    #[test]
    fn absent_keys_are_not_added_and_bad_numbers_stay_text() {
        let mut t = json!({"port": 8080});
        apply(
            &mut t,
            env(&[("KRAKEND_CACHE_TTL", "1s"), ("KRAKEND_PORT", "eighty")]),
        );
        assert!(t.get("cache_ttl").is_none());
        assert_eq!(t["port"], "eighty");
    }
}
