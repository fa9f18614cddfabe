//! Token buckets with a controllable clock, and a bounded, sharded map of per-client buckets.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::namespaces::ratelimit::BucketSpec;

/// Monotonic time for buckets; replaceable in tests.
pub trait Clock: Send + Sync + 'static {
    /// Time elapsed since some fixed origin.
    fn now(&self) -> Duration;
}

/// The process's monotonic clock.
pub struct SystemClock(Instant);

impl Default for SystemClock {
    fn default() -> Self {
        Self(Instant::now())
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// A clock that only moves when told (tests).
#[derive(Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// Moves the clock forward.
    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(d.as_nanos() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::SeqCst))
    }
}

/// One bucket's state: tokens left at `last`.
#[derive(Debug, Clone, Copy)]
struct State {
    tokens: f64,
    last: Duration,
}

impl State {
    fn full(spec: &BucketSpec, now: Duration) -> Self {
        Self {
            tokens: spec.capacity as f64,
            last: now,
        }
    }

    /// Refills up to `now`, then takes one token if there is one.
    fn take(&mut self, spec: &BucketSpec, now: Duration) -> bool {
        let per_nano = spec.rate / spec.every.as_nanos() as f64;
        let elapsed = now.saturating_sub(self.last).as_nanos() as f64;
        self.tokens = (self.tokens + elapsed * per_nano).min(spec.capacity as f64);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether the bucket would be full at `now` (then it equals a fresh one and can go).
    fn refilled_by(&self, spec: &BucketSpec, now: Duration) -> bool {
        let missing = spec.capacity as f64 - self.tokens;
        let per_nano = spec.rate / spec.every.as_nanos() as f64;
        now.saturating_sub(self.last).as_nanos() as f64 * per_nano >= missing
    }
}

/// One shared bucket (the critical section is a few float operations).
pub struct TokenBucket {
    spec: BucketSpec,
    state: Mutex<State>,
    clock: Arc<dyn Clock>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(spec: BucketSpec, clock: Arc<dyn Clock>) -> Self {
        let now = clock.now();
        Self {
            spec,
            state: Mutex::new(State::full(&spec, now)),
            clock,
        }
    }

    /// Takes a token; `false` when the bucket is empty.
    pub fn allow(&self) -> bool {
        let now = self.clock.now();
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(&self.spec, now)
    }
}

const SHARDS: usize = 16;

/// Per-client buckets, created on first use and bounded: a shard over its share of
/// `max_clients` first drops the buckets that have refilled (indistinguishable from new
/// ones), then the least recently used eighth.
pub struct ClientBuckets {
    spec: BucketSpec,
    shards: Vec<Mutex<HashMap<String, State>>>,
    per_shard: usize,
    clock: Arc<dyn Clock>,
}

/// Default bound on tracked clients per limited endpoint.
pub const DEFAULT_MAX_CLIENTS: usize = 100_000;

impl ClientBuckets {
    /// Buckets of `spec`, at most about `max_clients` at once.
    pub fn new(spec: BucketSpec, max_clients: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            spec,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: max_clients.div_ceil(SHARDS).max(1),
            clock,
        }
    }

    fn shard(&self, key: &str) -> &Mutex<HashMap<String, State>> {
        use std::hash::{Hash, Hasher};
        // A fixed-keyed hasher: the shard of a key must not change.
        let mut h = std::hash::DefaultHasher::new();
        key.hash(&mut h);
        &self.shards[(h.finish() as usize) % SHARDS]
    }

    /// Takes a token from `key`'s bucket.
    pub fn allow(&self, key: &str) -> bool {
        let now = self.clock.now();
        let mut map = self.shard(key).lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = map.get_mut(key) {
            return s.take(&self.spec, now);
        }
        if map.len() >= self.per_shard {
            let spec = self.spec;
            map.retain(|_, s| !s.refilled_by(&spec, now));
            if map.len() >= self.per_shard {
                // Drop the least recently used eighth at once, so that a flood of new
                // clients costs amortised O(1) per request, not a scan each.
                let mut lasts: Vec<Duration> = map.values().map(|s| s.last).collect();
                let cut = lasts.len() / 8;
                let (_, threshold, _) = lasts.select_nth_unstable(cut);
                let threshold = *threshold;
                map.retain(|_, s| s.last > threshold);
            }
        }
        let mut s = State::full(&self.spec, now);
        let ok = s.take(&self.spec, now);
        map.insert(key.to_string(), s);
        ok
    }

    /// How many clients are tracked now.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|m| m.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    /// Whether no client is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(rate: f64, capacity: u64) -> BucketSpec {
        BucketSpec {
            rate,
            capacity,
            every: Duration::from_secs(1),
        }
    }

    #[test]
    fn exhausted_then_refilled() {
        let clock = Arc::new(ManualClock::default());
        let b = TokenBucket::new(spec(2.0, 3), clock.clone());
        assert!(b.allow() && b.allow() && b.allow());
        assert!(!b.allow(), "capacity is the burst");
        clock.advance(Duration::from_millis(499));
        assert!(!b.allow(), "2/s: not yet a whole token");
        clock.advance(Duration::from_millis(1));
        assert!(b.allow());
        assert!(!b.allow());
        clock.advance(Duration::from_secs(60));
        assert_eq!(
            (0..5).filter(|_| b.allow()).count(),
            3,
            "never above capacity"
        );
    }

    #[test]
    fn clients_are_independent() {
        let clock = Arc::new(ManualClock::default());
        let b = ClientBuckets::new(spec(1.0, 1), 100, clock.clone());
        assert!(b.allow("a"));
        assert!(!b.allow("a"));
        assert!(b.allow("b"));
        clock.advance(Duration::from_secs(1));
        assert!(b.allow("a"));
    }

    #[test]
    fn many_clients_stay_bounded() {
        let clock = Arc::new(ManualClock::default());
        let b = ClientBuckets::new(spec(1.0, 5), 1_000, clock.clone());
        for i in 0..50_000 {
            b.allow(&format!("10.0.{}.{}", i / 256, i % 256));
            if i % 1000 == 0 {
                clock.advance(Duration::from_millis(10));
            }
        }
        let n = b.len();
        assert!(n <= 1_000 + SHARDS, "tracked {n}");
        assert!(n > 0);
    }

    #[test]
    fn eviction_keeps_limited_clients_first() {
        let clock = Arc::new(ManualClock::default());
        // One tracked client per shard at most.
        let b = ClientBuckets::new(spec(1.0, 1), 1, clock.clone());
        assert!(b.allow("hot"));
        assert!(!b.allow("hot"));
        clock.advance(Duration::from_secs(10));
        // "hot" has refilled: dropping it changes nothing for it.
        for i in 0..200 {
            b.allow(&format!("c{i}"));
        }
        assert!(b.len() <= SHARDS);
        assert!(b.allow("hot"));
    }
}
