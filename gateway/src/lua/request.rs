//! `request.load()` in `modifier/lua-proxy` and `modifier/lua-backend`: the proxy request
//! with KrakenD's getters and setters (`method`, `url`, `path`, `query`, `params`, `headers`,
//! `headerList`, `body`). At backend level `url()` is the backend URL the request goes to and
//! `url(u)`/`method(m)` change the call; at proxy level `url()` is empty, as in KrakenD.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use http::header::HeaderMap;
use http::Method;
use mlua::{MultiValue, UserData, UserDataMethods, Value as LuaValue};
use serde_json::{Map, Value};

use crate::lua::access::{self, get_or_set, need, string_arg, BodySlot};
use crate::lua::table::{JsonRef, LuaTable};
use crate::proxy::{BackendTarget, Request};
use crate::validation::cel::canonical_header;

/// What a script may read and change of a proxy request.
#[derive(Debug, Clone)]
pub struct RequestState {
    /// The method (the backend's at backend level).
    pub method: String,
    /// The backend URL (empty at proxy level).
    pub url: String,
    /// The path.
    pub path: String,
    /// The query parameters.
    pub query: BTreeMap<String, Vec<String>>,
    /// The path parameters.
    pub params: HashMap<String, String>,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    body: BodySlot,
}

/// The shared handle `request.load()` returns.
#[derive(Debug, Clone)]
pub struct RequestHandle(Arc<Mutex<RequestState>>);

impl RequestHandle {
    /// The handle over `r`; `target` is the backend call at backend level.
    pub fn new(r: &Request, target: Option<&BackendTarget>) -> Self {
        Self(Arc::new(Mutex::new(RequestState {
            method: target.map_or_else(|| r.method.to_string(), |t| t.method.to_string()),
            url: target.map(|t| t.url.clone()).unwrap_or_default(),
            path: target.map_or_else(|| r.path.clone(), |t| t.path.clone()),
            query: r.query.clone(),
            params: r.params.clone(),
            headers: r.headers.clone(),
            body: BodySlot {
                bytes: r.body.clone(),
                replaced: false,
            },
        })))
    }

    fn lock(&self) -> MutexGuard<'_, RequestState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes what the script changed back into `r`. At backend level, a changed URL or
    /// method becomes the backend call's target.
    pub fn apply(&self, r: &mut Request, target: Option<&BackendTarget>) {
        let s = self.lock();
        r.query = s.query.clone();
        r.params = s.params.clone();
        r.headers = s.headers.clone();
        if s.body.replaced {
            r.body = s.body.bytes.clone();
            r.has_body = true;
        }
        match target {
            Some(t) => {
                let method = Method::from_bytes(s.method.as_bytes()).unwrap_or(t.method.clone());
                if s.url != t.url || method != t.method {
                    r.target = Some(Box::new(BackendTarget {
                        method,
                        url: s.url.clone(),
                        path: s.path.clone(),
                    }));
                }
            }
            None => {
                r.path = s.path.clone();
                if let Ok(m) = Method::from_bytes(s.method.as_bytes()) {
                    r.method = m;
                }
            }
        }
    }
}

/// Headers as KrakenD's `luaTable` of canonical name -> list of values.
pub fn headers_table(h: &HeaderMap) -> LuaTable {
    let mut m: Map<String, Value> = Map::new();
    for (n, v) in h {
        let entry = m
            .entry(canonical_header(n.as_str()))
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(a) = entry {
            a.push(Value::String(
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            ));
        }
    }
    LuaTable(JsonRef::new(Value::Object(m)))
}

