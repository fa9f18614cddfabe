//! `auth/signer` at request time: replaces the configured response keys with JWTs signed by
//! a private key of a JWK set (HMAC, RSA PKCS#1 v1.5 and PSS, ECDSA P-256/P-384/P-521, Ed25519),
//! compact or, with `full`, in the flattened JWS JSON serialization, and writes the response
//! as KrakenD's signer handler does (plain JSON, without the endpoint's `Cache-Control` and
//! completion headers).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::header::{self, HeaderValue};
use http::StatusCode;
use ring::rand::SystemRandom;
use ring::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use serde_json::{json, Map, Value};

use super::es512;
use super::jwk::{self, Jwks, KeySource};
use crate::backend::client::HttpClient;
use crate::body::{self, Body};
use crate::codec::json as gojson;
use crate::config::namespaces::jwt_signer::JwtSignerOptions;
use crate::proxy::Outcome;

/// A private key of the set, ready to sign.
pub struct SignKey {
    kid: Option<String>,
    key: PrivateKey,
}

enum PrivateKey {
    Hmac(Vec<u8>),
    Rsa(RsaKeyPair),
    /// The curve's JWS algorithm (`ES256`, `ES384`) and the key.
    Ec(&'static str, EcdsaKeyPair),
    /// ES512, which `ring` lacks.
    P521(Box<p521::ecdsa::SigningKey>),
    Ed(Ed25519KeyPair),
}

/// A JWK with its private half as a signing key; public-only and unusable keys are skipped.
fn sign_key(k: &Value) -> Option<SignKey> {
    let m = |name| jwk::member(k, name);
    let key = match jwk::text(k, "kty")? {
        "oct" => PrivateKey::Hmac(m("k")?),
        "RSA" => {
            let components = ring::rsa::KeyPairComponents {
                public_key: ring::rsa::PublicKeyComponents {
                    n: m("n")?,
                    e: m("e")?,
                },
                d: m("d")?,
                p: m("p")?,
                q: m("q")?,
                dP: m("dp")?,
                dQ: m("dq")?,
                qInv: m("qi")?,
            };
            PrivateKey::Rsa(RsaKeyPair::from_components(&components).ok()?)
        }
        "EC" if es512::is_p521(k) => PrivateKey::P521(Box::new(es512::signing_key(k)?)),
        "EC" => {
            let (name, alg) = match jwk::text(k, "crv")? {
                "P-256" => ("ES256", &sig::ECDSA_P256_SHA256_FIXED_SIGNING),
                "P-384" => ("ES384", &sig::ECDSA_P384_SHA384_FIXED_SIGNING),
                _ => return None,
            };
            let public = [&[4u8][..], &m("x")?, &m("y")?].concat();
            let pair = EcdsaKeyPair::from_private_key_and_public_key(
                alg,
                &m("d")?,
                &public,
                &SystemRandom::new(),
            )
            .ok()?;
            PrivateKey::Ec(name, pair)
        }
        "OKP" if jwk::text(k, "crv")? == "Ed25519" => {
            PrivateKey::Ed(Ed25519KeyPair::from_seed_and_public_key(&m("d")?, &m("x")?).ok()?)
        }
        _ => return None,
    };
    Some(SignKey {
        kid: jwk::text(k, "kid").map(str::to_string),
        key,
    })
}

impl SignKey {
    /// The signature of `message` with `alg`, or why this key cannot make it.
    fn sign(&self, alg: &str, message: &[u8]) -> Result<Vec<u8>, String> {
        let refuse = || format!("key {:?} cannot sign {alg}", self.kid);
        match (&self.key, alg) {
            (PrivateKey::Hmac(secret), "HS256" | "HS384" | "HS512") => {
                let h = match alg {
                    "HS256" => ring::hmac::HMAC_SHA256,
                    "HS384" => ring::hmac::HMAC_SHA384,
                    _ => ring::hmac::HMAC_SHA512,
                };
                let tag = ring::hmac::sign(&ring::hmac::Key::new(h, secret), message);
                Ok(tag.as_ref().to_vec())
            }
            (PrivateKey::Rsa(pair), _) => {
                let padding: &'static dyn sig::RsaEncoding = match alg {
                    "RS256" => &sig::RSA_PKCS1_SHA256,
                    "RS384" => &sig::RSA_PKCS1_SHA384,
                    "RS512" => &sig::RSA_PKCS1_SHA512,
                    "PS256" => &sig::RSA_PSS_SHA256,
                    "PS384" => &sig::RSA_PSS_SHA384,
                    "PS512" => &sig::RSA_PSS_SHA512,
                    _ => return Err(refuse()),
                };
                let mut out = vec![0; pair.public().modulus_len()];
                pair.sign(padding, &SystemRandom::new(), message, &mut out)
                    .map_err(|_| "RSA signing failed".to_string())?;
                Ok(out)
            }
            (PrivateKey::Ec(name, pair), _) if *name == alg => pair
                .sign(&SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| "ECDSA signing failed".to_string()),
            (PrivateKey::P521(key), es512::ALG) => Ok(es512::sign(key, message)),
            (PrivateKey::Ed(pair), "EdDSA") => Ok(pair.sign(message).as_ref().to_vec()),
            _ => Err(refuse()),
        }
    }
}

