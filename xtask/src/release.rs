//! `cargo xtask release`: the official-style publishing tree under `<target>/release-tree/`:
//!
//! * `amd64/` and `arm64v8/`: a `Dockerfile` (`FROM scratch`, `ADD rootfs.tar.gz /`, ...)
//!   next to its `rootfs.tar.gz` (the image's layers as one deterministic tarball), as
//!   docker-library's `busybox` and `alpine` images are published;
//! * `cephalo`: the bashbrew manifest (official-images `library/` format);
//! * `dist/`: the release tarballs and `SHA512SUMS`;
//! * `cephalo-<version>.spdx.json`: the SBOM (SPDX 2.3: Rust crates and Debian packages).
//!
//! `--dry-run` assembles everything and lists the files without writing them;
//! `--docker-build` then builds the amd64 Dockerfile with the local engine (classic builder).

pub mod sbom;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{ensure, Context, Result};

use crate::image::debs::Lock;
use crate::image::oci::{canonical_json, Metadata};
use crate::image::platform::{Arch, ArchChoice};
use crate::image::tarball::{self, Tree};
use crate::image::{self, rootfs};
use crate::{dist, project};

/// Options of `cargo xtask release`.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// List the tree's files (size, sha256) instead of writing them.
    #[arg(long)]
    pub dry_run: bool,
    /// Use the binaries of the last `cargo xtask dist` instead of building.
    #[arg(long)]
    pub skip_build: bool,
    /// Cargo profile of the binaries.
    #[arg(long, default_value = "release")]
    pub profile: String,
    /// After writing, `docker build` the amd64 Dockerfile (tag `cephalo:<version>-dockerfile`).
    #[arg(long)]
    pub docker_build: bool,
}

/// Runs the task.
pub fn run(args: Args) -> Result<()> {
    let arches = ArchChoice::All.arches();
    if args.skip_build {
        dist::check_binaries(&arches)?;
    } else {
        dist::build(&arches, &args.profile, false)?;
        dist::write_release_files(&arches, &args.profile)?;
    }
    let lock = Lock::load()?;
    let meta = image::metadata()?;
    let set = image::assemble(&arches, &lock, &meta)?;
    eprintln!("==> release tree");
    let mut tree = Tree::new();
    let mtime = project::commit_time()? as u64;
    let template = fs::read_to_string(project::root().join("images/Dockerfile.template"))?;
    for &arch in &arches {
        let mut rootfs = rootfs::base(arch, &lock)?;
        rootfs.merge(&rootfs::app(&dist::binaries(arch))?)?;
        let dir = arch.bashbrew();
        tree.file(
            format!("{dir}/rootfs.tar.gz"),
            0o644,
            tarball::gzip(&rootfs.to_tar("", mtime)?)?,
        )?;
        tree.file(
            format!("{dir}/Dockerfile"),
            0o644,
            dockerfile(&template, arch, &meta).into_bytes(),
        )?;
    }
    tree.file("cephalo", 0o644, bashbrew(&meta)?.into_bytes())?;
    let dist_dir = dist::dist_dir();
    for &arch in &arches {
        let name = dist::tarball_name(arch);
        tree.file(
            format!("dist/{name}"),
            0o644,
            fs::read(dist_dir.join(&name))?,
        )?;
    }
    tree.file(
        "dist/SHA512SUMS",
        0o644,
        fs::read(dist_dir.join("SHA512SUMS"))?,
    )?;
    eprintln!("    SBOM: cargo metadata for the musl targets");
    let crates = sbom::shipped_crates()?;
    let document = sbom::document(&meta, &set.index.digest, &crates, &lock)?;
    let mut sbom_json = serde_json::to_vec_pretty(&serde_json::from_slice::<serde_json::Value>(
        &canonical_json(&document)?,
    )?)?;
    sbom_json.push(b'\n');
    tree.file(
        format!("cephalo-{}.spdx.json", meta.version),
        0o644,
        sbom_json,
    )?;
    eprintln!(
        "    SBOM: {} crates, {} Debian packages",
        crates.len(),
        lock.pins.len()
    );

    let out = release_dir();
    if args.dry_run {
        for (path, node) in tree.iter() {
            if let tarball::Node::File { data, .. } = node {
                println!(
                    "{:>10}  {}  {}",
                    data.len(),
                    crate::image::debs::sha256_hex(data),
                    path.display()
                );
            }
        }
        println!(
            "(dry run: nothing written; the tree would be {})",
            out.display()
        );
        return Ok(());
    }
    write_tree(&tree, &out)?;
    eprintln!("    wrote {}", out.display());
    if args.docker_build {
        docker_build(
            &out.join(Arch::Amd64.bashbrew()),
            &format!("{}:{}-dockerfile", image::REPOSITORY, meta.version),
        )?;
    }
    Ok(())
}

/// `<target>/release-tree`.
pub fn release_dir() -> PathBuf {
    project::target_dir().join("release-tree")
}

