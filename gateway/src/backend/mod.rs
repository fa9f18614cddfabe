//! The backend tier: build the backend request, call it through the pooled client, check the
//! status, decode the body and manipulate the data.

pub mod client;
pub mod decode;
pub mod h1;
pub mod manipulate;
pub mod pool;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::select_ok;
use http::header::{self, HeaderMap, HeaderName};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Method, StatusCode, Uri};
use http_body_util::BodyExt;
use serde_json::{Map, Value};

use crate::config::namespaces::backend_http::BackendHttpOptions;
use crate::config::pattern::UrlTemplate;
use crate::config::{BackendConfig, BackendEncoding};
use crate::error::ProxyError;
use crate::proxy::{BackendTarget, Outcome, Passthrough, Proxy, ProxyFuture, Request, Response};
use client::{BodyMode, HttpClient, Outgoing};
use manipulate::Formatter;

/// Headers a backend call always carries even when the backend restricts `input_headers`.
const ALWAYS_SENT: &[&str] = &[
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-via",
    "user-agent",
];

/// One backend, ready to be called.
pub struct BackendProxy {
    inner: Arc<Inner>,
}

struct Inner {
    client: HttpClient,
    hosts: Vec<String>,
    /// Each host's scheme and authority, parsed once (see [`origin_of`]).
    origins: Vec<Option<(Scheme, Authority)>>,
    /// Each parsed host's whole target when the `url_pattern` has no parameter: a request
    /// without a query string then goes there with no URL built or checked.
    fixed: Vec<Option<(String, Uri)>>,
    /// Each parsed host's `Host` line, written once (see [`h1::host_line`]).
    host_lines: Vec<Option<Vec<u8>>>,
    next_host: AtomicUsize,
    template: UrlTemplate,
    method: Method,
    error_prefix: String,
    encoding: BackendEncoding,
    is_collection: bool,
    formatter: Option<Formatter>,
    http: BackendHttpOptions,
    header_filter: Option<Vec<HeaderName>>,
    query_filter: Option<Vec<String>>,
    concurrent_calls: usize,
    cache: Option<crate::qos::http_cache::HttpCache>,
    martian: Option<crate::config::namespaces::martian::Modifier>,
    /// Where received body sizes are added (backend metrics on).
    sizes: Option<Arc<crate::metrics::BackendMetrics>>,
}

impl BackendProxy {
    /// The backend proxy for `cfg`, calling `concurrent_calls` times in parallel.
    pub fn new(cfg: &BackendConfig, client: HttpClient, concurrent_calls: usize) -> Self {
        let formatter = Formatter::new(cfg);
        let header_filter = cfg.input_headers.as_ref().and_then(|list| {
            if list.iter().any(|h| h == "*") {
                None
            } else {
                Some(
                    list.iter()
                        .filter_map(|h| HeaderName::from_bytes(h.as_bytes()).ok())
                        .collect(),
                )
            }
        });
        let query_filter = cfg
            .input_query_strings
            .as_ref()
            .filter(|l| !l.iter().any(|q| q == "*"))
            .cloned();
        let origins: Vec<_> = cfg.hosts.iter().map(|h| origin_of(h)).collect();
        let fixed = fixed_targets(&cfg.hosts, &origins, &cfg.url_pattern);
        let host_lines = origins
            .iter()
            .map(|o| Some(h1::host_line(&uri_of(o.as_ref()?, "/".into())?)))
            .collect();
        Self {
            inner: Arc::new(Inner {
                client,
                hosts: cfg.hosts.clone(),
                origins,
                fixed,
                host_lines,
                next_host: AtomicUsize::new(0),
                template: cfg.url_pattern.clone(),
                method: cfg.method.clone(),
                error_prefix: format!("[{} {}]:", cfg.method, cfg.url_pattern_raw),
                encoding: cfg.encoding,
                is_collection: cfg.is_collection,
                formatter: (!formatter.is_identity()).then_some(formatter),
                http: cfg.http.clone(),
                header_filter,
                query_filter,
                concurrent_calls: concurrent_calls.max(1),
                cache: cfg
                    .traffic
                    .http_cache
                    .map(crate::qos::http_cache::HttpCache::new),
                martian: cfg.traffic.martian.clone(),
                sizes: None,
            }),
        }
    }

