//! Keep-alive connections to backends: HTTP/1.1 connections (plain or TLS) kept per origin,
//! reused most-recently-used first, as Go's `http.Transport` does.
//!
//! A connection goes back to the pool when its response body has been read to the end; a body
//! dropped early closes it. Limits follow KrakenD's transport keys: idle connections per host
//! (`max_idle_connections_per_host`), idle connections in all (`max_idle_connections`, the
//! oldest one across hosts is closed first) and how long one may stay idle
//! (`idle_connection_timeout`). A request that a pooled connection could not even start
//! (the backend had closed it meanwhile) is retried once on a new connection, whatever its
//! method, as nothing of it was sent.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::Scheme;
use http::Uri;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use tower_service::Service;

use super::h1::{H1Connection, H1Error, PreparedRequest, ResponseBody, ResponseHead, Transport};

/// Why a backend exchange failed before a response head arrived.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// Dialing (TCP, TLS) failed.
    #[error("dial: {0}")]
    Connect(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The exchange failed.
    #[error(transparent)]
    Http(#[from] H1Error),
    /// A reused connection broke before any answer: the backend had closed it as idle. Go
    /// replays idempotent requests once then.
    #[error(transparent)]
    Stale(H1Error),
}

impl PoolError {
    /// Whether a replayable request may be sent again on a new connection.
    pub fn is_stale_connection(&self) -> bool {
        matches!(self, Self::Stale(_))
    }
}

/// Limits of the pool (KrakenD's transport keys).
#[derive(Debug, Clone, Copy)]
pub struct PoolLimits {
    /// Idle connections kept per origin (0: none, every connection is closed after use).
    pub max_idle_per_host: usize,
    /// Idle connections kept across all origins (0: no limit).
    pub max_idle_total: usize,
    /// How long a connection may stay idle (None: until the backend closes it).
    pub idle_timeout: Option<Duration>,
}

/// The shared pool; cloning shares it.
#[derive(Clone)]
pub struct ConnectionPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    connector: HttpsConnector<HttpConnector>,
    limits: PoolLimits,
    idle: Mutex<IdleSet>,
}

/// Idle connections by origin; `origins` maps an authority, per scheme (http, https), to an
/// index of `lists`.
#[derive(Default)]
struct IdleSet {
    origins: [HashMap<Box<str>, usize, BuildHasherDefault<Fnv1a>>; 2],
    lists: Vec<Vec<IdleConnection>>,
    total: usize,
    reaper_running: bool,
}

struct IdleConnection {
    connection: H1Connection,
    since: Instant,
}

impl ConnectionPool {
    /// A pool dialing through `connector`.
    pub fn new(connector: HttpsConnector<HttpConnector>, limits: PoolLimits) -> Self {
        Self {
            inner: Arc::new(PoolInner {
                connector,
                limits,
                idle: Mutex::new(IdleSet::default()),
            }),
        }
    }

    /// Sends `request` to `uri`'s origin over a pooled or new connection and resolves with the
    /// response head as it came (no header map is built); the body returns the connection
    /// when read to its end.
    pub fn send(
        &self,
        uri: &Uri,
        request: PreparedRequest,
    ) -> impl std::future::Future<Output = Result<(ResponseHead, PooledBody), PoolError>> + Send + 'static
    {
        let (slot, idle) = self.inner.checkout(Origin::of(uri));
        // Only a new connection needs the URI, to dial it.
        let dial = idle.is_none().then(|| uri.clone());
        let inner = self.inner.clone();
        async move {
            let (connection, reused) = match (idle, dial) {
                (Some(connection), _) => (connection, true),
                (None, Some(uri)) => (inner.connect(&uri).await?, false),
                (None, None) => unreachable!("a URI is kept whenever no connection is"),
            };
            match connection.send(request).await {
                Ok((head, body)) => {
                    let pool = Arc::downgrade(&inner);
                    Ok((head, PooledBody::new(body, pool, slot)))
                }
                Err(e) if reused && e.closed_before_answer() => Err(PoolError::Stale(e)),
                Err(e) => Err(e.into()),
            }
        }
    }

    /// Idle connections now held (all origins).
    pub fn idle_count(&self) -> usize {
        self.inner.lock().total
    }
}

