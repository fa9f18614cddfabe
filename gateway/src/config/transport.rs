//! The service-level HTTP client settings (KrakenD's "HTTP Global Client settings"): how the
//! gateway dials, pools and talks to every backend. Read once at start-up; Go's
//! `net/http.Transport` semantics, KrakenD's defaults.

use std::time::Duration;

use serde_json::{Map, Value};

use super::duration::parse_go_duration;
use super::walk::Walker;

/// KrakenD's default idle connections kept per backend host (Go's own default is 2).
pub const DEFAULT_MAX_IDLE_PER_HOST: usize = 250;
/// Go's TCP keep-alive probe interval when `dialer_keep_alive` is zero.
pub const DEFAULT_TCP_KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Go's RFC 6555 fallback delay when `dialer_fallback_delay` is zero.
pub const DEFAULT_FALLBACK_DELAY: Duration = Duration::from_millis(300);

/// Backend transport settings; `Default` is what KrakenD uses when nothing is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportSettings {
    /// `max_idle_connections_per_host` (zero: the default, 250).
    pub max_idle_per_host: usize,
    /// `max_idle_connections` across all hosts (zero: no limit); the oldest idle connection
    /// is closed first.
    pub max_idle_total: usize,
    /// `idle_connection_timeout`: an idle pooled connection is closed after it (None: never).
    pub idle_timeout: Option<Duration>,
    /// `disable_keep_alives`: one request per connection, sent with `Connection: close`.
    pub disable_keep_alives: bool,
    /// `disable_compression`: the gateway does not add `Accept-Encoding: gzip` itself.
    pub disable_compression: bool,
    /// `response_header_timeout`: the longest wait for a response head (None: no limit).
    pub response_header_timeout: Option<Duration>,
    /// `dialer_timeout`: the longest TCP connect (None: the OS decides).
    pub dial_timeout: Option<Duration>,
    /// `dialer_keep_alive`: TCP keep-alive probe interval (None: probes off, a negative value).
    pub tcp_keep_alive: Option<Duration>,
    /// `dialer_fallback_delay`: head start of IPv6 over IPv4 when a name has both.
    pub fallback_delay: Duration,
    /// `expect_continue_timeout`. Parsed only: the backend client never sends
    /// `Expect: 100-continue`, so bodies go at once, as Go does with the default zero.
    pub expect_continue_timeout: Option<Duration>,
}

impl Default for TransportSettings {
    fn default() -> Self {
        Self {
            max_idle_per_host: DEFAULT_MAX_IDLE_PER_HOST,
            max_idle_total: 0,
            idle_timeout: None,
            disable_keep_alives: false,
            disable_compression: false,
            response_header_timeout: None,
            dial_timeout: None,
            tcp_keep_alive: Some(DEFAULT_TCP_KEEP_ALIVE),
            fallback_delay: DEFAULT_FALLBACK_DELAY,
            expect_continue_timeout: None,
        }
    }
}

/// A duration where zero means "not set" (Go's zero value).
fn non_zero(d: Option<Duration>) -> Option<Duration> {
    d.filter(|d| !d.is_zero())
}

/// Reads the transport keys of the config root.
pub fn parse(root: &Map<String, Value>, w: &mut Walker) -> TransportSettings {
    let d = TransportSettings::default();
    let count = |w: &mut Walker, key: &str| {
        w.unsigned(root, key, "", u32::MAX as u64)
            .map(|n| n as usize)
            .unwrap_or(0)
    };
    let per_host = count(w, "max_idle_connections_per_host");
    TransportSettings {
        max_idle_per_host: if per_host == 0 {
            d.max_idle_per_host
        } else {
            per_host
        },
        max_idle_total: count(w, "max_idle_connections"),
        idle_timeout: non_zero(w.duration(root, "idle_connection_timeout", "")),
        disable_keep_alives: w.boolean(root, "disable_keep_alives", "").unwrap_or(false),
        disable_compression: w.boolean(root, "disable_compression", "").unwrap_or(false),
        response_header_timeout: non_zero(w.duration(root, "response_header_timeout", "")),
        dial_timeout: non_zero(w.duration(root, "dialer_timeout", "")),
        tcp_keep_alive: keep_alive(root, w),
        fallback_delay: non_zero(w.duration(root, "dialer_fallback_delay", ""))
            .unwrap_or(d.fallback_delay),
        expect_continue_timeout: non_zero(w.duration(root, "expect_continue_timeout", "")),
    }
}

