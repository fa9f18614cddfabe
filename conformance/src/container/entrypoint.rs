//! The entrypoint table (image contract §5), every row, in containers.
//!
//! What becomes PID 1 is read from `/proc/1/status` (Uid, Gid, Groups), `/proc/1/cmdline`,
//! `/proc/1/environ` (HOME) and `/proc/1/cwd`, through `docker exec`. Gateway sub-commands
//! like `version` exit at once, so the krakend rows run against a probe image derived from
//! the image under test whose `/usr/bin/krakend` is a shell script that stays up: its PID 1
//! is `/bin/sh /usr/bin/krakend <args>` (the kernel runs scripts that way), which shows the
//! shim's PATH lookup, the arguments and the identity it exec'd with. The real gateway as
//! PID 1 is checked by the gateway group.

use std::time::{Duration, Instant};

use super::engine::{describe, ContainerSpec, Engine, RunOutput, Running};
use super::{ContainerError, Harness, Target, Verdict};

/// The probe standing in for the gateway: it stays up and prints nothing.
const PROBE: &[u8] =
    b"#!/bin/sh\n# conformance probe: stays up so the harness can read /proc/1\nsleep 3600\n";
const READY_LIMIT: Duration = Duration::from_secs(15);
const RUN_LIMIT: Duration = Duration::from_secs(30);

/// Who PID 1 must be.
#[derive(Debug, Clone)]
struct Expected {
    cmdline: Vec<&'static str>,
    uid: u32,
    gid: u32,
    /// Supplementary groups; `None` leaves them to Docker (root rows).
    groups: Option<Vec<u32>>,
    home: &'static str,
}

/// A row of the table observed through PID 1 of a running container.
struct Row {
    name: &'static str,
    probe: bool,
    args: Option<Vec<&'static str>>,
    user: Option<&'static str>,
    entrypoint: Option<&'static str>,
    open_stdin: bool,
    expected: Expected,
}

const SCRIPT: [&str; 2] = ["/bin/sh", "/usr/bin/krakend"];

fn krakend(args: &[&'static str]) -> Expected {
    let mut cmdline = SCRIPT.to_vec();
    cmdline.extend_from_slice(args);
    Expected {
        cmdline,
        uid: 1000,
        gid: 65533,
        groups: Some(vec![65533]),
        home: "/home/krakend",
    }
}

fn row(name: &'static str, args: Option<&[&'static str]>, expected: Expected) -> Row {
    Row {
        name,
        probe: true,
        args: args.map(<[_]>::to_vec),
        user: None,
        entrypoint: None,
        open_stdin: false,
        expected,
    }
}

fn rows() -> Vec<Row> {
    vec![
        row(
            "(nothing: default CMD)",
            None,
            krakend(&["run", "-c", "krakend.json"]),
        ),
        row(
            "run -d -c /etc/krakend/krakend.json",
            Some(&["run", "-d", "-c", "/etc/krakend/krakend.json"]),
            krakend(&["run", "-d", "-c", "/etc/krakend/krakend.json"]),
        ),
        row("help", Some(&["help"]), krakend(&["help"])),
        row("version", Some(&["version"]), krakend(&["version"])),
        row(
            "check -t -c krakend.json",
            Some(&["check", "-t", "-c", "krakend.json"]),
            krakend(&["check", "-t", "-c", "krakend.json"]),
        ),
        row(
            "audit -c krakend.json",
            Some(&["audit", "-c", "krakend.json"]),
            krakend(&["audit", "-c", "krakend.json"]),
        ),
        row(
            "validate -c krakend.json",
            Some(&["validate", "-c", "krakend.json"]),
            krakend(&["validate", "-c", "krakend.json"]),
        ),
        row("--help", Some(&["--help"]), krakend(&["--help"])),
        row("-c x", Some(&["-c", "x"]), krakend(&["-c", "x"])),
        row(
            "krakend help",
            Some(&["krakend", "help"]),
            krakend(&["help"]),
        ),
        Row {
            open_stdin: true,
            probe: false,
            ..row(
                "sh",
                Some(&["sh"]),
                Expected {
                    cmdline: vec!["sh"],
                    uid: 0,
                    gid: 0,
                    groups: None,
                    home: "/root",
                },
            )
        },
        Row {
            user: Some("1234:5678"),
            ..row(
                "--user 1234:5678 IMAGE version",
                Some(&["version"]),
                Expected {
                    // Docker itself gives a numeric --user its gid as the one group.
                    groups: Some(vec![5678]),
                    uid: 1234,
                    gid: 5678,
                    home: "/",
                    ..krakend(&["version"])
                },
            )
        },
        Row {
            entrypoint: Some("sleep"),
            probe: false,
            ..row(
                "--entrypoint sleep IMAGE 3600 (shim bypassed)",
                Some(&["3600"]),
                Expected {
                    cmdline: vec!["sleep", "3600"],
                    uid: 0,
                    gid: 0,
                    groups: None,
                    home: "/root",
                },
            )
        },
    ]
}

