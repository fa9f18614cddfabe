//! Running the arm64 image on an amd64 machine: binfmt_misc with Debian's qemu-aarch64
//! registered with the `F` (fix-binary) flag, so the interpreter works inside containers.
//! Where that cannot be set up, the arm64 binaries run under `qemu-aarch64-static`
//! directly and the report says so.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::listing;
use super::{Arch, Harness, Target, Verdict};

const BINFMT: &str = "/proc/sys/fs/binfmt_misc";
/// Debian `qemu-user-static`'s registration line for aarch64.
const DEBIAN_ENTRY: &str = "/usr/lib/binfmt.d/qemu-aarch64.conf";
const QEMU: &str = "/usr/bin/qemu-aarch64-static";

/// Makes sure `arch` binaries run here; returns how (for the report) or why not.
pub fn ensure_emulation(arch: Arch) -> Result<String, String> {
    if arch != Arch::Arm64 {
        return Err(format!("no emulation set-up known for {}", arch.name()));
    }
    if !Path::new(BINFMT).join("status").exists() {
        let status = Command::new("mount")
            .args(["-t", "binfmt_misc", "binfmt_misc", BINFMT])
            .status()
            .map_err(|e| format!("mount binfmt_misc: {e}"))?;
        if !status.success() {
            return Err(format!(
                "mount -t binfmt_misc failed ({status}); root is needed"
            ));
        }
    }
    let entry = Path::new(BINFMT).join("qemu-aarch64");
    if let Ok(current) = std::fs::read_to_string(&entry) {
        let enabled = current.lines().next() == Some("enabled");
        let fixed = current
            .lines()
            .find_map(|l| l.strip_prefix("flags: "))
            .is_some_and(|f| f.contains('F'));
        if enabled && fixed {
            return Ok(
                "arm64 runs under qemu-aarch64 through binfmt_misc (already registered, F flag)"
                    .into(),
            );
        }
        // Registered without F: the interpreter path does not exist inside containers.
        std::fs::write(&entry, "-1")
            .map_err(|e| format!("removing the old qemu-aarch64 entry: {e}"))?;
    }
    let line = std::fs::read_to_string(DEBIAN_ENTRY)
        .map_err(|e| format!("{DEBIAN_ENTRY}: {e} (apt-get install qemu-user-static)"))?;
    let line = with_fix_binary_flag(line.trim());
    std::fs::write(Path::new(BINFMT).join("register"), &line)
        .map_err(|e| format!("registering qemu-aarch64: {e}"))?;
    Ok(
        "arm64 runs under qemu-aarch64 through binfmt_misc (registered by the harness, F flag)"
            .into(),
    )
}

/// The registration line with `F` added to its flags (the last field).
fn with_fix_binary_flag(line: &str) -> String {
    match line.rsplit_once(':') {
        Some((head, flags)) if !flags.contains('F') => format!("{head}:{flags}F"),
        _ => line.to_string(),
    }
}

/// Without binfmt: the arm64 gateway and shim run under `qemu-aarch64-static` on the host.
pub async fn fallback_checks(harness: &mut Harness, target: &Target) {
    let arch = target.arch.name();
    for group in ["library", "entrypoint", "gateway", "fc", "ce"] {
        harness.skip(
            group,
            "(all)",
            arch,
            "no binfmt_misc emulation: see the qemu-aarch64-static checks",
        );
    }
    if !Path::new(QEMU).exists() {
        harness.skip(
            "arm64-qemu",
            "binaries",
            arch,
            "qemu-aarch64-static is not installed",
        );
        return;
    }
    let engine = harness.engine.clone();
    let archive = match engine.save(&target.image).await {
        Ok(a) => a,
        Err(e) => {
            let why = e.to_string();
            harness
                .check("arm64-qemu", "binaries", arch, async {
                    Ok(Verdict::Fail(why))
                })
                .await;
            return;
        }
    };
    let dir = std::env::temp_dir().join(format!("cephalo-conformance-{}-qemu", engine.run_id()));
    let _ = std::fs::create_dir_all(&dir);
    for (name, path) in [
        ("krakend", "/usr/bin/krakend"),
        ("docker-entrypoint", "/usr/local/bin/docker-entrypoint"),
    ] {
        if let Ok(Some(bytes)) = listing::extract_file(&archive, path) {
            let _ = std::fs::write(dir.join(name), bytes);
        }
    }
    let qemu = |args: &[&str]| {
        let mut command = Command::new(QEMU);
        command.args(args).current_dir(&dir);
        command.output()
    };
    let gateway = dir.join("krakend");
    let shim = dir.join("docker-entrypoint");
    let version = qemu(&[gateway.to_str().unwrap_or_default(), "version"]);
    harness
        .check("arm64-qemu", "krakend version", arch, async move {
            Ok(match version {
                Ok(out) if out.status.success() => {
                    Verdict::Pass(String::from_utf8_lossy(&out.stdout).trim().to_string())
                }
                Ok(out) => Verdict::Fail(format!(
                    "{}: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                )),
                Err(e) => Verdict::Fail(e.to_string()),
            })
        })
        .await;
    let echo = qemu(&[shim.to_str().unwrap_or_default(), "echo", "hi"]);
    harness
        .check(
            "arm64-qemu",
            "docker-entrypoint echo hi",
            arch,
            async move {
                Ok(match echo {
                    Ok(out) if out.status.success() && out.stdout == b"hi\n" => {
                        Verdict::Pass(String::new())
                    }
                    Ok(out) => Verdict::Fail(format!(
                        "{} stdout {:?}",
                        out.status,
                        String::from_utf8_lossy(&out.stdout)
                    )),
                    Err(e) => Verdict::Fail(e.to_string()),
                })
            },
        )
        .await;
    tokio::time::sleep(Duration::ZERO).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fix_binary_flag_is_added_once() {
        assert_eq!(
            with_fix_binary_flag(":qemu-aarch64:M::\\x7fELF:\\xff:/usr/libexec/q:OP"),
            ":qemu-aarch64:M::\\x7fELF:\\xff:/usr/libexec/q:OPF"
        );
        assert_eq!(with_fix_binary_flag(":q:M::m:k:/i:OPF"), ":q:M::m:k:/i:OPF");
    }
}
