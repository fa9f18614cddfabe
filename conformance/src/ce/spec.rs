//! Spec files (`MOCK_BACKEND.md` §2) and suites of them.
//!
//! A suite follows the upstream layout: `<workdir>/fixtures/specs/*.json`
//! holds the cases, `<workdir>/fixtures/krakend.json` the gateway config, and
//! the gateway runs with `<workdir>` as its current directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// The request half of a spec.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct SpecRequest {
    /// HTTP method; empty or missing means `GET`.
    #[serde(default)]
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Request headers (names canonicalised when sent; `Host` sets the host).
    #[serde(default)]
    pub header: BTreeMap<String, String>,
    /// A JSON string is sent raw, any other value re-marshalled by Go rules.
    #[serde(default)]
    pub body: Option<Value>,
}

/// The expected-response half of a spec.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct SpecResponse {
    /// Expected status.
    #[serde(default)]
    pub status_code: u16,
    /// Expected body: a string compares bytes, another value compares JSON.
    #[serde(default)]
    pub body: Option<Value>,
    /// Expected header value lists; `[""]` means absent.
    #[serde(default)]
    pub header: BTreeMap<String, Vec<String>>,
    /// A JSON schema the body must satisfy (wins over `body` when non-empty).
    #[serde(default)]
    pub schema: Option<Value>,
}

/// One spec file.
#[derive(Debug, Clone, Deserialize)]
pub struct Spec {
    /// What to send.
    #[serde(rename = "in")]
    pub request: SpecRequest,
    /// What must come back.
    #[serde(rename = "out", default)]
    pub response: SpecResponse,
    /// Expected client error text (unused upstream).
    #[serde(default)]
    pub error: Option<String>,
}

/// A named spec: the file name without `.json`.
#[derive(Debug, Clone)]
pub struct Case {
    /// Case name.
    pub name: String,
    /// The spec file.
    pub path: PathBuf,
    /// Its content.
    pub spec: Spec,
}

/// Errors loading specs.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// What was read.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A spec file is not valid.
    #[error("invalid spec {path}: {source}")]
    Parse {
        /// The spec file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// The directory does not fit the suite layout.
    #[error("{0}")]
    Layout(String),
}

/// A directory of cases with the gateway config and working directory they run with.
#[derive(Debug, Clone)]
pub struct Suite {
    /// Display name (the working directory's name, e.g. `tests` or `core`).
    pub name: String,
    /// The directory of spec files.
    pub specs_dir: PathBuf,
    /// The gateway config, passed as `-c` relative to `workdir` when inside it.
    pub config: PathBuf,
    /// The gateway's current directory.
    pub workdir: PathBuf,
    /// The cases, sorted by name.
    pub cases: Vec<Case>,
}

impl Suite {
    /// Loads the `*.json` files of `specs_dir` (not recursive). The config is
    /// `specs_dir/../krakend.json` and the working directory
    /// `specs_dir/../..`, the upstream `tests/fixtures/specs` layout.
    pub fn load(specs_dir: impl AsRef<Path>) -> Result<Self, SpecError> {
        let specs_dir =
            std::path::absolute(specs_dir.as_ref()).map_err(|source| SpecError::Io {
                path: specs_dir.as_ref().to_path_buf(),
                source,
            })?;
        let fixtures = specs_dir
            .parent()
            .ok_or_else(|| SpecError::Layout(format!("{} has no parent", specs_dir.display())))?;
        let workdir = fixtures
            .parent()
            .ok_or_else(|| SpecError::Layout(format!("{} has no parent", fixtures.display())))?
            .to_path_buf();
        let config = fixtures.join("krakend.json");
        let cases = load_cases(&specs_dir)?;
        let name = workdir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| workdir.display().to_string());
        Ok(Self {
            name,
            specs_dir,
            config,
            workdir,
            cases,
        })
    }

    /// Loads the suite rooted at `workdir` (`workdir/fixtures/specs`).
    pub fn load_root(workdir: impl AsRef<Path>) -> Result<Self, SpecError> {
        Self::load(workdir.as_ref().join("fixtures").join("specs"))
    }

    /// Replaces the gateway config file.
    pub fn with_config(mut self, config: impl Into<PathBuf>) -> Self {
        self.config = config.into();
        self
    }

    /// The `-c` argument: the config relative to the working directory when possible.
    pub fn config_arg(&self) -> PathBuf {
        self.config
            .strip_prefix(&self.workdir)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| self.config.clone())
    }
}

