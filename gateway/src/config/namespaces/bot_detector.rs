//! `extra_config["security/bot-detector"]` (service or endpoint level): which `User-Agent`s
//! are refused.

use regex::Regex;
use serde_json::{Map, Value};

use crate::config::walk::{index, join, Walker};

/// The namespace key.
pub const NAMESPACE: &str = "security/bot-detector";

/// Bot-detector options; patterns are compiled while the config is read.
#[derive(Debug, Clone)]
pub struct BotDetectorOptions {
    /// `allow`: exact user agents never treated as bots (checked first).
    pub allow: Vec<String>,
    /// `deny`: exact user agents always refused.
    pub deny: Vec<String>,
    /// `patterns`: regular expressions (unanchored, as Go's `MatchString`) that mark bots.
    pub patterns: Vec<Regex>,
    /// `cache_size`: how many verdicts to remember (0: no cache).
    pub cache_size: usize,
    /// `empty_user_agent_is_bot`.
    pub empty_user_agent_is_bot: bool,
}

/// Reads the namespace object at `path`.
pub fn parse(v: &Map<String, Value>, path: &str, w: &mut Walker) -> BotDetectorOptions {
    let mut patterns = Vec::new();
    for (i, p) in w
        .strings(v, "patterns", path)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        match Regex::new(&p) {
            Ok(r) => patterns.push(r),
            Err(e) => w.fail(
                index(&join(path, "patterns"), i),
                format!("invalid regular expression: {e}"),
            ),
        }
    }
    BotDetectorOptions {
        allow: w.strings(v, "allow", path).unwrap_or_default(),
        deny: w.strings(v, "deny", path).unwrap_or_default(),
        patterns,
        cache_size: w.unsigned(v, "cache_size", path, 10_000_000).unwrap_or(0) as usize,
        empty_user_agent_is_bot: w
            .boolean(v, "empty_user_agent_is_bot", path)
            .unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lists_and_locates_bad_patterns() {
        let v: Value = serde_json::from_str(
            r#"{"allow":["c"],"deny":["a","b"],"patterns":["ok.*","(unclosed"],"cache_size":10}"#,
        )
        .unwrap();
        let mut w = Walker::default();
        let path = r#"extra_config["security/bot-detector"]"#;
        let o = parse(v.as_object().unwrap(), path, &mut w);
        assert_eq!(o.allow, ["c"]);
        assert_eq!(o.deny, ["a", "b"]);
        assert_eq!(o.patterns.len(), 1);
        assert_eq!(o.cache_size, 10);
        assert!(!o.empty_user_agent_is_bot);
        assert_eq!(w.problems.len(), 1);
        assert_eq!(w.problems[0].path, format!("{path}.patterns[1]"));
    }
}
