//! `extra_config["qos/http-cache"]` (backend level): cache backend GET responses by RFC 9111.
//! `shared: true` puts the backend in the one process-wide store (and applies shared-cache
//! rules such as `s-maxage`); otherwise the backend has its own store.

use serde_json::{Map, Value};

use crate::config::walk::Walker;

/// The namespace key.
pub const NAMESPACE: &str = "qos/http-cache";

/// Cache options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HttpCacheOptions {
    /// `shared`.
    pub shared: bool,
}

/// Reads the namespace object at `path`.
pub fn parse(v: &Map<String, Value>, path: &str, w: &mut Walker) -> HttpCacheOptions {
    w.note_unknown_keys(v, path, &["shared"]);
    HttpCacheOptions {
        shared: w.boolean(v, "shared", path).unwrap_or(false),
    }
}
