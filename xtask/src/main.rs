//! `cargo xtask`: Cephalo's automation, one module per task.
//!
//! Every task has `--help`. Tasks that take long print progress on stderr.

mod bench;
mod ce;
mod conformance;
mod dist;
mod image;
mod project;
mod release;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Cephalo's build, release and test automation"
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Cross-compile static musl binaries and write release tarballs.
    Dist(dist::Args),
    /// Assemble the multi-arch OCI image without a Docker daemon.
    Image(image::Args),
    /// Write the official-style publishing tree (Dockerfiles, bashbrew manifest, SBOM).
    Release(release::Args),
    /// Run the container conformance checks against an image.
    Conformance(conformance::Args),
    /// Run the KrakenD CE integration specs against a gateway binary.
    Ce(ce::Args),
    /// Run the load and start-up benchmarks against peer proxies.
    Bench(bench::Args),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::Dist(args) => dist::run(args),
        Task::Image(args) => image::run(args),
        Task::Release(args) => release::run(args),
        Task::Conformance(args) => conformance::run(args),
        Task::Ce(args) => ce::run(args),
        Task::Bench(args) => bench::run(args),
    }
}
