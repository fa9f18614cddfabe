//! `cargo xtask ce`.

/// Options of `cargo xtask ce`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the task.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("cargo xtask ce is not implemented yet")
}
