//! `extra_config["qos/ratelimit/router"]` (endpoint level): token buckets for the whole
//! endpoint (`max_rate`, `capacity`) and per client (`client_max_rate`, `client_capacity`,
//! client told apart by `strategy` `ip`, `header` or `param` with `key`), refilled every `every`.
//! These are KrakenD CE's only strategies; a JWT claim limits per client through
//! `auth/validator`'s `propagate_claims` into a header and `"strategy": "header"`, since the
//! validator runs before the limiter.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::walk::{join, Walker};

/// The namespace key.
pub const ROUTER_NAMESPACE: &str = "qos/ratelimit/router";

/// A bucket's refill rate and size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketSpec {
    /// Tokens added per `every`.
    pub rate: f64,
    /// Maximum tokens (the burst).
    pub capacity: u64,
    /// The period `rate` refers to.
    pub every: Duration,
}

/// How clients are told apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKey {
    /// By client IP (default); with a `key`, the first address of that header when it parses
    /// as an IP (e.g. `X-Forwarded-For`).
    Ip(Option<String>),
    /// By the value of this request header.
    Header(String),
    /// By the value of this path parameter.
    Param(String),
}

/// `qos/ratelimit/router`.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterRateLimit {
    /// Endpoint-wide bucket (`max_rate`); refusals are `503`.
    pub endpoint: Option<BucketSpec>,
    /// Per-client bucket (`client_max_rate`); refusals are `429`.
    pub client: Option<BucketSpec>,
    /// `strategy` + `key`.
    pub key: ClientKey,
}

fn rate(w: &mut Walker, v: &Map<String, Value>, key: &str, path: &str) -> Option<f64> {
    match v.get(key)? {
        Value::Null => None,
        Value::Number(n) => match n.as_f64() {
            Some(r) if r >= 0.0 && r.is_finite() => (r > 0.0).then_some(r),
            _ => {
                w.fail(
                    join(path, key),
                    format!("must be a non-negative number, found {n}"),
                );
                None
            }
        },
        other => {
            w.fail(
                join(path, key),
                format!(
                    "must be a number, found {}",
                    crate::config::walk::type_name(other)
                ),
            );
            None
        }
    }
}

/// Default capacity as KrakenD documents it: the rate, or 1 for smaller fractions.
fn default_capacity(rate: f64) -> u64 {
    (rate as u64).max(1)
}

