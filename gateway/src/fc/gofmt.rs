//! Go's view of template values and its `fmt` package: which Go kind a JSON value stands
//! for (settings numbers are `float64`, template integer literals `int`), `%v` printing,
//! `Sprintf` verbs and flags, `strconv.Quote`, and `encoding/json`'s float format.
//!
//! A number's kind lives in its text (the workspace's `serde_json` keeps it): a `.` or an
//! exponent makes it a `float64`, anything else an `int`.

use serde_json::{Map, Number, Value};

use super::dates;

/// The Go kind a value stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Nil,
    Bool,
    Int,
    Float,
    String,
    List,
    Map,
}

/// The Go kind of `v`.
pub fn kind(v: &Value) -> Kind {
    match v {
        Value::Null => Kind::Nil,
        Value::Bool(_) => Kind::Bool,
        Value::Number(n) if is_float(n) => Kind::Float,
        Value::Number(_) => Kind::Int,
        Value::String(_) => Kind::String,
        Value::Array(_) => Kind::List,
        Value::Object(_) => Kind::Map,
    }
}

fn is_float(n: &Number) -> bool {
    n.to_string().contains(['.', 'e', 'E']) || (n.as_i64().is_none() && n.as_u64().is_none())
}

/// A `float64` value (its text always shows it is one).
pub fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// The value with every number turned into a `float64`, as Go's `encoding/json` decodes
/// into `interface{}`.
pub fn floats(v: Value) -> Value {
    match v {
        Value::Number(n) => float(n.as_f64().unwrap_or(0.0)),
        Value::Array(a) => Value::Array(a.into_iter().map(floats).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, floats(v))).collect()),
        other => other,
    }
}

/// The Go type name, as `fmt` prints it in `%!verb(type=value)`.
pub fn type_name(v: &Value) -> &'static str {
    match kind(v) {
        Kind::Nil => "<nil>",
        Kind::Bool => "bool",
        Kind::Int => "int",
        Kind::Float => "float64",
        Kind::String => "string",
        Kind::List => "[]interface {}",
        Kind::Map => "map[string]interface {}",
    }
}

/// Go's `%v`; `top` prints a nil as the template does (`<no value>`).
pub fn print_value(out: &mut String, v: &Value, top: bool) {
    match v {
        Value::Null if top => out.push_str("<no value>"),
        other => out.push_str(&verb(other, 'v', &Flags::default())),
    }
}

/// `v` as `fmt.Sprint` prints one operand.
pub fn display(v: &Value) -> String {
    verb(v, 'v', &Flags::default())
}

/// Go's `float64` `%v`: shortest digits, exponent form below 1e-4 or from 1e6.
pub fn float_v(f: f64) -> String {
    format_g(f, None, 'e')
}

/// `encoding/json`'s float64: shortest digits, `e` form below 1e-6 or from 1e21.
pub fn float_json(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let (neg, digits, dp) = shortest(f);
        let s = exp_form(neg, &digits, dp, digits.len(), 'e');
        // Go trims `e-07` to `e-7` (and keeps `e+21`).
        match s.rsplit_once("e-0") {
            Some((m, e)) => format!("{m}e-{e}"),
            None => s,
        }
    } else {
        format!("{f}")
    }
}

