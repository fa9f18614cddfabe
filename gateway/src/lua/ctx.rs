//! `ctx.load()` in `modifier/lua-endpoint`: the client request before the endpoint reads it
//! (`method`, `url`, `host`, `query`, `params`, `headers`, `headerList`, `body`). What the
//! script changes is what the endpoint then turns into the proxy request.

use std::sync::{Arc, Mutex, MutexGuard};

use http::Method;
use mlua::{MultiValue, UserData, UserDataMethods};

use crate::endpoint::ClientRequest;
use crate::lua::access::{self, get_or_set, need, string_arg, BodySlot};

/// The shared handle `ctx.load()` returns.
#[derive(Debug, Clone)]
pub struct CtxHandle(Arc<Mutex<ClientParts>>);

/// The parts of a client request a script may read and change.
#[derive(Debug)]
struct ClientParts {
    method: String,
    path: String,
    query: Option<String>,
    host: String,
    params: Vec<(String, String)>,
    headers: http::HeaderMap,
    body: BodySlot,
}

impl CtxHandle {
    /// The handle over `c` (its headers, params and body move in until [`CtxHandle::apply`]).
    pub fn new(c: &mut ClientRequest) -> Self {
        Self(Arc::new(Mutex::new(ClientParts {
            method: c.method.to_string(),
            path: c.path.clone(),
            query: c.query.clone(),
            host: c.host.clone(),
            params: std::mem::take(&mut c.params),
            headers: std::mem::take(&mut c.headers),
            body: BodySlot {
                bytes: c.body.clone(),
                replaced: false,
            },
        })))
    }

    fn lock(&self) -> MutexGuard<'_, ClientParts> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes the (possibly changed) parts back into `c`.
    pub fn apply(&self, c: &mut ClientRequest) {
        let mut s = self.lock();
        if let Ok(m) = Method::from_bytes(s.method.as_bytes()) {
            c.method = m;
        }
        c.path = std::mem::take(&mut s.path);
        c.query = s.query.take();
        c.host = std::mem::take(&mut s.host);
        c.params = std::mem::take(&mut s.params);
        c.headers = std::mem::take(&mut s.headers);
        if s.body.replaced {
            c.body = std::mem::take(&mut s.body.bytes);
            c.has_body = true;
        }
    }
}

/// `path?query` from a URL, absolute or not.
fn split_url(url: &str) -> (String, Option<String>) {
    let rest = match url.find("://") {
        Some(i) => {
            let after = &url[i + 3..];
            after.find('/').map_or("/", |j| &after[j..])
        }
        None => url,
    };
    match rest.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (rest.to_string(), None),
    }
}

impl UserData for CtxHandle {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("method", |_, this, args: MultiValue| {
            Ok(get_or_set(&mut this.lock().method, &args))
        });
        methods.add_method("url", |_, this, args: MultiValue| {
            let mut s = this.lock();
            match string_arg(&args, 0) {
                Some(u) => {
                    let (path, query) = split_url(&u);
                    s.path = path;
                    s.query = query;
                    Ok(None)
                }
                None => Ok(Some(match &s.query {
                    Some(q) if !q.is_empty() => format!("{}?{q}", s.path),
                    _ => s.path.clone(),
                })),
            }
        });
        methods.add_method("host", |_, this, args: MultiValue| {
            Ok(get_or_set(&mut this.lock().host, &args))
        });
        methods.add_method("query", |_, this, args: MultiValue| {
            let mut s = this.lock();
            let key = need(&args, 0)?;
            let mut pairs = crate::lua::request::parse_query(s.query.as_deref().unwrap_or(""));
            if args.len() < 2 {
                return Ok(Some(
                    pairs
                        .get(&key)
                        .and_then(|v| v.first().cloned())
                        .unwrap_or_default(),
                ));
            }
            // Go's `Values.Set` then `Encode`: one value, keys sorted.
            pairs.insert(key, vec![string_arg(&args, 1).unwrap_or_default()]);
            s.query = Some(crate::backend::encode_query(&pairs));
            Ok(None)
        });
        methods.add_method("params", |_, this, args: MultiValue| {
            let mut s = this.lock();
            let key = need(&args, 0)?;
            if args.len() < 2 {
                return Ok(Some(
                    s.params
                        .iter()
                        .find(|(k, _)| *k == key)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default(),
                ));
            }
            let value = string_arg(&args, 1).unwrap_or_default();
            match s.params.iter_mut().find(|(k, _)| *k == key) {
                Some(p) => p.1 = value,
                None => s.params.push((key, value)),
            }
            Ok(None)
        });
        methods.add_method("headers", |lua, this, args: MultiValue| {
            access::headers(lua, &mut this.lock().headers, &args)
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
    use bytes::Bytes;
    use http::HeaderMap;

    #[test]
    fn reads_and_changes_the_client_request() {
        let mut c = ClientRequest {
            method: Method::GET,
            path: "/a".into(),
            query: Some("b=2&a=1".into()),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            has_body: false,
            params: vec![("id".into(), "7".into())],
            client_ip: "1.2.3.4".into(),
            host: "gw".into(),
        };
        let h = CtxHandle::new(&mut c);
        let lua = mlua::Lua::new();
        lua.globals().set("ctx", h.clone()).unwrap();
        lua.load(
            r#"
            assert(ctx:url() == "/a?b=2&a=1" and ctx:host() == "gw")
            assert(ctx:query("a") == "1" and ctx:params("id") == "7")
            ctx:query("c", "3")
            ctx:params("id", "8")
            ctx:headers("X-From-Lua", "1")
            ctx:body("new")
            ctx:method("POST")
            "#,
        )
        .exec()
        .unwrap();
        h.apply(&mut c);
        assert_eq!(c.query.as_deref(), Some("a=1&b=2&c=3"));
        assert_eq!(c.params, [("id".to_string(), "8".to_string())]);
        assert_eq!(c.headers["x-from-lua"], "1");
        assert_eq!((&c.body[..], c.has_body), (&b"new"[..], true));
        assert_eq!(c.method, Method::POST);
        let h = CtxHandle::new(&mut c);
        lua.globals().set("ctx", h.clone()).unwrap();
        lua.load(r#"ctx:url("http://x/new/path?z=1")"#)
            .exec()
            .unwrap();
        h.apply(&mut c);
        assert_eq!(
            (c.path.as_str(), c.query.as_deref()),
            ("/new/path", Some("z=1"))
        );
    }
}
