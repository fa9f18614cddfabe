//! An RFC 9111 cache for backend GET responses, bounded in entries and bytes with LRU
//! eviction (KrakenD's is unbounded).
//!
//! Stored: GET responses with explicit freshness (`s-maxage` for shared stores, `max-age`,
//! or `Expires` - `Date`), a cacheable status, no `no-store`/`no-cache`/`private`, no
//! `Vary: *`, and — for requests carrying `Authorization` — only when the response says
//! `public` or `s-maxage`. Served while `Age` + time in store < freshness lifetime and the
//! request's `Vary`-selected headers match. Stale entries are refetched (no revalidation).
//! `private` responses are never stored, even in per-backend stores: a gateway serves many
//! users.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName};
use http::{Method, StatusCode};
use lru::LruCache;

use crate::config::namespaces::http_cache::HttpCacheOptions;
use crate::qos::token_bucket::{Clock, SystemClock};

/// Default bound on entries per store.
pub const DEFAULT_MAX_ITEMS: usize = 10_000;
/// Default bound on stored bytes (bodies + headers) per store: 64 MiB.
pub const DEFAULT_MAX_BYTES: usize = 64 << 20;

/// A cached response.
#[derive(Debug, Clone)]
pub struct Cached {
    /// Status.
    pub status: StatusCode,
    /// Headers (with `Age` updated on the way out).
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

struct Entry {
    response: Cached,
    stored_at: Duration,
    /// Freshness lifetime minus the age it already had when stored.
    remaining: Duration,
    initial_age: Duration,
    vary: Vec<(HeaderName, Option<Vec<u8>>)>,
    size: usize,
}

struct Store {
    lru: LruCache<String, Entry>,
    bytes: usize,
    max_bytes: usize,
}

/// One cache store plus the rules of its user.
#[derive(Clone)]
pub struct HttpCache {
    store: Arc<Mutex<Store>>,
    shared: bool,
    clock: Arc<dyn Clock>,
}

fn shared_store() -> Arc<Mutex<Store>> {
    static SHARED: OnceLock<Arc<Mutex<Store>>> = OnceLock::new();
    SHARED
        .get_or_init(|| new_store(DEFAULT_MAX_ITEMS, DEFAULT_MAX_BYTES))
        .clone()
}

fn new_store(max_items: usize, max_bytes: usize) -> Arc<Mutex<Store>> {
    Arc::new(Mutex::new(Store {
        lru: LruCache::new(NonZeroUsize::new(max_items.max(1)).expect("non-zero")),
        bytes: 0,
        max_bytes,
    }))
}

/// Directives of a `Cache-Control` header.
#[derive(Debug, Default)]
struct Directives {
    no_store: bool,
    no_cache: bool,
    private: bool,
    public: bool,
    max_age: Option<u64>,
    s_maxage: Option<u64>,
}

fn directives(h: &HeaderMap) -> Directives {
    let mut d = Directives::default();
    for v in h.get_all(header::CACHE_CONTROL) {
        let Ok(v) = v.to_str() else { continue };
        for part in v.split(',') {
            let (name, arg) = match part.split_once('=') {
                Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                None => (part.trim(), None),
            };
            let secs = || arg.and_then(|a| a.parse::<u64>().ok());
            match name.to_ascii_lowercase().as_str() {
                "no-store" => d.no_store = true,
                "no-cache" => d.no_cache = true,
                "private" => d.private = true,
                "public" => d.public = true,
                "max-age" => d.max_age = secs().or(Some(0)),
                "s-maxage" => d.s_maxage = secs().or(Some(0)),
                _ => {}
            }
        }
    }
    d
}

fn date(h: &HeaderMap, name: HeaderName) -> Option<SystemTime> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| httpdate::parse_http_date(s).ok())
}