    /// Adds each received body's size to `metrics` (start-up only, before any clone).
    pub fn with_response_sizes(mut self, metrics: Arc<crate::metrics::BackendMetrics>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.sizes = Some(metrics);
        }
        self
    }
}

/// What the relay ([`crate::relay`]) uses of a backend: the same targets, filters, client
/// and response handling as [`BackendProxy::call`]'s.
impl BackendProxy {
    /// The method of its calls.
    pub fn method(&self) -> &Method {
        &self.inner.method
    }

    /// The client its calls go through.
    pub fn client(&self) -> &HttpClient {
        &self.inner.client
    }

    /// The next call for these query and path parameters, through the round robin of hosts:
    /// which host, the URL, and that URL already parsed when the host was.
    pub fn next_target(&self, query: &Query, params: &Params) -> (usize, String, Option<Uri>) {
        self.inner.next_target(query, params)
    }

    /// The `Host` line of host number `host`, when it was parsed.
    pub fn host_line(&self, host: usize) -> Option<&[u8]> {
        self.inner.host_lines.get(host).and_then(Option::as_deref)
    }

    /// Whether the backend's `input_headers` let `name` through.
    pub fn passes_header(&self, name: &HeaderName) -> bool {
        self.inner.passes_header(name)
    }

    /// The backend request for `request` to `method` and `url` (and its parsed `uri`).
    pub fn outgoing_to(
        &self,
        request: Request,
        method: Method,
        url: String,
        uri: Option<Uri>,
    ) -> Outgoing {
        self.inner.outgoing_to(request, method, url, uri)
    }

    /// A `no-op` backend's response, passed through (see [`BackendProxy::call`]).
    pub async fn passthrough(&self, received: client::Received) -> Result<Response, ProxyError> {
        self.inner.passthrough(received).await
    }
}

impl BackendProxy {
    /// The backend request this backend would send for `request` (no I/O).
    pub fn outgoing(&self, request: &Request) -> Outgoing {
        self.inner.build(request.clone())
    }

    /// The method, URL and path this backend would call next for `request` (no I/O, the
    /// round robin does not move).
    pub fn target(&self, request: &Request) -> BackendTarget {
        self.inner
            .target(request, self.inner.next_host.load(Ordering::Relaxed))
    }
}

impl Proxy for BackendProxy {
    fn call(&self, request: Request) -> ProxyFuture {
        // The box is taken first so that the call's future (about 2 KB) is made in it
        // rather than on the stack and then copied.
        let slot = Box::new_uninit();
        let inner = self.inner.clone();
        // Built before the future is made, which then holds the smaller backend request.
        let mut out = inner.build(request);
        let call = Box::write(slot, async move {
            let result = if inner.concurrent_calls > 1 {
                let calls = (0..inner.concurrent_calls).map(|_| {
                    let (inner, mut out) = (&inner, out.clone());
                    Box::pin(async move { inner.execute(&mut out).await })
                });
                select_ok(calls).await.map(|(r, _)| r)
            } else {
                // The request is used where the future holds it, not moved out first.
                inner.execute(&mut out).await
            };
            match result {
                Ok(r) => Outcome::ok(r),
                Err(e) => Outcome::err(e),
            }
        });
        Box::into_pin(call)
    }
}

/// A host's scheme and authority when the host is only those (`http://h:8080`, no path),
/// so that a URL built on it needs no parse per request; `None` for any other host, whose
/// URLs are parsed whole as they are sent.
pub fn origin_of(host: &str) -> Option<(Scheme, Authority)> {
    let (_, rest) = host.split_once("://")?;
    if rest.is_empty() || rest.contains(['/', '?', '#']) {
        return None;
    }
    let uri: Uri = host.parse().ok()?;
    Some((uri.scheme()?.clone(), uri.authority()?.clone()))
}

