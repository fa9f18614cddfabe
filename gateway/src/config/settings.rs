//! Typed, validated settings: what the rest of the gateway is built from.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use http::Method;
use serde_json::{Map, Value};

use super::namespaces::backend_http::BackendHttpOptions;
use super::namespaces::logging::LoggingOptions;
use super::namespaces::proxy::{BackendProxyOptions, EndpointProxyOptions};
use super::namespaces::router::RouterOptions;
use super::namespaces::security::{EndpointSecurityOptions, ServiceSecurityOptions};
use super::namespaces::traffic::{BackendTraffic, EndpointTraffic};
use super::pattern::{RoutePattern, UrlTemplate};

/// KrakenD's default service and endpoint timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// The whole gateway configuration.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The file this came from.
    pub file: PathBuf,
    /// `name`.
    pub name: String,
    /// `port` (default 8080).
    pub port: u16,
    /// `listen_ip` (default all interfaces).
    pub listen_ip: Option<IpAddr>,
    /// Default endpoint `timeout`.
    pub timeout: Duration,
    /// Default endpoint `cache_ttl`.
    pub cache_ttl: Duration,
    /// Default endpoint `output_encoding`.
    pub output_encoding: Option<OutputEncoding>,
    /// `read_timeout`.
    pub read_timeout: Option<Duration>,
    /// `write_timeout`.
    pub write_timeout: Option<Duration>,
    /// `idle_timeout`.
    pub idle_timeout: Option<Duration>,
    /// `read_header_timeout`.
    pub read_header_timeout: Option<Duration>,
    /// `max_header_bytes`.
    pub max_header_bytes: Option<usize>,
    /// `use_h2c`: also accept HTTP/2 without TLS (prior knowledge); HTTP/1.1 only otherwise.
    pub use_h2c: bool,
    /// Default backend hosts (`host`).
    pub host: Vec<String>,
    /// `echo_endpoint`.
    pub echo_endpoint: bool,
    /// `debug_endpoint` (also turned on by `run -d`).
    pub debug_endpoint: bool,
    /// `disable_rest`: KrakenD then accepts `{params}` anywhere in backend URLs, which
    /// Cephalo always does; kept for `check -d`.
    pub disable_rest: bool,
    /// `tls`.
    pub tls: Option<TlsConfig>,
    /// `client_tls`.
    pub client_tls: ClientTlsConfig,
    /// The backend HTTP client settings (`max_idle_connections_per_host`, `dialer_timeout`...).
    pub transport: super::transport::TransportSettings,
    /// `extra_config.router`.
    pub router: RouterOptions,
    /// `extra_config["telemetry/logging"]`.
    pub logging: Option<LoggingOptions>,
    /// Enforced security namespaces at service level.
    pub security: ServiceSecurityOptions,
    /// `telemetry/metrics` and `telemetry/opentelemetry` (Prometheus exporters).
    pub metrics: Option<super::namespaces::metrics::MetricsOptions>,
    /// `endpoints`.
    pub endpoints: Vec<EndpointConfig>,
    /// Namespaces found but not implemented: (JSON path, namespace).
    pub ignored_namespaces: Vec<(String, String)>,
    /// Keys KrakenD does not know at their place (ignored, as KrakenD does; `check --lint` lists them).
    pub unknown_keys: Vec<String>,
}

/// `client_tls`: how backends reached over HTTPS are trusted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTlsConfig {
    /// `allow_insecure_connections`: accept any backend certificate.
    pub allow_insecure_connections: bool,
    /// `ca_certs`: extra PEM CA files.
    pub ca_certs: Vec<PathBuf>,
    /// `disable_system_ca_pool`: trust only `ca_certs`.
    pub disable_system_ca_pool: bool,
}

/// `tls`: serve HTTPS with these PEM files.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// Certificate chain (PEM).
    pub public_key: PathBuf,
    /// Private key (PEM).
    pub private_key: PathBuf,
    /// `disabled`.
    pub disabled: bool,
}

