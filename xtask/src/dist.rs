//! `cargo xtask dist`: static musl binaries of the gateway and the entrypoint for every
//! architecture, and the release tarballs (`./usr/bin/krakend`, `./etc/krakend/krakend.json`,
//! as upstream ships them) with `SHA512SUMS`, under `<target>/dist/`.
//!
//! C code (`ring`, mimalloc, the vendored Lua of `mlua`) cross-compiles with Debian's musl
//! compiler wrappers, installed with apt-get when missing: `musl-gcc` (`musl-tools`) for
//! x86_64 and `aarch64-linux-musl-gcc` (`musl-dev:arm64`, after `dpkg --add-architecture
//! arm64`) for aarch64. The plain `aarch64-linux-gnu-gcc` would not do: it compiles against
//! glibc's headers (or the host's, on a fresh machine), whose symbols such as
//! `__isoc99_fscanf` musl does not have.
//! Rust code for aarch64 links with rust-lld (`.cargo/config.toml`). `--cross` uses
//! cross-rs instead, where its container images can be pulled.

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};
use sha2::{Digest, Sha512};

use crate::image::platform::{Arch, ArchChoice};
use crate::image::rootfs::Binaries;
use crate::image::tarball::{self, Tree};
use crate::project;

/// Options of `cargo xtask dist`.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// Cargo profile of the binaries.
    #[arg(long, default_value = "release")]
    pub profile: String,
    /// Architectures to build.
    #[arg(long, value_enum, default_value = "all")]
    pub arch: ArchChoice,
    /// Build with cross (cross-rs) instead of cargo (needs its images from a registry).
    #[arg(long)]
    pub cross: bool,
}

/// Runs the task.
pub fn run(args: Args) -> Result<()> {
    let arches = args.arch.arches();
    build(&arches, &args.profile, args.cross)?;
    write_release_files(&arches, &args.profile)?;
    Ok(())
}

/// The directory of the dist outputs.
pub fn dist_dir() -> PathBuf {
    project::target_dir().join("dist")
}

/// The release tarball's file name for `arch`.
pub fn tarball_name(arch: Arch) -> String {
    format!("cephalo_{}_{}.tar.gz", project::version(), arch.debian())
}

/// The binaries `dist` left for `arch` (copied under `<target>/dist/bin/<arch>/`).
pub fn binaries(arch: Arch) -> Binaries {
    let dir = dist_dir().join("bin").join(arch.debian());
    Binaries {
        gateway: dir.join("krakend"),
        entrypoint: dir.join("docker-entrypoint"),
    }
}

/// Cross-compiles the gateway and the entrypoint for `arches` with `profile`.
pub fn build(arches: &[Arch], profile: &str, cross: bool) -> Result<()> {
    eprintln!(
        "==> building krakend and docker-entrypoint ({profile}) for {}",
        list(arches)
    );
    if cross {
        // cross-rs builds one target per run, each in its own container image.
        for &arch in arches {
            let mut command = build_command("cross", profile);
            command.args(["--target", arch.rust_target()]);
            run_build(command, profile)?;
        }
        return Ok(());
    }
    ensure_rust_targets(arches)?;
    let mut command = build_command(&cargo(), profile);
    let remap: Vec<_> = remap_flags().iter().map(|f| format!("{f:?}")).collect();
    for &arch in arches {
        let target = arch.rust_target();
        command.args(["--target", target]);
        command.args([
            "--config",
            &format!("target.{target}.rustflags=[{}]", remap.join(",")),
        ]);
        for (key, value) in c_toolchain(arch) {
            if std::env::var_os(&key).is_none() {
                command.env(key, value);
            }
        }
    }
    run_build(command, profile)
}

fn build_command(program: &str, profile: &str) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(project::root())
        .env("CARGO_TARGET_DIR", project::target_dir())
        .args(["build", "--profile", profile])
        .args(["-p", "gateway", "-p", "entrypoint"])
        .args(["--bin", "krakend", "--bin", "docker-entrypoint"]);
    command
}

fn run_build(mut command: Command, profile: &str) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("running {command:?}"))?;
    ensure!(status.success(), "the {profile} build failed ({status})");
    Ok(())
}

