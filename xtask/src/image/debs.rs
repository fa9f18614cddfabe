//! The Debian packages inside the image: pinned in `images/debian-packages.lock` (version and
//! sha256 per architecture), fetched with `apt-get download`, cached, verified, unpacked.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};
use sha2::{Digest, Sha256};

use super::platform::Arch;
use crate::project;

/// The packages the image is made from.
pub const PACKAGES: [&str; 3] = ["busybox-static", "ca-certificates", "tzdata"];

/// One pinned package file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pin {
    /// Package name.
    pub name: String,
    /// Debian architecture of the file: `amd64`, `arm64` or `all`.
    pub arch: String,
    /// Exact Debian version (with epoch).
    pub version: String,
    /// sha256 of the `.deb`, hex.
    pub sha256: String,
}

impl Pin {
    /// The file name `apt-get download` gives it.
    pub fn file_name(&self) -> String {
        format!(
            "{}_{}_{}.deb",
            self.name,
            self.version.replace(':', "%3a"),
            self.arch
        )
    }
}

/// The lock file: every pinned package file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lock {
    /// The pins, sorted.
    pub pins: Vec<Pin>,
}

const LOCK_HEADER: &str = "\
# Debian packages inside the Cephalo image: name, architecture, version, sha256 of the .deb.
# Written by `cargo xtask image --update-lock`; every other build verifies against it.
";

impl Lock {
    /// The lock file's path.
    pub fn path() -> PathBuf {
        project::root().join("images/debian-packages.lock")
    }

    /// Reads the lock file.
    pub fn load() -> Result<Lock> {
        let path = Self::path();
        let text = fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {} (create it with `cargo xtask image --update-lock`)",
                path.display()
            )
        })?;
        Self::parse(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Parses the lock file format.
    pub fn parse(text: &str) -> Result<Lock> {
        let mut pins = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<_> = line.split_whitespace().collect();
            let [name, arch, version, sha256] = fields[..] else {
                bail!("line {}: expected `name arch version sha256`", number + 1);
            };
            ensure!(
                sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit()),
                "line {}: bad sha256",
                number + 1
            );
            pins.push(Pin {
                name: name.into(),
                arch: arch.into(),
                version: version.into(),
                sha256: sha256.into(),
            });
        }
        pins.sort();
        Ok(Lock { pins })
    }

    /// The lock file's text.
    pub fn render(&self) -> String {
        let mut out = String::from(LOCK_HEADER);
        for pin in &self.pins {
            let _ = writeln!(
                out,
                "{} {} {} {}",
                pin.name, pin.arch, pin.version, pin.sha256
            );
        }
        out
    }

    /// The pin of `name` for `arch` (an `all` pin serves every architecture).
    pub fn pin(&self, name: &str, arch: Arch) -> Result<&Pin> {
        self.pins
            .iter()
            .find(|p| p.name == name && p.arch == arch.debian())
            .or_else(|| self.pins.iter().find(|p| p.name == name && p.arch == "all"))
            .with_context(|| {
                format!(
                    "{} has no pin for {name} ({arch}); run `cargo xtask image --update-lock`",
                    Self::path().display()
                )
            })
    }
}

/// Where downloaded packages are kept (`$XDG_CACHE_HOME/cephalo/debs` or `~/.cache/cephalo/debs`).
pub fn cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    base.join("cephalo/debs")
}

