//! The mock's handlers: echo, collection, delayed echo, redirect, and the two
//! file-backed bodies, each behind the `X-Forwarded-For` check where the Go
//! mock has it.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, LOCATION};
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use serde_json::{json, Map, Value};

use super::mux::{self, Route};
use super::reply::{self, GoBody};
use super::MockConfig;
use crate::ce::{goheader, gojson, gourl};

/// Returned by a handler to make the server close the connection without a
/// response, as Go's server does when a handler panics.
#[derive(Debug, thiserror::Error)]
#[error("mock handler aborted the connection: {0}")]
pub struct DropConnection(pub &'static str);

/// File name of the `/xml` body in the mock-backend data directory.
pub const XML_FILE: &str = "xml.body.xml";
/// File name of the `/jwk/symmetric` body in the mock-backend data directory.
pub const JWK_FILE: &str = "jwk_symmetric.body.json";

/// Serves one request.
pub async fn handle(
    request: Request<Incoming>,
    config: &MockConfig,
) -> Result<Response<GoBody>, DropConnection> {
    let raw_path = request.uri().path().to_string();
    let raw_query = request.uri().query().map(str::to_string);
    let Some(path) = gourl::unescape(&raw_path, false) else {
        // Go's server rejects an unparsable request URI before any handler runs.
        let mut bad = reply::with_type(
            StatusCode::BAD_REQUEST,
            "text/plain; charset=utf-8",
            "400 Bad Request",
        );
        bad.headers_mut()
            .insert("connection", HeaderValue::from_static("close"));
        return Ok(bad);
    };
    let path = gojson::lossy(&path);

    let route = mux::resolve(&path, raw_query.as_deref());
    let checked = !matches!(
        route,
        Route::JwkSymmetric | Route::MovedPermanently(_) | Route::NotFound
    );
    if checked && !forwarded_for_is_loopback(request.headers()) {
        return Ok(reply::go_error(
            StatusCode::BAD_REQUEST,
            "invalid X-Forwarded-For",
        ));
    }

    match route {
        Route::MovedPermanently(location) => Ok(redirect(request.method(), &location, 301)),
        Route::NotFound => Ok(reply::not_found()),
        Route::Echo => Ok(echo(request, &path, raw_query.as_deref()).await),
        Route::Delayed => {
            tokio::time::sleep(config.delay).await;
            Ok(echo(request, &path, raw_query.as_deref()).await)
        }
        Route::Collection => Ok(reply::with_type(
            StatusCode::OK,
            "application/json",
            collection_json(&path),
        )),
        Route::Redirect => redirect_by_status(request.method(), raw_query.as_deref()),
        Route::Xml => Ok(file_body(
            config.data_dir.as_deref(),
            XML_FILE,
            "application/xml; charset=utf-8",
        )),
        Route::JwkSymmetric => Ok(file_body(
            config.data_dir.as_deref(),
            JWK_FILE,
            "application/json",
        )),
    }
}

/// The `X-Forwarded-For` check: the first value must be exactly one IP
/// address (Go's `net.ParseIP`) and a loopback one.
pub fn forwarded_for_is_loopback(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    match value.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

/// The request headers as a Go handler sees them in `r.Header`: canonical
/// names, values in order, without `Host` and `Transfer-Encoding`, and with
/// `Cache-Control: no-cache` added for `Pragma: no-cache` (Go's
/// `fixPragmaCacheControl`).
pub fn go_server_headers(headers: &HeaderMap) -> BTreeMap<String, Vec<String>> {
    let mut view: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        if name == hyper::header::HOST || name == hyper::header::TRANSFER_ENCODING {
            continue;
        }
        view.entry(goheader::canonical(name.as_str()))
            .or_default()
            .push(gojson::lossy(value.as_bytes()));
    }
    if view
        .get("Pragma")
        .is_some_and(|v| v.first().is_some_and(|p| p == "no-cache"))
        && !view.contains_key("Cache-Control")
    {
        view.insert("Cache-Control".into(), vec!["no-cache".into()]);
    }
    view
}

/// The echo document, byte-exact (Go `json.Encoder`, trailing newline).
pub fn echo_json(
    headers: &HeaderMap,
    path: &str,
    raw_query: Option<&str>,
    body: Option<&[u8]>,
) -> String {
    let mut header_view = go_server_headers(headers);
    header_view.remove("X-Forwarded-For");
    let query = gourl::parse_query(raw_query.unwrap_or(""));
    let mut doc = Map::new();
    doc.insert("foo".into(), json!(42));
    doc.insert("headers".into(), json!(header_view));
    doc.insert("path".into(), json!(path));
    doc.insert("query".into(), json!(query));
    if let Some(body) = body {
        doc.insert("body".into(), Value::String(gojson::lossy(body)));
    }
    gojson::encode(&Value::Object(doc))
}

/// The `/collection/` document for a decoded request path.
pub fn collection_json(path: &str) -> String {
    let items: Vec<Value> = (0..10).map(|i| json!({"i": i, "path": path})).collect();
    gojson::encode(&Value::Array(items))
}

async fn echo(request: Request<Incoming>, path: &str, raw_query: Option<&str>) -> Response<GoBody> {
    let dump_body = gourl::parse_query(raw_query.unwrap_or(""))
        .get("dump_body")
        .and_then(|v| v.first())
        .is_some_and(|v| v == "1");
    let (parts, body) = request.into_parts();
    let body = if dump_body {
        Some(
            body.collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_else(|_| Bytes::new()),
        )
    } else {
        None
    };
    let text = echo_json(&parts.headers, path, raw_query, body.as_deref());
    let mut response = reply::with_type(StatusCode::OK, "application/json", text);
    for cookie in ["test1=test1", "test2=test2"] {
        response
            .headers_mut()
            .append(hyper::header::SET_COOKIE, HeaderValue::from_static(cookie));
    }
    response
}

/// `/redirect/`: the status comes from the `status` query value.
fn redirect_by_status(
    method: &Method,
    raw_query: Option<&str>,
) -> Result<Response<GoBody>, DropConnection> {
    let query = gourl::parse_query(raw_query.unwrap_or(""));
    let Some(status) = query.get("status").and_then(|v| v.first()) else {
        return Err(DropConnection("redirect without a status query value"));
    };
    let code = match status.parse::<i64>() {
        Ok(code) => code,
        Err(e) => {
            let why = match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                    "value out of range"
                }
                _ => "invalid syntax",
            };
            let text = format!("strconv.Atoi: parsing {}: {why}", gourl::go_quote(status));
            return Ok(reply::go_error(StatusCode::BAD_REQUEST, &text));
        }
    };
    // Go's WriteHeader panics below 100 or above 999; 1xx would need interim responses.
    let code = u16::try_from(code)
        .ok()
        .filter(|c| (200..=999).contains(c))
        .ok_or(DropConnection("redirect status outside 200..=999"))?;
    let location = gourl::path_and_query("/param_forwarding/", raw_query);
    Ok(redirect(method, &location, code))
}

