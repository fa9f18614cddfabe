//! Lua modifiers, as KrakenD's `krakend-lua` runs them (Lua 5.1): `modifier/lua-endpoint`
//! on the client request, `modifier/lua-proxy` around an endpoint's proxy stack and
//! `modifier/lua-backend` around one backend. Scripts see KrakenD's objects (`ctx`,
//! `request`, `response`, `luaTable`, `luaList`, `luaNil`, `custom_error`, `http_response`),
//! run in pooled interpreters, and are stopped at the endpoint's timeout.

mod access;
mod ctx;
pub mod error;
mod http;
mod layer;
mod request;
mod response;
mod table;
mod vm;

pub use error::ScriptError;
pub use layer::{wrap_backend, wrap_proxy, EndpointScript, Targeter};

/// Compiles `code` without running it: `Err` carries Lua's syntax message.
pub fn check_syntax(name: &str, code: &str) -> Result<(), String> {
    let lua = mlua::Lua::new_with(mlua::StdLib::NONE, mlua::LuaOptions::new())
        .map_err(|e| e.to_string())?;
    lua.load(code)
        .set_name(format!("={name}"))
        .into_function()
        .map(|_| ())
        .map_err(|e| match e {
            mlua::Error::SyntaxError { message, .. } => message,
            other => other.to_string(),
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn syntax_errors_name_the_chunk_and_line() {
        assert!(super::check_syntax("a.lua", "local x = 1\nreturn x").is_ok());
        let e = super::check_syntax("a.lua", "local x = 1\nfunction (").unwrap_err();
        assert!(e.starts_with("a.lua:2:"), "{e}");
    }
}