/// JSON numbers as Go's `encoding/json` writes them (floats in Go's format).
pub fn json_numbers(v: &Value) -> Value {
    match v {
        Value::Number(n) if is_float(n) => {
            let text = float_json(n.as_f64().unwrap_or(0.0));
            serde_json::from_str::<Number>(&text).map_or(Value::Null, Value::Number)
        }
        Value::Array(a) => Value::Array(a.iter().map(json_numbers).collect()),
        v @ Value::Object(_) if dates::as_time(v).is_some() => {
            Value::String(dates::to_rfc3339(dates::as_time(v).unwrap_or_default()))
        }
        Value::Object(m) => {
            let mut kv: Vec<_> = m.iter().collect();
            kv.sort_by(|a, b| a.0.cmp(b.0));
            let mut out = Map::new();
            for (k, e) in kv {
                out.insert(k.clone(), json_numbers(e));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Shortest round-trip digits of `f` (no leading/trailing zeros), its sign, and the
/// decimal point position (`0.d1d2… × 10^dp`).
fn shortest(f: f64) -> (bool, String, i32) {
    digits_of(&format!("{:e}", f))
}

/// `f` rounded to `n` significant digits, trailing zeros trimmed.
fn rounded(f: f64, n: usize) -> (bool, String, i32) {
    let (neg, digits, dp) = digits_of(&format!("{:.*e}", n.max(1) - 1, f));
    let trimmed = digits.trim_end_matches('0');
    let trimmed = if trimmed.is_empty() { "0" } else { trimmed };
    (neg, trimmed.to_string(), dp)
}

fn digits_of(sci: &str) -> (bool, String, i32) {
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let neg = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    (neg, digits, exp + 1)
}

/// `d.ddde±XX` with `prec` digits after the point (zero-padded).
fn exp_form(neg: bool, digits: &str, dp: i32, prec: usize, e: char) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    let mut d = digits.chars();
    s.push(d.next().unwrap_or('0'));
    let rest: String = d
        .chain(std::iter::repeat('0'))
        .take(prec.saturating_sub(1))
        .collect();
    if !rest.is_empty() {
        s.push('.');
        s.push_str(&rest);
    }
    let exp = if digits.trim_matches('0').is_empty() {
        0
    } else {
        dp - 1
    };
    s.push(e);
    s.push(if exp < 0 { '-' } else { '+' });
    s.push_str(&format!("{:02}", exp.abs()));
    s
}

/// strconv's `'g'` (shortest when `prec` is `None`).
fn format_g(f: f64, prec: Option<usize>, e: char) -> String {
    if let Some(special) = non_finite(f) {
        return special;
    }
    let (neg, digits, dp) = match prec {
        None => shortest(f),
        Some(p) => rounded(f, p.max(1)),
    };
    let nd = digits.len() as i32;
    let mut eprec = prec.map_or(6, |p| p.max(1) as i32);
    if prec.is_some() && eprec > nd && nd >= dp {
        eprec = nd;
    }
    let exp = if f == 0.0 { 0 } else { dp - 1 };
    if exp < -4 || exp >= eprec {
        return exp_form(neg, &digits, dp, digits.len(), e);
    }
    let decimals = (nd - dp).max(0) as usize;
    format!("{:.*}", decimals, f)
}

fn non_finite(f: f64) -> Option<String> {
    if f.is_nan() {
        Some("NaN".into())
    } else if f.is_infinite() {
        Some(if f > 0.0 { "+Inf" } else { "-Inf" }.into())
    } else {
        None
    }
}

/// Go's `strconv.Quote`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        quote_char(&mut out, c, '"');
    }
    out.push('"');
    out
}

fn quote_char(out: &mut String, c: char, delim: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        c if c == delim => {
            out.push('\\');
            out.push(c);
        }
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if c.is_control() || (c.is_whitespace() && c != ' ') => {
            if (c as u32) < 0x10000 {
                out.push_str(&format!("\\u{:04x}", c as u32));
            } else {
                out.push_str(&format!("\\U{:08x}", c as u32));
            }
        }
        c => out.push(c),
    }
}

/// `fmt` flags, width and precision of one verb.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    minus: bool,
    plus: bool,
    zero: bool,
    space: bool,
    sharp: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Go's `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut flags = Flags::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => flags.minus = true,
                '+' => flags.plus = true,
                '0' => flags.zero = true,
                ' ' => flags.space = true,
                '#' => flags.sharp = true,
                _ => break,
            }
            chars.next();
        }
        flags.width = number_or_star(&mut chars, args, &mut next);
        if chars.peek() == Some(&'.') {
            chars.next();
            flags.prec = Some(number_or_star(&mut chars, args, &mut next).unwrap_or(0));
        }
        let Some(v) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if v == '%' {
            out.push('%');
            continue;
        }
        match args.get(next) {
            Some(arg) => {
                next += 1;
                out.push_str(&verb(arg, v, &flags));
            }
            None => out.push_str(&format!("%!{v}(MISSING)")),
        }
    }
    if next < args.len() {
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| match a {
                Value::Null => "<nil>".to_string(),
                a => format!("{}={}", type_name(a), display(a)),
            })
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn number_or_star(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    args: &[Value],
    next: &mut usize,
) -> Option<usize> {
    if chars.peek() == Some(&'*') {
        chars.next();
        let n = args.get(*next).and_then(Value::as_i64);
        *next += 1;
        return n.map(|n| n.max(0) as usize);
    }
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        n = Some(n.unwrap_or(0) * 10 + d as usize);
        chars.next();
    }
    n
}

