//! The built shim, run for real as root: the account files it reads are swapped in a private
//! mount namespace (`unshare --mount` + bind mounts over `/etc/passwd` and `/etc/group`), and
//! the exec'd `krakend` is a script that prints its own `/proc/self/status`.
//!
//! Needs root (CI runs as root); elsewhere each test says it did not run and returns.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SHIM: &str = env!("CARGO_BIN_EXE_docker-entrypoint");

const PASSWD: &str = "\
root:*:0:0:root:/root:/bin/sh
nobody:*:65534:65533:nobody:/nonexistent:/sbin/nologin
krakend:!:1000:65533::/home/krakend:/sbin/nologin
";
const GROUP: &str = "\
root:x:0:
audio:x:29:krakend
video:x:44:alice,krakend
nogroup:x:65533:
";

/// A `krakend` that reports who it runs as: its arguments, HOME, then its status file
/// (via `exec`, so the status is the exec'd process's own).
const FAKE_KRAKEND: &str = "#!/bin/sh
echo \"ARGS=$*\"
echo \"HOME=$HOME\"
exec cat /proc/self/status
";

/// A throw-away directory with the fake `krakend` on a `bin/` and the account files.
struct Sandbox {
    dir: PathBuf,
}

impl Sandbox {
    fn new(name: &str, passwd: &str, group: &str) -> Sandbox {
        let dir =
            std::env::temp_dir().join(format!("cephalo-entrypoint-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("bin")).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let krakend = dir.join("bin/krakend");
        fs::write(&krakend, FAKE_KRAKEND).unwrap();
        fs::set_permissions(&krakend, fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(dir.join("passwd"), passwd).unwrap();
        fs::write(dir.join("group"), group).unwrap();
        Sandbox { dir }
    }

    /// Runs the shim with `args` as root, seeing the sandbox's account files at
    /// `/etc/passwd` and `/etc/group` and its `bin/` first on `PATH`.
    fn run_shim(&self, args: &[&str]) -> Output {
        let path = format!(
            "{}:/usr/sbin:/usr/bin:/sbin:/bin",
            self.dir.join("bin").display()
        );
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(
                "mount --bind \"$1\" /etc/passwd && mount --bind \"$2\" /etc/group && shift 2 \
                 && exec env PATH=\"$PATH_FOR_SHIM\" \"$@\"",
            )
            .arg("sh")
            .arg(self.dir.join("passwd"))
            .arg(self.dir.join("group"))
            .arg(SHIM)
            .args(args)
            .env("PATH_FOR_SHIM", path)
            .env("HOME", "/root")
            .output()
            .expect("running unshare")
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    eprintln!("not run: this test needs root (CI runs as root)");
    false
}

/// The tab-separated values of a `/proc/<pid>/status` field.
fn status_field<'a>(stdout: &'a str, field: &str) -> Vec<&'a str> {
    let prefix = format!("{field}:");
    let line = stdout
        .lines()
        .find(|line| line.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {field} in:\n{stdout}"));
    line[prefix.len()..].split_whitespace().collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn root_running_krakend_drops_to_the_krakend_user_and_its_groups() {
    if !is_root() {
        return;
    }
    let sandbox = Sandbox::new("drop", PASSWD, GROUP);
    let out = sandbox.run_shim(&["run", "-c", "krakend.json"]);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "status {:?}, stderr {}",
        out.status,
        text(&out.stderr)
    );
    assert_eq!(text(&out.stderr), "", "the shim wrote to stderr");

    // The first line is the exec'd command's own: the shim printed nothing on stdout.
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("ARGS=run -c krakend.json"));
    assert_eq!(lines.next(), Some("HOME=/home/krakend"));
    assert_eq!(status_field(&stdout, "Uid"), ["1000"; 4]);
    assert_eq!(status_field(&stdout, "Gid"), ["65533"; 4]);
    assert_eq!(status_field(&stdout, "Groups"), ["29", "44", "65533"]);
    assert_eq!(status_field(&stdout, "CapEff"), ["0000000000000000"]);
    assert_eq!(status_field(&stdout, "CapPrm"), ["0000000000000000"]);
    // The Rust runtime's ignored SIGPIPE is not passed on.
    let ignored = u64::from_str_radix(status_field(&stdout, "SigIgn")[0], 16).unwrap();
    assert_eq!(ignored & (1 << (13 - 1)), 0, "SIGPIPE is ignored");
}

#[test]
fn the_shim_becomes_the_command_without_forking() {
    if !is_root() {
        return;
    }
    let sandbox = Sandbox::new("nofork", PASSWD, GROUP);
    // `sh` prints its pid, then execs the shim; the fake krakend's status must show that pid.
    let out = sandbox.run_shim(&["sh", "-c", "echo PID=$$; exec \"$0\" version", SHIM]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pid = stdout
        .lines()
        .find_map(|l| l.strip_prefix("PID="))
        .expect("pid line");
    assert_eq!(status_field(&stdout, "Pid"), [pid]);
    assert_eq!(status_field(&stdout, "Uid"), ["1000"; 4]);
}

#[test]
fn other_commands_run_as_root_unchanged() {
    if !is_root() {
        return;
    }
    let sandbox = Sandbox::new("asis", PASSWD, GROUP);
    let out = sandbox.run_shim(&["cat", "/proc/self/status"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(status_field(&stdout, "Uid"), ["0"; 4]);
    assert_eq!(status_field(&stdout, "Gid"), ["0"; 4]);

    let out = sandbox.run_shim(&["sh", "-c", "echo \"$HOME\""]);
    assert_eq!(
        text(&out.stdout),
        "/root\n",
        "HOME changed for a non-krakend command"
    );
}

#[test]
fn without_a_krakend_user_root_fails_closed() {
    if !is_root() {
        return;
    }
    let sandbox = Sandbox::new("nouser", "root:*:0:0:root:/root:/bin/sh\n", GROUP);
    let out = sandbox.run_shim(&["run"]);
    assert_eq!(out.status.code(), Some(126));
    assert_eq!(
        text(&out.stdout),
        "",
        "the fake krakend ran or the shim printed"
    );
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("docker-entrypoint: refusing to run krakend as root"),
        "{stderr}"
    );
}

#[test]
fn missing_and_unrunnable_commands_exit_127_and_126_with_one_line() {
    let dir = std::env::temp_dir().join(format!("cephalo-entrypoint-codes-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let plain = dir.join("plain-file");
    fs::write(&plain, "not a program\n").unwrap();

    let cases: [(&[&str], i32, &str); 3] = [
        (
            &["cephalo-absent-command"],
            127,
            "docker-entrypoint: cephalo-absent-command: command not found\n",
        ),
        (
            &["/no/such/dir/cmd"],
            127,
            "docker-entrypoint: /no/such/dir/cmd: no such file or directory\n",
        ),
        (&[plain.to_str().unwrap()], 126, ""),
    ];
    for (args, code, message) in cases {
        let out = Command::new(SHIM).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        assert_eq!(text(&out.stdout), "", "{args:?}");
        let stderr = text(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("docker-entrypoint: "), "{stderr}");
        if !message.is_empty() {
            assert_eq!(stderr, message);
        }
    }
    let _ = fs::remove_dir_all(Path::new(&dir));
}
