//! Black-box checks of the Lua modifiers on the real binary, with our own scripts:
//! the three namespaces in one request, errors, the time limit, `live` sources,
//! `http_response`, and start-up errors for broken scripts.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{start_backend, Gateway};

const LIB: &str = r#"
-- Our own helpers for these tests.
function mark_endpoint(c)
  c:headers("X-Stage", "endpoint")
end

function backend_pre(r)
  r:method("POST")
  r:body("from-lua")
  r:headers("X-Backend", r:headers("X-Stage") .. "+backend")
end

function backend_post(resp)
  local d = resp:data()
  d:set("number", d:get("n") * 2)
  d:del("n")
  local nested = luaTable.new()
  nested:set("list", {3, 2, 1})
  d:set("nested", nested)
end
"#;

fn config(backend: std::net::SocketAddr, dir: &Path) -> String {
    let lib = dir.join("lib.lua");
    std::fs::write(&lib, LIB).unwrap();
    std::fs::write(dir.join("live.lua"), "function version() return 'one' end").unwrap();
    r#"{"version": 3, "port": PORT, "extra_config": {"router": {"return_error_msg": true}},
      "endpoints": [
        {"endpoint": "/all/{id}",
         "input_headers": ["X-Stage"],
         "extra_config": {
           "modifier/lua-endpoint": {"sources": ["LIB"], "pre": "mark_endpoint(ctx.load())"},
           "modifier/lua-proxy": {
             "pre": "local r = request.load(); r:headers('X-Proxy', r:params('Id'))",
             "post": "local r = response.load(); r:headers('X-Done', 'yes'); r:data():set('seen_by_proxy', r:data():get('number'))"
           }
         },
         "backend": [{"host": ["B"], "url_pattern": "/echo/{id}",
           "extra_config": {"modifier/lua-backend": {
             "sources": ["LIB"], "pre": "backend_pre(request.load())", "post": "backend_post(response.load())"
           }}}]},
        {"endpoint": "/runtime-error",
         "extra_config": {"modifier/lua-proxy": {"pre": "local t = nil\nerror('boom')"}},
         "backend": [{"host": ["B"], "url_pattern": "/echo"}]},
        {"endpoint": "/endless", "timeout": "300ms",
         "extra_config": {"modifier/lua-proxy": {"pre": "while true do end"}},
         "backend": [{"host": ["B"], "url_pattern": "/echo"}]},
        {"endpoint": "/endless-endpoint", "timeout": "300ms",
         "extra_config": {"modifier/lua-endpoint": {"pre": "local i = 0 while true do i = i + 1 end"}},
         "backend": [{"host": ["B"], "url_pattern": "/echo"}]},
        {"endpoint": "/live",
         "extra_config": {"modifier/lua-proxy": {"sources": ["LIVE"], "live": true,
            "post": "response.load():data():set('version', version())"}},
         "backend": [{"host": ["B"], "url_pattern": "/echo"}]},
        {"endpoint": "/missing-source",
         "extra_config": {"modifier/lua-proxy": {"sources": ["MISSING"], "pre": "x = 1"}},
         "backend": [{"host": ["B"], "url_pattern": "/echo"}]},
        {"endpoint": "/http",
         "extra_config": {"modifier/lua-proxy": {
            "post": "local h = http_response.new('B/text'); local d = response.load():data(); d:set('fetched', h:body()); d:set('status', h:statusCode()); h:close()"}},
         "backend": [{"host": ["B"], "url_pattern": "/echo"}]}
      ]}"#
    .replace("\"B", &format!("\"http://{backend}"))
    .replace("'B/", &format!("'http://{backend}/"))
    .replace("LIB", lib.to_str().unwrap())
    .replace("LIVE", dir.join("live.lua").to_str().unwrap())
    .replace("MISSING", dir.join("missing.lua").to_str().unwrap())
}

#[test]
fn lua_modifiers_change_requests_and_responses() {
    let backend = start_backend();
    let scripts = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&config(backend, scripts.path()));

    let r = gw.request("GET", "/all/7", &[], "");
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    // lua-endpoint header (kept by input_headers), lua-proxy header, lua-backend method,
    // body and header, then lua-backend post and lua-proxy post on the data.
    assert_eq!(v["path"], "/echo/7");
    assert_eq!(v["method"], "POST");
    assert_eq!(v["body"], "from-lua");
    assert_eq!(v["headers"]["x-stage"], "endpoint");
    assert_eq!(v["headers"]["x-proxy"], "7");
    assert_eq!(v["headers"]["x-backend"], "endpoint+backend");
    assert_eq!(v["number"], 84);
    assert!(v.get("n").is_none());
    assert_eq!(v["nested"], serde_json::json!({"list": [3, 2, 1]}));
    assert_eq!(v["seen_by_proxy"], 84);
    assert_eq!(r.header("X-Done"), Some("yes"));

    let r = gw.request("GET", "/runtime-error", &[], "");
    assert_eq!((r.status, r.body.as_str()), (500, "pre-script:2: boom"));

    // A source missing at start-up does not stop the gateway: its calls fail, as in KrakenD.
    let r = gw.request("GET", "/missing-source", &[], "");
    let missing = scripts.path().join("missing.lua");
    assert_eq!(
        (r.status, r.body),
        (
            500,
            format!("lua: unable to load required source {}", missing.display())
        )
    );
}

#[test]
fn endless_scripts_are_stopped_and_the_gateway_keeps_serving() {
    let backend = start_backend();
    let scripts = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&config(backend, scripts.path()));
    for path in ["/endless", "/endless-endpoint"] {
        let started = Instant::now();
        let r = gw.request("GET", path, &[], "");
        assert_eq!(r.status, 500, "{path}: {}", r.body);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{path} took {:?}",
            started.elapsed()
        );
    }
    assert_eq!(gw.request("GET", "/all/1", &[], "").status, 200);
}

#[test]
fn live_sources_and_http_response() {
    let backend = start_backend();
    let scripts = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&config(backend, scripts.path()));
    assert_eq!(gw.request("GET", "/live", &[], "").json()["version"], "one");
    std::fs::write(
        scripts.path().join("live.lua"),
        "function version() return 'two' end",
    )
    .unwrap();
    assert_eq!(gw.request("GET", "/live", &[], "").json()["version"], "two");

    let v = gw.request("GET", "/http", &[], "").json();
    assert_eq!(v["fetched"], "plain words");
    assert_eq!(v["status"], 200);
}

#[test]
fn syntax_errors_stop_the_start_up_naming_file_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.lua");
    std::fs::write(&bad, "function broken(\n  return 1\n").unwrap();
    let config = dir.path().join("krakend.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"version": 3, "endpoints": [{{"endpoint": "/x",
              "extra_config": {{"modifier/lua-proxy": {{"sources": ["{}", "{}/missing.lua"], "pre": "x = = 1"}}}},
              "backend": [{{"host": ["http://127.0.0.1:1"], "url_pattern": "/"}}]}}]}}"#,
            bad.display(),
            dir.path().display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_krakend"))
        .args(["run", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    let text = common::output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let ns = r#"endpoints[0].extra_config["modifier/lua-proxy"]"#;
    assert!(text.contains(&format!("{ns}.sources[0]")), "{text}");
    assert!(text.contains(&bad.display().to_string()), "{text}");
    assert!(text.contains(&format!("{ns}.pre")), "{text}");
    assert!(
        !text.contains(&format!("{ns}.sources[1]")),
        "a missing file is no config problem: {text}"
    );
}
