//! Template functions: Go's built-ins, KrakenD's `marshal`/`include`, and the Sprig
//! helpers KrakenD configs commonly use.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::exec::{display, truthy, type_name};
use super::gofmt::{self, float, kind, Kind};

/// State the helpers need: where `include` reads partials from.
#[derive(Debug, Clone, Default)]
pub struct Helpers {
    /// `FC_PARTIALS` (relative names are read from the working directory without it).
    pub partials: Option<PathBuf>,
}

const NAMES: &[&str] = &[
    // Go text/template built-ins.
    "and",
    "or",
    "not",
    "len",
    "index",
    "print",
    "printf",
    "println",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "urlquery",
    "slice",
    // KrakenD.
    "marshal",
    "include",
    // Sprig.
    "env",
    "default",
    "empty",
    "coalesce",
    "ternary",
    "quote",
    "squote",
    "upper",
    "lower",
    "title",
    "trim",
    "trimAll",
    "trimPrefix",
    "trimSuffix",
    "replace",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "repeat",
    "split",
    "splitList",
    "join",
    "list",
    "dict",
    "hasKey",
    "keys",
    "values",
    "get",
    "set",
    "unset",
    "first",
    "last",
    "rest",
    "initial",
    "append",
    "push",
    "prepend",
    "concat",
    "uniq",
    "has",
    "add",
    "add1",
    "sub",
    "mul",
    "div",
    "mod",
    "max",
    "min",
    "addf",
    "add1f",
    "subf",
    "mulf",
    "divf",
    "maxf",
    "minf",
    "floor",
    "ceil",
    "round",
    "kindOf",
    "atoi",
    "int",
    "int64",
    "float64",
    "toString",
    "toJson",
    "toPrettyJson",
    "toRawJson",
    "fromJson",
    "indent",
    "nindent",
    "cat",
    "until",
    "sortAlpha",
    "nospace",
    "merge",
    "pick",
    "omit",
    "kindIs",
    "typeOf",
    "toStrings",
    "b64enc",
    "b64dec",
    "substr",
    "trunc",
    "abbrev",
    "initials",
    "plural",
    "splitn",
    "expandenv",
    "dig",
    "pluck",
    "reverse",
    "compact",
    "without",
    "deepEqual",
    // `krakend audit -f`: colours are never printed.
    "colored",
];

/// Whether `name` is a known function.
pub fn exists(name: &str) -> bool {
    NAMES.contains(&name)
        || super::regex::NAMES.contains(&name)
        || super::dates::NAMES.contains(&name)
}

type R = Result<Value, String>;

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => display(other),
    }
}

fn num(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| "bad number".into()),
        Value::String(s) => Ok(s.trim().parse::<f64>().unwrap_or(0.0)),
        Value::Bool(b) => Ok(f64::from(u8::from(*b))),
        Value::Null => Ok(0.0),
        other => Err(format!("cannot use {} as a number", type_name(other))),
    }
}

fn int(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) => Ok(n
            .as_i64()
            .unwrap_or_else(|| n.as_f64().unwrap_or(0.0) as i64)),
        Value::String(s) => Ok(s.trim().parse::<i64>().unwrap_or(0)),
        other => num(other).map(|f| f as i64),
    }
}

fn arity(name: &str, args: &[Value], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ))
    }
}

fn list_of(v: &Value) -> Result<Vec<Value>, String> {
    match v {
        Value::Array(a) => Ok(a.clone()),
        Value::Null => Ok(Vec::new()),
        other => Err(format!("cannot use {} as a list", type_name(other))),
    }
}

fn map_of(v: &Value) -> Result<Map<String, Value>, String> {
    match v {
        Value::Object(m) => Ok(m.clone()),
        Value::Null => Ok(Map::new()),
        other => Err(format!("cannot use {} as a map", type_name(other))),
    }
}

/// JSON as Go's `encoding/json` writes it: sorted map keys, Go's float format.
pub fn to_json(v: &Value, indent: Option<&str>) -> String {
    let v = gofmt::json_numbers(v);
    match indent {
        None => serde_json::to_string(&v).unwrap_or_default(),
        Some(_) => serde_json::to_string_pretty(&v).unwrap_or_default(),
    }
}

