//! KrakenD v3 configuration: file (JSON, YAML or TOML) -> tree -> typed, validated settings.
//!
//! The whole tree is read even after a problem is found, so that every problem is reported
//! at once, each with its JSON path.

pub mod duration;
pub mod env_overrides;
pub mod error;
pub mod namespaces;
pub mod pattern;
pub mod settings;
pub mod transport;
pub mod walk;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use http::Method;
use serde_json::{Map, Value};

pub use error::{ConfigError, Problem};
use namespaces::{backend_http, logging, metrics, proxy, router, traffic};
use pattern::{RoutePattern, UrlTemplate};
pub use settings::*;
use walk::{index, join, Walker};

/// Namespaces this build implements, per level; any other is ignored with a debug log.
const SERVICE_NAMESPACES: &[&str] = &[
    router::NAMESPACE,
    logging::NAMESPACE,
    metrics::LEGACY_NAMESPACE,
    metrics::OTEL_NAMESPACE,
];
const ENDPOINT_NAMESPACES: &[&str] = &[proxy::NAMESPACE];
const BACKEND_NAMESPACES: &[&str] = &[proxy::NAMESPACE, backend_http::NAMESPACE];

/// Service-level keys of KrakenD v3 (implemented or not).
const SERVICE_KEYS: &[&str] = &[
    "version",
    "name",
    "port",
    "listen_ip",
    "timeout",
    "cache_ttl",
    "output_encoding",
    "read_timeout",
    "write_timeout",
    "idle_timeout",
    "read_header_timeout",
    "max_header_bytes",
    "host",
    "echo_endpoint",
    "debug_endpoint",
    "disable_rest",
    "tls",
    "extra_config",
    "endpoints",
    "plugin",
    "async_agent",
    "sequential_start",
    "client_tls",
    "dns_cache_ttl",
    "max_idle_connections",
    "max_idle_connections_per_host",
    "idle_connection_timeout",
    "dialer_timeout",
    "dialer_fallback_delay",
    "dialer_keep_alive",
    "disable_keep_alives",
    "disable_compression",
    "expect_continue_timeout",
    "response_header_timeout",
    "allow_insecure_connections",
    "use_h2c",
];
/// Endpoint keys.
const ENDPOINT_KEYS: &[&str] = &[
    "endpoint",
    "method",
    "backend",
    "concurrent_calls",
    "timeout",
    "cache_ttl",
    "input_query_strings",
    "input_headers",
    "output_encoding",
    "extra_config",
];
/// Backend keys.
const BACKEND_KEYS: &[&str] = &[
    "host",
    "url_pattern",
    "method",
    "encoding",
    "group",
    "target",
    "allow",
    "deny",
    "mapping",
    "is_collection",
    "extra_config",
    "sd",
    "sd_scheme",
    "disable_host_sanitize",
    "input_headers",
    "input_query_strings",
    "timeout",
    "concurrent_calls",
];

/// The config file formats, chosen by extension as KrakenD does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.json` and anything unknown.
    Json,
    /// `.yaml` / `.yml`.
    Yaml,
    /// `.toml`.
    Toml,
}

impl Format {
    /// The format for a file name.
    pub fn from_path(path: &Path) -> Self {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("yaml" | "yml") => Self::Yaml,
            Some("toml") => Self::Toml,
            _ => Self::Json,
        }
    }
}

/// Reads and validates a config file.
///
/// With `FC_ENABLE` set, the file is first rendered as a Flexible Configuration template.
pub fn load(path: &Path) -> Result<ServiceConfig, ConfigError> {
    let tree = load_tree(path)?;
    from_tree(&tree, path)
}

/// Reads a config file into its JSON tree: Flexible Configuration rendering (with
/// `FC_ENABLE`) and `KRAKEND_*` overrides applied, nothing validated yet.
pub fn load_tree(path: &Path) -> Result<Value, ConfigError> {
    let text = match crate::fc::FcSettings::from_env() {
        Some(fc) => fc.render(path)?,
        None => std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.to_path_buf(),
            source,
        })?,
    };
    let mut tree = parse_tree(&text, Format::from_path(path), path)?;
    env_overrides::apply_from_env(&mut tree);
    Ok(tree)
}

