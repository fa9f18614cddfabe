//! The security namespaces through the real `krakend` binary: bot detector, CORS and HTTP
//! security at service level, JWT validation with claim propagation at endpoint level.

mod common;

use base64::Engine;
use common::{start_backend, Gateway};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::json;

const SECRET: &[u8] = b"integration-secret-integration-secret";

fn token(roles: &[&str], secret: &[u8]) -> String {
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some("k1".into());
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let claims = json!({"sub": "u-1", "iss": "https://idp.example", "roles": roles, "exp": exp});
    encode(&h, &claims, &EncodingKey::from_secret(secret)).unwrap()
}

#[test]
fn security_namespaces_are_enforced_end_to_end() {
    let backend = start_backend();
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    let k = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(SECRET);
    std::fs::write(
        &jwks,
        json!({"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256", "k": k}]}).to_string(),
    )
    .unwrap();
    let config = json!({
        "version": 3, "port": 0,
        "extra_config": {
            "security/bot-detector": {"deny": ["evil-bot"]},
            "security/cors": {"allow_origins": ["https://app.example"]},
            "security/http": {"frame_deny": true}
        },
        "endpoints": [{
            "endpoint": "/private/{id}", "input_headers": ["X-User"],
            "extra_config": {"auth/validator": {
                "alg": "HS256", "jwk_local_path": jwks, "issuer": "https://idp.example",
                "roles": ["admin"], "propagate_claims": [["sub", "x-user"]]
            }},
            "backend": [{"host": [format!("http://{backend}")], "url_pattern": "/data/{JWT.sub}/{id}",
                         "allow": ["path", "headers"]}]
        }]
    })
    .to_string()
    .replace("\"port\":0", "\"port\":PORT");
    let gw = Gateway::start(&config);

    let r = gw.request("GET", "/private/9", &[], "");
    assert_eq!((r.status, r.body.as_str()), (401, ""));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("content-type"), None);

    let bad = format!(
        "Bearer {}",
        token(&["admin"], b"not-the-secret-not-the-secret!!")
    );
    assert_eq!(
        gw.request("GET", "/private/9", &[("Authorization", &bad)], "")
            .status,
        401
    );

    let user = format!("Bearer {}", token(&["user"], SECRET));
    let r = gw.request("GET", "/private/9", &[("Authorization", &user)], "");
    assert_eq!((r.status, r.body.as_str()), (403, ""));

    let admin = format!("Bearer {}", token(&["admin"], SECRET));
    let r = gw.request(
        "GET",
        "/private/9",
        &[("Authorization", &admin), ("Origin", "https://app.example")],
        "",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["path"], "/data/u-1/9");
    assert_eq!(r.json()["headers"]["x-user"], json!("u-1"), "{}", r.body);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(r.header("x-frame-options"), Some("DENY"));

    let r = gw.request(
        "GET",
        "/private/9",
        &[("Authorization", &admin), ("User-Agent", "evil-bot")],
        "",
    );
    assert_eq!((r.status, r.body.as_str()), (403, ""));
}
