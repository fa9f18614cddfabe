//! Facts about the project every task needs: where it is, its versions, its commit.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// The cargo target directory (honours `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                root().join(dir)
            }
        }
        None => root().join("target"),
    }
}

/// The Cephalo version (the workspace package version).
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The KrakenD release whose behaviour Cephalo matches.
#[allow(dead_code)]
pub const COMPAT_VERSION: &str = "2.13.8";

/// The full hash of the checked-out commit.
#[allow(dead_code)]
pub fn commit() -> Result<String> {
    git(&["rev-parse", "HEAD"])
}

/// The commit time of HEAD as a Unix timestamp (`SOURCE_DATE_EPOCH` wins when set).
#[allow(dead_code)]
pub fn commit_time() -> Result<i64> {
    if let Ok(epoch) = std::env::var("SOURCE_DATE_EPOCH") {
        return epoch
            .trim()
            .parse()
            .context("SOURCE_DATE_EPOCH is not an integer");
    }
    git(&["log", "-1", "--format=%ct", "HEAD"])?
        .parse()
        .context("git log printed no commit time")
}

fn git(args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(root())
        .output()
        .context("running git")?;
    if !out.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}
