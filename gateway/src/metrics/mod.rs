//! Metrics for the router (per endpoint) and backend layers, so fan-out is visible: one
//! router request to an endpoint with three backends adds one router count and three
//! backend counts.
//!
//! Every series handle is created at start-up; the request path only does relaxed atomic
//! adds on its own pre-registered handle (no locks, no map look-ups, no allocation).
//! Published as Prometheus text (`telemetry/opentelemetry` exporters, `/metrics`) and as
//! JSON (`telemetry/metrics`, `/__stats/`).

pub mod server;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::proxy::{Outcome, Proxy, ProxyFuture, Request, SharedProxy};

/// Upper bounds (seconds) of the duration histogram buckets.
pub const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Counts per status code, a duration histogram and a byte sum.
#[derive(Debug)]
pub struct Series {
    statuses: Box<[AtomicU64]>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    micros: AtomicU64,
    bytes: AtomicU64,
}

impl Default for Series {
    fn default() -> Self {
        Self {
            statuses: (0..600).map(|_| AtomicU64::new(0)).collect(),
            buckets: Default::default(),
            count: AtomicU64::new(0),
            micros: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }
}

impl Series {
    /// Records one request (`status` 0 when there was none, e.g. a transport error).
    pub fn record(&self, status: u16, elapsed: Duration, bytes: u64) {
        let i = usize::from(status).min(self.statuses.len() - 1);
        self.statuses[i].fetch_add(1, Relaxed);
        self.count.fetch_add(1, Relaxed);
        self.micros.fetch_add(
            elapsed.as_micros().min(u128::from(u64::MAX)) as u64,
            Relaxed,
        );
        self.bytes.fetch_add(bytes, Relaxed);
        let secs = elapsed.as_secs_f64();
        if let Some(b) = BUCKETS.iter().position(|le| secs <= *le) {
            self.buckets[b].fetch_add(1, Relaxed);
        }
    }

    /// Requests recorded.
    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    fn statuses(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.statuses
            .iter()
            .enumerate()
            .map(|(s, c)| (s, c.load(Relaxed)))
            .filter(|(_, c)| *c > 0)
    }
}

/// The router series of one endpoint.
#[derive(Debug)]
pub struct RouteMetrics {
    /// `http_route` label: the endpoint pattern.
    pub route: String,
    /// `http_request_method` label.
    pub method: String,
    /// Measurements.
    pub series: Series,
}

/// The series of one backend of one endpoint.
#[derive(Debug)]
pub struct BackendMetrics {
    /// `http_route` of the endpoint it belongs to.
    pub route: String,
    /// `url_path` label: the backend's `url_pattern`.
    pub url_pattern: String,
    /// `server_address` label: the backend hosts.
    pub host: String,
    /// `backend_index` label: position among the endpoint's backends (keeps series unique).
    pub index: usize,
    /// Measurements.
    pub series: Series,
}

/// Client connections currently open (one atomic add per connection, not per request).
static OPEN_CONNECTIONS: AtomicU64 = AtomicU64::new(0);

/// Counts one open client connection for as long as it lives.
#[derive(Debug)]
pub struct ConnectionGuard(());

impl ConnectionGuard {
    /// Counts a newly accepted connection.
    pub fn open() -> Self {
        OPEN_CONNECTIONS.fetch_add(1, Relaxed);
        Self(())
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        OPEN_CONNECTIONS.fetch_sub(1, Relaxed);
    }
}

/// Every series of the gateway, registered at start-up.
#[derive(Debug, Default)]
pub struct Registry {
    routes: std::sync::Mutex<Vec<Arc<RouteMetrics>>>,
    backends: std::sync::Mutex<Vec<Arc<BackendMetrics>>>,
    /// Which layers are measured.
    pub router_enabled: bool,
    /// Backend layer measured.
    pub backend_enabled: bool,
}

impl Registry {
    /// A registry measuring the given layers.
    pub fn new(router_enabled: bool, backend_enabled: bool) -> Self {
        Self {
            router_enabled,
            backend_enabled,
            ..Self::default()
        }
    }

    /// Registers an endpoint's router series (start-up only).
    pub fn route(&self, method: &str, route: &str) -> Arc<RouteMetrics> {
        let m = Arc::new(RouteMetrics {
            route: route.into(),
            method: method.into(),
            series: Series::default(),
        });
        self.routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(m.clone());
        m
    }