/// Parses config text in the given format; `file` is only used in messages.
pub fn parse_str(text: &str, format: Format, file: &Path) -> Result<ServiceConfig, ConfigError> {
    let tree = parse_tree(text, format, file)?;
    from_tree(&tree, file)
}

/// Parses text into a JSON tree, with line/column on syntax errors.
pub fn parse_tree(text: &str, format: Format, file: &Path) -> Result<Value, ConfigError> {
    let syntax = |line: usize, column: usize, message: String| ConfigError::Syntax {
        file: file.to_path_buf(),
        line,
        column,
        message,
    };
    match format {
        Format::Json => serde_json::from_str(text).map_err(|e| {
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            syntax(e.line(), e.column(), msg)
        }),
        Format::Yaml => serde_yaml::from_str::<Value>(text).map_err(|e| {
            let (l, c) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((0, 0));
            syntax(l, c, e.to_string())
        }),
        Format::Toml => toml::from_str::<Value>(text).map_err(|e| {
            let (l, c) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
            syntax(l, c, e.message().to_string())
        }),
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Validates a parsed tree into settings.
pub fn from_tree(tree: &Value, file: &Path) -> Result<ServiceConfig, ConfigError> {
    let mut w = Walker::default();
    let config = read_service(tree, file, &mut w);
    match config {
        Some(c) if w.problems.is_empty() => Ok(c),
        _ => Err(ConfigError::Invalid {
            file: file.to_path_buf(),
            problems: w.problems,
        }),
    }
}

fn read_service(tree: &Value, file: &Path, w: &mut Walker) -> Option<ServiceConfig> {
    let root = w.expect_object(tree, "")?;
    w.note_unknown_keys(root, "", SERVICE_KEYS);
    match root.get("version") {
        None => w.fail("version", "is required; Cephalo reads KrakenD configuration format version 3"),
        Some(v) if v.as_u64() == Some(3) => {}
        Some(v) => w.fail(
            "version",
            format!("unsupported version {v}: only configuration format version 3 (KrakenD 2.x) is supported; migrate older files with KrakenD's migration guide"),
        ),
    }
    let port = w.unsigned(root, "port", "", 65535).unwrap_or(8080) as u16;
    let listen_ip = w.string(root, "listen_ip", "").and_then(|s| {
        if s.is_empty() {
            return None;
        }
        match s.parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                w.fail("listen_ip", format!("{s:?} is not an IP address"));
                None
            }
        }
    });
    let timeout = w.duration(root, "timeout", "").unwrap_or(DEFAULT_TIMEOUT);
    let cache_ttl = w.duration(root, "cache_ttl", "").unwrap_or_default();
    let output_encoding = w
        .string(root, "output_encoding", "")
        .and_then(|s| output_encoding(&s, "output_encoding", w));
    let host = read_hosts(root, "", w);
    let tls = w.object(root, "tls", "").and_then(|t| read_tls(t, w));
    let client_tls = w
        .object(root, "client_tls", "")
        .map(|t| ClientTlsConfig {
            allow_insecure_connections: w
                .boolean(t, "allow_insecure_connections", "client_tls")
                .unwrap_or(false),
            ca_certs: w
                .strings(t, "ca_certs", "client_tls")
                .unwrap_or_default()
                .into_iter()
                .map(PathBuf::from)
                .collect(),
            disable_system_ca_pool: w
                .boolean(t, "disable_system_ca_pool", "client_tls")
                .unwrap_or(false),
        })
        .unwrap_or_default();
    let mut client_tls = client_tls;
    // The deprecated root-level flag still works in KrakenD (moved into `client_tls`).
    if w.boolean(root, "allow_insecure_connections", "")
        .unwrap_or(false)
    {
        client_tls.allow_insecure_connections = true;
    }
    let backend_transport = transport::parse(root, w);

    let mut router_opts = router::RouterOptions::default();
    let mut logging_opts = None;
    let mut security_opts = namespaces::security::ServiceSecurityOptions::default();
    let mut metrics_opts: Option<metrics::MetricsOptions> = None;
    if let Some(extra) = w.object(root, "extra_config", "") {
        for (ns, v) in extra {
            let p = join("extra_config", ns);
            match ns.as_str() {
                router::NAMESPACE => {
                    if let Some(o) = w.expect_object(v, &p) {
                        router_opts = router::parse(o, &p, w);
                    }
                }
                logging::NAMESPACE => {
                    if let Some(o) = w.expect_object(v, &p) {
                        logging_opts = Some(logging::parse(o, &p, w));
                    }
                }
                metrics::LEGACY_NAMESPACE => {
                    if let Some(o) = w.expect_object(v, &p) {
                        metrics::parse_legacy(o, &p, w, metrics_opts.get_or_insert_default());
                    }
                }
                metrics::OTEL_NAMESPACE => {
                    if let Some(o) = w.expect_object(v, &p) {
                        metrics::parse_otel(o, &p, w, metrics_opts.get_or_insert_default());
                    }
                }
                _ if security_opts.read(ns, v, &p, w) => {}
                _ => w.ignored.push((p, ns.clone())),
            }
        }
        debug_assert!(SERVICE_NAMESPACES.contains(&router::NAMESPACE));
    }

    let defaults = EndpointDefaults {
        timeout,
        cache_ttl,
        output_encoding,
        host: &host,
    };
    let mut endpoints = Vec::new();
    match root.get("endpoints") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            let mut seen: HashMap<(String, Method), usize> = HashMap::new();
            for (i, item) in items.iter().enumerate() {
                let p = index("endpoints", i);
                if let Some(e) = read_endpoint(item, &p, &defaults, w) {
                    let key = (e.endpoint.clone(), e.method.clone());
                    if let Some(first) = seen.get(&key) {
                        w.fail(
                            join(&p, "endpoint"),
                            format!(
                                "duplicate endpoint: {} {} is already defined at endpoints[{first}]",
                                e.method, e.endpoint
                            ),
                        );
                    } else {
                        seen.insert(key, i);
                    }
                    endpoints.push(e);
                }
            }
        }
        Some(other) => w.fail(
            "endpoints",
            format!("must be an array, found {}", walk::type_name(other)),
        ),
    }

    Some(ServiceConfig {
        file: file.to_path_buf(),
        name: w.string(root, "name", "").unwrap_or_default(),
        port,
        listen_ip,
        timeout,
        cache_ttl,
        output_encoding,
        read_timeout: w.duration(root, "read_timeout", ""),
        write_timeout: w.duration(root, "write_timeout", ""),
        idle_timeout: w.duration(root, "idle_timeout", ""),
        read_header_timeout: w.duration(root, "read_header_timeout", ""),
        max_header_bytes: w
            .unsigned(root, "max_header_bytes", "", u32::MAX as u64)
            .map(|n| n as usize),
        use_h2c: w.boolean(root, "use_h2c", "").unwrap_or(false),
        host,
        echo_endpoint: w.boolean(root, "echo_endpoint", "").unwrap_or(false),
        debug_endpoint: w.boolean(root, "debug_endpoint", "").unwrap_or(false),
        disable_rest: w.boolean(root, "disable_rest", "").unwrap_or(false),
        tls,
        client_tls,
        transport: backend_transport,
        router: router_opts,
        logging: logging_opts,
        security: security_opts,
        metrics: metrics_opts,
        endpoints,
        ignored_namespaces: std::mem::take(&mut w.ignored),
        unknown_keys: std::mem::take(&mut w.unknown_keys),
    })
}

