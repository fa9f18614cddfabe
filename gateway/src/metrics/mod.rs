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

/// A count, a duration histogram and the smallest/largest duration of one stream.
#[derive(Debug)]
pub struct Timings {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    micros: AtomicU64,
    min_micros: AtomicU64,
    max_micros: AtomicU64,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            buckets: Default::default(),
            count: AtomicU64::new(0),
            micros: AtomicU64::new(0),
            min_micros: AtomicU64::new(u64::MAX),
            max_micros: AtomicU64::new(0),
        }
    }
}

impl Timings {
    /// Records one duration.
    pub fn record(&self, elapsed: Duration) {
        let micros = elapsed.as_micros().min(u128::from(u64::MAX)) as u64;
        self.count.fetch_add(1, Relaxed);
        self.micros.fetch_add(micros, Relaxed);
        self.min_micros.fetch_min(micros, Relaxed);
        self.max_micros.fetch_max(micros, Relaxed);
        let secs = elapsed.as_secs_f64();
        if let Some(b) = BUCKETS.iter().position(|le| secs <= *le) {
            self.buckets[b].fetch_add(1, Relaxed);
        }
    }

    /// Durations recorded.
    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    /// go-metrics' histogram summary (`count`, `min`, `max`, `mean`), in nanoseconds as
    /// KrakenD records durations.
    fn summary_nanos(&self) -> [(&'static str, serde_json::Value); 4] {
        let count = self.count();
        let min = if count == 0 {
            0
        } else {
            self.min_micros.load(Relaxed)
        };
        let sum = self.micros.load(Relaxed) as f64 * 1e3;
        [
            ("count", json!(count)),
            ("min", json!(min * 1000)),
            ("max", json!(self.max_micros.load(Relaxed) * 1000)),
            (
                "mean",
                json!(if count == 0 { 0.0 } else { sum / count as f64 }),
            ),
        ]
    }
}

/// Counts per status code, durations, and response sizes.
#[derive(Debug)]
pub struct Series {
    statuses: Box<[AtomicU64]>,
    timings: Timings,
    bytes: AtomicU64,
    min_bytes: AtomicU64,
    max_bytes: AtomicU64,
}

impl Default for Series {
    fn default() -> Self {
        Self {
            statuses: (0..600).map(|_| AtomicU64::new(0)).collect(),
            timings: Timings::default(),
            bytes: AtomicU64::new(0),
            min_bytes: AtomicU64::new(u64::MAX),
            max_bytes: AtomicU64::new(0),
        }
    }
}

impl Series {
    /// Records one request (`status` 0 when there was none, e.g. a transport error).
    pub fn record(&self, status: u16, elapsed: Duration, bytes: u64) {
        let i = usize::from(status).min(self.statuses.len() - 1);
        self.statuses[i].fetch_add(1, Relaxed);
        self.timings.record(elapsed);
        self.add_bytes(bytes);
    }

    /// Adds a response size (for layers that learn it apart from the status).
    pub fn add_bytes(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Relaxed);
        self.min_bytes.fetch_min(bytes, Relaxed);
        self.max_bytes.fetch_max(bytes, Relaxed);
    }

    /// Requests recorded.
    pub fn count(&self) -> u64 {
        self.timings.count()
    }

    fn statuses(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.statuses
            .iter()
            .enumerate()
            .map(|(s, c)| (s, c.load(Relaxed)))
            .filter(|(_, c)| *c > 0)
    }

    /// go-metrics' summary of the sizes (`count`, `min`, `max`, `mean`).
    fn size_summary(&self) -> [(&'static str, serde_json::Value); 4] {
        let count = self.count();
        let sum = self.bytes.load(Relaxed);
        let min = if count == 0 {
            0
        } else {
            self.min_bytes.load(Relaxed).min(sum)
        };
        [
            ("count", json!(count)),
            ("min", json!(min)),
            ("max", json!(self.max_bytes.load(Relaxed))),
            (
                "mean",
                json!(if count == 0 {
                    0.0
                } else {
                    sum as f64 / count as f64
                }),
            ),
        ]
    }
}

/// KrakenD's proxy-middleware series of one layer instance (`layer` `pipe` or `backend`):
/// requests and latency split by whether the response was complete and whether it erred.
#[derive(Debug)]
pub struct LayerMetrics {
    /// `layer` label: `pipe` (the endpoint's whole proxy stack) or `backend`.
    pub layer: &'static str,
    /// `name` label: the endpoint pattern (proxy) or the backend's `url_pattern`.
    pub name: String,
    /// `http_route` of the endpoint it belongs to.
    pub route: String,
    /// Indexed by `complete as usize * 2 + error as usize`.
    outcomes: [Timings; 4],
}

impl LayerMetrics {
    fn new(layer: &'static str, name: &str, route: &str) -> Self {
        Self {
            layer,
            name: name.into(),
            route: route.into(),
            outcomes: Default::default(),
        }
    }

