//! `auth/signer` at request time: replaces the configured response keys with compact JWTs
//! signed by a key of a JWK set, and writes the response as KrakenD's signer handler does
//! (plain JSON, without the endpoint's `Cache-Control` and completion headers).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::header::{self, HeaderValue};
use http::StatusCode;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Map, Value};
use tokio::sync::RwLock;

use super::jwt::{download, oct_secret};
use crate::backend::client::HttpClient;
use crate::body::{self, Body};
use crate::codec::json as gojson;
use crate::config::namespaces::jwt_signer::JwtSignerOptions;
use crate::proxy::Outcome;

enum Source {
    Local(Vec<u8>),
    Remote(Box<RemoteSecret>),
}

/// A key behind a JWK URL, fetched once.
struct RemoteSecret {
    url: String,
    client: HttpClient,
    cached: RwLock<Option<Vec<u8>>>,
}

/// The prepared signer of one endpoint.
pub struct JwtSigner {
    alg: Algorithm,
    alg_name: String,
    kid: String,
    keys: Vec<String>,
    source: Source,
}

/// The secret of key `kid` in a JWK set document.
fn find_secret(doc: &[u8], kid: &str) -> Result<Vec<u8>, String> {
    let v: Value = serde_json::from_slice(doc).map_err(|e| format!("JWK set: {e}"))?;
    v.get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|k| k.get("kid").and_then(Value::as_str) == Some(kid))
        .and_then(oct_secret)
        .ok_or_else(|| format!("no symmetric key {kid:?} in the JWK set"))
}

impl JwtSigner {
    /// Prepares `o`; a local key file is read now.
    pub fn new(o: &JwtSignerOptions, client: &HttpClient) -> Result<Self, String> {
        let alg: Algorithm = o
            .alg
            .parse()
            .map_err(|_| format!("unsupported alg {:?}", o.alg))?;
        let source = match (&o.jwk_local_path, &o.jwk_url) {
            (Some(p), _) => {
                let doc =
                    std::fs::read(p).map_err(|e| format!("jwk_local_path {}: {e}", p.display()))?;
                Source::Local(find_secret(&doc, &o.kid)?)
            }
            (None, Some(u)) => Source::Remote(Box::new(RemoteSecret {
                url: u.clone(),
                client: client.clone(),
                cached: RwLock::new(None),
            })),
            (None, None) => return Err("no jwk_url nor jwk_local_path".into()),
        };
        Ok(Self {
            alg,
            alg_name: o.alg.clone(),
            kid: o.kid.clone(),
            keys: o.keys_to_sign.clone(),
            source,
        })
    }

    async fn secret(&self) -> Result<Vec<u8>, String> {
        match &self.source {
            Source::Local(s) => Ok(s.clone()),
            Source::Remote(remote) => {
                let RemoteSecret {
                    url,
                    client,
                    cached,
                } = &**remote;
                if let Some(s) = &*cached.read().await {
                    return Ok(s.clone());
                }
                let s = find_secret(&download(client, url).await?, &self.kid)?;
                *cached.write().await = Some(s.clone());
                Ok(s)
            }
        }
    }

    /// One compact JWT over `claims`; header and payload are Go-style JSON with sorted keys.
    pub fn token(&self, secret: &[u8], claims: &Value) -> Result<String, String> {
        let head = json!({"alg": self.alg_name, "kid": self.kid, "typ": "JWT"});
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(gojson::to_vec(&head)),
            URL_SAFE_NO_PAD.encode(gojson::to_vec(claims))
        );
        let signature = jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &EncodingKey::from_secret(secret),
            self.alg,
        )
        .map_err(|e| e.to_string())?;
        Ok(format!("{message}.{signature}"))
    }

    /// Replaces each configured key present in `data` by its token.
    pub async fn sign(&self, data: &mut Map<String, Value>) -> Result<(), String> {
        if !self.keys.iter().any(|k| data.contains_key(k)) {
            return Ok(());
        }
        let secret = self.secret().await?;
        for k in &self.keys {
            if let Some(v) = data.get(k) {
                let t = self.token(&secret, v)?;
                data.insert(k.clone(), Value::String(t));
            }
        }
        Ok(())
    }

    /// The client response for a proxy outcome: 500 without data or when signing fails.
    pub async fn respond(&self, outcome: Outcome) -> http::Response<Body> {
        let Some(mut response) = outcome.response else {
            return status_only(StatusCode::INTERNAL_SERVER_ERROR);
        };
        if let Err(e) = self.sign(&mut response.data).await {
            tracing::error!(error = %e, "auth/signer could not sign the response");
            return status_only(StatusCode::INTERNAL_SERVER_ERROR);
        }
        let mut r = http::Response::new(body::full(gojson::to_vec(&response.data)));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        r
    }
}

fn status_only(status: StatusCode) -> http::Response<Body> {
    let mut r = http::Response::new(body::empty());
    *r.status_mut() = status;
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::namespaces::jwt_signer;
    use crate::config::walk::Walker;
    use crate::proxy::Response;
    use http_body_util::BodyExt;
    use jsonwebtoken::{DecodingKey, Validation};
    use std::io::Write;

    const SECRET: &[u8] = b"signing-secret-signing-secret-32";

    fn signer() -> (JwtSigner, tempfile::NamedTempFile) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let jwks = json!({"keys": [{"kty": "oct", "kid": "s1", "alg": "HS256", "k": URL_SAFE_NO_PAD.encode(SECRET)}]});
        f.write_all(jwks.to_string().as_bytes()).unwrap();
        let cfg = json!({"alg": "HS256", "kid": "s1", "keys_to_sign": ["access_token"], "jwk_local_path": f.path()});
        let mut w = Walker::default();
        let o = jwt_signer::parse(cfg.as_object().unwrap(), "s", &mut w);
        assert!(w.problems.is_empty(), "{:?}", w.problems);
        (JwtSigner::new(&o, &HttpClient::default()).unwrap(), f)
    }

    #[tokio::test]
    async fn signs_configured_keys_verifiably() {
        let (s, _f) = signer();
        let mut data = Map::new();
        data.insert(
            "access_token".into(),
            json!({"sub": "u1", "exp": 4102444800u64}),
        );
        data.insert("other".into(), json!(1));
        let outcome = Outcome::ok(Response {
            data,
            is_complete: true,
            passthrough: None,
            headers: Default::default(),
        });
        let r = s.respond(outcome).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()["content-type"],
            "application/json; charset=utf-8"
        );
        assert!(r.headers().get("cache-control").is_none());
        let body: Value =
            serde_json::from_slice(&r.into_body().collect().await.unwrap().to_bytes()).unwrap();
        assert_eq!(body["other"], 1);
        let token = body["access_token"].as_str().unwrap();
        let head = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(head.kid.as_deref(), Some("s1"));
        let mut v = Validation::new(Algorithm::HS256);
        v.required_spec_claims.clear();
        let claims =
            jsonwebtoken::decode::<Value>(token, &DecodingKey::from_secret(SECRET), &v).unwrap();
        assert_eq!(claims.claims["sub"], "u1");
        // Another secret does not verify it.
        assert!(
            jsonwebtoken::decode::<Value>(token, &DecodingKey::from_secret(b"nope"), &v).is_err()
        );
    }

    #[tokio::test]
    async fn no_data_is_a_bare_500() {
        let (s, _f) = signer();
        let r = s
            .respond(Outcome {
                response: None,
                error: None,
            })
            .await;
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(r.into_body().collect().await.unwrap().to_bytes().is_empty());
    }
}
