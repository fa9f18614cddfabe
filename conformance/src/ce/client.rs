//! An HTTP/1.1 client that puts on the wire exactly what Go's
//! `http.DefaultClient` sends for a spec request (`MOCK_BACKEND.md` §2.1),
//! follows redirects with Go's rules, and decompresses gzip as Go's transport.
//!
//! Built on hyper's connection-level client so that no header is added behind
//! our back (reqwest and curl add `Accept: */*`, which `param_forwarding_2`
//! would see).

use std::io::Read;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use url::Url;

use super::spec::SpecRequest;
use super::{goheader, gojson};

/// Go's `User-Agent` when the spec sets none.
pub const GO_USER_AGENT: &str = "Go-http-client/1.1";
/// Go's redirect limit.
pub const MAX_REDIRECTS: usize = 10;

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Follow redirects (upstream `-client_not_follow_redirects` negates this).
    pub follow_redirects: bool,
    /// Bound on one whole exchange (Go's default client has none; a runner must).
    pub timeout: Duration,
    /// Connect to this `host:port` instead of the URL's when the URL's
    /// authority is in `redirected_authorities`; URL and `Host` stay unchanged.
    pub connect_to: Option<String>,
    /// Authorities (`host:port`) that `connect_to` replaces.
    pub redirected_authorities: Vec<String>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            follow_redirects: true,
            timeout: Duration::from_secs(30),
            connect_to: None,
            redirected_authorities: vec!["localhost:8080".into(), "127.0.0.1:8080".into()],
        }
    }
}

/// A response as Go's client hands it to the test.
#[derive(Debug, Clone)]
pub struct GoResponse {
    /// Status code.
    pub status: u16,
    /// Headers (without `Transfer-Encoding`; without `Content-Encoding` and
    /// `Content-Length` when transparently gunzipped).
    pub headers: HeaderMap,
    /// Body bytes, decompressed when the transport asked for gzip.
    pub body: Bytes,
    /// The URL of the last request (after redirects).
    pub final_url: String,
}

/// Client failures, worded like Go's where it matters.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The spec URL or a `Location` does not parse.
    #[error("invalid URL {url:?}: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A header name or value is not valid HTTP.
    #[error("invalid header {0:?}")]
    Header(String),
    /// TCP connect failed.
    #[error("{method} {url:?}: dial tcp {addr}: {source}")]
    Connect {
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// Where we dialled.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The exchange failed after connecting.
    #[error("{method} {url:?}: {reason}")]
    Exchange {
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// More than ten redirects.
    #[error("{method} {url:?}: stopped after 10 redirects")]
    TooManyRedirects {
        /// Method.
        method: String,
        /// URL.
        url: String,
    },
    /// The whole exchange took longer than the bound.
    #[error("no complete response within {0:?}")]
    Timeout(Duration),
}

/// The request body Go's runner sends for a spec `body`: a JSON string raw,
/// any other value `json.Marshal`led (compact, sorted keys, numbers as float64).
pub fn spec_body(body: Option<&Value>) -> Bytes {
    match body {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(raw)) => Bytes::from(raw.clone()),
        Some(other) => Bytes::from(gojson::marshal_any(other)),
    }
}

/// One request of a redirect chain.
#[derive(Debug, Clone)]
struct Hop {
    method: Method,
    url: Url,
    host_override: Option<String>,
    headers: Vec<(String, String)>,
    body: Bytes,
}

/// Sends a spec request like Go's default client, following redirects.
pub async fn send(
    request: &SpecRequest,
    options: &ClientOptions,
) -> Result<GoResponse, ClientError> {
    match tokio::time::timeout(options.timeout, send_unbounded(request, options)).await {
        Ok(result) => result,
        Err(_) => Err(ClientError::Timeout(options.timeout)),
    }
}