    /// Records one call.
    pub fn record(&self, complete: bool, error: bool, elapsed: Duration) {
        self.outcomes[usize::from(complete) * 2 + usize::from(error)].record(elapsed);
    }

    fn each(&self) -> impl Iterator<Item = (bool, bool, &Timings)> {
        self.outcomes
            .iter()
            .enumerate()
            .map(|(i, t)| (i >= 2, i % 2 == 1, t))
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
    /// The registry's handler entry/exit counters (KrakenD's `connected`/`disconnected`).
    pub handlers: Arc<HandlerCounters>,
}

/// Requests that entered and left the router's handlers since the last collection, and
/// what the collections made of them (KrakenD's `router.connected*` series).
#[derive(Debug, Default)]
pub struct HandlerCounters {
    /// Handler entries since the last collection.
    pub connected: AtomicU64,
    /// Handler exits since the last collection.
    pub disconnected: AtomicU64,
    connected_total: AtomicU64,
    disconnected_total: AtomicU64,
    connected_gauge: AtomicU64,
    disconnected_gauge: AtomicU64,
}

impl HandlerCounters {
    /// One collection (every `collection_time`): the counts since the last one become the
    /// gauges and are added to the totals.
    pub fn aggregate(&self) {
        let con = self.connected.swap(0, Relaxed);
        self.connected_gauge.store(con, Relaxed);
        self.connected_total.fetch_add(con, Relaxed);
        let dis = self.disconnected.swap(0, Relaxed);
        self.disconnected_gauge.store(dis, Relaxed);
        self.disconnected_total.fetch_add(dis, Relaxed);
    }
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
    /// KrakenD's `layer=backend` proxy-middleware series.
    pub layer: LayerMetrics,
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

/// The registered handles of each layer: router, pipe, backend.
type Handles = (
    Vec<Arc<RouteMetrics>>,
    Vec<Arc<LayerMetrics>>,
    Vec<Arc<BackendMetrics>>,
);

/// Every series of the gateway, registered at start-up.
#[derive(Debug, Default)]
pub struct Registry {
    routes: std::sync::Mutex<Vec<Arc<RouteMetrics>>>,
    proxies: std::sync::Mutex<Vec<Arc<LayerMetrics>>>,
    backends: std::sync::Mutex<Vec<Arc<BackendMetrics>>>,
    handlers: Arc<HandlerCounters>,
    /// Router layer measured.
    pub router_enabled: bool,
    /// Proxy layer (each endpoint's whole proxy stack) measured.
    pub proxy_enabled: bool,
    /// Backend layer measured.
    pub backend_enabled: bool,
}

/// Which layers a [`Registry`] measures.
#[derive(Debug, Clone, Copy)]
pub struct Layers {
    /// Router (endpoint handler) layer.
    pub router: bool,
    /// Proxy layer.
    pub proxy: bool,
    /// Backend layer.
    pub backend: bool,
}

impl Registry {
    /// A registry measuring the given layers.
    pub fn new(layers: Layers) -> Self {
        Self {
            router_enabled: layers.router,
            proxy_enabled: layers.proxy,
            backend_enabled: layers.backend,
            ..Self::default()
        }
    }

    /// An empty registry measuring the same layers and sharing the handler counters, for a
    /// rebuilt gateway (`run --watch`); [`Registry::adopt`] publishes it.
    pub fn fresh(&self) -> Self {
        Self {
            handlers: self.handlers.clone(),
            router_enabled: self.router_enabled,
            proxy_enabled: self.proxy_enabled,
            backend_enabled: self.backend_enabled,
            ..Self::default()
        }
    }

