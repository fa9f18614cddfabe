//! One module per implemented `extra_config` namespace: raw object -> typed options.

pub mod backend_http;
pub mod logging;
pub mod metrics;
pub mod proxy;
pub mod router;