struct EndpointDefaults<'a> {
    timeout: std::time::Duration,
    cache_ttl: std::time::Duration,
    output_encoding: Option<OutputEncoding>,
    host: &'a [String],
}

fn output_encoding(s: &str, path: &str, w: &mut Walker) -> Option<OutputEncoding> {
    if s.is_empty() {
        return None;
    }
    let e = OutputEncoding::parse(s);
    if e.is_none() {
        w.fail(
            path,
            format!("unknown output encoding {s:?} (json, json-collection, negotiate, string, no-op, xml, yaml)"),
        );
    }
    e
}

fn read_tls(t: &Map<String, Value>, w: &mut Walker) -> Option<TlsConfig> {
    let disabled = w.boolean(t, "disabled", "tls").unwrap_or(false);
    let public_key = w.string(t, "public_key", "tls");
    let private_key = w.string(t, "private_key", "tls");
    if disabled {
        return None;
    }
    match (public_key, private_key) {
        (Some(public), Some(private)) => Some(TlsConfig {
            public_key: PathBuf::from(public),
            private_key: PathBuf::from(private),
            disabled,
        }),
        _ => {
            w.fail(
                "tls",
                "needs both public_key and private_key (or disabled: true)",
            );
            None
        }
    }
}

fn read_hosts(obj: &Map<String, Value>, path: &str, w: &mut Walker) -> Vec<String> {
    let sanitize = !w
        .boolean(obj, "disable_host_sanitize", path)
        .unwrap_or(false);
    let raw = w.strings(obj, "host", path).unwrap_or_default();
    let mut out = Vec::with_capacity(raw.len());
    for (i, h) in raw.into_iter().enumerate() {
        let p = index(&join(path, "host"), i);
        match normalize_host(&h, sanitize) {
            Ok(h) => out.push(h),
            Err(e) => w.fail(p, e),
        }
    }
    out
}

