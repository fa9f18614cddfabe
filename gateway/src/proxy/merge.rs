//! Parallel merge: every backend is called at once; the responses are merged as they arrive.
//! When the merge deadline (85% of the endpoint timeout, as KrakenD) passes, what arrived is
//! returned as an incomplete response.

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::time::Instant;

use super::{Outcome, Proxy, ProxyFuture, Request, Response, SharedProxy};
use crate::error::ProxyError;

/// KrakenD gives merges 85% of the endpoint timeout.
pub fn merge_deadline(endpoint_timeout: Duration) -> Duration {
    endpoint_timeout.mul_f64(0.85)
}

/// Accumulates responses and errors the way KrakenD's merger does.
#[derive(Default)]
pub struct Accumulator {
    data: Option<Response>,
    errors: Vec<ProxyError>,
    pending: usize,
}

impl Accumulator {
    /// Expects `total` parts.
    pub fn new(total: usize) -> Self {
        Self {
            pending: total,
            ..Self::default()
        }
    }

    /// Adds one part's outcome; later keys overwrite earlier ones.
    pub fn merge(&mut self, outcome: Outcome) {
        self.pending = self.pending.saturating_sub(1);
        if let Some(e) = outcome.error {
            self.errors.push(e);
            if let Some(d) = &mut self.data {
                d.is_complete = false;
            }
            return;
        }
        let Some(part) = outcome.response else {
            self.errors.push(ProxyError::NullResult);
            return;
        };
        match &mut self.data {
            None => self.data = Some(part),
            Some(acc) => {
                acc.is_complete = acc.is_complete && part.is_complete;
                acc.data.extend(part.data);
            }
        }
    }

    /// The merged outcome.
    pub fn finish(mut self) -> Outcome {
        if self.pending != 0 || !self.errors.is_empty() {
            if let Some(d) = &mut self.data {
                d.is_complete = false;
            }
        }
        Outcome {
            response: self.data,
            error: ProxyError::merged(self.errors),
        }
    }
}

/// Calls every child concurrently and merges.
pub struct ParallelMerge {
    children: Arc<[SharedProxy]>,
    deadline: Duration,
}

impl ParallelMerge {
    /// A merge over `children` with the given merge deadline.
    pub fn new(children: Vec<SharedProxy>, deadline: Duration) -> Self {
        Self {
            children: children.into(),
            deadline,
        }
    }
}

impl Proxy for ParallelMerge {
    fn call(&self, request: Request) -> ProxyFuture {
        let children = self.children.clone();
        let deadline = Instant::now() + self.deadline;
        Box::pin(async move {
            let mut acc = Accumulator::new(children.len());
            let mut calls: FuturesUnordered<_> =
                children.iter().map(|c| c.call(request.clone())).collect();
            let sleep = tokio::time::sleep_until(deadline);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    next = calls.next() => match next {
                        Some(outcome) => acc.merge(outcome),
                        None => break,
                    },
                    () = &mut sleep => {
                        for _ in 0..calls.len() {
                            acc.merge(Outcome::err(ProxyError::Timeout));
                        }
                        break;
                    }
                }
            }
            acc.finish()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::testing::*;
    use crate::proxy::{from_fn, Outcome};
    use serde_json::json;

    #[tokio::test]
    async fn merges_all_parts() {
        let m = ParallelMerge::new(
            vec![answering(json!({"a":1})), answering(json!({"b":2}))],
            Duration::from_secs(1),
        );
        let out = m.call(request()).await;
        let r = out.response.unwrap();
        assert!(out.error.is_none());
        assert!(r.is_complete);
        assert_eq!(serde_json::Value::Object(r.data), json!({"a":1,"b":2}));
    }

    #[tokio::test]
    async fn failing_part_gives_incomplete_partial() {
        let m = ParallelMerge::new(
            vec![answering(json!({"a":1})), failing("boom")],
            Duration::from_secs(1),
        );
        let out = m.call(request()).await;
        assert!(!out.response.as_ref().unwrap().is_complete);
        assert_eq!(out.error.unwrap().to_string(), "boom");
    }

    #[tokio::test]
    async fn slow_part_is_cut_at_deadline() {
        let slow = from_fn(|_| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Outcome::ok(data(json!({"late":true})))
        });
        let m = ParallelMerge::new(
            vec![answering(json!({"a":1})), slow],
            Duration::from_millis(50),
        );
        let started = std::time::Instant::now();
        let out = m.call(request()).await;
        assert!(started.elapsed() < Duration::from_secs(1));
        let r = out.response.unwrap();
        assert!(!r.is_complete);
        assert!(!r.data.contains_key("late"));
        assert_eq!(
            out.error,
            Some(ProxyError::Merge(vec![ProxyError::Timeout]))
        );
    }

    #[tokio::test]
    async fn all_failing_gives_no_response() {
        let m = ParallelMerge::new(vec![failing("x"), failing("y")], Duration::from_secs(1));
        let out = m.call(request()).await;
        assert!(out.response.is_none());
        assert!(matches!(out.error, Some(ProxyError::Merge(ref v)) if v.len() == 2));
    }
}
