//! `security/bot-detector` at request time: refuses bots with KrakenD's bare 403.

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::sync::Mutex;

use http::header::{self, HeaderMap};
use http::StatusCode;
use lru::LruCache;
use regex::Regex;

use crate::body::{self, Body};
use crate::config::namespaces::bot_detector::BotDetectorOptions;

/// The prepared detector.
pub struct BotDetector {
    allow: HashSet<String>,
    deny: HashSet<String>,
    patterns: Vec<Regex>,
    empty_is_bot: bool,
    /// Bounded verdict cache (present when `cache_size` > 0).
    cache: Option<Mutex<LruCache<String, bool>>>,
}

impl BotDetector {
    /// Prepares `o`.
    pub fn new(o: &BotDetectorOptions) -> Self {
        Self {
            allow: o.allow.iter().cloned().collect(),
            deny: o.deny.iter().cloned().collect(),
            patterns: o.patterns.clone(),
            empty_is_bot: o.empty_user_agent_is_bot,
            cache: NonZeroUsize::new(o.cache_size).map(|n| Mutex::new(LruCache::new(n))),
        }
    }

    /// Whether this `User-Agent` is a bot.
    pub fn is_bot(&self, user_agent: &str) -> bool {
        if user_agent.is_empty() {
            return self.empty_is_bot;
        }
        let Some(cache) = &self.cache else {
            return self.decide(user_agent);
        };
        if let Some(v) = cache.lock().expect("bot cache").get(user_agent) {
            return *v;
        }
        let verdict = self.decide(user_agent);
        cache
            .lock()
            .expect("bot cache")
            .put(user_agent.to_string(), verdict);
        verdict
    }

    fn decide(&self, ua: &str) -> bool {
        if self.allow.contains(ua) {
            return false;
        }
        self.deny.contains(ua) || self.patterns.iter().any(|p| p.is_match(ua))
    }

    /// KrakenD's 403 when the request comes from a bot.
    pub fn refusal(&self, headers: &HeaderMap) -> Option<http::Response<Body>> {
        let ua = headers
            .get(header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        self.is_bot(&ua).then(forbidden)
    }

    /// How many verdicts are cached (for tests and metrics).
    pub fn cached(&self) -> usize {
        self.cache
            .as_ref()
            .map(|c| c.lock().expect("bot cache").len())
            .unwrap_or(0)
    }
}

/// KrakenD's answer to a bot: 403, no body, no content type.
pub fn forbidden() -> http::Response<Body> {
    let mut r = http::Response::new(body::empty());
    *r.status_mut() = StatusCode::FORBIDDEN;
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::namespaces::bot_detector;
    use crate::config::walk::Walker;
    use http::HeaderValue;
    use http_body_util::BodyExt;

    fn detector(json: &str) -> BotDetector {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let mut w = Walker::default();
        let o = bot_detector::parse(v.as_object().unwrap(), "b", &mut w);
        assert!(w.problems.is_empty());
        BotDetector::new(&o)
    }

    const CE: &str = r#"{"deny":["a","b"],"allow":["c","Pingdom.com_bot_version_1.1"],
        "patterns":["(Pingdom.com_bot_version_).*","(facebookexternalhit)/.*"]}"#;

    /// The detector in front of a fake endpoint answering 200 "ok".
    async fn serve(d: &BotDetector, ua: Option<&str>) -> (StatusCode, Vec<u8>, HeaderMap) {
        let mut h = HeaderMap::new();
        if let Some(ua) = ua {
            h.insert(header::USER_AGENT, HeaderValue::from_str(ua).unwrap());
        }
        let r = d
            .refusal(&h)
            .unwrap_or_else(|| http::Response::new(body::full("ok")));
        let status = r.status();
        let headers = r.headers().clone();
        let bytes = r.into_body().collect().await.unwrap().to_bytes().to_vec();
        (status, bytes, headers)
    }

    #[tokio::test]
    async fn denied_and_pattern_bots_get_a_bare_403() {
        let d = detector(CE);
        for ua in [
            "a",
            "b",
            "facebookexternalhit/1.2.3",
            "Pingdom.com_bot_version_2.0",
        ] {
            let (status, body, headers) = serve(&d, Some(ua)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{ua}");
            assert!(body.is_empty());
            assert!(headers.get(header::CONTENT_TYPE).is_none());
        }
    }

    #[tokio::test]
    async fn allowed_and_unknown_agents_pass() {
        let d = detector(CE);
        for ua in ["c", "Pingdom.com_bot_version_1.1", "Mozilla/5.0", "some"] {
            let (status, body, _) = serve(&d, Some(ua)).await;
            assert_eq!(status, StatusCode::OK, "{ua}");
            assert_eq!(body, b"ok");
        }
        // Without the option, an empty agent is no bot.
        assert_eq!(serve(&d, None).await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn empty_user_agent_can_be_a_bot() {
        let d = detector(r#"{"empty_user_agent_is_bot":true}"#);
        assert_eq!(serve(&d, None).await.0, StatusCode::FORBIDDEN);
        assert_eq!(serve(&d, Some("")).await.0, StatusCode::FORBIDDEN);
        assert_eq!(serve(&d, Some("x")).await.0, StatusCode::OK);
    }

    #[test]
    fn cache_is_bounded_and_keeps_verdicts() {
        let d = detector(r#"{"deny":["bad"],"patterns":["^crawl"],"cache_size":2}"#);
        assert!(d.is_bot("bad"));
        assert!(!d.is_bot("good"));
        assert!(d.is_bot("crawler"));
        assert_eq!(d.cached(), 2);
        for i in 0..100 {
            assert!(!d.is_bot(&format!("agent {i}")));
        }
        assert_eq!(d.cached(), 2);
        assert!(d.is_bot("crawler"));
        assert!(detector("{}").cached() == 0);
    }
}
