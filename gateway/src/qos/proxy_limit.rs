//! `qos/ratelimit/proxy`: one token bucket in front of a backend. Calls over the limit never
//! leave the gateway and fail as `503 Service Unavailable` from that backend.

use std::sync::Arc;

use crate::config::namespaces::ratelimit::BucketSpec;
use crate::error::ProxyError;
use crate::proxy::{Outcome, Proxy, ProxyFuture, Request, SharedProxy};
use crate::qos::token_bucket::{Clock, SystemClock, TokenBucket};

/// The error text of a refused backend call (KrakenD's wording).
pub const LIMITED: &str = "ERROR: rate limit exceeded";

/// A rate-limited backend.
pub struct ProxyLimit {
    bucket: TokenBucket,
    next: SharedProxy,
}

impl ProxyLimit {
    /// A limiter over `next` on the system clock.
    pub fn new(spec: BucketSpec, next: SharedProxy) -> Self {
        Self::with_clock(spec, next, Arc::new(SystemClock::default()))
    }

    /// A limiter over `next` on `clock`.
    pub fn with_clock(spec: BucketSpec, next: SharedProxy, clock: Arc<dyn Clock>) -> Self {
        Self {
            bucket: TokenBucket::new(spec, clock),
            next,
        }
    }
}

impl Proxy for ProxyLimit {
    fn call(&self, request: Request) -> ProxyFuture {
        if !self.bucket.allow() {
            return Box::pin(async {
                Outcome::err(ProxyError::WithStatus {
                    status: 503,
                    body: LIMITED.into(),
                    content_type: None,
                })
            });
        }
        self.next.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::testing::{answering, request};
    use crate::qos::token_bucket::ManualClock;
    use serde_json::json;
    use std::time::Duration;

    #[tokio::test]
    async fn exceeded_then_refilled() {
        let clock = Arc::new(ManualClock::default());
        let spec = BucketSpec {
            rate: 1.0,
            capacity: 1,
            every: Duration::from_secs(1),
        };
        let p = ProxyLimit::with_clock(spec, answering(json!({"a": 1})), clock.clone());
        assert!(p.call(request()).await.error.is_none());
        let o = p.call(request()).await;
        assert_eq!(
            o.error,
            Some(ProxyError::WithStatus {
                status: 503,
                body: LIMITED.into(),
                content_type: None
            })
        );
        clock.advance(Duration::from_secs(1));
        assert!(p.call(request()).await.error.is_none());
    }
}
