//! `luaTable`, `luaList` and `luaNil`: KrakenD's views of JSON objects, arrays and nulls.
//! A view shares its data like a Go map does: `data:get("a"):set("b", 1)` changes the
//! response. Each view is a root plus a path, resolved on every access, so no Lua value ever
//! points into memory that a later change moved. Lists are indexed from 0, as in KrakenD.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use mlua::{AnyUserData, Lua, MultiValue, UserData, UserDataMethods, Value as LuaValue};
use serde_json::{Map, Number, Value};

/// One step from a container to a child.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// A shared JSON document and the place of one value in it.
#[derive(Debug, Clone)]
pub struct JsonRef {
    root: Arc<Mutex<Value>>,
    path: Vec<Step>,
}

impl JsonRef {
    /// A new document holding `v`.
    pub fn new(v: Value) -> Self {
        Self {
            root: Arc::new(Mutex::new(v)),
            path: Vec::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Value> {
        self.root.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the whole document out (leaving `null`), once the script is done.
    pub fn take(&self) -> Value {
        std::mem::take(&mut *self.lock())
    }

    /// A copy of the value this view points at (`null` when it no longer exists).
    pub fn snapshot(&self) -> Value {
        self.with(|v| v.map(|v| v.clone()).unwrap_or(Value::Null))
    }

    fn with<R>(&self, f: impl FnOnce(Option<&mut Value>) -> R) -> R {
        let mut guard = self.lock();
        let mut cur: Option<&mut Value> = Some(&mut guard);
        for step in &self.path {
            cur = match (cur, step) {
                (Some(Value::Object(m)), Step::Key(k)) => m.get_mut(k),
                (Some(Value::Array(a)), Step::Index(i)) => a.get_mut(*i),
                _ => None,
            };
        }
        f(cur)
    }

    fn child(&self, step: Step) -> Self {
        let mut path = self.path.clone();
        path.push(step);
        Self {
            root: self.root.clone(),
            path,
        }
    }
}

/// A JSON object seen from Lua.
#[derive(Debug, Clone)]
pub struct LuaTable(pub JsonRef);

/// A JSON array seen from Lua.
#[derive(Debug, Clone)]
pub struct LuaList(pub JsonRef);

/// A JSON `null` seen from Lua (KrakenD's `luaNil`).
#[derive(Debug, Clone, Copy)]
pub struct LuaNil;

impl UserData for LuaNil {}

/// `view`'s child at `step` as a Lua value: scalars by value, containers as views; a missing
/// child is `nil`, a JSON null is `luaNil`.
fn child_to_lua(lua: &Lua, view: &JsonRef, step: Step) -> mlua::Result<LuaValue> {
    let child = view.child(step);
    let kind = child.with(|v| {
        v.map(|v| match v {
            Value::Object(_) => Err(true),
            Value::Array(_) => Err(false),
            scalar => Ok(scalar.clone()),
        })
    });
    match kind {
        None => Ok(LuaValue::Nil),
        Some(Err(true)) => lua.create_userdata(LuaTable(child)).map(LuaValue::UserData),
        Some(Err(false)) => lua.create_userdata(LuaList(child)).map(LuaValue::UserData),
        Some(Ok(scalar)) => scalar_to_lua(lua, &scalar),
    }
}

fn scalar_to_lua(lua: &Lua, v: &Value) -> mlua::Result<LuaValue> {
    Ok(match v {
        Value::Null => LuaValue::UserData(lua.create_userdata(LuaNil)?),
        Value::Bool(b) => LuaValue::Boolean(*b),
        Value::Number(n) => LuaValue::Number(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => LuaValue::String(lua.create_string(s)?),
        // Containers are handled by `child_to_lua`; a plain copy is the fallback.
        other => LuaValue::String(lua.create_string(other.to_string())?),
    })
}

/// The JSON a Lua value stands for, as KrakenD converts it; `None` for values it ignores
/// (`nil`, functions). Lua tables whose keys are all integers become arrays ordered by key
/// (an empty table becomes `null`, as Go's nil slice does); other tables become objects.
pub fn lua_to_json(v: &LuaValue) -> Option<Value> {
    match v {
        LuaValue::Boolean(b) => Some(Value::Bool(*b)),
        LuaValue::Integer(i) => Some(Value::Number(Number::from(*i))),
        LuaValue::Number(n) => Some(number(*n)),
        LuaValue::String(s) => Some(Value::String(s.to_string_lossy())),
        LuaValue::Table(t) => Some(table_to_json(t)),
        LuaValue::UserData(ud) => userdata_to_json(ud),
        _ => None,
    }
}

fn userdata_to_json(ud: &AnyUserData) -> Option<Value> {
    if let Ok(t) = ud.borrow::<LuaTable>() {
        return Some(t.0.snapshot());
    }
    if let Ok(l) = ud.borrow::<LuaList>() {
        return Some(l.0.snapshot());
    }
    ud.borrow::<LuaNil>().ok().map(|_| Value::Null)
}

/// Integral numbers are written without a fraction, as Go's encoder writes float64s.
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        Value::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

fn table_to_json(t: &mlua::Table) -> Value {
    let mut object = Map::new();
    let mut by_index: BTreeMap<i64, Value> = BTreeMap::new();
    let mut all_integers = true;
    for pair in t.pairs::<LuaValue, LuaValue>() {
        let Ok((k, v)) = pair else { continue };
        let Some(v) = lua_to_json(&v) else { continue };
        let index = match &k {
            LuaValue::Integer(i) => Some(*i),
            LuaValue::Number(n) if n.fract() == 0.0 => Some(*n as i64),
            _ => None,
        };
        match index {
            Some(i) => {
                by_index.insert(i, v.clone());
                object.insert(i.to_string(), v);
            }
            None => {
                all_integers = false;
                object.insert(crate::lua::error::text_of(&k), v);
            }
        }
    }
    if all_integers {
        if by_index.is_empty() {
            return Value::Null;
        }
        return Value::Array(by_index.into_values().collect());
    }
    Value::Object(object)
}

fn key_arg(args: &MultiValue, at: usize) -> mlua::Result<String> {
    args.get(at)
        .filter(|v| !v.is_nil())
        .map(crate::lua::error::text_of)
        .ok_or_else(|| mlua::Error::runtime("need arguments"))
}

fn index_arg(args: &MultiValue, at: usize) -> mlua::Result<i64> {
    match args.get(at) {
        Some(LuaValue::Integer(i)) => Ok(*i),
        Some(LuaValue::Number(n)) => Ok(*n as i64),
        Some(LuaValue::String(s)) => Ok(s.to_str()?.trim().parse::<f64>().unwrap_or(0.0) as i64),
        _ => Err(mlua::Error::runtime("need arguments")),
    }
}

impl UserData for LuaTable {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("get", |lua, this, args: MultiValue| {
            let key = key_arg(&args, 0)?;
            child_to_lua(lua, &this.0, Step::Key(key))
        });
        methods.add_method("set", |_, this, args: MultiValue| {
            let key = key_arg(&args, 0)?;
            let Some(value) = args.get(1).and_then(lua_to_json) else {
                return Ok(());
            };
            this.0.with(|v| {
                if let Some(Value::Object(m)) = v {
                    m.insert(key, value);
                }
            });
            Ok(())
        });
        methods.add_method("del", |_, this, args: MultiValue| {
            let key = key_arg(&args, 0)?;
            this.0.with(|v| {
                if let Some(Value::Object(m)) = v {
                    m.remove(&key);
                }
            });
            Ok(())
        });
        methods.add_method("len", |_, this, ()| {
            Ok(this.0.with(|v| match v {
                Some(Value::Object(m)) => m.len(),
                _ => 0,
            }))
        });
        methods.add_method("keyExists", |_, this, args: MultiValue| {
            let key = key_arg(&args, 0)?;
            Ok(this
                .0
                .with(|v| matches!(v, Some(Value::Object(m)) if m.contains_key(&key))))
        });
        methods.add_method("keys", |lua, this, ()| {
            let mut keys: Vec<String> = this.0.with(|v| match v {
                Some(Value::Object(m)) => m.keys().cloned().collect(),
                _ => Vec::new(),
            });
            keys.sort();
            let list = JsonRef::new(Value::Array(keys.into_iter().map(Value::String).collect()));
            lua.create_userdata(LuaList(list))
        });
    }
}

impl UserData for LuaList {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("get", |lua, this, args: MultiValue| {
            let i = index_arg(&args, 0)?;
            if i < 0 {
                return Ok(LuaValue::Nil);
            }
            child_to_lua(lua, &this.0, Step::Index(i as usize))
        });
        methods.add_method("set", |_, this, args: MultiValue| {
            let i = index_arg(&args, 0)?;
            if i < 0 {
                return Ok(());
            }
            let i = i as usize;
            // A value KrakenD ignores still grows the list (with nulls), as Go's code does.
            let value = args.get(1).and_then(lua_to_json);
            this.0.with(|v| {
                if let Some(Value::Array(a)) = v {
                    if i >= a.len() {
                        a.resize(i + 1, Value::Null);
                    }
                    if let Some(value) = value {
                        a[i] = value;
                    }
                }
            });
            Ok(())
        });
        methods.add_method("del", |_, this, args: MultiValue| {
            let i = index_arg(&args, 0)?;
            this.0.with(|v| {
                if let Some(Value::Array(a)) = v {
                    if i >= 0 && (i as usize) < a.len() {
                        a.remove(i as usize);
                    }
                }
            });
            Ok(())
        });
        methods.add_method("len", |_, this, ()| {
            Ok(this.0.with(|v| match v {
                Some(Value::Array(a)) => a.len(),
                _ => 0,
            }))
        });
    }
}

/// Registers the `luaTable`, `luaList` and `luaNil` constructors (`X.new()`).
pub fn register(lua: &Lua) -> mlua::Result<()> {
    let globals = lua.globals();
    let table = lua.create_table()?;
    table.set(
        "new",
        lua.create_function(|_, ()| Ok(LuaTable(JsonRef::new(Value::Object(Map::new())))))?,
    )?;
    globals.set("luaTable", table)?;
    let list = lua.create_table()?;
    list.set(
        "new",
        lua.create_function(|_, ()| Ok(LuaList(JsonRef::new(Value::Array(Vec::new())))))?,
    )?;
    globals.set("luaList", list)?;
    let nil = lua.create_table()?;
    nil.set("new", lua.create_function(|_, ()| Ok(LuaNil))?)?;
    globals.set("luaNil", nil)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lua_with(data: &JsonRef) -> Lua {
        let lua = Lua::new();
        register(&lua).unwrap();
        lua.globals().set("data", LuaTable(data.clone())).unwrap();
        lua
    }

    #[test]
    fn views_share_the_document() {
        let doc = JsonRef::new(json!({"a": {"b": 1}, "list": [1, {"x": "y"}], "n": null}));
        let lua = lua_with(&doc);
        lua.load(
            r#"
            local a = data:get("a")
            a:set("c", "new")
            a:del("b")
            local l = data:get("list")
            l:get(1):set("x", 2.5)
            l:set(3, true)
            data:set("count", l:len())
            data:set("has_a", data:keyExists("a"))
            data:set("missing_is_nil", data:get("nope") == nil)
            data:set("null_is_luanil", data:get("n") ~= nil)
            data:set("copy", luaTable.new())
            "#,
        )
        .exec()
        .unwrap();
        assert_eq!(
            doc.take(),
            json!({
                "a": {"c": "new"},
                "list": [1, {"x": 2.5}, null, true],
                "n": null,
                "count": 4,
                "has_a": true,
                "missing_is_nil": true,
                "null_is_luanil": true,
                "copy": {}
            })
        );
    }

    #[test]
    fn keys_are_sorted_and_lists_start_at_zero() {
        let doc = JsonRef::new(json!({"b": 1, "a": 2, "l": ["x", "y", "z"]}));
        let lua = lua_with(&doc);
        let (k0, k1, n, first): (String, String, usize, String) = lua
            .load(
                r#"local k = data:keys(); local l = data:get("l"); l:del(0)
                return k:get(0), k:get(1), l:len(), l:get(0)"#,
            )
            .eval()
            .unwrap();
        assert_eq!(
            (k0.as_str(), k1.as_str(), n, first.as_str()),
            ("a", "b", 2, "y")
        );
    }

    #[test]
    fn lua_tables_convert_like_krakend() {
        let lua = Lua::new();
        register(&lua).unwrap();
        let v: LuaValue = lua
            .load(r#"return {1, "two", {k = 3}, nested = nil}"#)
            .eval()
            .unwrap();
        assert_eq!(lua_to_json(&v), Some(json!([1, "two", {"k": 3}])));
        let v: LuaValue = lua.load(r#"return {a = 1.5, [2] = false}"#).eval().unwrap();
        assert_eq!(lua_to_json(&v), Some(json!({"a": 1.5, "2": false})));
        let v: LuaValue = lua.load("return {}").eval().unwrap();
        assert_eq!(lua_to_json(&v), Some(Value::Null));
        let v: LuaValue = lua.load("return luaNil.new()").eval().unwrap();
        assert_eq!(lua_to_json(&v), Some(Value::Null));
        assert_eq!(lua_to_json(&LuaValue::Nil), None);
    }
}