impl PoolInner {
    fn lock(&self) -> std::sync::MutexGuard<'_, IdleSet> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `origin`'s slot (created on first use) and its most recently used idle connection
    /// that is still open, under one lock.
    fn checkout(&self, origin: Origin<'_>) -> (usize, Option<H1Connection>) {
        let mut set = self.lock();
        let scheme = usize::from(origin.https);
        let slot = match set.origins[scheme].get(origin.authority) {
            Some(&slot) => slot,
            None => {
                let slot = set.lists.len();
                set.lists.push(Vec::new());
                set.origins[scheme].insert(origin.authority.into(), slot);
                slot
            }
        };
        while let Some(mut candidate) = set.lists[slot].pop() {
            set.total -= 1;
            if !self.expired(&candidate) && candidate.connection.is_reusable() {
                return (slot, Some(candidate.connection));
            }
        }
        (slot, None)
    }

    fn expired(&self, conn: &IdleConnection) -> bool {
        self.limits
            .idle_timeout
            .is_some_and(|limit| conn.since.elapsed() >= limit)
    }

    /// Dials `uri`'s origin (TCP, and TLS for https).
    async fn connect(&self, uri: &Uri) -> Result<H1Connection, PoolError> {
        let stream = self
            .connector
            .clone()
            .call(uri.clone())
            .await
            .map_err(PoolError::Connect)?;
        Ok(H1Connection::new(Transport::from_connector(stream)))
    }

    /// Keeps `connection` for reuse within the limits, else drops (closes) it.
    fn put_back(self: &Arc<Self>, slot: usize, connection: H1Connection) {
        let limits = self.limits;
        if limits.max_idle_per_host == 0 {
            return;
        }
        let mut set = self.lock();
        if set.lists[slot].len() >= limits.max_idle_per_host {
            return;
        }
        if limits.max_idle_total > 0 && set.total >= limits.max_idle_total && !set.evict_oldest() {
            return;
        }
        set.lists[slot].push(IdleConnection {
            connection,
            since: Instant::now(),
        });
        set.total += 1;
        if let Some(timeout) = limits.idle_timeout {
            if !set.reaper_running {
                set.reaper_running = true;
                drop(set);
                spawn_reaper(Arc::downgrade(self), timeout);
            }
        }
    }

    /// Drops idle connections older than `timeout`; false when none is left.
    fn reap(&self, timeout: Duration) -> bool {
        let mut set = self.lock();
        let mut closed = 0;
        for list in &mut set.lists {
            let before = list.len();
            list.retain(|c| c.since.elapsed() < timeout);
            closed += before - list.len();
        }
        set.total -= closed;
        if set.total == 0 {
            set.reaper_running = false;
        }
        set.total > 0
    }
}

impl IdleSet {
    /// Closes the connection idle for the longest time across origins.
    fn evict_oldest(&mut self) -> bool {
        let oldest = self
            .lists
            .iter()
            .enumerate()
            .filter_map(|(i, list)| list.first().map(|c| (i, c.since)))
            .min_by_key(|&(_, since)| since);
        match oldest {
            Some((i, _)) => {
                self.lists[i].remove(0);
                self.total -= 1;
                true
            }
            None => false,
        }
    }
}

/// Closes expired idle connections every `timeout` while any remain.
fn spawn_reaper(pool: Weak<PoolInner>, timeout: Duration) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let period = timeout.max(Duration::from_millis(100));
        loop {
            tokio::time::sleep(period).await;
            let Some(pool) = pool.upgrade() else { return };
            if !pool.reap(timeout) {
                return;
            }
        }
    });
}

/// FNV-1a: the pool's keys are a few short authorities, looked up once per request, where
/// SipHash's set-up costs more than the lookup. They come from the configuration and from
/// redirects, not from clients.
#[derive(Default)]
struct Fnv1a(u64);

impl Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The key of the pool: scheme and authority, borrowed from a URI.
#[derive(Debug, PartialEq, Eq)]
struct Origin<'a> {
    https: bool,
    authority: &'a str,
}

impl<'a> Origin<'a> {
    fn of(uri: &'a Uri) -> Self {
        Self {
            https: uri.scheme() == Some(&Scheme::HTTPS),
            authority: uri.authority().map_or("", |a| a.as_str()),
        }
    }
}

/// A backend response body that hands its connection back to the pool once read to the end.
pub struct PooledBody {
    body: ResponseBody,
    pool: Weak<PoolInner>,
    slot: usize,
}

