//! Locating or building the gateway binary under test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Environment variable naming a prebuilt gateway binary.
pub const GATEWAY_BIN_ENV: &str = "CEPHALO_GATEWAY_BIN";

/// Errors building the gateway.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Cargo could not be run.
    #[error("cannot run cargo: {0}")]
    Cargo(std::io::Error),
    /// The build failed.
    #[error("cargo build -p gateway failed ({0})")]
    Failed(String),
    /// Cargo reported no executable for the `krakend` bin.
    #[error("cargo build reported no krakend executable")]
    NoExecutable,
}

/// Builds `gateway`'s `krakend` binary with `cargo` (the one running us when
/// `CARGO` is set) in `workspace_root` and returns its path. `profile` is a
/// cargo profile name (`dev`, `release`, `fastrelease`). Cargo's own output
/// goes to our stderr.
pub fn cargo_build_gateway(workspace_root: &Path, profile: &str) -> Result<PathBuf, BuildError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(workspace_root)
        .args([
            "build",
            "-p",
            "gateway",
            "--bin",
            "krakend",
            "--profile",
            profile,
        ])
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit())
        .output()
        .map_err(BuildError::Cargo)?;
    if !output.status.success() {
        return Err(BuildError::Failed(output.status.to_string()));
    }
    executable_from_messages(&String::from_utf8_lossy(&output.stdout))
        .ok_or(BuildError::NoExecutable)
}

/// `$CEPHALO_GATEWAY_BIN` when set, else a `dev`-profile build.
pub fn gateway_bin_for_tests(workspace_root: &Path) -> Result<PathBuf, BuildError> {
    match std::env::var_os(GATEWAY_BIN_ENV) {
        Some(bin) => Ok(PathBuf::from(bin)),
        None => cargo_build_gateway(workspace_root, "dev"),
    }
}

/// Finds the `krakend` executable in cargo's JSON messages.
fn executable_from_messages(stdout: &str) -> Option<PathBuf> {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "krakend")
        .filter_map(|m| m["executable"].as_str().map(PathBuf::from))
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_krakend_executable() {
        let messages = concat!(
            r#"{"reason":"compiler-artifact","target":{"name":"gateway"},"executable":null}"#,
            "\n",
            r#"{"reason":"compiler-artifact","target":{"name":"krakend"},"executable":"/t/debug/krakend"}"#,
            "\n",
            r#"{"reason":"build-finished","success":true}"#
        );
        assert_eq!(
            executable_from_messages(messages),
            Some(PathBuf::from("/t/debug/krakend"))
        );
        assert_eq!(executable_from_messages("{}"), None);
    }
}
