//! The outside programs of the bench: installed when missing (Debian packages for the peers
//! and wrk, `cargo install` for oha), their versions recorded; and the release builds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::project;

/// A program the bench runs, and where it comes from.
pub struct Tool {
    pub binary: &'static str,
    pub source: Source,
    /// The arguments that print its version.
    pub version_args: &'static [&'static str],
}

/// How a missing tool is installed.
pub enum Source {
    Debian(&'static str),
    Crate(&'static str),
}

/// Every tool of the bench. wrk and oha are the load generators; the rest are the peers.
pub const TOOLS: [Tool; 5] = [
    Tool {
        binary: "wrk",
        source: Source::Debian("wrk"),
        version_args: &["-v"],
    },
    Tool {
        binary: "oha",
        source: Source::Crate("oha"),
        version_args: &["--version"],
    },
    Tool {
        binary: "nginx",
        source: Source::Debian("nginx"),
        version_args: &["-v"],
    },
    Tool {
        binary: "haproxy",
        source: Source::Debian("haproxy"),
        version_args: &["-v"],
    },
    Tool {
        binary: "caddy",
        source: Source::Debian("caddy"),
        version_args: &["version"],
    },
];

/// The full path of a program on PATH (and in cargo's bin directory, where oha lands).
pub fn which(binary: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
    {
        dirs.push(home.join("bin"));
    }
    dirs.into_iter()
        .map(|d| d.join(binary))
        .find(|p| p.is_file())
}

/// Installs whatever is missing. Failures are returned as notes, not errors: the bench
/// runs with what it has and the report says what was missing.
pub fn ensure_installed(notes: &mut Vec<String>) {
    let missing_debian: Vec<&str> = TOOLS
        .iter()
        .filter(|t| which(t.binary).is_none())
        .filter_map(|t| match t.source {
            Source::Debian(package) => Some(package),
            Source::Crate(_) => None,
        })
        .collect();
    if !missing_debian.is_empty() {
        eprintln!(
            "bench: installing {} from Debian",
            missing_debian.join(", ")
        );
        // Try with the package lists we have; refresh them only when that fails.
        if apt_install(&missing_debian).is_err() {
            let updated = Command::new("apt-get").arg("update").status();
            if let Err(error) = updated
                .map_err(anyhow::Error::from)
                .and_then(|_| apt_install(&missing_debian))
            {
                notes.push(format!(
                    "could not install {}: {error:#}",
                    missing_debian.join(", ")
                ));
            }
        }
    }
    for tool in &TOOLS {
        if let (Source::Crate(name), None) = (&tool.source, which(tool.binary)) {
            eprintln!("bench: installing {name} with cargo install --locked (a few minutes, once)");
            let status = Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
                .args(["install", name, "--locked"])
                .env_remove("CARGO_TARGET_DIR")
                .status();
            if !matches!(status, Ok(s) if s.success()) {
                notes.push(format!(
                    "{name} could not be installed: fixed-rate latency (latency scenario, aggregate p50) is not measured"
                ));
            }
        }
    }
}

fn apt_install(packages: &[&str]) -> Result<()> {
    let status = Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get")?;
    if !status.success() {
        bail!("apt-get install {} failed ({status})", packages.join(" "));
    }
    Ok(())
}

/// The first line each installed tool prints about its version.
pub fn versions() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for tool in &TOOLS {
        let Some(path) = which(tool.binary) else {
            continue;
        };
        let Ok(output) = Command::new(path).args(tool.version_args).output() else {
            continue;
        };
        // nginx and wrk print their version on stderr.
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if let Some(line) = text.lines().map(str::trim).find(|l| !l.is_empty()) {
            out.insert(tool.binary.to_string(), first_version_line(line));
        }
    }
    out
}

/// Trims a version banner to its useful part (wrk appends its copyright).
fn first_version_line(line: &str) -> String {
    line.split(" Copyright")
        .next()
        .unwrap_or(line)
        .trim()
        .to_string()
}

/// Builds a binary of a package with a profile; returns its path.
pub fn build(package: &str, binary: &str, profile: &str) -> Result<PathBuf> {
    eprintln!("bench: building {binary} ({profile} profile)");
    let status = Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
        .current_dir(project::root())
        .args([
            "build",
            "--profile",
            profile,
            "-p",
            package,
            "--bin",
            binary,
        ])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build of {binary} failed ({status})");
    }
    let path = project::target_dir().join(profile).join(binary);
    if !path.is_file() {
        bail!("cargo build succeeded but {} is missing", path.display());
    }
    Ok(path)
}

/// Writes `path` back to disk and drops it from the page cache, so that it is read from disk
/// when it starts, as the installed peers' binaries are. A binary written a moment ago sits in
/// the page cache in large folios, which a process maps whole: its RSS then reads several MB
/// higher (12.7 against 6.9 MB idle for the gateway), which is not the program's memory.
pub fn evict_from_page_cache(path: &Path) -> Result<()> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    file.sync_all()
        .with_context(|| format!("writing {} back", path.display()))?;
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed)
        .with_context(|| format!("dropping {} from the page cache", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_file_is_evicted_and_a_missing_one_named() {
        let path = std::env::temp_dir().join(format!("cephalo-evict-{}", std::process::id()));
        std::fs::write(&path, vec![7u8; 1 << 20]).unwrap();
        evict_from_page_cache(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap().len(), 1 << 20);
        std::fs::remove_file(&path).unwrap();
        let error = evict_from_page_cache(&path).unwrap_err();
        assert!(format!("{error:#}").contains("cephalo-evict-"), "{error:#}");
    }

    #[test]
    fn version_banners_are_trimmed() {
        assert_eq!(
            first_version_line("wrk 4.1.0 [epoll] Copyright (C) 2012 Will Glozer"),
            "wrk 4.1.0 [epoll]"
        );
        assert_eq!(
            first_version_line("nginx version: nginx/1.22.1"),
            "nginx version: nginx/1.22.1"
        );
    }

    #[test]
    fn which_finds_sh_and_not_nonsense() {
        assert!(which("sh").is_some());
        assert!(which("no-such-program-cephalo").is_none());
    }
}
