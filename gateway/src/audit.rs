//! `krakend audit`: security recommendations for a configuration, with severities.
//!
//! Rules look at the typed settings and at the raw tree (for namespaces other modules parse,
//! such as `auth/validator` and `security/cors`), so they work whichever are implemented.

use std::fmt;
use std::str::FromStr;

use serde_json::{json, Value};

use crate::config::ServiceConfig;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Hardening advice.
    Low,
    /// Worth fixing.
    Medium,
    /// Exposes data or access.
    High,
    /// Broken access control.
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Low => "LOW",
            Self::Medium => "MEDIUM",
            Self::High => "HIGH",
            Self::Critical => "CRITICAL",
        })
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_uppercase().as_str() {
            "LOW" => Ok(Self::Low),
            "MEDIUM" => Ok(Self::Medium),
            "HIGH" => Ok(Self::High),
            "CRITICAL" => Ok(Self::Critical),
            other => Err(format!(
                "unknown severity {other:?} (CRITICAL, HIGH, MEDIUM, LOW)"
            )),
        }
    }
}

/// One recommendation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Rule id, e.g. `1.1.1`.
    pub rule: &'static str,
    /// Severity.
    pub severity: Severity,
    /// What was found and why it matters.
    pub message: String,
}

/// KrakenD's default `audit -f` layout.
pub const DEFAULT_FORMAT: &str =
    "{{ range .Recommendations }}{{ .Rule }}\t[{{ colored .Severity }}]   \t{{ .Message }}\n{{ end }}";

/// Runs every rule; `is_ignored_security` tells whether an ignored namespace weakens security.
pub fn run(
    cfg: &ServiceConfig,
    tree: &Value,
    is_ignored_security: impl Fn(&str) -> bool,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut add = |rule, severity, message: String| {
        out.push(Finding {
            rule,
            severity,
            message,
        })
    };
    if cfg.debug_endpoint {
        add(
            "1.1.1",
            Severity::High,
            "debug_endpoint is enabled: /__debug/ logs and answers any request".into(),
        );
    }
    if cfg.echo_endpoint {
        add(
            "1.1.2",
            Severity::High,
            "echo_endpoint is enabled: /__echo/ reflects request headers, including credentials"
                .into(),
        );
    }
    if cfg.tls.is_none() {
        add(
            "2.1.1",
            Severity::Medium,
            "no tls section: traffic is served in clear text (fine behind a TLS-terminating proxy)"
                .into(),
        );
    }
    if !cfg.router.hide_version_header {
        add(
            "2.2.1",
            Severity::Low,
            "router.hide_version_header is off: responses reveal the version in X-Krakend".into(),
        );
    }
    for e in &cfg.endpoints {
        if e.input_headers.iter().any(|h| h == "*") {
            add(
                "3.1.1",
                Severity::Medium,
                format!(
                    "{} {} forwards every client header (input_headers: [\"*\"])",
                    e.method, e.endpoint
                ),
            );
        }
        if e.input_query_strings.iter().any(|q| q == "*") {
            add(
                "3.1.2",
                Severity::Low,
                format!(
                    "{} {} forwards every query string (input_query_strings: [\"*\"])",
                    e.method, e.endpoint
                ),
            );
        }
        for b in &e.backends {
            for h in &b.hosts {
                if h.starts_with("http://") && !is_local(h) {
                    add(
                        "3.2.1",
                        Severity::Low,
                        format!("{} {} calls {h} without TLS", e.method, e.endpoint),
                    );
                }
            }
        }
    }
    let mut namespaces = Vec::new();
    collect_namespaces(tree, "", &mut namespaces);
    for (path, ns, v) in &namespaces {
        match ns.as_str() {
            "auth/validator" => {
                if v.get("alg")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    add(
                        "4.2.1",
                        Severity::High,
                        format!("{path}: JWT validation without an explicit \"alg\""),
                    );
                }
                if v.get("disable_jwk_security").and_then(Value::as_bool) == Some(true) {
                    add(
                        "4.2.2",
                        Severity::Critical,
                        format!("{path}: disable_jwk_security fetches keys without TLS checks"),
                    );
                }
            }
            "security/cors" => {
                let any_origin = v
                    .get("allow_origins")
                    .and_then(Value::as_array)
                    .is_none_or(|o| o.is_empty() || o.iter().any(|x| x == "*"));
                if any_origin && v.get("allow_credentials").and_then(Value::as_bool) == Some(true) {
                    add(
                        "4.3.1",
                        Severity::High,
                        format!("{path}: CORS allows any origin together with credentials"),
                    );
                }
            }
            _ => {}
        }
    }
    let rate_limited = namespaces
        .iter()
        .any(|(_, ns, _)| ns.starts_with("qos/ratelimit"));
    if !rate_limited && !cfg.endpoints.is_empty() {
        add(
            "5.1.1",
            Severity::Medium,
            "no rate limit anywhere (qos/ratelimit/*): a single client can exhaust the backends"
                .into(),
        );
    }
    for (path, ns) in &cfg.ignored_namespaces {
        if is_ignored_security(ns) {
            add(
                "4.1.1",
                Severity::High,
                format!("{path}: security namespace {ns:?} is not implemented by Cephalo and is NOT enforced"),
            );
        }
    }
    out
}

