//! The pooled HTTP client shared by all backends: keep-alive pools keyed by host, built once
//! from the service's transport settings (KrakenD's `max_idle_connections_per_host`,
//! `dialer_timeout`, `response_header_timeout`...), Go-like redirect following and gzip
//! handling.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Uri};
use http_body_util::BodyExt;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::h1::{HeadWriter, OutgoingBody, PreparedRequest, ResponseHead};
use super::pool::{ConnectionPool, PoolError, PoolLimits, PooledBody};
use crate::config::transport::TransportSettings;
use crate::config::ClientTlsConfig;
use crate::error::ProxyError;
use crate::http1::has_header;
use crate::tls::TlsError;

const MAX_REDIRECTS: usize = 10;

/// How the request body is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyMode {
    /// No body, no `Content-Length`.
    None,
    /// `Content-Length: 0`.
    Empty,
    /// The body with its `Content-Length`.
    Sized,
    /// The body, chunked.
    Chunked,
}

/// One outgoing backend request.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// `url` already parsed, when it was built from parts that were (see
    /// `backend::Inner::target`); `None` otherwise, and whenever `url` changes.
    pub uri: Option<Uri>,
    /// Headers (no hop-by-hop, no `Host`, no `Content-Length`).
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Bytes,
    /// How to send them.
    pub mode: BodyMode,
}

/// A backend response after redirects.
pub struct Received {
    /// The final response.
    pub response: http::Response<PooledBody>,
    /// The URL that produced it.
    pub url: String,
    /// Whether the gateway asked for gzip itself (and so must undo it).
    pub decompress: bool,
}

/// The shared client.
#[derive(Clone)]
pub struct HttpClient {
    pool: ConnectionPool,
    /// Add `Accept-Encoding: gzip` (and undo it) when the request has none.
    request_gzip: bool,
    /// `disable_keep_alives`: every request carries `Connection: close`.
    close_connections: bool,
    response_header_timeout: Option<Duration>,
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new(&ClientTlsConfig::default(), &TransportSettings::default())
            .expect("default TLS settings are valid")
    }
}

