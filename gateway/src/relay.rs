//! The relay: how an endpoint that only passes one backend's response through is served.
//!
//! A `no-op` endpoint whose one `no-op` backend has no layer around it (no script, breaker,
//! limit, validation, modifier, cache or metrics) needs nothing of the proxy tiers' request
//! and response structures. The relay writes the backend request's head straight from the
//! client request, with the same headers in the same order as the general path's (both are
//! listed by [`Endpoint::backend_headers`], and the backend's filters and client settings are
//! the same code), and hands the backend's response head back as it came
//! ([`Reply::Relayed`]): the HTTP/1.x connection writes it with no header map built. What
//! the general path does besides goes through the general path's own code: a redirect to
//! follow ([`HttpClient::send_after`]), a body compressed at the gateway's request, an error
//! or the endpoint timeout ([`Endpoint::respond`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::header::{self, HeaderName, HeaderValue};
use http::Uri;

use crate::backend::client::{
    follows, is_replayable, parse_url, response_of, BodyMode, HttpClient,
};
use crate::backend::h1::{HeadWriter, HostLine, OutgoingBody, ResponseHead};
use crate::backend::pool::PooledBody;
use crate::backend::{body_mode, BackendProxy};
use crate::config::{BackendConfig, BackendEncoding, EndpointConfig, OutputEncoding};
use crate::endpoint::{
    params_of, valid_value, ClientRequest, Endpoint, EndpointFuture, HeaderSink, Ours,
};
use crate::error::ProxyError;
use crate::http1::{has_header, is_hop_by_hop, visible_str};
use crate::proxy::Outcome;
use crate::reply::{Relayed, Reply};

/// Why an endpoint is served by the general path rather than the relay; `None` when the
/// relay may serve it. `metered`: router, proxy or backend metrics are on.
pub fn ineligible(e: &EndpointConfig, metered: bool) -> Option<&'static str> {
    let [b] = e.backends.as_slice() else {
        return Some("not exactly one backend");
    };
    let input_headers_ok = e.input_headers.iter().all(|h| {
        h == "*"
            || HeaderName::from_bytes(h.as_bytes()).is_ok_and(|n| {
                !is_hop_by_hop(&n)
                    && n != header::HOST
                    && n != header::CONTENT_LENGTH
                    && n != header::TRANSFER_ENCODING
            })
    });
    let backend_traffic = &b.traffic;
    let endpoint_traffic = &e.traffic;
    [
        (
            e.output_encoding != OutputEncoding::NoOp,
            "output_encoding is not no-op",
        ),
        (
            b.encoding != BackendEncoding::NoOp,
            "the backend's encoding is not no-op",
        ),
        (b.proxy.shadow, "a shadow backend"),
        (e.concurrent_calls > 1, "concurrent_calls"),
        (metered, "metrics"),
        (!input_headers_ok, "input_headers names a connection header"),
        (!plain_hosts(b), "a host that is not scheme://authority"),
        (
            e.proxy.static_data.is_some() || !e.proxy.flatmap.is_empty(),
            "proxy options",
        ),
        (
            endpoint_traffic.json_schema.is_some()
                || !endpoint_traffic.cel.is_empty()
                || endpoint_traffic.rate_limit.is_some()
                || endpoint_traffic.lua_endpoint.is_some()
                || endpoint_traffic.lua_proxy.is_some(),
            "endpoint traffic or validation namespaces",
        ),
        (
            e.security.bot_detector.is_some()
                || e.security.jwt_validator.is_some()
                || e.security.jwt_signer.is_some(),
            "endpoint security namespaces",
        ),
        (
            !backend_traffic.cel.is_empty()
                || backend_traffic.rate_limit.is_some()
                || backend_traffic.circuit_breaker.is_some()
                || backend_traffic.http_cache.is_some()
                || backend_traffic.martian.is_some()
                || backend_traffic.lua.is_some(),
            "backend traffic, validation or modifier namespaces",
        ),
    ]
    .into_iter()
    .find_map(|(applies, why)| applies.then_some(why))
}

/// Whether every host is only an `http` or `https` scheme and an authority, whose URLs the
/// backend builds without a parse per request.
fn plain_hosts(b: &BackendConfig) -> bool {
    !b.hosts.is_empty()
        && b.hosts.iter().all(|h| {
            crate::backend::origin_of(h)
                .is_some_and(|(scheme, _)| matches!(scheme.as_str(), "http" | "https"))
        })
}