/// The Dockerfile of `arch` from the template.
pub fn dockerfile(template: &str, arch: Arch, meta: &Metadata) -> String {
    let mut labels: Vec<_> = meta.annotations().into_iter().collect();
    labels.sort();
    let labels = labels
        .iter()
        .map(|(key, value)| {
            format!(
                "{key}=\"{}\"",
                value.replace('\\', "\\\\").replace('"', "\\\"")
            )
        })
        .collect::<Vec<_>>()
        .join(" \\\n      ");
    template
        .replace("{{PLATFORM}}", &arch.platform())
        .replace("{{LABELS}}", &labels)
}

/// The official-images manifest (`library/cephalo`): RFC 2822-style header and one entry.
pub fn bashbrew(meta: &Metadata) -> Result<String> {
    let owner = meta
        .source
        .trim_end_matches('/')
        .rsplit('/')
        .nth(1)
        .with_context(|| format!("cannot find the GitHub owner in {}", meta.source))?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# This file is generated by `cargo xtask release`; do not edit."
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Maintainers: {} <{owner}@users.noreply.github.com> (@{owner})",
        meta.authors
    );
    let _ = writeln!(out, "GitRepo: {}.git", meta.source.trim_end_matches(".git"));
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Tags: {}",
        image::release_tags(&meta.version).join(", ")
    );
    let arches: Vec<_> = Arch::ALL.iter().map(|a| a.bashbrew()).collect();
    let _ = writeln!(out, "Architectures: {}", arches.join(", "));
    let _ = writeln!(out, "GitCommit: {}", meta.revision);
    for (i, arch) in Arch::ALL.iter().enumerate() {
        if i == 0 {
            let _ = writeln!(out, "Directory: {}", arch.bashbrew());
        } else {
            let _ = writeln!(out, "{}-Directory: {}", arch.bashbrew(), arch.bashbrew());
        }
    }
    Ok(out)
}

fn write_tree(tree: &Tree, out: &Path) -> Result<()> {
    if out.exists() {
        fs::remove_dir_all(out).with_context(|| format!("removing {}", out.display()))?;
    }
    for (path, node) in tree.iter() {
        if let tarball::Node::File { data, .. } = node {
            let target = out.join(path);
            fs::create_dir_all(target.parent().expect("tree files have parents"))?;
            fs::write(&target, data).with_context(|| format!("writing {}", target.display()))?;
        }
    }
    Ok(())
}

/// Builds `dir`'s Dockerfile with the classic builder (Docker 20.10 on these machines has
/// no buildx; the classic builder needs no registry for `FROM scratch`).
fn docker_build(dir: &Path, tag: &str) -> Result<()> {
    eprintln!(
        "==> DOCKER_BUILDKIT=0 docker build -t {tag} {}",
        dir.display()
    );
    let status = Command::new("docker")
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-q", "--build-arg", "TARGETARCH=amd64", "-t", tag])
        .arg(dir)
        .status()
        .context("running docker build")?;
    ensure!(
        status.success(),
        "docker build of {} failed ({status})",
        dir.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Metadata {
        Metadata {
            version: "1.2.3".into(),
            revision: "0123456789abcdef0123456789abcdef01234567".into(),
            created: "2026-01-02T03:04:05Z".into(),
            source: "https://github.com/cephalo-gateway/cephalo".into(),
            licenses: "Apache-2.0".into(),
            authors: "Cephalo developers".into(),
            description: "a \"quoted\" gateway".into(),
        }
    }

    #[test]
    fn bashbrew_manifest_follows_the_official_images_format() {
        let text = bashbrew(&meta()).unwrap();
        let body: Vec<_> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            body,
            [
                "",
                "Maintainers: Cephalo developers <cephalo-gateway@users.noreply.github.com> (@cephalo-gateway)",
                "GitRepo: https://github.com/cephalo-gateway/cephalo.git",
                "",
                "Tags: 1.2.3, 1.2, 1, latest",
                "Architectures: amd64, arm64v8",
                "GitCommit: 0123456789abcdef0123456789abcdef01234567",
                "Directory: amd64",
                "arm64v8-Directory: arm64v8",
            ]
        );
    }

    #[test]
    fn dockerfile_has_the_contract_instructions_and_escaped_labels() {
        let template =
            fs::read_to_string(project::root().join("images/Dockerfile.template")).unwrap();
        let text = dockerfile(&template, Arch::Arm64, &meta());
        assert!(!text.contains("{{"), "unfilled placeholder:\n{text}");
        assert!(text.contains("linux/arm64/v8"));
        let instructions: Vec<_> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with(' ') && !l.is_empty())
            .map(|l| l.split_whitespace().next().unwrap())
            .collect();
        assert_eq!(
            instructions,
            [
                "FROM",
                "ADD",
                "ENV",
                "WORKDIR",
                "LABEL",
                "EXPOSE",
                "ENTRYPOINT",
                "CMD"
            ]
        );
        assert!(text.contains("FROM scratch\nADD rootfs.tar.gz /\n"));
        assert!(text.contains(r#"org.opencontainers.image.description="a \"quoted\" gateway""#));
        assert!(text.contains(r#"CMD ["krakend", "run", "-c", "krakend.json"]"#));
        assert_eq!(text.matches("org.opencontainers.image.").count(), 8);
    }
}
