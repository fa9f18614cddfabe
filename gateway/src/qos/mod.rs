//! Traffic control: rate limits (token buckets), circuit breaker, HTTP cache, Martian modifiers.

pub mod circuit_breaker;
pub mod http_cache;
pub mod martian;
pub mod proxy_limit;
pub mod router_limit;
pub mod token_bucket;