/// Runs every row against `target`.
pub async fn checks(harness: &mut Harness, target: &Target) {
    let engine = harness.engine.clone();
    let arch = target.arch.name();
    let probe = format!("cephalo-conformance-probe:{arch}-{}", engine.run_id());
    let built = engine
        .build(
            &probe,
            &[
                (
                    "Dockerfile",
                    format!("FROM {}\nCOPY krakend /usr/bin/krakend\n", target.image).as_bytes(),
                    0o644,
                ),
                ("krakend", PROBE, 0o755),
            ],
            target.platform.as_deref(),
        )
        .await;
    for row in rows() {
        let name = row.name;
        match &built {
            Ok(()) => {
                harness
                    .check(
                        "entrypoint",
                        name,
                        arch,
                        observe(&engine, target, &probe, &row),
                    )
                    .await
            }
            Err(e) => {
                let why = format!("probe image not built: {e}");
                harness
                    .check("entrypoint", name, arch, async { Ok(Verdict::Fail(why)) })
                    .await
            }
        }
    }
    let checks: [(&str, Vec<&str>, Option<&str>); 5] = [
        ("echo hi", vec!["echo", "hi"], None),
        ("id", vec!["id"], None),
        ("--entrypoint date IMAGE", vec![], Some("date")),
        (
            "not found: 127 and one line",
            vec!["cephalo-no-such-command"],
            None,
        ),
        (
            "not executable: 126 and one line",
            vec!["/etc/krakend/krakend.json"],
            None,
        ),
    ];
    for (name, args, entrypoint) in checks {
        harness
            .check(
                "entrypoint",
                name,
                arch,
                short_lived(&engine, target, name, &args, entrypoint),
            )
            .await;
    }
}

async fn observe(
    engine: &Engine,
    target: &Target,
    image: &str,
    row: &Row,
) -> Result<Verdict, ContainerError> {
    let mut spec = ContainerSpec {
        image: if row.probe {
            image.to_string()
        } else {
            target.image.clone()
        },
        ..target.spec()
    };
    if let Some(args) = &row.args {
        spec = spec.args(args);
    }
    if let Some(user) = row.user {
        spec = spec.user(user);
    }
    if let Some(entrypoint) = row.entrypoint {
        spec = spec.entrypoint(entrypoint);
    }
    spec.open_stdin = row.open_stdin;
    let running = engine.start(&spec).await?;
    let verdict = inspect_pid1(&running, target, row, &spec).await;
    let logs = running.logs().await;
    running.remove().await?;
    let mut verdict = verdict?;
    if let (Verdict::Pass(_), Ok(logs)) = (&verdict, logs) {
        if !logs.stdout.is_empty() {
            verdict = Verdict::Fail(format!("stdout is not empty: {:?}", logs.stdout_text()));
        } else if row.probe && !logs.stderr.is_empty() {
            verdict = Verdict::Fail(format!("stderr is not empty: {:?}", logs.stderr_text()));
        }
    }
    Ok(verdict)
}

