//! The endpoint handler (router side): turns the client request into a proxy request, runs
//! the endpoint's proxy stack under its timeout, and writes KrakenD's response. This is the
//! one place where typed errors become HTTP statuses, headers and bodies.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};

use crate::body::{self, Body};
use crate::config::pattern::normalize_param;
use crate::config::{EndpointConfig, OutputEncoding};
use crate::error::ProxyError;
use crate::http1::is_hop_by_hop;
use crate::proxy::{Outcome, ProxyFuture, Request, SharedProxy};
use crate::render;
use crate::reply::Reply;

/// `X-Krakend-Completed`.
pub const COMPLETED: HeaderName = HeaderName::from_static("x-krakend-completed");
/// `X-Krakend`.
pub const KRAKEND: HeaderName = HeaderName::from_static("x-krakend");

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_VIA: HeaderName = HeaderName::from_static("x-forwarded-via");

/// Which client headers reach the backends.
#[derive(Debug, Clone)]
enum HeaderPass {
    All,
    Only(Vec<HeaderName>),
}

/// Which query parameters reach the backends.
#[derive(Debug, Clone)]
enum QueryPass {
    All,
    Only(Vec<String>),
}

/// One of the gateway's own backend request header values, named: the sink knows the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ours {
    /// `X-Forwarded-For`: the client IP.
    ClientIp,
    /// `X-Forwarded-Host`: the `Host` the client asked for.
    Host,
    /// `User-Agent` (or `X-Forwarded-Via`): `KrakenD Version ...`.
    Agent,
}

/// Where [`Endpoint::backend_headers`] puts a backend request's headers.
pub trait HeaderSink {
    /// A client header passed on.
    fn passed(&mut self, name: &HeaderName, value: &HeaderValue);
    /// One of the gateway's own.
    fn ours(&mut self, name: HeaderName, value: Ours);
}

/// A backend request's headers gathered in a map (the general path's).
struct MapSink<'a> {
    map: HeaderMap,
    client_ip: Option<String>,
    host: Option<String>,
    agent: &'a HeaderValue,
}

impl HeaderSink for MapSink<'_> {
    fn passed(&mut self, name: &HeaderName, value: &HeaderValue) {
        self.map.append(name.clone(), value.clone());
    }

    fn ours(&mut self, name: HeaderName, value: Ours) {
        // The strings become the values' bytes without a copy.
        let value = match value {
            Ours::ClientIp => self.client_ip.take().map(Bytes::from),
            Ours::Host => self.host.take().map(Bytes::from),
            Ours::Agent => {
                self.map.append(name, self.agent.clone());
                return;
            }
        };
        if let Some(v) = value.and_then(|v| HeaderValue::from_maybe_shared(v).ok()) {
            self.map.append(name, v);
        }
    }
}

/// What the server knows about the client request besides the endpoint match.
pub struct ClientRequest {
    /// Method.
    pub method: Method,
    /// Decoded path.
    pub path: String,
    /// Raw query string.
    pub query: Option<String>,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Bytes,
    /// Whether a body was sent (length > 0 or chunked).
    pub has_body: bool,
    /// Route parameters as captured.
    pub params: Vec<(String, String)>,
    /// The client IP as KrakenD's router computes it.
    pub client_ip: String,
    /// The `Host` the client asked for.
    pub host: String,
}

/// A request being served by an endpoint.
pub type EndpointFuture = Pin<Box<dyn Future<Output = Reply> + Send>>;

/// Where [`Endpoint::begin`] left a request.
enum Begun {
    Answered(http::Response<Body>),
    Called {
        call: ProxyFuture,
        accept: Option<String>,
    },
}

/// One endpoint, ready to serve.
pub struct Endpoint {
    proxy: SharedProxy,
    timeout: Duration,
    cache_control: Option<HeaderValue>,
    output: OutputEncoding,
    headers: HeaderPass,
    /// Whether a client header can share a name with one the gateway sets
    /// (`X-Forwarded-For`, `X-Forwarded-Host`, `User-Agent`, `X-Forwarded-Via`).
    passes_gateway_headers: bool,
    query: QueryPass,
    return_error_msg: bool,
    version: HeaderValue,
    user_agent: HeaderValue,
    signer: Option<crate::security::signer::JwtSigner>,
    rate_limit: Option<crate::qos::router_limit::RouterLimiter>,
    lua: Option<crate::lua::EndpointScript>,
    metrics: Option<std::sync::Arc<crate::metrics::RouteMetrics>>,
    /// Serves the endpoint instead of the proxy stack when it may (see [`crate::relay`]).
    relay: Option<crate::relay::Relay>,
}

