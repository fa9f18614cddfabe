//! `auth/validator` at request time: verifies the bearer token (or cookie) of a request
//! against keys from a JWK set, then checks audience, issuer, roles and scopes. Refusals are
//! KrakenD's bare 401 (no or bad token) and 403 (valid token lacking a role or scope).
//! `jsonwebtoken` verifies every algorithm but ES512, whose signature [`es512`] checks before
//! the claims go through the same `jsonwebtoken` validation.

use std::collections::HashSet;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::StatusCode;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::es512;
use super::jwk::{self, Jwks, KeySource};
use crate::backend::client::HttpClient;
use crate::body::{self, Body};
use crate::config::namespaces::jwt_validator::JwtValidatorOptions;

/// One verification key of the set.
pub struct VerifyKey {
    kid: Option<String>,
    alg: Option<String>,
    key: KeyMaterial,
}

/// The public half of a verification key.
enum KeyMaterial {
    /// A key for the algorithms `jsonwebtoken` verifies.
    Jwt(DecodingKey),
    /// A P-521 key (ES512).
    P521(p521::ecdsa::VerifyingKey),
}

/// The configured algorithm, the only one a token may use.
enum Pinned {
    /// Verified by `jsonwebtoken`, signature and claims, with this validation.
    Jwt(Algorithm, Box<Validation>),
    /// ES512: the signature is checked by [`es512`], then the claims by `claims` (the same
    /// `jsonwebtoken` validation with its own signature check off).
    Es512 { claims: Box<Validation> },
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No token, or one that does not verify: 401.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// A valid token without the required roles or scopes: 403.
    #[error("forbidden: {0}")]
    Forbidden(String),
}

impl Refusal {
    /// KrakenD's answer: the status alone, no body.
    pub fn response(&self) -> http::Response<Body> {
        let mut r = http::Response::new(body::empty());
        *r.status_mut() = match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
        };
        r
    }
}

/// The prepared validator of one endpoint.
pub struct JwtValidator {
    alg: Pinned,
    alg_name: String,
    keys: Jwks<VerifyKey>,
    roles: Vec<String>,
    roles_key: String,
    roles_nested: bool,
    scopes: Vec<String>,
    scopes_key: String,
    scopes_all: bool,
    cookie_key: Option<String>,
    propagate: Vec<(String, HeaderName)>,
}

/// A JWK as a verification key; keys this build cannot use (e.g. key-wrap keys) are skipped.
fn verify_key(k: &Value) -> Option<VerifyKey> {
    let key = if jwk::text(k, "kty") == Some("oct") {
        KeyMaterial::Jwt(DecodingKey::from_secret(&jwk::member(k, "k")?))
    } else if es512::is_p521(k) {
        KeyMaterial::P521(es512::verifying_key(k)?)
    } else {
        let parsed = serde_json::from_value::<Jwk>(strip_alg(k)).ok()?;
        KeyMaterial::Jwt(DecodingKey::from_jwk(&parsed).ok()?)
    };
    Some(VerifyKey {
        kid: jwk::text(k, "kid").map(str::to_string),
        alg: jwk::text(k, "alg").map(str::to_string),
        key,
    })
}

/// The JWK without `alg`, so that algorithms the JWK crate does not list do not hide the key.
fn strip_alg(k: &Value) -> Value {
    let mut k = k.clone();
    if let Some(o) = k.as_object_mut() {
        o.remove("alg");
    }
    k
}

/// Reads `a.b.c` (nested) or `a` from the claims.
fn claim<'a>(claims: &'a Value, key: &str, nested: bool) -> Option<&'a Value> {
    if !nested {
        return claims.get(key);
    }
    key.split('.').try_fold(claims, |v, k| v.get(k))
}

