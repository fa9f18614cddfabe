//! The image's ENTRYPOINT shim (image contract §5).
//!
//! Puts `krakend` in front of gateway sub-commands and flags, drops root to the `krakend`
//! user for the gateway, and execs the command in its place: it never forks (the command
//! becomes PID 1 and gets `docker stop`'s SIGTERM) and never writes to stdout. Its own
//! failures are one line on stderr, prefixed `docker-entrypoint: `, and exit status 126
//! (found but not runnable, or the drop failed) or 127 (not found).
#![forbid(unsafe_code)]

mod accounts;
mod decision;
mod exec;
mod privileges;

use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

use decision::{decide, needs_accounts, Decision};

/// Exit status when the shim refuses to run the command (the drop failed or is impossible).
const REFUSED: u8 = 126;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let euid = nix::unistd::geteuid().as_raw();
    let (passwd, group) = if needs_accounts(&args, euid) {
        match (read_accounts("/etc/passwd"), read_accounts("/etc/group")) {
            (Ok(passwd), Ok(group)) => (passwd, group),
            (Err(message), _) | (_, Err(message)) => return fail(REFUSED, message),
        }
    } else {
        (String::new(), String::new())
    };

    let error = match decide(&args, euid, &passwd, &group) {
        Decision::ExecAsIs { argv } => exec::exec(&argv, None),
        Decision::DropThenExec { argv, identity } => {
            if let Err(error) = privileges::drop_to(&identity) {
                return fail(REFUSED, error);
            }
            exec::exec(&argv, Some(&identity.home))
        }
        Decision::Error(error) => return fail(REFUSED, error),
    };
    fail(error.exit_status(), error)
}

/// The text of an account file; a missing file reads as empty (no accounts), like libc.
fn read_accounts(path: &str) -> Result<String, String> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(format!("cannot read {path}: {e}")),
    }
}

/// Writes `docker-entrypoint: <message>` as one line on stderr and exits with `status`.
fn fail(status: u8, message: impl std::fmt::Display) -> ExitCode {
    let line = format!("docker-entrypoint: {message}\n");
    // Nothing more can be done when stderr is gone; the exit status still tells.
    let _ = io::stderr().write_all(line.as_bytes());
    ExitCode::from(status)
}
