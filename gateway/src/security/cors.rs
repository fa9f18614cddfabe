//! `security/cors` at request time: answers preflights and decorates actual responses, as
//! KrakenD's CORS middleware (rs/cors) does in front of the router.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};

use crate::body::{self, Body};
use crate::config::namespaces::cors::CorsOptions;

const REQUEST_METHOD: HeaderName = HeaderName::from_static("access-control-request-method");
const REQUEST_HEADERS: HeaderName = HeaderName::from_static("access-control-request-headers");
const REQUEST_PRIVATE_NETWORK: HeaderName =
    HeaderName::from_static("access-control-request-private-network");
const ALLOW_PRIVATE_NETWORK: HeaderName =
    HeaderName::from_static("access-control-allow-private-network");
const PREFLIGHT_VARY: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

/// An allowed-origin rule.
#[derive(Debug, Clone)]
enum OriginRule {
    Exact(String),
    Wildcard { prefix: String, suffix: String },
}

impl OriginRule {
    fn matches(&self, origin: &str) -> bool {
        match self {
            Self::Exact(o) => o == origin,
            Self::Wildcard { prefix, suffix } => {
                origin.len() >= prefix.len() + suffix.len()
                    && origin.starts_with(prefix.as_str())
                    && origin.ends_with(suffix.as_str())
            }
        }
    }
}

/// What the middleware decided for one request.
pub enum CorsOutcome {
    /// A preflight answered here (the router is not reached).
    Answered(http::Response<Body>),
    /// Continue to the router; then add these headers to its response.
    Continue(HeaderMap),
}

/// The prepared CORS policy.
#[derive(Debug, Clone)]
pub struct Cors {
    any_origin: bool,
    origins: Vec<OriginRule>,
    methods: Vec<String>,
    any_header: bool,
    headers: Vec<String>,
    expose: Option<HeaderValue>,
    credentials: bool,
    private_network: bool,
    max_age: Option<HeaderValue>,
    passthrough: bool,
    success: StatusCode,
}

impl Cors {
    /// Prepares `o` for the request path.
    pub fn new(o: &CorsOptions) -> Self {
        let any_origin = o.allow_origins.iter().any(|x| x == "*");
        let origins = o
            .allow_origins
            .iter()
            .filter(|x| *x != "*")
            .map(|x| match x.split_once('*') {
                Some((p, s)) => OriginRule::Wildcard {
                    prefix: p.into(),
                    suffix: s.into(),
                },
                None => OriginRule::Exact(x.clone()),
            })
            .collect();
        let expose = (!o.expose_headers.is_empty())
            .then(|| HeaderValue::from_str(&o.expose_headers.join(", ")).ok())
            .flatten();
        let max_age = o
            .max_age
            .map(|d| d.as_secs())
            .filter(|s| *s > 0)
            .map(HeaderValue::from);
        Self {
            any_origin,
            origins,
            methods: o.allow_methods.clone(),
            any_header: o.allow_headers.iter().any(|h| h == "*"),
            headers: o.allow_headers.clone(),
            expose,
            credentials: o.allow_credentials,
            private_network: o.allow_private_network,
            max_age,
            passthrough: o.options_passthrough,
            success: StatusCode::from_u16(o.options_success_status)
                .unwrap_or(StatusCode::NO_CONTENT),
        }
    }

