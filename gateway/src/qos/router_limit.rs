//! `qos/ratelimit/router`: checked by the endpoint handler before anything else. The
//! endpoint-wide bucket refuses with `503 Service Unavailable`, a client's bucket with
//! `429 Too Many Requests`, both with an empty body as KrakenD does. A request without a
//! client key (no such header or parameter) is refused with `429` too, as KrakenD does.

use std::sync::Arc;

use http::StatusCode;

use crate::config::namespaces::ratelimit::{ClientKey, RouterRateLimit};
use crate::endpoint::ClientRequest;
use crate::qos::token_bucket::{
    ClientBuckets, Clock, SystemClock, TokenBucket, DEFAULT_MAX_CLIENTS,
};

/// The limits of one endpoint.
pub struct RouterLimiter {
    endpoint: Option<TokenBucket>,
    clients: Option<(ClientBuckets, ClientKey)>,
}

impl RouterLimiter {
    /// Limiter for `cfg` on the system clock.
    pub fn new(cfg: &RouterRateLimit) -> Self {
        Self::with_clock(cfg, Arc::new(SystemClock::default()))
    }

    /// Limiter for `cfg` on `clock`.
    pub fn with_clock(cfg: &RouterRateLimit, clock: Arc<dyn Clock>) -> Self {
        Self {
            endpoint: cfg.endpoint.map(|s| TokenBucket::new(s, clock.clone())),
            clients: cfg.client.map(|s| {
                (
                    ClientBuckets::new(s, DEFAULT_MAX_CLIENTS, clock.clone()),
                    cfg.key.clone(),
                )
            }),
        }
    }

    /// `Some(status)` when the request must be refused.
    pub fn check(&self, c: &ClientRequest) -> Option<StatusCode> {
        if let Some(b) = &self.endpoint {
            if !b.allow() {
                return Some(StatusCode::SERVICE_UNAVAILABLE);
            }
        }
        if let Some((buckets, key)) = &self.clients {
            let id = match key {
                ClientKey::Ip(None) => c.client_ip.as_str(),
                ClientKey::Ip(Some(h)) => ip_from_header(c, h).unwrap_or(&c.client_ip),
                ClientKey::Header(h) => c
                    .headers
                    .get(h.as_str())
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(""),
                ClientKey::Param(p) => c
                    .params
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(p))
                    .map(|(_, v)| v.as_str())
                    .unwrap_or(""),
            };
            if id.is_empty() || !buckets.allow(id) {
                return Some(StatusCode::TOO_MANY_REQUESTS);
            }
        }
        None
    }
}

/// The first address of header `h` without a port, when it is an IP (KrakenD's reading).
fn ip_from_header<'a>(c: &'a ClientRequest, h: &str) -> Option<&'a str> {
    let first = c.headers.get(h)?.to_str().ok()?.split(',').next()?.trim();
    let ip = first.split(':').next()?;
    ip.parse::<std::net::IpAddr>().is_ok().then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::namespaces::ratelimit::BucketSpec;
    use crate::qos::token_bucket::ManualClock;
    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue, Method};
    use std::time::Duration;

    fn client(ip: &str, key: Option<&str>) -> ClientRequest {
        let mut headers = HeaderMap::new();
        if let Some(k) = key {
            headers.insert("x-key", HeaderValue::from_str(k).unwrap());
        }
        ClientRequest {
            method: Method::GET,
            path: "/".into(),
            query: None,
            headers,
            body: Bytes::new(),
            has_body: false,
            params: vec![("id".into(), "7".into())],
            client_ip: ip.into(),
            host: "h".into(),
        }
    }

    fn spec(rate: f64, capacity: u64) -> Option<BucketSpec> {
        Some(BucketSpec {
            rate,
            capacity,
            every: Duration::from_secs(1),
        })
    }

    #[test]
    fn endpoint_limit_is_503_then_refills() {
        let clock = Arc::new(ManualClock::default());
        let cfg = RouterRateLimit {
            endpoint: spec(1.0, 2),
            client: None,
            key: ClientKey::Ip(None),
        };
        let l = RouterLimiter::with_clock(&cfg, clock.clone());
        assert_eq!(l.check(&client("a", None)), None);
        assert_eq!(l.check(&client("b", None)), None);
        assert_eq!(
            l.check(&client("c", None)),
            Some(StatusCode::SERVICE_UNAVAILABLE)
        );
        clock.advance(Duration::from_secs(1));
        assert_eq!(l.check(&client("c", None)), None);
    }

    #[test]
    fn client_limit_is_429_by_ip_header_or_param() {
        let clock = Arc::new(ManualClock::default());
        for key in [ClientKey::Ip(None), ClientKey::Header("X-Key".into())] {
            let cfg = RouterRateLimit {
                endpoint: None,
                client: spec(1.0, 1),
                key,
            };
            let l = RouterLimiter::with_clock(&cfg, clock.clone());
            assert_eq!(l.check(&client("1.1.1.1", Some("k1"))), None);
            assert_eq!(
                l.check(&client("1.1.1.1", Some("k1"))),
                Some(StatusCode::TOO_MANY_REQUESTS)
            );
            assert_eq!(
                l.check(&client("2.2.2.2", Some("k2"))),
                None,
                "another client"
            );
            clock.advance(Duration::from_secs(1));
            assert_eq!(l.check(&client("1.1.1.1", Some("k1"))), None, "refilled");
        }
        let cfg = RouterRateLimit {
            endpoint: None,
            client: spec(1.0, 1),
            key: ClientKey::Param("Id".into()),
        };
        let l = RouterLimiter::with_clock(&cfg, clock);
        assert_eq!(l.check(&client("a", None)), None);
        assert_eq!(
            l.check(&client("b", None)),
            Some(StatusCode::TOO_MANY_REQUESTS),
            "same id"
        );
    }

    #[test]
    fn a_request_without_client_key_is_429() {
        let cfg = RouterRateLimit {
            endpoint: None,
            client: spec(100.0, 100),
            key: ClientKey::Header("X-Key".into()),
        };
        let l = RouterLimiter::new(&cfg);
        assert_eq!(
            l.check(&client("1.1.1.1", None)),
            Some(StatusCode::TOO_MANY_REQUESTS)
        );
        assert_eq!(l.check(&client("1.1.1.1", Some("k"))), None);
    }

    #[test]
    fn ip_strategy_with_key_reads_the_address_from_that_header() {
        let clock = Arc::new(ManualClock::default());
        let cfg = RouterRateLimit {
            endpoint: None,
            client: spec(1.0, 1),
            key: ClientKey::Ip(Some("X-Key".into())),
        };
        let l = RouterLimiter::with_clock(&cfg, clock);
        // Two sockets, one forwarded client (port and later hops ignored): one bucket.
        assert_eq!(
            l.check(&client("10.0.0.1", Some("9.9.9.9:4000, 10.0.0.1"))),
            None
        );
        assert_eq!(
            l.check(&client("10.0.0.2", Some("9.9.9.9"))),
            Some(StatusCode::TOO_MANY_REQUESTS)
        );
        // Not an address: the socket's IP is the client.
        assert_eq!(l.check(&client("10.0.0.3", Some("not-an-ip"))), None);
        assert_eq!(
            l.check(&client("10.0.0.3", None)),
            Some(StatusCode::TOO_MANY_REQUESTS)
        );
    }
}