/// Debian's CA bundle, the usual place in container images.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Adds the certificates of `SSL_CERT_FILE`, else of [`SYSTEM_CA_BUNDLE`], when readable;
/// unreadable or malformed entries are skipped (the bundled roots remain).
fn add_system_bundle(roots: &mut rustls::RootCertStore) -> usize {
    let path = std::env::var_os("SSL_CERT_FILE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| SYSTEM_CA_BUNDLE.into());
    let Ok(iter) = CertificateDer::pem_file_iter(&path) else {
        return 0;
    };
    let (added, _ignored) = roots.add_parsable_certificates(iter.flatten());
    tracing::debug!(path = %path.display(), added, "system CA bundle loaded");
    added
}

/// The rustls settings for backend calls.
fn tls_config(cfg: &ClientTlsConfig) -> Result<rustls::ClientConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    if cfg.allow_insecure_connections {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth());
    }
    let mut roots = rustls::RootCertStore::empty();
    if !cfg.disable_system_ca_pool {
        // Bundled Mozilla roots, plus the system bundle when the image ships one.
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        add_system_bundle(&mut roots);
    }
    for path in &cfg.ca_certs {
        let pem_error = |e: &dyn std::fmt::Display| TlsError::Pem {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| pem_error(&e))? {
            roots.add(cert.map_err(|e| pem_error(&e))?)?;
        }
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// `allow_insecure_connections`: any certificate is accepted (signatures still checked).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

impl HttpClient {
    /// A client with the given transport settings and backend TLS trust.
    pub fn new(tls: &ClientTlsConfig, transport: &TransportSettings) -> Result<Self, TlsError> {
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_nodelay(true);
        // Go's dialer sets both the idle time and the probe interval to `KeepAlive`.
        connector.set_keepalive(transport.tcp_keep_alive);
        connector.set_keepalive_interval(transport.tcp_keep_alive);
        connector.set_connect_timeout(transport.dial_timeout);
        connector.set_happy_eyeballs_timeout(Some(transport.fallback_delay));
        connector.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(tls)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let max_idle_per_host = if transport.disable_keep_alives {
            0
        } else {
            transport.max_idle_per_host
        };
        let pool = ConnectionPool::new(
            connector,
            PoolLimits {
                max_idle_per_host,
                max_idle_total: transport.max_idle_total,
                idle_timeout: transport.idle_timeout,
            },
        );
        Ok(Self {
            pool,
            request_gzip: !transport.disable_compression,
            close_connections: transport.disable_keep_alives,
            response_header_timeout: transport.response_header_timeout,
        })
    }

    /// One exchange of the request `prepare` makes: resolves when the response head has
    /// arrived (as it came), within `response_header_timeout` when set. A replayable request
    /// that met a connection the backend had just closed is prepared (`prepare` is called
    /// again) and sent once more on a new one, as Go does. `method` and `url` name the
    /// request in errors.
    pub async fn exchange_with(
        &self,
        uri: &Uri,
        method: &Method,
        url: &str,
        replayable: bool,
        prepare: impl Fn() -> PreparedRequest,
    ) -> Result<(ResponseHead, PooledBody), ProxyError> {
        let mut replayed = false;
        loop {
            let pending = self.pool.send(uri, prepare());
            let result = match self.response_header_timeout {
                None => pending.await,
                // Boxed: the exchange's future stays stored once in this one.
                Some(limit) => match tokio::time::timeout(limit, Box::pin(pending)).await {
                    Ok(r) => r,
                    // Go's wording for `ResponseHeaderTimeout`.
                    Err(_) => {
                        return Err(transport_error(
                            method,
                            url,
                            "net/http: timeout awaiting response headers".into(),
                        ))
                    }
                },
            };
            match result {
                Err(e) if e.is_stale_connection() && replayable && !replayed => replayed = true,
                Err(e) => return Err(transport_error(method, url, error_chain(&e))),
                Ok(answer) => return Ok(answer),
            }
        }
    }

    /// The first try of a request: no redirect yet; `Connection: close` with
    /// `disable_keep_alives`. [`HttpClient::asks_for_gzip`] then sets its `decompress`.
    pub fn first_attempt(&self) -> Attempt {
        Attempt {
            strip_credentials: false,
            referer: None,
            decompress: false,
            close: self.close_connections,
        }
    }

    /// Whether the gateway asks for gzip itself (and so must undo it), as Go's transport
    /// does: compression is on, and the request names no `Accept-Encoding` or `Range` and is
    /// not a HEAD.
    pub fn asks_for_gzip(
        &self,
        method: &Method,
        has_accept_encoding: bool,
        has_range: bool,
    ) -> bool {
        self.request_gzip && !has_accept_encoding && !has_range && method != Method::HEAD
    }

    /// Sends a request, following up to 10 redirects as Go's client does. `out` is used in
    /// place: a redirect changes it as Go's client changes its request, and its URL is taken
    /// into the [`Received`] it resolves with.
    pub async fn send(&self, out: &mut Outgoing) -> Result<Received, ProxyError> {
        self.send_with(out, self.first_attempt(), 0).await
    }

    /// Goes on from the answer to a first try that was made elsewhere (as `out` and
    /// `attempt` describe it): the answer itself, or the redirects it starts, followed as
    /// [`HttpClient::send`] follows them.
    pub async fn send_after(
        &self,
        out: &mut Outgoing,
        mut attempt: Attempt,
        first: http::Response<PooledBody>,
    ) -> Result<Received, ProxyError> {
        if !self.redirect(out, &mut attempt, &first, 0)? {
            return Ok(Received {
                response: first,
                url: std::mem::take(&mut out.url),
                decompress: attempt.decompress,
            });
        }
        drop(first);
        Box::pin(self.send_with(out, attempt, 1)).await
    }

    /// [`HttpClient::send`] with this try's settings, `redirects` already followed.
    async fn send_with(
        &self,
        out: &mut Outgoing,
        mut attempt: Attempt,
        mut redirects: usize,
    ) -> Result<Received, ProxyError> {
        loop {
            let uri = match out.uri.take() {
                Some(uri) => uri,
                None => parse_url(&out.url)?,
            };
            if !matches!(uri.scheme_str(), Some("http" | "https")) {
                return Err(ProxyError::Transport(format!(
                    "{} {:?}: unsupported protocol scheme {:?} (http and https are supported)",
                    go_op(&out.method),
                    out.url,
                    uri.scheme_str().unwrap_or("")
                )));
            }
            attempt.decompress = self.asks_for_gzip(
                &out.method,
                has_header(&out.headers, &header::ACCEPT_ENCODING),
                has_header(&out.headers, &header::RANGE),
            );
            // Kept in the request, where the exchange borrows it.
            out.uri = Some(uri);
            let uri = out.uri.as_ref().expect("kept just above");
            let replayable = is_replayable(&out.method, out.mode);
            let (head, body) = self
                .exchange_with(uri, &out.method, &out.url, replayable, || {
                    attempt.prepare(out, uri)
                })
                .await?;
            let response = response_of(head, body, &out.method, &out.url)?;
            if !self.redirect(out, &mut attempt, &response, redirects)? {
                return Ok(Received {
                    response,
                    url: std::mem::take(&mut out.url),
                    decompress: attempt.decompress,
                });
            }
            redirects += 1;
        }
    }

    /// When `response` is a redirect Go's client follows, turns `out` and `attempt` into the
    /// next hop's as Go does, and says so; an error past 10 redirects.
    fn redirect(
        &self,
        out: &mut Outgoing,
        attempt: &mut Attempt,
        response: &http::Response<PooledBody>,
        redirects: usize,
    ) -> Result<bool, ProxyError> {
        let status = response.status();
        if !follows(status, out.mode, !out.body.is_empty()) {
            return Ok(false);
        }
        let Some(location) = response
            .headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
        else {
            return Ok(false);
        };
        if redirects + 1 > MAX_REDIRECTS {
            return Err(ProxyError::Transport(format!(
                "{} {:?}: stopped after 10 redirects",
                go_op(&out.method),
                location
            )));
        }
        let Some(uri) = out.uri.take() else {
            unreachable!("the URI is kept in the request while it is sent");
        };
        let next = resolve(&uri, location);
        let keeps_body = matches!(
            status,
            StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
        );
        if !keeps_body {
            if out.method != Method::GET && out.method != Method::HEAD {
                out.method = Method::GET;
            }
            out.mode = BodyMode::None;
            out.body = Bytes::new();
        }
        let next_uri: Option<Uri> = next.parse().ok();
        attempt.strip_credentials = next_uri.as_ref().and_then(Uri::authority) != uri.authority();
        attempt.referer = HeaderValue::from_str(&strip_userinfo(&out.url)).ok();
        out.url = next;
        out.uri = next_uri;
        Ok(true)
    }
}

/// A response head and its body as an `http` response (its fields in a map); `method` and
/// `url` name the request in the error of a head the map refuses.
pub fn response_of(
    head: ResponseHead,
    body: PooledBody,
    method: &Method,
    url: &str,
) -> Result<http::Response<PooledBody>, ProxyError> {
    match head.into_response() {
        Ok(head) => Ok(head.map(|()| body)),
        Err(e) => Err(transport_error(
            method,
            url,
            error_chain(&PoolError::from(e)),
        )),
    }
}

/// A URL parsed for a request, or the error Go's client gives for it.
pub fn parse_url(url: &str) -> Result<Uri, ProxyError> {
    url.parse()
        .map_err(|e| ProxyError::Transport(format!("parse {url:?}: {e}")))
}

/// Whether a response with `status` is a redirect Go's client follows (given a `Location`):
/// 301, 302, 303, 307 and 308, but not a 307 or 308 for a request whose body it could not
/// replay (`mode` sized or chunked with bytes), which it hands back as it is.
pub fn follows(status: StatusCode, mode: BodyMode, has_body_bytes: bool) -> bool {
    let redirect = matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308);
    let keeps_body = matches!(
        status,
        StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
    );
    let unreplayable =
        keeps_body && matches!(mode, BodyMode::Sized | BodyMode::Chunked) && has_body_bytes;
    redirect && !unreplayable
}