/// Adds `http://` when the scheme is missing and drops trailing slashes, as KrakenD does.
pub fn normalize_host(host: &str, sanitize: bool) -> Result<String, String> {
    let host = host.trim();
    if host.is_empty() {
        return Err("empty host".into());
    }
    let with_scheme = if host.contains("://") || !sanitize {
        host.to_string()
    } else {
        format!("http://{host}")
    };
    let trimmed = with_scheme.trim_end_matches('/').to_string();
    let uri: http::Uri = trimmed
        .parse()
        .map_err(|e| format!("{host:?} is not a valid host URL: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => {
            return Err(format!(
                "unsupported scheme {other:?} in host {host:?} (http, https)"
            ))
        }
        None => return Err(format!("{host:?} has no scheme")),
    }
    if uri.host().is_none() {
        return Err(format!("{host:?} has no host name"));
    }
    Ok(trimmed)
}

fn read_method(obj: &Map<String, Value>, path: &str, default: Method, w: &mut Walker) -> Method {
    let Some(m) = w.string(obj, "method", path) else {
        return default;
    };
    if m.is_empty() {
        return default;
    }
    let upper = m.to_ascii_uppercase();
    match upper.as_str() {
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS" | "CONNECT" | "TRACE" => {
            Method::from_bytes(upper.as_bytes()).unwrap_or(default)
        }
        _ => {
            w.fail(
                join(path, "method"),
                format!("unsupported HTTP method {m:?}"),
            );
            default
        }
    }
}

