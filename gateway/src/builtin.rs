//! Built-in routes and router answers: `/__health`, `/__debug/*`, `/__echo/*`, 404, 405 and
//! redirects, written as KrakenD's gin router writes them.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::body::{self, Body};
use crate::codec::json as gojson;
use crate::endpoint::COMPLETED;

/// `/__health`.
pub fn health() -> http::Response<Body> {
    let v = json!({"agents": {}, "now": go_now(SystemTime::now()), "status": "ok"});
    json_response(StatusCode::OK, &v)
}

/// `/__debug/*`: logs the request and answers `{"message":"pong"}`.
pub fn debug(method: &Method, uri: &str, headers: &HeaderMap, body: &[u8]) -> http::Response<Body> {
    tracing::debug!(target: "krakend::debug", %method, uri, headers = ?headers, body = %String::from_utf8_lossy(body), "debug endpoint");
    json_response(StatusCode::OK, &json!({"message": "pong"}))
}

/// `/__echo/*`: the request, as KrakenD's echo endpoint describes it.
pub fn echo(
    method: &Method,
    raw_uri: &str,
    path: &str,
    query: Option<&str>,
    host: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> http::Response<Body> {
    let mut q: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        q.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    let mut h: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in headers {
        if k == header::HOST {
            continue;
        }
        h.entry(canonical_header(k.as_str()))
            .or_default()
            .push(String::from_utf8_lossy(v.as_bytes()).into_owned());
    }
    let v = json!({
        "req_uri": raw_uri,
        "req_uri_details": {
            "scheme": "", "user": "", "host": host, "path": path,
            "query": crate::backend::encode_query(&q), "fragment": "",
        },
        "req_method": method.as_str(),
        "req_querystring": q,
        "req_body": String::from_utf8_lossy(body),
        "req_headers": h,
    });
    json_response(StatusCode::OK, &v)
}

/// gin's 404: `404 page not found`, `text/plain`.
pub fn not_found() -> http::Response<Body> {
    let mut r = plain(StatusCode::NOT_FOUND, "404 page not found");
    r.headers_mut()
        .insert(COMPLETED, HeaderValue::from_static("false"));
    r
}

/// `router.error_body`: the configured JSON replaces gin's text body; status and other headers
/// stay.
pub fn with_error_body(
    mut r: http::Response<Body>,
    custom: Option<&Bytes>,
) -> http::Response<Body> {
    if let Some(json) = custom {
        *r.body_mut() = body::full(json.clone());
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::render::JSON),
        );
    }
    r
}

/// KrakenD's answer to double-encoded path parameters.
pub fn bad_params() -> http::Response<Body> {
    let mut r = http::Response::new(body::full("error: encoded url params"));
    *r.status_mut() = StatusCode::BAD_REQUEST;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// gin's 405 with `Allow`.
pub fn method_not_allowed(allowed: &[Method]) -> http::Response<Body> {
    let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "405 method not allowed");
    let list = allowed
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if let Ok(v) = HeaderValue::from_str(&list) {
        r.headers_mut().insert(header::ALLOW, v);
    }
    r
}

/// gin's redirects: 301 for GET, 307 otherwise, with Go's tiny HTML body for GET/HEAD.
pub fn redirect(method: &Method, location: &str) -> http::Response<Body> {
    let status = if method == Method::GET {
        StatusCode::MOVED_PERMANENTLY
    } else {
        StatusCode::TEMPORARY_REDIRECT
    };
    let body = if method == Method::GET || method == Method::HEAD {
        format!(
            "<a href=\"{}\">{}</a>.\n\n",
            html_escape(location),
            status.canonical_reason().unwrap_or("")
        )
    } else {
        String::new()
    };
    let mut r = http::Response::new(body::full(Bytes::from(body.clone())));
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    if !body.is_empty() {
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
    }
    r
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

fn plain(status: StatusCode, text: &'static str) -> http::Response<Body> {
    let mut r = http::Response::new(body::full(text));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}

fn json_response(status: StatusCode, v: &Value) -> http::Response<Body> {
    let mut r = http::Response::new(body::full(gojson::to_vec(v)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::render::JSON),
    );
    r
}

/// Go's `textproto.CanonicalMIMEHeaderKey`.
pub fn canonical_header(name: &str) -> String {
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return name.to_string();
    }
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

/// `time.Now().String()` in UTC, e.g. `2025-01-02 03:04:05.123456789 +0000 UTC`.
pub fn go_now(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, day) = crate::civil::civil_from_days(days);
    let mut frac = format!("{:09}", d.subsec_nanos());
    while frac.ends_with('0') {
        frac.pop();
    }
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    format!(
        "{y:04}-{m:02}-{day:02} {:02}:{:02}:{:02}{frac} +0000 UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_time_like_go() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 120_000_000);
        assert_eq!(go_now(t), "2023-11-14 22:13:20.12 +0000 UTC");
        assert_eq!(go_now(UNIX_EPOCH), "1970-01-01 00:00:00 +0000 UTC");
    }

    #[test]
    fn canonical_names() {
        assert_eq!(canonical_header("x-y-z"), "X-Y-Z");
        assert_eq!(canonical_header("aUTHorization"), "Authorization");
    }

    #[test]
    fn redirect_shape() {
        let r = redirect(&Method::GET, "/static");
        assert_eq!(r.status(), 301);
        assert_eq!(r.headers()["location"], "/static");
        assert_eq!(redirect(&Method::POST, "/a").status(), 307);
    }
}
