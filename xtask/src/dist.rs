//! `cargo xtask dist`.

/// Options of `cargo xtask dist`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the task.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("cargo xtask dist is not implemented yet")
}