    /// Wraps a backend proxy with its series (start-up only).
    pub fn backend(
        &self,
        route: &str,
        url_pattern: &str,
        host: &str,
        inner: SharedProxy,
    ) -> SharedProxy {
        let mut all = self.backends.lock().unwrap_or_else(|e| e.into_inner());
        let index = all.iter().filter(|b| b.route == route).count();
        let m = Arc::new(BackendMetrics {
            route: route.into(),
            url_pattern: url_pattern.into(),
            host: host.into(),
            index,
            series: Series::default(),
        });
        all.push(m.clone());
        drop(all);
        Arc::new(MeteredBackend { inner, metrics: m })
    }

    /// Prometheus text exposition.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        let routes = self
            .routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let backends = self
            .backends
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if self.router_enabled {
            let labels: Vec<(String, &Series)> = routes
                .iter()
                .map(|r| {
                    (
                        format!(
                            "http_route=\"{}\",http_request_method=\"{}\"",
                            escape(&r.route),
                            escape(&r.method)
                        ),
                        &r.series,
                    )
                })
                .collect();
            family(
                &mut out,
                "krakend_router",
                "router (endpoint) layer",
                &labels,
            );
        }
        if self.backend_enabled {
            let labels: Vec<(String, &Series)> = backends
                .iter()
                .map(|b| {
                    (
                        format!(
                            "http_route=\"{}\",backend_index=\"{}\",url_path=\"{}\",server_address=\"{}\"",
                            escape(&b.route),
                            b.index,
                            escape(&b.url_pattern),
                            escape(&b.host)
                        ),
                        &b.series,
                    )
                })
                .collect();
            family(&mut out, "krakend_backend", "backend layer", &labels);
        }
        let _ = writeln!(
            out,
            "# HELP krakend_open_connections Open client connections."
        );
        let _ = writeln!(out, "# TYPE krakend_open_connections gauge");
        let _ = writeln!(
            out,
            "krakend_open_connections {}",
            OPEN_CONNECTIONS.load(Relaxed)
        );
        if let Some(rss) = resident_bytes() {
            let _ = writeln!(
                out,
                "# HELP process_resident_memory_bytes Resident memory size in bytes."
            );
            let _ = writeln!(out, "# TYPE process_resident_memory_bytes gauge");
            let _ = writeln!(out, "process_resident_memory_bytes {rss}");
        }
        if let Ok(h) = tokio::runtime::Handle::try_current() {
            let _ = writeln!(out, "# HELP tokio_alive_tasks Tasks alive in the runtime.");
            let _ = writeln!(out, "# TYPE tokio_alive_tasks gauge");
            let _ = writeln!(out, "tokio_alive_tasks {}", h.metrics().num_alive_tasks());
        }
        out
    }

    /// The legacy `/__stats/` JSON document.
    pub fn stats_json(&self) -> serde_json::Value {
        let routes = self
            .routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let backends = self
            .backends
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let series = |s: &Series| {
            let statuses: serde_json::Map<String, serde_json::Value> = s
                .statuses()
                .map(|(k, c)| (k.to_string(), json!(c)))
                .collect();
            json!({
                "count": s.count(),
                "duration_micros_total": s.micros.load(Relaxed),
                "response_bytes_total": s.bytes.load(Relaxed),
                "status": statuses,
            })
        };
        let mut router = serde_json::Map::new();
        if self.router_enabled {
            for r in &routes {
                router.insert(format!("{} {}", r.method, r.route), series(&r.series));
            }
        }
        let mut backend = serde_json::Map::new();
        if self.backend_enabled {
            for b in &backends {
                backend.insert(
                    format!("{} [{}] -> {}{}", b.route, b.index, b.host, b.url_pattern),
                    series(&b.series),
                );
            }
        }
        json!({
            "router": router,
            "backend": backend,
            "open_connections": OPEN_CONNECTIONS.load(Relaxed),
            "process_resident_memory_bytes": resident_bytes(),
        })
    }
}

