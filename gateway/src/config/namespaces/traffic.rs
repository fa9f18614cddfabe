//! The traffic-control and validation namespaces of an endpoint and of a backend, grouped so
//! that settings gain one field each: what is configured here adds a layer in the pipeline.

use serde_json::Value;

use crate::config::namespaces::cel::{self, CelRule};
use crate::config::namespaces::circuit_breaker::{self, CircuitBreakerOptions};
use crate::config::namespaces::http_cache::{self, HttpCacheOptions};
use crate::config::namespaces::json_schema::{self, JsonSchema};
use crate::config::namespaces::lua::{self, LuaOptions};
use crate::config::namespaces::martian::{self, Modifier};
use crate::config::namespaces::ratelimit::{self, RouterRateLimit};
use crate::config::walk::Walker;

/// Endpoint-level traffic/validation options.
#[derive(Debug, Clone, Default)]
pub struct EndpointTraffic {
    /// `validation/json-schema`.
    pub json_schema: Option<JsonSchema>,
    /// `validation/cel`.
    pub cel: Vec<CelRule>,
    /// `qos/ratelimit/router`.
    pub rate_limit: Option<RouterRateLimit>,
    /// `modifier/lua-endpoint`.
    pub lua_endpoint: Option<LuaOptions>,
    /// `modifier/lua-proxy`.
    pub lua_proxy: Option<LuaOptions>,
}

/// Backend-level traffic/validation options.
#[derive(Debug, Clone, Default)]
pub struct BackendTraffic {
    /// `validation/cel`.
    pub cel: Vec<CelRule>,
    /// `qos/ratelimit/proxy`.
    pub rate_limit: Option<ratelimit::BucketSpec>,
    /// `qos/circuit-breaker`.
    pub circuit_breaker: Option<CircuitBreakerOptions>,
    /// `qos/http-cache`.
    pub http_cache: Option<HttpCacheOptions>,
    /// `modifier/martian`.
    pub martian: Option<Modifier>,
    /// `modifier/lua-backend`.
    pub lua: Option<LuaOptions>,
}

/// Reads `ns` at endpoint level when it is one of ours; `false` when it is not.
pub fn parse_endpoint(
    ns: &str,
    v: &Value,
    path: &str,
    w: &mut Walker,
    out: &mut EndpointTraffic,
) -> bool {
    match ns {
        json_schema::NAMESPACE => {
            if let Some(o) = w.expect_object(v, path) {
                out.json_schema = json_schema::parse(o, path, w);
            }
        }
        cel::NAMESPACE => out.cel = cel::parse(v, path, w),
        ratelimit::ROUTER_NAMESPACE => {
            if let Some(o) = w.expect_object(v, path) {
                out.rate_limit = ratelimit::parse_router(o, path, w);
            }
        }
        lua::ENDPOINT_NAMESPACE => out.lua_endpoint = parse_lua(v, path, w),
        lua::PROXY_NAMESPACE => out.lua_proxy = parse_lua(v, path, w),
        _ => return false,
    }
    true
}

/// Reads `ns` at backend level when it is one of ours; `false` when it is not.
pub fn parse_backend(
    ns: &str,
    v: &Value,
    path: &str,
    w: &mut Walker,
    out: &mut BackendTraffic,
) -> bool {
    match ns {
        cel::NAMESPACE => out.cel = cel::parse(v, path, w),
        ratelimit::PROXY_NAMESPACE => {
            if let Some(o) = w.expect_object(v, path) {
                out.rate_limit = ratelimit::parse_proxy(o, path, w);
            }
        }
        martian::NAMESPACE => out.martian = martian::parse(v, path, w),
        http_cache::NAMESPACE => {
            if let Some(o) = w.expect_object(v, path) {
                out.http_cache = Some(http_cache::parse(o, path, w));
            }
        }
        circuit_breaker::NAMESPACE => {
            if let Some(o) = w.expect_object(v, path) {
                out.circuit_breaker = circuit_breaker::parse(o, path, w);
            }
        }
        lua::BACKEND_NAMESPACE => out.lua = parse_lua(v, path, w),
        _ => return false,
    }
    true
}

fn parse_lua(v: &Value, path: &str, w: &mut Walker) -> Option<LuaOptions> {
    w.expect_object(v, path).map(|o| lua::parse(o, path, w))
}

#[cfg(test)]
mod tests {
    use crate::config::{parse_str, ConfigError, Format};
    use std::path::Path;

    fn load(text: &str) -> Result<crate::config::ServiceConfig, ConfigError> {
        parse_str(text, Format::Json, Path::new("t.json"))
    }

    #[test]
    fn json_schema_is_read_and_not_ignored() {
        let c = load(
            r#"{"version":3,"endpoints":[{"endpoint":"/a","method":"POST",
            "extra_config":{"validation/json-schema":{"type":"number"}},
            "backend":[{"host":["http://h"],"url_pattern":"/"}]}]}"#,
        )
        .unwrap();
        assert!(
            c.ignored_namespaces.is_empty(),
            "{:?}",
            c.ignored_namespaces
        );
        assert!(c.endpoints[0].traffic.json_schema.is_some());
    }

    #[test]
    fn json_schema_must_be_an_object() {
        let e = load(
            r#"{"version":3,"endpoints":[{"endpoint":"/a",
            "extra_config":{"validation/json-schema":[1]},
            "backend":[{"host":["http://h"],"url_pattern":"/"}]}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("endpoints[0].extra_config[\"validation/json-schema\"]: must be an object"),
            "{e}"
        );
    }
}

#[cfg(test)]
mod limit_tests {
    use crate::config::{parse_str, Format};
    use crate::endpoint::{ClientRequest, Endpoint};
    use crate::proxy::testing::answering;
    use http::{HeaderMap, HeaderValue, Method};
    use std::path::Path;

    #[tokio::test]
    async fn endpoint_answers_429_with_empty_body_when_a_client_is_limited() {
        let c = parse_str(
            r#"{"version":3,"endpoints":[{"endpoint":"/a",
            "extra_config":{"qos/ratelimit/router":{"client_max_rate":1,"every":"1h"}},
            "backend":[{"host":["http://h"],"url_pattern":"/"}]}]}"#,
            Format::Json,
            Path::new("t.json"),
        )
        .unwrap();
        assert!(c.ignored_namespaces.is_empty());
        let e = std::sync::Arc::new(Endpoint::new(
            &c.endpoints[0],
            answering(serde_json::json!({"ok": 1})),
            true,
            HeaderValue::from_static("v"),
            HeaderValue::from_static("ua"),
        ));
        let req = || ClientRequest {
            method: Method::GET,
            path: "/a".into(),
            query: None,
            headers: HeaderMap::new(),
            body: bytes::Bytes::new(),
            has_body: false,
            params: vec![],
            client_ip: "10.0.0.1".into(),
            host: "h".into(),
        };
        assert_eq!(e.handle(req()).await.status(), 200);
        let r = e.handle(req()).await;
        assert_eq!(r.status(), 429);
        use http_body_util::BodyExt;
        assert!(r.into_body().collect().await.unwrap().to_bytes().is_empty());
    }
}
