//! `http_response.new(url[, method, body[, headers]])`: an HTTP call made from a script, as
//! KrakenD's helper makes it (its User-Agent, redirects followed), answering an object with
//! `statusCode()`, `headers(name)`, `headerList(name)`, `body()` and `close()`. The call
//! blocks the script, not the runtime (`block_in_place`), and is bounded by the script's
//! deadline.

use std::sync::OnceLock;
use std::time::Instant;

use crate::backend::client::{read_body, BodyMode, HttpClient, Outgoing};
use crate::lua::access::header_values;
use crate::lua::error::text_of;
use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::Method;
use mlua::{Lua, MultiValue, UserData, UserDataMethods, Value as LuaValue};

/// The answer of one call.
#[derive(Debug, Clone)]
struct HttpAnswer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl UserData for HttpAnswer {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("statusCode", |_, this, ()| Ok(this.status));
        methods.add_method("headers", |_, this, name: String| {
            Ok(this
                .headers
                .get(name.as_str())
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default())
        });
        methods.add_method("headerList", |_, this, name: String| {
            Ok(header_values(&this.headers, &name))
        });
        methods.add_method("body", |lua, this, ()| lua.create_string(&this.body[..]));
        methods.add_method("close", |_, _, ()| Ok(()));
    }
}

fn client() -> &'static HttpClient {
    static CLIENT: OnceLock<HttpClient> = OnceLock::new();
    CLIENT.get_or_init(HttpClient::default)
}

fn request(args: &MultiValue) -> mlua::Result<Outgoing> {
    if args.is_empty() || args.len() == 2 {
        return Err(mlua::Error::runtime("need 1, 3 or 4 arguments"));
    }
    let url = text_of(&args[0]);
    let (method, body) = if args.len() == 1 {
        (Method::GET, Bytes::new())
    } else {
        let m = text_of(&args[1]);
        (
            Method::from_bytes(m.as_bytes()).map_err(mlua::Error::external)?,
            Bytes::from(text_of(&args[2])),
        )
    };
    let mut headers = HeaderMap::new();
    if let Some(LuaValue::Table(t)) = args.get(3) {
        for pair in t.pairs::<LuaValue, LuaValue>() {
            let (k, v) = pair?;
            let name =
                HeaderName::from_bytes(text_of(&k).as_bytes()).map_err(mlua::Error::external)?;
            let values: Vec<String> = match v {
                LuaValue::Table(list) => list
                    .sequence_values::<LuaValue>()
                    .filter_map(Result::ok)
                    .map(|v| text_of(&v))
                    .collect(),
                other => vec![text_of(&other)],
            };
            for value in values {
                headers.append(
                    name.clone(),
                    HeaderValue::from_str(&value).map_err(mlua::Error::external)?,
                );
            }
        }
    }
    headers.append(
        http::header::USER_AGENT,
        HeaderValue::from_str(&format!("KrakenD Version {}", crate::COMPAT_VERSION))
            .map_err(mlua::Error::external)?,
    );
    let mode = if body.is_empty() {
        BodyMode::None
    } else {
        BodyMode::Sized
    };
    Ok(Outgoing {
        method,
        url,
        uri: None,
        headers,
        body,
        mode,
    })
}

/// Registers `http_response`.
pub fn register(lua: &Lua) -> mlua::Result<()> {
    let table = lua.create_table()?;
    table.set(
        "new",
        lua.create_function(|lua, args: MultiValue| {
            let out = request(&args)?;
            let deadline = lua.app_data_ref::<super::vm::Deadline>().map(|d| d.0);
            let handle = tokio::runtime::Handle::try_current().map_err(mlua::Error::external)?;
            if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
                // Only after `--watch` brought in the first script of a gateway that started
                // with one worker and none (see `crate::runtime`).
                return Err(mlua::Error::runtime(
                    "http_response needs the multi-threaded runtime: restart the gateway",
                ));
            }
            let call = async move {
                let mut out = out;
                let received = client().send(&mut out).await?;
                read_body(received).await
            };
            let remaining = deadline
                .map(|d| d.saturating_duration_since(Instant::now()))
                .unwrap_or(std::time::Duration::from_secs(10));
            let result = tokio::task::block_in_place(|| {
                handle.block_on(async { tokio::time::timeout(remaining, call).await })
            });
            match result {
                Ok(Ok((parts, body))) => Ok(HttpAnswer {
                    status: parts.status.as_u16(),
                    headers: parts.headers,
                    body,
                }),
                Ok(Err(e)) => Err(mlua::Error::runtime(e.to_string())),
                Err(_) => Err(mlua::Error::runtime("context deadline exceeded")),
            }
        })?,
    )?;
    lua.globals().set("http_response", table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_checked_like_krakend() {
        let lua = Lua::new();
        register(&lua).unwrap();
        let e = lua
            .load("http_response.new('http://x', 'GET')")
            .exec()
            .unwrap_err();
        assert!(e.to_string().contains("need 1, 3 or 4 arguments"), "{e}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_a_server_and_reads_the_answer() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let body = if req.contains("X-Test: 1") && req.starts_with("POST") {
                "seen"
            } else {
                "unexpected"
            };
            let answer = format!(
                "HTTP/1.1 201 Created\r\nX-A: a\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            s.write_all(answer.as_bytes()).await.unwrap();
        });
        let code = format!(
            "local r = http_response.new('http://{addr}/x', 'POST', 'payload', {{['X-Test'] = '1'}})
             return r:statusCode(), r:headers('X-A'), r:body()"
        );
        // Run on a runtime worker, as the gateway runs scripts.
        let lua = Lua::new();
        register(&lua).unwrap();
        let (status, header, body) = lua
            .load(code)
            .eval::<(u16, String, String)>()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((status, header.as_str(), body.as_str()), (201, "a", "seen"));
    }
}