/// Reads a query string the way Go's `url.ParseQuery` does.
pub fn parse_query(raw: &str) -> BTreeMap<String, Vec<String>> {
    let mut q: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(raw.trim_start_matches('?').as_bytes()) {
        q.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    q
}

impl UserData for RequestHandle {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("method", |_, this, args: MultiValue| {
            Ok(get_or_set(&mut this.lock().method, &args))
        });
        methods.add_method("url", |_, this, args: MultiValue| {
            Ok(get_or_set(&mut this.lock().url, &args))
        });
        methods.add_method("path", |_, this, args: MultiValue| {
            Ok(get_or_set(&mut this.lock().path, &args))
        });
        methods.add_method("query", |_, this, args: MultiValue| {
            let mut s = this.lock();
            match string_arg(&args, 0) {
                Some(q) => {
                    s.query = parse_query(&q);
                    Ok(None)
                }
                None => Ok(Some(crate::backend::encode_query(&s.query))),
            }
        });
        methods.add_method("params", |lua, this, args: MultiValue| {
            let mut s = this.lock();
            match args.len() {
                0 => {
                    let m: Map<String, Value> = s
                        .params
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                        .collect();
                    lua.create_userdata(LuaTable(JsonRef::new(Value::Object(m))))
                        .map(LuaValue::UserData)
                }
                1 => {
                    let v = s.params.get(&need(&args, 0)?).cloned().unwrap_or_default();
                    lua.create_string(v).map(LuaValue::String)
                }
                _ => {
                    let v = string_arg(&args, 1).unwrap_or_default();
                    s.params.insert(need(&args, 0)?, v);
                    Ok(LuaValue::Nil)
                }
            }
        });
        methods.add_method("headers", |lua, this, args: MultiValue| {
            let mut s = this.lock();
            if args.is_empty() {
                return lua
                    .create_userdata(headers_table(&s.headers))
                    .map(LuaValue::UserData);
            }
            access::headers(lua, &mut s.headers, &args)
        });
        methods.add_method("headerList", |lua, this, args: MultiValue| {
            access::header_list(lua, &mut this.lock().headers, &args)
        });
        methods.add_method("body", |lua, this, args: MultiValue| {
            this.lock().body.access(lua, &args)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::testing::request;
    use http::HeaderValue;
    use mlua::Lua;

    fn run(code: &str, r: &mut Request, target: Option<&BackendTarget>) {
        let lua = Lua::new();
        crate::lua::table::register(&lua).unwrap();
        let h = RequestHandle::new(r, target);
        lua.globals().set("req", h.clone()).unwrap();
        lua.load(code).exec().unwrap();
        h.apply(r, target);
    }

    #[test]
    fn proxy_level_getters_and_setters() {
        let mut r = request();
        r.path = "/a".into();
        r.query = parse_query("x=1&x=2&y=3");
        r.params.insert("Id".into(), "7".into());
        r.headers.insert("x-one", HeaderValue::from_static("1"));
        run(
            r#"
            assert(req:method() == "GET" and req:path() == "/a" and req:url() == "")
            assert(req:query() == "x=1&x=2&y=3", req:query())
            assert(req:params("Id") == "7" and req:params():get("Id") == "7")
            assert(req:headers("X-One") == "1" and req:headers():get("X-One"):get(0) == "1")
            req:path("/b")
            req:query("z=9")
            req:params("Extra", "e")
            req:headers("X-One", nil)
            req:headers("X-Two", "2")
            local l = luaList.new(); l:set(0, "a"); l:set(1, "b")
            req:headerList("X-Many", l)
            req:body(req:body() .. "{}")
            "#,
            &mut r,
            None,
        );
        assert_eq!(r.path, "/b");
        assert_eq!(r.query, parse_query("z=9"));
        assert_eq!(r.params["Extra"], "e");
        assert!(r.headers.get("x-one").is_none());
        assert_eq!(r.headers["x-two"], "2");
        let many: Vec<_> = r.headers.get_all("x-many").iter().collect();
        assert_eq!(many, ["a", "b"]);
        assert_eq!(&r.body[..], b"{}");
        assert!(r.has_body);
        assert!(r.target.is_none());
    }

    #[test]
    fn backend_level_url_and_method_become_the_target() {
        let target = BackendTarget {
            method: Method::GET,
            url: "http://h:1/p?q=1".into(),
            path: "/p".into(),
        };
        let mut r = request();
        run(
            r#"assert(req:url() == "http://h:1/p?q=1" and req:path() == "/p")"#,
            &mut r,
            Some(&target),
        );
        assert!(
            r.target.is_none(),
            "nothing changed: the backend builds its own call"
        );
        run(
            r#"req:url(req:url() .. "&more=1"); req:method("POST")"#,
            &mut r,
            Some(&target),
        );
        let t = r.target.expect("a new target");
        assert_eq!(
            (t.method, t.url.as_str()),
            (Method::POST, "http://h:1/p?q=1&more=1")
        );
    }
}