/// Whether Go's transport sends a request once more after a stale connection: idempotent
/// methods without a body.
pub fn is_replayable(method: &Method, mode: BodyMode) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) && matches!(mode, BodyMode::None | BodyMode::Empty)
}

/// A transport error as Go's client words it: `Get "http://...": detail`.
fn transport_error(method: &Method, url: &str, detail: String) -> ProxyError {
    ProxyError::Transport(format!("{} {url:?}: {detail}", go_op(method)))
}

/// What one hop of a send changes of the request's own headers. The headers themselves are
/// kept as they are for redirects and replays, and encoded straight from there.
pub struct Attempt {
    /// A redirect to another host: credentials are not sent there.
    strip_credentials: bool,
    /// The `Referer` a redirect sets.
    referer: Option<HeaderValue>,
    /// `Accept-Encoding: gzip` is added (and undone on the response).
    pub decompress: bool,
    /// `Connection: close` is added (`disable_keep_alives`).
    close: bool,
}

impl Attempt {
    /// The wire request for `out` to `uri`, made afresh for each try so that nothing of it
    /// is kept across the exchange.
    fn prepare(&self, out: &Outgoing, uri: &Uri) -> PreparedRequest {
        let body = match out.mode {
            BodyMode::None => OutgoingBody::None,
            BodyMode::Empty => OutgoingBody::Sized(Bytes::new()),
            BodyMode::Sized => OutgoingBody::Sized(out.body.clone()),
            BodyMode::Chunked => OutgoingBody::Chunked(out.body.clone()),
        };
        let mut head = HeadWriter::new(&out.method, uri, &body, out.headers.len());
        for (name, value) in &out.headers {
            if !self.skips(name) {
                head.field(name, value.as_bytes());
            }
        }
        self.add_fields(&mut head);
        head.finish(&out.method, uri, body)
    }

