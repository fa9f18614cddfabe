//! Path helpers: Go's `path.Clean` as gin's `CleanPath` uses it, and percent-decoding.

/// Cleans `..`, `.` and `//` out of a path, keeping a trailing slash.
pub fn clean(p: &str) -> String {
    if p.is_empty() {
        return "/".into();
    }
    let trailing = p.ends_with('/') && p.len() > 1;
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut s = format!("/{}", out.join("/"));
    if trailing && s != "/" {
        s.push('/');
    }
    s
}

/// Go's `URL.Path`: the percent-decoded path (invalid escapes kept as they are).
pub fn decode(raw: &str) -> String {
    if !raw.contains('%') {
        return raw.to_owned();
    }
    percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_go() {
        assert_eq!(decode("/plain/path"), "/plain/path");
        assert_eq!(decode("/a%20b/%2F"), "/a b//");
        assert_eq!(decode("/bad%zz/%"), "/bad%zz/%");
        assert_eq!(decode("/caf%C3%A9"), "/café");
    }

    #[test]
    fn cleans_like_go() {
        assert_eq!(clean("/a//b/../c/"), "/a/c/");
        assert_eq!(clean("/../"), "/");
        assert_eq!(clean("/a/./b"), "/a/b");
    }
}