    /// Whether `origin` may read responses.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        if self.any_origin {
            return true;
        }
        let origin = origin.to_ascii_lowercase();
        self.origins.iter().any(|r| r.matches(&origin))
    }

    fn method_allowed(&self, method: &str) -> bool {
        // Preflights themselves are always fine.
        method == "OPTIONS" || self.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
    }

    fn headers_allowed(&self, list: &str) -> bool {
        self.any_header
            || list
                .split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .all(|h| self.headers.iter().any(|a| a.eq_ignore_ascii_case(h)))
    }

    fn allow_origin_value(&self, origin: &HeaderValue) -> HeaderValue {
        if self.any_origin {
            HeaderValue::from_static("*")
        } else {
            origin.clone()
        }
    }

    /// Inspects one request before routing.
    pub fn inspect(&self, method: &Method, request: &HeaderMap) -> CorsOutcome {
        if method == Method::OPTIONS && request.contains_key(REQUEST_METHOD) {
            let headers = self.preflight(request);
            if self.passthrough {
                return CorsOutcome::Continue(headers);
            }
            let mut r = http::Response::new(body::empty());
            *r.status_mut() = self.success;
            *r.headers_mut() = headers;
            return CorsOutcome::Answered(r);
        }
        CorsOutcome::Continue(self.actual(method, request))
    }

    /// The headers of a preflight answer (none beyond `Vary` when the request is refused).
    fn preflight(&self, request: &HeaderMap) -> HeaderMap {
        let mut out = HeaderMap::new();
        out.insert(header::VARY, HeaderValue::from_static(PREFLIGHT_VARY));
        let Some(origin) = request.get(header::ORIGIN) else {
            return out;
        };
        if !origin.to_str().is_ok_and(|o| self.origin_allowed(o)) {
            return out;
        }
        let Some(req_method) = request.get(REQUEST_METHOD) else {
            return out;
        };
        if !req_method.to_str().is_ok_and(|m| self.method_allowed(m)) {
            return out;
        }
        let req_headers = request.get(REQUEST_HEADERS);
        if let Some(h) = req_headers {
            if !h.to_str().is_ok_and(|h| self.headers_allowed(h)) {
                return out;
            }
        }
        out.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            self.allow_origin_value(origin),
        );
        out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, req_method.clone());
        if let Some(h) = req_headers.filter(|h| !h.is_empty()) {
            out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, h.clone());
        }
        if self.credentials {
            out.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        if self.private_network
            && request
                .get(REQUEST_PRIVATE_NETWORK)
                .is_some_and(|v| v == "true")
        {
            out.insert(ALLOW_PRIVATE_NETWORK, HeaderValue::from_static("true"));
        }
        if let Some(age) = &self.max_age {
            out.insert(header::ACCESS_CONTROL_MAX_AGE, age.clone());
        }
        out
    }

    /// The headers added to the response of an actual (non-preflight) request.
    fn actual(&self, method: &Method, request: &HeaderMap) -> HeaderMap {
        let mut out = HeaderMap::new();
        out.insert(header::VARY, HeaderValue::from_static("Origin"));
        let Some(origin) = request.get(header::ORIGIN) else {
            return out;
        };
        if !origin.to_str().is_ok_and(|o| self.origin_allowed(o)) {
            return out;
        }
        if !self.method_allowed(method.as_str()) {
            return out;
        }
        out.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            self.allow_origin_value(origin),
        );
        if let Some(e) = &self.expose {
            out.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, e.clone());
        }
        if self.credentials {
            out.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        out
    }

    /// Adds the decided headers to the router's response (`Vary` is appended, not replaced).
    pub fn decorate(extra: HeaderMap, response: &mut http::Response<Body>) {
        let h = response.headers_mut();
        for (name, value) in extra {
            let Some(name) = name else { continue };
            if name == header::VARY {
                h.append(name, value);
            } else {
                h.insert(name, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::namespaces::cors;
    use crate::config::walk::Walker;

    fn policy(json: &str) -> Cors {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let mut w = Walker::default();
        let o = cors::parse(v.as_object().unwrap(), "cors", &mut w);
        assert!(w.problems.is_empty());
        Cors::new(&o)
    }

    /// The CE fixture's policy.
    fn ce() -> Cors {
        policy(
            r#"{"allow_origins":["*"],"allow_methods":["POST","GET"],
                "allow_headers":["Origin","Authorization","Content-Type"],
                "expose_headers":["Content-Length"],"max_age":"12h"}"#,
        )
    }

    use crate::proxy::testing::header_map as headers;

    /// Runs the policy in front of a fake router that answers 200 with `Vary: Accept-Encoding`.
    fn serve(c: &Cors, method: Method, req: &[(&str, &str)]) -> (bool, http::Response<Body>) {
        match c.inspect(&method, &headers(req)) {
            CorsOutcome::Answered(r) => (false, r),
            CorsOutcome::Continue(extra) => {
                let mut r = http::Response::new(body::full("next"));
                r.headers_mut()
                    .insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
                Cors::decorate(extra, &mut r);
                (true, r)
            }
        }
    }

    fn get<'a>(r: &'a http::Response<Body>, name: &str) -> Vec<&'a str> {
        r.headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    #[test]
    fn allowed_preflight_echoes_method_and_headers() {
        let (reached, r) = serve(
            &ce(),
            Method::OPTIONS,
            &[
                ("origin", "http://foo.example"),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "content-type,origin"),
            ],
        );
        assert!(!reached);
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(get(&r, "access-control-allow-origin"), ["*"]);
        assert_eq!(get(&r, "access-control-allow-methods"), ["GET"]);
        assert_eq!(
            get(&r, "access-control-allow-headers"),
            ["content-type,origin"]
        );
        assert_eq!(get(&r, "access-control-max-age"), ["43200"]);
        assert_eq!(get(&r, "vary"), [PREFLIGHT_VARY]);
        assert!(r.headers().get("content-type").is_none());
    }

    #[test]
    fn refused_preflights_answer_204_without_cors_headers() {
        for req in [
            // method not allowed
            vec![
                ("origin", "http://foo.example.tld"),
                ("access-control-request-method", "PUT"),
            ],
            // header not allowed
            vec![
                ("origin", "http://foo.example"),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "X-PINGOTHER"),
            ],
            // no origin
            vec![("access-control-request-method", "GET")],
        ] {
            let (reached, r) = serve(&ce(), Method::OPTIONS, &req);
            assert!(!reached);
            assert_eq!(r.status(), StatusCode::NO_CONTENT);
            assert!(r.headers().get("access-control-allow-origin").is_none());
            assert!(r.headers().get("access-control-allow-methods").is_none());
            assert!(r.headers().get("access-control-allow-headers").is_none());
        }
    }

    #[test]
    fn actual_request_gets_vary_origin_and_exposed_headers() {
        let (reached, r) = serve(&ce(), Method::GET, &[("origin", "http://foo.example.tld")]);
        assert!(reached);
        assert_eq!(get(&r, "vary"), ["Accept-Encoding", "Origin"]);
        assert_eq!(get(&r, "access-control-allow-origin"), ["*"]);
        assert_eq!(get(&r, "access-control-expose-headers"), ["Content-Length"]);
    }

    #[test]
    fn request_without_origin_only_gets_vary() {
        let (reached, r) = serve(&ce(), Method::GET, &[]);
        assert!(reached);
        assert_eq!(get(&r, "vary"), ["Accept-Encoding", "Origin"]);
        assert!(r.headers().get("access-control-allow-origin").is_none());
    }

    #[test]
    fn disallowed_origin_gets_no_cors_headers() {
        let c = policy(
            r#"{"allow_origins":["https://app.example.com","https://*.example.org"],
                "allow_credentials":true}"#,
        );
        let (_, r) = serve(&c, Method::GET, &[("origin", "https://evil.example.net")]);
        assert!(r.headers().get("access-control-allow-origin").is_none());
        assert!(r
            .headers()
            .get("access-control-allow-credentials")
            .is_none());
        let (_, r) = serve(
            &c,
            Method::OPTIONS,
            &[
                ("origin", "https://evil.example.net"),
                ("access-control-request-method", "GET"),
            ],
        );
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert!(r.headers().get("access-control-allow-origin").is_none());
    }

    #[test]
    fn listed_and_wildcard_origins_are_echoed_with_credentials() {
        let c = policy(
            r#"{"allow_origins":["https://app.example.com","https://*.example.org"],
                "allow_credentials":true}"#,
        );
        for origin in ["https://app.example.com", "https://API.example.org"] {
            let (_, r) = serve(&c, Method::GET, &[("origin", origin)]);
            assert_eq!(get(&r, "access-control-allow-origin"), [origin]);
            assert_eq!(get(&r, "access-control-allow-credentials"), ["true"]);
        }
        // The wildcard needs both ends: a bare suffix match is not enough.
        let (_, r) = serve(&c, Method::GET, &[("origin", "http://x.example.org")]);
        assert!(r.headers().get("access-control-allow-origin").is_none());
    }

    #[test]
    fn actual_request_with_disallowed_method_is_not_decorated() {
        let (reached, r) = serve(&ce(), Method::DELETE, &[("origin", "http://a.example")]);
        assert!(reached);
        assert!(r.headers().get("access-control-allow-origin").is_none());
    }

    #[test]
    fn passthrough_and_custom_status() {
        let c = policy(r#"{"options_passthrough":true}"#);
        let (reached, r) = serve(
            &c,
            Method::OPTIONS,
            &[
                ("origin", "http://a"),
                ("access-control-request-method", "GET"),
            ],
        );
        assert!(reached);
        assert_eq!(get(&r, "access-control-allow-origin"), ["*"]);
        let c = policy(r#"{"options_success_status":200}"#);
        let (_, r) = serve(
            &c,
            Method::OPTIONS,
            &[
                ("origin", "http://a"),
                ("access-control-request-method", "GET"),
            ],
        );
        assert_eq!(r.status(), StatusCode::OK);
    }
}