/// Go's `http.Redirect(w, r, url, code)` for a scheme-less URL.
fn redirect(method: &Method, url: &str, code: u16) -> Response<GoBody> {
    let location = gourl::redirect_target(url);
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::FOUND);
    let body_allowed = !matches!(code, 204 | 304);
    let mut response = if *method == Method::GET && body_allowed {
        reply::with_type(
            status,
            "text/html; charset=utf-8",
            gourl::redirect_html(&location, code),
        )
    } else {
        let mut r = Response::new(GoBody::empty());
        *r.status_mut() = status;
        if *method == Method::HEAD {
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
        }
        r
    };
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

fn file_body(dir: Option<&Path>, name: &str, content_type: &'static str) -> Response<GoBody> {
    let Some(dir) = dir else {
        return reply::go_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("mock backend: no data directory configured for {name}"),
        );
    };
    let path = dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => reply::with_type(StatusCode::OK, content_type, bytes),
        Err(e) => reply::go_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("mock backend: cannot read {}: {e}", path.display()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn echo_matches_the_gateway_default_request() {
        let h = headers(&[
            ("host", "127.0.0.1:8081"),
            ("user-agent", "KrakenD Version 2.13.8"),
            ("x-forwarded-for", "127.0.0.1"),
            ("x-forwarded-host", "localhost:8080"),
            ("accept-encoding", "gzip"),
        ]);
        assert_eq!(
            echo_json(&h, "/param_forwarding/bar", Some("foo=foo"), None),
            "{\"foo\":42,\"headers\":{\"Accept-Encoding\":[\"gzip\"],\"User-Agent\":[\"KrakenD Version 2.13.8\"],\
             \"X-Forwarded-Host\":[\"localhost:8080\"]},\"path\":\"/param_forwarding/bar\",\"query\":{\"foo\":[\"foo\"]}}\n"
        );
    }

    #[test]
    fn echo_keeps_content_length_drops_transfer_encoding_and_escapes_html() {
        let h = headers(&[
            ("content-length", "0"),
            ("transfer-encoding", "chunked"),
            ("x-a", "<b>&"),
            ("x-a", "2"),
        ]);
        assert_eq!(
            echo_json(&h, "/param_forwarding/", None, Some(b"{\"foo\":\"bar\"}")),
            "{\"body\":\"{\\\"foo\\\":\\\"bar\\\"}\",\"foo\":42,\"headers\":{\"Content-Length\":[\"0\"],\
             \"X-A\":[\"\\u003cb\\u003e\\u0026\",\"2\"]},\"path\":\"/param_forwarding/\",\"query\":{}}\n"
        );
    }

    #[test]
    fn query_values_are_arrays() {
        let text = echo_json(&HeaderMap::new(), "/p/", Some("b=2&b=3&a="), None);
        assert!(
            text.ends_with("\"query\":{\"a\":[\"\"],\"b\":[\"2\",\"3\"]}}\n"),
            "{text}"
        );
    }

    #[test]
    fn pragma_no_cache_adds_cache_control() {
        let view = go_server_headers(&headers(&[("pragma", "no-cache")]));
        assert_eq!(view["Cache-Control"], ["no-cache"]);
    }

    #[test]
    fn collection_is_go_encoded() {
        let text = collection_json("/collection/2");
        assert!(text.starts_with("[{\"i\":0,\"path\":\"/collection/2\"},{\"i\":1,"));
        assert!(text.ends_with("{\"i\":9,\"path\":\"/collection/2\"}]\n"));
        assert_eq!(text.matches("\"i\"").count(), 10);
    }

    #[test]
    fn forwarded_for_must_be_one_loopback_ip() {
        for ok in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
            assert!(
                forwarded_for_is_loopback(&headers(&[("x-forwarded-for", ok)])),
                "{ok}"
            );
        }
        for bad in [
            "10.0.0.1",
            "127.0.0.1, 127.0.0.1",
            "localhost",
            "",
            "127.000.0.1",
        ] {
            assert!(
                !forwarded_for_is_loopback(&headers(&[("x-forwarded-for", bad)])),
                "{bad}"
            );
        }
        assert!(!forwarded_for_is_loopback(&HeaderMap::new()));
    }

    #[test]
    fn redirect_writes_go_html_for_get_only() {
        let get = redirect(&Method::GET, "/param_forwarding/?status=301", 301);
        assert_eq!(get.headers()[LOCATION], "/param_forwarding/?status=301");
        assert_eq!(get.headers()["content-type"], "text/html; charset=utf-8");
        let post = redirect(&Method::POST, "/param_forwarding/", 307);
        assert!(post.headers().get("content-type").is_none());
        assert_eq!(post.status(), 307);
    }

    #[test]
    fn redirect_status_parse_errors_and_missing_status() {
        let bad = redirect_by_status(&Method::GET, Some("status=abc")).unwrap();
        assert_eq!(bad.status(), 400);
        assert!(redirect_by_status(&Method::GET, Some("x=1")).is_err());
        assert!(redirect_by_status(&Method::GET, Some("status=42")).is_err());
        let ok = redirect_by_status(&Method::GET, Some("status=302&x=1")).unwrap();
        assert_eq!(ok.status(), 302);
        assert_eq!(ok.headers()[LOCATION], "/param_forwarding/?status=302&x=1");
    }
}
