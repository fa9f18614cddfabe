//! `cargo xtask image`: the multi-arch image, assembled without a Docker daemon.
//!
//! Outputs, under `<target>/images/` (`<target>` is `CARGO_TARGET_DIR` or `./target`):
//! * `oci/`: an OCI image layout whose `index.json` names the image index (`<version>`);
//! * `cephalo_<version>_<arch>.tar`: per architecture, a `docker load`-able archive (OCI
//!   layout + docker-save `manifest.json`), tagged `cephalo:<version>-<arch>` with docker-library's
//!   arch names (`amd64`, `arm64v8`);
//! * `digests.txt`: the index, manifest and config (image ID) digests.
//!
//! `--load` loads the chosen architectures; the native one also gets `cephalo:<version>`,
//! `X.Y`, `X` and `latest`.

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{ensure, Context, Result};

pub mod debs;
pub mod oci;
pub mod platform;
pub mod rootfs;
pub mod tarball;

use self::debs::Lock;
use self::oci::{Image, ImageSet, Layer, Metadata};
use self::platform::{Arch, ArchChoice};
use crate::{dist, project};

/// The image repository name.
pub const REPOSITORY: &str = "cephalo";

/// Options of `cargo xtask image`.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// Load the image(s) into the local Docker engine and tag them.
    #[arg(long)]
    pub load: bool,
    /// Architectures to assemble (the index lists only these).
    #[arg(long, value_enum, default_value = "all")]
    pub arch: ArchChoice,
    /// Use the binaries of the last `cargo xtask dist` instead of building.
    #[arg(long)]
    pub skip_build: bool,
    /// Cargo profile of the binaries.
    #[arg(long, default_value = "release")]
    pub profile: String,
    /// Pin the current Debian package versions in images/debian-packages.lock (and refresh
    /// images/busybox-applets.txt) instead of verifying against the lock.
    #[arg(long)]
    pub update_lock: bool,
}

