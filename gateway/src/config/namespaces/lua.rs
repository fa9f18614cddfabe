//! `extra_config["modifier/lua-endpoint"]` (endpoint), `["modifier/lua-proxy"]` (endpoint's
//! proxy) and `["modifier/lua-backend"]` (backend): `sources`, `md5`, `pre`, `post`, `live`,
//! `allow_open_libs`, `skip_next`. Source files are read (paths relative to the working
//! directory, as KrakenD reads them), checksummed and compiled here, at start-up: a wrong
//! checksum or a syntax error is a config problem at its JSON path. A file that cannot be
//! read is not: like KrakenD, the gateway starts, logs it, and the script's calls fail with
//! `lua: unable to load required source <file>` (so that a config shipped without its
//! scripts still serves its other endpoints).

use std::fmt;
use std::sync::Arc;

use md5::{Digest, Md5};
use serde_json::{Map, Value};

use crate::config::walk::{index, join, type_name, Walker};

/// Endpoint level, before the proxy (KrakenD CE runs only `pre` there).
pub const ENDPOINT_NAMESPACE: &str = "modifier/lua-endpoint";
/// The endpoint's proxy: `pre` on the request, `post` on the merged response.
pub const PROXY_NAMESPACE: &str = "modifier/lua-proxy";
/// One backend: `pre` on the backend request, `post` on its response.
pub const BACKEND_NAMESPACE: &str = "modifier/lua-backend";

const KEYS: &[&str] = &[
    "sources",
    "md5",
    "pre",
    "post",
    "live",
    "allow_open_libs",
    "skip_next",
];

/// One `sources` file and the code read from it at start-up.
#[derive(Clone)]
pub struct LuaSource {
    /// The path as configured.
    pub path: String,
    /// Its content at start-up (`live` scripts read the file again on every call); `None`
    /// when it could not be read.
    pub code: Option<Arc<str>>,
    /// Where it is configured (JSON path), for the start-up log.
    pub at: String,
}

impl fmt::Debug for LuaSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LuaSource({:?})", self.path)
    }
}

/// The typed options of one Lua namespace.
#[derive(Debug, Clone, Default)]
pub struct LuaOptions {
    /// Files run before `pre`/`post`, in order.
    pub sources: Vec<LuaSource>,
    /// Code run on the request.
    pub pre: Option<String>,
    /// Code run on the response.
    pub post: Option<String>,
    /// Read the sources again on every call.
    pub live: bool,
    /// Open every standard library (io, os, package...), not only the safe ones.
    pub allow_open_libs: bool,
    /// Do not call the next layer: the response is what `post` makes of an empty one.
    pub skip_next: bool,
}

impl LuaOptions {
    /// Whether these options change anything at all (nothing to run and nothing skipped
    /// adds no layer).
    pub fn is_noop(&self) -> bool {
        self.pre.is_none() && self.post.is_none() && !self.skip_next
    }
}

/// Reads the options at `path`.
pub fn parse(obj: &Map<String, Value>, path: &str, w: &mut Walker) -> LuaOptions {
    w.note_unknown_keys(obj, path, KEYS);
    let mut opts = LuaOptions {
        live: w.boolean(obj, "live", path).unwrap_or(false),
        allow_open_libs: w.boolean(obj, "allow_open_libs", path).unwrap_or(false),
        skip_next: w.boolean(obj, "skip_next", path).unwrap_or(false),
        ..LuaOptions::default()
    };
    let sources_path = join(path, "sources");
    for (i, file) in w
        .strings(obj, "sources", path)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let at = index(&sources_path, i);
        let code = std::fs::read_to_string(&file).ok();
        if let Some(code) = &code {
            if let Err(e) = crate::lua::check_syntax(&file, code) {
                w.fail(&at, format!("Lua syntax error in {file}: {e}"));
            }
        }
        opts.sources.push(LuaSource {
            path: file,
            code: code.map(Into::into),
            at,
        });
    }
    for key in ["pre", "post"] {
        let Some(code) = w.string(obj, key, path) else {
            continue;
        };
        if code.trim().is_empty() {
            continue;
        }
        if let Err(e) = crate::lua::check_syntax(&format!("{key}-script"), &code) {
            w.fail(join(path, key), format!("Lua syntax error: {e}"));
            continue;
        }
        if key == "pre" {
            opts.pre = Some(code);
        } else {
            opts.post = Some(code);
        }
    }
    if let Some(sums) = w.object(obj, "md5", path) {
        check_md5(sums, &opts.sources, &join(path, "md5"), w);
    }
    opts
}