fn read_endpoint(
    item: &Value,
    path: &str,
    d: &EndpointDefaults<'_>,
    w: &mut Walker,
) -> Option<EndpointConfig> {
    let obj = w.expect_object(item, path)?;
    w.note_unknown_keys(obj, path, ENDPOINT_KEYS);
    let endpoint = match w.string(obj, "endpoint", path) {
        Some(e) => e,
        None => {
            if !obj.contains_key("endpoint") {
                w.fail(join(path, "endpoint"), "is required");
            }
            return None;
        }
    };
    let pattern = match RoutePattern::parse(&endpoint) {
        Ok(p) => Some(p),
        Err(e) => {
            w.fail(join(path, "endpoint"), e);
            None
        }
    };
    let method = read_method(obj, path, Method::GET, w);
    let timeout = w.duration(obj, "timeout", path).unwrap_or(d.timeout);
    if timeout.is_zero() {
        w.fail(join(path, "timeout"), "must be greater than zero");
    }
    let cache_ttl = w.duration(obj, "cache_ttl", path).unwrap_or(d.cache_ttl);
    let concurrent_calls = w
        .unsigned(obj, "concurrent_calls", path, 64)
        .unwrap_or(1)
        .max(1) as usize;
    let input_query_strings = w
        .strings(obj, "input_query_strings", path)
        .unwrap_or_default();
    let input_headers = w.strings(obj, "input_headers", path).unwrap_or_default();
    for (i, h) in input_headers.iter().enumerate() {
        if h.is_empty() || h.contains([' ', ':', '\n']) {
            w.fail(
                index(&join(path, "input_headers"), i),
                format!("{h:?} is not a header name"),
            );
        }
    }
    let declared_output = w
        .string(obj, "output_encoding", path)
        .and_then(|s| output_encoding(&s, &join(path, "output_encoding"), w));

    let mut proxy_opts = proxy::EndpointProxyOptions::default();
    let mut security_opts = namespaces::security::EndpointSecurityOptions::default();
    let mut traffic_opts = traffic::EndpointTraffic::default();
    if let Some(extra) = w.object(obj, "extra_config", path) {
        let ep = join(path, "extra_config");
        for (ns, v) in extra {
            let p = join(&ep, ns);
            if ENDPOINT_NAMESPACES.contains(&ns.as_str()) {
                if let Some(o) = w.expect_object(v, &p) {
                    proxy_opts = proxy::parse_endpoint(o, &p, w);
                }
            } else {
                // Each namespace family takes the keys it knows; the rest are ignored.
                let taken = security_opts.read(ns, v, &p, w)
                    || traffic::parse_endpoint(ns, v, &p, w, &mut traffic_opts);
                if !taken {
                    w.ignored.push((p, ns.clone()));
                }
            }
        }
    }

    let params: Vec<String> = pattern
        .as_ref()
        .map(|p| p.param_names().collect())
        .unwrap_or_default();
    let mut backends = Vec::new();
    let bpath = join(path, "backend");
    match obj.get("backend") {
        Some(Value::Array(items)) if !items.is_empty() => {
            let total = items.len();
            for (i, b) in items.iter().enumerate() {
                let ctx = BackendContext {
                    method: &method,
                    params: &params,
                    sequential: proxy_opts.sequential,
                    index: i,
                    total,
                    host: d.host,
                };
                if let Some(b) = read_backend(b, &index(&bpath, i), &ctx, w) {
                    backends.push(b);
                }
            }
        }
        Some(Value::Array(_)) | None | Some(Value::Null) => {
            w.fail(bpath, "an endpoint needs at least one backend")
        }
        Some(other) => w.fail(
            bpath,
            format!("must be an array, found {}", walk::type_name(other)),
        ),
    }

    // As KrakenD: endpoint value, else the service default, else JSON.
    let output = declared_output
        .or(d.output_encoding)
        .unwrap_or(OutputEncoding::Json);
    let backend_count = obj
        .get("backend")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if output == OutputEncoding::NoOp && backend_count > 1 {
        w.fail(
            join(path, "output_encoding"),
            "no-op endpoints take exactly one backend",
        );
    }

    Some(EndpointConfig {
        endpoint,
        pattern: pattern?,
        method,
        timeout,
        cache_ttl,
        concurrent_calls,
        input_query_strings,
        input_headers,
        output_encoding: output,
        backends,
        proxy: proxy_opts,
        security: security_opts,
        traffic: traffic_opts,
    })
}

struct BackendContext<'a> {
    method: &'a Method,
    params: &'a [String],
    sequential: bool,
    index: usize,
    total: usize,
    host: &'a [String],
}

