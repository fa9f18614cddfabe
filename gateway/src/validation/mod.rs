//! Request and response validation layers: `validation/json-schema` and `validation/cel`.

pub mod cel;
pub mod json_schema;

use std::sync::Arc;

use crate::config::namespaces::traffic::{BackendTraffic, EndpointTraffic};
use crate::proxy::SharedProxy;

/// Wraps an endpoint's proxy stack with the configured validation layers (none when nothing
/// is configured), outermost first as KrakenD runs them: JSON schema before anything else.
pub fn wrap_endpoint(t: &EndpointTraffic, mut proxy: SharedProxy) -> SharedProxy {
    if !t.cel.is_empty() {
        proxy = cel::CelValidation::wrap(&t.cel, proxy);
    }
    if let Some(schema) = &t.json_schema {
        proxy = Arc::new(json_schema::JsonSchemaValidation::new(
            schema.0.clone(),
            proxy,
        ));
    }
    proxy
}

/// Wraps one backend's proxy with its configured traffic and validation layers (breaker
/// nearest the backend, then the rate limit, then CEL, as KrakenD stacks them).
pub fn wrap_backend(t: &BackendTraffic, mut proxy: SharedProxy) -> SharedProxy {
    if let Some(cb) = &t.circuit_breaker {
        proxy = Arc::new(crate::qos::circuit_breaker::CircuitBreaker::new(
            cb.clone(),
            proxy,
        ));
    }
    if let Some(spec) = t.rate_limit {
        proxy = Arc::new(crate::qos::proxy_limit::ProxyLimit::new(spec, proxy));
    }
    if !t.cel.is_empty() {
        proxy = cel::CelValidation::wrap(&t.cel, proxy);
    }
    proxy
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::testing::answering;

    #[test]
    fn nothing_configured_adds_no_layer() {
        let p = answering(serde_json::json!({}));
        assert!(Arc::ptr_eq(
            &wrap_endpoint(&EndpointTraffic::default(), p.clone()),
            &p
        ));
        assert!(Arc::ptr_eq(
            &wrap_backend(&BackendTraffic::default(), p.clone()),
            &p
        ));
    }
}