/// A claim as the list of strings it holds (an array, or a space-separated string).
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// A claim as text, as KrakenD writes it into headers and URL parameters.
pub fn claim_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(claim_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// The claims checks of `o` (`exp`, `nbf`, audience, issuer), verifying `alg` signatures.
fn validation(o: &JwtValidatorOptions, alg: Algorithm) -> Validation {
    let mut validation = Validation::new(alg);
    validation.leeway = o.leeway.as_secs();
    validation.required_spec_claims = HashSet::new();
    validation.validate_exp = true;
    validation.validate_nbf = true;
    if o.audience.is_empty() {
        validation.validate_aud = false;
    } else {
        validation.set_audience(&o.audience);
    }
    if let Some(iss) = &o.issuer {
        validation.set_issuer(&[iss]);
    }
    validation
}

/// The protected header `{"alg":"ES256"}` under which `jsonwebtoken` reads the claims of an
/// ES512 token whose signature [`es512`] already checked (its own check is off then).
const STAND_IN_HEADER: &str = "eyJhbGciOiJFUzI1NiJ9";

impl JwtValidator {
    /// Prepares `o`; local key files are read now.
    pub fn new(o: &JwtValidatorOptions, client: &HttpClient) -> Result<Self, String> {
        let alg = if o.alg == es512::ALG {
            let mut claims = validation(o, Algorithm::ES256);
            claims.insecure_disable_signature_validation();
            Pinned::Es512 {
                claims: Box::new(claims),
            }
        } else {
            let alg: Algorithm = o
                .alg
                .parse()
                .map_err(|_| format!("unsupported alg {:?}", o.alg))?;
            Pinned::Jwt(alg, Box::new(validation(o, alg)))
        };
        let source = KeySource {
            local_path: o.jwk_local_path.as_deref(),
            url: o.jwk_url.as_deref(),
            ttl: o.cache_duration,
        };
        let keys = Jwks::new(&source, client, verify_key)?;
        Ok(Self {
            alg,
            alg_name: o.alg.clone(),
            keys,
            roles: o.roles.clone(),
            roles_key: o.roles_key.clone(),
            roles_nested: o.roles_key_is_nested,
            scopes: o.scopes.clone(),
            scopes_key: o.scopes_key.clone(),
            scopes_all: o.scopes_match_all,
            cookie_key: o.cookie_key.clone(),
            propagate: o
                .propagate_claims
                .iter()
                .filter_map(|(c, h)| Some((c.clone(), HeaderName::from_bytes(h.as_bytes()).ok()?)))
                .collect(),
        })
    }

    /// The token of a request: `Authorization: Bearer …`, else the configured cookie.
    fn token<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        if let Some(v) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            let v = v.trim();
            if v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ") {
                return Some(v[7..].trim());
            }
        }
        let name = self.cookie_key.as_deref()?;
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// Verifies the request's token; returns its claims.
    pub async fn verify(&self, headers: &HeaderMap) -> Result<Value, Refusal> {
        let unauthorized = |m: String| Refusal::Unauthorized(m);
        let token = self
            .token(headers)
            .ok_or_else(|| unauthorized("no token".into()))?;
        let kid = self.pinned_kid(token).map_err(unauthorized)?;
        // The first key of the token's `kid` (any key without one) allowed for the algorithm;
        // an unknown `kid` makes the set refetch once (key rotation).
        let claims = self
            .keys
            .lookup(|keys| {
                let key = keys
                    .iter()
                    .filter(|k| kid.is_none() || k.kid == kid)
                    .find(|k| k.alg.as_deref().is_none_or(|a| a == self.alg_name))?;
                Some(self.decode(token, key))
            })
            .await
            .map_err(|e| unauthorized(format!("kid {kid:?}: {e}")))?
            .map_err(unauthorized)?;
        if !self.roles.is_empty() {
            let have = strings(claim(&claims, &self.roles_key, self.roles_nested));
            if !self.roles.iter().any(|r| have.contains(r)) {
                return Err(Refusal::Forbidden("missing role".into()));
            }
        }
        if !self.scopes.is_empty() {
            let have = strings(claim(&claims, &self.scopes_key, true));
            let ok = if self.scopes_all {
                self.scopes.iter().all(|s| have.contains(s))
            } else {
                self.scopes.iter().any(|s| have.contains(s))
            };
            if !ok {
                return Err(Refusal::Forbidden("missing scope".into()));
            }
        }
        Ok(claims)
    }

    /// The token's `kid`, once its header names the configured algorithm (`alg: none` and
    /// unknown algorithms are refused here).
    fn pinned_kid(&self, token: &str) -> Result<Option<String>, String> {
        let (alg, kid) = match &self.alg {
            Pinned::Jwt(alg, _) => {
                let head = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
                (head.alg == *alg, head.kid)
            }
            Pinned::Es512 { .. } => {
                let head = es512::header(token)?;
                (head.alg == es512::ALG, head.kid)
            }
        };
        if !alg {
            return Err(format!("token alg is not the configured {}", self.alg_name));
        }
        Ok(kid)
    }

    /// The claims of `token` once its signature holds with `key` and they pass the configured
    /// checks; a key of another family than the configured algorithm verifies nothing.
    fn decode(&self, token: &str, key: &VerifyKey) -> Result<Value, String> {
        match (&self.alg, &key.key) {
            (Pinned::Jwt(_, validation), KeyMaterial::Jwt(k)) => {
                jsonwebtoken::decode::<Value>(token, k, validation)
                    .map(|d| d.claims)
                    .map_err(|e| e.to_string())
            }
            (Pinned::Es512 { claims }, KeyMaterial::P521(k)) => {
                let payload = es512::verify(token, k)?;
                let verified = format!("{STAND_IN_HEADER}.{payload}.");
                jsonwebtoken::decode::<Value>(&verified, &DecodingKey::from_secret(&[]), claims)
                    .map(|d| d.claims)
                    .map_err(|e| e.to_string())
            }
            _ => Err(format!("key {:?} is not a {} key", key.kid, self.alg_name)),
        }
    }

    /// Verifies, then copies claims to headers and returns the `JWT.*` parameters.
    pub async fn admit(&self, headers: &mut HeaderMap) -> Result<Vec<(String, String)>, Refusal> {
        let claims = self.verify(headers).await?;
        for (c, h) in &self.propagate {
            if let Some(v) = claim(&claims, c, true) {
                if let Ok(v) = HeaderValue::from_str(&claim_text(v)) {
                    headers.insert(h.clone(), v);
                }
            }
        }
        Ok(claims
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (format!("JWT.{k}"), claim_text(v)))
                    .collect()
            })
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::namespaces::jwt_validator;
    use crate::config::walk::Walker;
    use crate::qos::token_bucket::ManualClock;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use bytes::Bytes;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    const SECRET: &[u8] = b"a-long-shared-secret-for-hs256-tests";

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn jwks_hs() -> String {
        json!({"keys": [
            {"kty": "oct", "alg": "A128KW", "k": "GawgguFyGrWKav7AX4VKUg", "kid": "wrap"},
            {"kty": "oct", "alg": "HS256", "kid": "k1", "k": URL_SAFE_NO_PAD.encode(SECRET)}
        ]})
        .to_string()
    }

    fn local_validator(jwks: &str, extra: Value) -> (JwtValidator, tempfile::NamedTempFile) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(jwks.as_bytes()).unwrap();
        let mut cfg = json!({
            "alg": "HS256", "jwk_local_path": f.path(),
            "audience": ["http://api.example.com"], "issuer": "https://idp.example",
        });
        for (k, v) in extra.as_object().unwrap() {
            cfg[k] = v.clone();
        }
        let mut w = Walker::default();
        let o = jwt_validator::parse(cfg.as_object().unwrap(), "v", &mut w);
        assert!(w.problems.is_empty(), "{:?}", w.problems);
        (JwtValidator::new(&o, &HttpClient::default()).unwrap(), f)
    }

    fn claims() -> Value {
        json!({"aud": "http://api.example.com", "iss": "https://idp.example", "sub": "u-1",
               "exp": now() + 600, "roles": ["role_a"], "scope": "read write",
               "org": {"roles": ["admin"]}})
    }

    fn hs_token(claims: &Value, kid: &str, secret: &[u8]) -> String {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(kid.into());
        encode(&h, claims, &EncodingKey::from_secret(secret)).unwrap()
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        h
    }

    async fn status(v: &JwtValidator, h: &HeaderMap) -> u16 {
        match v.verify(h).await {
            Ok(_) => 200,
            Err(r) => r.response().status().as_u16(),
        }
    }

    #[tokio::test]
    async fn valid_token_passes_and_fills_params_and_headers() {
        let (v, _f) = local_validator(
            &jwks_hs(),
            json!({"roles": ["role_a"], "propagate_claims": [["sub", "x-user"], ["org.roles", "x-org-roles"]]}),
        );
        let mut h = bearer(&hs_token(&claims(), "k1", SECRET));
        let params = v.admit(&mut h).await.unwrap();
        assert!(params.contains(&("JWT.sub".into(), "u-1".into())));
        assert!(params.contains(&("JWT.roles".into(), "role_a".into())));
        assert_eq!(h["x-user"], "u-1");
        assert_eq!(h["x-org-roles"], "admin");
    }

    #[tokio::test]
    async fn refusals_are_bare_401s() {
        let (v, _f) = local_validator(&jwks_hs(), json!({}));
        let expired = {
            let mut c = claims();
            c["exp"] = json!(now() - 120);
            c
        };
        let wrong_issuer = {
            let mut c = claims();
            c["iss"] = json!("https://evil.example");
            c
        };
        let wrong_audience = {
            let mut c = claims();
            c["aud"] = json!("http://other.example.com");
            c
        };
        let good = hs_token(&claims(), "k1", SECRET);
        let (head, rest) = good.split_once('.').unwrap();
        let payload = rest.split('.').next().unwrap();
        // `alg: none` with an empty signature, and the same claims under a forged signature.
        let none_head = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"k1"}"#);
        let cases = [
            ("expired", bearer(&hs_token(&expired, "k1", SECRET))),
            (
                "wrong issuer",
                bearer(&hs_token(&wrong_issuer, "k1", SECRET)),
            ),
            (
                "wrong audience",
                bearer(&hs_token(&wrong_audience, "k1", SECRET)),
            ),
            (
                "forged",
                bearer(&hs_token(
                    &claims(),
                    "k1",
                    b"another-secret-of-the-attacker!!",
                )),
            ),
            ("alg none", bearer(&format!("{none_head}.{payload}."))),
            (
                "tampered",
                bearer(&format!(
                    "{head}.{}.{}",
                    URL_SAFE_NO_PAD.encode(b"{\"sub\":\"admin\"}"),
                    good.rsplit('.').next().unwrap()
                )),
            ),
            ("unknown kid", bearer(&hs_token(&claims(), "nope", SECRET))),
            (
                "key-wrap key",
                bearer(&hs_token(&claims(), "wrap", b"GawgguFyGrWKav7AX4VKUg")),
            ),
            ("garbage", bearer("a.bad.token")),
            ("missing", HeaderMap::new()),
        ];
        for (name, h) in cases {
            let r = v.verify(&h).await.map(|_| ()).unwrap_err();
            assert!(matches!(r, Refusal::Unauthorized(_)), "{name}: {r}");
            let resp = r.response();
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{name}");
            assert!(resp.headers().is_empty(), "{name}");
            use http_body_util::BodyExt;
            assert!(resp
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .is_empty());
        }
        assert_eq!(status(&v, &bearer(&good)).await, 200);
    }

    #[tokio::test]
    async fn leeway_tolerates_clock_skew() {
        let mut c = claims();
        c["exp"] = json!(now() - 30);
        let token = hs_token(&c, "k1", SECRET);
        let (strict, _f) = local_validator(&jwks_hs(), json!({}));
        assert_eq!(status(&strict, &bearer(&token)).await, 401);
        let (lenient, _g) = local_validator(&jwks_hs(), json!({"leeway": "1m"}));
        assert_eq!(status(&lenient, &bearer(&token)).await, 200);
    }

    #[tokio::test]
    async fn algorithm_confusion_is_refused() {
        // Configured for RS256: an HS256 token signed with whatever the attacker picks fails,
        // even if the set holds an `oct` key.
        let (v, _f) = local_validator(&jwks_hs(), json!({"alg": "RS256"}));
        assert_eq!(
            status(&v, &bearer(&hs_token(&claims(), "k1", SECRET))).await,
            401
        );
        // A key whose own `alg` differs from the configured one is not used.
        let jwks = json!({"keys": [{"kty": "oct", "alg": "HS512", "kid": "k1", "k": URL_SAFE_NO_PAD.encode(SECRET)}]});
        let (v, _f) = local_validator(&jwks.to_string(), json!({}));
        assert_eq!(
            status(&v, &bearer(&hs_token(&claims(), "k1", SECRET))).await,
            401
        );
    }

    #[tokio::test]
    async fn roles_and_scopes_give_403() {
        let token = bearer(&hs_token(&claims(), "k1", SECRET));
        for (cfg, want) in [
            (json!({"roles": ["role_b"]}), 403),
            (json!({"roles": ["role_b", "role_a"]}), 200),
            (
                json!({"roles": ["admin"], "roles_key": "org.roles", "roles_key_is_nested": true}),
                200,
            ),
            (json!({"roles": ["admin"], "roles_key": "org.roles"}), 403),
            (json!({"scopes": ["write", "delete"]}), 200),
            (
                json!({"scopes": ["write", "delete"], "scopes_matcher": "all"}),
                403,
            ),
            (
                json!({"scopes": ["read", "write"], "scopes_matcher": "all"}),
                200,
            ),
        ] {
            let (v, _f) = local_validator(&jwks_hs(), cfg.clone());
            assert_eq!(status(&v, &token).await, want, "{cfg}");
        }
    }

    #[tokio::test]
    async fn cookie_key_is_read_when_configured() {
        let mut h = HeaderMap::new();
        let t = hs_token(&claims(), "k1", SECRET);
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=b; session={t}")).unwrap(),
        );
        let (without, _f) = local_validator(&jwks_hs(), json!({}));
        assert_eq!(status(&without, &h).await, 401);
        let (with, _g) = local_validator(&jwks_hs(), json!({"cookie_key": "session"}));
        assert_eq!(status(&with, &h).await, 200);
    }

    #[tokio::test]
    async fn es256_and_eddsa_keys_from_jwk() {
        use rcgen::KeyPair;
        for (alg, rc) in [
            (Algorithm::ES256, &rcgen::PKCS_ECDSA_P256_SHA256),
            (Algorithm::EdDSA, &rcgen::PKCS_ED25519),
        ] {
            let kp = KeyPair::generate_for(rc).unwrap();
            let raw = kp.public_key_raw();
            let jwk = if alg == Algorithm::ES256 {
                json!({"kty": "EC", "crv": "P-256", "kid": "e1",
                       "x": URL_SAFE_NO_PAD.encode(&raw[1..33]), "y": URL_SAFE_NO_PAD.encode(&raw[33..65])})
            } else {
                json!({"kty": "OKP", "crv": "Ed25519", "kid": "e1", "x": URL_SAFE_NO_PAD.encode(raw)})
            };
            let jwks = json!({"keys": [jwk]}).to_string();
            let name = format!("{alg:?}");
            let (v, _f) = local_validator(&jwks, json!({"alg": name}));
            let der = kp.serialize_der();
            let key = if alg == Algorithm::ES256 {
                EncodingKey::from_ec_der(&der)
            } else {
                EncodingKey::from_ed_der(&der)
            };
            let mut h = Header::new(alg);
            h.kid = Some("e1".into());
            let token = encode(&h, &claims(), &key).unwrap();
            assert_eq!(status(&v, &bearer(&token)).await, 200, "{name}");
            // Flip one signature byte.
            let mut forged = token.clone().into_bytes();
            let i = forged.len() - 5;
            forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
            let forged = String::from_utf8(forged).unwrap();
            assert_eq!(status(&v, &bearer(&forged)).await, 401, "{name}");
        }
    }

    /// The test-only key pairs of `testdata/` (their P-521 one is `ec521`).
    fn testdata(file: &str) -> String {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
        std::fs::read_to_string(dir.join(file)).unwrap()
    }

    /// A compact token with `header` and `claims`, signed by the private key `kid` of
    /// `testdata/private_jwks.json` with ES512 (`ec521`) or ES256 (`ec256`).
    fn ec_token(header: Value, claims: &Value, kid: &str) -> String {
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let doc: Value = serde_json::from_str(&testdata("private_jwks.json")).unwrap();
        let jwk = doc["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .unwrap();
        let signature = match es512::signing_key(jwk) {
            Some(p521) => es512::sign(&p521, message.as_bytes()),
            None => {
                let m = |n: &str| jwk::member(jwk, n).unwrap();
                let pair = ring::signature::EcdsaKeyPair::from_private_key_and_public_key(
                    &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    &m("d"),
                    &[&[4u8][..], &m("x"), &m("y")].concat(),
                    &ring::rand::SystemRandom::new(),
                )
                .unwrap();
                let rng = ring::rand::SystemRandom::new();
                pair.sign(&rng, message.as_bytes())
                    .unwrap()
                    .as_ref()
                    .to_vec()
            }
        };
        format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    fn es512_token(claims: &Value) -> String {
        ec_token(
            json!({"alg": "ES512", "kid": "ec521", "typ": "JWT"}),
            claims,
            "ec521",
        )
    }

    #[test]
    fn stand_in_header_is_the_one_documented() {
        assert_eq!(
            STAND_IN_HEADER,
            URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256"}"#)
        );
    }

    #[tokio::test]
    async fn es512_tokens_verify_with_a_p521_jwk_and_the_common_claims_checks() {
        let public = testdata("public_jwks.json");
        let (v, _f) = local_validator(
            &public,
            json!({"alg": "ES512", "roles": ["role_a"], "propagate_claims": [["sub", "x-user"]]}),
        );
        let mut h = bearer(&es512_token(&claims()));
        let params = v.admit(&mut h).await.unwrap();
        assert!(params.contains(&("JWT.sub".into(), "u-1".into())));
        assert_eq!(h["x-user"], "u-1");
        // Without `kid`, the first key of the set (allowed for ES512) is the one.
        let no_kid = bearer(&ec_token(json!({"alg": "ES512"}), &claims(), "ec521"));
        assert_eq!(
            status(&v, &no_kid).await,
            401,
            "the first key is the RSA one"
        );
        let doc: Value = serde_json::from_str(&public).unwrap();
        let only_p521 = json!({"keys": doc["keys"].as_array().unwrap().iter()
            .filter(|k| k["crv"] == "P-521").collect::<Vec<_>>()});
        let (single, _p) = local_validator(&only_p521.to_string(), json!({"alg": "ES512"}));
        assert_eq!(status(&single, &no_kid).await, 200);

        // Claims go through the same checks as every other algorithm.
        let with = |key: &str, value: Value| {
            let mut c = claims();
            c[key] = value;
            bearer(&es512_token(&c))
        };
        for (name, h, want) in [
            ("expired", with("exp", json!(now() - 120)), 401),
            ("not yet valid", with("nbf", json!(now() + 600)), 401),
            (
                "wrong issuer",
                with("iss", json!("https://evil.example")),
                401,
            ),
            (
                "wrong audience",
                with("aud", json!("http://other.example")),
                401,
            ),
            ("missing role", with("roles", json!(["role_b"])), 403),
        ] {
            assert_eq!(status(&v, &h).await, want, "{name}");
        }
        let (lenient, _g) = local_validator(&public, json!({"alg": "ES512", "leeway": "5m"}));
        assert_eq!(
            status(&lenient, &with("exp", json!(now() - 120))).await,
            200
        );
        let (scoped, _s) = local_validator(
            &public,
            json!({"alg": "ES512", "scopes": ["read", "admin"], "scopes_matcher": "all"}),
        );
        assert_eq!(status(&scoped, &bearer(&es512_token(&claims()))).await, 403);
    }

    #[tokio::test]
    async fn es512_forgeries_and_confusions_are_bare_401s() {
        let public = testdata("public_jwks.json");
        let (v, _f) = local_validator(&public, json!({"alg": "ES512"}));
        let good = es512_token(&claims());
        let (message, signature) = good.rsplit_once('.').unwrap();
        let mut raw = URL_SAFE_NO_PAD.decode(signature).unwrap();
        raw[10] ^= 1;
        let forged = format!("{message}.{}", URL_SAFE_NO_PAD.encode(&raw));
        let (head, _) = message.split_once('.').unwrap();
        let tampered = format!(
            "{head}.{}.{signature}",
            URL_SAFE_NO_PAD.encode(b"{\"sub\":\"admin\"}")
        );
        let payload = message.split_once('.').unwrap().1;
        let none_head = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"ec521"}"#);
        let cases = [
            ("forged signature", forged),
            ("tampered claims", tampered),
            // A P-256 signature under an ES512 header, with the P-521 kid and with the
            // P-256 key's own kid (a key on another curve).
            (
                "P-256 claiming ES512",
                ec_token(json!({"alg": "ES512", "kid": "ec521"}), &claims(), "ec256"),
            ),
            (
                "P-256 key for ES512",
                ec_token(json!({"alg": "ES512", "kid": "ec256"}), &claims(), "ec256"),
            ),
            (
                "ES256 token",
                ec_token(json!({"alg": "ES256", "kid": "ec256"}), &claims(), "ec256"),
            ),
            ("alg none", format!("{none_head}.{payload}.")),
            (
                "unknown kid",
                ec_token(json!({"alg": "ES512", "kid": "x"}), &claims(), "ec521"),
            ),
            ("garbage", "a.bad.token".into()),
        ];
        for (name, token) in cases {
            let r = v.verify(&bearer(&token)).await.map(|_| ()).unwrap_err();
            assert!(matches!(r, Refusal::Unauthorized(_)), "{name}: {r}");
            let resp = r.response();
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{name}");
            assert!(resp.headers().is_empty(), "{name}");
            use http_body_util::BodyExt;
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            assert!(body.is_empty(), "{name}");
        }
        assert_eq!(status(&v, &bearer(&good)).await, 200);
    }

    #[tokio::test]
    async fn es512_is_pinned_both_ways() {
        let public = testdata("public_jwks.json");
        let es512 = bearer(&es512_token(&claims()));
        // Configured for ES256: an ES512 token is refused, even with a P-521 key in the set.
        let (v, _f) = local_validator(&public, json!({"alg": "ES256"}));
        assert_eq!(status(&v, &es512).await, 401);
        // A P-521 key whose own `alg` is another one is not used.
        let mut doc: Value = serde_json::from_str(&public).unwrap();
        for k in doc["keys"].as_array_mut().unwrap() {
            k["alg"] = json!("ES256");
        }
        let (v, _f) = local_validator(&doc.to_string(), json!({"alg": "ES512"}));
        assert_eq!(status(&v, &es512).await, 401);
        // ...and with its `alg` ES512 it is.
        for k in doc["keys"].as_array_mut().unwrap() {
            k["alg"] = json!("ES512");
        }
        let (v, _f) = local_validator(&doc.to_string(), json!({"alg": "ES512"}));
        assert_eq!(status(&v, &es512).await, 200);
        // Configured for ES512 with only keys of other curves: nothing verifies.
        let others = json!({"keys": doc["keys"].as_array().unwrap().iter()
            .filter(|k| k["kid"] != "ec521")
            .map(|k| { let mut k = k.clone(); k.as_object_mut().unwrap().remove("alg"); k })
            .collect::<Vec<_>>()});
        let (v, _f) = local_validator(&others.to_string(), json!({"alg": "ES512"}));
        let p256 = ec_token(json!({"alg": "ES512", "kid": "ec256"}), &claims(), "ec256");
        assert_eq!(status(&v, &bearer(&p256)).await, 401);
        assert_eq!(status(&v, &es512).await, 401);
    }

    /// Serves the JWK set in `body` (swappable: key rotation) on loopback, counting downloads.
    async fn rotating_jwk_server(body: String) -> (String, Arc<Mutex<String>>, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let current = Arc::new(Mutex::new(body));
        let (count, served) = (hits.clone(), current.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (count, served) = (count.clone(), served.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |_req| {
                        count.fetch_add(1, Ordering::SeqCst);
                        let body = served.lock().unwrap().clone();
                        async move {
                            Ok::<_, std::convert::Infallible>(http::Response::new(
                                http_body_util::Full::new(Bytes::from(body)),
                            ))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        (format!("http://{addr}/jwk"), current, hits)
    }

    async fn jwk_server(body: String) -> (String, Arc<AtomicUsize>) {
        let (url, _, hits) = rotating_jwk_server(body).await;
        (url, hits)
    }

    fn remote_validator(url: &str) -> JwtValidator {
        let cfg = json!({"alg": "HS256", "jwk_url": url, "disable_jwk_security": true,
                         "cache": true, "cache_duration": 600});
        let mut w = Walker::default();
        let o = jwt_validator::parse(cfg.as_object().unwrap(), "v", &mut w);
        assert!(w.problems.is_empty());
        JwtValidator::new(&o, &HttpClient::default()).unwrap()
    }

    #[tokio::test]
    async fn unknown_kid_refetches_once_per_interval() {
        let set = |kids: &[&str]| {
            let keys: Vec<Value> = kids
                .iter()
                .map(|kid| json!({"kty": "oct", "kid": kid, "k": URL_SAFE_NO_PAD.encode(SECRET)}))
                .collect();
            json!({ "keys": keys }).to_string()
        };
        let (url, served, hits) = rotating_jwk_server(set(&["k1"])).await;
        let clock = Arc::new(ManualClock::default());
        let mut v = remote_validator(&url);
        let source = KeySource {
            local_path: None,
            url: Some(&url),
            ttl: Duration::from_secs(600),
        };
        v.keys = Jwks::with_clock(&source, &HttpClient::default(), verify_key, clock.clone())
            .unwrap()
            .refetch_every(Duration::from_secs(10));
        let with_kid = |kid: &str| bearer(&hs_token(&claims(), kid, SECRET));
        let fetches = || hits.load(Ordering::SeqCst);

        assert_eq!(status(&v, &with_kid("k1")).await, 200);
        assert_eq!(fetches(), 1);
        // The issuer rotates to k2: the first token with it refetches and passes.
        *served.lock().unwrap() = set(&["k2"]);
        assert_eq!(status(&v, &with_kid("k2")).await, 200);
        assert_eq!(fetches(), 2);
        // Within the interval, unknown kids are refused without any download.
        assert_eq!(status(&v, &with_kid("k3")).await, 401);
        assert_eq!(fetches(), 2);
        // After it, a burst of unknown kids costs one download in all.
        clock.advance(Duration::from_secs(10));
        let burst = (0..8).map(|i| {
            let h = with_kid(&format!("x{i}"));
            let v = &v;
            async move { status(v, &h).await }
        });
        let statuses = futures_util::future::join_all(burst).await;
        assert_eq!(statuses, vec![401; 8]);
        assert_eq!(fetches(), 3);
        // Known kids keep passing from the cache.
        assert_eq!(status(&v, &with_kid("k2")).await, 200);
        assert_eq!(fetches(), 3);
    }

    #[tokio::test]
    async fn remote_keys_are_fetched_once_and_cached() {
        let (url, hits) = jwk_server(jwks_hs()).await;
        let v = remote_validator(&url);
        let token = bearer(&hs_token(&claims(), "k1", SECRET));
        for _ in 0..5 {
            assert_eq!(status(&v, &token).await, 200);
        }
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn unreachable_jwk_url_is_401() {
        let cfg = json!({"alg": "HS256", "jwk_url": "http://127.0.0.1:9/jwk", "disable_jwk_security": true});
        let mut w = Walker::default();
        let o = jwt_validator::parse(cfg.as_object().unwrap(), "v", &mut w);
        let v = JwtValidator::new(&o, &HttpClient::default()).unwrap();
        let token = bearer(&hs_token(&claims(), "k1", SECRET));
        assert_eq!(status(&v, &token).await, 401);
    }
}
