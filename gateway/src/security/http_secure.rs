//! `security/http` at request time (the `unrolled/secure` behaviour KrakenD uses): refuses
//! unknown hosts, redirects plain http to https, and adds HSTS and browser security headers.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Uri};

use crate::body::{self, Body};
use crate::config::namespaces::http_secure::HttpSecureOptions;

/// The prepared policy.
pub struct HttpSecure {
    o: HttpSecureOptions,
    /// Whether the listener itself serves TLS.
    tls: bool,
    headers: HeaderMap,
    sts: Option<HeaderValue>,
}

impl HttpSecure {
    /// Prepares `o`; `tls` tells whether the gateway serves HTTPS itself.
    pub fn new(o: &HttpSecureOptions, tls: bool) -> Self {
        let mut headers = HeaderMap::new();
        let mut set = |name: HeaderName, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.insert(name, v);
            }
        };
        if let Some(v) = &o.custom_frame_options_value {
            set(header::X_FRAME_OPTIONS, v);
        } else if o.frame_deny {
            set(header::X_FRAME_OPTIONS, "DENY");
        }
        if o.content_type_nosniff {
            set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        }
        if o.browser_xss_filter {
            set(header::X_XSS_PROTECTION, "1; mode=block");
        }
        if let Some(v) = &o.content_security_policy {
            set(header::CONTENT_SECURITY_POLICY, v);
        }
        if let Some(v) = &o.referrer_policy {
            set(header::REFERRER_POLICY, v);
        }
        let sts = (o.sts_seconds > 0).then(|| {
            let mut v = format!("max-age={}", o.sts_seconds);
            if o.sts_include_subdomains {
                v.push_str("; includeSubDomains");
            }
            HeaderValue::from_str(&v).expect("ascii")
        });
        Self {
            o: o.clone(),
            tls,
            headers,
            sts,
        }
    }

    fn host<'a>(&self, uri: &'a Uri, h: &'a HeaderMap) -> &'a str {
        for name in &self.o.host_proxy_headers {
            if let Some(v) = h.get(name.as_str()).and_then(|v| v.to_str().ok()) {
                if !v.is_empty() {
                    return v;
                }
            }
        }
        h.get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()))
            .unwrap_or("")
    }

    fn is_ssl(&self, uri: &Uri, h: &HeaderMap) -> bool {
        self.tls
            || uri.scheme_str() == Some("https")
            || self
                .o
                .ssl_proxy_headers
                .iter()
                .any(|(k, v)| h.get(k.as_str()).is_some_and(|x| x == v.as_str()))
    }

    /// The answer replacing the request (bad host, https redirect), if any.
    pub fn refusal(
        &self,
        method: &Method,
        uri: &Uri,
        h: &HeaderMap,
    ) -> Option<http::Response<Body>> {
        if self.o.is_development {
            return None;
        }
        let host = self.host(uri, h);
        if !self.o.allowed_hosts.is_empty() && !self.o.allowed_hosts.iter().any(|a| a == host) {
            let mut r = http::Response::new(body::full("Bad Host\n"));
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            r.headers_mut().insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            return Some(r);
        }
        if self.o.ssl_redirect && !self.is_ssl(uri, h) {
            let mut target = self
                .o
                .ssl_host
                .clone()
                .unwrap_or_else(|| host.split(':').next().unwrap_or(host).to_string());
            if let Some(port) = &self.o.ssl_port {
                target = format!("{target}:{port}");
            } else if self.o.ssl_host.is_none() {
                target = host.to_string();
            }
            let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let location = format!("https://{target}{pq}");
            let body = if method == Method::GET || method == Method::HEAD {
                format!("<a href=\"{location}\">Moved Permanently</a>.\n\n")
            } else {
                String::new()
            };
            let mut r = http::Response::new(body::full(body.clone()));
            *r.status_mut() = StatusCode::MOVED_PERMANENTLY;
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            if !body.is_empty() {
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                );
            }
            return Some(r);
        }
        None
    }

    /// The security headers for the response to this request.
    pub fn headers_for(&self, uri: &Uri, h: &HeaderMap) -> HeaderMap {
        let mut out = self.headers.clone();
        if let Some(sts) = &self.sts {
            if !self.o.is_development && self.is_ssl(uri, h) {
                out.insert(header::STRICT_TRANSPORT_SECURITY, sts.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::namespaces::http_secure;
    use crate::config::walk::Walker;
    use http_body_util::BodyExt;

    fn policy(json: &str, tls: bool) -> HttpSecure {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let mut w = Walker::default();
        let o = http_secure::parse(v.as_object().unwrap(), "h", &mut w);
        assert!(w.problems.is_empty());
        HttpSecure::new(&o, tls)
    }

    /// The policy in front of a fake handler answering 200.
    async fn serve(p: &HttpSecure, host: &str, extra: &[(&str, &str)]) -> (u16, HeaderMap, String) {
        let uri: Uri = "/a?b=1".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        for (k, v) in extra {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let mut r = match p.refusal(&Method::GET, &uri, &h) {
            Some(r) => r,
            None => {
                let mut r = http::Response::new(body::full("ok"));
                r.headers_mut().extend(p.headers_for(&uri, &h));
                r
            }
        };
        let status = r.status().as_u16();
        let headers = std::mem::take(r.headers_mut());
        let body = r.into_body().collect().await.unwrap().to_bytes();
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn unknown_host_is_refused() {
        let p = policy(r#"{"allowed_hosts":["api.example.com"]}"#, false);
        let (s, h, b) = serve(&p, "evil.example.com", &[]).await;
        assert_eq!((s, b.as_str()), (500, "Bad Host\n"));
        assert_eq!(h["content-type"], "text/plain; charset=utf-8");
        assert_eq!(serve(&p, "api.example.com", &[]).await.0, 200);
        let dev = policy(
            r#"{"allowed_hosts":["api.example.com"],"is_development":true}"#,
            false,
        );
        assert_eq!(serve(&dev, "evil.example.com", &[]).await.0, 200);
    }

    #[tokio::test]
    async fn plain_http_is_redirected_and_hsts_only_on_https() {
        let p = policy(
            r#"{"ssl_redirect":true,"ssl_host":"secure.example.com","ssl_port":"8443",
                "ssl_proxy_headers":{"X-Forwarded-Proto":"https"},"sts_seconds":31536000,
                "sts_include_subdomains":true}"#,
            false,
        );
        let (s, h, b) = serve(&p, "api.example.com", &[]).await;
        assert_eq!(s, 301);
        assert_eq!(h["location"], "https://secure.example.com:8443/a?b=1");
        assert!(b.contains("Moved Permanently"));
        assert!(h.get("strict-transport-security").is_none());
        let (s, h, _) = serve(&p, "api.example.com", &[("x-forwarded-proto", "https")]).await;
        assert_eq!(s, 200);
        assert_eq!(
            h["strict-transport-security"],
            "max-age=31536000; includeSubDomains"
        );
        let tls = policy(r#"{"ssl_redirect":true,"sts_seconds":60}"#, true);
        let (s, h, _) = serve(&tls, "x", &[]).await;
        assert_eq!(
            (s, &h["strict-transport-security"]),
            (200, &HeaderValue::from_static("max-age=60"))
        );
    }

    #[tokio::test]
    async fn browser_headers_are_added() {
        let p = policy(
            r#"{"frame_deny":true,"content_type_nosniff":true,"browser_xss_filter":true,
                "content_security_policy":"default-src 'self'","referrer_policy":"no-referrer"}"#,
            false,
        );
        let (_, h, _) = serve(&p, "x", &[]).await;
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-xss-protection"], "1; mode=block");
        assert_eq!(h["content-security-policy"], "default-src 'self'");
        assert_eq!(h["referrer-policy"], "no-referrer");
        let custom = policy(
            r#"{"frame_deny":true,"custom_frame_options_value":"SAMEORIGIN"}"#,
            false,
        );
        assert_eq!(
            serve(&custom, "x", &[]).await.1["x-frame-options"],
            "SAMEORIGIN"
        );
        assert!(serve(&policy("{}", false), "x", &[])
            .await
            .1
            .get("x-frame-options")
            .is_none());
    }
}
