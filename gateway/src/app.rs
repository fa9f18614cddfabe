//! The gateway as one service: router plus built-in routes plus endpoint handlers, built once
//! from the typed settings. The request path reads only these prepared structures.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use crate::server::RequestBody;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::Method;
use http_body_util::BodyExt;

use crate::backend::client::HttpClient;
use crate::body;
use crate::builtin;
use crate::config::namespaces::router::{ClientIpPolicy, ErrorBodies};
use crate::config::pattern::RoutePattern;
use crate::config::ServiceConfig;
use crate::endpoint::{ClientRequest, Endpoint};
use crate::pipeline;
use crate::reply::Reply;
use crate::router::{self, Lookup, Router, RouterFlags};
use crate::security::{Admission, EndpointGuards, ServiceGuards};

/// What a route leads to.
#[derive(Clone)]
enum Handler {
    Endpoint(Arc<Endpoint>, Option<Arc<EndpointGuards>>),
    Health,
    Debug,
    Echo,
}

/// The built gateway.
pub struct Gateway {
    router: Router<Handler>,
    access_log: bool,
    skip_paths: Vec<String>,
    check_params: bool,
    remove_extra_slash: bool,
    error_body: ErrorBodies,
    client_ip: ClientIpPolicy,
    guards: ServiceGuards,
}

const ANY: [Method; 9] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::HEAD,
    Method::OPTIONS,
    Method::DELETE,
    Method::CONNECT,
    Method::TRACE,
];

impl Gateway {
    /// Builds every route and pipeline; returns the route conflicts if any.
    pub fn build(cfg: &ServiceConfig, debug: bool) -> Result<Self, Vec<String>> {
        Self::build_metered(cfg, debug, None)
    }

    /// [`Gateway::build`], registering router and backend series in `metrics`. The relay
    /// serves the endpoints it may ([`crate::relay`]) unless `CEPHALO_RELAY=off`.
    pub fn build_metered(
        cfg: &ServiceConfig,
        debug: bool,
        metrics: Option<&crate::metrics::Registry>,
    ) -> Result<Self, Vec<String>> {
        let relay = std::env::var("CEPHALO_RELAY").map_or(true, |v| v != "off");
        Self::build_with(cfg, debug, metrics, relay)
    }