/// An endpoint's one backend, served through the relay.
pub struct Relay {
    backend: Arc<BackendProxy>,
}

impl Relay {
    /// The relay of an endpoint `ineligible` lets through, calling its backend `cfg`.
    pub fn new(cfg: &BackendConfig, client: HttpClient) -> Self {
        Self {
            backend: Arc::new(BackendProxy::new(cfg, client, 1)),
        }
    }

    /// The backend as the endpoint's proxy stack (what `ineligible` lets through has no
    /// other layer): the same backend, round robin and pool as the relay's.
    pub fn proxy(&self) -> crate::proxy::SharedProxy {
        self.backend.clone()
    }

    /// Starts serving `c` for `endpoint`: the backend's target is chosen now, the exchange
    /// runs under the endpoint's timeout.
    pub fn start(&self, endpoint: &Arc<Endpoint>, c: ClientRequest) -> EndpointFuture {
        let (host, url, uri) = {
            let query = endpoint.query_of(c.query.as_deref());
            let params = params_of(c.params.iter().cloned());
            self.backend.next_target(&query, &params)
        };
        // A URL that does not parse (a parameter with a space, say) fails as it does on the
        // general path.
        let uri = match uri.map_or_else(|| parse_url(&url), Ok) {
            Ok(uri) => uri,
            Err(e) => {
                let answer = endpoint.respond(Outcome::err(e), None);
                return Box::pin(std::future::ready(Reply::Made(answer)));
            }
        };
        // The box is taken first so that the future is made in it rather than moved there.
        let slot = Box::new_uninit();
        let target = Target { host, url, uri };
        let call = exchange(Arc::clone(endpoint), Arc::clone(&self.backend), c, target);
        let relaying = Box::write(
            slot,
            Relaying {
                call: crate::timeout::within(endpoint.timeout(), call),
                endpoint: Arc::clone(endpoint),
            },
        );
        Box::into_pin(relaying)
    }
}

pin_project_lite::pin_project! {
    /// A relayed request: the exchange under the endpoint's timeout, then the answer.
    struct Relaying<F> {
        #[pin]
        call: crate::timeout::Within<F>,
        endpoint: Arc<Endpoint>,
    }
}

impl<F: Future<Output = Called>> Future for Relaying<F> {
    type Output = Reply;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reply> {
        let this = self.project();
        let outcome = match ready!(this.call.poll(cx)) {
            Ok(Called::Relayed(relayed)) => return Poll::Ready(Reply::Relayed(relayed)),
            Ok(Called::General(outcome)) => outcome,
            Err(_) => Outcome::err(ProxyError::Timeout),
        };
        Poll::Ready(Reply::Made(this.endpoint.respond(outcome, None)))
    }
}

/// What an exchange came to: a response to relay, or an outcome for the general path's
/// answer.
enum Called {
    Relayed(Relayed),
    General(Outcome),
}

/// Where a relayed request goes: which of the backend's hosts, the URL, its parsed URI.
struct Target {
    host: usize,
    url: String,
    uri: Uri,
}

