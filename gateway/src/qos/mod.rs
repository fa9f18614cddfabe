//! Traffic control: rate limits (token buckets).

pub mod proxy_limit;
pub mod router_limit;
pub mod token_bucket;
