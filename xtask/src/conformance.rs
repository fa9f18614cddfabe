//! `cargo xtask conformance`.

/// Options of `cargo xtask conformance`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the task.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("cargo xtask conformance is not implemented yet")
}
