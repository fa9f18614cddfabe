//! In-process benchmarks of the security and validation layers' cost per request: JWT
//! verification through the endpoint guard (keys from a local JWK set, parsed once, and from
//! a `jwk_url` on loopback after the first download: the cached-key cases), a CORS preflight
//! through the service guards, and the CEL request check with one and three rules over an
//! in-memory next layer.
//!
//! Besides criterion's time per operation, every benchmark prints the heap allocations per
//! operation, counted by the allocator in `support/alloc.rs`.
//!
//! Run: `cargo bench -p gateway --bench security -- --warm-up-time 1 --measurement-time 3`

#[path = "support/alloc.rs"]
mod alloc_count;
#[path = "support/request.rs"]
mod bench_request;

use std::hint::black_box;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use gateway::backend::client::HttpClient;
use gateway::config::{self, EndpointConfig, Format, ServiceConfig};
use gateway::proxy::{Request, SharedProxy};
use gateway::security::signer::JwtSigner;
use gateway::security::{Admission, EndpointGuards, ServiceGuards};
use gateway::validation::cel::CelValidation;
use http::{HeaderMap, HeaderValue, Method};
use serde_json::{json, Map, Value};

use alloc_count::report_allocations;
use bench_request::proxy_request;

/// The test key set: private keys of every family, with their `kid`s.
fn jwks() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/private_jwks.json")
}

/// The algorithms measured, with the key each uses.
const JWT_CASES: &[(&str, &str)] = &[
    ("RS256", "rsa"),
    ("ES256", "ec256"),
    ("ES512", "ec521"),
    ("HS256", "hmac"),
];

fn service(jwk_url: &str) -> ServiceConfig {
    let mut endpoints: Vec<Value> = JWT_CASES
        .iter()
        .map(|(alg, kid)| {
            json!({"endpoint": format!("/jwt/{alg}"), "backend": [{"host": ["http://127.0.0.1:8081"], "url_pattern": "/"}],
                   "extra_config": {
                "auth/validator": {"alg": alg, "jwk_local_path": jwks(),
                                   "audience": ["https://api.example"], "issuer": "https://idp.example",
                                   "roles": ["user"]},
                "auth/signer": {"alg": alg, "kid": kid, "keys_to_sign": ["token"], "jwk_local_path": jwks()}
            }})
        })
        .collect();
    endpoints.push(json!({"endpoint": "/jwt/RS256-url", "backend": [{"host": ["http://127.0.0.1:8081"], "url_pattern": "/"}],
        "extra_config": {
            "auth/validator": {"alg": "RS256", "jwk_url": jwk_url, "disable_jwk_security": true,
                               "cache": true, "cache_duration": 3600,
                               "audience": ["https://api.example"], "issuer": "https://idp.example",
                               "roles": ["user"]},
            "auth/signer": {"alg": "RS256", "kid": "rsa", "keys_to_sign": ["token"], "jwk_local_path": jwks()}
        }}));
    for (name, rules) in [
        ("/cel/1", vec!["int(req_params.Id) > 10"]),
        (
            "/cel/3",
            vec![
                "int(req_params.Id) > 10",
                "req_method == 'GET' && req_path.startsWith('/cel')",
                "'application/json' in req_headers['Content-Type']",
            ],
        ),
    ] {
        let rules: Vec<Value> = rules.iter().map(|r| json!({"check_expr": r})).collect();
        endpoints.push(json!({"endpoint": name, "extra_config": {"validation/cel": rules},
                              "backend": [{"host": ["http://127.0.0.1:8081"], "url_pattern": "/"}]}));
    }
    let text = json!({"version": 3, "endpoints": endpoints, "extra_config": {
        "security/cors": {"allow_origins": ["https://app.example", "https://*.example.org"],
                          "allow_methods": ["GET", "POST"], "allow_headers": ["Authorization", "Content-Type"],
                          "max_age": "12h", "allow_credentials": true}
    }})
    .to_string();
    config::parse_str(&text, Format::Json, Path::new("bench.json")).expect("valid bench config")
}

