//! `qos/circuit-breaker`: closed -> open when consecutive errors exceed `max_errors` (counts
//! reset every `interval` while closed) -> half-open after `timeout`, where one trial call
//! decides: success closes, failure opens again. While open, calls fail at once with
//! `circuit breaker is open`, as KrakenD's breaker (gobreaker) reports.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::namespaces::circuit_breaker::CircuitBreakerOptions;
use crate::error::ProxyError;
use crate::proxy::{Outcome, Proxy, ProxyFuture, Request, SharedProxy};
use crate::qos::token_bucket::{Clock, SystemClock};

/// The error of a call refused by an open breaker.
pub const OPEN: &str = "circuit breaker is open";
/// The error of a call refused while the half-open trial is running.
pub const TOO_MANY: &str = "too many requests";

/// Breaker states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Calls flow.
    Closed,
    /// Calls are refused.
    Open,
    /// One trial call flows.
    HalfOpen,
}

#[derive(Debug)]
struct Inner {
    state: State,
    consecutive_errors: u32,
    /// Closed: when counts reset; Open: when it turns half-open.
    deadline: Option<Duration>,
    trial_running: bool,
}

/// A breaker in front of a backend.
pub struct CircuitBreaker {
    opts: CircuitBreakerOptions,
    inner: Arc<Mutex<Inner>>,
    clock: Arc<dyn Clock>,
    next: SharedProxy,
}

impl CircuitBreaker {
    /// A breaker over `next` on the system clock.
    pub fn new(opts: CircuitBreakerOptions, next: SharedProxy) -> Self {
        Self::with_clock(opts, next, Arc::new(SystemClock::default()))
    }

    /// A breaker over `next` on `clock`.
    pub fn with_clock(
        opts: CircuitBreakerOptions,
        next: SharedProxy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let deadline = (!opts.interval.is_zero()).then(|| clock.now() + opts.interval);
        Self {
            opts,
            inner: Arc::new(Mutex::new(Inner {
                state: State::Closed,
                consecutive_errors: 0,
                deadline,
                trial_running: false,
            })),
            clock,
            next,
        }
    }

    /// The current state (as of now).
    pub fn state(&self) -> State {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        self.advance(&mut g, self.clock.now());
        g.state
    }

    fn set(&self, g: &mut Inner, to: State, now: Duration) {
        self.handle().set(g, to, now);
    }

    fn handle(&self) -> BreakerHandle {
        BreakerHandle {
            opts: self.opts.clone(),
            clock: self.clock.clone(),
        }
    }

    /// Time-driven transitions.
    fn advance(&self, g: &mut Inner, now: Duration) {
        match (g.state, g.deadline) {
            (State::Closed, Some(d)) if now >= d => {
                g.consecutive_errors = 0;
                g.deadline = Some(now + self.opts.interval);
            }
            (State::Open, Some(d)) if now >= d => self.set(g, State::HalfOpen, now),
            _ => {}
        }
    }

    fn record(inner: &Mutex<Inner>, me: &BreakerHandle, failed: bool) {
        let now = me.clock.now();
        let mut g = inner.lock().unwrap_or_else(|e| e.into_inner());
        match g.state {
            State::HalfOpen => {
                let to = if failed { State::Open } else { State::Closed };
                me.set(&mut g, to, now);
            }
            State::Closed if failed => {
                g.consecutive_errors += 1;
                if g.consecutive_errors > me.opts.max_errors {
                    me.set(&mut g, State::Open, now);
                }
            }
            State::Closed => g.consecutive_errors = 0,
            State::Open => {}
        }
    }
}

/// What a finished call needs to report back.
struct BreakerHandle {
    opts: CircuitBreakerOptions,
    clock: Arc<dyn Clock>,
}

impl BreakerHandle {
    fn set(&self, g: &mut Inner, to: State, now: Duration) {
        if g.state != to && self.opts.log_status_change {
            tracing::warn!(breaker = %self.opts.name, from = ?g.state, to = ?to, "circuit breaker state change");
        }
        g.state = to;
        g.consecutive_errors = 0;
        g.trial_running = false;
        g.deadline = match to {
            State::Closed => (!self.opts.interval.is_zero()).then(|| now + self.opts.interval),
            State::Open => Some(now + self.opts.timeout),
            State::HalfOpen => None,
        };
    }
}

