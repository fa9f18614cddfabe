//! Flexible Configuration: the config file as a Go `text/template`, as KrakenD documents it.
//!
//! * `FC_ENABLE` (non-empty, not `0`/`false`) turns it on;
//! * `FC_SETTINGS` is a directory whose `*.json` files become values named after the file
//!   (`service.json` -> `{{ .service }}`);
//! * `FC_PARTIALS` is where `{{ include "file" }}` reads raw text from;
//! * `FC_TEMPLATES` is a directory whose `*.tmpl` files are named templates
//!   (`{{ template "endpoint.tmpl" . }}`);
//! * `FC_OUT` receives the rendered config.
//!
//! Unlike KrakenD, which logs a template error and falls back to the raw file, a template
//! error stops the load with the template's file, line and message.

mod dates;
mod exec;
mod funcs;
mod gofmt;
mod lex;
mod parse;
mod regex;

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

pub use exec::Engine;
pub use funcs::Helpers;
pub use gofmt::quote as go_quote;

/// A template syntax or execution error, located like Go's (`template: file:line: msg`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template: {file}:{line}: {message}")]
pub struct TemplateError {
    /// Template file (or name).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What went wrong.
    pub message: String,
}

impl TemplateError {
    /// An error at `file:line`.
    pub fn at(file: &str, line: usize, message: String) -> Self {
        Self {
            file: file.to_string(),
            line,
            message,
        }
    }
}

/// Why a Flexible Configuration could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum FcError {
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path at fault.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A settings file is not valid JSON.
    #[error("{}: invalid settings JSON: {message}", path.display())]
    Settings {
        /// The settings file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A template failed to parse or execute.
    #[error("{0}")]
    Template(#[from] TemplateError),
}

/// The Flexible Configuration environment.
#[derive(Debug, Clone, Default)]
pub struct FcSettings {
    /// `FC_SETTINGS`
    pub settings: Option<PathBuf>,
    /// `FC_PARTIALS`
    pub partials: Option<PathBuf>,
    /// `FC_TEMPLATES`
    pub templates: Option<PathBuf>,
    /// `FC_OUT`
    pub out: Option<PathBuf>,
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

impl FcSettings {
    /// Reads the `FC_*` variables; `None` unless `FC_ENABLE` is on.
    pub fn from_env() -> Option<Self> {
        let on = std::env::var("FC_ENABLE").ok()?;
        if matches!(on.trim(), "" | "0" | "false" | "FALSE" | "False") {
            return None;
        }
        Some(Self {
            settings: env_path("FC_SETTINGS"),
            partials: env_path("FC_PARTIALS"),
            templates: env_path("FC_TEMPLATES"),
            out: env_path("FC_OUT"),
        })
    }

    /// Renders the config template at `path`, writing `FC_OUT` when set.
    pub fn render(&self, path: &Path) -> Result<String, FcError> {
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| FcError::Io { path: p, source }
        };
        let mut engine = Engine::new(Helpers {
            partials: self.partials.clone(),
        });
        if let Some(dir) = &self.templates {
            for file in files_with_ext(dir, "tmpl")? {
                let text = std::fs::read_to_string(&file).map_err(io(&file))?;
                engine.add(&file_name(&file), &text)?;
            }
        }
        let main = file_name(path);
        let text = std::fs::read_to_string(path).map_err(io(path))?;
        engine.add(&main, &text)?;
        let data = match &self.settings {
            Some(dir) => load_settings(dir)?,
            None => Value::Object(Map::new()),
        };
        let rendered = engine.render(&main, &data)?;
        if let Some(out) = &self.out {
            std::fs::write(out, &rendered).map_err(io(out))?;
        }
        Ok(rendered)
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn files_with_ext(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, FcError> {
    let entries = std::fs::read_dir(dir).map_err(|source| FcError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    Ok(files)
}

/// Every `*.json` file of `dir` as a value named after the file (without extension).
pub fn load_settings(dir: &Path) -> Result<Value, FcError> {
    let mut data = Map::new();
    for file in files_with_ext(dir, "json")? {
        let text = std::fs::read_to_string(&file).map_err(|source| FcError::Io {
            path: file.clone(),
            source,
        })?;
        let value: Value = serde_json::from_str(&text).map_err(|e| FcError::Settings {
            path: file.clone(),
            message: e.to_string(),
        })?;
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Go decodes JSON numbers into `interface{}` as float64.
        data.insert(name, gofmt::floats(value));
    }
    Ok(Value::Object(data))
}

#[cfg(test)]
mod tests;
