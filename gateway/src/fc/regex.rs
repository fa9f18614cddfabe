//! Sprig's regular-expression helpers with Go's RE2 semantics: `\d`, `\w`, `\s` and `\b`
//! are ASCII as in Go (the `regex` crate's are Unicode), replacements expand `$1`/`${name}`.

use regex::Regex;
use serde_json::Value;

/// The helper names this module answers.
pub const NAMES: &[&str] = &[
    "regexMatch",
    "mustRegexMatch",
    "regexFind",
    "mustRegexFind",
    "regexFindAll",
    "mustRegexFindAll",
    "regexReplaceAll",
    "mustRegexReplaceAll",
    "regexReplaceAllLiteral",
    "mustRegexReplaceAllLiteral",
    "regexSplit",
    "mustRegexSplit",
    "regexQuoteMeta",
];

/// Calls helper `name` (one of [`NAMES`]) with `(regex, text, ...)` arguments.
pub fn call(name: &str, a: &[Value]) -> Result<Value, String> {
    let arg = |i: usize| match a.get(i) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => super::exec::display(other),
    };
    let count = |i: usize| a.get(i).and_then(Value::as_i64).unwrap_or(-1);
    if name == "regexQuoteMeta" {
        return Ok(Value::String(regex::escape(&arg(0))));
    }
    let re = match compile(&arg(0)) {
        Ok(re) => re,
        // Sprig's regexMatch ignores a bad expression; the others panic (an error here).
        Err(_) if name == "regexMatch" => return Ok(Value::Bool(false)),
        Err(e) => return Err(e),
    };
    let text = arg(1);
    let strings =
        |v: Vec<&str>| Value::Array(v.into_iter().map(|s| Value::String(s.into())).collect());
    Ok(
        match name.trim_start_matches("must").trim_start_matches("Regex") {
            "regexMatch" | "Match" => Value::Bool(re.is_match(&text)),
            "regexFind" | "Find" => Value::String(re.find(&text).map_or("", |m| m.as_str()).into()),
            "regexFindAll" | "FindAll" => {
                let n = count(2);
                let all = re.find_iter(&text).map(|m| m.as_str());
                strings(match usize::try_from(n) {
                    Ok(n) => all.take(n).collect(),
                    Err(_) => all.collect(),
                })
            }
            "regexReplaceAll" | "ReplaceAll" => {
                Value::String(re.replace_all(&text, arg(2).as_str()).into_owned())
            }
            "regexReplaceAllLiteral" | "ReplaceAllLiteral" => {
                Value::String(re.replace_all(&text, regex::NoExpand(&arg(2))).into_owned())
            }
            "regexSplit" | "Split" => {
                let n = count(2);
                if n == 0 {
                    Value::Array(Vec::new())
                } else {
                    strings(match usize::try_from(n) {
                        Ok(n) => re.splitn(&text, n).collect(),
                        Err(_) => re.split(&text).collect(),
                    })
                }
            }
            _ => return Err(format!("function {name:?} not defined")),
        },
    )
}

/// Compiles a Go (RE2) expression, its Perl classes made ASCII as Go's are.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(&ascii_classes(pattern))
        .map_err(|e| format!("regexp: Compile({}): {e}", super::gofmt::quote(pattern)))
}

fn ascii_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(n) = chars.next() else {
                    out.push('\\');
                    break;
                };
                match (in_class, n) {
                    (false, 'd' | 'D' | 'w' | 'W' | 's' | 'S' | 'b' | 'B') => {
                        out.push_str(&format!("(?-u:\\{n})"));
                    }
                    (true, 'd') => out.push_str("0-9"),
                    (true, 'w') => out.push_str("0-9A-Za-z_"),
                    (true, 's') => out.push_str("\\t\\n\\x0C\\r "),
                    (true, 'D') => out.push_str("[^0-9]"),
                    (true, 'W') => out.push_str("[^0-9A-Za-z_]"),
                    (true, 'S') => out.push_str("[^\\t\\n\\x0C\\r ]"),
                    _ => {
                        out.push('\\');
                        out.push(n);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A `]` right after `[` or `[^` is a literal.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push_str("\\]");
                    chars.next();
                }
            }
            '[' if in_class && chars.peek() == Some(&':') => {
                // `[:alpha:]` inside a class.
                out.push('[');
                for d in chars.by_ref() {
                    out.push(d);
                    if d == ']' {
                        break;
                    }
                }
            }
            '[' => out.push_str("\\["),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn c(name: &str, a: Value) -> Value {
        call(name, a.as_array().unwrap()).unwrap()
    }

    #[test]
    fn perl_classes_are_ascii_as_in_go() {
        assert_eq!(c("regexMatch", json!(["^\\d+$", "123"])), json!(true));
        // U+0663 ARABIC-INDIC DIGIT THREE is a digit for Unicode, not for Go's \d.
        assert_eq!(
            c("regexMatch", json!(["^\\d+$", "12\u{663}"])),
            json!(false)
        );
        assert_eq!(
            c("regexMatch", json!(["^[\\w.-]+$", "a_b.c-d"])),
            json!(true)
        );
        assert_eq!(c("regexMatch", json!(["^\\w+$", "é"])), json!(false));
        assert_eq!(c("regexMatch", json!(["[", "x"])), json!(false));
        assert!(call("regexFind", &[json!("["), json!("x")]).is_err());
    }

    #[test]
    fn sprig_regex_helpers() {
        // Sprig's documented examples.
        assert_eq!(
            c(
                "regexMatch",
                json!([
                    "^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[A-Za-z]{2,}$",
                    "test@acme.com"
                ])
            ),
            json!(true)
        );
        assert_eq!(
            c("regexFindAll", json!(["[2,4,6,8]", "123456789", -1])),
            json!(["2", "4", "6", "8"])
        );
        assert_eq!(
            c("regexFindAll", json!(["[2,4,6,8]", "123456789", 2])),
            json!(["2", "4"])
        );
        assert_eq!(
            c("regexFind", json!(["[a-zA-Z][1-9]", "abcd1234"])),
            json!("d1")
        );
        assert_eq!(
            c("regexReplaceAll", json!(["a(x*)b", "-ab-axxb-", "${1}W"])),
            json!("-W-xxW-")
        );
        assert_eq!(
            c("regexReplaceAll", json!(["a(x*)b", "-ab-axxb-", "$1W"])),
            json!("---")
        );
        assert_eq!(
            c(
                "regexReplaceAllLiteral",
                json!(["a(x*)b", "-ab-axxb-", "${1}"])
            ),
            json!("-${1}-${1}-")
        );
        assert_eq!(
            c("regexSplit", json!(["z+", "pizza", -1])),
            json!(["pi", "a"])
        );
        assert_eq!(c("regexSplit", json!(["z+", "pizza", 1])), json!(["pizza"]));
        assert_eq!(c("regexSplit", json!(["z+", "pizza", 0])), json!([]));
        assert_eq!(c("regexQuoteMeta", json!(["1.2.3"])), json!("1\\.2\\.3"));
    }
}
