//! Replacing the shim with the command: `execvp` with a shell's exit codes, no fork.
//!
//! `std`'s `CommandExt::exec` execs in place (no fork) and, unlike a bare `execvp`, first
//! restores what the Rust runtime changed at start-up: `SIGPIPE` back to its default
//! action and an empty signal mask. Without that the command would inherit an ignored
//! `SIGPIPE` (`yes | head` would spin on EPIPE instead of dying).

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where commands are looked up when `PATH` is unset: the image's `PATH`.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Why the command could not be exec'd, with a shell's exit status.
#[derive(Debug)]
pub struct ExecError {
    program: OsString,
    kind: ExecErrorKind,
}

#[derive(Debug)]
enum ExecErrorKind {
    /// Nothing by that name on `PATH` (or the path does not exist): status 127.
    NotFound,
    /// The file exists but the kernel refused it: status 126.
    NotRunnable(io::Error),
}

impl ExecError {
    /// The exit status a shell gives for this failure (127 not found, 126 not runnable).
    pub fn exit_status(&self) -> u8 {
        match self.kind {
            ExecErrorKind::NotFound => 127,
            ExecErrorKind::NotRunnable(_) => 126,
        }
    }
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let program = Path::new(&self.program).display();
        match &self.kind {
            ExecErrorKind::NotFound if has_slash(&self.program) => {
                write!(f, "{program}: no such file or directory")
            }
            ExecErrorKind::NotFound => write!(f, "{program}: command not found"),
            ExecErrorKind::NotRunnable(e) if e.kind() == io::ErrorKind::NotFound => write!(
                f,
                "{program}: cannot execute: its interpreter or dynamic loader is missing"
            ),
            ExecErrorKind::NotRunnable(e) => write!(f, "{program}: cannot execute: {e}"),
        }
    }
}

/// Execs `argv` (looking `argv[0]` up on `PATH` unless it holds a `/`), with `HOME` set
/// when `home` is given. Returns only on failure.
pub fn exec(argv: &[OsString], home: Option<&str>) -> ExecError {
    let (program, args) = argv
        .split_first()
        .expect("the decision always yields a program");
    let mut command = Command::new(program);
    command.args(args);
    if let Some(home) = home {
        command.env("HOME", home);
    }
    if std::env::var_os("PATH").is_none() {
        command.env("PATH", DEFAULT_PATH);
    }
    let error = command.exec();
    classify(program, error)
}

/// Turns `execvp`'s error into not-found or not-runnable. `ENOENT` means not found unless a
/// file by that name does exist (then its ELF interpreter or `#!` interpreter is missing).
fn classify(program: &OsString, error: io::Error) -> ExecError {
    let not_found = matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    );
    let path = std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    let kind = if not_found && candidates(program, &path).iter().all(|p| !p.is_file()) {
        ExecErrorKind::NotFound
    } else {
        ExecErrorKind::NotRunnable(error)
    };
    ExecError {
        program: program.clone(),
        kind,
    }
}

/// The paths `execvp` tries for `program`, in order.
fn candidates(program: &OsString, path: &OsStr) -> Vec<PathBuf> {
    if has_slash(program) {
        return vec![PathBuf::from(program)];
    }
    path.as_bytes()
        .split(|&b| b == b':')
        .map(|dir| {
            // An empty PATH element means the current directory.
            let dir = if dir.is_empty() { b".".as_slice() } else { dir };
            Path::new(OsStr::from_bytes(dir)).join(program)
        })
        .collect()
}

fn has_slash(program: &OsString) -> bool {
    program.as_bytes().contains(&b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_command_is_127_with_a_shell_like_message() {
        let error = exec(&["cephalo-no-such-command-x".into()], None);
        assert_eq!(error.exit_status(), 127);
        assert_eq!(
            error.to_string(),
            "cephalo-no-such-command-x: command not found"
        );
    }

    #[test]
    fn missing_path_is_127() {
        let error = exec(&["/nonexistent/dir/cmd".into()], None);
        assert_eq!(error.exit_status(), 127);
        assert_eq!(
            error.to_string(),
            "/nonexistent/dir/cmd: no such file or directory"
        );
    }

    #[test]
    fn a_file_without_execute_permission_is_126() {
        let dir = std::env::temp_dir().join(format!("entrypoint-exec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("not-executable");
        std::fs::write(&file, "#!/bin/sh\n").unwrap();
        let error = exec(&[file.clone().into_os_string()], None);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(error.exit_status(), 126);
        assert!(error.to_string().contains("cannot execute"), "{error}");
    }

    #[test]
    fn a_directory_is_126() {
        let error = exec(&["/".into()], None);
        assert_eq!(error.exit_status(), 126);
    }

    #[test]
    fn candidates_follow_path_and_empty_elements_mean_current_directory() {
        let path = OsStr::new("/a::/b/c:");
        assert_eq!(candidates(&"./x".into(), path), vec![PathBuf::from("./x")]);
        assert_eq!(
            candidates(&"sh".into(), path),
            ["/a/sh", "./sh", "/b/c/sh", "./sh"].map(PathBuf::from)
        );
    }
}