async fn send_unbounded(
    request: &SpecRequest,
    options: &ClientOptions,
) -> Result<GoResponse, ClientError> {
    let method_text = if request.method.is_empty() {
        "GET"
    } else {
        request.method.as_str()
    };
    let method = Method::from_bytes(method_text.as_bytes())
        .map_err(|_| ClientError::Header(format!("method {method_text}")))?;
    let url = Url::parse(&request.url).map_err(|e| ClientError::Url {
        url: request.url.clone(),
        reason: e.to_string(),
    })?;
    let mut host_override = None;
    let mut headers = Vec::new();
    for (name, value) in &request.header {
        let name = goheader::canonical(name);
        if name == "Host" {
            host_override = Some(value.clone());
        } else {
            headers.push((name, value.clone()));
        }
    }
    let initial = Hop {
        method,
        url,
        host_override,
        headers,
        body: spec_body(request.body.as_ref()),
    };

    let mut hop = initial.clone();
    let mut redirects = 0;
    loop {
        let response = exchange(&hop, options).await?;
        let next = if options.follow_redirects {
            next_hop(&initial, &hop, &response)?
        } else {
            None
        };
        let Some(next) = next else {
            return Ok(response);
        };
        redirects += 1;
        if redirects > MAX_REDIRECTS {
            return Err(ClientError::TooManyRedirects {
                method: next.method.to_string(),
                url: next.url.to_string(),
            });
        }
        hop = next;
    }
}

/// Go's `redirectBehavior` plus the header copying of `Client.do`.
fn next_hop(initial: &Hop, last: &Hop, response: &GoResponse) -> Result<Option<Hop>, ClientError> {
    let (method, keep_body) = match response.status {
        301..=303 => {
            let m = if last.method == Method::GET || last.method == Method::HEAD {
                last.method.clone()
            } else {
                Method::GET
            };
            (m, false)
        }
        307 | 308 => (last.method.clone(), true),
        _ => return Ok(None),
    };
    let Some(location) = response
        .headers
        .get("location")
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    let url = last.url.join(location).map_err(|e| ClientError::Url {
        url: location.to_string(),
        reason: e.to_string(),
    })?;

    // A custom Host survives only a relative redirect.
    let host_override = match &initial.host_override {
        Some(host) if Url::parse(location).is_err() => Some(host.clone()),
        _ => None,
    };
    let same_domain = is_domain_or_subdomain(
        url.host_str().unwrap_or(""),
        initial.url.host_str().unwrap_or(""),
    );
    let mut headers: Vec<(String, String)> = initial
        .headers
        .iter()
        .filter(|(name, _)| {
            same_domain
                || !matches!(
                    name.as_str(),
                    "Authorization" | "Www-Authenticate" | "Cookie" | "Cookie2"
                )
        })
        .filter(|(name, _)| name != "Referer")
        .cloned()
        .collect();
    let explicit_referer = initial
        .headers
        .iter()
        .find(|(n, _)| n == "Referer")
        .map(|(_, v)| v.clone());
    if !(last.url.scheme() == "https" && url.scheme() == "http") {
        let referer = explicit_referer.unwrap_or_else(|| {
            let mut r = last.url.clone();
            let _ = r.set_username("");
            let _ = r.set_password(None);
            r.to_string()
        });
        headers.push(("Referer".into(), referer));
    }
    let body = if keep_body {
        last.body.clone()
    } else {
        Bytes::new()
    };
    Ok(Some(Hop {
        method,
        url,
        host_override,
        headers,
        body,
    }))
}

/// Go's `isDomainOrSubdomain(sub, parent)`.
fn is_domain_or_subdomain(sub: &str, parent: &str) -> bool {
    sub == parent || (sub.ends_with(parent) && sub[..sub.len() - parent.len()].ends_with('.'))
}

