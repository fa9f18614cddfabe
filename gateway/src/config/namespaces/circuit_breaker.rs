//! `extra_config["qos/circuit-breaker"]` (backend level): `interval` and `timeout` in
//! seconds, `max_errors`, `name`, `log_status_change`.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::walk::{join, Walker};

/// The namespace key.
pub const NAMESPACE: &str = "qos/circuit-breaker";

/// Breaker options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircuitBreakerOptions {
    /// Closed state: consecutive-error counts reset every `interval`.
    pub interval: Duration,
    /// How long the breaker stays open before trying again (half-open).
    pub timeout: Duration,
    /// The breaker opens when consecutive errors exceed this.
    pub max_errors: u32,
    /// Name in logs.
    pub name: String,
    /// Log each state change.
    pub log_status_change: bool,
}

/// Reads the namespace object at `path`.
pub fn parse(v: &Map<String, Value>, path: &str, w: &mut Walker) -> Option<CircuitBreakerOptions> {
    w.note_unknown_keys(
        v,
        path,
        &[
            "interval",
            "timeout",
            "max_errors",
            "name",
            "log_status_change",
        ],
    );
    let secs = |w: &mut Walker, k: &str| w.unsigned(v, k, path, u32::MAX as u64);
    let interval = secs(w, "interval");
    let timeout = secs(w, "timeout");
    let max_errors = w.unsigned(v, "max_errors", path, u32::MAX as u64);
    for (k, val) in [("interval", interval), ("timeout", timeout)] {
        if val.is_none() && !v.contains_key(k) {
            w.fail(join(path, k), "is required (seconds)");
        }
    }
    if max_errors.is_none() && !v.contains_key("max_errors") {
        w.fail(join(path, "max_errors"), "is required");
    }
    Some(CircuitBreakerOptions {
        interval: Duration::from_secs(interval?),
        timeout: Duration::from_secs(timeout?),
        max_errors: max_errors? as u32,
        name: w.string(v, "name", path).unwrap_or_default(),
        log_status_change: w.boolean(v, "log_status_change", path).unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_and_locates_errors() {
        let mut w = Walker::default();
        let v = json!({"interval": 60, "timeout": 10, "max_errors": 1, "name": "cb", "log_status_change": true});
        let o = parse(v.as_object().unwrap(), "b", &mut w).unwrap();
        assert_eq!(o.interval, Duration::from_secs(60));
        assert_eq!(o.timeout, Duration::from_secs(10));
        assert_eq!(
            (o.max_errors, o.name.as_str(), o.log_status_change),
            (1, "cb", true)
        );
        assert!(w.problems.is_empty());
        let v = json!({"interval": "60s", "timeout": 10});
        assert!(parse(v.as_object().unwrap(), "b", &mut w).is_none());
        let msgs: Vec<String> = w.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            msgs,
            [
                "b.interval: must be an integer, found a string",
                "b.max_errors: is required"
            ]
        );
    }
}