/// How an endpoint renders its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputEncoding {
    /// `json`.
    Json,
    /// `json-collection`: the `collection` key rendered as a top-level array.
    JsonCollection,
    /// `negotiate`: json, xml or yaml by `Accept`.
    Negotiate,
    /// `string`: the `content` key as text.
    String,
    /// `no-op`: the backend response untouched.
    NoOp,
    /// `xml`.
    Xml,
    /// `yaml`.
    Yaml,
}

impl OutputEncoding {
    /// Parses a config value.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "json" => Self::Json,
            "json-collection" => Self::JsonCollection,
            "negotiate" => Self::Negotiate,
            "string" => Self::String,
            "no-op" => Self::NoOp,
            "xml" => Self::Xml,
            "yaml" => Self::Yaml,
            _ => return None,
        })
    }
}

/// How a backend response body is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendEncoding {
    /// `json` (default).
    Json,
    /// `safejson`: any JSON value; arrays under `collection`, scalars under `content`.
    SafeJson,
    /// `xml`.
    Xml,
    /// `rss`.
    Rss,
    /// `string`: the body under `content`.
    String,
    /// `no-op`: not decoded, passed through.
    NoOp,
}

impl BackendEncoding {
    /// Parses a config value.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "" | "json" => Self::Json,
            "safejson" => Self::SafeJson,
            "xml" => Self::Xml,
            "rss" => Self::Rss,
            "string" => Self::String,
            "no-op" => Self::NoOp,
            _ => return None,
        })
    }
}

/// One `endpoints[]` entry.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// The path as written (`/users/{id}`).
    pub endpoint: String,
    /// The parsed path.
    pub pattern: RoutePattern,
    /// `method` (default GET).
    pub method: Method,
    /// `timeout`.
    pub timeout: Duration,
    /// `cache_ttl` (zero: no `Cache-Control`).
    pub cache_ttl: Duration,
    /// `concurrent_calls` (at least 1).
    pub concurrent_calls: usize,
    /// `input_query_strings`.
    pub input_query_strings: Vec<String>,
    /// `input_headers` (`*` allowed).
    pub input_headers: Vec<String>,
    /// `output_encoding` (resolved with the service default and KrakenD's fallbacks).
    pub output_encoding: OutputEncoding,
    /// `backend`.
    pub backends: Vec<BackendConfig>,
    /// `extra_config.proxy`.
    pub proxy: EndpointProxyOptions,
    /// Enforced security namespaces at endpoint level.
    pub security: EndpointSecurityOptions,
    /// Traffic-control and validation namespaces (json-schema, CEL, rate limits).
    pub traffic: EndpointTraffic,
}

/// One `backend[]` entry.
#[derive(Debug, Clone)]
pub struct BackendConfig {
    /// `url_pattern` as written, used in error messages as KrakenD does.
    pub url_pattern_raw: String,
    /// The parsed `url_pattern`.
    pub url_pattern: UrlTemplate,
    /// `host` (normalised: scheme present, no trailing slash).
    pub hosts: Vec<String>,
    /// `method` (default: the endpoint's).
    pub method: Method,
    /// `encoding`.
    pub encoding: BackendEncoding,
    /// `group`.
    pub group: Option<String>,
    /// `target`.
    pub target: Option<String>,
    /// `allow`.
    pub allow: Vec<String>,
    /// `deny`.
    pub deny: Vec<String>,
    /// `mapping`.
    pub mapping: Vec<(String, String)>,
    /// `is_collection`.
    pub is_collection: bool,
    /// `input_headers` at backend level (further restricts the endpoint's).
    pub input_headers: Option<Vec<String>>,
    /// `input_query_strings` at backend level.
    pub input_query_strings: Option<Vec<String>>,
    /// `extra_config.proxy`.
    pub proxy: BackendProxyOptions,
    /// `extra_config["backend/http"]`.
    pub http: BackendHttpOptions,
    /// Traffic-control and validation namespaces (CEL, rate limit, breaker, cache, martian).
    pub traffic: BackendTraffic,
}

/// A raw JSON object, as found in `extra_config` and `static.data`.
pub type JsonObject = Map<String, Value>;
