//! Security namespaces at request time. Each one is a guard built once from its options and
//! added only when configured: service guards run before routing (in KrakenD's middleware
//! order: bot detector, then CORS), endpoint guards before the endpoint handler.

pub mod bot_detector;
pub mod cors;

use http::header::HeaderMap;
use http::Method;

use crate::body::Body;
use crate::config::namespaces::security::{EndpointSecurityOptions, ServiceSecurityOptions};
use bot_detector::BotDetector;
use cors::{Cors, CorsOutcome};

/// Service-level guards.
#[derive(Default)]
pub struct ServiceGuards {
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
    /// Builds the configured guards.
    pub fn new(o: &ServiceSecurityOptions) -> Self {
        Self {
            bot_detector: o.bot_detector.as_ref().map(BotDetector::new),
            cors: o.cors.as_ref().map(Cors::new),
        }
    }

    /// Runs the guards over one request.
    pub fn admit(&self, method: &Method, headers: &HeaderMap) -> Admission {
        if let Some(b) = &self.bot_detector {
            if let Some(r) = b.refusal(headers) {
                return Admission::Answer(r);
            }
        }
        match &self.cors {
            None => Admission::Route(None),
            Some(c) => match c.inspect(method, headers) {
                CorsOutcome::Answered(r) => Admission::Answer(r),
                CorsOutcome::Continue(extra) => Admission::Route(Some(extra)),
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
}

impl EndpointGuards {
    /// Builds the configured guards.
    pub fn new(o: &EndpointSecurityOptions) -> Self {
        Self {
            bot_detector: o.bot_detector.as_ref().map(BotDetector::new),
        }
    }

    /// The answer to send instead when the request must not reach the endpoint.
    pub fn refusal(&self, headers: &HeaderMap) -> Option<http::Response<Body>> {
        self.bot_detector.as_ref().and_then(|b| b.refusal(headers))
    }
}
