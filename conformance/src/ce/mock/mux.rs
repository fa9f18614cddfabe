//! The mock's routing table with Go `http.ServeMux` semantics (method- and
//! host-agnostic): exact patterns, subtree patterns ending in `/`, the longest
//! pattern wins, `301` to the subtree root with a trailing slash (query kept),
//! `301` to the cleaned path, and `404` for everything else.

use crate::ce::gourl;

/// What the mock does for one request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/param_forwarding/` subtree: echo the request.
    Echo,
    /// `/xml`: the XML body file.
    Xml,
    /// `/collection/` subtree: an array of ten objects.
    Collection,
    /// `/delayed/` subtree: sleep, then echo.
    Delayed,
    /// `/redirect/` subtree: redirect to `/param_forwarding/` with the `status` query.
    Redirect,
    /// `/jwk/symmetric`: the JWK set file.
    JwkSymmetric,
    /// ServeMux's own `301 Moved Permanently` to this location.
    MovedPermanently(String),
    /// Nothing matched: `404 page not found`.
    NotFound,
}

/// The registered patterns, in registration order.
const PATTERNS: &[(&str, Route)] = &[
    ("/param_forwarding/", Route::Echo),
    ("/xml", Route::Xml),
    ("/collection/", Route::Collection),
    ("/delayed/", Route::Delayed),
    ("/redirect/", Route::Redirect),
    ("/jwk/symmetric", Route::JwkSymmetric),
];

/// Resolves a request: `path` is the decoded URL path, `raw_query` the query
/// string as received (kept verbatim in redirects).
pub fn resolve(path: &str, raw_query: Option<&str>) -> Route {
    let cleaned = gourl::mux_clean_path(path);

    // `/tree` with only `/tree/` registered: redirect to the subtree root.
    let with_slash = format!("{cleaned}/");
    if !cleaned.ends_with('/')
        && exact(&cleaned).is_none()
        && PATTERNS.iter().any(|(p, _)| *p == with_slash)
    {
        return Route::MovedPermanently(gourl::path_and_query(&with_slash, raw_query));
    }

    let Some(route) = longest_match(&cleaned) else {
        return Route::NotFound;
    };
    if cleaned != path {
        return Route::MovedPermanently(gourl::path_and_query(&cleaned, raw_query));
    }
    route
}

fn exact(path: &str) -> Option<Route> {
    PATTERNS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, r)| r.clone())
}

fn longest_match(path: &str) -> Option<Route> {
    PATTERNS
        .iter()
        .filter(|(pattern, _)| {
            if pattern.ends_with('/') {
                path.starts_with(pattern)
            } else {
                path == *pattern
            }
        })
        .max_by_key(|(pattern, _)| pattern.len())
        .map(|(_, route)| route.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtree_patterns_match_below() {
        assert_eq!(resolve("/param_forwarding/", None), Route::Echo);
        assert_eq!(resolve("/param_forwarding/a/b", None), Route::Echo);
        assert_eq!(resolve("/collection/2", None), Route::Collection);
        assert_eq!(resolve("/delayed/x", None), Route::Delayed);
        assert_eq!(resolve("/redirect/", None), Route::Redirect);
    }

    #[test]
    fn exact_patterns_match_only_themselves() {
        assert_eq!(resolve("/xml", None), Route::Xml);
        assert_eq!(resolve("/xml/", None), Route::NotFound);
        assert_eq!(resolve("/xml/a", None), Route::NotFound);
        assert_eq!(resolve("/jwk/symmetric", None), Route::JwkSymmetric);
        assert_eq!(resolve("/jwk/", None), Route::NotFound);
    }

    #[test]
    fn subtree_root_without_slash_redirects_keeping_the_query() {
        assert_eq!(
            resolve("/param_forwarding", Some("a=1&b=2")),
            Route::MovedPermanently("/param_forwarding/?a=1&b=2".into())
        );
        assert_eq!(
            resolve("/redirect", None),
            Route::MovedPermanently("/redirect/".into())
        );
    }

    #[test]
    fn unclean_paths_redirect_to_the_clean_one() {
        assert_eq!(
            resolve("/collection//2", Some("x=1")),
            Route::MovedPermanently("/collection/2?x=1".into())
        );
        assert_eq!(
            resolve("/a/../xml", None),
            Route::MovedPermanently("/xml".into())
        );
    }

    #[test]
    fn unknown_paths_are_not_found() {
        assert_eq!(resolve("/unknown", None), Route::NotFound);
        assert_eq!(resolve("/", None), Route::NotFound);
        assert_eq!(resolve("/param_forwardingX", None), Route::NotFound);
    }
}