/// sha256 of a byte string, hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The `.deb` of `pin`, from the cache or downloaded, verified against the pin.
pub fn fetch(pin: &Pin) -> Result<Vec<u8>> {
    let dir = cache_dir();
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let cached = dir.join(pin.file_name());
    if let Ok(data) = fs::read(&cached) {
        if sha256_hex(&data) == pin.sha256 {
            return Ok(data);
        }
        eprintln!(
            "  cached {} does not match the lock; downloading it again",
            cached.display()
        );
    }
    // One download at a time: apt and dpkg take locks (tests fetch in parallel).
    static APT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = APT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Ok(data) = fs::read(&cached) {
        if sha256_hex(&data) == pin.sha256 {
            return Ok(data);
        }
    }
    let foreign: Vec<_> = Arch::ALL
        .into_iter()
        .filter(|a| a.debian() == pin.arch)
        .collect();
    ensure_foreign_arches(&foreign)?;
    eprintln!("  downloading {} {} ({})", pin.name, pin.version, pin.arch);
    let downloaded = apt_download(pin, &dir).map_err(|err| {
        err.context(format!(
            "the pinned {} {} ({}) could not be downloaded; if Debian no longer serves that version, \
             re-pin with `cargo xtask image --update-lock` and commit images/debian-packages.lock",
            pin.name, pin.version, pin.arch
        ))
    })?;
    let data = fs::read(&downloaded)?;
    let actual = sha256_hex(&data);
    ensure!(
        actual == pin.sha256,
        "{} has sha256 {actual}, but the lock pins {}: the archive served a different file for this version",
        downloaded.display(),
        pin.sha256
    );
    debug_assert_eq!(downloaded, cached);
    Ok(data)
}

/// Pins the current candidate version of every package for `arches`, downloading each.
pub fn update_lock(arches: &[Arch]) -> Result<Lock> {
    ensure_foreign_arches(arches)?;
    let dir = cache_dir();
    fs::create_dir_all(&dir)?;
    let mut pins = Vec::new();
    for name in PACKAGES {
        for &arch in arches {
            let (version, file_arch) = candidate(name, arch)?;
            if pins
                .iter()
                .any(|p: &Pin| p.name == name && p.arch == file_arch && p.version == version)
            {
                continue;
            }
            eprintln!("  pinning {name} {version} ({file_arch})");
            let mut pin = Pin {
                name: name.into(),
                arch: file_arch,
                version,
                sha256: String::new(),
            };
            let path = apt_download(&pin, &dir)?;
            pin.sha256 = sha256_hex(&fs::read(&path)?);
            pins.push(pin);
        }
    }
    pins.sort();
    Ok(Lock { pins })
}

/// Makes sure dpkg knows the foreign architectures and apt has their package lists.
pub fn ensure_foreign_arches(arches: &[Arch]) -> Result<()> {
    let native = command_output(Command::new("dpkg").arg("--print-architecture"))?;
    let foreign = command_output(Command::new("dpkg").arg("--print-foreign-architectures"))?;
    let mut added = false;
    for arch in arches {
        let name = arch.debian();
        if name != native.trim() && !foreign.split_whitespace().any(|f| f == name) {
            eprintln!("  dpkg --add-architecture {name}");
            run(Command::new("dpkg").args(["--add-architecture", name]))?;
            added = true;
        }
    }
    if added {
        eprintln!("  apt-get update");
        run(Command::new("apt-get").args(["-qq", "update"]))?;
    }
    Ok(())
}

/// The candidate version of `name` for `arch` and the architecture of its file (`all` for
/// architecture-independent packages).
fn candidate(name: &str, arch: Arch) -> Result<(String, String)> {
    let show = |qualifier: &str| {
        command_output(Command::new("apt-cache").args([
            "show",
            "--no-all-versions",
            &format!("{name}:{qualifier}"),
        ]))
        .ok()
        .filter(|text| text.contains("Version:"))
    };
    let text = match show(arch.debian()).or_else(|| show("all")) {
        Some(text) => text,
        None => {
            run(Command::new("apt-get").args(["-qq", "update"]))?;
            show(arch.debian())
                .or_else(|| show("all"))
                .with_context(|| format!("apt knows no {name} for {arch}: check the apt sources"))?
        }
    };
    let field = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key).map(|v| v.trim().to_string()))
            .with_context(|| format!("apt-cache show {name} printed no {key}"))
    };
    Ok((field("Version:")?, field("Architecture:")?))
}

fn apt_spec(name: &str, arch: &str, version: Option<&str>) -> String {
    let mut spec = if arch == "all" {
        name.to_string()
    } else {
        format!("{name}:{arch}")
    };
    if let Some(version) = version {
        spec.push('=');
        spec.push_str(version);
    }
    spec
}

