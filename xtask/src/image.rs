//! `cargo xtask image`.

/// Options of `cargo xtask image`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the task.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("cargo xtask image is not implemented yet")
}
