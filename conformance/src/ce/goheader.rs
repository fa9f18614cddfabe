//! Header-name canonicalisation as Go's `textproto.CanonicalMIMEHeaderKey`.

/// Returns `name` in Go's canonical form: the first letter and every letter
/// after a `-` upper-cased, all others lower-cased (`autHoriZatiOn` ->
/// `Authorization`, `x-y-z` -> `X-Y-Z`). Like Go, a name holding a byte that is
/// not a valid token character (a space, for example) is returned unchanged.
pub fn canonical(name: &str) -> String {
    if !name.bytes().all(is_token_byte) {
        return name.to_string();
    }
    let mut upper = true;
    name.bytes()
        .map(|b| {
            let c = if upper {
                b.to_ascii_uppercase()
            } else {
                b.to_ascii_lowercase()
            };
            upper = b == b'-';
            c as char
        })
        .collect()
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn canonicalises_like_go() {
        assert_eq!(canonical("autHoriZatiOn"), "Authorization");
        assert_eq!(canonical("x-y-Z"), "X-Y-Z");
        assert_eq!(canonical("content-type"), "Content-Type");
        assert_eq!(canonical("x-forwarded-for"), "X-Forwarded-For");
        assert_eq!(canonical("WWW-AUTHENTICATE"), "Www-Authenticate");
    }

    #[test]
    fn leaves_invalid_names_untouched() {
        assert_eq!(canonical("bad name"), "bad name");
        assert_eq!(canonical("a\u{e9}"), "a\u{e9}");
    }
}
