//! JSON text exactly as Go's `encoding/json` writes it (`json.Marshal` and
//! `json.NewEncoder(w).Encode`).
//!
//! Go sorts object keys, writes no spaces, escapes `<`, `>` and `&` (HTML-safe
//! mode, on by default), escapes U+2028/U+2029, uses `\b \f \n \r \t` short
//! escapes and `\u00XX` (lower-case hex) for the other control characters, and
//! formats `float64` numbers with its own shortest-representation rules. The
//! spec bodies of the CE suite are literally such Go output, so the mock
//! backend and the runner must produce the same bytes.

use serde_json::Value;

/// A value that Go's encoder would write: the subset the mock backend needs,
/// plus arbitrary JSON (the runner re-marshals spec bodies).
pub fn marshal(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// `json.Marshal` of a value that went through `json.Unmarshal` into
/// `interface{}` first: every number is a `float64` (`1e21` -> `1e+21`,
/// `12345678901234567890` -> `12345678901234567000`).
pub fn marshal_any(value: &Value) -> String {
    marshal(&as_float64(value))
}

fn as_float64(value: &Value) -> Value {
    match value {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Value::Array(items) => Value::Array(items.iter().map(as_float64).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), as_float64(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `json.NewEncoder(w).Encode(v)`: [`marshal`] plus a trailing newline.
pub fn encode(value: &Value) -> String {
    let mut out = marshal(value);
    out.push('\n');
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Go sorts map keys by their UTF-8 bytes; do not rely on the map's order.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, &map[key]);
            }
            out.push('}');
        }
    }
}

fn write_number(out: &mut String, n: &serde_json::Number) {
    if let Some(i) = n.as_i64() {
        out.push_str(&i.to_string());
    } else if let Some(u) = n.as_u64() {
        out.push_str(&u.to_string());
    } else {
        out.push_str(&format_float(n.as_f64().unwrap_or(0.0)));
    }
}

/// Formats a `float64` as Go's `encoding/json` does: `'f'` notation for
/// magnitudes in `[1e-6, 1e21)`, otherwise `'e'` notation with a signed exponent
/// (`1e+21`, `1e-7`), always the shortest digits that round-trip.
pub fn format_float(f: f64) -> String {
    let abs = f.abs();
    if abs == 0.0 || (1e-6..1e21).contains(&abs) {
        // Rust's Display is the shortest round-trip representation without exponent.
        return format!("{f}");
    }
    let sci = format!("{f:e}"); // e.g. "1.5e-7", "1e21"
    let (mantissa, exponent) = sci
        .split_once('e')
        .expect("`{:e}` always writes an exponent");
    if let Some(negative) = exponent.strip_prefix('-') {
        format!("{mantissa}e-{negative}")
    } else {
        // Positive exponents here are >= 21, so Go's two-digit minimum always holds.
        format!("{mantissa}e+{exponent}")
    }
}

/// Writes `s` as a JSON string literal the way Go's HTML-safe encoder does.
pub fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' | '\u{0}'..='\u{1f}' => {
                let code = c as u32;
                out.push_str("\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(HEX[((code >> shift) & 0xf) as usize] as char);
                }
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

/// Converts bytes to a string as Go's encoder sees them: invalid UTF-8 becomes U+FFFD.
pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_writes_compact() {
        let v = json!({"query": {}, "foo": 42, "headers": {"B": ["2"], "A": ["1"]}, "path": "/x"});
        assert_eq!(
            marshal(&v),
            r#"{"foo":42,"headers":{"A":["1"],"B":["2"]},"path":"/x","query":{}}"#
        );
    }

    #[test]
    fn escapes_html_and_controls_like_go() {
        let v = json!("<a href=\"x\">&</a>\u{1}\u{8}\u{c}\n\t\\\u{2028}é");
        assert_eq!(
            marshal(&v),
            r#""\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e\u0001\b\f\n\t\\\u2028é""#
        );
    }

    #[test]
    fn encode_appends_newline() {
        assert_eq!(
            encode(&json!({"b": 1, "a": null})),
            "{\"a\":null,\"b\":1}\n"
        );
    }

    #[test]
    fn floats_follow_go_rules() {
        assert_eq!(format_float(42.0), "42");
        assert_eq!(format_float(0.5), "0.5");
        assert_eq!(format_float(0.000001), "0.000001");
        assert_eq!(format_float(1e-7), "1e-7");
        assert_eq!(format_float(1.5e-10), "1.5e-10");
        assert_eq!(format_float(1e21), "1e+21");
        assert_eq!(format_float(-2.5e22), "-2.5e+22");
        assert_eq!(
            format_float(123456789012345680000.0),
            "123456789012345680000"
        );
    }

    #[test]
    fn marshal_any_goes_through_float64() {
        let v: Value =
            serde_json::from_str(r#"{"n":12345678901234567890,"i":42,"f":1e21}"#).unwrap();
        assert_eq!(
            marshal_any(&v),
            r#"{"f":1e+21,"i":42,"n":12345678901234567000}"#
        );
    }

    #[test]
    fn keys_sort_by_bytes_not_case_folded() {
        let v = json!({"b": 1, "B": 2, "a": 3, "_": 4});
        assert_eq!(marshal(&v), r#"{"B":2,"_":4,"a":3,"b":1}"#);
    }
}
