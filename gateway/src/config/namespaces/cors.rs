//! `extra_config["security/cors"]` (service level): Cross-Origin Resource Sharing options,
//! with the defaults KrakenD's CORS module (rs/cors) applies.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::walk::{join, Walker};

/// The namespace key.
pub const NAMESPACE: &str = "security/cors";

/// CORS options as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsOptions {
    /// `allow_origins` (lower-cased); `*` anywhere allows every origin.
    pub allow_origins: Vec<String>,
    /// `allow_methods` (upper-cased); default `GET`, `POST`, `HEAD`.
    pub allow_methods: Vec<String>,
    /// `allow_headers` (lower-cased, `origin` always added).
    pub allow_headers: Vec<String>,
    /// `expose_headers`, as written.
    pub expose_headers: Vec<String>,
    /// `allow_credentials`.
    pub allow_credentials: bool,
    /// `allow_private_network`.
    pub allow_private_network: bool,
    /// `max_age`, whole seconds are sent.
    pub max_age: Option<Duration>,
    /// `options_passthrough`: preflights continue to the router.
    pub options_passthrough: bool,
    /// `options_success_status` (default 204).
    pub options_success_status: u16,
}

/// Reads the namespace object at `path`.
pub fn parse(v: &Map<String, Value>, path: &str, w: &mut Walker) -> CorsOptions {
    let mut allow_origins: Vec<String> = w
        .strings(v, "allow_origins", path)
        .unwrap_or_default()
        .into_iter()
        .map(|o| o.to_ascii_lowercase())
        .collect();
    if allow_origins.is_empty() {
        allow_origins.push("*".into());
    }
    for (i, o) in allow_origins.iter().enumerate() {
        if o != "*" && o.matches('*').count() > 1 {
            w.fail(
                crate::config::walk::index(&join(path, "allow_origins"), i),
                "at most one '*' wildcard per origin",
            );
        }
    }
    let mut allow_methods: Vec<String> = w
        .strings(v, "allow_methods", path)
        .unwrap_or_default()
        .into_iter()
        .map(|m| m.to_ascii_uppercase())
        .collect();
    if allow_methods.is_empty() {
        allow_methods = vec!["GET".into(), "POST".into(), "HEAD".into()];
    }
    let mut allow_headers: Vec<String> = w
        .strings(v, "allow_headers", path)
        .unwrap_or_default()
        .into_iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    if allow_headers.is_empty() {
        allow_headers = vec![
            "accept".into(),
            "content-type".into(),
            "x-requested-with".into(),
        ];
    }
    if !allow_headers.iter().any(|h| h == "origin") {
        allow_headers.push("origin".into());
    }
    let status = w
        .unsigned(v, "options_success_status", path, 599)
        .unwrap_or(204) as u16;
    CorsOptions {
        allow_origins,
        allow_methods,
        allow_headers,
        expose_headers: w.strings(v, "expose_headers", path).unwrap_or_default(),
        allow_credentials: w.boolean(v, "allow_credentials", path).unwrap_or(false),
        allow_private_network: w.boolean(v, "allow_private_network", path).unwrap_or(false),
        max_age: w.duration(v, "max_age", path),
        options_passthrough: w.boolean(v, "options_passthrough", path).unwrap_or(false),
        options_success_status: status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> (CorsOptions, Vec<String>) {
        let v: Value = serde_json::from_str(json).unwrap();
        let mut w = Walker::default();
        let o = parse(
            v.as_object().unwrap(),
            r#"extra_config["security/cors"]"#,
            &mut w,
        );
        (o, w.problems.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn defaults_follow_rs_cors() {
        let (o, problems) = read("{}");
        assert!(problems.is_empty());
        assert_eq!(o.allow_origins, ["*"]);
        assert_eq!(o.allow_methods, ["GET", "POST", "HEAD"]);
        assert!(o.allow_headers.contains(&"origin".to_string()));
        assert_eq!(o.options_success_status, 204);
        assert_eq!(o.max_age, None);
    }

    #[test]
    fn values_are_normalised() {
        let (o, _) = read(
            r#"{"allow_origins":["HTTP://A.example"],"allow_methods":["get"],
                "allow_headers":["Authorization"],"max_age":"12h"}"#,
        );
        assert_eq!(o.allow_origins, ["http://a.example"]);
        assert_eq!(o.allow_methods, ["GET"]);
        assert_eq!(o.allow_headers, ["authorization", "origin"]);
        assert_eq!(o.max_age, Some(Duration::from_secs(43200)));
    }

    #[test]
    fn bad_values_are_located() {
        let (_, problems) = read(r#"{"allow_origins":["http://*.*.x"],"max_age":"soon"}"#);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains(r#"extra_config["security/cors"].allow_origins[0]"#));
        assert!(problems[1].contains(r#"extra_config["security/cors"].max_age"#));
    }
}