/// One request/response exchange on a fresh connection.
async fn exchange(hop: &Hop, options: &ClientOptions) -> Result<GoResponse, ClientError> {
    let exchange_error = |reason: String| ClientError::Exchange {
        method: hop.method.to_string(),
        url: hop.url.to_string(),
        reason,
    };
    let host = hop.url.host_str().ok_or_else(|| ClientError::Url {
        url: hop.url.to_string(),
        reason: "no host".into(),
    })?;
    let port = hop.url.port_or_known_default().unwrap_or(80);
    let authority = match hop.url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let dial = match &options.connect_to {
        Some(target)
            if options
                .redirected_authorities
                .iter()
                .any(|a| *a == format!("{host}:{port}")) =>
        {
            target.clone()
        }
        _ => format!(
            "{}:{port}",
            host.trim_start_matches('[').trim_end_matches(']')
        ),
    };
    if hop.url.scheme() != "http" {
        return Err(exchange_error(format!(
            "unsupported protocol scheme {:?}",
            hop.url.scheme()
        )));
    }
    let stream = tokio::net::TcpStream::connect(&dial)
        .await
        .map_err(|source| ClientError::Connect {
            method: hop.method.to_string(),
            url: hop.url.to_string(),
            addr: dial.clone(),
            source,
        })?;
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .title_case_headers(true)
        .handshake::<_, Full<Bytes>>(TokioIo::new(stream))
        .await
        .map_err(|e| exchange_error(e.to_string()))?;
    tokio::spawn(connection);

    let (request, asked_gzip) = build_request(hop, &authority)?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| exchange_error(e.to_string()))?;
    let status = response.status().as_u16();
    let mut headers = response.headers().clone();
    headers.remove(hyper::header::TRANSFER_ENCODING);
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| exchange_error(format!("reading body: {e}")))?
        .to_bytes();
    let gzipped = headers
        .get(hyper::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let body = if asked_gzip && gzipped {
        headers.remove(hyper::header::CONTENT_ENCODING);
        headers.remove(hyper::header::CONTENT_LENGTH);
        gunzip(&body).map_err(|e| exchange_error(format!("gzip: {e}")))?
    } else {
        body
    };
    Ok(GoResponse {
        status,
        headers,
        body,
        final_url: hop.url.to_string(),
    })
}

/// Builds the wire request in Go's header order: `Host`, `User-Agent`,
/// `Content-Length`, the other headers sorted, then the transport's
/// `Accept-Encoding: gzip`. Returns whether gzip was asked for by the transport.
fn build_request(hop: &Hop, authority: &str) -> Result<(Request<Full<Bytes>>, bool), ClientError> {
    let mut path = hop.url.path().to_string();
    if let Some(query) = hop.url.query() {
        path.push('?');
        path.push_str(query);
    }
    let mut builder = Request::builder().method(hop.method.clone()).uri(path);
    let wire = builder.headers_mut().expect("fresh builder has headers");
    let mut put = |name: &str, value: &str| -> Result<(), ClientError> {
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ClientError::Header(name.to_string()))?;
        let v = HeaderValue::from_str(value)
            .map_err(|_| ClientError::Header(format!("{name}: {value}")))?;
        wire.append(n, v);
        Ok(())
    };
    put("Host", hop.host_override.as_deref().unwrap_or(authority))?;
    let user_agent = hop
        .headers
        .iter()
        .find(|(n, _)| n == "User-Agent")
        .map(|(_, v)| v.as_str());
    match user_agent {
        Some("") => {}
        Some(ua) => put("User-Agent", ua)?,
        None => put("User-Agent", GO_USER_AGENT)?,
    }
    let sends_length =
        !hop.body.is_empty() || matches!(hop.method.as_str(), "POST" | "PUT" | "PATCH");
    if sends_length {
        put("Content-Length", &hop.body.len().to_string())?;
    }
    let mut others: Vec<&(String, String)> = hop
        .headers
        .iter()
        .filter(|(n, _)| {
            !matches!(
                n.as_str(),
                "Host" | "User-Agent" | "Content-Length" | "Transfer-Encoding" | "Trailer"
            )
        })
        .collect();
    others.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, value) in others {
        put(name, value)?;
    }
    let has = |name: &str| hop.headers.iter().any(|(n, v)| n == name && !v.is_empty());
    let asked_gzip = !has("Accept-Encoding") && !has("Range") && hop.method != Method::HEAD;
    if asked_gzip {
        put("Accept-Encoding", "gzip")?;
    }
    let request = builder
        .body(Full::new(hop.body.clone()))
        .map_err(|e| ClientError::Header(e.to_string()))?;
    Ok((request, asked_gzip))
}

