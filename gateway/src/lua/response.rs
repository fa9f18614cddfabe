//! `response.load()` in `post` scripts: `isComplete`, `statusCode`, `data` (a `luaTable`),
//! `headers`, `headerList` and `body`. Status, headers and body are the backend's for
//! no-op (passthrough) responses; otherwise headers set here are added to the client
//! response and the status is 200, as the endpoint answers.

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use mlua::{MultiValue, UserData, UserDataMethods, Value as LuaValue};
use serde_json::Value;

use crate::lua::access;
use crate::lua::table::{JsonRef, LuaTable};
use crate::proxy::{Passthrough, Response};

/// What a script may read and change of a response.
#[derive(Debug)]
struct ResponseState {
    is_complete: bool,
    status: u16,
    headers: HeaderMap,
    /// The passthrough body, read before the script runs (`None`: not a passthrough).
    body: Option<Bytes>,
}

/// The shared handle `response.load()` returns.
#[derive(Debug, Clone)]
pub struct ResponseHandle {
    state: Arc<Mutex<ResponseState>>,
    data: JsonRef,
}

impl ResponseHandle {
    /// The handle over `r`, whose passthrough body (if any) was read into `body`.
    pub fn new(r: &mut Response, body: Option<Bytes>) -> Self {
        let data = JsonRef::new(Value::Object(std::mem::take(&mut r.data)));
        let (status, headers) = match &mut r.passthrough {
            Some(p) => (p.status.as_u16(), std::mem::take(&mut p.headers)),
            None => (200, std::mem::take(&mut r.headers)),
        };
        Self {
            state: Arc::new(Mutex::new(ResponseState {
                is_complete: r.is_complete,
                status,
                headers,
                body,
            })),
            data,
        }
    }

    fn lock(&self) -> MutexGuard<'_, ResponseState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes what the script changed back into `r`.
    pub fn apply(&self, r: &mut Response) {
        r.data = match self.data.take() {
            Value::Object(m) => m,
            _ => Default::default(),
        };
        let mut s = self.lock();
        r.is_complete = s.is_complete;
        let headers = std::mem::take(&mut s.headers);
        match &mut r.passthrough {
            Some(p) => {
                p.status = StatusCode::from_u16(s.status).unwrap_or(p.status);
                p.headers = headers;
                if let Some(b) = s.body.take() {
                    p.body = crate::body::full(b);
                }
            }
            None => r.headers = headers,
        }
    }
}

/// Reads a passthrough body so that a script can see it (`None` when not a passthrough).
pub async fn read_passthrough(p: Option<&mut Passthrough>) -> Option<Bytes> {
    use http_body_util::BodyExt;
    let p = p?;
    let body = std::mem::replace(&mut p.body, crate::body::empty());
    Some(
        body.collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default(),
    )
}

impl UserData for ResponseHandle {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("isComplete", |_, this, args: MultiValue| {
            let mut s = this.lock();
            match args.front() {
                Some(v) => {
                    s.is_complete = !matches!(v, LuaValue::Nil | LuaValue::Boolean(false));
                    Ok(None)
                }
                None => Ok(Some(s.is_complete)),
            }
        });
        methods.add_method("statusCode", |_, this, args: MultiValue| {
            let mut s = this.lock();
            match args.front() {
                Some(LuaValue::Integer(n)) => s.status = u16::try_from(*n).unwrap_or(500),
                Some(LuaValue::Number(n)) => s.status = u16::try_from(*n as i64).unwrap_or(500),
                Some(_) => {}
                None => return Ok(Some(s.status)),
            }
            Ok(None)
        });
        methods.add_method("data", |_, this, ()| Ok(LuaTable(this.data.clone())));
        methods.add_method("headers", |lua, this, args: MultiValue| {
            access::headers(lua, &mut this.lock().headers, &args)
        });
        methods.add_method("headerList", |lua, this, args: MultiValue| {
            access::header_list(lua, &mut this.lock().headers, &args)
        });
        methods.add_method("body", |lua, this, args: MultiValue| {
            let mut s = this.lock();
            match args.front().filter(|v| !v.is_nil()) {
                Some(v) => {
                    s.body = Some(Bytes::from(crate::lua::error::text_of(v)));
                    Ok(LuaValue::Nil)
                }
                None => lua
                    .create_string(s.body.as_deref().unwrap_or_default())
                    .map(LuaValue::String),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::testing::data;
    use http::HeaderValue;
    use mlua::Lua;
    use serde_json::json;

    #[test]
    fn post_changes_data_completeness_and_headers() {
        let mut r = data(json!({"a": 1, "b": {"c": 2}}));
        let h = ResponseHandle::new(&mut r, None);
        let lua = Lua::new();
        lua.globals().set("resp", h.clone()).unwrap();
        lua.load(
            r#"
            assert(resp:isComplete() and resp:statusCode() == 200)
            local d = resp:data()
            d:set("sum", d:get("a") + d:get("b"):get("c"))
            d:del("a")
            resp:isComplete(false)
            resp:headers("X-Lua", "yes")
            "#,
        )
        .exec()
        .unwrap();
        h.apply(&mut r);
        assert_eq!(Value::Object(r.data), json!({"b": {"c": 2}, "sum": 3}));
        assert!(!r.is_complete);
        assert_eq!(r.headers["x-lua"], "yes");
    }

    #[tokio::test]
    async fn passthrough_status_headers_and_body() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("text/plain"));
        let mut r = Response {
            passthrough: Some(Passthrough {
                status: StatusCode::CREATED,
                headers,
                body: crate::body::full("raw"),
            }),
            ..Default::default()
        };
        let body = read_passthrough(r.passthrough.as_mut()).await;
        let h = ResponseHandle::new(&mut r, body);
        let lua = Lua::new();
        lua.globals().set("resp", h.clone()).unwrap();
        lua.load(
            r#"
            assert(resp:statusCode() == 201, resp:statusCode())
            assert(resp:headers("Content-Type") == "text/plain")
            resp:body(resp:body() .. "!")
            resp:statusCode(202)
            "#,
        )
        .exec()
        .unwrap();
        h.apply(&mut r);
        let p = r.passthrough.unwrap();
        assert_eq!(p.status, StatusCode::ACCEPTED);
        assert_eq!(p.headers["content-type"], "text/plain");
        use http_body_util::BodyExt;
        assert_eq!(&p.body.collect().await.unwrap().to_bytes()[..], b"raw!");
    }
}
