//! The security namespaces through the real `krakend` binary: bot detector, CORS and HTTP
//! security at service level, JWT validation with claim propagation at endpoint level.

mod common;

use base64::Engine;
use common::{start_backend, Gateway};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::json;

const SECRET: &[u8] = b"integration-secret-integration-secret";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `Bearer …` with `claims` signed under kid `k1`.
fn bearer(claims: &serde_json::Value, secret: &[u8]) -> String {
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some("k1".into());
    let token = encode(&h, claims, &EncodingKey::from_secret(secret)).unwrap();
    format!("Bearer {token}")
}

/// `Bearer …` for user `u-1` with `roles`.
fn with_roles(roles: &[&str], secret: &[u8]) -> String {
    let claims =
        json!({"sub": "u-1", "iss": "https://idp.example", "roles": roles, "exp": now() + 600});
    bearer(&claims, secret)
}

/// Writes the JWK set holding [`SECRET`] as `k1` into `dir`.
fn hs_jwks(dir: &std::path::Path) -> std::path::PathBuf {
    let jwks = dir.join("jwks.json");
    let k = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(SECRET);
    std::fs::write(
        &jwks,
        json!({"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256", "k": k}]}).to_string(),
    )
    .unwrap();
    jwks
}

#[test]
fn security_namespaces_are_enforced_end_to_end() {
    let backend = start_backend();
    let dir = tempfile::tempdir().unwrap();
    let jwks = hs_jwks(dir.path());
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

    let bad = with_roles(&["admin"], b"not-the-secret-not-the-secret!!");
    assert_eq!(
        gw.request("GET", "/private/9", &[("Authorization", &bad)], "")
            .status,
        401
    );

    let user = with_roles(&["user"], SECRET);
    let r = gw.request("GET", "/private/9", &[("Authorization", &user)], "");
    assert_eq!((r.status, r.body.as_str()), (403, ""));

    let admin = with_roles(&["admin"], SECRET);
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

/// KrakenD CE has no JWT rate-limit strategy: a claim limits per client once `auth/validator`
/// propagates it to a header that `"strategy": "header"` reads (the validator runs first).
#[test]
fn rate_limit_per_jwt_claim_through_a_propagated_header() {
    let backend = start_backend();
    let dir = tempfile::tempdir().unwrap();
    let jwks = hs_jwks(dir.path());
    let config = json!({
        "version": 3, "port": 0,
        "endpoints": [{
            "endpoint": "/quota",
            "extra_config": {
                "auth/validator": {"alg": "HS256", "jwk_local_path": jwks,
                                   "propagate_claims": [["sub", "x-rate-user"]]},
                "qos/ratelimit/router": {"client_max_rate": 1, "every": "1h",
                                         "strategy": "header", "key": "X-Rate-User"}
            },
            "backend": [{"host": [format!("http://{backend}")], "url_pattern": "/data"}]
        }]
    })
    .to_string()
    .replace("\"port\":0", "\"port\":PORT");
    let gw = Gateway::start(&config);
    let as_user = |sub: &str| bearer(&json!({"sub": sub, "exp": now() + 600}), SECRET);
    let (alice, bob) = (as_user("alice"), as_user("bob"));
    let get = |auth: &str, spoofed: &str| {
        let r = gw.request(
            "GET",
            "/quota",
            &[("Authorization", auth), ("X-Rate-User", spoofed)],
            "",
        );
        (r.status, r.body)
    };
    assert_eq!(get(&alice, "").0, 200);
    // A client-sent header does not escape the claim's bucket: the claim overwrites it.
    assert_eq!(get(&alice, "someone-else"), (429, String::new()));
    assert_eq!(get(&bob, "alice").0, 200);
    assert_eq!(get(&bob, "").0, 429);
    // No token: the validator refuses before the limiter counts anything.
    let r = gw.request("GET", "/quota", &[], "");
    assert_eq!((r.status, r.body.as_str()), (401, ""));
}

/// The refusals of `auth/validator` and `security/cors` on the wire: exact status and body.
#[test]
fn refusals_answer_exact_status_and_body() {
    let backend = start_backend();
    let dir = tempfile::tempdir().unwrap();
    let jwks = hs_jwks(dir.path());
    let config = json!({
        "version": 3, "port": 0,
        "extra_config": {"security/cors": {"allow_origins": ["https://app.example"]}},
        "endpoints": [
            {"endpoint": "/private",
             "extra_config": {"auth/validator": {"alg": "HS256", "jwk_local_path": jwks,
                                                 "issuer": "https://idp.example"}},
             "backend": [{"host": [format!("http://{backend}")], "url_pattern": "/data"}]},
            {"endpoint": "/open",
             "backend": [{"host": [format!("http://{backend}")], "url_pattern": "/data"}]}
        ]
    })
    .to_string()
    .replace("\"port\":0", "\"port\":PORT");
    let gw = Gateway::start(&config);
    let claims = |iss: &str, exp: u64| json!({"sub": "u-1", "iss": iss, "exp": exp});
    let alg_none = {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let head = b64.encode(br#"{"alg":"none","kid":"k1","typ":"JWT"}"#);
        let payload = b64.encode(claims("https://idp.example", now() + 600).to_string());
        format!("Bearer {head}.{payload}.")
    };
    let refused = [
        (
            "expired",
            bearer(&claims("https://idp.example", now() - 120), SECRET),
        ),
        (
            "wrong issuer",
            bearer(&claims("https://evil.example", now() + 600), SECRET),
        ),
        (
            "forged signature",
            bearer(
                &claims("https://idp.example", now() + 600),
                b"the-attackers-own-secret-key!!!!",
            ),
        ),
        ("alg none", alg_none),
    ];
    for (name, auth) in &refused {
        let r = gw.request("GET", "/private", &[("Authorization", auth)], "");
        assert_eq!((r.status, r.body.as_str()), (401, ""), "{name}");
        assert_eq!(r.header("content-type"), None, "{name}");
    }
    let good = bearer(&claims("https://idp.example", now() + 600), SECRET);
    let r = gw.request("GET", "/private", &[("Authorization", &good)], "");
    assert_eq!(r.status, 200, "{}", r.body);

    // A disallowed origin: the request is served, undecorated; its preflight is a bare 204.
    let plain = gw.request("GET", "/open", &[], "");
    let r = gw.request("GET", "/open", &[("Origin", "https://evil.example")], "");
    assert_eq!((r.status, &r.body), (200, &plain.body));
    assert_eq!(r.header("access-control-allow-origin"), None);
    let preflight = |origin: &str| {
        gw.request(
            "OPTIONS",
            "/open",
            &[("Origin", origin), ("Access-Control-Request-Method", "GET")],
            "",
        )
    };
    let r = preflight("https://evil.example");
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert_eq!(r.header("access-control-allow-methods"), None);
    let r = preflight("https://app.example");
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
}

/// A JWK of the test-only key sets in `gateway/testdata/`.
fn testdata_jwk(file: &str, kid: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(file);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap()
        .clone()
}

/// A token whose header claims ES512 but whose signature is ECDSA P-256 (key `ec256`).
fn p256_claiming_es512(kid: &str, claims: &serde_json::Value) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwk = testdata_jwk("private_jwks.json", "ec256");
    let m = |n: &str| b64.decode(jwk[n].as_str().unwrap()).unwrap();
    let rng = ring::rand::SystemRandom::new();
    let pair = ring::signature::EcdsaKeyPair::from_private_key_and_public_key(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &m("d"),
        &[&[4u8][..], &m("x"), &m("y")].concat(),
        &rng,
    )
    .unwrap();
    let head = json!({"alg": "ES512", "kid": kid, "typ": "JWT"}).to_string();
    let message = format!("{}.{}", b64.encode(head), b64.encode(claims.to_string()));
    let signature = pair.sign(&rng, message.as_bytes()).unwrap();
    format!("{message}.{}", b64.encode(signature.as_ref()))
}

/// ES512 through the binary: `auth/signer` signs with the P-521 key, `auth/validator` accepts
/// that token and refuses forgeries, P-256 signatures under an ES512 header and keys of
/// another curve with KrakenD's bare 401.
#[test]
fn es512_tokens_signed_and_validated_end_to_end() {
    let backend = start_backend();
    let testdata = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let dir = tempfile::tempdir().unwrap();
    let only_p256 = dir.path().join("p256.json");
    let mut p256 = testdata_jwk("public_jwks.json", "ec256");
    p256["kid"] = json!("ec521");
    std::fs::write(&only_p256, json!({"keys": [p256]}).to_string()).unwrap();
    let validator = |jwks: &std::path::Path| {
        json!({"auth/validator": {"alg": "ES512", "jwk_local_path": jwks, "roles_key": "name",
                                  "roles": ["Ada"], "propagate_claims": [["id", "x-user"]]}})
    };
    let config = json!({
        "version": 3, "port": 0,
        "endpoints": [
            {"endpoint": "/token",
             "extra_config": {"auth/signer": {"alg": "ES512", "kid": "ec521", "keys_to_sign": ["user"],
                                              "jwk_local_path": testdata.join("private_jwks.json")}},
             "backend": [{"host": [format!("http://{backend}")], "url_pattern": "/user"}]},
            {"endpoint": "/private", "input_headers": ["X-User"],
             "extra_config": validator(&testdata.join("public_jwks.json")),
             "backend": [{"host": [format!("http://{backend}")], "url_pattern": "/data"}]},
            {"endpoint": "/other-curve",
             "extra_config": validator(&only_p256),
             "backend": [{"host": [format!("http://{backend}")], "url_pattern": "/data"}]}
        ]
    })
    .to_string()
    .replace("\"port\":0", "\"port\":PORT");
    let gw = Gateway::start(&config);

    let r = gw.request("GET", "/token", &[], "");
    assert_eq!(r.status, 200, "{}", r.body);
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let token = body["user"].as_str().unwrap().to_string();
    assert_eq!(body["meta"], json!({"v": 1}));
    let signature = token.rsplit_once('.').unwrap().1;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    assert_eq!(b64.decode(signature).unwrap().len(), 132, "r || s");

    let auth = format!("Bearer {token}");
    let r = gw.request("GET", "/private", &[("Authorization", &auth)], "");
    assert_eq!(r.status, 200, "{}", r.body);
    let echoed: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(echoed["headers"]["x-user"], "7");

    let mut forged = token.clone().into_bytes();
    let i = forged.len() - 4;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let claims = json!({"id": 7, "name": "Ada", "exp": now() + 600});
    let refused = [
        ("/private", "forged signature", format!("Bearer {forged}")),
        (
            "/private",
            "P-256 claiming ES512",
            format!("Bearer {}", p256_claiming_es512("ec521", &claims)),
        ),
        ("/other-curve", "genuine ES512, P-256 key", auth.clone()),
        (
            "/other-curve",
            "P-256 claiming ES512, P-256 key",
            format!("Bearer {}", p256_claiming_es512("ec521", &claims)),
        ),
    ];
    for (path, name, auth) in &refused {
        let r = gw.request("GET", path, &[("Authorization", auth)], "");
        assert_eq!((r.status, r.body.as_str()), (401, ""), "{name}");
        assert_eq!(r.header("content-type"), None, "{name}");
    }
}
