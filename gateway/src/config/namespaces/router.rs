//! `extra_config.router` (service level): gin-router behaviour switches.

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::codec::json as gojson;
use crate::config::walk::{join, Walker};

pub mod client_ip;

pub use client_ip::ClientIpPolicy;

/// The namespace key.
pub const NAMESPACE: &str = "router";

/// Router options; defaults are KrakenD's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterOptions {
    /// `return_error_msg`: write the error text as the body of failed requests.
    pub return_error_msg: bool,
    /// `!disable_handle_method_not_allowed`.
    pub handle_method_not_allowed: bool,
    /// `!disable_redirect_fixed_path`.
    pub redirect_fixed_path: bool,
    /// `!disable_redirect_trailing_slash`.
    pub redirect_trailing_slash: bool,
    /// `!disable_health`.
    pub health: bool,
    /// `health_path`.
    pub health_path: String,
    /// `!disable_access_log`.
    pub access_log: bool,
    /// `logger_skip_paths`.
    pub logger_skip_paths: Vec<String>,
    /// `hide_version_header`.
    pub hide_version_header: bool,
    /// `disable_path_decoding`.
    pub disable_path_decoding: bool,
    /// `auto_options`.
    pub auto_options: bool,
    /// `remove_extra_slash`: routes are matched on the cleaned path (`//a/./b` -> `/a/b`), as
    /// gin's `RemoveExtraSlash`.
    pub remove_extra_slash: bool,
    /// `error_body`: JSON bodies replacing gin's plain-text 404 and 405.
    pub error_body: ErrorBodies,
    /// `forwarded_by_client_ip`, `remote_ip_headers`, `trusted_proxies` and `app_engine`.
    pub client_ip: ClientIpPolicy,
    /// `use_h2c`: Lura copies it into gin's `UseH2C`, so it enables h2c like the root key.
    pub use_h2c: bool,
}

/// `error_body`, each rendered once (Go's JSON encoding) at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorBodies {
    /// `error_body["404"]`: the body of unknown routes.
    pub not_found: Option<Bytes>,
    /// `error_body["405"]`: the body of known routes asked with another method.
    pub method_not_allowed: Option<Bytes>,
}

impl Default for RouterOptions {
    fn default() -> Self {
        Self {
            return_error_msg: false,
            handle_method_not_allowed: true,
            redirect_fixed_path: true,
            redirect_trailing_slash: true,
            health: true,
            health_path: "/__health".into(),
            access_log: true,
            logger_skip_paths: Vec::new(),
            hide_version_header: false,
            disable_path_decoding: false,
            auto_options: false,
            remove_extra_slash: false,
            error_body: ErrorBodies::default(),
            client_ip: ClientIpPolicy::default(),
            use_h2c: false,
        }
    }
}

/// Reads the namespace object at `path`.
pub fn parse(v: &Map<String, Value>, path: &str, w: &mut Walker) -> RouterOptions {
    let d = RouterOptions::default();
    let not = |b: Option<bool>, default: bool| b.map(|b| !b).unwrap_or(default);
    let health_path = w.string(v, "health_path", path).unwrap_or(d.health_path);
    if !health_path.starts_with('/') {
        w.fail(format!("{path}.health_path"), "must start with '/'");
    }
    RouterOptions {
        return_error_msg: w.boolean(v, "return_error_msg", path).unwrap_or(false),
        handle_method_not_allowed: not(
            w.boolean(v, "disable_handle_method_not_allowed", path),
            true,
        ),
        redirect_fixed_path: not(w.boolean(v, "disable_redirect_fixed_path", path), true),
        redirect_trailing_slash: not(w.boolean(v, "disable_redirect_trailing_slash", path), true),
        health: not(w.boolean(v, "disable_health", path), true),
        health_path,
        access_log: not(w.boolean(v, "disable_access_log", path), true),
        logger_skip_paths: w.strings(v, "logger_skip_paths", path).unwrap_or_default(),
        hide_version_header: w.boolean(v, "hide_version_header", path).unwrap_or(false),
        disable_path_decoding: w.boolean(v, "disable_path_decoding", path).unwrap_or(false),
        auto_options: w.boolean(v, "auto_options", path).unwrap_or(false),
        remove_extra_slash: w.boolean(v, "remove_extra_slash", path).unwrap_or(false),
        error_body: w
            .object(v, "error_body", path)
            .map(|o| error_bodies(o, &join(path, "error_body"), w))
            .unwrap_or_default(),
        client_ip: client_ip::parse(v, path, w),
        use_h2c: w.boolean(v, "use_h2c", path).unwrap_or(false),
    }
}

fn error_bodies(o: &Map<String, Value>, path: &str, w: &mut Walker) -> ErrorBodies {
    w.note_unknown_keys(o, path, &["404", "405"]);
    let mut body = |code: &str| {
        w.object(o, code, path)
            .map(|obj| Bytes::from(gojson::to_vec(obj)))
    };
    ErrorBodies {
        not_found: body("404"),
        method_not_allowed: body("405"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> (RouterOptions, Vec<String>) {
        let v: Value = serde_json::from_str(json).unwrap();
        let mut w = Walker::default();
        let o = parse(v.as_object().unwrap(), "extra_config.router", &mut w);
        (o, w.problems.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn error_bodies_are_rendered_once() {
        let (o, problems) =
            read(r#"{"error_body":{"404":{"msg":"<nope>","code":404},"405":{"m":[1,2]}}}"#);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            o.error_body.not_found.as_deref(),
            Some(&br#"{"code":404,"msg":"\u003cnope\u003e"}"#[..])
        );
        assert_eq!(
            o.error_body.method_not_allowed.as_deref(),
            Some(&br#"{"m":[1,2]}"#[..])
        );
        assert_eq!(read("{}").0.error_body, ErrorBodies::default());
    }

    #[test]
    fn bad_error_bodies_are_located() {
        let (_, problems) = read(r#"{"error_body":{"404":"gone"}}"#);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("extra_config.router.error_body.404:"),
            "{problems:?}"
        );
        let (_, problems) = read(r#"{"error_body":[]}"#);
        assert!(problems[0].starts_with("extra_config.router.error_body"));
    }
}
