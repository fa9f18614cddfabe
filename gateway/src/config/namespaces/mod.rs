//! One module per implemented `extra_config` namespace: raw object -> typed options.

pub mod backend_http;
pub mod bot_detector;
pub mod cors;
pub mod http_secure;
pub mod jwt_signer;
pub mod jwt_validator;
pub mod logging;
pub mod proxy;
pub mod router;
pub mod security;
