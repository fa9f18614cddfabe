//! The getter/setter shapes KrakenD's objects share: `x()` reads, `x(v)` writes; headers by
//! name (`nil` deletes); header lists as `luaList`; a body that can be replaced.

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use mlua::{Lua, MultiValue, Value as LuaValue};
use serde_json::Value;

use crate::lua::error::text_of;
use crate::lua::table::{JsonRef, LuaList};

/// Argument `at` as text (`None` when absent or `nil`).
pub fn string_arg(args: &MultiValue, at: usize) -> Option<String> {
    args.get(at).filter(|v| !v.is_nil()).map(text_of)
}

/// Argument `at` as text, required.
pub fn need(args: &MultiValue, at: usize) -> mlua::Result<String> {
    string_arg(args, at).ok_or_else(|| mlua::Error::runtime("need arguments"))
}

/// `x()` returns the field, `x(v)` replaces it.
pub fn get_or_set(field: &mut String, args: &MultiValue) -> Option<String> {
    match string_arg(args, 0) {
        Some(v) => {
            *field = v;
            None
        }
        None => Some(field.clone()),
    }
}

/// `headers(name)` (first value, `""` when absent), `headers(name, value)`,
/// `headers(name, nil)` (deletes).
pub fn headers(lua: &Lua, h: &mut HeaderMap, args: &MultiValue) -> mlua::Result<LuaValue> {
    let name = header_name(args)?;
    if args.len() < 2 {
        let v = h
            .get(&name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        return lua.create_string(v).map(LuaValue::String);
    }
    match string_arg(args, 1) {
        None => {
            h.remove(&name);
        }
        Some(v) => {
            h.insert(
                name,
                HeaderValue::from_str(&v).map_err(mlua::Error::external)?,
            );
        }
    }
    Ok(LuaValue::Nil)
}

fn header_name(args: &MultiValue) -> mlua::Result<HeaderName> {
    HeaderName::from_bytes(need(args, 0)?.as_bytes()).map_err(mlua::Error::external)
}

/// Every value of a header as a `luaList`.
pub fn header_values(h: &HeaderMap, name: &str) -> LuaList {
    let values = h
        .get_all(name)
        .iter()
        .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    LuaList(JsonRef::new(Value::Array(values)))
}

/// `headerList(name)` / `headerList(name, luaList)`.
pub fn header_list(lua: &Lua, h: &mut HeaderMap, args: &MultiValue) -> mlua::Result<LuaValue> {
    let name = header_name(args)?;
    if args.len() < 2 {
        return lua
            .create_userdata(header_values(h, name.as_str()))
            .map(LuaValue::UserData);
    }
    let list = match args.get(1) {
        Some(LuaValue::UserData(ud)) => ud.borrow::<LuaList>().ok().map(|l| l.0.snapshot()),
        _ => None,
    };
    let Some(Value::Array(items)) = list else {
        return Err(mlua::Error::runtime(
            "invalid header value, must be a luaList",
        ));
    };
    h.remove(&name);
    for item in items {
        let text = match item {
            Value::String(s) => s,
            other => other.to_string(),
        };
        h.append(
            name.clone(),
            HeaderValue::from_str(&text).map_err(mlua::Error::external)?,
        );
    }
    Ok(LuaValue::Nil)
}

/// A body a script may read and replace.
#[derive(Debug, Clone, Default)]
pub struct BodySlot {
    /// The bytes.
    pub bytes: Bytes,
    /// Whether the script replaced them.
    pub replaced: bool,
}

impl BodySlot {
    /// `body()` returns the bytes, `body(text)` replaces them.
    pub fn access(&mut self, lua: &Lua, args: &MultiValue) -> mlua::Result<LuaValue> {
        match string_arg(args, 0) {
            Some(b) => {
                self.bytes = Bytes::from(b);
                self.replaced = true;
                Ok(LuaValue::Nil)
            }
            None => lua.create_string(&self.bytes[..]).map(LuaValue::String),
        }
    }
}