impl Endpoint {
    /// Serves requests through `relay` (start-up only).
    pub fn with_relay(mut self, relay: Option<crate::relay::Relay>) -> Self {
        self.relay = relay;
        self
    }

    /// The endpoint's `timeout`.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The `X-Krakend` value.
    pub fn version(&self) -> &HeaderValue {
        &self.version
    }

    /// The `User-Agent` the gateway sends backends.
    pub fn user_agent(&self) -> &HeaderValue {
        &self.user_agent
    }

    /// Signs responses with `auth/signer` (KrakenD's signer handler replaces the endpoint's).
    pub fn with_signer(mut self, signer: Option<crate::security::signer::JwtSigner>) -> Self {
        self.signer = signer;
        self
    }

    /// The handler for `cfg` over its proxy stack.
    pub fn new(
        cfg: &EndpointConfig,
        proxy: SharedProxy,
        return_error_msg: bool,
        version: HeaderValue,
        user_agent: HeaderValue,
    ) -> Self {
        let headers = if cfg.input_headers.iter().any(|h| h == "*") {
            HeaderPass::All
        } else if cfg.input_headers.is_empty() {
            HeaderPass::Only(vec![header::CONTENT_TYPE])
        } else {
            // Each name once: a name listed twice passes its values once, as KrakenD's
            // header copy does.
            let mut names: Vec<HeaderName> = Vec::new();
            for name in cfg
                .input_headers
                .iter()
                .filter_map(|h| HeaderName::from_bytes(h.as_bytes()).ok())
            {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            HeaderPass::Only(names)
        };
        let query = if cfg.input_query_strings.iter().any(|q| q == "*") {
            QueryPass::All
        } else {
            QueryPass::Only(cfg.input_query_strings.clone())
        };
        Self {
            metrics: None,
            relay: None,
            proxy,
            timeout: cfg.timeout,
            cache_control: (!cfg.cache_ttl.is_zero())
                .then(|| {
                    HeaderValue::from_str(&format!("public, max-age={}", cfg.cache_ttl.as_secs()))
                        .ok()
                })
                .flatten(),
            output: cfg.output_encoding,
            passes_gateway_headers: match &headers {
                HeaderPass::All => true,
                HeaderPass::Only(names) => names.iter().any(|n| {
                    [
                        X_FORWARDED_FOR,
                        X_FORWARDED_HOST,
                        X_FORWARDED_VIA,
                        header::USER_AGENT,
                    ]
                    .contains(n)
                }),
            },
            headers,
            query,
            return_error_msg,
            version,
            user_agent,
            signer: None,
            rate_limit: cfg
                .traffic
                .rate_limit
                .as_ref()
                .map(crate::qos::router_limit::RouterLimiter::new),
            lua: cfg
                .traffic
                .lua_endpoint
                .as_ref()
                .and_then(|o| crate::lua::EndpointScript::new(o, cfg.timeout)),
        }
    }

    pub(crate) fn proxy_request(&self, c: ClientRequest) -> Request {
        // Room for the passed headers and the four the gateway adds.
        let passed = match &self.headers {
            HeaderPass::All => c.headers.len(),
            HeaderPass::Only(names) => names.len(),
        };
        let forwarded = (valid_value(&c.client_ip), valid_value(&c.host));
        let mut sink = MapSink {
            map: HeaderMap::with_capacity(passed + 4),
            client_ip: Some(c.client_ip),
            host: Some(c.host),
            agent: &self.user_agent,
        };
        self.backend_headers(&c.headers, forwarded, &mut sink);
        let headers = sink.map;
        Request {
            method: c.method,
            path: c.path,
            query: self.query_of(c.query.as_deref()),
            params: params_of(c.params),
            headers,
            body: c.body,
            has_body: c.has_body,
            target: None,
        }
    }

    /// The query parameters `input_query_strings` lets through, sorted by key.
    pub fn query_of(&self, raw: Option<&str>) -> BTreeMap<String, Vec<String>> {
        let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if let Some(raw) = raw {
            for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
                let keep = match &self.query {
                    QueryPass::All => true,
                    QueryPass::Only(list) => list.iter().any(|q| q == k.as_ref()),
                };
                if keep {
                    query
                        .entry(k.into_owned())
                        .or_default()
                        .push(v.into_owned());
                }
            }
        }
        query
    }