/// How to tell that a suite's gateway is up, from its config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadinessProbe {
    /// The service `port` (8080 when absent).
    pub port: u16,
    /// `router.health_path`, `/__health` by default, `/` when health is disabled.
    pub path: String,
    /// True when health is disabled: any HTTP answer means ready.
    pub any_status: bool,
}

impl Suite {
    /// Derives the readiness probe from the config (JSON only; defaults otherwise).
    pub fn readiness_probe(&self) -> ReadinessProbe {
        let config: serde_json::Value = std::fs::read(&self.config)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let port = config["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(8080);
        let router = &config["extra_config"]["router"];
        if router["disable_health"].as_bool() == Some(true) {
            return ReadinessProbe {
                port,
                path: "/".into(),
                any_status: true,
            };
        }
        let path = router["health_path"]
            .as_str()
            .filter(|p| p.starts_with('/'))
            .unwrap_or("/__health")
            .to_string();
        ReadinessProbe {
            port,
            path,
            any_status: false,
        }
    }
}

/// Reads every `*.json` file directly inside `dir`, sorted by case name.
pub fn load_cases(dir: &Path) -> Result<Vec<Case>, SpecError> {
    let entries = std::fs::read_dir(dir).map_err(|source| SpecError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut cases = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| SpecError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if !path.is_file() || path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read(&path).map_err(|source| SpecError::Io {
            path: path.clone(),
            source,
        })?;
        let spec: Spec = serde_json::from_slice(&text).map_err(|source| SpecError::Parse {
            path: path.clone(),
            source,
        })?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        cases.push(Case { name, path, spec });
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(cases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_spec_and_ignores_comments() {
        let spec: Spec = serde_json::from_str(
            r#"{"@comment":"x","in":{"url":"http://localhost:8080/a","header":{"X":"1"},"body":{"b":1}},
                "out":{"status_code":201,"body":"t","header":{"content-type":["a"]},"schema":{}},
                "next":[{"in":{}}]}"#,
        )
        .unwrap();
        assert_eq!(spec.request.method, "");
        assert_eq!(spec.request.header["X"], "1");
        assert_eq!(spec.response.status_code, 201);
        assert_eq!(spec.response.header["content-type"], ["a"]);
        assert_eq!(spec.response.body, Some(Value::String("t".into())));
    }

    #[test]
    fn readiness_probe_follows_the_config() {
        let dir = std::env::temp_dir().join(format!("cephalo-probe-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("fixtures").join("specs")).unwrap();
        let suite = Suite::load_root(&dir).unwrap();
        let probe = |config: &str| {
            std::fs::write(&suite.config, config).unwrap();
            suite.readiness_probe()
        };
        assert_eq!(
            probe("{}"),
            ReadinessProbe {
                port: 8080,
                path: "/__health".into(),
                any_status: false
            }
        );
        let custom = probe(r#"{"port":9000,"extra_config":{"router":{"health_path":"/hz"}}}"#);
        assert_eq!(
            custom,
            ReadinessProbe {
                port: 9000,
                path: "/hz".into(),
                any_status: false
            }
        );
        let off = probe(r#"{"extra_config":{"router":{"disable_health":true}}}"#);
        assert_eq!(
            off,
            ReadinessProbe {
                port: 8080,
                path: "/".into(),
                any_status: true
            }
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn loads_only_json_files_sorted() {
        let dir = std::env::temp_dir().join(format!("cephalo-spec-test-{}", std::process::id()));
        let specs = dir.join("fixtures").join("specs");
        std::fs::create_dir_all(specs.join("nested")).unwrap();
        let case = r#"{"in":{"url":"http://x/"},"out":{"status_code":200}}"#;
        std::fs::write(specs.join("b.json"), case).unwrap();
        std::fs::write(specs.join("a.json"), case).unwrap();
        std::fs::write(specs.join("notes.txt"), "x").unwrap();
        std::fs::write(specs.join("nested").join("c.json"), case).unwrap();
        let suite = Suite::load(&specs).unwrap();
        let names: Vec<_> = suite.cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(suite.config_arg(), Path::new("fixtures/krakend.json"));
        assert_eq!(suite.workdir, dir);
        std::fs::write(specs.join("broken.json"), "{").unwrap();
        assert!(matches!(Suite::load(&specs), Err(SpecError::Parse { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
