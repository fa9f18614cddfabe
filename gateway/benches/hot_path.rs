//! In-process benchmarks of the gateway's hot path, in the shape of Lura's (KrakenD core)
//! published benchmarks: request building, response decode and manipulation, merge, and the
//! whole endpoint pipeline over in-memory backends (no sockets), also with a Lua proxy layer.
//!
//! Besides criterion's time per operation, every benchmark prints the heap allocations per
//! operation, counted by a global allocator wrapper in this binary.
//!
//! Run: `cargo bench -p gateway --bench hot_path -- --warm-up-time 1 --measurement-time 2`

#[path = "support/alloc.rs"]
mod alloc_count;
#[path = "support/request.rs"]
mod bench_request;

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use gateway::backend::client::HttpClient;
use gateway::backend::decode::decode;
use gateway::backend::manipulate::Formatter;
use gateway::backend::BackendProxy;
use gateway::config::{self, BackendConfig, BackendEncoding, EndpointConfig, Format};
use gateway::endpoint::{ClientRequest, Endpoint};
use gateway::proxy::merge::{Accumulator, ParallelMerge};
use gateway::proxy::{Outcome, Request, Response, SharedProxy};
use http::{HeaderMap, HeaderValue, Method};
use serde_json::Map;

use alloc_count::report_allocations;
use bench_request::proxy_request;

/// A small backend body like the ones of Lura's benchmarks.
const BODY: &[u8] = br#"{"id":42,"name":"Ada Lovelace","email":"ada@example.com","address":{"street":"12 St James's Square","city":"London","zip":"SW1Y 4JH","geo":{"lat":51.507,"lng":-0.135}},"tags":["math","engines"],"active":true,"score":98.5,"created_at":"2024-01-01T00:00:00Z","password":"secret","internal":{"shard":3,"node":"a"}}"#;

/// A collection body for the flatmap benchmark.
const COLLECTION: &[u8] = br#"[{"id":1,"name":"a","meta":{"x":1}},{"id":2,"name":"b","meta":{"x":2}},{"id":3,"name":"c","meta":{"x":3}},{"id":4,"name":"d","meta":{"x":4}}]"#;

/// The backend entries the benchmarks use, as in a real configuration.
const BACKENDS: &str = r#"
  {"url_pattern": "/users/{id}", "host": ["http://127.0.0.1:8081"]},
  {"url_pattern": "/users/{id}", "host": ["http://127.0.0.1:8081"],
   "allow": ["id", "name", "address.city", "address.geo.lat"]},
  {"url_pattern": "/users/{id}", "host": ["http://127.0.0.1:8081"],
   "deny": ["password", "internal.shard", "address.geo"]},
  {"url_pattern": "/users/{id}", "host": ["http://127.0.0.1:8081"],
   "mapping": {"name": "full_name", "email": "mail", "score": "rank"}},
  {"url_pattern": "/users/{id}", "host": ["http://127.0.0.1:8081"], "group": "user"},
  {"url_pattern": "/users", "host": ["http://127.0.0.1:8081"], "is_collection": true,
   "extra_config": {"proxy": {"flatmap_filter": [
     {"type": "move", "args": ["collection.*.meta.x", "collection.*.x"]},
     {"type": "del", "args": ["collection.*.meta"]}]}}}
"#;

/// Parses one configuration with the benchmark endpoints: the manipulation backends, and the
/// 1- and 3-backend aggregates.
fn service() -> config::ServiceConfig {
    let text = format!(
        r#"{{"version": 3, "endpoints": [
          {{"endpoint": "/manipulations/{{id}}", "backend": [{BACKENDS}]}},
          {{"endpoint": "/one/{{id}}", "backend": [
            {{"url_pattern": "/users/{{id}}", "host": ["http://127.0.0.1:8081"],
              "allow": ["id", "name", "address"], "mapping": {{"name": "full_name"}}}}]}},
          {{"endpoint": "/lua/{{id}}", "extra_config": {{"modifier/lua-proxy": {{
              "pre": "local r = request.load(); r:headers('X-Lua', 'yes')",
              "post": "local d = response.load():data(); d:set('lua', d:get('full_name'))"}}}},
            "backend": [
            {{"url_pattern": "/users/{{id}}", "host": ["http://127.0.0.1:8081"],
              "allow": ["id", "name", "address"], "mapping": {{"name": "full_name"}}}}]}},
          {{"endpoint": "/three/{{id}}", "backend": [
            {{"url_pattern": "/users/{{id}}", "host": ["http://127.0.0.1:8081"], "group": "a",
              "allow": ["id", "name", "address"]}},
            {{"url_pattern": "/users/{{id}}", "host": ["http://127.0.0.1:8082"], "group": "b",
              "mapping": {{"name": "full_name"}}}},
            {{"url_pattern": "/users/{{id}}", "host": ["http://127.0.0.1:8083"], "group": "c",
              "deny": ["password"]}}]}}
        ]}}"#
    );
    config::parse_str(&text, Format::Json, Path::new("bench.json")).expect("valid bench config")
}

fn endpoint<'a>(svc: &'a config::ServiceConfig, path: &str) -> &'a EndpointConfig {
    svc.endpoints
        .iter()
        .find(|e| e.endpoint == path)
        .expect("bench endpoint")
}

fn client_request(path: &str) -> ClientRequest {
    let mut headers = HeaderMap::new();
    headers.insert("accept", HeaderValue::from_static("application/json"));
    headers.insert("user-agent", HeaderValue::from_static("bench/1.0"));
    ClientRequest {
        method: Method::GET,
        path: path.into(),
        query: Some("page=2&debug=1".into()),
        headers,
        body: Bytes::new(),
        has_body: false,
        params: vec![("id".into(), "42".into())],
        client_ip: "127.0.0.1".into(),
        host: "localhost:8080".into(),
    }
}