async fn inspect_pid1(
    running: &Running,
    target: &Target,
    row: &Row,
    spec: &ContainerSpec,
) -> Result<Verdict, ContainerError> {
    let expected = &row.expected;
    // PID 1 is what we expect once the shim has exec'd; poll until then (bounded).
    let deadline = Instant::now() + target.limit(READY_LIMIT);
    let cmdline = loop {
        let out = running
            .exec(&["cat", "/proc/1/cmdline"], Some("0:0"))
            .await?;
        let cmdline = split_nul(&out.stdout);
        if cmdline == expected.cmdline || Instant::now() > deadline {
            break cmdline;
        }
        if !running.is_running().await? {
            return Ok(Verdict::Fail(format!(
                "{} exited before it could be observed",
                describe(spec)
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let status = running
        .exec(&["cat", "/proc/1/status"], Some("0:0"))
        .await?
        .stdout_text();
    let ids = Identity::from_status(&status);
    // /proc/1/environ and cwd are readable by PID 1's own user (Docker grants no ptrace).
    let as_pid1 = format!("{}:{}", ids.uid, ids.gid);
    let environ = running
        .exec(&["cat", "/proc/1/environ"], Some(&as_pid1))
        .await?;
    let home = split_nul(&environ.stdout)
        .into_iter()
        .find_map(|v| v.strip_prefix("HOME=").map(str::to_string));
    let cwd = running
        .exec(&["readlink", "/proc/1/cwd"], Some(&as_pid1))
        .await?
        .stdout_text();

    let mut problems = Vec::new();
    if cmdline != expected.cmdline {
        problems.push(format!(
            "PID 1 is {cmdline:?}, expected {:?}",
            expected.cmdline
        ));
    }
    if ids.uids != [expected.uid; 4] {
        problems.push(format!("Uid {:?}, expected {}", ids.uids, expected.uid));
    }
    if ids.gids != [expected.gid; 4] {
        problems.push(format!("Gid {:?}, expected {}", ids.gids, expected.gid));
    }
    if let Some(groups) = &expected.groups {
        if &ids.groups != groups {
            problems.push(format!("Groups {:?}, expected {groups:?}", ids.groups));
        }
    }
    if home.as_deref() != Some(expected.home) {
        problems.push(format!("HOME {home:?}, expected {:?}", expected.home));
    }
    if cwd.trim_end() != "/etc/krakend" {
        problems.push(format!("cwd {:?}, expected /etc/krakend", cwd.trim_end()));
    }
    Ok(Verdict::from_problems(
        problems,
        format!(
            "PID 1 {:?} uid {} gid {} groups {:?} HOME {}",
            cmdline.join(" "),
            ids.uid,
            ids.gid,
            ids.groups,
            home.unwrap_or_default()
        ),
    ))
}

async fn short_lived(
    engine: &Engine,
    target: &Target,
    name: &str,
    args: &[&str],
    entrypoint: Option<&str>,
) -> Result<Verdict, ContainerError> {
    let mut spec = target.spec();
    if !args.is_empty() {
        spec = spec.args(args);
    }
    if let Some(entrypoint) = entrypoint {
        spec = spec.entrypoint(entrypoint);
    }
    let out = engine.run(&spec, target.limit(RUN_LIMIT)).await?;
    Ok(short_lived_rule(name, &out))
}

fn short_lived_rule(name: &str, out: &RunOutput) -> Verdict {
    let stdout = out.stdout_text();
    let stderr = out.stderr_text();
    let mut problems = Vec::new();
    match name {
        "echo hi" => {
            if out.exit_code != 0 || stdout != "hi\n" || !stderr.is_empty() {
                problems.push(format!(
                    "exit {} stdout {stdout:?} stderr {stderr:?}",
                    out.exit_code
                ));
            }
        }
        "id" => {
            if out.exit_code != 0
                || !stdout.starts_with("uid=0(root) gid=0(root)")
                || stdout.lines().count() != 1
            {
                problems.push(format!("exit {} stdout {stdout:?}", out.exit_code));
            }
        }
        "--entrypoint date IMAGE" => {
            let looks_like_date =
                stdout.lines().count() == 1 && stdout.contains("UTC") && stdout.contains(':');
            if out.exit_code != 0 || !looks_like_date {
                problems.push(format!("exit {} stdout {stdout:?}", out.exit_code));
            }
        }
        _ => {
            let expected_code = if name.starts_with("not found") {
                127
            } else {
                126
            };
            if out.exit_code != expected_code {
                problems.push(format!("exit {}, expected {expected_code}", out.exit_code));
            }
            if !stdout.is_empty() {
                problems.push(format!("stdout {stdout:?}, expected nothing"));
            }
            if stderr.lines().count() != 1 || !stderr.starts_with("docker-entrypoint: ") {
                problems.push(format!(
                    "stderr {stderr:?}, expected one `docker-entrypoint: ` line"
                ));
            }
        }
    }
    Verdict::from_problems(
        problems,
        stdout.trim_end().lines().next().unwrap_or("").to_string(),
    )
}

/// The identity fields of a `/proc/<pid>/status`.
#[derive(Debug, Default, PartialEq)]
struct Identity {
    uid: u32,
    gid: u32,
    uids: Vec<u32>,
    gids: Vec<u32>,
    groups: Vec<u32>,
}

impl Identity {
    fn from_status(status: &str) -> Identity {
        let numbers = |field: &str| -> Vec<u32> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(field))
                .map(|rest| {
                    rest.split_whitespace()
                        .filter_map(|n| n.parse().ok())
                        .collect()
                })
                .unwrap_or_default()
        };
        let uids = numbers("Uid:");
        let gids = numbers("Gid:");
        Identity {
            uid: uids.first().copied().unwrap_or(u32::MAX),
            gid: gids.first().copied().unwrap_or(u32::MAX),
            uids,
            gids,
            groups: numbers("Groups:"),
        }
    }
}

/// The NUL-separated arguments of a `/proc/<pid>/cmdline`, without the emulator: under
/// binfmt_misc with the `P` flag an emulated PID 1 reads `<qemu> <binary path> <argv...>`.
pub fn split_nul(bytes: &[u8]) -> Vec<String> {
    let args: Vec<String> = bytes
        .split(|&b| b == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect();
    let emulated = args.first().is_some_and(|first| {
        let name = first.rsplit('/').next().unwrap_or(first);
        name.starts_with("qemu-") || name.ends_with("-binfmt-P")
    });
    if emulated && args.len() >= 3 {
        args[2..].to_vec()
    } else {
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_parse() {
        let status = "Name:\tsh\nUid:\t1000\t1000\t1000\t1000\nGid:\t65533\t65533\t65533\t65533\nGroups:\t29 65533 \n";
        let ids = Identity::from_status(status);
        assert_eq!(ids.uid, 1000);
        assert_eq!(ids.gids, [65533; 4]);
        assert_eq!(ids.groups, [29, 65533]);
        assert_eq!(
            Identity::from_status("Groups:\t\n").groups,
            Vec::<u32>::new()
        );
    }

    #[test]
    fn cmdline_splits_on_nul() {
        assert_eq!(
            split_nul(b"/bin/sh\0/usr/bin/krakend\0run\0"),
            ["/bin/sh", "/usr/bin/krakend", "run"]
        );
        let emulated =
            b"/usr/libexec/qemu-binfmt/aarch64-binfmt-P\0/bin/sh\0/bin/sh\0/usr/bin/krakend\0run\0";
        assert_eq!(split_nul(emulated), ["/bin/sh", "/usr/bin/krakend", "run"]);
    }

    #[test]
    fn every_krakend_word_row_runs_as_krakend() {
        let rows = rows();
        assert_eq!(rows.len(), 13);
        for row in rows.iter().filter(|r| r.probe && r.user.is_none()) {
            assert_eq!(
                (row.expected.uid, row.expected.gid),
                (1000, 65533),
                "{}",
                row.name
            );
            assert_eq!(&row.expected.cmdline[..2], SCRIPT, "{}", row.name);
        }
    }

    #[test]
    fn shim_errors_need_the_code_and_one_line() {
        let out = |code, stdout: &str, stderr: &str| RunOutput {
            exit_code: code,
            stdout: stdout.into(),
            stderr: stderr.into(),
        };
        let ok = out(127, "", "docker-entrypoint: x: command not found\n");
        assert!(matches!(
            short_lived_rule("not found: 127 and one line", &ok),
            Verdict::Pass(_)
        ));
        let noisy = out(127, "oops\n", "docker-entrypoint: x: command not found\n");
        assert!(matches!(
            short_lived_rule("not found: 127 and one line", &noisy),
            Verdict::Fail(_)
        ));
        let two = out(126, "", "docker-entrypoint: a\nmore\n");
        assert!(matches!(
            short_lived_rule("not executable: 126 and one line", &two),
            Verdict::Fail(_)
        ));
        assert!(matches!(
            short_lived_rule("echo hi", &out(0, "hi\n", "")),
            Verdict::Pass(_)
        ));
        assert!(matches!(
            short_lived_rule("echo hi", &out(0, "x\nhi\n", "")),
            Verdict::Fail(_)
        ));
    }
}
