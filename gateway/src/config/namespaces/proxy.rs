//! `extra_config.proxy`: sequential merge, static data, flatmap and shadow backends.

use serde_json::{Map, Value};

use crate::config::walk::{index, join, Walker};

/// The namespace key.
pub const NAMESPACE: &str = "proxy";

/// When static data is added to a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaticStrategy {
    /// Always.
    Always,
    /// When no backend failed.
    Success,
    /// When some backend failed.
    Errored,
    /// When the response is complete.
    Complete,
    /// When the response is incomplete or missing.
    Incomplete,
}

/// `proxy.static`.
#[derive(Debug, Clone, PartialEq)]
pub struct StaticData {
    /// `strategy`.
    pub strategy: StaticStrategy,
    /// `data`, merged over the response.
    pub data: Map<String, Value>,
}

/// One `flatmap_filter` operation; paths are split on `.`, `*` crosses arrays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlatmapOp {
    /// `move` from, to.
    Move(Vec<String>, Vec<String>),
    /// `del` path.
    Del(Vec<String>),
    /// `append` from, to.
    Append(Vec<String>, Vec<String>),
}

/// Endpoint-level proxy options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointProxyOptions {
    /// `sequential`.
    pub sequential: bool,
    /// `sequential_propagated_params`.
    pub sequential_propagated_params: Vec<String>,
    /// `static`.
    pub static_data: Option<StaticData>,
    /// `flatmap_filter` applied to the merged response.
    pub flatmap: Vec<FlatmapOp>,
}

/// Backend-level proxy options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendProxyOptions {
    /// `shadow`: called, its response discarded.
    pub shadow: bool,
    /// `flatmap_filter` applied to this backend's response.
    pub flatmap: Vec<FlatmapOp>,
}

/// Reads the endpoint-level namespace object at `path`.
pub fn parse_endpoint(v: &Map<String, Value>, path: &str, w: &mut Walker) -> EndpointProxyOptions {
    EndpointProxyOptions {
        sequential: w.boolean(v, "sequential", path).unwrap_or(false),
        sequential_propagated_params: w
            .strings(v, "sequential_propagated_params", path)
            .unwrap_or_default(),
        static_data: w
            .object(v, "static", path)
            .and_then(|s| parse_static(s, &join(path, "static"), w)),
        flatmap: parse_flatmap(v, path, w),
    }
}

/// Reads the backend-level namespace object at `path`.
pub fn parse_backend(v: &Map<String, Value>, path: &str, w: &mut Walker) -> BackendProxyOptions {
    BackendProxyOptions {
        shadow: w.boolean(v, "shadow", path).unwrap_or(false),
        flatmap: parse_flatmap(v, path, w),
    }
}

fn parse_static(v: &Map<String, Value>, path: &str, w: &mut Walker) -> Option<StaticData> {
    let strategy = match w.string(v, "strategy", path).as_deref() {
        None | Some("always") => StaticStrategy::Always,
        Some("success") => StaticStrategy::Success,
        Some("errored") => StaticStrategy::Errored,
        Some("complete") => StaticStrategy::Complete,
        Some("incomplete") => StaticStrategy::Incomplete,
        Some(other) => {
            w.fail(
                join(path, "strategy"),
                format!(
                    "unknown strategy {other:?} (always, success, errored, complete, incomplete)"
                ),
            );
            StaticStrategy::Always
        }
    };
    match v.get("data") {
        Some(Value::Object(data)) => Some(StaticData {
            strategy,
            data: data.clone(),
        }),
        Some(other) => {
            w.fail(
                join(path, "data"),
                format!(
                    "must be an object, found {}",
                    crate::config::walk::type_name(other)
                ),
            );
            None
        }
        None => {
            w.fail(join(path, "data"), "is required");
            None
        }
    }
}

fn parse_flatmap(v: &Map<String, Value>, path: &str, w: &mut Walker) -> Vec<FlatmapOp> {
    let Some(raw) = v.get("flatmap_filter") else {
        return Vec::new();
    };
    let path = join(path, "flatmap_filter");
    let Value::Array(items) = raw else {
        w.fail(path, "must be an array of operations");
        return Vec::new();
    };
    let mut ops = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = index(&path, i);
        let Some(obj) = w.expect_object(item, &p) else {
            continue;
        };
        let kind = w.string(obj, "type", &p);
        let args = w.strings(obj, "args", &p).unwrap_or_default();
        let split = |s: &String| s.split('.').map(str::to_string).collect::<Vec<_>>();
        let want = |w: &mut Walker, n: usize| {
            if args.len() != n {
                w.fail(
                    join(&p, "args"),
                    format!("needs exactly {n} argument(s), found {}", args.len()),
                );
                false
            } else {
                true
            }
        };
        match kind.as_deref() {
            Some("move") if want(w, 2) => {
                ops.push(FlatmapOp::Move(split(&args[0]), split(&args[1])))
            }
            Some("append") if want(w, 2) => {
                ops.push(FlatmapOp::Append(split(&args[0]), split(&args[1])))
            }
            Some("del") if want(w, 1) => ops.push(FlatmapOp::Del(split(&args[0]))),
            Some("move" | "append" | "del") => {}
            Some(other) => w.fail(
                join(&p, "type"),
                format!("unknown operation {other:?} (move, append, del)"),
            ),
            None => w.fail(join(&p, "type"), "is required"),
        }
    }
    ops
}
