//! Security namespaces at request time. Each one is a guard built once from its options and
//! added only when configured: service guards run before routing (in KrakenD's middleware
//! order: bot detector, then CORS), endpoint guards before the endpoint handler.

pub mod bot_detector;
pub mod cors;
pub mod es512;
pub mod http_secure;
pub mod jwk;
pub mod jwt;
pub mod signer;

use http::header::HeaderMap;
use http::Method;

use crate::backend::client::HttpClient;
use crate::body::Body;
use crate::config::namespaces::security::{EndpointSecurityOptions, ServiceSecurityOptions};
use bot_detector::BotDetector;
use cors::{Cors, CorsOutcome};
use http_secure::HttpSecure;
use jwt::JwtValidator;

/// Service-level guards.
#[derive(Default)]
pub struct ServiceGuards {
    http: Option<HttpSecure>,
    bot_detector: Option<BotDetector>,
    cors: Option<Cors>,
}

/// What to do after the service guards looked at a request.
pub enum Admission {
    /// Answer this right away.
    Answer(http::Response<Body>),
    /// Route the request, then add these headers to the response (if any).
    Route(Option<HeaderMap>),
}

impl ServiceGuards {
    /// Builds the configured guards; `tls` tells whether the listener serves HTTPS.
    pub fn new(o: &ServiceSecurityOptions, tls: bool) -> Self {
        Self {
            http: o.http.as_ref().map(|h| HttpSecure::new(h, tls)),
            bot_detector: o.bot_detector.as_ref().map(BotDetector::new),
            cors: o.cors.as_ref().map(Cors::new),
        }
    }

    /// Runs the guards over one request, in KrakenD's order: HTTP security, bot detector,
    /// CORS. The HTTP security headers go on every answer but its own refusals.
    pub fn admit(&self, method: &Method, uri: &http::Uri, headers: &HeaderMap) -> Admission {
        let mut extra = None;
        if let Some(s) = &self.http {
            if let Some(r) = s.refusal(method, uri, headers) {
                return Admission::Answer(r);
            }
            extra = Some(s.headers_for(uri, headers));
        }
        let with_extra = |mut r: http::Response<Body>, extra: Option<HeaderMap>| {
            Self::finish(extra, &mut r);
            Admission::Answer(r)
        };
        if let Some(b) = &self.bot_detector {
            if let Some(r) = b.refusal(headers) {
                return with_extra(r, extra);
            }
        }
        // No header to add is no extra at all: the answer then goes out as it is.
        let route = |extra: Option<HeaderMap>| Admission::Route(extra.filter(|e| !e.is_empty()));
        match &self.cors {
            None => route(extra),
            Some(c) => match c.inspect(method, headers) {
                CorsOutcome::Answered(r) => with_extra(r, extra),
                CorsOutcome::Continue(cors) => {
                    let mut all = extra.unwrap_or_default();
                    for (name, value) in cors {
                        if let Some(name) = name {
                            all.append(name, value);
                        }
                    }
                    route(Some(all))
                }
            },
        }
    }

    /// Finishes a routed response.
    pub fn finish(extra: Option<HeaderMap>, response: &mut http::Response<Body>) {
        if let Some(extra) = extra {
            Cors::decorate(extra, response);
        }
    }
}

/// Endpoint-level guards.
#[derive(Default)]
pub struct EndpointGuards {
    bot_detector: Option<BotDetector>,
    jwt: Option<JwtValidator>,
}

impl EndpointGuards {
    /// Builds the configured guards (`None` when there is none).
    pub fn build(o: &EndpointSecurityOptions, client: &HttpClient) -> Result<Option<Self>, String> {
        if !o.any() {
            return Ok(None);
        }
        Ok(Some(Self {
            bot_detector: o.bot_detector.as_ref().map(BotDetector::new),
            jwt: o
                .jwt_validator
                .as_ref()
                .map(|j| JwtValidator::new(j, client))
                .transpose()?,
        }))
    }

    /// Checks the request; on success returns the parameters the guards add (`JWT.*`),
    /// on refusal the answer to send instead.
    pub async fn admit(
        &self,
        headers: &mut HeaderMap,
    ) -> Result<Vec<(String, String)>, Box<http::Response<Body>>> {
        if let Some(r) = self.bot_detector.as_ref().and_then(|b| b.refusal(headers)) {
            return Err(Box::new(r));
        }
        match &self.jwt {
            None => Ok(Vec::new()),
            Some(j) => j.admit(headers).await.map_err(|refusal| {
                tracing::debug!(%refusal, "JWT validation refused the request");
                Box::new(refusal.response())
            }),
        }
    }
}
