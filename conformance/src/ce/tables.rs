//! Data tables: the cases skipped on purpose and the known gaps (cases that
//! need a namespace another issue brings), plus the name globs they use.

/// A case skipped unconditionally, with the reason printed on its `SKIP` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkipRule {
    /// Case-name glob (`*`, `?`).
    pub pattern: String,
    /// Why it cannot run here.
    pub reason: String,
}

/// A case allowed to fail, with the namespace that will make it pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedFailure {
    /// Case-name glob (`*`, `?`).
    pub pattern: String,
    /// The missing feature, e.g. `security/cors`.
    pub namespace: String,
    /// A sentence for the report.
    pub reason: String,
}

/// Cases that cannot run in this environment, whatever the gateway does.
const SKIPS: &[(&str, &str)] = &[
    ("rss", "needs the internet (live feeds from showrss.info)"),
    (
        "lua_1",
        "needs the upstream Lua scripts (tests/fixtures/lua), which are not available",
    ),
    (
        "lua_2",
        "needs the upstream Lua scripts (tests/fixtures/lua), which are not available",
    ),
    (
        "sequential_3",
        "needs the upstream Lua scripts (tests/fixtures/lua), which are not available",
    ),
    (
        "sequential_4",
        "needs the upstream Lua scripts (tests/fixtures/lua), which are not available",
    ),
];

/// Upstream cases that need a namespace the gateway does not implement yet.
/// The first matching row wins, so specific names come before globs.
const KNOWN_GAPS: &[(&str, &str, &str)] = &[];

/// The built-in skip table.
pub fn default_skips() -> Vec<SkipRule> {
    SKIPS
        .iter()
        .map(|(pattern, reason)| SkipRule {
            pattern: pattern.to_string(),
            reason: reason.to_string(),
        })
        .collect()
}

/// The built-in known-gaps table (used with `--known-gaps`).
pub fn known_gaps() -> Vec<ExpectedFailure> {
    KNOWN_GAPS
        .iter()
        .map(|(pattern, namespace, reason)| ExpectedFailure {
            pattern: pattern.to_string(),
            namespace: namespace.to_string(),
            reason: reason.to_string(),
        })
        .collect()
}

/// Parses `NAMESPACE=GLOB[,GLOB...]` (the CLI form of an expected-failures list).
pub fn parse_expected_failures(spec: &str) -> Result<Vec<ExpectedFailure>, String> {
    let (namespace, globs) = spec
        .split_once('=')
        .ok_or_else(|| format!("expected NAMESPACE=GLOB[,GLOB...], got {spec:?}"))?;
    if namespace.is_empty() || globs.is_empty() {
        return Err(format!("expected NAMESPACE=GLOB[,GLOB...], got {spec:?}"));
    }
    Ok(globs
        .split(',')
        .filter(|g| !g.is_empty())
        .map(|glob| ExpectedFailure {
            pattern: glob.to_string(),
            namespace: namespace.to_string(),
            reason: "listed as an expected failure".to_string(),
        })
        .collect())
}

/// Shell-style match of a whole name: `*` any run of characters, `?` one character.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some(('?', rest)) => !n.is_empty() && go(rest, &n[1..]),
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names() {
        assert!(glob_match("jwt_*", "jwt_1"));
        assert!(glob_match("cel-?", "cel-7"));
        assert!(!glob_match("cel-?", "cel-10"));
        assert!(glob_match("*", "anything"));
        assert!(!glob_match("jwt", "jwt_1"));
        assert!(glob_match("a*b*c", "axxbyyc"));
    }

    #[test]
    fn implemented_namespaces_are_not_known_gaps() {
        let gaps = known_gaps();
        for name in [
            "jwt_1",
            "jwt_4",
            "router_401_1",
            "cel-1",
            "cel-7",
            "cors_5",
            "botdetector_1",
            "jsonschema_1",
            "static",
        ] {
            assert!(
                !gaps.iter().any(|g| glob_match(&g.pattern, name)),
                "{name} is listed as a known gap"
            );
        }
    }

    #[test]
    fn skips_cover_internet_and_lua() {
        let skips = default_skips();
        for name in ["rss", "lua_1", "lua_2", "sequential_3", "sequential_4"] {
            assert!(skips.iter().any(|s| glob_match(&s.pattern, name)), "{name}");
        }
        assert!(!skips.iter().any(|s| glob_match(&s.pattern, "sequential_1")));
    }

    #[test]
    fn parses_cli_expected_failures() {
        let list = parse_expected_failures("container=static,xml_*").unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].namespace, "container");
        assert_eq!(list[1].pattern, "xml_*");
        assert!(parse_expected_failures("nope").is_err());
        assert!(parse_expected_failures("=x").is_err());
    }
}