    /// Whether the client's `name` header, which it sent, reaches the backend request
    /// (before the backend's own `input_headers`).
    pub fn passes_header(&self, name: &HeaderName) -> bool {
        match &self.headers {
            HeaderPass::All => !is_hop_by_hop(name) && *name != header::HOST,
            HeaderPass::Only(names) => names.contains(name),
        }
    }

    /// Gives `sink` the headers a backend request carries, in order: the client headers
    /// `input_headers` passes, then the gateway's own (`X-Forwarded-For`,
    /// `X-Forwarded-Host`, and `User-Agent`, or `X-Forwarded-Via` when the client's
    /// `User-Agent` is passed). Ours replace a passed header of the same name where it
    /// stands, as `HeaderMap::insert` does; the rest follow the passed ones. `forwarded`
    /// tells whether the client IP and host make valid values (a header is left out
    /// otherwise).
    pub fn backend_headers(
        &self,
        client: &HeaderMap,
        forwarded: (bool, bool),
        sink: &mut impl HeaderSink,
    ) {
        let mut xff = forwarded.0.then_some(Ours::ClientIp);
        let mut xfh = forwarded.1.then_some(Ours::Host);
        let mut ua = Some(Ours::Agent);
        if !self.passes_gateway_headers {
            // No passed name can clash: passed headers, then ours.
            match &self.headers {
                HeaderPass::All => {
                    for (n, v) in client {
                        if !is_hop_by_hop(n) && n != header::HOST {
                            sink.passed(n, v);
                        }
                    }
                }
                HeaderPass::Only(names) => {
                    // Most listed names are absent: a scan says so without hashing.
                    for n in names.iter().filter(|n| crate::http1::has_header(client, n)) {
                        for v in client.get_all(n) {
                            sink.passed(n, v);
                        }
                    }
                }
            }
        } else {
            let passes = |n: &HeaderName| self.passes_header(n);
            // The client's User-Agent, when passed, stays; ours then goes as X-Forwarded-Via.
            let keeps_agent = crate::http1::has_header(client, &header::USER_AGENT)
                && passes(&header::USER_AGENT);
            let mut xfv = None;
            if keeps_agent {
                xfv = ua.take();
            }
            let mut visit = |n: &HeaderName, values: header::GetAll<'_, HeaderValue>| {
                let ours = if n == X_FORWARDED_FOR {
                    Some(&mut xff)
                } else if n == X_FORWARDED_HOST {
                    Some(&mut xfh)
                } else if n == X_FORWARDED_VIA && keeps_agent {
                    Some(&mut xfv)
                } else {
                    None
                };
                match ours {
                    // Ours replaces every passed value, where the first one stood.
                    Some(slot) => {
                        if let Some(v) = slot.take() {
                            sink.ours(n.clone(), v);
                        }
                    }
                    None => values.iter().for_each(|v| sink.passed(n, v)),
                }
            };
            match &self.headers {
                HeaderPass::All => {
                    for n in client.keys() {
                        if passes(n) {
                            visit(n, client.get_all(n));
                        }
                    }
                }
                HeaderPass::Only(names) => {
                    for n in names {
                        if crate::http1::has_header(client, n) {
                            visit(n, client.get_all(n));
                        }
                    }
                }
            }
            // Ours not placed yet follow the passed ones, in this order.
            if let Some(v) = xff.take() {
                sink.ours(X_FORWARDED_FOR, v);
            }
            if let Some(v) = xfh.take() {
                sink.ours(X_FORWARDED_HOST, v);
            }
            if let Some(v) = xfv {
                sink.ours(X_FORWARDED_VIA, v);
            }
        }
        if let Some(v) = xff {
            sink.ours(X_FORWARDED_FOR, v);
        }
        if let Some(v) = xfh {
            sink.ours(X_FORWARDED_HOST, v);
        }
        if let Some(v) = ua {
            sink.ours(header::USER_AGENT, v);
        }
    }

    /// Records every request in `metrics` (the router layer series of this endpoint).
    pub fn with_metrics(mut self, metrics: std::sync::Arc<crate::metrics::RouteMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Serves one request: [`Endpoint::start`], awaited, as an `http` response.
    pub async fn handle(self: &Arc<Self>, c: ClientRequest) -> http::Response<Body> {
        self.start(c).await.into_response()
    }

    /// Starts serving one request. What needs no waiting runs now: the rate limit,
    /// `lua-endpoint`, the proxy request and the proxy's call. The future returned holds only
    /// that call under the endpoint's timeout and what writing the response needs.
    pub fn start(self: &Arc<Self>, c: ClientRequest) -> EndpointFuture {
        if let Some(relay) = &self.relay {
            return relay.start(self, c);
        }
        let started = self.metrics.as_ref().map(|metrics| {
            metrics
                .handlers
                .connected
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            std::time::Instant::now()
        });
        let this = Arc::clone(self);
        match self.begin(c) {
            Begun::Answered(response) => {
                this.record(started, &response);
                Box::pin(std::future::ready(Reply::Made(response)))
            }
            Begun::Called { call, accept } => Box::pin(async move {
                let outcome = match crate::timeout::within(this.timeout, call).await {
                    Ok(o) => o,
                    Err(_) => Outcome::err(ProxyError::Timeout),
                };
                let response = match &this.signer {
                    // Boxed: signing (a JWK fetch inside) is rare; unboxed it would grow
                    // every request.
                    Some(s) => Box::pin(s.respond(outcome)).await,
                    None => this.respond(outcome, accept.as_deref()),
                };
                this.record(started, &response);
                Reply::Made(response)
            }),
        }
    }

    /// The router-layer metrics of a finished request.
    fn record(&self, started: Option<std::time::Instant>, response: &http::Response<Body>) {
        if let (Some(metrics), Some(started)) = (&self.metrics, started) {
            metrics
                .handlers
                .disconnected
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let bytes = hyper::body::Body::size_hint(response.body())
                .exact()
                .unwrap_or(0);
            metrics
                .series
                .record(response.status().as_u16(), started.elapsed(), bytes);
        }
    }

    /// The steps before the proxy: an answer already (rate limited, a script's error), or
    /// the proxy called.
    fn begin(&self, mut c: ClientRequest) -> Begun {
        if let Some(status) = self.rate_limit.as_ref().and_then(|l| l.check(&c)) {
            let mut response = http::Response::new(body::empty());
            *response.status_mut() = status;
            return Begun::Answered(response);
        }
        // `modifier/lua-endpoint` changes the client request before anything reads it; its
        // errors abort with their status and no body, as gin's AbortWithError does.
        if let Some(script) = &self.lua {
            if let Err(e) = script.run(&mut c) {
                tracing::debug!(error = %e.message, "lua-endpoint error");
                let mut response = http::Response::new(body::empty());
                *response.status_mut() =
                    StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                if let Some(ct) = e
                    .content_type
                    .and_then(|ct| HeaderValue::from_str(&ct).ok())
                {
                    response.headers_mut().insert(header::CONTENT_TYPE, ct);
                }
                return Begun::Answered(response);
            }
        }
        // Only `negotiate` reads the client's `Accept`.
        let accept = if self.output == OutputEncoding::Negotiate {
            c.headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        } else {
            None
        };
        let request = self.proxy_request(c);
        Begun::Called {
            call: self.proxy.call(request),
            accept,
        }
    }

    /// KrakenD's response for an outcome.
    pub(crate) fn respond(
        &self,
        mut outcome: Outcome,
        accept: Option<&str>,
    ) -> http::Response<Body> {
        // A `no-op` pass-through without data (the usual one) needs no map of our own: the
        // backend's gets `X-Krakend` and `X-Krakend-Completed: false` where it lacks them,
        // which is what the general path below gives such a response.
        if self.output == OutputEncoding::NoOp {
            if let Some(r) = outcome.response.as_mut().filter(|r| r.data.is_empty()) {
                if let Some(p) = r.passthrough.take() {
                    if let Some(err) = &outcome.error {
                        tracing::debug!(error = %err, "endpoint error");
                    }
                    let ours = [
                        (Some(KRAKEND), self.version.clone()),
                        (Some(COMPLETED), HeaderValue::from_static("false")),
                    ];
                    let (status, headers, body) = render::pass_through(p, ours);
                    let mut response = http::Response::new(body);
                    *response.status_mut() = status;
                    *response.headers_mut() = headers;
                    return response;
                }
            }
        }
        let mut headers = HeaderMap::new();
        headers.insert(KRAKEND, self.version.clone());
        let mut complete = false;
        if let Some(r) = &outcome.response {
            if !r.data.is_empty() && r.is_complete {
                complete = true;
                if let Some(cc) = &self.cache_control {
                    headers.insert(header::CACHE_CONTROL, cc.clone());
                }
            }
            // Headers a script set travel with a response that has data, as in Lura.
            if !r.data.is_empty() {
                for (n, v) in &r.headers {
                    headers.append(n.clone(), v.clone());
                }
            }
        }
        headers.insert(
            COMPLETED,
            HeaderValue::from_static(if complete { "true" } else { "false" }),
        );
        if let Some(err) = &outcome.error {
            tracing::debug!(error = %err, "endpoint error");
            if outcome.response.is_none() {
                return self.error_response(err, headers);
            }
        }
        let (status, body) = render::render(self.output, outcome.response, accept, &mut headers);
        let mut response = http::Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response
    }

    fn error_response(&self, err: &ProxyError, mut headers: HeaderMap) -> http::Response<Body> {
        let status = match err {
            ProxyError::WithStatus { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = if self.return_error_msg {
            let ct = match err {
                ProxyError::WithStatus {
                    content_type: Some(ct),
                    ..
                } if !ct.is_empty() => HeaderValue::from_str(ct).ok(),
                _ => None,
            };
            headers.insert(
                header::CONTENT_TYPE,
                ct.unwrap_or(HeaderValue::from_static("text/plain; charset=utf-8")),
            );
            body::full(err.to_string())
        } else {
            body::empty()
        };
        let mut response = http::Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response
    }
}

/// Path parameters under their normalised names (`id` -> `Id`), as backends look them up.
pub fn params_of(params: impl IntoIterator<Item = (String, String)>) -> HashMap<String, String> {
    params
        .into_iter()
        .map(|(k, v)| (normalize_param(&k), v))
        .collect()
}

/// Whether `text` makes a valid header value (as `HeaderValue::from_maybe_shared` checks):
/// no control character but the tab.
pub fn valid_value(text: &str) -> bool {
    text.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::pattern::RoutePattern;
    use crate::proxy::testing::data;
    use crate::proxy::{from_fn, Outcome};
    use http_body_util::BodyExt;
    use serde_json::json;

    fn cfg() -> EndpointConfig {
        EndpointConfig {
            endpoint: "/x".into(),
            pattern: RoutePattern::parse("/x").unwrap(),
            method: Method::GET,
            timeout: Duration::from_millis(200),
            cache_ttl: Duration::from_secs(60),
            concurrent_calls: 1,
            input_query_strings: vec!["a".into()],
            input_headers: vec![],
            output_encoding: OutputEncoding::Json,
            backends: vec![],
            proxy: Default::default(),
            security: Default::default(),
            traffic: Default::default(),
        }
    }

    fn client() -> ClientRequest {
        let mut headers = HeaderMap::new();
        headers.insert("x-secret", HeaderValue::from_static("s"));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/x"));
        ClientRequest {
            method: Method::GET,
            path: "/x".into(),
            query: Some("a=1&b=2".into()),
            headers,
            body: Bytes::new(),
            has_body: false,
            params: vec![("id".into(), "7".into())],
            client_ip: "127.0.0.1".into(),
            host: "gw:8080".into(),
        }
    }

    fn endpoint(cfg: &EndpointConfig, p: SharedProxy, msg: bool) -> Arc<Endpoint> {
        Arc::new(Endpoint::new(
            cfg,
            p,
            msg,
            HeaderValue::from_static("Version 2.13.8"),
            HeaderValue::from_static("KrakenD Version 2.13.8"),
        ))
    }

    async fn body_text(r: http::Response<Body>) -> String {
        String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn builds_the_backend_request_like_krakend() {
        let probe = from_fn(|r: Request| async move {
            let mut names: Vec<_> = r.headers.keys().map(|k| k.as_str().to_string()).collect();
            names.sort();
            Outcome::ok(data(json!({
                "headers": names,
                "query": r.query.keys().cloned().collect::<Vec<_>>(),
                "id": r.params.get("Id").cloned(),
            })))
        });
        let c = cfg();
        let r = endpoint(&c, probe, false).handle(client()).await;
        assert_eq!(r.headers()["cache-control"], "public, max-age=60");
        assert_eq!(r.headers()["x-krakend-completed"], "true");
        let v: serde_json::Value = serde_json::from_str(&body_text(r).await).unwrap();
        assert_eq!(
            v,
            json!({"headers":["content-type","user-agent","x-forwarded-for","x-forwarded-host"],"query":["a"],"id":"7"})
        );
    }

    /// The gateway's own headers, as each input-header choice leaves them: they replace a
    /// client header of the same name, never sit beside it.
    #[tokio::test]
    async fn the_gateways_headers_replace_passed_ones() {
        let probe = from_fn(|r: Request| async move {
            let mut pairs: Vec<String> = r
                .headers
                .iter()
                .filter(|(n, _)| n.as_str().starts_with("x-forwarded") || *n == header::USER_AGENT)
                .map(|(n, v)| format!("{n}={}", v.to_str().unwrap()))
                .collect();
            pairs.sort();
            Outcome::ok(data(json!({ "headers": pairs })))
        });
        let mut asked = client();
        for (name, value) in [
            ("x-forwarded-for", "10.0.0.9"),
            ("x-forwarded-host", "spoofed"),
            ("user-agent", "own-agent/1.0"),
        ] {
            asked.headers.insert(name, HeaderValue::from_static(value));
        }
        let ours = |extra: &[&str]| {
            let mut all = vec![
                "x-forwarded-for=127.0.0.1".to_string(),
                "x-forwarded-host=gw:8080".to_string(),
            ];
            all.extend(extra.iter().map(|s| s.to_string()));
            all.sort();
            json!({ "headers": all })
        };
        let cases = [
            (vec![], ours(&["user-agent=KrakenD Version 2.13.8"])),
            (
                vec!["*"],
                ours(&[
                    "user-agent=own-agent/1.0",
                    "x-forwarded-via=KrakenD Version 2.13.8",
                ]),
            ),
            (
                vec!["X-Forwarded-For", "User-Agent"],
                ours(&[
                    "user-agent=own-agent/1.0",
                    "x-forwarded-via=KrakenD Version 2.13.8",
                ]),
            ),
            (
                vec!["X-Forwarded-Host"],
                ours(&["user-agent=KrakenD Version 2.13.8"]),
            ),
        ];
        for (input_headers, want) in cases {
            let mut c = cfg();
            c.input_headers = input_headers.iter().map(|s| s.to_string()).collect();
            let mut request = client();
            request.headers = asked.headers.clone();
            let r = endpoint(&c, probe.clone(), false).handle(request).await;
            let got: serde_json::Value = serde_json::from_str(&body_text(r).await).unwrap();
            assert_eq!(got, want, "input_headers {input_headers:?}");
        }
    }

    #[test]
    fn valid_values_are_the_ones_header_values_take() {
        for b in 0..=255u8 {
            let text = format!("a{}b", char::from(b));
            assert_eq!(
                valid_value(&text),
                HeaderValue::from_maybe_shared(Bytes::from(text.clone())).is_ok(),
                "byte {b:#x}"
            );
        }
    }

    /// The order of a backend request's headers: passed ones as the client sent them (a
    /// name listed twice passes once), ours in place of a passed one of the same name, the
    /// rest of ours after them.
    #[test]
    fn backend_headers_keep_their_order() {
        let mut client = HeaderMap::new();
        for (name, value) in [
            ("x-forwarded-for", "10.0.0.9"),
            ("accept", "a"),
            ("x-forwarded-host", "spoofed"),
            ("user-agent", "own-agent/1.0"),
            ("content-type", "text/x"),
        ] {
            client.append(name, HeaderValue::from_static(value));
        }
        let ordered = |input_headers: &[&str]| {
            let mut c = cfg();
            c.input_headers = input_headers.iter().map(|s| s.to_string()).collect();
            let e = endpoint(&c, crate::proxy::testing::answering(json!({})), false);
            let mut sink = MapSink {
                map: HeaderMap::new(),
                client_ip: Some("127.0.0.1".into()),
                host: Some("gw:8080".into()),
                agent: &e.user_agent,
            };
            e.backend_headers(&client, (true, true), &mut sink);
            sink.map
                .iter()
                .map(|(n, v)| format!("{n}={}", v.to_str().unwrap()))
                .collect::<Vec<_>>()
        };
        let krakend = "KrakenD Version 2.13.8";
        assert_eq!(
            ordered(&[]),
            [
                "content-type=text/x".to_string(),
                "x-forwarded-for=127.0.0.1".into(),
                "x-forwarded-host=gw:8080".into(),
                format!("user-agent={krakend}"),
            ]
        );
        assert_eq!(
            ordered(&["*"]),
            [
                "x-forwarded-for=127.0.0.1".to_string(),
                "accept=a".into(),
                "x-forwarded-host=gw:8080".into(),
                "user-agent=own-agent/1.0".into(),
                "content-type=text/x".into(),
                format!("x-forwarded-via={krakend}"),
            ]
        );
        assert_eq!(
            ordered(&[
                "User-Agent",
                "X-Forwarded-Host",
                "Content-Type",
                "content-type"
            ]),
            [
                "user-agent=own-agent/1.0".to_string(),
                "x-forwarded-host=gw:8080".into(),
                "content-type=text/x".into(),
                "x-forwarded-for=127.0.0.1".into(),
                format!("x-forwarded-via={krakend}"),
            ]
        );
        assert_eq!(
            ordered(&["Accept", "Accept"]),
            [
                "accept=a".to_string(),
                "x-forwarded-for=127.0.0.1".into(),
                "x-forwarded-host=gw:8080".into(),
                format!("user-agent={krakend}"),
            ]
        );
    }

    #[tokio::test]
    async fn no_op_passes_the_backend_response_through_with_krakends_headers() {
        let backend = from_fn(|_| async {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/x"));
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            headers.insert(COMPLETED, HeaderValue::from_static("backend's"));
            Outcome::ok(crate::proxy::Response {
                data: Default::default(),
                is_complete: true,
                passthrough: Some(crate::proxy::Passthrough {
                    status: StatusCode::CREATED,
                    headers,
                    body: body::full("raw"),
                }),
                headers: Default::default(),
            })
        });
        let c = EndpointConfig {
            output_encoding: OutputEncoding::NoOp,
            ..cfg()
        };
        let r = endpoint(&c, backend, false).handle(client()).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(r.headers()["content-type"], "text/x");
        assert_eq!(r.headers()["x-krakend"], "Version 2.13.8");
        assert_eq!(r.headers()["x-krakend-completed"], "backend's");
        assert!(r.headers().get("connection").is_none());
        assert!(r.headers().get("cache-control").is_none());
        assert_eq!(r.headers().len(), 3);
        assert_eq!(body_text(r).await, "raw");
    }

    #[tokio::test]
    async fn errors_become_500_with_message_when_asked() {
        let failing = from_fn(|_| async { Outcome::err(ProxyError::Transport("boom".into())) });
        let c = cfg();
        let r = endpoint(&c, failing.clone(), true).handle(client()).await;
        assert_eq!(r.status(), 500);
        assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
        assert!(r.headers().get("cache-control").is_none());
        assert_eq!(r.headers()["x-krakend-completed"], "false");
        assert_eq!(body_text(r).await, "boom");
        let r = endpoint(&c, failing, false).handle(client()).await;
        assert_eq!(body_text(r).await, "");
    }

    #[tokio::test]
    async fn backend_status_is_kept_with_return_error_code() {
        let p = from_fn(|_| async {
            Outcome::err(ProxyError::WithStatus {
                status: 418,
                body: "{\"t\":1}".into(),
                content_type: Some("application/json".into()),
            })
        });
        let c = cfg();
        let r = endpoint(&c, p, true).handle(client()).await;
        assert_eq!(r.status(), 418);
        assert_eq!(r.headers()["content-type"], "application/json");
    }

    #[tokio::test]
    async fn endpoint_timeout_gives_500() {
        let slow = from_fn(|_| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Outcome::default()
        });
        let c = cfg();
        let r = endpoint(&c, slow, true).handle(client()).await;
        assert_eq!(r.status(), 500);
        assert_eq!(body_text(r).await, "context deadline exceeded");
    }
}