/// Per host, the URL and parsed URI of a `url_pattern` without parameters, when the host
/// was parsed (see [`origin_of`]); `None` for the others, and for every host when the
/// pattern has parameters.
fn fixed_targets(
    hosts: &[String],
    origins: &[Option<(Scheme, Authority)>],
    template: &UrlTemplate,
) -> Vec<Option<(String, Uri)>> {
    if template.param_names().next().is_some() {
        return vec![None; hosts.len()];
    }
    let path = template.render(|_| None);
    hosts
        .iter()
        .zip(origins)
        .map(|(host, origin)| {
            let uri = uri_of(origin.as_ref()?, path.clone())?;
            Some((format!("{host}{path}"), uri))
        })
        .collect()
}

/// The URI of `path_and_query` on a parsed host's scheme and authority.
fn uri_of((scheme, authority): &(Scheme, Authority), path_and_query: String) -> Option<Uri> {
    let path_and_query = PathAndQuery::from_maybe_shared(Bytes::from(path_and_query)).ok()?;
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(scheme.clone());
    parts.authority = Some(authority.clone());
    parts.path_and_query = Some(path_and_query);
    Uri::from_parts(parts).ok()
}

/// `?a=1&b=2` in Go's `url.Values.Encode` form (keys sorted).
pub fn encode_query(query: &BTreeMap<String, Vec<String>>) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, vs) in query {
        for v in vs {
            ser.append_pair(k, v);
        }
    }
    ser.finish()
}

/// How a backend request sends the client's body: none (with `Content-Length: 0` for the
/// methods that carry one), sized when the client gave its length, chunked otherwise.
pub fn body_mode(method: &Method, has_body: bool, body: &Bytes, sized: bool) -> BodyMode {
    if !has_body || body.is_empty() {
        if matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
            BodyMode::Empty
        } else {
            BodyMode::None
        }
    } else if sized {
        BodyMode::Sized
    } else {
        BodyMode::Chunked
    }
}

/// A backend request's query parameters (those let through, sorted by key).
pub type Query = BTreeMap<String, Vec<String>>;
/// A backend request's path parameters (normalised names).
pub type Params = std::collections::HashMap<String, String>;

/// Where a request goes: see [`Inner::locate`].
struct Located {
    /// The absolute URL.
    url: String,
    /// Which of the hosts.
    host: usize,
    /// The URL's path and query.
    path_and_query: String,
    /// Where the path ends in `path_and_query`.
    path_len: usize,
}

impl Inner {
    /// The call for `request` through host number `host` (round robin).
    fn target(&self, request: &Request, host: usize) -> BackendTarget {
        let located = self.locate(&request.query, &request.params, host);
        BackendTarget {
            method: self.method.clone(),
            path: located.path_and_query[..located.path_len].to_string(),
            url: located.url,
        }
    }

    /// [`Inner::target`]'s URL, and that URL already parsed when the host was: the
    /// request's path and query are then the only part of it to check.
    fn target_and_uri(&self, query: &Query, params: &Params, host: usize) -> (String, Option<Uri>) {
        if query.is_empty() {
            let i = host % self.hosts.len().max(1);
            if let Some(Some((url, uri))) = self.fixed.get(i) {
                return (url.clone(), Some(uri.clone()));
            }
        }
        let located = self.locate(query, params, host);
        (
            located.url,
            self.uri_on(located.host, located.path_and_query),
        )
    }

