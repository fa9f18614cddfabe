//! Dockerfile parity: the image `docker build` makes from the `cargo xtask release` tree
//! (`<arch>/Dockerfile` + `rootfs.tar.gz`) has the same configuration and filesystem listing
//! as the daemonless image of the same architecture.

use std::path::Path;

use serde_json::Value;

use super::contract::{config_view, filesystem};
use super::engine::{Engine, RUN_LABEL};
use super::{listing, Arch, ContainerError, Harness, Verdict};

/// Runs the parity check for every architecture under test.
pub async fn checks(harness: &mut Harness) {
    let Some(tree) = harness.options.release_tree.clone() else {
        for arch in harness.options.arches.clone() {
            harness.skip(
                "parity",
                "Dockerfile build equals daemonless image",
                arch.name(),
                "no release tree given",
            );
        }
        return;
    };
    let engine = harness.engine.clone();
    for arch in harness.options.arches.clone() {
        let daemonless = super::image_for(&harness.options, arch, Arch::native());
        let dir = tree.join(arch.tag_suffix());
        harness
            .check(
                "parity",
                "Dockerfile build equals daemonless image",
                arch.name(),
                parity(&engine, arch, &dir, &daemonless),
            )
            .await;
    }
}

async fn parity(
    engine: &Engine,
    arch: Arch,
    dir: &Path,
    daemonless: &str,
) -> Result<Verdict, ContainerError> {
    if !dir.join("Dockerfile").is_file() {
        return Ok(Verdict::Fail(format!(
            "{} has no Dockerfile: run `cargo xtask release` first",
            dir.display()
        )));
    }
    let Some(reference) = engine.inspect_image(daemonless).await? else {
        return Ok(Verdict::Fail(format!(
            "no image {daemonless}: run `cargo xtask image --load`"
        )));
    };
    let mut files = Vec::new();
    for entry in
        std::fs::read_dir(dir).map_err(|e| ContainerError::Io(format!("{}: {e}", dir.display())))?
    {
        let entry = entry.map_err(|e| ContainerError::Io(e.to_string()))?;
        if entry.path().is_file() {
            let bytes =
                std::fs::read(entry.path()).map_err(|e| ContainerError::Io(e.to_string()))?;
            files.push((entry.file_name().to_string_lossy().into_owned(), bytes));
        }
    }
    let context: Vec<(&str, &[u8], u32)> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice(), 0o644))
        .collect();
    let tag = format!(
        "cephalo-conformance-parity:{}-{}",
        arch.name(),
        engine.run_id()
    );
    engine.build(&tag, &context, Some(arch.platform())).await?;
    let built = engine
        .inspect_image(&tag)
        .await?
        .ok_or_else(|| ContainerError::Io(format!("{tag} vanished after the build")))?;

    let mut problems = Vec::new();
    let mut ours = config_view(&reference);
    let mut theirs = config_view(&built);
    // The harness labels what it builds (for its clean-up); that label is not the tree's.
    if let Some(labels) = theirs["Labels"].as_object_mut() {
        labels.remove(RUN_LABEL);
    }
    let mut note = String::new();
    if arch == Arch::Arm64 && theirs["Variant"].is_null() {
        // Docker 20.10's builder leaves Variant empty for arm64; it is the engine's doing.
        ours["Variant"] = Value::Null;
        theirs["Variant"] = Value::Null;
        note = "Variant ignored: the engine's builder does not set it".into();
    }
    if ours != theirs {
        problems.push(format!(
            "config differs:\n{}",
            diff(&pretty(&ours), &pretty(&theirs))
        ));
    }
    let ours = listing::render(&filesystem(engine, daemonless).await?);
    let theirs = listing::render(&filesystem(engine, &tag).await?);
    if ours != theirs {
        problems.push(format!("filesystem differs:\n{}", diff(&ours, &theirs)));
    }
    Ok(Verdict::from_problems(problems, note))
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// Lines only in `a` (`-`) and only in `b` (`+`), at most 20.
fn diff(a: &str, b: &str) -> String {
    let only_a = a
        .lines()
        .filter(|l| !b.lines().any(|m| m == *l))
        .map(|l| format!("- {l}"));
    let only_b = b
        .lines()
        .filter(|l| !a.lines().any(|m| m == *l))
        .map(|l| format!("+ {l}"));
    only_a.chain(only_b).take(20).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_lists_lines_of_each_side() {
        assert_eq!(diff("a\nb\n", "a\nc\n"), "- b\n+ c");
        assert_eq!(diff("a\n", "a\n"), "");
    }
}
