//! `extra_config["security/http"]` (service level): host allow-list, HTTPS redirect, HSTS and
//! the browser security headers.

use serde_json::{Map, Value};

use crate::config::walk::{join, Walker};

/// The namespace key.
pub const NAMESPACE: &str = "security/http";

/// HTTP security options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpSecureOptions {
    /// `allowed_hosts`: other `Host`s are refused (empty: any).
    pub allowed_hosts: Vec<String>,
    /// `host_proxy_headers`: headers that carry the original host.
    pub host_proxy_headers: Vec<String>,
    /// `ssl_redirect`: plain-http requests are redirected to https.
    pub ssl_redirect: bool,
    /// `ssl_host`: the host of the redirect (default: the request's).
    pub ssl_host: Option<String>,
    /// `ssl_port`: appended to the redirect host when set.
    pub ssl_port: Option<String>,
    /// `ssl_proxy_headers`: header/value pairs that mark a request as https.
    pub ssl_proxy_headers: Vec<(String, String)>,
    /// `sts_seconds` (0: no HSTS).
    pub sts_seconds: u64,
    /// `sts_include_subdomains`.
    pub sts_include_subdomains: bool,
    /// `frame_deny`.
    pub frame_deny: bool,
    /// `custom_frame_options_value`.
    pub custom_frame_options_value: Option<String>,
    /// `content_type_nosniff`.
    pub content_type_nosniff: bool,
    /// `browser_xss_filter`.
    pub browser_xss_filter: bool,
    /// `content_security_policy`.
    pub content_security_policy: Option<String>,
    /// `referrer_policy`.
    pub referrer_policy: Option<String>,
    /// `is_development`: host, redirect and HSTS checks are off.
    pub is_development: bool,
}

/// Reads the namespace object at `path`.
pub fn parse(v: &Map<String, Value>, path: &str, w: &mut Walker) -> HttpSecureOptions {
    let mut ssl_proxy_headers = Vec::new();
    if let Some(m) = w.object(v, "ssl_proxy_headers", path) {
        for (k, val) in m {
            match val.as_str() {
                Some(s) => ssl_proxy_headers.push((k.clone(), s.to_string())),
                None => w.fail(
                    join(&join(path, "ssl_proxy_headers"), k),
                    "must be a string",
                ),
            }
        }
    }
    let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
    HttpSecureOptions {
        allowed_hosts: w.strings(v, "allowed_hosts", path).unwrap_or_default(),
        host_proxy_headers: w.strings(v, "host_proxy_headers", path).unwrap_or_default(),
        ssl_redirect: w.boolean(v, "ssl_redirect", path).unwrap_or(false),
        ssl_host: nonempty(w.string(v, "ssl_host", path)),
        ssl_port: nonempty(w.string(v, "ssl_port", path)),
        ssl_proxy_headers,
        sts_seconds: w
            .unsigned(v, "sts_seconds", path, u32::MAX as u64)
            .unwrap_or(0),
        sts_include_subdomains: w
            .boolean(v, "sts_include_subdomains", path)
            .unwrap_or(false),
        frame_deny: w.boolean(v, "frame_deny", path).unwrap_or(false),
        custom_frame_options_value: nonempty(w.string(v, "custom_frame_options_value", path)),
        content_type_nosniff: w.boolean(v, "content_type_nosniff", path).unwrap_or(false),
        browser_xss_filter: w.boolean(v, "browser_xss_filter", path).unwrap_or(false),
        content_security_policy: nonempty(w.string(v, "content_security_policy", path)),
        referrer_policy: nonempty(w.string(v, "referrer_policy", path)),
        is_development: w.boolean(v, "is_development", path).unwrap_or(false),
    }
}