/// Serves the public test keys as a JWK set on loopback, on `rt`; returns the URL.
fn jwk_server(rt: &tokio::runtime::Runtime) -> String {
    let public = std::fs::read(jwks().with_file_name("public_jwks.json")).expect("public keys");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    rt.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let public = Bytes::from(public.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| {
                    let body = http_body_util::Full::new(public.clone());
                    async move { Ok::<_, std::convert::Infallible>(http::Response::new(body)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    format!("http://{addr}/jwk")
}

fn endpoint<'a>(svc: &'a ServiceConfig, path: &str) -> &'a EndpointConfig {
    svc.endpoints
        .iter()
        .find(|e| e.endpoint == path)
        .expect("bench endpoint")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A token for `cfg`'s validator, made by the gateway's own signer with the same key.
fn token(rt: &tokio::runtime::Runtime, cfg: &EndpointConfig) -> String {
    let signer_cfg = cfg.security.jwt_signer.as_ref().expect("signer options");
    let signer = JwtSigner::new(signer_cfg, &HttpClient::default()).expect("signer");
    let mut data = Map::new();
    data.insert(
        "token".into(),
        json!({"sub": "u-1", "iss": "https://idp.example", "aud": "https://api.example",
               "exp": 4102444800u64, "roles": ["user"], "scope": "read"}),
    );
    rt.block_on(signer.sign(&mut data)).expect("signed");
    data["token"].as_str().expect("compact token").to_string()
}

fn bench_jwt(c: &mut Criterion) {
    let rt = runtime();
    let svc = service(&jwk_server(&rt));
    let client = HttpClient::default();
    let mut group = c.benchmark_group("jwt verification");
    let names = JWT_CASES.iter().map(|(alg, _)| *alg).chain(["RS256-url"]);
    for alg in names {
        let cfg = endpoint(&svc, &format!("/jwt/{alg}"));
        let guards = EndpointGuards::build(&cfg.security, &client)
            .expect("guards")
            .expect("a validator");
        let mut headers = HeaderMap::new();
        let bearer = format!("Bearer {}", token(&rt, cfg));
        headers.insert(
            "authorization",
            HeaderValue::from_str(&bearer).expect("ascii"),
        );
        let mut admit = || rt.block_on(guards.admit(&mut headers));
        assert!(admit().is_ok(), "{alg} token is admitted");
        group.bench_function(alg, |b| b.iter(|| black_box(admit())));
        report_allocations(&format!("jwt/{alg}"), || {
            black_box(admit()).ok();
        });
    }
    group.finish();
}

fn bench_cors_preflight(c: &mut Criterion) {
    let svc = service("https://unused.example/jwk");
    let guards = ServiceGuards::new(&svc.security, false);
    let uri: http::Uri = "/jwt/RS256".parse().expect("uri");
    let mut headers = HeaderMap::new();
    headers.insert(
        "origin",
        HeaderValue::from_static("https://shop.example.org"),
    );
    headers.insert(
        "access-control-request-method",
        HeaderValue::from_static("POST"),
    );
    headers.insert(
        "access-control-request-headers",
        HeaderValue::from_static("authorization, content-type"),
    );
    let preflight = || guards.admit(&Method::OPTIONS, &uri, &headers);
    match preflight() {
        Admission::Answer(r) => assert_eq!(
            r.headers()["access-control-allow-origin"],
            "https://shop.example.org"
        ),
        Admission::Route(_) => panic!("a preflight is answered by the CORS guard"),
    }
    c.bench_function("cors/preflight", |b| b.iter(|| black_box(preflight())));
    report_allocations("cors/preflight", || {
        black_box(preflight());
    });
}

fn bench_cel(c: &mut Criterion) {
    let svc = service("https://unused.example/jwk");
    let rt = runtime();
    let mut group = c.benchmark_group("cel check");
    for (name, path) in [("1 rule", "/cel/1"), ("3 rules", "/cel/3")] {
        let rules = &endpoint(&svc, path).traffic.cel;
        let next: SharedProxy = gateway::proxy::from_fn(|_request: Request| async {
            gateway::proxy::Outcome::ok(gateway::proxy::Response {
                data: Map::new(),
                is_complete: true,
                passthrough: None,
                headers: Default::default(),
            })
        });
        let layer = CelValidation::wrap(rules, next);
        let request = proxy_request("/cel/42", &[]);
        let check = || rt.block_on(layer.call(request.clone()));
        assert!(check().error.is_none(), "{name}: the request passes");
        group.bench_function(name, |b| b.iter(|| black_box(check())));
        report_allocations(&format!("cel/{name}"), || {
            black_box(check());
        });
    }
    group.finish();
}

criterion_group!(benches, bench_jwt, bench_cors_preflight, bench_cel);
criterion_main!(benches);