/// Runs the task.
pub fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    let arches = args.arch.arches();
    if args.update_lock {
        update_lock()?;
    }
    if args.skip_build {
        dist::check_binaries(&arches)?;
    } else {
        dist::build(&arches, &args.profile, false)?;
        dist::write_release_files(&arches, &args.profile)?;
    }
    let lock = Lock::load()?;
    let meta = metadata()?;
    let set = assemble(&arches, &lock, &meta)?;
    let dir = images_dir();
    write_outputs(&set, &meta, &dir)?;
    print_table(&set);
    if args.load {
        load(&set, &dir)?;
    }
    eprintln!("==> done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// `<target>/images`.
pub fn images_dir() -> PathBuf {
    project::target_dir().join("images")
}

/// The per-arch archive's path.
pub fn archive_path(arch: Arch) -> PathBuf {
    images_dir().join(format!(
        "{REPOSITORY}_{}_{}.tar",
        project::version(),
        arch.debian()
    ))
}

/// The tag an architecture's archive carries: `cephalo:<version>-<amd64|arm64v8>`.
pub fn arch_tag(arch: Arch) -> String {
    format!("{REPOSITORY}:{}-{}", project::version(), arch.bashbrew())
}

/// The release tags of the native image: `X.Y.Z`, `X.Y`, `X`, `latest`.
pub fn release_tags(version: &str) -> Vec<String> {
    let parts: Vec<_> = version
        .split(['-', '+'])
        .next()
        .unwrap_or(version)
        .split('.')
        .collect();
    let mut tags = vec![version.to_string()];
    if parts.len() == 3 && !version.contains('-') {
        tags.push(format!("{}.{}", parts[0], parts[1]));
        tags.push(parts[0].to_string());
        tags.push("latest".into());
    }
    tags
}

/// Builds every layer, config, manifest and the index (no file written).
pub fn assemble(arches: &[Arch], lock: &Lock, meta: &Metadata) -> Result<ImageSet> {
    let mtime = project::commit_time()? as u64;
    let mut images = Vec::new();
    for &arch in arches {
        eprintln!(
            "==> assembling {} ({})",
            arch.platform(),
            arch.rust_target()
        );
        let base = rootfs::base(arch, lock)?;
        eprintln!(
            "    base: {} entries, {} bytes of files",
            base.len(),
            base.content_size()
        );
        let app = rootfs::app(&dist::binaries(arch))?;
        eprintln!(
            "    app: {} entries, {} bytes of files",
            app.len(),
            app.content_size()
        );
        let layers = vec![
            Layer::from_tree(
                "base",
                &base,
                mtime,
                "busybox-static, ca-certificates, tzdata (Debian), images/",
            )?,
            Layer::from_tree(
                "app",
                &app,
                mtime,
                "krakend, cephalo, docker-entrypoint (cargo xtask dist)",
            )?,
        ];
        images.push(Image::new(arch, layers, meta)?);
    }
    ImageSet::new(images, meta)
}

/// The labels and annotations of this checkout, from the workspace manifest and git.
pub fn metadata() -> Result<Metadata> {
    let manifest: toml::Table = fs::read_to_string(project::root().join("Cargo.toml"))?.parse()?;
    let package = manifest
        .get("workspace")
        .and_then(|w| w.get("package"))
        .context("Cargo.toml has no [workspace.package]")?;
    let field = |key: &str| {
        package
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let authors = package
        .get("authors")
        .and_then(|a| a.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let created = time::OffsetDateTime::from_unix_timestamp(project::commit_time()?)?
        .format(&time::format_description::well_known::Rfc3339)?;
    Ok(Metadata {
        version: project::version().to_string(),
        revision: project::commit()?,
        created,
        source: field("repository").context("no workspace repository")?,
        licenses: field("license").context("no workspace license")?,
        authors,
        description: "Cephalo: a KrakenD-compatible API gateway".into(),
    })
}

fn write_outputs(set: &ImageSet, meta: &Metadata, dir: &PathBuf) -> Result<()> {
    fs::create_dir_all(dir)?;
    let layout = dir.join("oci");
    set.write_layout(&layout, meta)?;
    eprintln!("    wrote {}", layout.display());
    let mtime = project::commit_time()? as u64;
    let mut digests = format!("index {}\n", set.index.digest);
    for image in &set.images {
        let path = archive_path(image.arch);
        fs::write(&path, image.docker_archive(&[arch_tag(image.arch)], mtime)?)?;
        eprintln!("    wrote {}", path.display());
        let _ = writeln!(digests, "{} manifest {}", image.arch, image.manifest.digest);
        let _ = writeln!(digests, "{} config {}", image.arch, image.config.digest);
    }
    fs::write(dir.join("digests.txt"), digests)?;
    Ok(())
}

fn print_table(set: &ImageSet) {
    let mb = |bytes: u64| bytes as f64 / 1_000_000.0;
    println!(
        "{:<7} {:<5} {:>12} {:>12}  digest",
        "arch", "layer", "compressed", "tar"
    );
    for image in &set.images {
        for layer in &image.layers {
            println!(
                "{:<7} {:<5} {:>9.2} MB {:>9.2} MB  {}",
                image.arch.debian(),
                layer.name,
                mb(layer.blob.data.len() as u64),
                mb(layer.tar_size),
                layer.blob.digest
            );
        }
        let tar: u64 = image.layers.iter().map(|l| l.tar_size).sum();
        println!(
            "{:<7} {:<5} {:>9.2} MB {:>9.2} MB  manifest {}",
            image.arch.debian(),
            "total",
            mb(image.compressed_size()),
            mb(tar),
            image.manifest.digest
        );
        println!(
            "{:<7} {:<5} {:>12} {:>12}  image ID {}",
            image.arch.debian(),
            "",
            "",
            "",
            image.config.digest
        );
    }
    println!("index {}", set.index.digest);
}

fn load(set: &ImageSet, _dir: &std::path::Path) -> Result<()> {
    let native = Arch::native();
    for image in &set.images {
        let path = archive_path(image.arch);
        eprintln!("==> docker load -i {}", path.display());
        docker(&["load", "-q", "-i", path.to_str().context("non-UTF-8 path")?])?;
        if Some(image.arch) == native {
            for tag in release_tags(project::version()) {
                let tag = format!("{REPOSITORY}:{tag}");
                docker(&["tag", &image.config.digest, &tag])?;
                eprintln!("    tagged {tag}");
            }
        }
        eprintln!(
            "    tagged {} ({})",
            arch_tag(image.arch),
            image.config.digest
        );
    }
    Ok(())
}

fn docker(args: &[&str]) -> Result<()> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .context("running docker")?;
    ensure!(
        out.status.success(),
        "docker {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// Re-pins the Debian packages and refreshes the busybox applet list.
fn update_lock() -> Result<()> {
    eprintln!("==> pinning Debian packages");
    let lock = debs::update_lock(&Arch::ALL)?;
    fs::write(Lock::path(), lock.render())?;
    eprintln!("    wrote {}", Lock::path().display());
    if Arch::native() == Some(Arch::Amd64) {
        let deb = debs::fetch(lock.pin("busybox-static", Arch::Amd64)?)?;
        let Some(debs::DebEntry::File { data, .. }) = debs::contents(&deb)?.remove(rootfs::BUSYBOX)
        else {
            anyhow::bail!("busybox-static has no {}", rootfs::BUSYBOX);
        };
        // busybox picks the applet from its file name: it must be called `busybox`.
        let tmp_dir = std::env::temp_dir().join(format!("cephalo-busybox-{}", std::process::id()));
        fs::create_dir_all(&tmp_dir)?;
        let tmp = tmp_dir.join("busybox");
        fs::write(&tmp, data)?;
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))?;
        let out = Command::new(&tmp).arg("--list-full").output();
        let _ = fs::remove_dir_all(&tmp_dir);
        let out = out.context("running busybox --list-full")?;
        ensure!(out.status.success(), "busybox --list-full failed");
        let mut applets: Vec<_> = String::from_utf8(out.stdout)?
            .lines()
            .map(str::to_string)
            .collect();
        applets.sort();
        let mut text = String::from(
            "# Applet links of Debian's busybox-static (`busybox --list-full`), each a symlink to /bin/busybox.\n\
             # Refreshed by `cargo xtask image --update-lock` from the amd64 binary (the arm64 one has the same list).\n",
        );
        for applet in applets {
            let _ = writeln!(text, "{applet}");
        }
        fs::write(project::root().join("images/busybox-applets.txt"), text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_tags_follow_semver() {
        assert_eq!(release_tags("0.1.0"), ["0.1.0", "0.1", "0", "latest"]);
        assert_eq!(release_tags("1.2.3-rc.1"), ["1.2.3-rc.1"]);
    }
}