impl PooledBody {
    fn new(body: ResponseBody, pool: Weak<PoolInner>, slot: usize) -> Self {
        let mut pooled = Self { body, pool, slot };
        if pooled.body.is_done() {
            pooled.release();
        }
        pooled
    }

    fn release(&mut self) {
        if let Some(connection) = self.body.take_reusable() {
            if let Some(pool) = self.pool.upgrade() {
                pool.put_back(self.slot, connection);
            }
        }
    }
}

impl HttpBody for PooledBody {
    type Data = Bytes;
    type Error = H1Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, H1Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        if this.body.is_done() {
            this.release();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::client::{BodyMode, HttpClient, Outgoing};
    use crate::backend::h1::{OutgoingBody, RequestHead};
    use crate::config::transport::TransportSettings;
    use http_body_util::BodyExt;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[test]
    fn the_key_hash_is_fnv_1a() {
        let hash = |bytes: &[u8]| {
            let mut h = Fnv1a::default();
            h.write(bytes);
            h.finish()
        };
        // The published FNV-1a 64-bit values.
        assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn origins_are_scheme_and_authority() {
        let uri: Uri = "https://api.example:8443/a?b=1".parse().unwrap();
        let origin = Origin::of(&uri);
        assert!(origin.https);
        assert_eq!(origin.authority, "api.example:8443");
        let plain: Uri = "http://api.example:8443/".parse().unwrap();
        assert_ne!(Origin::of(&plain), origin);
    }

    /// What a test backend does on its connections.
    #[derive(Clone, Copy)]
    enum Behaviour {
        /// Answers every request with the connection's number, keeping it open.
        Numbered,
        /// Connection 0 answers once, then reads the next request and closes unanswered.
        FirstConnectionDiesAfterOne,
    }

    /// A raw HTTP/1.1 backend; returns its address and the count of accepted connections.
    async fn backend(behaviour: Behaviour) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let number = counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut answered = 0;
                    let mut buf = vec![0u8; 4096];
                    let mut pending = Vec::new();
                    loop {
                        while !pending.windows(4).any(|w| w == b"\r\n\r\n") {
                            match stream.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => pending.extend_from_slice(&buf[..n]),
                            }
                        }
                        let end = pending.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
                        pending.drain(..end + 4);
                        if matches!(behaviour, Behaviour::FirstConnectionDiesAfterOne)
                            && number == 0
                            && answered == 1
                        {
                            return;
                        }
                        let body = number.to_string();
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if stream.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                        answered += 1;
                    }
                });
            }
        });
        (addr, accepted)
    }

    fn test_pool(limits: PoolLimits) -> ConnectionPool {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(
                rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
            )
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        ConnectionPool::new(connector, limits)
    }

    const KEEP_ALL: PoolLimits = PoolLimits {
        max_idle_per_host: 10,
        max_idle_total: 0,
        idle_timeout: None,
    };

    fn request(uri: &Uri) -> PreparedRequest {
        let head = RequestHead {
            method: &http::Method::GET,
            uri,
            headers: &http::HeaderMap::new(),
            skip: &[],
            extra: &[],
        };
        PreparedRequest::new(&head, OutgoingBody::None)
    }

    async fn get(pool: &ConnectionPool, url: &str) -> Result<String, PoolError> {
        let uri: Uri = url.parse().unwrap();
        let (_, body) = pool.send(&uri, request(&uri)).await?;
        let bytes = body.collect().await?.to_bytes();
        Ok(String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_read_body_returns_its_connection_for_the_next_request() {
        let (addr, accepted) = backend(Behaviour::Numbered).await;
        let pool = test_pool(KEEP_ALL);
        let url = format!("http://{addr}/a");
        assert_eq!(get(&pool, &url).await.unwrap(), "0");
        assert_eq!(pool.idle_count(), 1);
        assert_eq!(get(&pool, &url).await.unwrap(), "0");
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn concurrent_requests_open_connections_and_the_last_used_goes_first() {
        let (addr, accepted) = backend(Behaviour::Numbered).await;
        let pool = test_pool(KEEP_ALL);
        let url = format!("http://{addr}/");
        let uri: Uri = url.parse().unwrap();
        let (_, first) = pool.send(&uri, request(&uri)).await.unwrap();
        let (_, second) = pool.send(&uri, request(&uri)).await.unwrap();
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            2,
            "a busy connection was shared"
        );
        // The first one, read last, is the most recently used.
        second.collect().await.unwrap();
        first.collect().await.unwrap();
        assert_eq!(pool.idle_count(), 2);
        assert_eq!(get(&pool, &url).await.unwrap(), "0");
        assert_eq!(get(&pool, &url).await.unwrap(), "0");
    }

    #[tokio::test]
    async fn a_body_dropped_unread_closes_its_connection() {
        let (addr, accepted) = backend(Behaviour::Numbered).await;
        let pool = test_pool(KEEP_ALL);
        let url = format!("http://{addr}/");
        let uri: Uri = url.parse().unwrap();
        let response = pool.send(&uri, request(&uri)).await.unwrap();
        drop(response);
        assert_eq!(pool.idle_count(), 0);
        assert_eq!(get(&pool, &url).await.unwrap(), "1");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn idle_limits_per_host_and_in_all_close_the_oldest() {
        let (one, _) = backend(Behaviour::Numbered).await;
        let (two, _) = backend(Behaviour::Numbered).await;
        let pool = test_pool(PoolLimits {
            max_idle_per_host: 10,
            max_idle_total: 1,
            idle_timeout: None,
        });
        get(&pool, &format!("http://{one}/")).await.unwrap();
        get(&pool, &format!("http://{two}/")).await.unwrap();
        assert_eq!(pool.idle_count(), 1);
        // The connection to `one` was the oldest and went; `two`'s is reused.
        assert_eq!(get(&pool, &format!("http://{two}/")).await.unwrap(), "0");
        assert_eq!(get(&pool, &format!("http://{one}/")).await.unwrap(), "1");

        let none = test_pool(PoolLimits {
            max_idle_per_host: 0,
            ..KEEP_ALL
        });
        get(&none, &format!("http://{one}/")).await.unwrap();
        assert_eq!(none.idle_count(), 0);
    }

    #[tokio::test]
    async fn idle_connections_are_closed_after_the_idle_timeout() {
        let (addr, accepted) = backend(Behaviour::Numbered).await;
        let pool = test_pool(PoolLimits {
            idle_timeout: Some(Duration::from_millis(150)),
            ..KEEP_ALL
        });
        let url = format!("http://{addr}/");
        get(&pool, &url).await.unwrap();
        assert_eq!(pool.idle_count(), 1);
        tokio::time::sleep(Duration::from_millis(450)).await;
        assert_eq!(
            pool.idle_count(),
            0,
            "the reaper left an expired connection"
        );
        assert_eq!(get(&pool, &url).await.unwrap(), "1");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    fn outgoing(method: http::Method, url: String, mode: BodyMode) -> Outgoing {
        Outgoing {
            method,
            url,
            uri: None,
            headers: http::HeaderMap::new(),
            body: if mode == BodyMode::Sized {
                Bytes::from_static(b"{}")
            } else {
                Bytes::new()
            },
            mode,
        }
    }

    #[tokio::test]
    async fn a_get_on_a_connection_closed_by_the_backend_is_replayed_once() {
        let (addr, accepted) = backend(Behaviour::FirstConnectionDiesAfterOne).await;
        let client = HttpClient::default();
        let url = format!("http://{addr}/x");
        for expected in ["0", "1"] {
            let received = client
                .send(&mut outgoing(
                    http::Method::GET,
                    url.clone(),
                    BodyMode::None,
                ))
                .await
                .unwrap();
            let (_, body) = crate::backend::client::read_body(received).await.unwrap();
            assert_eq!(body, expected.as_bytes());
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_post_with_a_body_is_not_replayed() {
        let (addr, _) = backend(Behaviour::FirstConnectionDiesAfterOne).await;
        let client = HttpClient::new(
            &crate::config::ClientTlsConfig::default(),
            &TransportSettings::default(),
        )
        .unwrap();
        let url = format!("http://{addr}/x");
        let first = client
            .send(&mut outgoing(
                http::Method::POST,
                url.clone(),
                BodyMode::Sized,
            ))
            .await
            .unwrap();
        crate::backend::client::read_body(first).await.unwrap();
        let error = client
            .send(&mut outgoing(http::Method::POST, url, BodyMode::Sized))
            .await
            .err()
            .expect("a POST was replayed");
        assert!(error.to_string().starts_with("Post "), "{error}");
    }
}
