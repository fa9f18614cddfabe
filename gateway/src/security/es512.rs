//! ES512 (ECDSA on P-521 with SHA-512, RFC 7518 §3.4) for `auth/validator` and `auth/signer`:
//! neither `ring` nor `jsonwebtoken` 9 has P-521, so keys, signatures and the compact token's
//! header are handled here with the pure-Rust `p521` crate. A JWS signature is the fixed-size
//! `r || s` (66 + 66 bytes), base64url without padding.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p521::ecdsa::signature::{Signer, Verifier};
use p521::ecdsa::{Signature, SigningKey, VerifyingKey};
use serde_json::Value;

use super::jwk;

/// The JWS name of the algorithm.
pub const ALG: &str = "ES512";

/// Bytes of one P-521 coordinate (and of the private scalar) in a JWK.
const COORDINATE_LEN: usize = 66;

/// Whether a JWK is an EC key on P-521.
pub fn is_p521(k: &Value) -> bool {
    jwk::text(k, "kty") == Some("EC") && jwk::text(k, "crv") == Some("P-521")
}

/// The uncompressed SEC1 point `04 || x || y` of a P-521 JWK (full-length coordinates only,
/// as RFC 7518 §6.2.1.2 requires).
fn public_point(k: &Value) -> Option<Vec<u8>> {
    let (x, y) = (jwk::member(k, "x")?, jwk::member(k, "y")?);
    if x.len() != COORDINATE_LEN || y.len() != COORDINATE_LEN {
        return None;
    }
    Some([&[4u8][..], &x, &y].concat())
}

/// The public key of a P-521 JWK; `None` when it is not one or its point is off the curve.
pub fn verifying_key(k: &Value) -> Option<VerifyingKey> {
    if !is_p521(k) {
        return None;
    }
    VerifyingKey::from_sec1_bytes(&public_point(k)?).ok()
}

/// The private key of a P-521 JWK (`d`), provided its `x`/`y` are the matching public key.
pub fn signing_key(k: &Value) -> Option<SigningKey> {
    if !is_p521(k) {
        return None;
    }
    let d = jwk::member(k, "d")?;
    if d.len() != COORDINATE_LEN {
        return None;
    }
    let key = SigningKey::from_slice(&d).ok()?;
    let derived = key.verifying_key().to_sec1_point(false);
    (derived.as_bytes() == public_point(k)?.as_slice()).then_some(key)
}

/// The JWS signature of `message`: `r || s`, 132 bytes (RFC 6979 deterministic nonce).
pub fn sign(key: &SigningKey, message: &[u8]) -> Vec<u8> {
    let signature: Signature = key.sign(message);
    signature.to_bytes().to_vec()
}

/// The `alg` and `kid` of a compact token's protected header.
pub struct Header {
    /// `alg`.
    pub alg: String,
    /// `kid`, when present.
    pub kid: Option<String>,
}

/// Reads the protected header of a compact token (three base64url segments).
pub fn header(token: &str) -> Result<Header, String> {
    let mut parts = token.split('.');
    let (Some(head), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a compact JWS".into());
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(head)
        .map_err(|e| format!("header: {e}"))?;
    let doc: Value = serde_json::from_slice(&bytes).map_err(|e| format!("header: {e}"))?;
    let alg = doc
        .get("alg")
        .and_then(Value::as_str)
        .ok_or("header: no \"alg\"")?;
    let kid = match doc.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err("header: \"kid\" is not a string".into()),
    };
    Ok(Header {
        alg: alg.to_string(),
        kid,
    })
}

/// Checks the ES512 signature of a compact token with `key`; returns its payload segment
/// (still base64url) once the signature holds.
pub fn verify<'t>(token: &'t str, key: &VerifyingKey) -> Result<&'t str, String> {
    let (message, signature) = token.rsplit_once('.').ok_or("not a compact JWS")?;
    let (_, payload) = message.split_once('.').ok_or("not a compact JWS")?;
    if payload.contains('.') {
        return Err("not a compact JWS".into());
    }
    let raw = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|e| format!("signature: {e}"))?;
    let signature =
        Signature::from_slice(&raw).map_err(|_| "signature: not 132 bytes of r || s")?;
    key.verify(message.as_bytes(), &signature)
        .map_err(|_| "InvalidSignature".to_string())?;
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn test_keys(file: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(file);
        let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        doc["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == "ec521")
            .unwrap()
            .clone()
    }

    fn compact(header: &Value, payload: &[u8], key: &SigningKey) -> String {
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = URL_SAFE_NO_PAD.encode(sign(key, message.as_bytes()));
        format!("{message}.{signature}")
    }

    #[test]
    fn test_key_pair_signs_and_verifies() {
        let private = signing_key(&test_keys("private_jwks.json")).unwrap();
        let public = verifying_key(&test_keys("public_jwks.json")).unwrap();
        let token = compact(
            &json!({"alg": "ES512", "kid": "ec521"}),
            b"{\"a\":1}",
            &private,
        );
        let signature = URL_SAFE_NO_PAD
            .decode(token.rsplit_once('.').unwrap().1)
            .unwrap();
        assert_eq!(signature.len(), 2 * COORDINATE_LEN);
        let payload = verify(&token, &public).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(payload).unwrap(), b"{\"a\":1}");
        let head = header(&token).unwrap();
        assert_eq!(
            (head.alg.as_str(), head.kid.as_deref()),
            ("ES512", Some("ec521"))
        );
    }

    #[test]
    fn tampering_and_malformed_tokens_are_refused() {
        let private = signing_key(&test_keys("private_jwks.json")).unwrap();
        let public = verifying_key(&test_keys("public_jwks.json")).unwrap();
        let token = compact(&json!({"alg": "ES512"}), b"{\"a\":1}", &private);
        let (head, rest) = token.split_once('.').unwrap();
        let signature = rest.rsplit_once('.').unwrap().1;
        let other = format!(
            "{head}.{}.{signature}",
            URL_SAFE_NO_PAD.encode(b"{\"a\":2}")
        );
        assert!(verify(&other, &public).is_err());
        let raw = URL_SAFE_NO_PAD.decode(signature).unwrap();
        let short = format!(
            "{}.{}",
            token.rsplit_once('.').unwrap().0,
            URL_SAFE_NO_PAD.encode(&raw[..64])
        );
        assert!(verify(&short, &public).is_err());
        assert!(verify(&format!("{token}.x"), &public).is_err());
        assert!(header("a.b").is_err());
        assert!(header(&format!(
            "{}.e30.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"ES512","kid":7}"#)
        ))
        .is_err());
    }

    #[test]
    fn keys_of_other_curves_or_mismatched_halves_are_not_p521_keys() {
        let mut k = test_keys("private_jwks.json");
        k["crv"] = json!("P-256");
        assert!(verifying_key(&k).is_none() && signing_key(&k).is_none());
        let mut k = test_keys("private_jwks.json");
        let x = k["x"].clone();
        k["x"] = k["y"].clone();
        k["y"] = x;
        assert!(signing_key(&k).is_none(), "x/y not the public half of d");
        let mut k = test_keys("public_jwks.json");
        k["x"] = json!(URL_SAFE_NO_PAD.encode([1u8; 65]));
        assert!(verifying_key(&k).is_none(), "short coordinate");
    }
}