/// The prepared signer of one endpoint.
pub struct JwtSigner {
    alg: String,
    kid: String,
    /// The protected header, base64url-encoded once.
    protected: String,
    keys: Vec<String>,
    full: bool,
    set: Jwks<SignKey>,
}

impl JwtSigner {
    /// Prepares `o`; a local key file is read now.
    pub fn new(o: &JwtSignerOptions, client: &HttpClient) -> Result<Self, String> {
        let source = KeySource {
            local_path: o.jwk_local_path.as_deref(),
            url: o.jwk_url.as_deref(),
            // KrakenD reads the signing key once; only an unknown `kid` refetches.
            ttl: std::time::Duration::MAX,
        };
        // Go's encoder sorts map keys: alg, kid, typ.
        let head = json!({"alg": o.alg, "kid": o.kid, "typ": "JWT"});
        Ok(Self {
            alg: o.alg.clone(),
            kid: o.kid.clone(),
            protected: URL_SAFE_NO_PAD.encode(gojson::to_vec(&head)),
            keys: o.keys_to_sign.clone(),
            full: o.full,
            set: Jwks::new(&source, client, sign_key)?,
        })
    }

    /// `claims` signed: a compact JWT, or the flattened JWS JSON serialization with `full`
    /// (`{"payload":…,"protected":…,"signature":…}`, as go-jose writes it).
    pub fn token(&self, key: &SignKey, claims: &Value) -> Result<String, String> {
        let payload = URL_SAFE_NO_PAD.encode(gojson::to_vec(claims));
        let message = format!("{}.{payload}", self.protected);
        let signature = URL_SAFE_NO_PAD.encode(key.sign(&self.alg, message.as_bytes())?);
        if !self.full {
            return Ok(format!("{message}.{signature}"));
        }
        Ok(format!(
            r#"{{"payload":"{payload}","protected":"{}","signature":"{signature}"}}"#,
            self.protected
        ))
    }