/// Go's `eq` for one pair: values of different basic kinds are an error unless one is nil.
fn equal(a: &Value, b: &Value) -> Result<bool, String> {
    let (ka, kb) = (kind(a), kind(b));
    if ka != kb {
        if ka == Kind::Nil || kb == Kind::Nil {
            return Ok(false);
        }
        return Err("incompatible types for comparison".into());
    }
    match ka {
        Kind::Int | Kind::Float => Ok(num(a)? == num(b)?),
        Kind::List | Kind::Map => Err(format!(
            "non-comparable types {}: {}, {}: {}",
            display(a),
            type_name(a),
            type_name(b),
            display(b)
        )),
        _ => Ok(a == b),
    }
}

/// Go's `lt` and friends: numbers and strings of one kind only.
fn order(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    let (ka, kb) = (kind(a), kind(b));
    let basic = |k| matches!(k, Kind::Int | Kind::Float | Kind::String);
    if !basic(ka) || !basic(kb) {
        return Err("invalid type for comparison".into());
    }
    if ka != kb {
        return Err("incompatible types for comparison".into());
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        _ => num(a)?
            .partial_cmp(&num(b)?)
            .ok_or_else(|| "incomparable numbers".to_string()),
    }
}

/// Sprig's `toInt64` (via `cast`): numbers truncate, strings parse, anything else is 0.
fn int64(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n
            .as_i64()
            .unwrap_or_else(|| n.as_f64().unwrap_or(0.0) as i64),
        Value::String(x) => x.trim().parse::<i64>().unwrap_or(0),
        Value::Bool(b) => i64::from(*b),
        _ => 0,
    }
}

/// Sprig's `toFloat64`.
fn float64(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(x) => x.trim().parse::<f64>().unwrap_or(0.0),
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => 0.0,
    }
}