    /// Where `request` goes through host number `host`. Its strings are made to their
    /// exact size: the path and query becomes the URI's bytes without another allocation.
    fn locate(&self, query: &Query, params: &Params, host: usize) -> Located {
        let param = |name: &str| params.get(name).map(String::as_str);
        let i = host % self.hosts.len().max(1);
        let host = self.hosts.get(i).map_or("", String::as_str);
        let query = match &self.query_filter {
            None => encode_query(query),
            Some(allowed) => encode_query(
                &query
                    .iter()
                    .filter(|(k, _)| allowed.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
        };
        let path_len = self.template.rendered_len(param);
        let query_len = if query.is_empty() { 0 } else { 1 + query.len() };
        let mut path_and_query = String::with_capacity(path_len + query_len);
        self.template.render_into(&mut path_and_query, param);
        if !query.is_empty() {
            let has_query = host.contains('?') || path_and_query.contains('?');
            path_and_query.push(if has_query { '&' } else { '?' });
            path_and_query.push_str(&query);
        }
        let mut url = String::with_capacity(host.len() + path_and_query.len());
        url.push_str(host);
        url.push_str(&path_and_query);
        Located {
            url,
            host: i,
            path_and_query,
            path_len,
        }
    }

    /// The URI of `path_and_query` on host number `host`, from the host's parsed scheme and
    /// authority; `None` when the host was not parsed (see [`origin_of`]).
    fn uri_on(&self, host: usize, path_and_query: String) -> Option<Uri> {
        uri_of(self.origins.get(host)?.as_ref()?, path_and_query)
    }

    /// The backend request for `request`, which gives up its headers and body to it.
    fn build(&self, mut request: Request) -> Outgoing {
        match request.target.take() {
            Some(t) => self.outgoing_to(request, t.method, t.url, None),
            None => {
                let (_, url, uri) = self.next_target(&request.query, &request.params);
                self.outgoing_to(request, self.method.clone(), url, uri)
            }
        }
    }

    /// The next call through the round robin of hosts: which host, the URL, and that URL
    /// already parsed when the host was.
    fn next_target(&self, query: &Query, params: &Params) -> (usize, String, Option<Uri>) {
        let host = self.next_host.fetch_add(1, Ordering::Relaxed);
        let (url, uri) = self.target_and_uri(query, params, host);
        (host % self.hosts.len().max(1), url, uri)
    }

    /// Whether the backend's `input_headers` let `name` through (the gateway's own always go).
    fn passes_header(&self, name: &HeaderName) -> bool {
        self.header_filter
            .as_ref()
            .is_none_or(|allowed| allowed.contains(name) || ALWAYS_SENT.contains(&name.as_str()))
    }

    /// The backend request for `request` to `method` and `url` (and its parsed `uri`).
    fn outgoing_to(
        &self,
        mut request: Request,
        method: Method,
        url: String,
        uri: Option<Uri>,
    ) -> Outgoing {
        let mut headers = std::mem::take(&mut request.headers);
        let sized = headers.remove(header::CONTENT_LENGTH).is_some();
        if self.header_filter.is_some() {
            let keep: HeaderMap = headers
                .iter()
                .filter(|(n, _)| self.passes_header(n))
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect();
            headers = keep;
        }
        let mode = body_mode(&method, request.has_body, &request.body, sized);
        let mut out = Outgoing {
            method,
            url,
            uri,
            headers,
            body: request.body,
            mode,
        };
        if let Some(m) = &self.martian {
            crate::qos::martian::modify_request(m, &mut out);
        }
        out
    }

    /// Calls the backend with `out` (used in place, see [`HttpClient::send`]) and makes its
    /// response ours.
    async fn execute(&self, out: &mut Outgoing) -> Result<Response, ProxyError> {
        // `qos/http-cache` covers decoded backends (no-op ones stream and are not cached).
        let cache = self
            .cache
            .as_ref()
            .filter(|_| self.encoding != BackendEncoding::NoOp);
        let cache_key = cache.map(|_| (out.method.clone(), out.url.clone(), out.headers.clone()));
        if let (Some(c), Some((m, u, h))) = (cache, &cache_key) {
            if let Some(hit) = c.lookup(m, u, h) {
                return self.finish(hit.status, &hit.headers, hit.body, u.clone());
            }
        }
        let received = self.client.send(out).await?;
        if self.encoding == BackendEncoding::NoOp {
            return self.passthrough(received).await;
        }
        let url = received.url.clone();
        let (mut parts, mut bytes) = client::read_body(received).await?;
        if let Some(m) = &self.sizes {
            m.series.add_bytes(bytes.len() as u64);
        }
        if let Some(m) = &self.martian {
            crate::qos::martian::modify_response(m, &mut parts.headers, &mut bytes);
        }
        if let (Some(c), Some((m, u, h))) = (cache, &cache_key) {
            c.store(
                m,
                u,
                h,
                &crate::qos::http_cache::Cached {
                    status: parts.status,
                    headers: parts.headers.clone(),
                    body: bytes.clone(),
                },
            );
        }
        self.finish(parts.status, &parts.headers, bytes, url)
    }

    /// A `no-op` backend's response, passed through: its status, headers and body as they
    /// came (a body compressed at the gateway's own request is read whole and undone).
    async fn passthrough(&self, received: client::Received) -> Result<Response, ProxyError> {
        let decompress = received.decompress;
        let (parts, incoming) = received.response.into_parts();
        let status = parts.status;
        if let Some(m) = &self.sizes {
            // Streamed through: the size the backend announced.
            let announced = parts
                .headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse().ok());
            m.series.add_bytes(announced.unwrap_or(0));
        }
        let (headers, body) =
            if decompress && crate::http1::has_header(&parts.headers, &header::CONTENT_ENCODING) {
                // Boxed: only a body compressed at our own request takes this path, and
                // its future is large; inline, it would grow every call's future.
                let (parts, bytes) = Box::pin(client::read_body(client::Received {
                    response: http::Response::from_parts(parts, incoming),
                    url: received.url,
                    decompress,
                }))
                .await?;
                (parts.headers, crate::body::full(bytes))
            } else {
                (
                    parts.headers,
                    incoming
                        .map_err(|e| Box::new(e) as crate::body::BoxError)
                        .boxed(),
                )
            };
        Ok(Response {
            data: Map::new(),
            is_complete: true,
            passthrough: Some(Passthrough {
                status,
                headers,
                body,
            }),
            headers: Default::default(),
        })
    }

    /// Status check, decoding and manipulation of a whole backend response.
    fn finish(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        bytes: bytes::Bytes,
        url: String,
    ) -> Result<Response, ProxyError> {
        if status != StatusCode::OK && status != StatusCode::CREATED {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = String::from_utf8_lossy(&bytes).into_owned();
            if let Some(name) = &self.http.return_error_details {
                let mut detail = Map::new();
                detail.insert("http_status_code".into(), Value::from(status.as_u16()));
                if !body.is_empty() {
                    detail.insert("http_body".into(), Value::String(body));
                }
                if let Some(ct) = content_type {
                    detail.insert("http_body_encoding".into(), Value::String(ct));
                }
                let mut data = Map::new();
                data.insert(format!("error_{name}"), Value::Object(detail));
                return Ok(Response {
                    data,
                    is_complete: false,
                    passthrough: None,
                    headers: Default::default(),
                });
            }
            if self.http.return_error_code {
                return Err(ProxyError::WithStatus {
                    status: status.as_u16(),
                    body,
                    content_type,
                });
            }
            return Err(ProxyError::InvalidStatus {
                status: status.as_u16(),
                prefix: self.error_prefix.clone(),
                url,
            });
        }
        let data = decode::decode(self.encoding, self.is_collection, &bytes)
            .map_err(ProxyError::Decode)?;
        let data = match &self.formatter {
            Some(f) => f.format(data),
            None => data,
        };
        Ok(Response {
            data,
            is_complete: true,
            passthrough: None,
            headers: Default::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_built_from_its_parsed_host_is_the_url_parsed_whole() {
        use crate::config::{parse_str, Format};
        let cfg = parse_str(
            r#"{"version":3,"endpoints":[{"endpoint":"/a/{id}","input_query_strings":["*"],
            "backend":[{"host":["http://h:8080","https://user@h2","http://h3/base","http://[::1]:9"],
            "url_pattern":"/x/{id}?fixed=1"}]}]}"#,
            Format::Json,
            std::path::Path::new("t.json"),
        )
        .unwrap();
        let backend = BackendProxy::new(&cfg.endpoints[0].backends[0], HttpClient::default(), 1);
        let mut request = crate::proxy::testing::request();
        request.params.insert("Id".into(), "7%20b".into());
        request
            .query
            .insert("q".into(), vec!["a b".into(), "c".into()]);
        let mut built = 0;
        for host in 0..4 {
            let (url, uri) = backend
                .inner
                .target_and_uri(&request.query, &request.params, host);
            let whole: Uri = url.parse().unwrap();
            match uri {
                Some(uri) => {
                    assert_eq!(uri, whole, "{url}");
                    assert_eq!(uri.to_string(), whole.to_string());
                    // The host's Host line, written once, is the URI's.
                    assert_eq!(backend.host_line(host), Some(&h1::host_line(&uri)[..]));
                    built += 1;
                }
                // A host with a path of its own is parsed whole, as before.
                None => {
                    assert_eq!(url, "http://h3/base/x/7%20b?fixed=1&q=a+b&q=c");
                    assert_eq!(backend.host_line(host), None);
                }
            }
        }
        assert_eq!(built, 3);
    }

    #[test]
    fn a_pattern_without_parameters_keeps_its_targets_ready() {
        use crate::config::{parse_str, Format};
        let cfg = parse_str(
            r#"{"version":3,"endpoints":[{"endpoint":"/a","input_query_strings":["*"],
            "backend":[{"host":["http://h:8080","https://h2","http://h3/base"],
            "url_pattern":"/x/y?fixed=1"}]}]}"#,
            Format::Json,
            std::path::Path::new("t.json"),
        )
        .unwrap();
        let backend = BackendProxy::new(&cfg.endpoints[0].backends[0], HttpClient::default(), 1);
        let inner = &backend.inner;
        assert!(inner.fixed[0].is_some() && inner.fixed[1].is_some());
        assert!(
            inner.fixed[2].is_none(),
            "a host with a path is parsed whole"
        );
        let mut request = crate::proxy::testing::request();
        request.query.clear();
        // Round robin past the end of the list, as the calls do.
        for host in 0..6 {
            let ready = inner.target_and_uri(&request.query, &request.params, host);
            let located = inner.locate(&request.query, &request.params, host);
            let built = inner.uri_on(located.host, located.path_and_query);
            assert_eq!(ready, (located.url, built), "host {host}");
        }
        assert_eq!(
            inner.target_and_uri(&request.query, &request.params, 1),
            (
                "https://h2/x/y?fixed=1".to_string(),
                Some("https://h2/x/y?fixed=1".parse().unwrap())
            )
        );
        // A query string still makes its own URL.
        request.query.insert("q".into(), vec!["1".into()]);
        let (url, uri) = inner.target_and_uri(&request.query, &request.params, 0);
        assert_eq!(url, "http://h:8080/x/y?fixed=1&q=1");
        assert_eq!(uri.unwrap(), "http://h:8080/x/y?fixed=1&q=1");

        let with_param = parse_str(
            r#"{"version":3,"endpoints":[{"endpoint":"/a/{id}",
            "backend":[{"host":["http://h:8080"],"url_pattern":"/x/{id}"}]}]}"#,
            Format::Json,
            std::path::Path::new("t.json"),
        )
        .unwrap();
        let backend = BackendProxy::new(
            &with_param.endpoints[0].backends[0],
            HttpClient::default(),
            1,
        );
        assert!(backend.inner.fixed.iter().all(Option::is_none));
    }

    #[test]
    fn a_backend_call_holds_its_request_once() {
        // The request (272 bytes) used to be held by each of three nested layers, and the
        // attempt's added headers across the exchange: 2.8 KB, copied into a box per call.
        let cfg = crate::config::parse_str(
            r#"{"version":3,"endpoints":[{"endpoint":"/a","backend":[{"host":["http://h:8080"],"url_pattern":"/x"}]}]}"#,
            crate::config::Format::Json,
            std::path::Path::new("t.json"),
        )
        .unwrap();
        let backend = BackendProxy::new(&cfg.endpoints[0].backends[0], HttpClient::default(), 1);
        let mut out = backend.outgoing(&crate::proxy::testing::request());
        let size = std::mem::size_of_val(&backend.inner.execute(&mut out));
        assert!(size <= 1600, "the backend call's future is {size} bytes");
    }

    #[test]
    fn query_is_sorted_like_go() {
        let mut q = BTreeMap::new();
        q.insert("b".to_string(), vec!["2".to_string(), "3".to_string()]);
        q.insert("a".to_string(), vec!["x y".to_string()]);
        assert_eq!(encode_query(&q), "a=x+y&b=2&b=3");
    }
}
