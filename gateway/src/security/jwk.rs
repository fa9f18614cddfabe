//! JWK sets shared by `auth/validator` and `auth/signer`: read once from `jwk_local_path`, or
//! fetched from `jwk_url` (bounded timeout) and cached for a TTL. A `kid` missing from the
//! cached set triggers one refetch (key rotation), at most once per [`REFETCH_INTERVAL`]
//! however many requests ask: concurrent askers wait for the same download.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use bytes::Bytes;
use http::header::HeaderMap;
use http::Method;
use serde_json::Value;

use crate::backend::client::{read_body, BodyMode, HttpClient, Outgoing};
use crate::qos::token_bucket::{Clock, SystemClock};

/// Bound on one JWK set download.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Minimum time between two refetches caused by an unknown `kid`.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(10);

/// Turns one JWK of a set into a usable key; `None` skips it.
pub type ParseKey<K> = fn(&Value) -> Option<K>;

/// Where a set comes from, and how to read it.
pub struct KeySource<'a> {
    /// `jwk_local_path`: read now, never again.
    pub local_path: Option<&'a std::path::Path>,
    /// `jwk_url`.
    pub url: Option<&'a str>,
    /// How long a fetched set is used before it is fetched again.
    pub ttl: Duration,
}

/// The keys of one set, in document order.
pub struct Jwks<K> {
    source: Source<K>,
}

enum Source<K> {
    Local(Arc<[K]>),
    Remote(Box<Remote<K>>),
}

struct Remote<K> {
    url: String,
    client: HttpClient,
    parse: ParseKey<K>,
    ttl: Duration,
    refetch_every: Duration,
    clock: Arc<dyn Clock>,
    cached: RwLock<Option<Fetched<K>>>,
    /// Held while downloading; holds the time of the last refetch for an unknown `kid`.
    fetching: tokio::sync::Mutex<Option<Duration>>,
}

struct Fetched<K> {
    at: Duration,
    /// Counts downloads, so that a waiter sees whether the set changed meanwhile.
    generation: u64,
    keys: Arc<[K]>,
}

/// Parses a JWK set document with `parse`, skipping the keys it refuses.
pub fn parse_set<K>(bytes: &[u8], parse: ParseKey<K>) -> Result<Arc<[K]>, String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("JWK set: {e}"))?;
    let list = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("JWK set: no \"keys\" array")?;
    Ok(list.iter().filter_map(parse).collect())
}

/// A base64url member of a JWK (plain base64 and padding tolerated).
pub fn member(k: &Value, name: &str) -> Option<Vec<u8>> {
    let text = k.get(name).and_then(Value::as_str)?;
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .or_else(|_| STANDARD.decode(text))
        .ok()
}

/// A string member of a JWK.
pub fn text<'a>(k: &'a Value, name: &str) -> Option<&'a str> {
    k.get(name).and_then(Value::as_str)
}

/// Downloads a JWK set with the gateway's pooled client, bounded by `FETCH_TIMEOUT`.
pub async fn download(client: &HttpClient, url: &str) -> Result<Bytes, String> {
    let mut out = Outgoing {
        method: Method::GET,
        url: url.to_string(),
        uri: None,
        headers: HeaderMap::new(),
        body: Bytes::new(),
        mode: BodyMode::None,
    };
    let got = tokio::time::timeout(FETCH_TIMEOUT, async {
        let received = client.send(&mut out).await.map_err(|e| e.to_string())?;
        read_body(received).await.map_err(|e| e.to_string())
    })
    .await
    .map_err(|_| format!("fetching {url}: timed out"))??;
    if !got.0.status.is_success() {
        return Err(format!("fetching {url}: status {}", got.0.status));
    }
    Ok(got.1)
}

impl<K> Jwks<K> {
    /// The set described by `src`; a local file is read now.
    pub fn new(src: &KeySource, client: &HttpClient, parse: ParseKey<K>) -> Result<Self, String> {
        Self::with_clock(src, client, parse, Arc::new(SystemClock::default()))
    }