/// `dialer_keep_alive`: zero is Go's 15 s; a negative duration turns probes off.
fn keep_alive(root: &Map<String, Value>, w: &mut Walker) -> Option<Duration> {
    const KEY: &str = "dialer_keep_alive";
    if let Some(Value::String(s)) = root.get(KEY) {
        if let Some(magnitude) = s.trim().strip_prefix('-') {
            return match parse_go_duration(magnitude) {
                Ok(_) => None,
                Err(e) => {
                    w.fail(KEY, e.replace(magnitude, s));
                    Some(DEFAULT_TCP_KEEP_ALIVE)
                }
            };
        }
    }
    Some(non_zero(w.duration(root, KEY, "")).unwrap_or(DEFAULT_TCP_KEEP_ALIVE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> (TransportSettings, Vec<String>) {
        let v: Value = serde_json::from_str(json).unwrap();
        let mut w = Walker::default();
        let t = parse(v.as_object().unwrap(), &mut w);
        (t, w.problems.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn defaults_are_krakends() {
        let (t, problems) = read("{}");
        assert!(problems.is_empty());
        assert_eq!(t, TransportSettings::default());
        assert_eq!(t.max_idle_per_host, 250);
        assert_eq!(t.tcp_keep_alive, Some(Duration::from_secs(15)));
        assert_eq!(t.idle_timeout, None);
        assert_eq!(t.dial_timeout, None);
    }

    #[test]
    fn reads_every_key() {
        let (t, problems) = read(
            r#"{"max_idle_connections_per_host":7,"max_idle_connections":20,
                "idle_connection_timeout":"5s","disable_keep_alives":true,
                "disable_compression":true,"response_header_timeout":"250ms",
                "dialer_timeout":"1s","dialer_keep_alive":"40s","dialer_fallback_delay":"10ms",
                "expect_continue_timeout":"1s"}"#,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(t.max_idle_per_host, 7);
        assert_eq!(t.max_idle_total, 20);
        assert_eq!(t.idle_timeout, Some(Duration::from_secs(5)));
        assert!(t.disable_keep_alives && t.disable_compression);
        assert_eq!(t.response_header_timeout, Some(Duration::from_millis(250)));
        assert_eq!(t.dial_timeout, Some(Duration::from_secs(1)));
        assert_eq!(t.tcp_keep_alive, Some(Duration::from_secs(40)));
        assert_eq!(t.fallback_delay, Duration::from_millis(10));
        assert_eq!(t.expect_continue_timeout, Some(Duration::from_secs(1)));
    }

    #[test]
    fn zero_values_fall_back_like_go() {
        let (t, _) = read(
            r#"{"max_idle_connections_per_host":0,"dialer_keep_alive":"0s",
                "dialer_fallback_delay":"0","response_header_timeout":"0s"}"#,
        );
        assert_eq!(t, TransportSettings::default());
    }

    #[test]
    fn negative_keep_alive_disables_probes() {
        let (t, problems) = read(r#"{"dialer_keep_alive":"-1s"}"#);
        assert!(problems.is_empty());
        assert_eq!(t.tcp_keep_alive, None);
    }

    #[test]
    fn bad_values_are_located() {
        let (_, problems) = read(
            r#"{"response_header_timeout":"soon","max_idle_connections":-3,
                "disable_compression":"yes","dialer_keep_alive":"-x"}"#,
        );
        assert_eq!(problems.len(), 4, "{problems:?}");
        for key in [
            "response_header_timeout",
            "max_idle_connections",
            "disable_compression",
            "dialer_keep_alive",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(key)),
                "{key} not located in {problems:?}"
            );
        }
    }
}
