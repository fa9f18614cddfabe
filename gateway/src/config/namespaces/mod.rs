//! One module per implemented `extra_config` namespace: raw object -> typed options.

pub mod backend_http;
pub mod bot_detector;
pub mod cel;
pub mod circuit_breaker;
pub mod cors;
pub mod http_cache;
pub mod http_secure;
pub mod json_schema;
pub mod jwt_signer;
pub mod jwt_validator;
pub mod logging;
pub mod lua;
pub mod martian;
pub mod metrics;
pub mod proxy;
pub mod ratelimit;
pub mod router;
pub mod security;
pub mod traffic;