    /// As [`Jwks::new`], on `clock`.
    pub fn with_clock(
        src: &KeySource,
        client: &HttpClient,
        parse: ParseKey<K>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let source = match (src.local_path, src.url) {
            (Some(p), _) => {
                let bytes =
                    std::fs::read(p).map_err(|e| format!("jwk_local_path {}: {e}", p.display()))?;
                Source::Local(parse_set(&bytes, parse)?)
            }
            (None, Some(u)) => Source::Remote(Box::new(Remote {
                url: u.to_string(),
                client: client.clone(),
                parse,
                ttl: src.ttl,
                refetch_every: REFETCH_INTERVAL,
                clock,
                cached: RwLock::new(None),
                fetching: tokio::sync::Mutex::new(None),
            })),
            (None, None) => return Err("no jwk_url nor jwk_local_path".into()),
        };
        Ok(Self { source })
    }

    /// Changes the minimum time between two unknown-`kid` refetches.
    pub fn refetch_every(mut self, d: Duration) -> Self {
        if let Source::Remote(r) = &mut self.source {
            r.refetch_every = d;
        }
        self
    }

    /// The first answer of `select` over the set; when it has none and the set is remote,
    /// one refetch (bounded as the module says) and a second look.
    pub async fn lookup<T>(&self, select: impl Fn(&[K]) -> Option<T>) -> Result<T, String> {
        let remote = match &self.source {
            Source::Local(keys) => return select(keys).ok_or_else(no_key),
            Source::Remote(r) => r,
        };
        let (seen, keys) = remote.current().await?;
        if let Some(found) = select(&keys) {
            return Ok(found);
        }
        let mut last_refetch = remote.fetching.lock().await;
        if let Some((generation, keys)) = remote.snapshot() {
            if generation != seen {
                // Another request refetched while this one waited.
                return select(&keys).ok_or_else(no_key);
            }
        }
        let now = remote.clock.now();
        if last_refetch.is_some_and(|t| now.saturating_sub(t) < remote.refetch_every) {
            return Err(no_key());
        }
        *last_refetch = Some(now);
        let keys = remote.fetch().await?;
        select(&keys).ok_or_else(no_key)
    }
}

fn no_key() -> String {
    "no matching key in the JWK set".into()
}

impl<K> Remote<K> {
    /// The cached set and its generation.
    fn snapshot(&self) -> Option<(u64, Arc<[K]>)> {
        let guard = self.cached.read().unwrap_or_else(|e| e.into_inner());
        guard.as_ref().map(|f| (f.generation, f.keys.clone()))
    }

    fn fresh(&self) -> Option<(u64, Arc<[K]>)> {
        let guard = self.cached.read().unwrap_or_else(|e| e.into_inner());
        let f = guard.as_ref()?;
        (self.clock.now().saturating_sub(f.at) < self.ttl).then(|| (f.generation, f.keys.clone()))
    }

    /// The cached set while fresh, else a download (one at a time).
    async fn current(&self) -> Result<(u64, Arc<[K]>), String> {
        if let Some(fresh) = self.fresh() {
            return Ok(fresh);
        }
        let _one_at_a_time = self.fetching.lock().await;
        if let Some(fresh) = self.fresh() {
            return Ok(fresh);
        }
        self.fetch().await?;
        self.snapshot().ok_or_else(no_key)
    }

    /// Downloads and caches the set; callers hold `fetching`.
    async fn fetch(&self) -> Result<Arc<[K]>, String> {
        let keys = parse_set(&download(&self.client, &self.url).await?, self.parse)?;
        let mut slot = self.cached.write().unwrap_or_else(|e| e.into_inner());
        let generation = slot.as_ref().map_or(0, |f| f.generation + 1);
        *slot = Some(Fetched {
            at: self.clock.now(),
            generation,
            keys: keys.clone(),
        });
        Ok(keys)
    }
}