/// Runs `apt-get download` for `pin` in `dir` and returns the file it wrote.
fn apt_download(pin: &Pin, dir: &Path) -> Result<PathBuf> {
    let spec = apt_spec(&pin.name, &pin.arch, Some(&pin.version));
    let expected = dir.join(pin.file_name());
    let attempt = || {
        let out = Command::new("apt-get")
            .args(["download", "-q", &spec])
            .current_dir(dir)
            .output()
            .context("running apt-get (Debian's apt is needed to fetch the image's packages)")?;
        if !out.status.success() {
            bail!(
                "apt-get download {spec} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        ensure!(
            expected.is_file(),
            "apt-get download {spec} did not write {}",
            expected.display()
        );
        Ok(expected.clone())
    };
    match attempt() {
        Ok(path) => Ok(path),
        Err(first) => {
            eprintln!("  {first:#}; running apt-get update and retrying");
            run(Command::new("apt-get").args(["-qq", "update"]))?;
            attempt()
        }
    }
}

/// One entry of a package's data archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DebEntry {
    /// A directory.
    Dir,
    /// A regular file and its mode.
    File { mode: u32, data: Vec<u8> },
    /// A symbolic link.
    Symlink(String),
    /// A hard link to another path of the package.
    HardLink(String),
}

/// The data archive of a `.deb`, by path without the leading `./` (e.g. `bin/busybox`).
pub fn contents(deb: &[u8]) -> Result<BTreeMap<String, DebEntry>> {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let unique = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = std::env::temp_dir().join(format!("cephalo-deb-{}-{unique}.deb", std::process::id()));
    fs::write(&tmp, deb)?;
    let out = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(&tmp)
        .output();
    let _ = fs::remove_file(&tmp);
    let out = out.context("running dpkg-deb")?;
    ensure!(
        out.status.success(),
        "dpkg-deb --fsys-tarfile failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let mut archive = tar::Archive::new(&out.stdout[..]);
    let mut entries = BTreeMap::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry
            .path()?
            .to_string_lossy()
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        if path.is_empty() || path == "." {
            continue;
        }
        let link = || -> Result<String> {
            Ok(entry
                .link_name()?
                .context("link without target")?
                .to_string_lossy()
                .into_owned())
        };
        let node = match entry.header().entry_type() {
            tar::EntryType::Directory => DebEntry::Dir,
            tar::EntryType::Symlink => DebEntry::Symlink(link()?),
            tar::EntryType::Link => {
                DebEntry::HardLink(link()?.trim_start_matches("./").to_string())
            }
            tar::EntryType::Regular => {
                let mode = entry.header().mode()?;
                let mut data = Vec::new();
                entry.read_to_end(&mut data)?;
                DebEntry::File { mode, data }
            }
            other => bail!("unexpected {other:?} entry {path} in a package"),
        };
        entries.insert(path, node);
    }
    Ok(entries)
}

fn run(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("running {command:?}"))?;
    ensure!(status.success(), "{command:?} failed ({status})");
    Ok(())
}

fn command_output(command: &mut Command) -> Result<String> {
    let out = command
        .output()
        .with_context(|| format!("running {command:?}"))?;
    ensure!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8(out.stdout)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_round_trips_and_resolves_all_pins() {
        let sha = "a".repeat(64);
        let text = format!(
            "# c\ntzdata all 2026f-0+deb12u1 {sha}\nbusybox-static arm64 1:1.35.0-4 {sha}\nbusybox-static amd64 1:1.35.0-4 {sha}\n"
        );
        let lock = Lock::parse(&text).unwrap();
        assert_eq!(Lock::parse(&lock.render()).unwrap(), lock);
        assert_eq!(lock.pins[0].arch, "amd64");
        assert_eq!(lock.pin("tzdata", Arch::Arm64).unwrap().arch, "all");
        assert_eq!(
            lock.pin("busybox-static", Arch::Arm64).unwrap().arch,
            "arm64"
        );
        assert!(lock.pin("ca-certificates", Arch::Amd64).is_err());
        assert_eq!(
            lock.pins[0].file_name(),
            "busybox-static_1%3a1.35.0-4_amd64.deb"
        );
    }

    #[test]
    fn malformed_lines_are_refused() {
        assert!(Lock::parse("tzdata all 1.0\n").is_err());
        assert!(Lock::parse("tzdata all 1.0 nothex\n").is_err());
    }
}
