//! `extra_config["backend/http"]` (backend level): how backend error statuses are reported.

use serde_json::{Map, Value};

use crate::config::walk::Walker;

/// The namespace key.
pub const NAMESPACE: &str = "backend/http";

/// Backend error reporting options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendHttpOptions {
    /// `return_error_details`: on a non-2xx status, merge `error_<name>` details into the response.
    pub return_error_details: Option<String>,
    /// `return_error_code`: on a non-2xx status, answer with the backend's status and body.
    pub return_error_code: bool,
}

/// Reads the namespace object at `path`.
pub fn parse(v: &Map<String, Value>, path: &str, w: &mut Walker) -> BackendHttpOptions {
    let details = w
        .string(v, "return_error_details", path)
        .filter(|s| !s.is_empty());
    BackendHttpOptions {
        return_error_code: details.is_none()
            && w.boolean(v, "return_error_code", path).unwrap_or(false),
        return_error_details: details,
    }
}