/// Sends `c` to `target` and reads the response head.
async fn exchange(
    endpoint: Arc<Endpoint>,
    backend: Arc<BackendProxy>,
    c: ClientRequest,
    target: Target,
) -> Called {
    let (endpoint, backend) = (&*endpoint, &*backend);
    let Target { host, url, uri } = target;
    // The host's `Host` line, written once at start-up.
    let host_line = match backend.host_line(host) {
        Some(line) => HostLine::Written(line),
        None => HostLine::Of(&uri),
    };
    let client = backend.client();
    let method = backend.method();
    // As the general path decides them from the headers it passes.
    let passed = |name: &HeaderName| {
        has_header(&c.headers, name) && endpoint.passes_header(name) && backend.passes_header(name)
    };
    let sized = has_header(&c.headers, &header::CONTENT_LENGTH)
        && endpoint.passes_header(&header::CONTENT_LENGTH);
    let mode = body_mode(method, c.has_body, &c.body, sized);
    let mut attempt = client.first_attempt();
    attempt.decompress = client.asks_for_gzip(
        method,
        passed(&header::ACCEPT_ENCODING),
        passed(&header::RANGE),
    );
    let prepare = || {
        let body = match mode {
            BodyMode::None => OutgoingBody::None,
            BodyMode::Empty => OutgoingBody::Sized(bytes::Bytes::new()),
            BodyMode::Sized => OutgoingBody::Sized(c.body.clone()),
            BodyMode::Chunked => OutgoingBody::Chunked(c.body.clone()),
        };
        let mut head = HeadWriter::new(method, &uri, &body, c.headers.len() + 4);
        let mut sink = WireSink {
            head: &mut head,
            backend,
            client_ip: c.client_ip.as_bytes(),
            host: c.host.as_bytes(),
            agent: endpoint.user_agent(),
        };
        let forwarded = (valid_value(&c.client_ip), valid_value(&c.host));
        endpoint.backend_headers(&c.headers, forwarded, &mut sink);
        attempt.add_fields(&mut head);
        head.finish_with(method, host_line, body)
    };
    let replayable = is_replayable(method, mode);
    let (head, body) = match client
        .exchange_with(&uri, method, &url, replayable, prepare)
        .await
    {
        Ok(answer) => answer,
        Err(e) => return Called::General(Outcome::err(e)),
    };
    let redirect = follows(head.status, mode, !c.body.is_empty())
        && head.fields.get("location").and_then(visible_str).is_some();
    let compressed = attempt.decompress && head.fields.contains("content-encoding");
    if !redirect && !compressed {
        return Called::Relayed(Relayed {
            status: head.status,
            fields: head.fields,
            body,
            version: endpoint.version().clone(),
            extra: None,
        });
    }
    let first = FirstTry {
        url,
        uri,
        attempt,
        head,
        body,
    };
    // Boxed: rare, and its future is large.
    Called::General(Box::pin(general_after(endpoint, backend, c, first)).await)
}

/// The first try of a relayed request, as the general path takes it over.
struct FirstTry {
    url: String,
    uri: Uri,
    attempt: crate::backend::client::Attempt,
    head: ResponseHead,
    body: PooledBody,
}

/// The general path's handling of a first answer it needs: the redirects it starts, or a
/// body compressed at the gateway's request, read whole and undone.
async fn general_after(
    endpoint: &Endpoint,
    backend: &BackendProxy,
    c: ClientRequest,
    first: FirstTry,
) -> Outcome {
    let FirstTry {
        url,
        uri,
        attempt,
        head,
        body,
    } = first;
    let method = backend.method().clone();
    let first = match response_of(head, body, &method, &url) {
        Ok(first) => first,
        Err(e) => return Outcome::err(e),
    };
    let request = endpoint.proxy_request(c);
    let mut out = backend.outgoing_to(request, method, url, Some(uri));
    let received = match backend.client().send_after(&mut out, attempt, first).await {
        Ok(received) => received,
        Err(e) => return Outcome::err(e),
    };
    match backend.passthrough(received).await {
        Ok(response) => Outcome::ok(response),
        Err(e) => Outcome::err(e),
    }
}

/// Writes a backend request's headers straight into its head, through the backend's
/// `input_headers`; `Content-Length` is the body's own.
struct WireSink<'a> {
    head: &'a mut HeadWriter,
    backend: &'a BackendProxy,
    client_ip: &'a [u8],
    host: &'a [u8],
    agent: &'a HeaderValue,
}

