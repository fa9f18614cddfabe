//! Request and response validation layers: `validation/json-schema` and `validation/cel`.

pub mod json_schema;

use std::sync::Arc;

use crate::config::namespaces::traffic::EndpointTraffic;
use crate::proxy::SharedProxy;

/// Wraps an endpoint's proxy stack with the configured validation layers (none when nothing
/// is configured), outermost first as KrakenD runs them: JSON schema before anything else.
pub fn wrap_endpoint(t: &EndpointTraffic, mut proxy: SharedProxy) -> SharedProxy {
    if let Some(schema) = &t.json_schema {
        proxy = Arc::new(json_schema::JsonSchemaValidation::new(
            schema.0.clone(),
            proxy,
        ));
    }
    proxy
}