    /// [`Gateway::build_metered`], with the relay on or off.
    pub fn build_with(
        cfg: &ServiceConfig,
        debug: bool,
        metrics: Option<&crate::metrics::Registry>,
        relay: bool,
    ) -> Result<Self, Vec<String>> {
        let metered =
            metrics.is_some_and(|m| m.router_enabled || m.proxy_enabled || m.backend_enabled);
        let flags = RouterFlags {
            redirect_trailing_slash: cfg.router.redirect_trailing_slash,
            redirect_fixed_path: cfg.router.redirect_fixed_path,
            handle_method_not_allowed: cfg.router.handle_method_not_allowed,
        };
        let mut router = Router::new(flags);
        let mut conflicts = Vec::new();
        let mut add = |router: &mut Router<Handler>, m: Method, path: &str, h: Handler| {
            match RoutePattern::parse(path) {
                Ok(p) => {
                    if let Err(e) = router.insert(m, &p, path, h) {
                        conflicts.push(e);
                    }
                }
                Err(e) => conflicts.push(e),
            }
        };
        if cfg.router.health {
            add(
                &mut router,
                Method::GET,
                &cfg.router.health_path,
                Handler::Health,
            );
        }
        if debug || cfg.debug_endpoint {
            for m in [
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ] {
                add(&mut router, m, "/__debug/*", Handler::Debug);
            }
        }
        if cfg.echo_endpoint {
            for m in ANY {
                add(&mut router, m, "/__echo/*", Handler::Echo);
            }
        }
        let client = match HttpClient::new(&cfg.client_tls, &cfg.transport) {
            Ok(c) => c,
            Err(e) => {
                conflicts.push(format!("client_tls: {e}"));
                HttpClient::default()
            }
        };
        let version = HeaderValue::from_str(&if cfg.router.hide_version_header {
            "Version undefined".to_string()
        } else {
            format!("Version {}", crate::COMPAT_VERSION)
        })
        .expect("ascii version");
        let user_agent =
            HeaderValue::from_str(&format!("KrakenD Version {}", crate::COMPAT_VERSION))
                .expect("ascii user agent");
        for e in &cfg.endpoints {
            // A relayed endpoint's stack is its one backend, which the relay calls too.
            let relayed = match relay.then(|| crate::relay::ineligible(e, metered)) {
                Some(None) => {
                    tracing::debug!(endpoint = %e.endpoint, "served by the relay");
                    Some(crate::relay::Relay::new(&e.backends[0], client.clone()))
                }
                Some(Some(why)) => {
                    tracing::debug!(endpoint = %e.endpoint, why, "served by the proxy stack");
                    None
                }
                None => None,
            };
            let proxy = match &relayed {
                Some(relay) => relay.proxy(),
                None => pipeline::build_metered(e, &client, metrics),
            };
            let guards = match EndpointGuards::build(&e.security, &client) {
                Ok(g) => g.map(Arc::new),
                Err(err) => {
                    conflicts.push(format!("{}: {err}", e.endpoint));
                    None
                }
            };
            let handler = Endpoint::new(
                e,
                proxy,
                cfg.router.return_error_msg,
                version.clone(),
                user_agent.clone(),
            );
            let mut handler = match e
                .security
                .jwt_signer
                .as_ref()
                .map(|s| crate::security::signer::JwtSigner::new(s, &client))
                .transpose()
            {
                Ok(signer) => handler.with_signer(signer),
                Err(err) => {
                    conflicts.push(format!("{}: auth/signer: {err}", e.endpoint));
                    handler
                }
            };
            if let Some(m) = metrics.filter(|m| m.router_enabled) {
                handler = handler.with_metrics(m.route(e.method.as_str(), &e.endpoint));
            }
            handler = handler.with_relay(relayed);
            if let Err(err) = router.insert(
                e.method.clone(),
                &e.pattern,
                &e.endpoint,
                Handler::Endpoint(Arc::new(handler), guards),
            ) {
                conflicts.push(err);
            }
        }
        if conflicts.is_empty() {
            Ok(Self {
                router,
                access_log: cfg.router.access_log,
                skip_paths: cfg.router.logger_skip_paths.clone(),
                check_params: !cfg.router.disable_path_decoding,
                remove_extra_slash: cfg.router.remove_extra_slash,
                error_body: cfg.router.error_body.clone(),
                client_ip: cfg.router.client_ip.clone(),
                guards: ServiceGuards::new(
                    &cfg.security,
                    cfg.tls.as_ref().is_some_and(|t| !t.disabled),
                ),
            })
        } else {
            Err(conflicts)
        }
    }

    /// Every route, for `check -t`.
    pub fn routes(&self) -> Vec<(Method, String)> {
        self.router.routes()
    }

    /// Serves one request. Routing, the guards that need no waiting and, for a body that
    /// came whole with its head, the endpoint's own first steps run now; the future returned
    /// holds only what is left to wait for. Every request's future is allocated and moved as
    /// a whole, so keeping it small keeps each request cheap.
    pub fn handle(
        self: &Arc<Self>,
        req: http::Request<RequestBody>,
        remote: SocketAddr,
    ) -> Handled {
        // gin's logger: the path with its raw query, skipped by exact path.
        let access = (self.access_log && !self.skip_paths.iter().any(|p| p == req.uri().path()))
            .then(|| AccessEntry {
                started: Instant::now(),
                method: req.method().clone(),
                path: req
                    .uri()
                    .path_and_query()
                    .map_or_else(|| req.uri().path().to_string(), |p| p.to_string()),
                ip: self.client_ip.client_ip(req.headers(), remote.ip()),
            });
        let (routed, extra) = match self.guards.admit(req.method(), req.uri(), req.headers()) {
            Admission::Answer(r) => (Routed::Ready(Reply::Made(r)), None),
            Admission::Route(extra) => (self.route(req, remote), extra),
        };
        let after =
            (extra.is_some() || access.is_some()).then(|| Box::new(After { extra, access }));
        Handled {
            routed: Some(routed),
            after,
        }
    }

