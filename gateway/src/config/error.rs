//! Configuration errors: each names the file, and the JSON path or line/column at fault.

use std::fmt;
use std::path::PathBuf;

/// One invalid value found while validating a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON path of the offending value, e.g. `endpoints[3].backend[0].url_pattern`.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Why a config file could not be turned into settings.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read the config file: {source}")]
    Read {
        /// The config file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid JSON/YAML/TOML.
    #[error("{file}:{line}:{column}: syntax error: {message}")]
    Syntax {
        /// The config file.
        file: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// The file parsed but some values are invalid; all of them are listed.
    #[error("{}", render_invalid(file, problems))]
    Invalid {
        /// The config file.
        file: PathBuf,
        /// Every problem found, in document order.
        problems: Vec<Problem>,
    },
    /// Flexible Configuration could not render the config template.
    #[error("flexible configuration: {0}")]
    Template(#[from] crate::fc::FcError),
}

fn render_invalid(file: &std::path::Path, problems: &[Problem]) -> String {
    let mut out = format!(
        "{}: invalid configuration ({} problem{}):",
        file.display(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        out.push_str("\n  - ");
        out.push_str(&p.to_string());
    }
    out
}