fn age_header(h: &HeaderMap) -> Duration {
    h.get(header::AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or_default()
}

fn cacheable_status(s: StatusCode) -> bool {
    matches!(
        s.as_u16(),
        200 | 203 | 204 | 300 | 301 | 404 | 405 | 410 | 414 | 501
    )
}

impl HttpCache {
    /// The cache for a backend configured with `opts`.
    pub fn new(opts: HttpCacheOptions) -> Self {
        let store = if opts.shared {
            shared_store()
        } else {
            new_store(DEFAULT_MAX_ITEMS, DEFAULT_MAX_BYTES)
        };
        Self {
            store,
            shared: opts.shared,
            clock: Arc::new(SystemClock::default()),
        }
    }

    /// A private store with explicit bounds and clock (tests).
    pub fn with_bounds(
        shared: bool,
        max_items: usize,
        max_bytes: usize,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store: new_store(max_items, max_bytes),
            shared,
            clock,
        }
    }

    /// A fresh stored response for this request, if any.
    pub fn lookup(&self, method: &Method, url: &str, req_headers: &HeaderMap) -> Option<Cached> {
        if method != Method::GET {
            return None;
        }
        let rd = directives(req_headers);
        if rd.no_store || rd.no_cache {
            return None;
        }
        let now = self.clock.now();
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let entry = store.lru.get(url)?;
        let in_store = now.saturating_sub(entry.stored_at);
        let matches = entry
            .vary
            .iter()
            .all(|(n, v)| req_headers.get(n).map(|x| x.as_bytes().to_vec()) == *v);
        if in_store >= entry.remaining || !matches {
            if let Some(e) = store.lru.pop(url) {
                store.bytes -= e.size;
            }
            return None;
        }
        let mut response = entry.response.clone();
        let age = (entry.initial_age + in_store).as_secs();
        response
            .headers
            .insert(header::AGE, http::HeaderValue::from(age));
        Some(response)
    }

    /// Stores the response when RFC 9111 allows it.
    pub fn store(&self, method: &Method, url: &str, req_headers: &HeaderMap, response: &Cached) {
        if method != Method::GET || !cacheable_status(response.status) {
            return;
        }
        let rd = directives(req_headers);
        let d = directives(&response.headers);
        if rd.no_store || d.no_store || d.no_cache || d.private {
            return;
        }
        if req_headers.contains_key(header::AUTHORIZATION) && !(d.public || d.s_maxage.is_some()) {
            return;
        }
        let lifetime = match (self.shared.then_some(d.s_maxage).flatten(), d.max_age) {
            (Some(s), _) => Duration::from_secs(s),
            (None, Some(m)) => Duration::from_secs(m),
            (None, None) => match (
                date(&response.headers, header::EXPIRES),
                date(&response.headers, header::DATE),
            ) {
                (Some(exp), Some(d)) => exp.duration_since(d).unwrap_or_default(),
                (Some(exp), None) => exp.duration_since(SystemTime::now()).unwrap_or_default(),
                _ => return,
            },
        };
        let initial_age = age_header(&response.headers);
        if lifetime <= initial_age {
            return;
        }
        let mut vary = Vec::new();
        for v in response.headers.get_all(header::VARY) {
            let Ok(v) = v.to_str() else { return };
            for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                if name == "*" {
                    return;
                }
                let Ok(n) = HeaderName::from_bytes(name.as_bytes()) else {
                    return;
                };
                let value = req_headers.get(&n).map(|x| x.as_bytes().to_vec());
                vary.push((n, value));
            }
        }
        let size = url.len()
            + response.body.len()
            + response
                .headers
                .iter()
                .map(|(n, v)| n.as_str().len() + v.len() + 32)
                .sum::<usize>();
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        // One entry may take at most an eighth of the store.
        if size > store.max_bytes / 8 {
            return;
        }
        let entry = Entry {
            response: response.clone(),
            stored_at: self.clock.now(),
            remaining: lifetime - initial_age,
            initial_age,
            vary,
            size,
        };
        if let Some(old) = store.lru.put(url.to_string(), entry) {
            store.bytes -= old.size;
        }
        store.bytes += size;
        while store.bytes > store.max_bytes || store.lru.len() > store.lru.cap().get() {
            match store.lru.pop_lru() {
                Some((_, e)) => store.bytes -= e.size,
                None => break,
            }
        }
    }

    /// Entries and bytes held (tests, metrics).
    pub fn usage(&self) -> (usize, usize) {
        let s = self.store.lock().unwrap_or_else(|e| e.into_inner());
        (s.lru.len(), s.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qos::token_bucket::ManualClock;
    use http::HeaderValue;

    fn resp(cc: &str) -> Cached {
        let mut headers = HeaderMap::new();
        if !cc.is_empty() {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_str(cc).unwrap());
        }
        Cached {
            status: StatusCode::OK,
            headers,
            body: Bytes::from_static(b"{\"a\":1}"),
        }
    }

    fn cache(shared: bool) -> (HttpCache, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::default());
        (
            HttpCache::with_bounds(shared, 100, 1 << 20, clock.clone()),
            clock,
        )
    }

    const U: &str = "http://b/x";

    #[test]
    fn max_age_is_served_until_stale() {
        let (c, clock) = cache(false);
        let h = HeaderMap::new();
        c.store(&Method::GET, U, &h, &resp("max-age=10"));
        clock.advance(Duration::from_secs(4));
        let hit = c.lookup(&Method::GET, U, &h).unwrap();
        assert_eq!(hit.headers[header::AGE], "4");
        assert_eq!(hit.body, Bytes::from_static(b"{\"a\":1}"));
        clock.advance(Duration::from_secs(6));
        assert!(c.lookup(&Method::GET, U, &h).is_none());
        assert_eq!(c.usage().0, 0, "stale entries are dropped");
    }

    #[test]
    fn what_is_not_stored() {
        let (c, _) = cache(false);
        let h = HeaderMap::new();
        for cc in [
            "no-store, max-age=10",
            "no-cache, max-age=10",
            "private, max-age=10",
            "",
        ] {
            c.store(&Method::GET, U, &h, &resp(cc));
            assert!(c.lookup(&Method::GET, U, &h).is_none(), "{cc:?}");
        }
        c.store(&Method::POST, U, &h, &resp("max-age=10"));
        assert!(c.lookup(&Method::GET, U, &h).is_none());
        let mut auth = HeaderMap::new();
        auth.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        c.store(&Method::GET, U, &auth, &resp("max-age=10"));
        assert!(c.lookup(&Method::GET, U, &h).is_none());
        c.store(&Method::GET, U, &auth, &resp("public, max-age=10"));
        assert!(c.lookup(&Method::GET, U, &h).is_some());
        let mut r = resp("max-age=10");
        r.status = StatusCode::INTERNAL_SERVER_ERROR;
        c.store(&Method::GET, "http://b/500", &h, &r);
        assert!(c.lookup(&Method::GET, "http://b/500", &h).is_none());
    }

    #[test]
    fn s_maxage_only_for_shared_and_age_counts() {
        let (shared, clock) = cache(true);
        let (private, _) = cache(false);
        let h = HeaderMap::new();
        let mut r = resp("max-age=1, s-maxage=100");
        r.headers
            .insert(header::AGE, HeaderValue::from_static("50"));
        shared.store(&Method::GET, U, &h, &r);
        private.store(&Method::GET, U, &h, &r);
        assert!(
            private.lookup(&Method::GET, U, &h).is_none(),
            "already older than max-age"
        );
        clock.advance(Duration::from_secs(49));
        assert_eq!(
            shared.lookup(&Method::GET, U, &h).unwrap().headers[header::AGE],
            "99"
        );
        clock.advance(Duration::from_secs(1));
        assert!(shared.lookup(&Method::GET, U, &h).is_none());
    }

    #[test]
    fn expires_and_request_directives() {
        let (c, _) = cache(false);
        let h = HeaderMap::new();
        let mut r = resp("");
        let now = SystemTime::now();
        r.headers.insert(
            header::DATE,
            HeaderValue::from_str(&httpdate::fmt_http_date(now)).unwrap(),
        );
        r.headers.insert(
            header::EXPIRES,
            HeaderValue::from_str(&httpdate::fmt_http_date(now + Duration::from_secs(60))).unwrap(),
        );
        c.store(&Method::GET, U, &h, &r);
        assert!(c.lookup(&Method::GET, U, &h).is_some());
        let mut nc = HeaderMap::new();
        nc.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        assert!(c.lookup(&Method::GET, U, &nc).is_none());
    }

    #[test]
    fn vary_selects_the_variant() {
        let (c, _) = cache(false);
        let mut en = HeaderMap::new();
        en.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("en"));
        let mut fr = HeaderMap::new();
        fr.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("fr"));
        let mut r = resp("max-age=60");
        r.headers
            .insert(header::VARY, HeaderValue::from_static("Accept-Language"));
        c.store(&Method::GET, U, &en, &r);
        assert!(c.lookup(&Method::GET, U, &en).is_some());
        assert!(c.lookup(&Method::GET, U, &fr).is_none());
        r.headers
            .insert(header::VARY, HeaderValue::from_static("*"));
        c.store(&Method::GET, "http://b/star", &en, &r);
        assert!(c.lookup(&Method::GET, "http://b/star", &en).is_none());
    }

    #[test]
    fn bounded_by_items_and_bytes_with_lru_eviction() {
        let clock = Arc::new(ManualClock::default());
        let c = HttpCache::with_bounds(false, 3, 1 << 20, clock.clone());
        let h = HeaderMap::new();
        for i in 0..3 {
            c.store(
                &Method::GET,
                &format!("http://b/{i}"),
                &h,
                &resp("max-age=60"),
            );
        }
        assert!(c.lookup(&Method::GET, "http://b/0", &h).is_some()); // 0 is now most recent
        c.store(&Method::GET, "http://b/3", &h, &resp("max-age=60"));
        assert_eq!(c.usage().0, 3);
        assert!(
            c.lookup(&Method::GET, "http://b/1", &h).is_none(),
            "LRU evicted"
        );
        assert!(c.lookup(&Method::GET, "http://b/0", &h).is_some());

        let c = HttpCache::with_bounds(false, 10_000, 8 * 1024, clock);
        let mut big = resp("max-age=60");
        big.body = Bytes::from(vec![b'x'; 900]);
        for i in 0..100 {
            c.store(&Method::GET, &format!("http://b/{i}"), &h, &big);
        }
        let (n, bytes) = c.usage();
        assert!(bytes <= 8 * 1024 && n < 10, "{n} entries, {bytes} bytes");
        big.body = Bytes::from(vec![b'x'; 2000]);
        c.store(&Method::GET, "http://b/huge", &h, &big);
        assert!(
            c.lookup(&Method::GET, "http://b/huge", &h).is_none(),
            "over 1/8 of the store"
        );
    }
}