    /// Routes a request. An endpoint without guards whose body arrived whole is started
    /// right away; guards and a body still arriving wait in [`Gateway::admit_and_read`].
    fn route(self: &Arc<Self>, req: http::Request<RequestBody>, remote: SocketAddr) -> Routed {
        let mut path = router::path::decode(req.uri().path());
        if self.remove_extra_slash {
            path = router::path::clean(&path);
        }
        let found = match self.router.lookup(req.method(), &path) {
            Lookup::Found(found) => found,
            Lookup::Redirect(to) => {
                let location = match req.uri().query() {
                    Some(q) => format!("{to}?{q}"),
                    None => to,
                };
                return Routed::Ready(builtin::redirect(req.method(), &location).into());
            }
            Lookup::MethodNotAllowed(allowed) => {
                return Routed::Ready(
                    builtin::with_error_body(
                        builtin::method_not_allowed(&allowed),
                        self.error_body.method_not_allowed.as_ref(),
                    )
                    .into(),
                )
            }
            Lookup::NotFound => {
                return Routed::Ready(
                    builtin::with_error_body(
                        builtin::not_found(),
                        self.error_body.not_found.as_ref(),
                    )
                    .into(),
                )
            }
        };
        if self.check_params && found.params.iter().any(|(_, v)| still_encoded(v)) {
            return Routed::Ready(builtin::bad_params().into());
        }
        let (parts, mut incoming) = req.into_parts();
        // Guards run before the body is read, so a guarded endpoint always waits.
        let guarded = matches!(found.value, Handler::Endpoint(_, Some(_)));
        let whole = if guarded { None } else { incoming.take_whole() };
        match whole {
            Some(body) => self.serve(found.value, found.params, path, parts, body, remote),
            None => {
                let this = Arc::clone(self);
                let handler = found.value.clone();
                let request = http::Request::from_parts(parts, incoming);
                Routed::Waiting(Box::pin(async move {
                    this.admit_and_read(handler, found.params, path, request, remote)
                        .await
                }))
            }
        }
    }

    /// The endpoint's guards (they may fetch keys) and a body that is still arriving, then
    /// [`Gateway::serve`].
    async fn admit_and_read(
        self: Arc<Self>,
        handler: Handler,
        mut params: Vec<(String, String)>,
        path: String,
        mut req: http::Request<RequestBody>,
        remote: SocketAddr,
    ) -> Reply {
        // Endpoint guards answer before the body is read.
        if let Handler::Endpoint(_, Some(g)) = &handler {
            // Boxed: the validator's future (a JWK fetch inside) would otherwise grow this one.
            match Box::pin(g.admit(req.headers_mut())).await {
                Ok(extra) => params.extend(extra),
                Err(r) => return Reply::Made(*r),
            }
        }
        let (parts, incoming) = req.into_parts();
        let body = match incoming.collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                tracing::debug!(error = %e, "reading the client body failed");
                let mut r = http::Response::new(body::empty());
                *r.status_mut() = http::StatusCode::BAD_REQUEST;
                return r.into();
            }
        };
        match self.serve(&handler, params, path, parts, body, remote) {
            Routed::Ready(r) => r,
            Routed::Waiting(f) => f.await,
        }
    }

    /// A routed request with its whole body: the built-in answers, or the endpoint started.
    fn serve(
        &self,
        handler: &Handler,
        params: Vec<(String, String)>,
        path: String,
        parts: http::request::Parts,
        body: Bytes,
        remote: SocketAddr,
    ) -> Routed {
        let host = host_of(&parts);
        let query = parts.uri.query().map(str::to_string);
        Routed::Ready(Reply::Made(match handler {
            Handler::Endpoint(e, _) => {
                let request = ClientRequest {
                    has_body: has_body(&parts.headers),
                    method: parts.method,
                    path,
                    query,
                    client_ip: self.client_ip.client_ip(&parts.headers, remote.ip()),
                    host,
                    headers: parts.headers,
                    body,
                    params,
                };
                return Routed::Waiting(e.start(request));
            }
            Handler::Health => builtin::health(),
            Handler::Debug => builtin::debug(
                &parts.method,
                &uri_string(&parts.uri),
                &parts.headers,
                &body,
            ),
            Handler::Echo => builtin::echo(
                &parts.method,
                &uri_string(&parts.uri),
                &path,
                query.as_deref(),
                &host,
                &parts.headers,
                &body,
            ),
        }))
    }
}