/// Reads the namespace object at `path`; `None` when no limit is set (0 means no limit).
pub fn parse_router(v: &Map<String, Value>, path: &str, w: &mut Walker) -> Option<RouterRateLimit> {
    w.note_unknown_keys(
        v,
        path,
        &[
            "max_rate",
            "capacity",
            "client_max_rate",
            "client_capacity",
            "every",
            "strategy",
            "key",
            "num_shards",
            "cleanup_period",
            "cleanup_threshold",
        ],
    );
    let every = w
        .duration(v, "every", path)
        .filter(|d| !d.is_zero())
        .unwrap_or(Duration::from_secs(1));
    let spec = |w: &mut Walker, r: &str, c: &str| {
        rate(w, v, r, path).map(|rate| BucketSpec {
            rate,
            capacity: w
                .unsigned(v, c, path, u32::MAX as u64)
                .filter(|c| *c > 0)
                .unwrap_or_else(|| default_capacity(rate)),
            every,
        })
    };
    let endpoint = spec(w, "max_rate", "capacity");
    let client = spec(w, "client_max_rate", "client_capacity");
    let strategy = w
        .string(v, "strategy", path)
        .unwrap_or_else(|| "ip".into())
        .to_ascii_lowercase();
    let key_name = w.string(v, "key", path).unwrap_or_default();
    let key = match strategy.as_str() {
        "" | "ip" => ClientKey::Ip(Some(key_name).filter(|k| !k.is_empty())),
        "header" | "param" if key_name.is_empty() => {
            w.fail(
                join(path, "key"),
                format!("strategy {strategy:?} needs a key"),
            );
            ClientKey::Ip(None)
        }
        "header" => ClientKey::Header(key_name),
        "param" => ClientKey::Param(key_name),
        other => {
            w.fail(
                join(path, "strategy"),
                format!(
                    "unknown strategy {other:?} (ip, header or param; to limit by a JWT \
                     claim, propagate it to a header with auth/validator and use header)"
                ),
            );
            ClientKey::Ip(None)
        }
    };
    (endpoint.is_some() || client.is_some()).then_some(RouterRateLimit {
        endpoint,
        client,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value) -> (Option<RouterRateLimit>, Vec<String>) {
        let mut w = Walker::default();
        let r = parse_router(v.as_object().unwrap(), "p", &mut w);
        (r, w.problems.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn documented_example() {
        let (r, problems) = read(json!({"max_rate": 50, "capacity": 50, "client_max_rate": 5,
            "client_capacity": 5, "every": "10m", "strategy": "ip"}));
        assert!(problems.is_empty());
        let r = r.unwrap();
        assert_eq!(
            r.endpoint,
            Some(BucketSpec {
                rate: 50.0,
                capacity: 50,
                every: Duration::from_secs(600)
            })
        );
        assert_eq!(r.client.unwrap().capacity, 5);
        assert_eq!(r.key, ClientKey::Ip(None));
        let (r, _) = read(json!({"client_max_rate": 1, "strategy": "IP", "key": "X-Real-IP"}));
        assert_eq!(r.unwrap().key, ClientKey::Ip(Some("X-Real-IP".into())));
    }

    #[test]
    fn defaults_and_fractions() {
        let (r, _) = read(json!({"client_max_rate": 0.5, "strategy": "header", "key": "X-Key"}));
        let r = r.unwrap();
        assert!(r.endpoint.is_none());
        assert_eq!(r.client.unwrap().capacity, 1);
        assert_eq!(r.client.unwrap().every, Duration::from_secs(1));
        assert_eq!(r.key, ClientKey::Header("X-Key".into()));
        assert_eq!(read(json!({"max_rate": 0})).0, None);
    }

    #[test]
    fn located_errors() {
        let (_, p) = read(json!({"max_rate": "x", "client_max_rate": 1, "strategy": "jwt"}));
        assert_eq!(
            p,
            [
                "p.max_rate: must be a number, found a string",
                "p.strategy: unknown strategy \"jwt\" (ip, header or param; to limit by a JWT \
                 claim, propagate it to a header with auth/validator and use header)"
            ]
        );
        let (_, p) = read(json!({"client_max_rate": 1, "strategy": "param"}));
        assert_eq!(p, ["p.key: strategy \"param\" needs a key"]);
    }
}

/// The backend-level namespace key.
pub const PROXY_NAMESPACE: &str = "qos/ratelimit/proxy";

/// Reads `qos/ratelimit/proxy` (`max_rate`, `capacity`, `every`); `None` when unlimited.
pub fn parse_proxy(v: &Map<String, Value>, path: &str, w: &mut Walker) -> Option<BucketSpec> {
    w.note_unknown_keys(v, path, &["max_rate", "capacity", "every"]);
    let every = w
        .duration(v, "every", path)
        .filter(|d| !d.is_zero())
        .unwrap_or(Duration::from_secs(1));
    let rate = rate(w, v, "max_rate", path)?;
    Some(BucketSpec {
        rate,
        capacity: w
            .unsigned(v, "capacity", path, u32::MAX as u64)
            .filter(|c| *c > 0)
            .unwrap_or_else(|| default_capacity(rate)),
        every,
    })
}

#[cfg(test)]
mod proxy_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn proxy_limit() {
        let mut w = Walker::default();
        let v = json!({"max_rate": 0.5, "capacity": 2, "every": "1m"});
        let s = parse_proxy(v.as_object().unwrap(), "b", &mut w).unwrap();
        assert_eq!(
            s,
            BucketSpec {
                rate: 0.5,
                capacity: 2,
                every: Duration::from_secs(60)
            }
        );
        let v = json!({"capacity": 2});
        assert!(parse_proxy(v.as_object().unwrap(), "b", &mut w).is_none());
        assert!(w.problems.is_empty());
    }
}