fn b64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unb64(input: &str) -> String {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in input.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => continue,
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Helpers {
    /// Calls function `name` with evaluated arguments (a piped value comes last).
    pub fn call(&self, name: &str, a: Vec<Value>) -> R {
        if super::regex::NAMES.contains(&name) {
            return super::regex::call(name, &a);
        }
        if super::dates::NAMES.contains(&name) {
            return super::dates::call(name, &a);
        }
        let a0 = a.first().cloned().unwrap_or(Value::Null);
        let a1 = a.get(1).cloned().unwrap_or(Value::Null);
        let last = a.last().cloned().unwrap_or(Value::Null);
        Ok(match name {
            "not" => {
                arity(name, &a, 1)?;
                Value::Bool(!truthy(&a0))
            }
            "len" => {
                arity(name, &a, 1)?;
                Value::from(match &a0 {
                    Value::String(x) => x.len(),
                    Value::Array(x) => x.len(),
                    Value::Object(x) => x.len(),
                    other => return Err(format!("len of type {}", type_name(other))),
                })
            }
            "index" => {
                let mut v = a0;
                for k in &a[1..] {
                    v = match (&v, k) {
                        (Value::Array(x), _) => {
                            let i = int(k)?;
                            x.get(usize::try_from(i).map_err(|_| "negative index")?)
                                .cloned()
                                .ok_or_else(|| format!("index out of range: {i}"))?
                        }
                        (Value::Object(m), _) => m.get(&s(k)).cloned().unwrap_or(Value::Null),
                        (Value::Null, _) => return Err("index of untyped nil".into()),
                        (other, _) => {
                            return Err(format!("can't index item of type {}", type_name(other)))
                        }
                    };
                }
                v
            }
            "slice" => {
                let items = list_of(&a0)?;
                let from = a.get(1).map(int).transpose()?.unwrap_or(0).max(0) as usize;
                let to = a
                    .get(2)
                    .map(int)
                    .transpose()?
                    .map_or(items.len(), |t| t.max(0) as usize);
                if from > to || to > items.len() {
                    return Err("slice index out of range".into());
                }
                Value::Array(items[from..to].to_vec())
            }
            "print" => {
                // Go's Sprint: a space between operands when neither is a string.
                let mut out = String::new();
                for (i, v) in a.iter().enumerate() {
                    if i > 0 && !v.is_string() && !a[i - 1].is_string() {
                        out.push(' ');
                    }
                    out.push_str(&display(v));
                }
                Value::String(out)
            }
            "println" => Value::String(format!(
                "{}\n",
                a.iter().map(display).collect::<Vec<_>>().join(" ")
            )),
            "printf" => match a.split_first() {
                Some((Value::String(format), rest)) => Value::String(gofmt::sprintf(format, rest)),
                Some((other, _)) => {
                    return Err(format!(
                        "wrong type for value; expected string; got {}",
                        type_name(other)
                    ))
                }
                None => return Err("wrong number of args for printf: want at least 1 got 0".into()),
            },
            "eq" => {
                if a.len() < 2 {
                    return Err("missing argument for comparison".into());
                }
                let mut any = false;
                for b in &a[1..] {
                    if equal(&a0, b)? {
                        any = true;
                        break;
                    }
                }
                Value::Bool(any)
            }
            "ne" => {
                arity(name, &a, 2)?;
                Value::Bool(!equal(&a0, &a1)?)
            }
            "lt" | "le" | "gt" | "ge" => {
                arity(name, &a, 2)?;
                let o = order(&a0, &a1)?;
                use std::cmp::Ordering::*;
                Value::Bool(match name {
                    "lt" => o == Less,
                    "le" => o != Greater,
                    "gt" => o == Greater,
                    _ => o != Less,
                })
            }
            "urlquery" => Value::String(
                form_urlencoded::byte_serialize(a.iter().map(s).collect::<String>().as_bytes())
                    .collect(),
            ),
            "marshal" | "toJson" | "toRawJson" => {
                arity(name, &a, 1)?;
                Value::String(to_json(&a0, None))
            }
            "toPrettyJson" => Value::String(to_json(&a0, Some("  "))),
            "fromJson" => serde_json::from_str(&s(&a0))
                .map(gofmt::floats)
                .unwrap_or(Value::Null),
            "include" => {
                arity(name, &a, 1)?;
                let file = s(&a0);
                let path = match &self.partials {
                    Some(dir) => dir.join(&file),
                    None => PathBuf::from(&file),
                };
                Value::String(
                    std::fs::read_to_string(&path)
                        .map_err(|e| format!("cannot read partial {}: {e}", path.display()))?,
                )
            }
            "env" => Value::String(std::env::var(s(&a0)).unwrap_or_default()),
            "default" => {
                if a.len() == 2 && truthy(&a1) {
                    a1
                } else {
                    a0
                }
            }
            "empty" => Value::Bool(!truthy(&a0)),
            "coalesce" => a.iter().find(|v| truthy(v)).cloned().unwrap_or(Value::Null),
            "ternary" => {
                arity(name, &a, 3)?;
                if truthy(&a[2]) {
                    a0
                } else {
                    a1
                }
            }
            "quote" => Value::String(
                a.iter()
                    .filter(|v| !v.is_null())
                    .map(|v| serde_json::to_string(&s(v)).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            "squote" => Value::String(
                a.iter()
                    .filter(|v| !v.is_null())
                    .map(|v| format!("'{}'", s(v)))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            "upper" => Value::String(s(&a0).to_uppercase()),
            "lower" => Value::String(s(&a0).to_lowercase()),
            "title" => Value::String(
                s(&a0)
                    .split(' ')
                    .map(|w| {
                        let mut c = w.chars();
                        c.next()
                            .map(|f| f.to_uppercase().chain(c).collect())
                            .unwrap_or_default()
                    })
                    .collect::<Vec<String>>()
                    .join(" "),
            ),
            "trim" => Value::String(s(&a0).trim().to_string()),
            "nospace" => Value::String(s(&a0).split_whitespace().collect()),
            "trimAll" => {
                let cut: Vec<char> = s(&a0).chars().collect();
                Value::String(s(&a1).trim_matches(cut.as_slice()).to_string())
            }
            "trimPrefix" => {
                let t = s(&a1);
                Value::String(t.strip_prefix(&s(&a0)).unwrap_or(&t).to_string())
            }
            "trimSuffix" => {
                let t = s(&a1);
                Value::String(t.strip_suffix(&s(&a0)).unwrap_or(&t).to_string())
            }
            "replace" => {
                arity(name, &a, 3)?;
                Value::String(s(&a[2]).replace(&s(&a0), &s(&a1)))
            }
            "contains" => Value::Bool(s(&a1).contains(&s(&a0))),
            "hasPrefix" => Value::Bool(s(&a1).starts_with(&s(&a0))),
            "hasSuffix" => Value::Bool(s(&a1).ends_with(&s(&a0))),
            "repeat" => Value::String(s(&a1).repeat(int(&a0)?.max(0) as usize)),
            "cat" => Value::String(
                a.iter()
                    .filter(|v| !v.is_null())
                    .map(s)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            "indent" | "nindent" => {
                let pad = " ".repeat(int(&a0)?.max(0) as usize);
                let body = s(&a1)
                    .split('\n')
                    .map(|l| format!("{pad}{l}"))
                    .collect::<Vec<_>>()
                    .join("\n");
                Value::String(if name == "nindent" {
                    format!("\n{body}")
                } else {
                    body
                })
            }
            "split" => {
                let mut m = Map::new();
                for (i, part) in s(&a1).split(&s(&a0)).enumerate() {
                    m.insert(format!("_{i}"), Value::String(part.into()));
                }
                Value::Object(m)
            }
            "splitList" => Value::Array(
                s(&a1)
                    .split(&s(&a0))
                    .map(|p| Value::String(p.into()))
                    .collect(),
            ),
            "join" => Value::String(
                list_of(&a1)?
                    .iter()
                    .map(s)
                    .collect::<Vec<_>>()
                    .join(&s(&a0)),
            ),
            "toStrings" => {
                Value::Array(list_of(&a0)?.iter().map(|v| Value::String(s(v))).collect())
            }
            "sortAlpha" => {
                let mut l: Vec<String> = list_of(&a0)?.iter().map(s).collect();
                l.sort();
                Value::Array(l.into_iter().map(Value::String).collect())
            }
            "list" => Value::Array(a),
            "dict" => {
                let mut m = Map::new();
                for pair in a.chunks(2) {
                    m.insert(s(&pair[0]), pair.get(1).cloned().unwrap_or(Value::Null));
                }
                Value::Object(m)
            }
            "hasKey" => Value::Bool(map_of(&a0)?.contains_key(&s(&a1))),
            "keys" => {
                let mut k: Vec<String> = Vec::new();
                for m in &a {
                    k.extend(map_of(m)?.keys().cloned());
                }
                Value::Array(k.into_iter().map(Value::String).collect())
            }
            "values" => Value::Array(map_of(&a0)?.values().cloned().collect()),
            "get" => map_of(&a0)?
                .get(&s(&a1))
                .cloned()
                .unwrap_or(Value::String(String::new())),
            "set" => {
                arity(name, &a, 3)?;
                let mut m = map_of(&a0)?;
                m.insert(s(&a1), a[2].clone());
                Value::Object(m)
            }
            "unset" => {
                let mut m = map_of(&a0)?;
                m.remove(&s(&a1));
                Value::Object(m)
            }
            "pick" | "omit" => {
                let m = map_of(&a0)?;
                let names: Vec<String> = a[1..].iter().map(s).collect();
                Value::Object(
                    m.into_iter()
                        .filter(|(k, _)| names.contains(k) == (name == "pick"))
                        .collect(),
                )
            }
            "merge" => {
                // Left-most wins, as Sprig's merge.
                let mut out = Map::new();
                for m in a.iter().rev() {
                    out.extend(map_of(m)?);
                }
                Value::Object(out)
            }
            "first" => list_of(&a0)?.first().cloned().unwrap_or(Value::Null),
            "last" => list_of(&a0)?.last().cloned().unwrap_or(Value::Null),
            "rest" => Value::Array(list_of(&a0)?.into_iter().skip(1).collect()),
            "initial" => {
                let mut l = list_of(&a0)?;
                l.pop();
                Value::Array(l)
            }
            "append" | "push" => {
                let mut l = list_of(&a0)?;
                l.push(a1);
                Value::Array(l)
            }
            "prepend" => {
                let mut l = list_of(&a0)?;
                l.insert(0, a1);
                Value::Array(l)
            }
            "concat" => {
                let mut out = Vec::new();
                for l in &a {
                    out.extend(list_of(l)?);
                }
                Value::Array(out)
            }
            "uniq" => {
                let mut out: Vec<Value> = Vec::new();
                for v in list_of(&a0)? {
                    if !out.contains(&v) {
                        out.push(v);
                    }
                }
                Value::Array(out)
            }
            "has" => Value::Bool(list_of(&a1)?.contains(&a0)),
            "until" => Value::Array((0..int(&a0)?.max(0)).map(Value::from).collect()),
            // Sprig's integer arithmetic is int64 (floats truncate), the `*f` forms float64.
            "add" => Value::from(a.iter().map(int64).fold(0i64, i64::wrapping_add)),
            "add1" => Value::from(int64(&a0).wrapping_add(1)),
            "sub" => Value::from(int64(&a0).wrapping_sub(int64(&a1))),
            "mul" => Value::from(a.iter().map(int64).fold(1i64, i64::wrapping_mul)),
            "div" | "mod" => {
                let d = int64(&a1);
                if d == 0 {
                    return Err("runtime error: integer divide by zero".into());
                }
                Value::from(if name == "div" {
                    int64(&a0).wrapping_div(d)
                } else {
                    int64(&a0).wrapping_rem(d)
                })
            }
            "max" | "min" => {
                let mut best = int64(&a0);
                for v in &a[1..] {
                    let x = int64(v);
                    best = if name == "max" {
                        best.max(x)
                    } else {
                        best.min(x)
                    };
                }
                Value::from(best)
            }
            "addf" => float(a.iter().map(float64).sum()),
            "add1f" => float(float64(&a0) + 1.0),
            "subf" => float(
                a.iter()
                    .skip(1)
                    .map(float64)
                    .fold(float64(&a0), |x, y| x - y),
            ),
            "mulf" => float(a.iter().map(float64).product()),
            "divf" => float(
                a.iter()
                    .skip(1)
                    .map(float64)
                    .fold(float64(&a0), |x, y| x / y),
            ),
            "maxf" => float(a.iter().map(float64).fold(f64::NEG_INFINITY, f64::max)),
            "minf" => float(a.iter().map(float64).fold(f64::INFINITY, f64::min)),
            "floor" => float(float64(&a0).floor()),
            "ceil" => float(float64(&a0).ceil()),
            "round" => {
                let places = a.get(1).map_or(0, int64);
                let scale = 10f64.powi(places as i32);
                float((float64(&a0) * scale).round() / scale)
            }
            "atoi" => Value::from(s(&a0).trim().parse::<i64>().unwrap_or(0)),
            "int" | "int64" => Value::from(int64(&a0)),
            "float64" => float(float64(&a0)),
            "toString" | "colored" => Value::String(s(&a0)),
            // Sprig's byte-indexed string cuts.
            "substr" => {
                let text = s(&a[2.min(a.len().saturating_sub(1))]);
                let (start, end) = (int64(&a0), int64(&a1));
                let len = text.len() as i64;
                let (from, to) = if start < 0 {
                    (0, end.clamp(0, len))
                } else if end < 0 || end > len {
                    (start.min(len), len)
                } else {
                    (start.min(end), end)
                };
                Value::String(byte_slice(&text, from as usize, to as usize))
            }
            "trunc" => {
                let (c, text) = (int64(&a0), s(&a1));
                let len = text.len() as i64;
                Value::String(if c < 0 && len + c > 0 {
                    byte_slice(&text, (len + c) as usize, len as usize)
                } else if c >= 0 && len > c {
                    byte_slice(&text, 0, c as usize)
                } else {
                    text
                })
            }
            "abbrev" => {
                let (width, text) = (int64(&a0), s(&a1));
                Value::String(if width < 4 || text.len() as i64 <= width {
                    text
                } else {
                    format!("{}...", byte_slice(&text, 0, (width - 3) as usize))
                })
            }
            "initials" => Value::String(
                s(&a0)
                    .split_whitespace()
                    .filter_map(|w| w.chars().next())
                    .collect(),
            ),
            "plural" => {
                arity(name, &a, 3)?;
                if int64(&a[2]) == 1 {
                    a0
                } else {
                    a1
                }
            }
            "splitn" => {
                let n = usize::try_from(int64(&a1)).unwrap_or(0);
                let mut m = Map::new();
                for (i, part) in s(&a[2.min(a.len() - 1)]).splitn(n, &s(&a0)).enumerate() {
                    m.insert(format!("_{i}"), Value::String(part.into()));
                }
                Value::Object(m)
            }
            "expandenv" => Value::String(expand_env(&s(&a0))),
            "dig" => {
                // dig "k1" "k2" ... default dict
                if a.len() < 3 {
                    return Err("dig needs keys, a default and a dict".into());
                }
                let (keys, rest) = a.split_at(a.len() - 2);
                let mut v = last.clone();
                for k in keys {
                    v = match map_of(&v)?.get(&s(k)) {
                        Some(next) => next.clone(),
                        None => return Ok(rest[0].clone()),
                    };
                }
                v
            }
            "pluck" => Value::Array(
                a[1..]
                    .iter()
                    .filter_map(|d| d.as_object().and_then(|m| m.get(&s(&a0))).cloned())
                    .collect(),
            ),
            "reverse" => Value::Array(list_of(&a0)?.into_iter().rev().collect()),
            "compact" => Value::Array(list_of(&a0)?.into_iter().filter(truthy).collect()),
            "without" => Value::Array(
                list_of(&a0)?
                    .into_iter()
                    .filter(|v| !a[1..].contains(v))
                    .collect(),
            ),
            "deepEqual" => {
                arity(name, &a, 2)?;
                Value::Bool(a0 == a1)
            }
            "kindIs" => Value::Bool(kind_name(&a1) == s(&a0)),
            "kindOf" => Value::String(kind_name(&a0).to_string()),
            "typeOf" => Value::String(type_name(&a0).to_string()),
            "b64enc" => Value::String(b64(s(&a0).as_bytes())),
            "b64dec" => Value::String(unb64(&s(&a0))),
            _ => {
                let _ = last;
                return Err(format!("function {name:?} not defined"));
            }
        })
    }
}

/// `text[from..to]` by bytes, as Go slices strings (a cut inside a character is lossy).
fn byte_slice(text: &str, from: usize, to: usize) -> String {
    let bytes = text.as_bytes();
    String::from_utf8_lossy(
        &bytes[from.min(bytes.len())..to.min(bytes.len()).max(from.min(bytes.len()))],
    )
    .into_owned()
}

/// Go's `os.ExpandEnv`: `$NAME` and `${NAME}` replaced by the variable (empty when unset).
fn expand_env(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, used) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 1),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        out.push_str(&std::env::var(name).unwrap_or_default());
        rest = &after[used.min(after.len())..];
    }
    out.push_str(rest);
    out
}

/// `reflect.Kind` names, as Sprig's `kindOf` prints them.
fn kind_name(v: &Value) -> &'static str {
    match kind(v) {
        Kind::Nil => "invalid",
        Kind::Bool => "bool",
        Kind::Int => "int",
        Kind::Float => "float64",
        Kind::String => "string",
        Kind::List => "slice",
        Kind::Map => "map",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for t in ["", "a", "ab", "abc", "abcd", "hello world"] {
            assert_eq!(unb64(&b64(t.as_bytes())), t);
        }
        assert_eq!(b64(b"ab"), "YWI=");
    }

    #[test]
    fn marshal_sorts_keys_like_go() {
        let v: Value = serde_json::from_str(r#"{"b":1,"a":{"d":2,"c":3}}"#).unwrap();
        assert_eq!(to_json(&v, None), r#"{"a":{"c":3,"d":2},"b":1}"#);
    }
}
