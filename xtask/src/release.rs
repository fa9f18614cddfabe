//! `cargo xtask release`.

/// Options of `cargo xtask release`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the task.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("cargo xtask release is not implemented yet")
}
