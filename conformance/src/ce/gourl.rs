//! The pieces of Go's `net/url` and `net/http` URL handling the mock backend
//! reproduces: percent-decoding, `url.ParseQuery`, `path.Clean` as ServeMux
//! uses it, path escaping for `Location`, and `http.Redirect`'s HTML body.

use std::collections::BTreeMap;

/// Percent-decodes `s`. `plus_is_space` selects query-component mode (`+` is a
/// space), otherwise path mode. `None` when an escape is malformed, as Go's
/// `url.unescape` reports an error.
pub fn unescape(s: &str, plus_is_space: bool) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = hex_value(*bytes.get(i + 1)?)?;
                let lo = hex_value(*bytes.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    Some(out)
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Go's `url.ParseQuery` as `r.URL.Query()` uses it (errors silently skip pairs):
/// pairs split on `&`, pairs containing `;` or with an empty key part skipped,
/// keys and values query-unescaped, values collected in order.
pub fn parse_query(raw: &str) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in raw.split('&') {
        if pair.is_empty() || pair.contains(';') {
            continue;
        }
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (Some(key), Some(value)) = (unescape(key, true), unescape(value, true)) else {
            continue;
        };
        map.entry(String::from_utf8_lossy(&key).into_owned())
            .or_default()
            .push(String::from_utf8_lossy(&value).into_owned());
    }
    map
}

/// Go's `path.Clean`: lexical clean-up of `.`/`..` and repeated slashes.
pub fn path_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".to_string();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for segment in p.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// ServeMux's `cleanPath`: `path.Clean` with a leading `/` and the trailing
/// slash preserved.
pub fn mux_clean_path(p: &str) -> String {
    if p.is_empty() {
        return "/".to_string();
    }
    let p = if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    };
    let mut cleaned = path_clean(&p);
    if p.ends_with('/') && cleaned != "/" {
        cleaned.push('/');
    }
    cleaned
}

/// Escapes a decoded path as Go's `url.URL.EscapedPath` does (mode `encodePath`).
pub fn escape_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `url.URL{Path: path, RawQuery: query}.String()` for an absolute path.
pub fn path_and_query(path: &str, raw_query: Option<&str>) -> String {
    let mut out = escape_path(path);
    if let Some(q) = raw_query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// What `http.Redirect` does to a scheme-less target starting with `/`:
/// `path.Clean` of the path part (trailing slash kept), query re-attached.
pub fn redirect_target(url: &str) -> String {
    if !url.starts_with('/') {
        return url.to_string();
    }
    let (path, query) = match url.find('?') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    };
    let mut cleaned = path_clean(path);
    if path.ends_with('/') && !cleaned.ends_with('/') {
        cleaned.push('/');
    }
    format!("{cleaned}{query}")
}

/// Go's `htmlEscape` as used by `http.Redirect`.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// Go's `http.StatusText` (the names differ from the `http` crate for a few codes).
pub fn status_text(code: u16) -> &'static str {
    match code {
        413 => "Request Entity Too Large",
        414 => "Request URI Too Long",
        416 => "Requested Range Not Satisfiable",
        _ => hyper::StatusCode::from_u16(code)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or(""),
    }
}

/// The body `http.Redirect` writes for a GET: the anchor line ending in
/// `.\n`, printed with `fmt.Fprintln` (one more newline).
pub fn redirect_html(location: &str, code: u16) -> String {
    format!(
        "<a href=\"{}\">{}</a>.\n\n",
        html_escape(location),
        status_text(code)
    )
}

/// Go's `strconv.Quote` for the ASCII-printable strings a query carries;
/// other characters are escaped as `\xNN` / `\uNNNN` like Go.
pub fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let code = c as u32;
                if code < 0x80 {
                    out.push_str(&format!("\\x{code:02x}"));
                } else {
                    out.push_str(&format!("\\u{code:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_query_like_go() {
        let q = parse_query("a=1&b=2&b=3&c&d=x+y%21&bad=%zz&semi;colon=1&&=empty");
        assert_eq!(q["a"], ["1"]);
        assert_eq!(q["b"], ["2", "3"]);
        assert_eq!(q["c"], [""]);
        assert_eq!(q["d"], ["x y!"]);
        assert_eq!(q[""], ["empty"]);
        assert!(!q.contains_key("bad"));
        assert!(!q.contains_key("semi;colon"));
        assert!(parse_query("").is_empty());
    }

    #[test]
    fn unescapes_paths_without_plus() {
        assert_eq!(unescape("/a+b%20c", false).unwrap(), b"/a+b c");
        assert!(unescape("/a%2", false).is_none());
    }

    #[test]
    fn cleans_paths_like_servemux() {
        assert_eq!(mux_clean_path("/a//b/./c/../"), "/a/b/");
        assert_eq!(mux_clean_path("/a/.."), "/");
        assert_eq!(mux_clean_path(""), "/");
        assert_eq!(mux_clean_path("/../x"), "/x");
        assert_eq!(mux_clean_path("/param_forwarding/"), "/param_forwarding/");
    }

    #[test]
    fn escapes_paths_like_go() {
        assert_eq!(escape_path("/a b/é"), "/a%20b/%C3%A9");
        assert_eq!(path_and_query("/x/", Some("a=1&b")), "/x/?a=1&b");
    }

    #[test]
    fn writes_redirect_body_like_go() {
        assert_eq!(
            redirect_html("/param_forwarding/?status=301&a=1", 301),
            "<a href=\"/param_forwarding/?status=301&amp;a=1\">Moved Permanently</a>.\n\n"
        );
        assert_eq!(status_text(307), "Temporary Redirect");
        assert_eq!(status_text(308), "Permanent Redirect");
    }

    #[test]
    fn quotes_like_strconv() {
        assert_eq!(go_quote("abc"), "\"abc\"");
        assert_eq!(go_quote("a\"b\u{1}"), "\"a\\\"b\\x01\"");
    }
}