/// What the backend tier does after the HTTP exchange: decode the body and manipulate it.
fn in_memory_backend(cfg: &BackendConfig) -> SharedProxy {
    let formatter = Formatter::new(cfg);
    let encoding = cfg.encoding;
    let is_collection = cfg.is_collection;
    gateway::proxy::from_fn(move |_request: Request| {
        let outcome = match decode(encoding, is_collection, BODY) {
            Ok(data) => Outcome::ok(Response {
                data: formatter.format(data),
                is_complete: true,
                passthrough: None,
                headers: Default::default(),
            }),
            Err(e) => Outcome::err(gateway::error::ProxyError::Decode(e)),
        };
        async move { outcome }
    })
}

fn bench_request_building(c: &mut Criterion) {
    let svc = service();
    let cfg = &endpoint(&svc, "/one/{id}").backends[0];
    let backend = BackendProxy::new(cfg, HttpClient::default(), 1);
    let request = proxy_request("/one/42", &[("user-agent", "KrakenD Version 2.13.8")]);
    c.bench_function("request building", |b| {
        b.iter(|| black_box(backend.outgoing(black_box(&request))))
    });
    report_allocations("request building", || {
        black_box(backend.outgoing(&request));
    });
}

fn bench_decode_and_manipulate(c: &mut Criterion) {
    let svc = service();
    let backends = &endpoint(&svc, "/manipulations/{id}").backends;
    let names = ["decode", "allow", "deny", "mapping", "group", "flatmap"];
    let mut group = c.benchmark_group("response");
    for (name, cfg) in names.iter().zip(backends) {
        let formatter = Formatter::new(cfg);
        let body = if cfg.is_collection { COLLECTION } else { BODY };
        let run = || {
            let data = decode(BackendEncoding::Json, cfg.is_collection, body).expect("json");
            formatter.format(data)
        };
        assert!(!run().is_empty(), "{name} keeps some data");
        group.bench_function(format!("decode + {name}"), |b| b.iter(|| black_box(run())));
        // The manipulation alone, on an already decoded body (what Lura's figures measure).
        let decoded = decode(BackendEncoding::Json, cfg.is_collection, body).expect("json");
        group.bench_function(format!("{name} only"), |b| {
            b.iter_batched(
                || decoded.clone(),
                |data| black_box(formatter.format(data)),
                criterion::BatchSize::SmallInput,
            )
        });
        report_allocations(&format!("response/decode + {name}"), || {
            black_box(run());
        });
    }
    group.finish();
}

fn bench_merge(c: &mut Criterion) {
    let part = decode(BackendEncoding::Json, false, BODY).expect("json");
    let mut group = c.benchmark_group("merge");
    for parts in [2usize, 3, 4] {
        let inputs: Vec<Map<_, _>> = (0..parts)
            .map(|i| {
                let mut m = Map::new();
                m.insert(format!("part{i}"), serde_json::Value::Object(part.clone()));
                m
            })
            .collect();
        let merge = |inputs: Vec<Map<_, _>>| {
            let mut acc = Accumulator::new(inputs.len());
            for data in inputs {
                acc.merge(Outcome::ok(Response {
                    data,
                    is_complete: true,
                    passthrough: None,
                    headers: Default::default(),
                }));
            }
            acc.finish()
        };
        let merged = merge(inputs.clone());
        assert_eq!(merged.response.expect("merged").data.len(), parts);
        group.bench_function(format!("{parts} parts"), |b| {
            b.iter_batched(
                || inputs.clone(),
                |i| black_box(merge(i)),
                criterion::BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn bench_pipeline(c: &mut Criterion) {
    let svc = service();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("pipeline");
    for (name, path) in [
        ("1 backend", "/one/{id}"),
        ("1 backend + lua-proxy pre and post", "/lua/{id}"),
        ("3 backends", "/three/{id}"),
    ] {
        let cfg = endpoint(&svc, path);
        let children: Vec<SharedProxy> = cfg.backends.iter().map(in_memory_backend).collect();
        let mut proxy: SharedProxy = if children.len() == 1 {
            children.into_iter().next().expect("one")
        } else {
            Arc::new(ParallelMerge::new(
                children,
                gateway::proxy::merge::merge_deadline(cfg.timeout),
            ))
        };
        if let Some(lua) = &cfg.traffic.lua_proxy {
            proxy = gateway::lua::wrap_proxy(lua, cfg.timeout, proxy);
        }
        let endpoint = Arc::new(Endpoint::new(
            cfg,
            proxy,
            false,
            HeaderValue::from_static("Version 2.13.8"),
            HeaderValue::from_static("KrakenD Version 2.13.8"),
        ));
        let serve = || runtime.block_on(endpoint.handle(client_request("/x/42")));
        let response = serve();
        assert_eq!(response.status(), 200, "{name} answers 200");
        if cfg.traffic.lua_proxy.is_some() {
            let body = runtime
                .block_on(http_body_util::BodyExt::collect(response.into_body()))
                .expect("body")
                .to_bytes();
            let text = String::from_utf8_lossy(&body);
            assert!(text.contains(r#""lua":"#), "the post script ran: {text}");
        }
        group.bench_function(name, |b| b.iter(|| black_box(serve())));
        report_allocations(&format!("pipeline/{name}"), || {
            black_box(serve());
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_request_building,
    bench_decode_and_manipulate,
    bench_merge,
    bench_pipeline
);
criterion_main!(benches);
