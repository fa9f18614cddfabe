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
    /// `telemetry/metrics.listen_address` (JSON stats on `/__stats/`), e.g. `:8090`; none
    /// with `endpoint_disabled` (metrics still collected).
    pub stats_address: Option<String>,
    /// `collection_time` (default 60 s): how often the router's `connected*` series are
    /// aggregated.
    pub collection_time: Option<std::time::Duration>,
    /// Prometheus exporters: (listen ip, port) serving `/metrics`.
    pub prometheus: Vec<(Option<String>, u16)>,
    /// `router_disabled`
    pub router_disabled: bool,
    /// `proxy_disabled`: no `pipe` (endpoint proxy stack) series.
    pub proxy_disabled: bool,
    /// `backend_disabled`
    pub backend_disabled: bool,
}

/// Reads `telemetry/metrics` into `opts`.
pub fn parse_legacy(v: &Map<String, Value>, path: &str, w: &mut Walker, opts: &mut MetricsOptions) {
    let address = w
        .string(v, "listen_address", path)
        .unwrap_or_else(|| ":8090".into());
    let endpoint_disabled = w.boolean(v, "endpoint_disabled", path).unwrap_or(false);
    opts.stats_address = (!endpoint_disabled).then_some(address);
    opts.collection_time = Some(
        w.duration(v, "collection_time", path)
            .filter(|d| !d.is_zero())
            .unwrap_or(std::time::Duration::from_secs(60)),
    );
    opts.router_disabled |= w.boolean(v, "router_disabled", path).unwrap_or(false);
    opts.proxy_disabled |= w.boolean(v, "proxy_disabled", path).unwrap_or(false);
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn legacy(v: Value) -> (MetricsOptions, Walker) {
        let mut w = Walker::default();
        let mut opts = MetricsOptions::default();
        parse_legacy(v.as_object().unwrap(), "extra_config", &mut w, &mut opts);
        (opts, w)
    }

    #[test]
    fn legacy_defaults_and_collection_time() {
        let (opts, w) = legacy(json!({}));
        assert!(w.problems.is_empty());
        assert_eq!(opts.stats_address.as_deref(), Some(":8090"));
        assert_eq!(
            opts.collection_time,
            Some(std::time::Duration::from_secs(60))
        );
        let (opts, _) = legacy(json!({"collection_time": "250ms", "proxy_disabled": true}));
        assert_eq!(
            opts.collection_time,
            Some(std::time::Duration::from_millis(250))
        );
        assert!(opts.proxy_disabled && !opts.router_disabled && !opts.backend_disabled);
        let (_, w) = legacy(json!({"collection_time": "often"}));
        assert_eq!(w.problems.len(), 1, "{:?}", w.problems);
    }

    #[test]
    fn endpoint_disabled_hides_the_stats_endpoint_but_keeps_collecting() {
        let (opts, _) = legacy(json!({"endpoint_disabled": true, "listen_address": ":9000"}));
        assert_eq!(opts.stats_address, None);
        assert!(!opts.proxy_disabled && !opts.router_disabled && !opts.backend_disabled);
    }
}