    /// Publishes `other`'s series instead of this registry's (the old gateway's handles keep
    /// counting into series no longer scraped).
    pub fn adopt(&self, other: Registry) {
        fn replace<T>(slot: &std::sync::Mutex<Vec<T>>, with: std::sync::Mutex<Vec<T>>) {
            *slot.lock().unwrap_or_else(|e| e.into_inner()) =
                with.into_inner().unwrap_or_else(|e| e.into_inner());
        }
        replace(&self.routes, other.routes);
        replace(&self.proxies, other.proxies);
        replace(&self.backends, other.backends);
    }

    /// The router's handler counters (aggregated every `collection_time`).
    pub fn handlers(&self) -> &HandlerCounters {
        &self.handlers
    }

    /// Registers an endpoint's router series (start-up only).
    pub fn route(&self, method: &str, route: &str) -> Arc<RouteMetrics> {
        let m = Arc::new(RouteMetrics {
            route: route.into(),
            method: method.into(),
            series: Series::default(),
            handlers: self.handlers.clone(),
        });
        self.routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(m.clone());
        m
    }

    /// Registers a backend's series (start-up only); [`metered_backend`] records into them.
    pub fn backend(&self, route: &str, url_pattern: &str, host: &str) -> Arc<BackendMetrics> {
        let mut all = self.backends.lock().unwrap_or_else(|e| e.into_inner());
        let index = all.iter().filter(|b| b.route == route).count();
        let m = Arc::new(BackendMetrics {
            route: route.into(),
            url_pattern: url_pattern.into(),
            host: host.into(),
            index,
            series: Series::default(),
            layer: LayerMetrics::new("backend", url_pattern, route),
        });
        all.push(m.clone());
        m
    }

    /// Wraps an endpoint's whole proxy stack with its `layer=pipe` series (start-up only), as
    /// KrakenD CE's `metricCollector.ProxyFactory("pipe", ...)`.
    pub fn proxy(&self, route: &str, inner: SharedProxy) -> SharedProxy {
        let m = Arc::new(LayerMetrics::new("pipe", route, route));
        self.proxies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(m.clone());
        Arc::new(Metered { inner, metrics: m })
    }

    fn snapshot(&self) -> Handles {
        let routes = self
            .routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let proxies = self
            .proxies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let backends = self
            .backends
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        (routes, proxies, backends)
    }

    /// Prometheus text exposition.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        let (routes, proxies, backends) = self.snapshot();
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
        let mut layers: Vec<&LayerMetrics> = Vec::new();
        if self.proxy_enabled {
            layers.extend(proxies.iter().map(|p| p.as_ref()));
        }
        if self.backend_enabled {
            layers.extend(backends.iter().map(|b| &b.layer));
        }
        proxy_family(&mut out, &layers);
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