/// A request being handled ([`Gateway::handle`]): its answer, or the answer to wait for,
/// and what comes after it (service guards' headers, the access log), if anything.
pub struct Handled {
    routed: Option<Routed>,
    after: Option<Box<After>>,
}

/// What a handled request's answer goes through before it is sent (rare: a boxed extra).
struct After {
    /// Service guards' headers (CORS, `security/http`).
    extra: Option<HeaderMap>,
    access: Option<AccessEntry>,
}

/// One line of gin's access log, waiting for its status.
struct AccessEntry {
    started: Instant,
    method: Method,
    path: String,
    ip: String,
}

impl Future for Handled {
    type Output = Reply;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Reply> {
        let mut reply = match self.routed.as_mut() {
            Some(Routed::Waiting(f)) => std::task::ready!(f.as_mut().poll(cx)),
            Some(Routed::Ready(_)) => match self.routed.take() {
                Some(Routed::Ready(r)) => r,
                _ => unreachable!("matched just above"),
            },
            None => panic!("a handled request polled after its answer"),
        };
        self.routed = None;
        if let Some(after) = self.after.take() {
            let After { extra, access } = *after;
            // Service guards' headers: a relayed answer takes them as it is written, any
            // other in its map.
            reply = match (reply, extra) {
                (reply, None) => reply,
                (Reply::Relayed(mut relayed), Some(extra)) => {
                    relayed.extra = Some(Box::new(extra));
                    Reply::Relayed(relayed)
                }
                (reply, extra) => {
                    let mut response = reply.into_response();
                    ServiceGuards::finish(extra, &mut response);
                    Reply::Made(response)
                }
            };
            if let Some(AccessEntry {
                started,
                method,
                path,
                ip,
            }) = access
            {
                // gin's default formatter without colours (the message follows "[GIN] <time> ").
                tracing::info!(
                    target: "krakend::access",
                    "| {:3} | {:>13} | {:>15} | {:<7}  {}",
                    reply.status().as_u16(),
                    crate::config::duration::format_go_duration(started.elapsed()),
                    ip,
                    method.as_str(),
                    crate::fc::go_quote(&path)
                );
            }
        }
        std::task::Poll::Ready(reply)
    }
}

/// A routed request: answered already, or an answer to wait for.
enum Routed {
    Ready(Reply),
    Waiting(Pin<Box<dyn Future<Output = Reply> + Send>>),
}

/// gin's `paramChecker`: a parameter that still decodes (double encoding) or carries `?`/`#`
/// is refused, which stops `..%252F` style traversal towards backends.
fn still_encoded(value: &str) -> bool {
    value.contains(['?', '#']) || (value.contains('%') && router::path::decode(value) != value)
}

fn uri_string(uri: &http::Uri) -> String {
    uri.path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into())
}

fn has_body(h: &HeaderMap) -> bool {
    let length = crate::http1::first_value(h, &header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match length {
        Some(n) => n > 0,
        None => crate::http1::has_header(h, &header::TRANSFER_ENCODING),
    }
}

fn host_of(parts: &http::request::Parts) -> String {
    crate::http1::first_value(&parts.headers, &header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .unwrap_or_default()
}
