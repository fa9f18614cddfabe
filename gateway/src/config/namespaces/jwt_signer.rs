//! `extra_config["auth/signer"]` (endpoint level): sign response keys as JWTs.

use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::config::walk::{join, Walker};

/// The namespace key.
pub const NAMESPACE: &str = "auth/signer";

/// Signer options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSignerOptions {
    /// `alg`: one of [`ALGORITHMS`].
    pub alg: String,
    /// `kid`: the key of the set to sign with (also written in the token header).
    pub kid: String,
    /// `keys_to_sign`: response keys replaced by their signed token.
    pub keys_to_sign: Vec<String>,
    /// `jwk_url`.
    pub jwk_url: Option<String>,
    /// `jwk_local_path`.
    pub jwk_local_path: Option<PathBuf>,
    /// `full`: the JWS JSON serialization instead of the compact one.
    pub full: bool,
}

/// Algorithms Cephalo signs with: KrakenD's list.
pub const ALGORITHMS: &[&str] = &[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
    "ES384", "ES512", "EdDSA",
];

/// Reads the namespace object at `path`.
pub fn parse(v: &Map<String, Value>, path: &str, w: &mut Walker) -> JwtSignerOptions {
    let alg = w.string(v, "alg", path).unwrap_or_default();
    if !ALGORITHMS.contains(&alg.as_str()) {
        w.fail(
            join(path, "alg"),
            format!(
                "{alg:?} is not supported for signing by Cephalo (one of {})",
                ALGORITHMS.join(", ")
            ),
        );
    }
    let kid = w.string(v, "kid", path).unwrap_or_default();
    if kid.is_empty() {
        w.fail(join(path, "kid"), "is required");
    }
    let full = w.boolean(v, "full", path).unwrap_or(false);
    let jwk_url = w.string(v, "jwk_url", path);
    let jwk_local_path = w.string(v, "jwk_local_path", path).map(PathBuf::from);
    let insecure_ok = w.boolean(v, "disable_jwk_security", path).unwrap_or(false);
    match (&jwk_url, &jwk_local_path) {
        (None, None) => w.fail(join(path, "jwk_url"), "is required (or jwk_local_path)"),
        (Some(u), None) if u.starts_with("http://") && !insecure_ok => w.fail(
            join(path, "jwk_url"),
            "plain http needs \"disable_jwk_security\": true",
        ),
        _ => {}
    }
    JwtSignerOptions {
        alg,
        kid,
        keys_to_sign: w.strings(v, "keys_to_sign", path).unwrap_or_default(),
        jwk_url,
        jwk_local_path,
        full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_locates_problems() {
        let v: Value = serde_json::from_str(
            r#"{"alg":"HS256","kid":"sim2","keys_to_sign":["access_token"],"jwk_url":"http://x/jwk","disable_jwk_security":true}"#,
        )
        .unwrap();
        let mut w = Walker::default();
        let o = parse(v.as_object().unwrap(), "s", &mut w);
        assert!(w.problems.is_empty());
        assert_eq!(o.keys_to_sign, ["access_token"]);
        let v: Value =
            serde_json::from_str(r#"{"alg":"ES999","full":"yes","jwk_url":"http://x"}"#).unwrap();
        let mut w = Walker::default();
        parse(v.as_object().unwrap(), "s", &mut w);
        let paths: Vec<_> = w.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["s.alg", "s.kid", "s.full", "s.jwk_url"]);
        let v: Value =
            serde_json::from_str(r#"{"alg":"ES512","kid":"k","jwk_local_path":"k.json"}"#).unwrap();
        let mut w = Walker::default();
        parse(v.as_object().unwrap(), "s", &mut w);
        assert!(w.problems.is_empty(), "ES512 is accepted: {:?}", w.problems);
        let v: Value = serde_json::from_str(
            r#"{"alg":"PS384","kid":"k","full":true,"jwk_local_path":"k.json"}"#,
        )
        .unwrap();
        let mut w = Walker::default();
        let o = parse(v.as_object().unwrap(), "s", &mut w);
        assert!(w.problems.is_empty(), "{:?}", w.problems);
        assert!(o.full);
        assert_eq!(o.alg, "PS384");
    }
}