/// Writes the tarballs and `SHA512SUMS`, and copies the binaries for `cargo xtask image`.
pub fn write_release_files(arches: &[Arch], profile: &str) -> Result<()> {
    let dir = dist_dir();
    fs::create_dir_all(&dir)?;
    let mtime = project::commit_time()? as u64;
    let krakend_json = fs::read(project::root().join("images/krakend.json"))?;
    let mut sums = String::new();
    for &arch in arches {
        let profile_dir = if profile == "dev" || profile == "test" {
            "debug"
        } else {
            profile
        };
        let built = project::target_dir()
            .join(arch.rust_target())
            .join(profile_dir);
        let out = binaries(arch);
        fs::create_dir_all(out.gateway.parent().expect("binaries live in a directory"))?;
        for (name, destination) in [
            ("krakend", &out.gateway),
            ("docker-entrypoint", &out.entrypoint),
        ] {
            let source = built.join(name);
            fs::copy(&source, destination)
                .with_context(|| format!("copying {}", source.display()))?;
        }
        let mut tree = Tree::new();
        tree.file("usr/bin/krakend", 0o755, fs::read(&out.gateway)?)?;
        tree.file("etc/krakend/krakend.json", 0o644, krakend_json.clone())?;
        let tarball = tarball::gzip(&tree.to_tar("./", mtime)?)?;
        let name = tarball_name(arch);
        fs::write(dir.join(&name), &tarball)?;
        let _ = writeln!(sums, "{}  {name}", hex::encode(Sha512::digest(&tarball)));
        eprintln!(
            "    {name}: {} bytes (krakend {} bytes)",
            tarball.len(),
            fs::metadata(&out.gateway)?.len()
        );
    }
    fs::write(dir.join("SHA512SUMS"), sums)?;
    eprintln!("    wrote {}", dir.display());
    Ok(())
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn list(arches: &[Arch]) -> String {
    arches
        .iter()
        .map(|a| a.rust_target())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Adds the rustup targets that are missing.
fn ensure_rust_targets(arches: &[Arch]) -> Result<()> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    let Ok(out) = out else {
        eprintln!("    rustup not found: assuming the musl targets are installed");
        return Ok(());
    };
    let installed = String::from_utf8_lossy(&out.stdout);
    for arch in arches {
        if !installed.lines().any(|l| l.trim() == arch.rust_target()) {
            eprintln!("==> rustup target add {}", arch.rust_target());
            let status = Command::new("rustup")
                .args(["target", "add", arch.rust_target()])
                .status()?;
            ensure!(
                status.success(),
                "rustup target add {} failed",
                arch.rust_target()
            );
        }
    }
    Ok(())
}

/// The `CC_<target>`/`AR_<target>` variables for C code, installing Debian's toolchain when
/// missing (best effort: pure-Rust builds do not need it).
fn c_toolchain(arch: Arch) -> Vec<(String, String)> {
    let (compiler, archiver, package) = match arch {
        Arch::Amd64 => ("musl-gcc", "ar", "musl-tools"),
        // Debian's musl cross wrapper: aarch64-linux-gnu-gcc with musl's own headers and
        // specs, so C code (ring, mimalloc) never sees glibc-only symbols.
        Arch::Arm64 => (
            "aarch64-linux-musl-gcc",
            "aarch64-linux-gnu-ar",
            "musl-dev:arm64",
        ),
    };
    if !on_path(compiler) {
        eprintln!(
            "==> {compiler} missing: apt-get install {package} (needed for crates with C code)"
        );
        if arch == Arch::Arm64 {
            if let Err(e) = crate::image::debs::ensure_foreign_arches(&[Arch::Arm64]) {
                eprintln!("    warning: {e:#}");
            }
        }
        let installed = Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends", package])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !installed || !on_path(compiler) {
            eprintln!(
                "    warning: {compiler} unavailable; crates with C code will not build for {}",
                arch.rust_target()
            );
            return Vec::new();
        }
    }
    let suffix = arch.rust_target().replace('-', "_");
    vec![
        (format!("CC_{suffix}"), compiler.to_string()),
        (format!("AR_{suffix}"), archiver.to_string()),
    ]
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// `--remap-path-prefix` flags that keep machine paths (cargo home, checkout) out of the
/// binaries, so that any machine builds the same bytes.
fn remap_flags() -> Vec<String> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let mut flags = Vec::new();
    if let Some(home) = cargo_home {
        flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }
    flags.push(format!(
        "--remap-path-prefix={}=/cephalo",
        project::root().display()
    ));
    flags
}

/// Fails unless the dist binaries of `arches` exist (for `--skip-build`).
pub fn check_binaries(arches: &[Arch]) -> Result<()> {
    for &arch in arches {
        let bins = binaries(arch);
        for path in [&bins.gateway, &bins.entrypoint] {
            if !path.is_file() {
                bail!(
                    "{} is missing: run `cargo xtask dist` (or drop --skip-build)",
                    path.display()
                );
            }
        }
    }
    Ok(())
}