impl HeaderSink for WireSink<'_> {
    fn passed(&mut self, name: &HeaderName, value: &HeaderValue) {
        if name != header::CONTENT_LENGTH && self.backend.passes_header(name) {
            self.head.field(name, value.as_bytes());
        }
    }

    fn ours(&mut self, name: HeaderName, value: Ours) {
        if !self.backend.passes_header(&name) {
            return;
        }
        let (canonical, value): (&[u8], &[u8]) = match value {
            Ours::ClientIp => (b"X-Forwarded-For", self.client_ip),
            Ours::Host => (b"X-Forwarded-Host", self.host),
            Ours::Agent if name == header::USER_AGENT => (b"User-Agent", self.agent.as_bytes()),
            Ours::Agent => (b"X-Forwarded-Via", self.agent.as_bytes()),
        };
        self.head.field_named(&name, canonical, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Why each endpoint of `endpoints` (a JSON array) is not relayed, `None` where it is.
    fn verdicts(endpoints: &str, metered: bool) -> Vec<Option<&'static str>> {
        let cfg = crate::config::parse_str(
            &format!(r#"{{"version": 3, "endpoints": {endpoints}}}"#),
            crate::config::Format::Json,
            std::path::Path::new("t.json"),
        )
        .unwrap();
        cfg.endpoints
            .iter()
            .map(|e| ineligible(e, metered))
            .collect()
    }

    #[test]
    fn only_a_bare_no_op_endpoint_with_one_plain_backend_is_relayed() {
        let noop = |extra: &str, backend_extra: &str| {
            format!(
                r#"{{"endpoint": "/e", "output_encoding": "no-op"{extra}, "backend": [
                    {{"host": ["http://b:8080"], "url_pattern": "/x", "encoding": "no-op"{backend_extra}}}]}}"#
            )
        };
        let cases = [
            (noop("", ""), None),
            (noop(r#", "input_headers": ["*"]"#, ""), None),
            (noop(r#", "input_headers": ["X-A", "User-Agent"]"#, r#", "input_headers": ["X-A"]"#), None),
            (noop(r#", "input_query_strings": ["*"]"#, r#", "method": "POST""#), None),
            (noop(r#", "input_headers": ["Connection"]"#, ""), Some("input_headers names a connection header")),
            (noop(r#", "input_headers": ["Content-Length"]"#, ""), Some("input_headers names a connection header")),
            (noop("", r#", "host": ["http://b:8080/base"]"#), Some("a host that is not scheme://authority")),
            (noop(r#", "concurrent_calls": 2"#, ""), Some("concurrent_calls")),
            (
                noop(r#", "extra_config": {"qos/ratelimit/router": {"max_rate": 10}}"#, ""),
                Some("endpoint traffic or validation namespaces"),
            ),
            (
                noop("", r#", "extra_config": {"qos/circuit-breaker": {"interval": 60, "timeout": 10, "max_errors": 1}}"#),
                Some("backend traffic, validation or modifier namespaces"),
            ),
            (
                r#"{"endpoint": "/e", "backend": [{"host": ["http://b:8080"], "url_pattern": "/x"}]}"#.to_string(),
                Some("output_encoding is not no-op"),
            ),

        ];
        for (endpoint, want) in cases {
            assert_eq!(
                verdicts(&format!("[{endpoint}]"), false),
                [want],
                "{endpoint}"
            );
        }
        assert_eq!(
            verdicts(&format!("[{}]", noop("", "")), true),
            [Some("metrics")]
        );
    }

    /// A relayed request's future is allocated and moved whole for every request: it holds
    /// its exchange once (an `async` wrapper and the timeout as an `async fn` held it
    /// three times).
    #[test]
    fn a_relayed_request_holds_its_exchange_once() {
        let cfg = crate::config::parse_str(
            r#"{"version": 3, "endpoints": [{"endpoint": "/e", "output_encoding": "no-op", "backend": [
                {"host": ["http://b:8080"], "url_pattern": "/x", "encoding": "no-op"}]}]}"#,
            crate::config::Format::Json,
            std::path::Path::new("t.json"),
        )
        .unwrap();
        let e = &cfg.endpoints[0];
        let client = HttpClient::default();
        let relay = Relay::new(&e.backends[0], client.clone());
        let endpoint = Arc::new(Endpoint::new(
            e,
            crate::pipeline::build(e, &client),
            false,
            HeaderValue::from_static("Version x"),
            HeaderValue::from_static("KrakenD Version x"),
        ));
        let request = || ClientRequest {
            method: http::Method::GET,
            path: "/e".into(),
            query: None,
            headers: http::HeaderMap::new(),
            body: bytes::Bytes::new(),
            has_body: false,
            params: vec![],
            client_ip: "127.0.0.1".into(),
            host: "gw".into(),
        };
        let whole = std::mem::size_of_val(&*relay.start(&endpoint, request()));
        let uri: Uri = "http://b:8080/x".parse().unwrap();
        let target = Target {
            host: 0,
            url: "u".into(),
            uri,
        };
        let exchange = exchange(endpoint, relay.backend.clone(), request(), target);
        let once = std::mem::size_of_val(&exchange);
        assert!(
            whole <= once + 96,
            "{whole} bytes for an exchange of {once}"
        );
    }
}
