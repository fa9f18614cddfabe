//! `cargo xtask conformance [IMAGE]`: the container conformance checks of
//! `conformance::container` against a Docker engine; prints a table, writes
//! `<target>/conformance/report.{md,json}` and ends with `N passed, M failed, K skipped`.

use std::fs;

use anyhow::{bail, Context, Result};
use conformance::container::{self, Arch, ContainerError, Options};

use crate::project;

/// Options of `cargo xtask conformance`.
#[derive(clap::Args)]
pub struct Args {
    /// The image of the native architecture (default: `cephalo:<version>`, as
    /// `cargo xtask image --load` tags it). Other architectures use `<IMAGE>-<arm64v8>`.
    pub image: Option<String>,
    /// Architectures to check.
    #[arg(long, value_enum, default_value = "all")]
    pub arch: ArchChoice,
    /// The arm64 image, when not `<IMAGE>-arm64v8`.
    #[arg(long)]
    pub arm64_image: Option<String>,
    /// Without a Docker engine, say so and exit 0 instead of failing.
    #[arg(long)]
    pub allow_no_docker: bool,
    /// The `cargo xtask release` tree for the Dockerfile parity check
    /// (default: `<target>/release-tree`).
    #[arg(long)]
    pub release_tree: Option<std::path::PathBuf>,
    /// Only checks whose `group/name` contains this text (repeatable).
    #[arg(long)]
    pub filter: Vec<String>,
}

/// `--arch`.
#[derive(clap::ValueEnum, Clone, Copy)]
pub enum ArchChoice {
    Amd64,
    Arm64,
    All,
}

/// Runs the task.
pub fn run(args: Args) -> Result<()> {
    let root = project::root();
    let image = args
        .image
        .unwrap_or_else(|| format!("cephalo:{}", project::version()));
    let arches = match args.arch {
        ArchChoice::Amd64 => vec![Arch::Amd64],
        ArchChoice::Arm64 => vec![Arch::Arm64],
        ArchChoice::All => vec![Arch::Amd64, Arch::Arm64],
    };
    let options = Options {
        image,
        arches,
        arch_images: args
            .arm64_image
            .map(|i| vec![(Arch::Arm64, i)])
            .unwrap_or_default(),
        release_tree: Some(
            args.release_tree
                .unwrap_or_else(|| project::target_dir().join("release-tree")),
        ),
        ce_tests: conformance::ce::upstream_dir(&root),
        filters: args.filter,
    };
    let report = match container::run_blocking(options) {
        Ok(report) => report,
        Err(ContainerError::NoEngine(why)) if args.allow_no_docker => {
            println!("conformance: no Docker engine ({why}); nothing checked (--allow-no-docker)");
            return Ok(());
        }
        Err(ContainerError::NoEngine(why)) => {
            bail!("no Docker engine reachable ({why}); pass --allow-no-docker to accept that")
        }
        Err(e) => return Err(e).context("the conformance harness could not run"),
    };

    let dir = project::target_dir().join("conformance");
    fs::create_dir_all(&dir)?;
    fs::write(dir.join("report.md"), report.markdown())?;
    fs::write(dir.join("report.json"), report.json())?;
    print!("{}", report.table());
    for note in &report.notes {
        println!("note: {note}");
    }
    println!(
        "report: {} ({:.1} s)",
        dir.join("report.md").display(),
        report.seconds
    );
    println!("{}", report.summary_line());
    if report.totals().failed > 0 {
        bail!("{} conformance check(s) failed", report.totals().failed);
    }
    Ok(())
}
