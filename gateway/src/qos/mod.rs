//! Traffic control: rate limits (token buckets), circuit breaker.

pub mod circuit_breaker;
pub mod proxy_limit;
pub mod router_limit;
pub mod token_bucket;