    /// Replaces each configured key of `data` holding an object by its token.
    pub async fn sign(&self, data: &mut Map<String, Value>) -> Result<(), String> {
        if !self
            .keys
            .iter()
            .any(|k| data.get(k).is_some_and(Value::is_object))
        {
            return Ok(());
        }
        let kid = Some(self.kid.as_str());
        let sign = |keys: &[SignKey]| -> Option<Result<Vec<(String, String)>, String>> {
            let key = keys.iter().find(|k| k.kid.as_deref() == kid)?;
            Some(
                self.keys
                    .iter()
                    .filter_map(|name| Some((name, data.get(name).filter(|v| v.is_object())?)))
                    .map(|(name, v)| Ok((name.clone(), self.token(key, v)?)))
                    .collect(),
            )
        };
        let tokens = self
            .set
            .lookup(sign)
            .await
            .map_err(|e| format!("kid {:?}: {e}", self.kid))??;
        for (name, token) in tokens {
            data.insert(name, Value::String(token));
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
    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    use std::path::PathBuf;

    /// Private keys of every family (test data, generated for these tests only).
    fn private_jwks() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/private_jwks.json")
    }

    /// The JWK `kid` of the matching public set.
    fn public_jwk(kid: &str) -> Value {
        let doc: Value = serde_json::from_slice(
            &std::fs::read(private_jwks().with_file_name("public_jwks.json")).unwrap(),
        )
        .unwrap();
        let k = doc["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .unwrap();
        k.clone()
    }

    fn public_key(kid: &str) -> DecodingKey {
        DecodingKey::from_jwk(&serde_json::from_value::<Jwk>(public_jwk(kid)).unwrap()).unwrap()
    }

    fn signer_for(alg: &str, kid: &str, full: bool) -> JwtSigner {
        let cfg = json!({"alg": alg, "kid": kid, "keys_to_sign": ["access_token", "refresh_token"],
                         "jwk_local_path": private_jwks(), "full": full});
        let mut w = Walker::default();
        let o = jwt_signer::parse(cfg.as_object().unwrap(), "s", &mut w);
        assert!(w.problems.is_empty(), "{:?}", w.problems);
        JwtSigner::new(&o, &HttpClient::default()).unwrap()
    }

    fn claims() -> Value {
        json!({"sub": "u1", "exp": 4102444800u64, "roles": ["a"], "iss": "https://idp.example"})
    }

    fn outcome(data: Map<String, Value>) -> Outcome {
        Outcome::ok(Response {
            data,
            is_complete: true,
            passthrough: None,
            headers: Default::default(),
        })
    }

    async fn body_of(r: http::Response<Body>) -> Value {
        serde_json::from_slice(&r.into_body().collect().await.unwrap().to_bytes()).unwrap()
    }

    fn verify(token: &str, alg: Algorithm, key: &DecodingKey) -> Result<Value, String> {
        let mut v = Validation::new(alg);
        v.required_spec_claims.clear();
        jsonwebtoken::decode::<Value>(token, key, &v)
            .map(|d| d.claims)
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn every_algorithm_family_verifies_with_the_public_key() {
        let hmac = DecodingKey::from_secret(b"test-only-hmac-secret-test-only-hmac-secret");
        let cases = [
            ("HS256", "hmac", Algorithm::HS256),
            ("HS512", "hmac", Algorithm::HS512),
            ("RS256", "rsa", Algorithm::RS256),
            ("RS512", "rsa", Algorithm::RS512),
            ("PS256", "rsa", Algorithm::PS256),
            ("PS384", "rsa", Algorithm::PS384),
            ("ES256", "ec256", Algorithm::ES256),
            ("ES384", "ec384", Algorithm::ES384),
            ("EdDSA", "ed", Algorithm::EdDSA),
        ];
        for (name, kid, alg) in cases {
            let s = signer_for(name, kid, false);
            let mut data = Map::new();
            data.insert("access_token".into(), claims());
            data.insert("other".into(), json!(1));
            let r = s.respond(outcome(data)).await;
            assert_eq!(r.status(), StatusCode::OK, "{name}");
            assert_eq!(
                r.headers()["content-type"],
                "application/json; charset=utf-8"
            );
            assert!(r.headers().get("cache-control").is_none());
            let body = body_of(r).await;
            assert_eq!(body["other"], 1, "{name}");
            let token = body["access_token"].as_str().unwrap();
            let head = jsonwebtoken::decode_header(token).unwrap();
            assert_eq!((head.alg, head.kid.as_deref()), (alg, Some(kid)), "{name}");
            let key = if kid == "hmac" {
                hmac.clone()
            } else {
                public_key(kid)
            };
            assert_eq!(verify(token, alg, &key).unwrap(), claims(), "{name}");
            // The same signature over other claims does not verify.
            let (protected, rest) = token.split_once('.').unwrap();
            let signature = rest.rsplit_once('.').unwrap().1;
            let tampered = format!(
                "{protected}.{}.{signature}",
                URL_SAFE_NO_PAD.encode(br#"{"sub":"admin"}"#)
            );
            assert!(verify(&tampered, alg, &key).is_err(), "{name}");
        }
    }

    /// The ES512 token of `access_token` in a signer's response.
    async fn es512_signed(full: bool) -> String {
        let s = signer_for("ES512", "ec521", full);
        let mut data = Map::new();
        data.insert("access_token".into(), claims());
        let r = s.respond(outcome(data)).await;
        assert_eq!(r.status(), StatusCode::OK);
        body_of(r).await["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn es512_signs_with_p521_and_fixed_size_r_s() {
        let token = es512_signed(false).await;
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[0]).unwrap(),
            br#"{"alg":"ES512","kid":"ec521","typ":"JWT"}"#
        );
        // JOSE's r || s, 66 bytes each: 132 bytes, 176 base64url characters.
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(), 132);
        let public = es512::verifying_key(&public_jwk("ec521")).unwrap();
        let payload = es512::verify(&token, &public).unwrap();
        let claims_back: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(claims_back, claims());
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(br#"{"sub":"admin"}"#),
            parts[2]
        );
        assert!(es512::verify(&tampered, &public).is_err());
        // `full`: the same signature in the flattened JWS JSON.
        let jws: Value = serde_json::from_str(&es512_signed(true).await).unwrap();
        let compact = format!(
            "{}.{}.{}",
            jws["protected"].as_str().unwrap(),
            jws["payload"].as_str().unwrap(),
            jws["signature"].as_str().unwrap()
        );
        assert!(es512::verify(&compact, &public).is_ok());
    }

    #[tokio::test]
    async fn es512_round_trips_through_the_validator() {
        use crate::config::namespaces::jwt_validator;
        use crate::security::jwt::JwtValidator;
        let token = es512_signed(false).await;
        let cfg = json!({"alg": "ES512", "issuer": "https://idp.example", "roles": ["a"],
                         "jwk_local_path": private_jwks().with_file_name("public_jwks.json")});
        let mut w = Walker::default();
        let o = jwt_validator::parse(cfg.as_object().unwrap(), "v", &mut w);
        assert!(w.problems.is_empty(), "{:?}", w.problems);
        let v = JwtValidator::new(&o, &HttpClient::default()).unwrap();
        let mut headers = http::HeaderMap::new();
        let bearer = format!("Bearer {token}");
        headers.insert(header::AUTHORIZATION, bearer.parse().unwrap());
        assert_eq!(v.verify(&headers).await.unwrap(), claims());
        let last = token.len() - 3;
        let forged = format!(
            "{}{}{}",
            &token[..last],
            if &token[last..last + 1] == "A" {
                "B"
            } else {
                "A"
            },
            &token[last + 1..]
        );
        headers.insert(
            header::AUTHORIZATION,
            format!("Bearer {forged}").parse().unwrap(),
        );
        let refusal = v.verify(&headers).await.unwrap_err();
        assert_eq!(refusal.response().status(), StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn full_serialization_is_flattened_jws_json() {
        let s = signer_for("RS256", "rsa", true);
        let mut data = Map::new();
        data.insert("access_token".into(), claims());
        data.insert("refresh_token".into(), json!({"sub": "u1"}));
        let body = body_of(s.respond(outcome(data)).await).await;
        let full = body["access_token"].as_str().unwrap();
        // The exact member order go-jose writes, and nothing else.
        let members: Vec<&str> = full
            .trim_matches(|c| c == '{' || c == '}')
            .split(',')
            .map(|m| m.split(':').next().unwrap())
            .collect();
        assert_eq!(
            members,
            [r#""payload""#, r#""protected""#, r#""signature""#]
        );
        let jws: Value = serde_json::from_str(full).unwrap();
        let protected = URL_SAFE_NO_PAD
            .decode(jws["protected"].as_str().unwrap())
            .unwrap();
        assert_eq!(protected, br#"{"alg":"RS256","kid":"rsa","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD
            .decode(jws["payload"].as_str().unwrap())
            .unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&payload).unwrap(), claims());
        // Reassembled as compact, it verifies with the public key.
        let compact = format!(
            "{}.{}.{}",
            jws["protected"].as_str().unwrap(),
            jws["payload"].as_str().unwrap(),
            jws["signature"].as_str().unwrap()
        );
        assert_eq!(
            verify(&compact, Algorithm::RS256, &public_key("rsa")).unwrap(),
            claims()
        );
        assert!(body["refresh_token"].as_str().unwrap().starts_with('{'));
    }

    #[tokio::test]
    async fn only_objects_are_signed_as_krakend_does() {
        let s = signer_for("HS256", "hmac", false);
        let mut data = Map::new();
        data.insert("access_token".into(), json!("already a string"));
        data.insert("refresh_token".into(), json!({"sub": "u1"}));
        s.sign(&mut data).await.unwrap();
        assert_eq!(data["access_token"], "already a string");
        assert_eq!(
            data["refresh_token"].as_str().unwrap().split('.').count(),
            3
        );
    }

    #[tokio::test]
    async fn a_key_unfit_for_the_algorithm_or_missing_is_a_bare_500() {
        for (alg, kid) in [
            ("ES384", "ec256"),
            ("ES512", "ec384"),
            ("ES256", "ec521"),
            ("RS256", "hmac"),
            ("HS256", "nope"),
        ] {
            let s = signer_for(alg, kid, false);
            let mut data = Map::new();
            data.insert("access_token".into(), claims());
            let r = s.respond(outcome(data)).await;
            assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR, "{alg} {kid}");
            assert!(r.into_body().collect().await.unwrap().to_bytes().is_empty());
        }
    }

    #[tokio::test]
    async fn no_data_is_a_bare_500() {
        let s = signer_for("HS256", "hmac", false);
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