    /// The legacy `/__stats/` JSON document: our per-layer sections (`router`, `proxy`,
    /// `backend`) plus KrakenD's flat go-metrics keys (`krakend.router.response.<endpoint>.
    /// status.<code>.count`, `krakend.proxy.requests.layer.<layer>.name.<name>.complete.
    /// <bool>.error.<bool>`, histogram summaries as `<key>.count|min|max|mean`, durations in
    /// nanoseconds, and the `krakend.router.connected*` series of the last collection).
    pub fn stats_json(&self) -> serde_json::Value {
        let (routes, proxies, backends) = self.snapshot();
        let series = |s: &Series| {
            let statuses: serde_json::Map<String, serde_json::Value> = s
                .statuses()
                .map(|(k, c)| (k.to_string(), json!(c)))
                .collect();
            json!({
                "count": s.count(),
                "duration_micros_total": s.timings.micros.load(Relaxed),
                "response_bytes_total": s.bytes.load(Relaxed),
                "status": statuses,
            })
        };
        let layer = |l: &LayerMetrics| {
            let mut m = serde_json::Map::new();
            for (complete, error, t) in l.each() {
                m.insert(
                    format!("complete.{complete}.error.{error}"),
                    json!(t.count()),
                );
            }
            serde_json::Value::Object(m)
        };
        let mut flat = serde_json::Map::new();
        let mut router = serde_json::Map::new();
        if self.router_enabled {
            for r in &routes {
                router.insert(format!("{} {}", r.method, r.route), series(&r.series));
                let base = format!("krakend.router.response.{}", r.route);
                for (status, c) in r.series.statuses() {
                    flat.insert(format!("{base}.status.{status}.count"), json!(c));
                }
                for (k, v) in r.series.size_summary() {
                    flat.insert(format!("{base}.size.{k}"), v);
                }
                for (k, v) in r.series.timings.summary_nanos() {
                    flat.insert(format!("{base}.time.{k}"), v);
                }
            }
            let h = &self.handlers;
            for (k, v) in [
                ("connected", &h.connected),
                ("disconnected", &h.disconnected),
                ("connected-total", &h.connected_total),
                ("disconnected-total", &h.disconnected_total),
                ("connected-gauge", &h.connected_gauge),
                ("disconnected-gauge", &h.disconnected_gauge),
            ] {
                flat.insert(format!("krakend.router.{k}"), json!(v.load(Relaxed)));
            }
        }
        let mut layers: Vec<&LayerMetrics> = Vec::new();
        let mut proxy = serde_json::Map::new();
        if self.proxy_enabled {
            for p in &proxies {
                proxy.insert(p.name.clone(), layer(p));
                layers.push(p);
            }
        }
        let mut backend = serde_json::Map::new();
        if self.backend_enabled {
            for b in &backends {
                let mut entry = series(&b.series);
                entry["layer"] = layer(&b.layer);
                backend.insert(
                    format!("{} [{}] -> {}{}", b.route, b.index, b.host, b.url_pattern),
                    entry,
                );
                layers.push(&b.layer);
            }
        }
        for l in layers {
            for (complete, error, t) in l.each() {
                let labels = format!(
                    "layer.{}.name.{}.complete.{complete}.error.{error}",
                    l.layer, l.name
                );
                // Identical backends of several endpoints share KrakenD's key: add up.
                let requests = format!("krakend.proxy.requests.{labels}");
                let before = flat.get(&requests).and_then(|v| v.as_u64()).unwrap_or(0);
                flat.insert(requests, json!(before + t.count()));
                if t.count() > 0 {
                    for (k, v) in t.summary_nanos() {
                        flat.insert(format!("krakend.proxy.latency.{labels}.{k}"), v);
                    }
                }
            }
        }
        let mut doc = json!({
            "router": router,
            "proxy": proxy,
            "backend": backend,
            "open_connections": OPEN_CONNECTIONS.load(Relaxed),
            "process_resident_memory_bytes": resident_bytes(),
        });
        if let Some(m) = doc.as_object_mut() {
            m.extend(flat);
        }
        doc
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
    let timed: Vec<(String, &Timings)> =
        rows.iter().map(|(l, s)| (l.clone(), &s.timings)).collect();
    histogram(out, name, &format!("Time to answer in the {help}."), &timed);
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

/// KrakenD's proxy-middleware series: `krakend_proxy_requests_total` and
/// `krakend_proxy_duration_seconds` by `layer`, `name`, `complete` and `error`.
fn proxy_family(out: &mut String, layers: &[&LayerMetrics]) {
    if layers.is_empty() {
        return;
    }
    let mut rows: Vec<(String, &Timings)> = Vec::new();
    for l in layers {
        for (complete, error, t) in l.each() {
            rows.push((
                format!(
                    "http_route=\"{}\",layer=\"{}\",name=\"{}\",complete=\"{complete}\",error=\"{error}\"",
                    escape(&l.route),
                    l.layer,
                    escape(&l.name)
                ),
                t,
            ));
        }
    }
    let _ = writeln!(
        out,
        "# HELP krakend_proxy_requests_total Calls through the proxy and backend layers, by completeness and error."
    );
    let _ = writeln!(out, "# TYPE krakend_proxy_requests_total counter");
    for (labels, t) in &rows {
        let _ = writeln!(
            out,
            "krakend_proxy_requests_total{{{labels}}} {}",
            t.count()
        );
    }
    histogram(
        out,
        "krakend_proxy",
        "Time spent in the proxy and backend layers.",
        &rows,
    );
}

fn histogram(out: &mut String, name: &str, help: &str, rows: &[(String, &Timings)]) {
    let _ = writeln!(out, "# HELP {name}_duration_seconds {help}");
    let _ = writeln!(out, "# TYPE {name}_duration_seconds histogram");
    for (labels, t) in rows {
        let mut cumulative = 0;
        for (le, b) in BUCKETS.iter().zip(&t.buckets) {
            cumulative += b.load(Relaxed);
            let _ = writeln!(
                out,
                "{name}_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
            );
        }
        let count = t.count();
        let _ = writeln!(
            out,
            "{name}_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "{name}_duration_seconds_sum{{{labels}}} {}",
            t.micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_duration_seconds_count{{{labels}}} {count}");
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

/// Wraps a backend proxy so each call is recorded in `metrics` (status, latency and the
/// `layer=backend` outcome; the response size is added by the backend itself).
pub fn metered_backend(metrics: Arc<BackendMetrics>, inner: SharedProxy) -> SharedProxy {
    Arc::new(Metered { inner, metrics })
}

/// Series that record one proxy call from its outcome and duration.
trait RecordCall: Send + Sync + 'static {
    fn record_call(&self, outcome: &Outcome, elapsed: Duration);
}

impl RecordCall for BackendMetrics {
    fn record_call(&self, outcome: &Outcome, elapsed: Duration) {
        self.series.record(outcome_status(outcome), elapsed, 0);
        self.layer.record_call(outcome, elapsed);
    }
}

impl RecordCall for LayerMetrics {
    fn record_call(&self, outcome: &Outcome, elapsed: Duration) {
        let (complete, error) = completeness(outcome);
        self.record(complete, error, elapsed);
    }
}

/// A proxy whose every call is recorded in `metrics`.
struct Metered<M> {
    inner: SharedProxy,
    metrics: Arc<M>,
}

impl<M: RecordCall> Proxy for Metered<M> {
    fn call(&self, request: Request) -> ProxyFuture {
        let fut = self.inner.call(request);
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let started = std::time::Instant::now();
            let outcome = fut.await;
            metrics.record_call(&outcome, started.elapsed());
            outcome
        })
    }
}

/// KrakenD's labels: `complete` = a response that says it is complete, `error` = an error.
fn completeness(o: &Outcome) -> (bool, bool) {
    (
        o.response.as_ref().is_some_and(|r| r.is_complete),
        o.error.is_some(),
    )
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

    const ALL: Layers = Layers {
        router: true,
        proxy: true,
        backend: true,
    };

    #[test]
    fn series_count_statuses_and_buckets() {
        let r = Registry::new(ALL);
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
        let r = Registry::new(ALL);
        r.backend("/a", "/x", "http://h");
        r.backend("/a", "/x", "http://h");
        r.backend("/b", "/x", "http://h");
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
    fn collections_turn_handler_counts_into_gauges_and_totals() {
        let h = HandlerCounters::default();
        h.connected.fetch_add(5, Relaxed);
        h.disconnected.fetch_add(4, Relaxed);
        h.aggregate();
        assert_eq!(h.connected.load(Relaxed), 0);
        assert_eq!(h.connected_gauge.load(Relaxed), 5);
        assert_eq!(h.disconnected_gauge.load(Relaxed), 4);
        h.connected.fetch_add(2, Relaxed);
        h.aggregate();
        assert_eq!(h.connected_gauge.load(Relaxed), 2);
        assert_eq!(h.connected_total.load(Relaxed), 7);
    }

    #[test]
    fn layer_series_split_by_completeness_and_error() {
        let r = Registry::new(ALL);
        let b = r.backend("/a", "/x", "http://h");
        b.layer.record(true, false, Duration::from_millis(2));
        b.layer.record(false, true, Duration::from_millis(4));
        b.series.add_bytes(10);
        b.series.add_bytes(30);
        let text = r.prometheus();
        assert!(text.contains("krakend_proxy_requests_total{http_route=\"/a\",layer=\"backend\",name=\"/x\",complete=\"true\",error=\"false\"} 1"), "{text}");
        assert!(
            text.contains("complete=\"false\",error=\"true\"} 1"),
            "{text}"
        );
        let j = r.stats_json();
        assert_eq!(
            j["krakend.proxy.requests.layer.backend.name./x.complete.false.error.true"],
            1
        );
        assert_eq!(
            j["krakend.proxy.latency.layer.backend.name./x.complete.false.error.true.max"],
            4_000_000
        );
        assert_eq!(
            j["krakend.proxy.requests.layer.backend.name./x.complete.true.error.true"],
            0
        );
    }

    #[test]
    fn disabled_layers_are_not_published() {
        let r = Registry::new(Layers {
            router: false,
            ..ALL
        });
        r.route("GET", "/a").series.record(200, Duration::ZERO, 0);
        assert!(!r.prometheus().contains("krakend_router_requests_total{"));
    }
}
