//! The endpoint timeout, on recycled timers.
//!
//! `tokio::time::timeout` makes a new timer for every call: it takes the timer wheel's lock to
//! insert it and again to remove it, and allocates nothing less than a fresh entry each time.
//! A request's endpoint timeout almost never fires, so [`within`] takes a timer from this
//! thread's small pool instead and gives it back when the call ends, still in the wheel. Set
//! to a later deadline, tokio's timer only moves its deadline forward (one atomic exchange);
//! the wheel re-files it when the old deadline comes. An earlier deadline, or a timer that
//! has fired, is filed again the usual way. Either way the call ends when its deadline passes.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use tokio::runtime::{Handle, Id};
use tokio::time::{Instant, Sleep};

/// Idle timers kept per thread: enough for the calls one thread runs at once in bursts.
const POOL_SIZE: usize = 256;

/// The deadline passed before the call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

/// Runs `call` until it ends or `limit` passes, whichever comes first. A call that ends on
/// its first poll takes no timer at all. Must run inside a tokio runtime with timers.
pub fn within<F: Future>(limit: Duration, call: F) -> Within<F> {
    Within {
        call,
        limit,
        timer: None,
    }
}

pin_project_lite::pin_project! {
    /// [`within`]'s future: the call itself, held once (an `async fn` would hold its
    /// argument and a pinned copy of it), and its timer once it waits.
    pub struct Within<F> {
        #[pin]
        call: F,
        limit: Duration,
        timer: Option<Recycled>,
    }
}

impl<F: Future> Future for Within<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.call.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        let limit = *this.limit;
        let timer = this
            .timer
            .get_or_insert_with(|| Recycled::take(Instant::now() + limit));
        match timer.sleep().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A timer of this thread's pool, given back when dropped.
pub struct Recycled {
    runtime: Id,
    sleep: Option<Pin<Box<Sleep>>>,
}

/// The idle timers of one thread, all of one runtime.
struct Pool {
    runtime: Option<Id>,
    idle: Vec<Pin<Box<Sleep>>>,
}

thread_local! {
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool {
            runtime: None,
            idle: Vec::new(),
        })
    };
}

impl Recycled {
    /// A timer of the current runtime that ends at `deadline`.
    fn take(deadline: Instant) -> Self {
        let runtime = Handle::current().id();
        let reused = POOL
            .try_with(|pool| {
                let mut pool = pool.try_borrow_mut().ok()?;
                if pool.runtime != Some(runtime) {
                    // Another runtime's timers are of no use on this one.
                    pool.idle.clear();
                    pool.runtime = Some(runtime);
                }
                pool.idle.pop()
            })
            .ok()
            .flatten();
        let sleep = match reused {
            Some(mut sleep) => {
                sleep.as_mut().reset(deadline);
                sleep
            }
            None => Box::pin(tokio::time::sleep_until(deadline)),
        };
        Self {
            runtime,
            sleep: Some(sleep),
        }
    }

    fn sleep(&mut self) -> Pin<&mut Sleep> {
        self.sleep
            .as_mut()
            .expect("a timer is held until dropped")
            .as_mut()
    }
}

impl Drop for Recycled {
    fn drop(&mut self) {
        let Some(sleep) = self.sleep.take() else {
            return;
        };
        // Dropped elsewhere (a runtime shutting down, a full pool): the timer just ends.
        let _ = POOL.try_with(|pool| {
            if let Ok(mut pool) = pool.try_borrow_mut() {
                if pool.runtime == Some(self.runtime) && pool.idle.len() < POOL_SIZE {
                    pool.idle.push(sleep);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idle_timers() -> usize {
        POOL.with(|pool| pool.borrow().idle.len())
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_that_ends_in_time_gives_its_output() {
        let got = within(Duration::from_secs(1), async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            7
        })
        .await;
        assert_eq!(got, Ok(7));
    }

    /// A call that sleeps `ms`, under a deadline of `limit_ms`.
    async fn sleep_within(limit_ms: u64, ms: u64) -> Result<(), Elapsed> {
        let call = tokio::time::sleep(Duration::from_millis(ms));
        within(Duration::from_millis(limit_ms), call).await
    }

    /// How long a call that never ends runs under a deadline of `limit_ms` (it is cut off).
    async fn cut_off_after(limit_ms: u64) -> Duration {
        let started = Instant::now();
        let call = std::future::pending::<()>();
        assert_eq!(
            within(Duration::from_millis(limit_ms), call).await,
            Err(Elapsed)
        );
        started.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_past_its_deadline_is_cut_off() {
        assert_eq!(sleep_within(200, 5_000).await, Err(Elapsed));
        assert_eq!(cut_off_after(200).await, Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn a_ready_call_takes_no_timer() {
        assert_eq!(within(Duration::from_secs(1), async { 1 }).await, Ok(1));
        assert_eq!(idle_timers(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn timers_are_reused_and_keep_each_calls_deadline() {
        // A long deadline first, so that the reused timer is moved both ways.
        assert_eq!(sleep_within(60_000, 1).await, Ok(()));
        assert_eq!(idle_timers(), 1);

        // An earlier deadline than the timer's last one: filed again, and it fires.
        assert_eq!(cut_off_after(100).await, Duration::from_millis(100));
        assert_eq!(idle_timers(), 1, "the same timer went back");

        // A fired timer set later again, and moved forward many times without firing.
        for _ in 0..50 {
            assert_eq!(sleep_within(300, 20).await, Ok(()));
        }
        assert_eq!(idle_timers(), 1);

        // Still a working deadline after all that moving.
        assert_eq!(cut_off_after(300).await, Duration::from_millis(300));
    }

    #[tokio::test(start_paused = true)]
    async fn calls_at_once_take_a_timer_each() {
        let calls = (0..10u64).map(|i| sleep_within(100, 10 + i * 20));
        let results = futures_util::future::join_all(calls).await;
        let in_time = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(
            in_time, 5,
            "10..90 ms end in time, 110 ms and later do not: {results:?}"
        );
        assert_eq!(idle_timers(), 10);
    }

    #[test]
    fn a_new_runtime_does_not_use_an_old_runtimes_timers() {
        let call = || sleep_within(50, 5_000);
        let runtime = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap()
        };
        let first = runtime();
        assert_eq!(first.block_on(call()), Err(Elapsed));
        assert_eq!(idle_timers(), 1);
        drop(first);

        let second = runtime();
        // An old runtime's timer would panic (shut down) or never fire.
        assert_eq!(second.block_on(call()), Err(Elapsed));
        assert_eq!(idle_timers(), 1);
    }
}
