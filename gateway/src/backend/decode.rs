//! Backend body decoders, one per `encoding`.

use serde_json::{Map, Value};

use crate::codec::xml;
use crate::config::BackendEncoding;

/// Decodes a backend body into response data.
pub fn decode(
    encoding: BackendEncoding,
    is_collection: bool,
    body: &[u8],
) -> Result<Map<String, Value>, String> {
    match encoding {
        BackendEncoding::Json if is_collection => match parse_json(body)? {
            Value::Array(items) => Ok(single("collection", Value::Array(items))),
            other => Err(go_unmarshal_error(&other, "[]interface {}")),
        },
        BackendEncoding::Json => match parse_json(body)? {
            Value::Object(m) => Ok(m),
            other => Err(go_unmarshal_error(&other, "map[string]interface {}")),
        },
        BackendEncoding::SafeJson => Ok(match parse_json(body)? {
            Value::Object(m) => m,
            Value::Array(items) => single("collection", Value::Array(items)),
            other => single("content", other),
        }),
        BackendEncoding::String => Ok(single(
            "content",
            Value::String(String::from_utf8_lossy(body).into_owned()),
        )),
        BackendEncoding::Xml | BackendEncoding::Rss => {
            let m = xml::decode(body)?;
            if is_collection {
                Ok(single(
                    "collection",
                    Value::Array(m.into_values().collect()),
                ))
            } else {
                Ok(m)
            }
        }
        BackendEncoding::NoOp => Ok(Map::new()),
    }
}

fn single(key: &str, v: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(key.to_string(), v);
    m
}

fn parse_json(body: &[u8]) -> Result<Value, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("EOF".into());
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    serde::Deserialize::deserialize(&mut de).map_err(|e: serde_json::Error| {
        let msg = e.to_string();
        format!(
            "invalid character in JSON: {}",
            msg.split(" at line ").next().unwrap_or(&msg)
        )
    })
}

fn go_unmarshal_error(v: &Value, target: &str) -> String {
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    format!("json: cannot unmarshal {kind} into Go value of type {target}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Map<String, Value>) -> Value {
        Value::Object(v)
    }

    #[test]
    fn json_variants() {
        assert_eq!(
            obj(decode(BackendEncoding::Json, false, b"{\"a\":1}").unwrap()),
            json!({"a":1})
        );
        assert_eq!(
            obj(decode(BackendEncoding::Json, true, b"[1,2]").unwrap()),
            json!({"collection":[1,2]})
        );
        assert!(decode(BackendEncoding::Json, false, b"[1]")
            .unwrap_err()
            .contains("cannot unmarshal array"));
        assert_eq!(
            decode(BackendEncoding::Json, false, b"").unwrap_err(),
            "EOF"
        );
        assert_eq!(
            obj(decode(BackendEncoding::SafeJson, false, b"3").unwrap()),
            json!({"content":3})
        );
        assert_eq!(
            obj(decode(BackendEncoding::String, false, b"hi").unwrap()),
            json!({"content":"hi"})
        );
    }

    #[test]
    fn big_numbers_keep_their_text() {
        let m = decode(
            BackendEncoding::Json,
            false,
            b"{\"id\":12345678901234567890123,\"f\":1.50}",
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(crate::codec::json::to_vec(&m)).unwrap(),
            "{\"f\":1.50,\"id\":12345678901234567890123}"
        );
    }
}
