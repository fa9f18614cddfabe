//! `extra_config.router` (service level): gin-router behaviour switches.

use serde_json::{Map, Value};

use crate::config::walk::Walker;

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
    }
}