fn family(out: &mut String, name: &str, help: &str, rows: &[(String, &Series)]) {
    let _ = writeln!(
        out,
        "# HELP {name}_requests_total Requests handled by the {help}, by status."
    );
    let _ = writeln!(out, "# TYPE {name}_requests_total counter");
    for (labels, s) in rows {
        for (status, c) in s.statuses() {
            let _ = writeln!(
                out,
                "{name}_requests_total{{{labels},http_response_status_code=\"{status}\"}} {c}"
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP {name}_duration_seconds Time to answer in the {help}."
    );
    let _ = writeln!(out, "# TYPE {name}_duration_seconds histogram");
    for (labels, s) in rows {
        let mut cumulative = 0;
        for (le, b) in BUCKETS.iter().zip(&s.buckets) {
            cumulative += b.load(Relaxed);
            let _ = writeln!(
                out,
                "{name}_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
            );
        }
        let count = s.count();
        let _ = writeln!(
            out,
            "{name}_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "{name}_duration_seconds_sum{{{labels}}} {}",
            s.micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_duration_seconds_count{{{labels}}} {count}");
    }
    let _ = writeln!(
        out,
        "# HELP {name}_response_size_bytes_total Response bytes in the {help}."
    );
    let _ = writeln!(out, "# TYPE {name}_response_size_bytes_total counter");
    for (labels, s) in rows {
        let _ = writeln!(
            out,
            "{name}_response_size_bytes_total{{{labels}}} {}",
            s.bytes.load(Relaxed)
        );
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Resident set size from `/proc/self/statm` (Linux).
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// A backend proxy that records each call in its series.
struct MeteredBackend {
    inner: SharedProxy,
    metrics: Arc<BackendMetrics>,
}

impl Proxy for MeteredBackend {
    fn call(&self, request: Request) -> ProxyFuture {
        let fut = self.inner.call(request);
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let started = std::time::Instant::now();
            let outcome = fut.await;
            metrics
                .series
                .record(outcome_status(&outcome), started.elapsed(), 0);
            outcome
        })
    }
}

/// The backend status an outcome stands for (0: no HTTP answer).
pub fn outcome_status(o: &Outcome) -> u16 {
    use crate::error::ProxyError;
    match (&o.error, &o.response) {
        (Some(ProxyError::InvalidStatus { status, .. }), _)
        | (Some(ProxyError::WithStatus { status, .. }), _) => *status,
        (Some(_), _) => 0,
        (None, Some(r)) => r.passthrough.as_ref().map_or(200, |p| p.status.as_u16()),
        (None, None) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_count_statuses_and_buckets() {
        let r = Registry::new(true, true);
        let m = r.route("GET", "/a");
        m.series.record(200, Duration::from_millis(3), 10);
        m.series.record(200, Duration::from_millis(300), 5);
        m.series.record(502, Duration::from_secs(60), 0);
        let text = r.prometheus();
        assert!(text.contains(
            "krakend_router_requests_total{http_route=\"/a\",http_request_method=\"GET\",http_response_status_code=\"200\"} 2"
        ), "{text}");
        assert!(
            text.contains("http_response_status_code=\"502\"} 1"),
            "{text}"
        );
        assert!(text.contains("le=\"0.005\"} 1\n"), "{text}");
        assert!(text.contains("le=\"0.5\"} 2\n"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 3\n"), "{text}");
        assert!(text.contains("krakend_router_response_size_bytes_total{http_route=\"/a\",http_request_method=\"GET\"} 15"), "{text}");
        let j = r.stats_json();
        assert_eq!(j["router"]["GET /a"]["count"], 3);
    }

    #[test]
    fn identical_backends_get_distinct_series() {
        let r = Registry::new(true, true);
        let noop: SharedProxy = crate::proxy::from_fn(|_| async { Outcome::default() });
        r.backend("/a", "/x", "http://h", noop.clone());
        r.backend("/a", "/x", "http://h", noop.clone());
        r.backend("/b", "/x", "http://h", noop);
        let labels: Vec<String> = r
            .backends
            .lock()
            .unwrap()
            .iter()
            .map(|b| format!("{}#{}", b.route, b.index))
            .collect();
        assert_eq!(labels, ["/a#0", "/a#1", "/b#0"]);
    }

    #[test]
    fn disabled_layers_are_not_published() {
        let r = Registry::new(false, true);
        r.route("GET", "/a").series.record(200, Duration::ZERO, 0);
        assert!(!r.prometheus().contains("krakend_router_requests_total{"));
    }
}
