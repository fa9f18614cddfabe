//! Endpoint route patterns and backend URL templates, split once at start-up.

/// One segment of an endpoint route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteSegment {
    /// Matched byte for byte (the router may redirect case-insensitive matches).
    Literal(String),
    /// `{name}`: one path segment, exposed to backends under `name`.
    Param(String),
    /// A trailing `*`: the rest of the path.
    Wildcard,
}

/// A parsed endpoint path such as `/users/{id}/*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePattern {
    /// The segments after the leading `/` (an empty trailing literal means a trailing slash).
    pub segments: Vec<RouteSegment>,
}

impl RoutePattern {
    /// Parses an endpoint path; errors are human-readable reasons.
    pub fn parse(path: &str) -> Result<Self, String> {
        let Some(rest) = path.strip_prefix('/') else {
            return Err(format!("endpoint {path:?} must start with '/'"));
        };
        if path.contains(['?', '#']) {
            return Err(format!(
                "endpoint {path:?} must not contain a query or fragment"
            ));
        }
        let raw: Vec<&str> = rest.split('/').collect();
        let mut segments = Vec::with_capacity(raw.len());
        for (i, seg) in raw.iter().enumerate() {
            let last = i + 1 == raw.len();
            if *seg == "*" {
                if !last {
                    return Err(format!("wildcard '*' must be the last segment of {path:?}"));
                }
                segments.push(RouteSegment::Wildcard);
            } else if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                if name.is_empty() || name.contains(['{', '}', '/']) {
                    return Err(format!("invalid parameter {seg:?} in {path:?}"));
                }
                segments.push(RouteSegment::Param(name.to_string()));
            } else if seg.contains(['{', '}']) {
                return Err(format!(
                    "parameter {seg:?} in {path:?} must be a whole segment, like '{{name}}'"
                ));
            } else if seg.starts_with(':') || seg.contains('*') {
                return Err(format!(
                    "segment {seg:?} in {path:?} uses router syntax; write parameters as '{{name}}' and the wildcard as a final '/*'"
                ));
            } else {
                if seg.is_empty() && !last {
                    return Err(format!("empty segment ('//') in {path:?}"));
                }
                segments.push(RouteSegment::Literal((*seg).to_string()));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for s in &segments {
            if let RouteSegment::Param(n) = s {
                if !seen.insert(normalize_param(n)) {
                    return Err(format!("parameter {{{n}}} appears twice in {path:?}"));
                }
            }
        }
        Ok(Self { segments })
    }

    /// Parameter names, normalised as KrakenD exposes them (first letter upper-cased).
    pub fn param_names(&self) -> impl Iterator<Item = String> + '_ {
        self.segments.iter().filter_map(|s| match s {
            RouteSegment::Param(n) => Some(normalize_param(n)),
            _ => None,
        })
    }
}

/// KrakenD exposes `{foo}` as `Foo`: the first letter is upper-cased on both sides.
pub fn normalize_param(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A piece of a backend URL template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlPart {
    /// Copied as is.
    Literal(String),
    /// Replaced by the request parameter of that (normalised) name.
    Param(String),
}

/// A backend `url_pattern` such as `/users/{id}?fields={resp0_fields}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTemplate {
    /// Literal and parameter parts in order.
    pub parts: Vec<UrlPart>,
}

impl UrlTemplate {
    /// Parses a url_pattern; a missing leading `/` is added as KrakenD does.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        if pattern.starts_with("http://") || pattern.starts_with("https://") {
            return Err(format!(
                "url_pattern {pattern:?} must be a path; put the scheme and host in 'host'"
            ));
        }
        let owned;
        let pattern = if pattern.starts_with('/') {
            pattern
        } else {
            owned = format!("/{pattern}");
            &owned
        };
        let mut parts = Vec::new();
        let mut rest = pattern;
        while let Some(open) = rest.find('{') {
            let Some(close_rel) = rest[open..].find('}') else {
                return Err(format!("unclosed '{{' in url_pattern {pattern:?}"));
            };
            let name = &rest[open + 1..open + close_rel];
            if name.is_empty() || name.contains('{') {
                return Err(format!("invalid parameter in url_pattern {pattern:?}"));
            }
            if open > 0 {
                parts.push(UrlPart::Literal(rest[..open].to_string()));
            }
            parts.push(UrlPart::Param(normalize_param(name)));
            rest = &rest[open + close_rel + 1..];
        }
        if rest.contains('}') {
            return Err(format!("unmatched '}}' in url_pattern {pattern:?}"));
        }
        if !rest.is_empty() {
            parts.push(UrlPart::Literal(rest.to_string()));
        }
        Ok(Self { parts })
    }

    /// Names of the parameters the template uses.
    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            UrlPart::Param(n) => Some(n.as_str()),
            UrlPart::Literal(_) => None,
        })
    }

    /// Fills the template; unknown parameters are left as KrakenD leaves them: empty.
    pub fn render<'a>(&self, lookup: impl Fn(&str) -> Option<&'a str>) -> String {
        let mut out = String::with_capacity(self.rendered_len(&lookup));
        self.render_into(&mut out, lookup);
        out
    }

    /// The length of [`UrlTemplate::render`]'s result, to size a buffer for it.
    pub fn rendered_len<'a>(&self, lookup: impl Fn(&str) -> Option<&'a str>) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                UrlPart::Literal(l) => l.len(),
                UrlPart::Param(n) => lookup(n).map_or(0, str::len),
            })
            .sum()
    }

    /// [`UrlTemplate::render`], appended to `out`.
    pub fn render_into<'a>(&self, out: &mut String, lookup: impl Fn(&str) -> Option<&'a str>) {
        for p in &self.parts {
            match p {
                UrlPart::Literal(l) => out.push_str(l),
                UrlPart::Param(n) => out.push_str(lookup(n).unwrap_or_default()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_with_params_and_wildcard() {
        let p = RoutePattern::parse("/a/{id}/*").unwrap();
        assert_eq!(
            p.segments,
            vec![
                RouteSegment::Literal("a".into()),
                RouteSegment::Param("id".into()),
                RouteSegment::Wildcard
            ]
        );
        assert_eq!(p.param_names().collect::<Vec<_>>(), vec!["Id"]);
    }

    #[test]
    fn route_errors() {
        for bad in [
            "a",
            "/a/*/b",
            "/a/{}",
            "/a/x{id}",
            "/a/:id",
            "/a//b",
            "/a/{x}/{x}",
            "/a?b",
        ] {
            assert!(RoutePattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn template_renders_params() {
        let t = UrlTemplate::parse("p/{bar}?foo={foo}").unwrap();
        let s = t.render(|n| match n {
            "Bar" => Some("B"),
            "Foo" => Some("F"),
            _ => None,
        });
        assert_eq!(s, "/p/B?foo=F");
        assert_eq!(s.capacity(), s.len(), "sized in advance");
        assert!(UrlTemplate::parse("/a/{b").is_err());
        assert!(UrlTemplate::parse("http://x/a").is_err());
    }
}
