//! `proxy.static`: adds fixed data to the response when the strategy matches.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{Outcome, Proxy, ProxyFuture, Request, Response, SharedProxy};
use crate::config::namespaces::proxy::{StaticData, StaticStrategy};

/// Wraps `next`, adding the static data.
pub struct Static {
    next: SharedProxy,
    strategy: StaticStrategy,
    data: Arc<Map<String, Value>>,
}

impl Static {
    /// The layer for `cfg` over `next`.
    pub fn new(next: SharedProxy, cfg: &StaticData) -> Self {
        Self {
            next,
            strategy: cfg.strategy,
            data: Arc::new(cfg.data.clone()),
        }
    }
}

fn matches(strategy: StaticStrategy, o: &Outcome) -> bool {
    let complete = o.response.as_ref().is_some_and(|r| r.is_complete);
    match strategy {
        StaticStrategy::Always => true,
        StaticStrategy::Success => o.error.is_none(),
        StaticStrategy::Errored => o.error.is_some(),
        StaticStrategy::Complete => o.error.is_none() && complete,
        StaticStrategy::Incomplete => !complete,
    }
}

impl Proxy for Static {
    fn call(&self, request: Request) -> ProxyFuture {
        let fut = self.next.call(request);
        let strategy = self.strategy;
        let data = self.data.clone();
        Box::pin(async move {
            let mut outcome = fut.await;
            if matches(strategy, &outcome) {
                let r = outcome.response.get_or_insert_with(Response::default);
                for (k, v) in data.iter() {
                    r.data.insert(k.clone(), v.clone());
                }
            }
            outcome
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::testing::*;
    use serde_json::json;

    fn cfg(strategy: StaticStrategy) -> StaticData {
        StaticData {
            strategy,
            data: json!({"s": 1}).as_object().unwrap().clone(),
        }
    }

    #[tokio::test]
    async fn always_adds_even_on_failure() {
        let l = Static::new(failing("x"), &cfg(StaticStrategy::Always));
        let out = l.call(request()).await;
        assert_eq!(out.response.unwrap().data["s"], json!(1));
        assert!(out.error.is_some());
    }

    #[tokio::test]
    async fn errored_skips_success() {
        let l = Static::new(answering(json!({"a": 1})), &cfg(StaticStrategy::Errored));
        let out = l.call(request()).await;
        assert!(!out.response.unwrap().data.contains_key("s"));
    }
}
