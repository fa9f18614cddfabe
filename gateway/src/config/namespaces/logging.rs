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
    /// `syslog`: also send application logs to the local syslog (`/dev/log`).
    pub syslog: bool,
    /// `format` (`default`, `logstash`, `custom`) with `custom_format`.
    pub format: LogFormat,
}

/// The application log line layout.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `PREFIX yyyy/mm/dd - hh:mm:ss.mmm ▶ LEVL message`, as KrakenD's gologging.
    #[default]
    Default,
    /// One JSON object per line (`@timestamp`, `@version`, `level`, `message`, `module`).
    Logstash,
    /// A gologging pattern with `%{time}`, `%{level}`, `%{message}`, `%{module}`...
    Custom(String),
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
        syslog: w.boolean(v, "syslog", path).unwrap_or(false),
        format: match w.string(v, "format", path).as_deref() {
            None | Some("default") | Some("") => LogFormat::Default,
            Some("logstash") => LogFormat::Logstash,
            Some("custom") => match w.string(v, "custom_format", path) {
                Some(f) if !f.is_empty() => LogFormat::Custom(f),
                _ => {
                    w.fail(
                        join(path, "custom_format"),
                        "is required with \"format\": \"custom\"",
                    );
                    LogFormat::Default
                }
            },
            Some(other) => {
                w.fail(
                    join(path, "format"),
                    format!("unknown format {other:?} (default, logstash, custom)"),
                );
                LogFormat::Default
            }
        },
    }
}