/// Every `extra_config` namespace in the tree: (JSON path, namespace, value).
fn collect_namespaces(v: &Value, path: &str, out: &mut Vec<(String, String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if k == "extra_config" {
                    if let Some(ns) = child.as_object() {
                        for (name, value) in ns {
                            out.push((format!("{p}.{name}"), name.clone(), value.clone()));
                        }
                    }
                }
                collect_namespaces(child, &p, out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                collect_namespaces(child, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn is_local(host: &str) -> bool {
    let rest = host.trim_start_matches("http://");
    rest.starts_with("127.") || rest.starts_with("localhost") || rest.starts_with("[::1]")
}

/// Renders findings with a Go template over `.Recommendations` (`.Rule`, `.Severity`,
/// `.Message`), as `krakend audit -f` does.
pub fn render(findings: &[Finding], format: &str) -> Result<String, crate::fc::TemplateError> {
    let data = json!({
        "Recommendations": findings
            .iter()
            .map(|f| json!({"Rule": f.rule, "Severity": f.severity.to_string(), "Message": f.message}))
            .collect::<Vec<_>>()
    });
    let mut engine = crate::fc::Engine::new(crate::fc::Helpers::default());
    engine.add("format", format)?;
    engine.render("format", &data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audit(tree: Value) -> Vec<Finding> {
        let cfg = crate::config::from_tree(&tree, std::path::Path::new("t.json")).unwrap();
        run(&cfg, &tree, |ns| {
            ns.starts_with("auth/") || ns.starts_with("security/")
        })
    }

    fn rules(f: &[Finding]) -> Vec<&str> {
        f.iter().map(|f| f.rule).collect()
    }

    #[test]
    fn jwt_without_alg_and_cors_wildcard_with_credentials() {
        let f = audit(json!({"version": 3, "endpoints": [{"endpoint": "/a",
            "extra_config": {"auth/validator": {"jwk_url": "https://x/jwk"}},
            "backend": [{"host": ["https://b"], "url_pattern": "/a"}]}],
            "extra_config": {"security/cors": {"allow_origins": ["*"], "allow_credentials": true}}}));
        let r = rules(&f);
        assert!(r.contains(&"4.2.1"), "{f:?}");
        assert!(r.contains(&"4.3.1"), "{f:?}");
        assert!(r.contains(&"5.1.1"), "{f:?}");
    }

    #[test]
    fn explicit_alg_rate_limit_and_tls_silence_those_rules() {
        let f = audit(json!({"version": 3, "endpoints": [{"endpoint": "/a",
            "extra_config": {"auth/validator": {"alg": "RS256", "jwk_url": "https://idp/jwk"}, "qos/ratelimit/router": {"max_rate": 5}},
            "backend": [{"host": ["https://b"], "url_pattern": "/a"}]}],
            "extra_config": {"security/cors": {"allow_origins": ["https://app"], "allow_credentials": true}}}));
        let r = rules(&f);
        for rule in ["4.2.1", "4.3.1", "5.1.1", "3.2.1"] {
            assert!(!r.contains(&rule), "{rule} in {f:?}");
        }
    }

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Critical > Severity::High && Severity::Medium > Severity::Low);
        assert_eq!("high".parse::<Severity>(), Ok(Severity::High));
        assert!("urgent".parse::<Severity>().is_err());
    }

    #[test]
    fn default_format_matches_krakend_layout() {
        let f = vec![Finding {
            rule: "1.1.1",
            severity: Severity::High,
            message: "m".into(),
        }];
        assert_eq!(render(&f, DEFAULT_FORMAT).unwrap(), "1.1.1\t[HIGH]   \tm\n");
    }
}