impl Proxy for CircuitBreaker {
    fn call(&self, request: Request) -> ProxyFuture {
        {
            let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            self.advance(&mut g, self.clock.now());
            let refusal = match g.state {
                State::Open => Some(OPEN),
                State::HalfOpen if g.trial_running => Some(TOO_MANY),
                State::HalfOpen => {
                    g.trial_running = true;
                    None
                }
                State::Closed => None,
            };
            if let Some(msg) = refusal {
                return Box::pin(async move { Outcome::err(ProxyError::Transport(msg.into())) });
            }
        }
        let inner = self.inner.clone();
        let handle = self.handle();
        let fut = self.next.call(request);
        Box::pin(async move {
            let outcome = fut.await;
            CircuitBreaker::record(&inner, &handle, outcome.error.is_some());
            outcome
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::testing::request;
    use crate::proxy::{from_fn, testing::data};
    use crate::qos::token_bucket::ManualClock;
    use serde_json::json;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    struct Fake {
        fail: Arc<AtomicBool>,
        calls: Arc<AtomicUsize>,
    }

    fn fake() -> (Fake, SharedProxy) {
        let fail = Arc::new(AtomicBool::new(true));
        let calls = Arc::new(AtomicUsize::new(0));
        let (f, c) = (fail.clone(), calls.clone());
        let p = from_fn(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
            let failing = f.load(Ordering::SeqCst);
            async move {
                if failing {
                    Outcome::err(ProxyError::Transport("backend down".into()))
                } else {
                    Outcome::ok(data(json!({"ok": true})))
                }
            }
        });
        (Fake { fail, calls }, p)
    }

    fn opts(max_errors: u32) -> CircuitBreakerOptions {
        CircuitBreakerOptions {
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            max_errors,
            name: "t".into(),
            log_status_change: true,
        }
    }

    fn msg(o: &Outcome) -> String {
        o.error
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn opens_after_max_errors_then_half_opens_and_closes() {
        let clock = Arc::new(ManualClock::default());
        let (f, next) = fake();
        let b = CircuitBreaker::with_clock(opts(1), next, clock.clone());
        assert_eq!(msg(&b.call(request()).await), "backend down");
        assert_eq!(
            b.state(),
            State::Closed,
            "1 error is not more than max_errors=1"
        );
        assert_eq!(msg(&b.call(request()).await), "backend down");
        assert_eq!(b.state(), State::Open);
        assert_eq!(msg(&b.call(request()).await), OPEN);
        assert_eq!(
            f.calls.load(Ordering::SeqCst),
            2,
            "open breaker does not call"
        );
        clock.advance(Duration::from_secs(9));
        assert_eq!(b.state(), State::Open);
        clock.advance(Duration::from_secs(1));
        assert_eq!(b.state(), State::HalfOpen);
        f.fail.store(false, Ordering::SeqCst);
        assert!(b.call(request()).await.error.is_none());
        assert_eq!(b.state(), State::Closed);
    }

    #[tokio::test]
    async fn failed_trial_opens_again() {
        let clock = Arc::new(ManualClock::default());
        let (_f, next) = fake();
        let b = CircuitBreaker::with_clock(opts(0), next, clock.clone());
        b.call(request()).await;
        assert_eq!(b.state(), State::Open);
        clock.advance(Duration::from_secs(10));
        assert_eq!(b.state(), State::HalfOpen);
        assert_eq!(msg(&b.call(request()).await), "backend down");
        assert_eq!(b.state(), State::Open);
        assert_eq!(msg(&b.call(request()).await), OPEN);
    }

    #[tokio::test]
    async fn only_one_trial_at_a_time() {
        let clock = Arc::new(ManualClock::default());
        let gate = Arc::new(tokio::sync::Notify::new());
        let g = gate.clone();
        let slow = from_fn(move |_| {
            let g = g.clone();
            async move {
                g.notified().await;
                Outcome::ok(data(json!({})))
            }
        });
        let b = Arc::new(CircuitBreaker::with_clock(opts(0), slow, clock.clone()));
        {
            let mut i = b.inner.lock().unwrap();
            let now = clock.now();
            b.set(&mut i, State::HalfOpen, now);
        }
        let b2 = b.clone();
        let trial = tokio::spawn(async move { b2.call(request()).await });
        tokio::task::yield_now().await;
        assert_eq!(msg(&b.call(request()).await), TOO_MANY);
        gate.notify_one();
        assert!(trial.await.unwrap().error.is_none());
        assert_eq!(b.state(), State::Closed);
    }

    #[tokio::test]
    async fn interval_resets_counts_and_success_breaks_the_streak() {
        let clock = Arc::new(ManualClock::default());
        let (f, next) = fake();
        let b = CircuitBreaker::with_clock(opts(1), next, clock.clone());
        b.call(request()).await;
        clock.advance(Duration::from_secs(60));
        b.call(request()).await;
        assert_eq!(
            b.state(),
            State::Closed,
            "the interval cleared the first error"
        );
        f.fail.store(false, Ordering::SeqCst);
        b.call(request()).await;
        f.fail.store(true, Ordering::SeqCst);
        b.call(request()).await;
        assert_eq!(b.state(), State::Closed, "a success breaks the streak");
    }
}
