//! How a script stops a request: `custom_error(msg[, status[, content_type]])` and every
//! other Lua error, turned into what KrakenD answers (the given status, or 500).

use std::sync::Arc;

use mlua::{Lua, Value};

use crate::error::ProxyError;

/// A script's failure, ready to become a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    /// The message (the response body when `return_error_msg` is on).
    pub message: String,
    /// The status asked by `custom_error`; `None` answers 500.
    pub status: Option<u16>,
    /// The `Content-Type` asked by `custom_error`.
    pub content_type: Option<String>,
}

impl ScriptError {
    /// A failure without a status of its own (answered with 500).
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            status: None,
            content_type: None,
        }
    }

    /// The failure a Lua error stands for: `custom_error`'s payload when the script raised
    /// one, the Lua message otherwise.
    pub fn from_lua(e: &mlua::Error) -> Self {
        if let Some(c) = e.downcast_ref::<CustomError>() {
            return c.0.clone();
        }
        Self::internal(message(e))
    }

    /// The status KrakenD answers with.
    pub fn status(&self) -> u16 {
        self.status.unwrap_or(500)
    }

    /// The proxy-tier error: with a status, it is answered like `return_error_code`.
    pub fn into_proxy_error(self) -> ProxyError {
        match self.status {
            Some(status) => ProxyError::WithStatus {
                status,
                body: self.message,
                content_type: self.content_type,
            },
            None => ProxyError::Script(self.message),
        }
    }
}

/// The innermost message of a Lua error, without mlua's prefixes and the traceback.
fn message(e: &mlua::Error) -> String {
    let text = match e {
        mlua::Error::CallbackError { cause, .. } | mlua::Error::WithContext { cause, .. } => {
            return message(cause)
        }
        mlua::Error::BadArgument { cause, .. } => return message(cause),
        mlua::Error::RuntimeError(m) | mlua::Error::MemoryError(m) => m.clone(),
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::ExternalError(x) => x.to_string(),
        other => other.to_string(),
    };
    match text.find("\nstack traceback:") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// The payload `custom_error` raises (kept typed so that `pcall` can still catch it and the
/// layer can still recognise it).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", .0.message)]
pub struct CustomError(pub ScriptError);

/// Registers `custom_error(msg[, status[, content_type]])`. Like KrakenD, a status of -1 (or
/// none) is a plain error (500); a status outside 100..=999 cannot be sent and is 500 too.
pub fn register(lua: &Lua) -> mlua::Result<()> {
    let f = lua.create_function(|_, args: mlua::MultiValue| -> mlua::Result<()> {
        let mut args = args.into_iter();
        let Some(msg) = args.next() else {
            return Err(mlua::Error::runtime("need arguments"));
        };
        let status = match args.next() {
            Some(Value::Integer(n)) => Some(n),
            Some(Value::Number(n)) => Some(n as i64),
            Some(Value::String(s)) => s.to_str()?.trim().parse::<i64>().ok(),
            _ => None,
        };
        let content_type = match args.next() {
            Some(Value::String(s)) => Some(s.to_str()?.to_string()),
            _ => None,
        };
        let status = status.filter(|s| *s != -1).map(|s| {
            u16::try_from(s)
                .ok()
                .filter(|s| (100..=999).contains(s))
                .unwrap_or(500)
        });
        Err(mlua::Error::ExternalError(Arc::new(CustomError(
            ScriptError {
                message: text_of(&msg),
                status,
                content_type: content_type.filter(|_| status.is_some()),
            },
        ))))
    })?;
    lua.globals().set("custom_error", f)
}

/// Lua's `tostring` of a value, for messages.
pub fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string_lossy(),
        Value::Integer(i) => i.to_string(),
        Value::Number(n) => format_number(*n),
        Value::Boolean(b) => b.to_string(),
        Value::Nil => "nil".into(),
        other => other.to_string().unwrap_or_default(),
    }
}

/// A Lua number as Lua prints it (`3`, `1.5`).
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(code: &str) -> ScriptError {
        let lua = Lua::new();
        register(&lua).unwrap();
        let e = lua.load(code).set_name("=t").exec().unwrap_err();
        ScriptError::from_lua(&e)
    }

    #[test]
    fn custom_error_carries_message_status_and_content_type() {
        assert_eq!(
            run("custom_error('teapot', 418, 'application/json')"),
            ScriptError {
                message: "teapot".into(),
                status: Some(418),
                content_type: Some("application/json".into())
            }
        );
        assert_eq!(run("custom_error('plain')"), ScriptError::internal("plain"));
        assert_eq!(run("custom_error('minus', -1)").status, None);
        assert_eq!(run("custom_error('huge', 7000)").status(), 500);
        assert_eq!(run("custom_error()").message, "need arguments");
    }

    #[test]
    fn custom_error_survives_nested_calls() {
        let e = run(
            "local function deny() custom_error('no', 403) end\nlocal function f() deny() end\nf()",
        );
        assert_eq!((e.message.as_str(), e.status), ("no", Some(403)));
    }

    #[test]
    fn other_errors_are_500_with_the_lua_message() {
        let e = run("local x = nil\nreturn x.field");
        assert_eq!(e.status(), 500);
        assert!(
            e.message.starts_with("t:2: attempt to index"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("traceback"));
        let e = run("error('boom')");
        assert_eq!(e.message, "t:1: boom");
        assert_eq!(e.into_proxy_error(), ProxyError::Script("t:1: boom".into()));
    }
}