    /// Whether the request's own `name` field is left out of this try: credentials on a
    /// redirect to another host, and the fields this try sets itself.
    pub fn skips(&self, name: &HeaderName) -> bool {
        (self.strip_credentials
            && (name == header::AUTHORIZATION
                || name == header::WWW_AUTHENTICATE
                || name == header::COOKIE))
            || (self.referer.is_some() && name == header::REFERER)
            || (self.close && name == header::CONNECTION)
    }

    /// Writes the fields this try adds after the request's own: `Referer` on a redirect,
    /// `Accept-Encoding: gzip`, `Connection: close`.
    pub fn add_fields(&self, head: &mut HeadWriter) {
        if let Some(v) = &self.referer {
            head.field_named(&header::REFERER, b"Referer", v.as_bytes());
        }
        if self.decompress {
            head.field_named(&header::ACCEPT_ENCODING, b"Accept-Encoding", b"gzip");
        }
        if self.close {
            head.field_named(&header::CONNECTION, b"Connection", b"close");
        }
    }
}

/// Go prints the method as `Get`, `Post`... in client errors.
pub fn go_op(m: &Method) -> String {
    let s = m.as_str();
    let mut out = s[..1].to_string();
    out.push_str(&s[1..].to_ascii_lowercase());
    out
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !parts.iter().any(|p| p == &text) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

fn strip_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// Resolves a `Location` against the URL that returned it.
pub fn resolve(base: &Uri, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_string();
    }
    let scheme = base.scheme_str().unwrap_or("http");
    let authority = base.authority().map(|a| a.as_str()).unwrap_or("");
    if let Some(rest) = location.strip_prefix("//") {
        return format!("{scheme}://{rest}");
    }
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    if let Some(q) = location.strip_prefix('?') {
        return format!("{scheme}://{authority}{}?{q}", base.path());
    }
    let dir = base.path().rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    format!("{scheme}://{authority}{dir}/{location}")
}

/// Reads a whole response body, un-gzipping it when the gateway asked for gzip.
pub async fn read_body(received: Received) -> Result<(http::response::Parts, Bytes), ProxyError> {
    let (mut parts, incoming) = received.response.into_parts();
    let bytes = incoming
        .collect()
        .await
        .map_err(|e| ProxyError::Transport(format!("reading the body of {}: {e}", received.url)))?
        .to_bytes();
    if received.decompress && is_gzip(&parts.headers) {
        let bytes = gunzip(&bytes)?;
        parts.headers.remove(header::CONTENT_ENCODING);
        parts.headers.remove(header::CONTENT_LENGTH);
        return Ok((parts, bytes));
    }
    Ok((parts, bytes))
}

fn is_gzip(h: &HeaderMap) -> bool {
    h.get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"))
}

fn gunzip(bytes: &[u8]) -> Result<Bytes, ProxyError> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| ProxyError::Decode(format!("gzip: {e}")))?;
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn system_bundle_is_added_when_present() {
        let mut roots = rustls::RootCertStore::empty();
        let added = super::add_system_bundle(&mut roots);
        let present = std::env::var_os("SSL_CERT_FILE")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| super::SYSTEM_CA_BUNDLE.into())
            .exists();
        assert_eq!(added > 0, present);
        assert_eq!(roots.len(), added);
    }

    use super::*;

    #[test]
    fn resolves_locations() {
        let base: Uri = "http://h:1/a/b?x=1".parse().unwrap();
        assert_eq!(resolve(&base, "/p/?q=1"), "http://h:1/p/?q=1");
        assert_eq!(resolve(&base, "c"), "http://h:1/a/c");
        assert_eq!(resolve(&base, "http://o/x"), "http://o/x");
        assert_eq!(resolve(&base, "//o/y"), "http://o/y");
    }

    #[test]
    fn go_op_names() {
        assert_eq!(go_op(&Method::GET), "Get");
        assert_eq!(go_op(&Method::DELETE), "Delete");
    }

    #[test]
    fn gunzips() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"{\"a\":1}").unwrap();
        let z = enc.finish().unwrap();
        assert_eq!(&gunzip(&z).unwrap()[..], b"{\"a\":1}");
    }
}
