//! `telemetry/metrics` (legacy JSON stats) and `telemetry/opentelemetry` (Prometheus
//! exporters): where metrics are served and which layers are measured.

use serde_json::{Map, Value};

use crate::config::walk::{join, Walker};

/// The legacy namespace key.
pub const LEGACY_NAMESPACE: &str = "telemetry/metrics";
/// The OpenTelemetry namespace key.
pub const OTEL_NAMESPACE: &str = "telemetry/opentelemetry";

/// What to measure and where to publish it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricsOptions {
    /// `telemetry/metrics.listen_address` (JSON stats on `/__stats/`), e.g. `:8090`.
    pub stats_address: Option<String>,
    /// Prometheus exporters: (listen ip, port) serving `/metrics`.
    pub prometheus: Vec<(Option<String>, u16)>,
    /// `router_disabled`
    pub router_disabled: bool,
    /// `proxy_disabled` / `endpoint_disabled`: no endpoint-level series.
    pub proxy_disabled: bool,
    /// `backend_disabled`
    pub backend_disabled: bool,
}

/// Reads `telemetry/metrics` into `opts`.
pub fn parse_legacy(v: &Map<String, Value>, path: &str, w: &mut Walker, opts: &mut MetricsOptions) {
    opts.stats_address = Some(
        w.string(v, "listen_address", path)
            .unwrap_or_else(|| ":8090".into()),
    );
    let _ = w.string(v, "collection_time", path);
    opts.router_disabled |= w.boolean(v, "router_disabled", path).unwrap_or(false);
    opts.proxy_disabled |= w.boolean(v, "proxy_disabled", path).unwrap_or(false)
        || w.boolean(v, "endpoint_disabled", path).unwrap_or(false);
    opts.backend_disabled |= w.boolean(v, "backend_disabled", path).unwrap_or(false);
}

/// Reads `telemetry/opentelemetry` (its Prometheus exporters) into `opts`.
pub fn parse_otel(v: &Map<String, Value>, path: &str, w: &mut Walker, opts: &mut MetricsOptions) {
    let Some(exporters) = v.get("exporters").and_then(Value::as_object) else {
        return;
    };
    let Some(list) = exporters.get("prometheus") else {
        return;
    };
    let p = join(&join(path, "exporters"), "prometheus");
    let Some(items) = list.as_array() else {
        w.fail(p, "must be a list of exporters");
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let ip = format!("{p}[{i}]");
        let Some(o) = w.expect_object(item, &ip) else {
            continue;
        };
        let port = match o.get("port") {
            None => 9090,
            Some(n) => match n.as_u64().and_then(|n| u16::try_from(n).ok()) {
                Some(n) => n,
                None => {
                    w.fail(join(&ip, "port"), "must be a port number (0-65535)");
                    continue;
                }
            },
        };
        let listen_ip = w.string(o, "listen_ip", &ip).filter(|s| !s.is_empty());
        opts.prometheus.push((listen_ip, port));
    }
    if let Some(layers) = v.get("layers").and_then(Value::as_object) {
        let off = |k: &str| {
            layers
                .get(k)
                .and_then(|l| l.get("disable_metrics"))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        opts.router_disabled |= off("global");
        opts.proxy_disabled |= off("proxy");
        opts.backend_disabled |= off("backend");
    }
}
