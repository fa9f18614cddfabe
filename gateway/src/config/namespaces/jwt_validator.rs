//! `extra_config["auth/validator"]` (endpoint level): JWT validation options.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::walk::{index, join, Walker};

/// The namespace key.
pub const NAMESPACE: &str = "auth/validator";

/// Algorithms accepted in `alg` (never `none`).
pub const ALGORITHMS: &[&str] = &[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
    "ES384", "ES512", "EdDSA",
];

/// JWT validation options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtValidatorOptions {
    /// `alg` (default RS256): the only algorithm accepted.
    pub alg: String,
    /// `jwk_url`.
    pub jwk_url: Option<String>,
    /// `jwk_local_path`.
    pub jwk_local_path: Option<PathBuf>,
    /// `disable_jwk_security`: allow a plain-http `jwk_url`.
    pub disable_jwk_security: bool,
    /// `cache` / `cache_duration`: how long fetched keys are kept (default 15m).
    pub cache_duration: Duration,
    /// `audience`: the token must name one of them.
    pub audience: Vec<String>,
    /// `issuer`.
    pub issuer: Option<String>,
    /// `roles`: the token must carry one of them.
    pub roles: Vec<String>,
    /// `roles_key` (default `roles`).
    pub roles_key: String,
    /// `roles_key_is_nested`: `roles_key` is a dotted path.
    pub roles_key_is_nested: bool,
    /// `scopes`.
    pub scopes: Vec<String>,
    /// `scopes_key` (default `scope`).
    pub scopes_key: String,
    /// `scopes_matcher`: `any` (default) or `all`.
    pub scopes_match_all: bool,
    /// `cookie_key`: read the token from this cookie when there is no `Authorization`.
    pub cookie_key: Option<String>,
    /// `propagate_claims`: (claim, header) pairs copied to the request.
    pub propagate_claims: Vec<(String, String)>,
    /// `leeway`: clock skew tolerated on `exp`/`nbf`.
    pub leeway: Duration,
}

/// Reads the namespace object at `path`.
pub fn parse(v: &Map<String, Value>, path: &str, w: &mut Walker) -> JwtValidatorOptions {
    let alg = w.string(v, "alg", path).unwrap_or_else(|| "RS256".into());
    if !ALGORITHMS.contains(&alg.as_str()) {
        w.fail(
            join(path, "alg"),
            format!(
                "unsupported algorithm {alg:?} (one of {})",
                ALGORITHMS.join(", ")
            ),
        );
    }
    let jwk_url = w.string(v, "jwk_url", path);
    let jwk_local_path = w.string(v, "jwk_local_path", path).map(PathBuf::from);
    let disable_jwk_security = w.boolean(v, "disable_jwk_security", path).unwrap_or(false);
    match (&jwk_url, &jwk_local_path) {
        (None, None) => w.fail(join(path, "jwk_url"), "is required (or jwk_local_path)"),
        (Some(u), None) if u.starts_with("http://") && !disable_jwk_security => w.fail(
            join(path, "jwk_url"),
            "plain http needs \"disable_jwk_security\": true",
        ),
        (Some(u), None) if !u.starts_with("http://") && !u.starts_with("https://") => {
            w.fail(join(path, "jwk_url"), "must be an http(s) URL")
        }
        _ => {}
    }
    let cache = w.boolean(v, "cache", path).unwrap_or(false);
    let cache_duration = w
        .unsigned(v, "cache_duration", path, u32::MAX as u64)
        .map(Duration::from_secs)
        .filter(|_| cache)
        .unwrap_or(Duration::from_secs(15 * 60));
    let scopes_matcher = w
        .string(v, "scopes_matcher", path)
        .unwrap_or_else(|| "any".into());
    if scopes_matcher != "any" && scopes_matcher != "all" {
        w.fail(join(path, "scopes_matcher"), "must be \"any\" or \"all\"");
    }
    let mut propagate_claims = Vec::new();
    if let Some(list) = v.get("propagate_claims") {
        let p = join(path, "propagate_claims");
        match list {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    match item.as_array().map(|a| a.as_slice()) {
                        Some([Value::String(c), Value::String(h)])
                            if http::HeaderName::from_bytes(h.as_bytes()).is_ok() =>
                        {
                            propagate_claims.push((c.clone(), h.clone()))
                        }
                        _ => w.fail(index(&p, i), "must be a [claim, header] pair"),
                    }
                }
            }
            _ => w.fail(p, "must be an array of [claim, header] pairs"),
        }
    }
    let leeway = match v.get("leeway") {
        Some(Value::String(_)) => w.duration(v, "leeway", path).unwrap_or_default(),
        Some(Value::Number(_)) => w
            .unsigned(v, "leeway", path, u32::MAX as u64)
            .map(Duration::from_secs)
            .unwrap_or_default(),
        _ => Duration::ZERO,
    };
    JwtValidatorOptions {
        alg,
        jwk_url,
        jwk_local_path,
        disable_jwk_security,
        cache_duration,
        audience: w.strings(v, "audience", path).unwrap_or_default(),
        issuer: w.string(v, "issuer", path),
        roles: w.strings(v, "roles", path).unwrap_or_default(),
        roles_key: w
            .string(v, "roles_key", path)
            .unwrap_or_else(|| "roles".into()),
        roles_key_is_nested: w.boolean(v, "roles_key_is_nested", path).unwrap_or(false),
        scopes: w.strings(v, "scopes", path).unwrap_or_default(),
        scopes_key: w
            .string(v, "scopes_key", path)
            .unwrap_or_else(|| "scope".into()),
        scopes_match_all: scopes_matcher == "all",
        cookie_key: w.string(v, "cookie_key", path),
        propagate_claims,
        leeway,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> (JwtValidatorOptions, Vec<String>) {
        let v: Value = serde_json::from_str(json).unwrap();
        let mut w = Walker::default();
        let o = parse(v.as_object().unwrap(), "v", &mut w);
        (o, w.problems.iter().map(|p| p.path.clone()).collect())
    }

    #[test]
    fn defaults_and_checks() {
        let (o, p) = read(r#"{"jwk_url":"https://idp.example/jwks"}"#);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(o.alg, "RS256");
        assert_eq!(o.roles_key, "roles");
        assert_eq!(o.cache_duration, Duration::from_secs(900));
        let (_, p) = read(
            r#"{"alg":"none","jwk_url":"http://idp/jwks","scopes_matcher":"x","propagate_claims":[["sub"]]}"#,
        );
        assert_eq!(
            p,
            [
                "v.alg",
                "v.jwk_url",
                "v.scopes_matcher",
                "v.propagate_claims[0]"
            ]
        );
        let (o, p) = read(
            r#"{"alg":"HS256","jwk_local_path":"k.json","cache":true,"cache_duration":60,
                "propagate_claims":[["sub","x-user"]],"leeway":"5s","scopes_matcher":"all"}"#,
        );
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(o.cache_duration, Duration::from_secs(60));
        assert_eq!(
            o.propagate_claims,
            [("sub".to_string(), "x-user".to_string())]
        );
        assert_eq!(o.leeway, Duration::from_secs(5));
        assert!(o.scopes_match_all);
    }
}