fn read_backend(
    item: &Value,
    path: &str,
    ctx: &BackendContext<'_>,
    w: &mut Walker,
) -> Option<BackendConfig> {
    let obj = w.expect_object(item, path)?;
    w.note_unknown_keys(obj, path, BACKEND_KEYS);
    let raw_pattern = match w.string(obj, "url_pattern", path) {
        Some(p) => p,
        None => {
            if !obj.contains_key("url_pattern") {
                w.fail(join(path, "url_pattern"), "is required");
            }
            return None;
        }
    };
    let url_pattern = match UrlTemplate::parse(&raw_pattern) {
        Ok(t) => Some(t),
        Err(e) => {
            w.fail(join(path, "url_pattern"), e);
            None
        }
    };
    if let Some(t) = &url_pattern {
        for name in t.param_names() {
            if let Some(rest) = name.strip_prefix("Resp") {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(n) = digits.parse::<usize>() {
                    if !ctx.sequential {
                        w.fail(
                            join(path, "url_pattern"),
                            format!("{{{}}} needs \"sequential\": true in the endpoint's proxy extra_config", lower_first(name)),
                        );
                    } else if n >= ctx.index {
                        w.fail(
                            join(path, "url_pattern"),
                            format!("{{{}}} refers to backend {n}, which is not called before backend {}", lower_first(name), ctx.index),
                        );
                    }
                    continue;
                }
            }
            // `JWT.*` and other dotted names are filled by other components.
            if name.contains('.') || ctx.params.iter().any(|p| p == name) {
                continue;
            }
            w.fail(
                join(path, "url_pattern"),
                format!(
                    "parameter {{{}}} is not defined in the endpoint path",
                    lower_first(name)
                ),
            );
        }
    }
    let mut hosts = read_hosts(obj, path, w);
    if hosts.is_empty() {
        if ctx.host.is_empty() {
            w.fail(
                join(path, "host"),
                "no host: set the backend's host or the service's default host",
            );
        }
        hosts = ctx.host.to_vec();
    }
    let method = read_method(obj, path, ctx.method.clone(), w);
    let encoding = match w.string(obj, "encoding", path) {
        None => BackendEncoding::Json,
        Some(s) => BackendEncoding::parse(&s).unwrap_or_else(|| {
            w.fail(
                join(path, "encoding"),
                format!("unknown encoding {s:?} (json, safejson, xml, rss, string, no-op)"),
            );
            BackendEncoding::Json
        }),
    };
    let mut mapping = Vec::new();
    if let Some(m) = w.object(obj, "mapping", path) {
        for (k, v) in m {
            match v {
                Value::String(s) => mapping.push((k.clone(), s.clone())),
                other => w.fail(
                    join(&join(path, "mapping"), k),
                    format!("must be a string, found {}", walk::type_name(other)),
                ),
            }
        }
    }
    let mut proxy_opts = proxy::BackendProxyOptions::default();
    let mut http_opts = backend_http::BackendHttpOptions::default();
    let mut traffic_opts = traffic::BackendTraffic::default();
    if let Some(extra) = w.object(obj, "extra_config", path) {
        let ep = join(path, "extra_config");
        for (ns, v) in extra {
            let p = join(&ep, ns);
            match ns.as_str() {
                proxy::NAMESPACE => {
                    if let Some(o) = w.expect_object(v, &p) {
                        proxy_opts = proxy::parse_backend(o, &p, w);
                    }
                }
                backend_http::NAMESPACE => {
                    if let Some(o) = w.expect_object(v, &p) {
                        http_opts = backend_http::parse(o, &p, w);
                    }
                }
                _ => {
                    if !traffic::parse_backend(ns, v, &p, w, &mut traffic_opts) {
                        w.ignored.push((p, ns.clone()));
                    }
                }
            }
        }
        debug_assert!(BACKEND_NAMESPACES.len() == 2);
    }
    if proxy_opts.shadow && ctx.total == 1 {
        w.fail(
            join(&join(&join(path, "extra_config"), "proxy"), "shadow"),
            "a shadow backend needs another, non-shadow backend in the same endpoint",
        );
    }
    let _ = w.duration(obj, "timeout", path);
    Some(BackendConfig {
        url_pattern_raw: raw_pattern,
        url_pattern: url_pattern?,
        hosts,
        method,
        encoding,
        group: w.string(obj, "group", path).filter(|s| !s.is_empty()),
        target: w.string(obj, "target", path).filter(|s| !s.is_empty()),
        allow: w.strings(obj, "allow", path).unwrap_or_default(),
        deny: w.strings(obj, "deny", path).unwrap_or_default(),
        mapping,
        is_collection: w.boolean(obj, "is_collection", path).unwrap_or(false),
        input_headers: w.strings(obj, "input_headers", path),
        input_query_strings: w.strings(obj, "input_query_strings", path),
        proxy: proxy_opts,
        http: http_opts,
        traffic: traffic_opts,
    })
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ServiceConfig, ConfigError> {
        parse_str(text, Format::Json, Path::new("t.json"))
    }

    fn problems(text: &str) -> Vec<String> {
        match parse(text) {
            Err(ConfigError::Invalid { problems, .. }) => {
                problems.into_iter().map(|p| p.to_string()).collect()
            }
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn minimal_config() {
        let c = parse(r#"{"version":3,"endpoints":[{"endpoint":"/a/{id}","backend":[{"host":["localhost:9"],"url_pattern":"/b/{id}"}]}]}"#).unwrap();
        assert_eq!(c.port, 8080);
        assert_eq!(c.endpoints[0].backends[0].hosts, vec!["http://localhost:9"]);
        assert_eq!(c.endpoints[0].timeout, DEFAULT_TIMEOUT);
        assert_eq!(c.endpoints[0].output_encoding, OutputEncoding::Json);
    }

    #[test]
    fn root_transport_keys_are_read() {
        let c = parse(r#"{"version":3,"allow_insecure_connections":true,"dialer_timeout":"2s","disable_compression":true}"#).unwrap();
        assert!(c.client_tls.allow_insecure_connections);
        assert_eq!(
            c.transport.dial_timeout,
            Some(std::time::Duration::from_secs(2))
        );
        assert!(c.transport.disable_compression);
        let c = parse(r#"{"version":3}"#).unwrap();
        assert!(!c.client_tls.allow_insecure_connections);
        assert_eq!(c.transport, transport::TransportSettings::default());
        let p = problems(r#"{"version":3,"idle_connection_timeout":"forever"}"#);
        assert!(p[0].contains("idle_connection_timeout"), "{p:?}");
    }

    #[test]
    fn reports_every_problem_with_paths() {
        let p = problems(
            r#"{"version":3,"port":"x","endpoints":[{"endpoint":"/a","backend":[{"host":["h"],"url_pattern":"/{nope}"}]},{"endpoint":"b","backend":[]}]}"#,
        );
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p[0].starts_with("port:"));
        assert!(p[1].starts_with("endpoints[0].backend[0].url_pattern:"));
        assert!(p[2].starts_with("endpoints[1].endpoint:"));
        assert!(p[3].starts_with("endpoints[1].backend:"));
    }

    #[test]
    fn version_two_is_rejected() {
        let p = problems(r#"{"version":2}"#);
        assert!(p[0].contains("version 3"), "{p:?}");
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        match parse("{\n  \"version\": 3,\n  oops\n}") {
            Err(ConfigError::Syntax { line, column, .. }) => assert_eq!((line, column), (3, 3)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_namespaces_are_collected_not_rejected() {
        let c =
            parse(r#"{"version":3,"extra_config":{"security/nope":{}},"endpoints":[]}"#).unwrap();
        assert_eq!(c.ignored_namespaces[0].1, "security/nope");
    }

    #[test]
    fn yaml_and_toml_read_the_same_model() {
        let y = parse_str(
            "version: 3\nport: 9000\nendpoints: []\n",
            Format::Yaml,
            Path::new("a.yaml"),
        )
        .unwrap();
        assert_eq!(y.port, 9000);
        let t = parse_str(
            "version = 3\nport = 9001\n",
            Format::Toml,
            Path::new("a.toml"),
        )
        .unwrap();
        assert_eq!(t.port, 9001);
    }
}