/// One operand formatted with verb `v`.
pub fn verb(arg: &Value, v: char, flags: &Flags) -> String {
    let verb_char = v;
    let bad = || match arg {
        Value::Null => format!("%!{v}(<nil>)"),
        a => format!("%!{v}({}={})", type_name(a), display(a)),
    };
    let text = match (kind(arg), arg) {
        (Kind::Nil, _) if v == 'v' => "<nil>".to_string(),
        (Kind::Nil, _) => return bad(),
        (Kind::List, Value::Array(items)) => {
            let inner: Vec<String> = items.iter().map(|e| verb(e, v, flags)).collect();
            return format!("[{}]", inner.join(" "));
        }
        (Kind::Map, v) if dates::as_time(v).is_some() && matches!(verb_char, 'v' | 's') => {
            dates::to_string(dates::as_time(v).unwrap_or_default())
        }
        (Kind::Map, Value::Object(m)) => {
            let mut kv: Vec<_> = m.iter().collect();
            kv.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = kv
                .into_iter()
                .map(|(k, e)| {
                    format!(
                        "{}:{}",
                        verb(&Value::String(k.clone()), v, flags),
                        verb(e, v, flags)
                    )
                })
                .collect();
            return format!("map[{}]", inner.join(" "));
        }
        (Kind::Bool, Value::Bool(b)) => match v {
            't' | 'v' => b.to_string(),
            _ => return bad(),
        },
        (Kind::String, Value::String(s)) => match v {
            's' | 'v' => truncate(s, flags.prec),
            'q' if flags.sharp && !s.contains('`') && !s.chars().any(char::is_control) => {
                format!("`{}`", truncate(s, flags.prec))
            }
            'q' => quote(&truncate(s, flags.prec)),
            'x' | 'X' => hex_bytes(truncate(s, flags.prec).as_bytes(), v == 'X'),
            _ => return bad(),
        },
        (Kind::Int, Value::Number(n)) => match int_verb(n, v, flags) {
            Some(s) => s,
            None => return bad(),
        },
        (Kind::Float, Value::Number(n)) => {
            let f = n.as_f64().unwrap_or(0.0);
            let body = match v {
                'v' if flags.prec.is_none() => float_v(f),
                'v' => format_g(f, flags.prec, 'e'),
                'g' | 'G' => format_g(f, flags.prec, if v == 'G' { 'E' } else { 'e' }),
                'f' | 'F' => {
                    non_finite(f).unwrap_or_else(|| format!("{:.*}", flags.prec.unwrap_or(6), f))
                }
                'e' | 'E' => non_finite(f).unwrap_or_else(|| {
                    let p = flags.prec.unwrap_or(6);
                    let (neg, digits, dp) = digits_of(&format!("{:.*e}", p, f));
                    exp_form(neg, &digits, dp, p + 1, if v == 'E' { 'E' } else { 'e' })
                }),
                _ => return bad(),
            };
            signed(body, flags)
        }
        _ => return bad(),
    };
    pad(text, flags, matches!(kind(arg), Kind::Int | Kind::Float))
}

fn int_verb(n: &Number, v: char, flags: &Flags) -> Option<String> {
    let i = n
        .as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))?;
    let digits = |s: String| match flags.prec {
        Some(p) if s.len() < p => format!("{}{s}", "0".repeat(p - s.len())),
        _ => s,
    };
    let sign = |body: String| {
        if i < 0 {
            format!("-{body}")
        } else {
            signed(body, flags)
        }
    };
    let abs = i.unsigned_abs();
    Some(match v {
        'd' | 'v' => sign(digits(abs.to_string())),
        'x' => sign(format!(
            "{}{}",
            if flags.sharp { "0x" } else { "" },
            digits(format!("{abs:x}"))
        )),
        'X' => sign(format!(
            "{}{}",
            if flags.sharp { "0X" } else { "" },
            digits(format!("{abs:X}"))
        )),
        'o' => sign(format!(
            "{}{}",
            if flags.sharp { "0" } else { "" },
            digits(format!("{abs:o}"))
        )),
        'b' => sign(digits(format!("{abs:b}"))),
        'c' => char::from_u32(u32::try_from(i).ok()?)?.to_string(),
        'q' => {
            let c = char::from_u32(u32::try_from(i).ok()?)?;
            let mut s = String::from('\'');
            quote_char(&mut s, c, '\'');
            s.push('\'');
            s
        }
        'U' => format!("U+{:04X}", abs),
        _ => return None,
    })
}

/// A `+` or ` ` before a non-negative number, as the flags ask.
fn signed(body: String, flags: &Flags) -> String {
    if body.starts_with('-') || body.starts_with('+') {
        body
    } else if flags.plus {
        format!("+{body}")
    } else if flags.space {
        format!(" {body}")
    } else {
        body
    }
}

fn truncate(s: &str, prec: Option<usize>) -> String {
    match prec {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    }
}

fn hex_bytes(bytes: &[u8], upper: bool) -> String {
    bytes
        .iter()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect()
}

/// Pads to the width: spaces on the left (right with `-`), zeros after the sign with `0`.
fn pad(text: String, flags: &Flags, numeric: bool) -> String {
    let Some(width) = flags.width else {
        return text;
    };
    let len = text.chars().count();
    if len >= width {
        return text;
    }
    let fill = width - len;
    if flags.minus {
        format!("{text}{}", " ".repeat(fill))
    } else if flags.zero {
        let split = if numeric && (text.starts_with(['-', '+', ' '])) {
            1
        } else {
            0
        };
        format!("{}{}{}", &text[..split], "0".repeat(fill), &text[split..])
    } else {
        format!("{}{text}", " ".repeat(fill))
    }
}

#[cfg(test)]
mod tests;
