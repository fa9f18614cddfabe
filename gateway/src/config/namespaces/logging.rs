//! `extra_config["telemetry/logging"]`: log level and prefix.

use serde_json::{Map, Value};

use crate::config::walk::{join, Walker};

/// The namespace key.
pub const NAMESPACE: &str = "telemetry/logging";

/// Logging options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggingOptions {
    /// `level` as a tracing filter directive (`debug`, `info`, `warn`, `error`).
    pub level: String,
    /// `prefix`.
    pub prefix: String,
    /// `stdout`: log to stdout instead of stderr.
    pub stdout: bool,
}

/// Reads the namespace object at `path`.
pub fn parse(v: &Map<String, Value>, path: &str, w: &mut Walker) -> LoggingOptions {
    let raw = w.string(v, "level", path).unwrap_or_else(|| "ERROR".into());
    let level = match raw.to_ascii_uppercase().as_str() {
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARNING" | "WARN" => "warn",
        "ERROR" => "error",
        "CRITICAL" => "error",
        _ => {
            w.fail(
                join(path, "level"),
                format!("unknown level {raw:?} (DEBUG, INFO, WARNING, ERROR, CRITICAL)"),
            );
            "error"
        }
    };
    LoggingOptions {
        level: level.into(),
        prefix: w.string(v, "prefix", path).unwrap_or_default(),
        stdout: w.boolean(v, "stdout", path).unwrap_or(false),
    }
}