/// Decompresses a gzip body.
pub fn gunzip(data: &[u8]) -> std::io::Result<Bytes> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(data).read_to_end(&mut out)?;
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Hop {
        Hop {
            method: Method::from_bytes(method.as_bytes()).unwrap(),
            url: Url::parse(url).unwrap(),
            host_override: None,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Bytes::from(body.to_string()),
        }
    }

    fn wire_headers(h: &Hop) -> Vec<(String, String)> {
        let (request, _) = build_request(h, "localhost:8080").unwrap();
        request
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
            .collect()
    }

    #[test]
    fn get_sends_only_go_defaults() {
        let h = hop(
            "GET",
            "http://localhost:8080/a?b=1",
            &[("X-Y-Z", "true"), ("A-B-C", "x")],
            "",
        );
        assert_eq!(
            wire_headers(&h),
            [
                ("host".into(), "localhost:8080".into()),
                ("user-agent".into(), GO_USER_AGENT.into()),
                ("a-b-c".into(), "x".into()),
                ("x-y-z".into(), "true".into()),
                ("accept-encoding".into(), "gzip".into()),
            ]
        );
    }

    #[test]
    fn post_sends_content_length_even_when_empty() {
        let h = hop("POST", "http://localhost:8080/a", &[], "");
        assert!(wire_headers(&h).contains(&("content-length".into(), "0".into())));
        let h = hop("GET", "http://localhost:8080/a", &[], "");
        assert!(!wire_headers(&h).iter().any(|(n, _)| n == "content-length"));
    }

    #[test]
    fn spec_accept_encoding_disables_transport_gzip() {
        let h = hop(
            "GET",
            "http://localhost:8080/a",
            &[("Accept-Encoding", "br")],
            "",
        );
        let (_, asked) = build_request(&h, "localhost:8080").unwrap();
        assert!(!asked);
        assert_eq!(
            wire_headers(&h)
                .iter()
                .filter(|(n, _)| n == "accept-encoding")
                .count(),
            1
        );
    }

    #[test]
    fn json_bodies_are_remarshalled_and_strings_raw() {
        let v: Value = serde_json::from_str(r#"{"z":1,"a":"<x>"}"#).unwrap();
        assert_eq!(
            spec_body(Some(&v)),
            Bytes::from_static(br#"{"a":"\u003cx\u003e","z":1}"#)
        );
        assert_eq!(
            spec_body(Some(&Value::String("{ raw }".into()))),
            Bytes::from_static(b"{ raw }")
        );
        assert!(spec_body(None).is_empty());
    }

    fn response(status: u16, location: Option<&str>) -> GoResponse {
        let mut headers = HeaderMap::new();
        if let Some(l) = location {
            headers.insert("location", HeaderValue::from_str(l).unwrap());
        }
        GoResponse {
            status,
            headers,
            body: Bytes::new(),
            final_url: String::new(),
        }
    }

    #[test]
    fn redirect_method_rules_follow_go() {
        let post = hop(
            "POST",
            "http://localhost:8080/a",
            &[("Authorization", "x")],
            "{}",
        );
        let next = next_hop(&post, &post, &response(302, Some("/b?c=1")))
            .unwrap()
            .unwrap();
        assert_eq!(next.method, Method::GET);
        assert!(next.body.is_empty());
        assert_eq!(next.url.as_str(), "http://localhost:8080/b?c=1");
        assert!(next
            .headers
            .contains(&("Referer".into(), "http://localhost:8080/a".into())));
        assert!(next.headers.contains(&("Authorization".into(), "x".into())));

        let next = next_hop(&post, &post, &response(307, Some("/b")))
            .unwrap()
            .unwrap();
        assert_eq!(next.method, Method::POST);
        assert_eq!(next.body, Bytes::from_static(b"{}"));

        assert!(next_hop(&post, &post, &response(307, None))
            .unwrap()
            .is_none());
        assert!(next_hop(&post, &post, &response(200, Some("/x")))
            .unwrap()
            .is_none());
    }

    #[test]
    fn sensitive_headers_dropped_across_domains() {
        let get = hop(
            "GET",
            "http://localhost:8080/a",
            &[("Authorization", "x"), ("X-A", "1")],
            "",
        );
        let next = next_hop(&get, &get, &response(301, Some("http://example.test/b")))
            .unwrap()
            .unwrap();
        assert!(!next.headers.iter().any(|(n, _)| n == "Authorization"));
        assert!(next.headers.iter().any(|(n, _)| n == "X-A"));
    }

    #[test]
    fn gunzips() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"hello").unwrap();
        assert_eq!(
            gunzip(&enc.finish().unwrap()).unwrap(),
            Bytes::from_static(b"hello")
        );
        assert!(gunzip(b"not gzip").is_err());
    }
}