/// Compares each `md5` entry with the file's content (read at start-up).
fn check_md5(sums: &Map<String, Value>, sources: &[LuaSource], path: &str, w: &mut Walker) {
    for (file, want) in sums {
        let at = join(path, file);
        let Value::String(want) = want else {
            w.fail(at, format!("must be a string, found {}", type_name(want)));
            continue;
        };
        let content = match sources
            .iter()
            .find_map(|s| (&s.path == file).then_some(&s.code))
        {
            Some(Some(code)) => code.as_bytes().to_vec(),
            _ => match std::fs::read(file) {
                Ok(c) => c,
                Err(e) => {
                    w.fail(at, format!("cannot read Lua source {file}: {e}"));
                    continue;
                }
            },
        };
        let have = hex(&Md5::digest(&content));
        if !have.eq_ignore_ascii_case(want) {
            w.fail(
                at,
                format!("wrong checksum for Lua source {file}: have {have}, want {want}"),
            );
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_value(v: Value) -> (LuaOptions, Walker) {
        let mut w = Walker::default();
        let o = parse(v.as_object().unwrap(), "e[\"modifier/lua-proxy\"]", &mut w);
        (o, w)
    }

    #[test]
    fn reads_sources_code_and_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f.lua");
        std::fs::write(&file, "function f(x) return x end").unwrap();
        let file = file.to_str().unwrap().to_string();
        let (o, w) = parse_value(json!({
            "sources": [file], "pre": "f(1)", "post": "", "live": true,
            "allow_open_libs": true, "skip_next": true,
            "md5": { file.clone(): "E37D7F2F2C0C36B0C2E7DA8B6F9C1B4E" }
        }));
        // The checksum is wrong on purpose: only that problem is reported.
        assert_eq!(w.problems.len(), 1, "{:?}", w.problems);
        assert!(w.problems[0].message.starts_with("wrong checksum"));
        assert_eq!(o.sources.len(), 1);
        assert_eq!(
            o.sources[0].code.as_deref(),
            Some("function f(x) return x end")
        );
        assert_eq!(o.pre.as_deref(), Some("f(1)"));
        assert!(o.post.is_none(), "blank code is no code");
        assert!(o.live && o.allow_open_libs && o.skip_next);
    }

    #[test]
    fn a_matching_md5_passes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("g.lua");
        std::fs::write(&file, "x = 1").unwrap();
        let file = file.to_str().unwrap().to_string();
        let sum = hex(&Md5::digest(b"x = 1"));
        let (_, w) = parse_value(json!({"sources": [file.clone()], "md5": { file: sum }}));
        assert!(w.problems.is_empty(), "{:?}", w.problems);
    }

    #[test]
    fn syntax_errors_are_located_and_missing_files_left_to_the_calls() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.lua");
        std::fs::write(&bad, "function broken(\n").unwrap();
        let bad = bad.to_str().unwrap().to_string();
        let (o, w) = parse_value(json!({
            "sources": ["/nonexistent/x.lua", bad.clone()],
            "pre": "local = 1",
            "post": 7
        }));
        let paths: Vec<_> = w.problems.iter().map(|p| p.path.as_str()).collect();
        let ns = "e[\"modifier/lua-proxy\"]";
        assert_eq!(
            paths,
            [
                format!("{ns}.sources[1]"),
                format!("{ns}.pre"),
                format!("{ns}.post")
            ]
        );
        assert!(
            w.problems[0].message.contains(&bad),
            "{}",
            w.problems[0].message
        );
        assert!(w.problems[2].message.contains("must be a string"));
        assert!(o.is_noop(), "an invalid pre is not kept");
        // The missing file is kept, unread, with its place for the start-up log.
        assert!(o.sources[0].code.is_none());
        assert_eq!(o.sources[0].at, format!("{ns}.sources[0]"));
    }
}
