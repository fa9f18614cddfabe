//! What the shim does with its arguments: the pure heart of the image contract §5.
//!
//! No system call happens here; `main` feeds in the arguments, the effective uid and the
//! account files, and carries out the [`Decision`].

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;

use crate::accounts::{find_user, supplementary_groups};

/// The command and user name the shim runs the gateway as.
pub const KRAKEND: &str = "krakend";

/// First words that are gateway sub-commands and get `krakend` put in front of them.
const KRAKEND_WORDS: [&str; 8] = [
    "run",
    "version",
    "check",
    "check-plugin",
    "test-plugin",
    "validate",
    "audit",
    "help",
];

/// What to do with the arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Exec `argv` (PATH lookup) as whoever the shim runs as.
    ExecAsIs { argv: Vec<OsString> },
    /// Switch to `identity`, then exec `argv` with `HOME` set to its home.
    DropThenExec {
        argv: Vec<OsString>,
        identity: Identity,
    },
    /// Refuse to run anything (fail closed).
    Error(DecisionError),
}

/// The unprivileged user the gateway runs as when the container starts as root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    /// Every group the process keeps: the primary gid first, then the supplementary ones.
    pub groups: Vec<u32>,
    pub home: String,
}

/// Why the shim refuses to run the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecisionError {
    /// `/etc/passwd` has no well-formed `krakend` entry.
    NoKrakendUser,
    /// The `krakend` entry has uid 0: dropping to it would keep root.
    KrakendIsRoot,
}

impl fmt::Display for DecisionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoKrakendUser => write!(
                f,
                "refusing to run {KRAKEND} as root: no '{KRAKEND}' user in /etc/passwd"
            ),
            Self::KrakendIsRoot => write!(
                f,
                "refusing to run {KRAKEND} as root: the '{KRAKEND}' user in /etc/passwd has uid 0"
            ),
        }
    }
}

/// `args` (without the shim's own name) with `krakend` put in front when the first one is
/// absent, empty, a flag, or a gateway sub-command.
pub fn with_krakend_prefix(args: &[OsString]) -> Vec<OsString> {
    let prefixed = match args.first() {
        None => true,
        Some(first) => is_krakend_argument(first),
    };
    let mut argv = Vec::with_capacity(args.len() + 1);
    if prefixed {
        argv.push(OsString::from(KRAKEND));
    }
    argv.extend_from_slice(args);
    argv
}

/// Whether carrying out [`decide`] for these arguments needs the account files: only a
/// `krakend` command started as root reads them.
pub fn needs_accounts(args: &[OsString], euid: u32) -> bool {
    euid == 0 && runs_krakend(&with_krakend_prefix(args))
}

/// Decides what to run and as whom, from the arguments, the effective uid, and the text of
/// `/etc/passwd` and `/etc/group` (only read when [`needs_accounts`] says so).
pub fn decide(args: &[OsString], euid: u32, passwd: &str, group: &str) -> Decision {
    let argv = with_krakend_prefix(args);
    if euid != 0 || !runs_krakend(&argv) {
        return Decision::ExecAsIs { argv };
    }
    match krakend_identity(passwd, group) {
        Ok(identity) => Decision::DropThenExec { argv, identity },
        Err(error) => Decision::Error(error),
    }
}

fn is_krakend_argument(first: &OsStr) -> bool {
    let bytes = first.as_bytes();
    bytes.is_empty()
        || bytes.starts_with(b"-")
        || KRAKEND_WORDS.iter().any(|word| word.as_bytes() == bytes)
}

fn runs_krakend(argv: &[OsString]) -> bool {
    argv.first().is_some_and(|first| first == KRAKEND)
}

fn krakend_identity(passwd: &str, group: &str) -> Result<Identity, DecisionError> {
    let entry = find_user(passwd, KRAKEND).ok_or(DecisionError::NoKrakendUser)?;
    if entry.uid == 0 {
        return Err(DecisionError::KrakendIsRoot);
    }
    let mut groups = vec![entry.gid];
    for gid in supplementary_groups(group, KRAKEND) {
        if !groups.contains(&gid) {
            groups.push(gid);
        }
    }
    Ok(Identity {
        uid: entry.uid,
        gid: entry.gid,
        groups,
        // An empty home would leave HOME empty; `/` is what login tools use instead.
        home: if entry.home.is_empty() {
            "/".to_string()
        } else {
            entry.home
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The accounts of the image (image contract §3).
    const PASSWD: &str = "\
root:*:0:0:root:/root:/bin/sh
nobody:*:65534:65533:nobody:/nonexistent:/sbin/nologin
krakend:!:1000:65533::/home/krakend:/sbin/nologin
";
    const GROUP: &str = "\
root:x:0:
nogroup:x:65533:
";

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn image_krakend() -> Identity {
        Identity {
            uid: 1000,
            gid: 65533,
            groups: vec![65533],
            home: "/home/krakend".into(),
        }
    }

    fn dropped(argv: &[&str]) -> Decision {
        Decision::DropThenExec {
            argv: os(argv),
            identity: image_krakend(),
        }
    }

    fn as_is(argv: &[&str]) -> Decision {
        Decision::ExecAsIs { argv: os(argv) }
    }

    /// Every row of the image contract §5 table, started as root with the image's accounts.
    /// (`--entrypoint date` bypasses the shim, so it has no row here; the container test
    /// covers it.)
    #[test]
    fn contract_table_as_root() {
        let table: &[(&[&str], Decision)] = &[
            // (nothing: default CMD) is the image's CMD
            (
                &["krakend", "run", "-c", "krakend.json"],
                dropped(&["krakend", "run", "-c", "krakend.json"]),
            ),
            // nothing at all (an empty CMD)
            (&[], dropped(&["krakend"])),
            (
                &["run", "-d", "-c", "/etc/krakend/krakend.json"],
                dropped(&["krakend", "run", "-d", "-c", "/etc/krakend/krakend.json"]),
            ),
            (&["help"], dropped(&["krakend", "help"])),
            (&["version"], dropped(&["krakend", "version"])),
            (
                &["check", "-t", "-c", "krakend.json"],
                dropped(&["krakend", "check", "-t", "-c", "krakend.json"]),
            ),
            (
                &["audit", "-c", "krakend.json"],
                dropped(&["krakend", "audit", "-c", "krakend.json"]),
            ),
            (
                &["validate", "-c", "krakend.json"],
                dropped(&["krakend", "validate", "-c", "krakend.json"]),
            ),
            (&["check-plugin"], dropped(&["krakend", "check-plugin"])),
            (
                &["test-plugin", "x"],
                dropped(&["krakend", "test-plugin", "x"]),
            ),
            (&["--help"], dropped(&["krakend", "--help"])),
            (&["-c", "x"], dropped(&["krakend", "-c", "x"])),
            (&["krakend", "help"], dropped(&["krakend", "help"])),
            (&["sh"], as_is(&["sh"])),
            (&["echo", "hi"], as_is(&["echo", "hi"])),
            (&["id"], as_is(&["id"])),
        ];
        for (args, expected) in table {
            assert_eq!(
                &decide(&os(args), 0, PASSWD, GROUP),
                expected,
                "args {args:?}"
            );
        }
    }

    /// `--user 1234:5678` and OpenShift's random uids: never a drop, the prefix still applies.
    #[test]
    fn non_root_execs_unchanged_after_prefixing() {
        for euid in [1, 1000, 1234, 1_000_680_000] {
            assert_eq!(
                decide(&os(&["version"]), euid, PASSWD, GROUP),
                as_is(&["krakend", "version"])
            );
            assert_eq!(decide(&os(&[]), euid, "", ""), as_is(&["krakend"]));
            assert_eq!(
                decide(&os(&["echo", "hi"]), euid, PASSWD, GROUP),
                as_is(&["echo", "hi"])
            );
            assert!(!needs_accounts(&os(&["version"]), euid));
        }
    }

    #[test]
    fn double_dash_and_empty_first_argument_are_krakend_arguments() {
        assert_eq!(
            decide(&os(&["--", "run"]), 0, PASSWD, GROUP),
            dropped(&["krakend", "--", "run"])
        );
        assert_eq!(
            decide(&os(&["", "run"]), 0, PASSWD, GROUP),
            dropped(&["krakend", "", "run"])
        );
        assert_eq!(
            decide(&os(&["-"]), 0, PASSWD, GROUP),
            dropped(&["krakend", "-"])
        );
    }

    #[test]
    fn words_that_only_look_like_krakend_words_are_exec_as_is() {
        for word in [
            "runner",
            "Run",
            "RUN",
            " run",
            "run ",
            "versions",
            "check-plugins",
            "helpme",
            "krakend2",
            "Krakend",
            "/usr/bin/krakend",
            "./krakend",
        ] {
            assert_eq!(
                decide(&os(&[word, "x"]), 0, PASSWD, GROUP),
                as_is(&[word, "x"]),
                "word {word:?}"
            );
            assert!(!needs_accounts(&os(&[word]), 0), "word {word:?}");
        }
    }

    #[test]
    fn only_the_first_argument_counts() {
        assert_eq!(
            decide(&os(&["sh", "-c", "krakend run"]), 0, PASSWD, GROUP),
            as_is(&["sh", "-c", "krakend run"])
        );
        assert_eq!(
            decide(&os(&["echo", "run"]), 0, PASSWD, GROUP),
            as_is(&["echo", "run"])
        );
    }

    #[test]
    fn non_utf8_first_argument_is_exec_as_is() {
        use std::os::unix::ffi::OsStringExt;
        let args = vec![OsString::from_vec(vec![b'r', 0xff, b'n'])];
        assert_eq!(
            decide(&args, 0, PASSWD, GROUP),
            Decision::ExecAsIs { argv: args.clone() }
        );
    }

    #[test]
    fn root_without_krakend_user_fails_closed() {
        let passwd = "root:*:0:0:root:/root:/bin/sh\n";
        assert_eq!(
            decide(&os(&["run"]), 0, passwd, GROUP),
            Decision::Error(DecisionError::NoKrakendUser)
        );
        assert_eq!(
            decide(&os(&[]), 0, "", ""),
            Decision::Error(DecisionError::NoKrakendUser)
        );
        // Only a malformed krakend line is as good as none.
        assert_eq!(
            decide(&os(&["run"]), 0, "krakend:!:1000:65533\n", GROUP),
            Decision::Error(DecisionError::NoKrakendUser)
        );
        // Commands that do not run krakend do not need the user.
        assert_eq!(decide(&os(&["sh"]), 0, "", ""), as_is(&["sh"]));
    }

    #[test]
    fn krakend_with_uid_0_fails_closed() {
        let passwd = "krakend:x:0:0::/root:/bin/sh\n";
        assert_eq!(
            decide(&os(&["run"]), 0, passwd, GROUP),
            Decision::Error(DecisionError::KrakendIsRoot)
        );
    }

    #[test]
    fn supplementary_groups_follow_the_primary_group_once_each() {
        let group = "\
root:x:0:
nogroup:x:65533:krakend
audio:x:29:krakend
video:x:44:alice,krakend
staff:x:50:alice
";
        assert_eq!(
            decide(&os(&["run"]), 0, PASSWD, group),
            Decision::DropThenExec {
                argv: os(&["krakend", "run"]),
                identity: Identity {
                    groups: vec![65533, 29, 44],
                    ..image_krakend()
                },
            }
        );
    }

    #[test]
    fn comments_and_malformed_lines_around_the_entries_are_ignored() {
        let passwd = "\
# the image's accounts

root:*:0:0:root:/root:/bin/sh
this line is not an entry
krakend:!:not-a-uid:65533::/nowhere:/sbin/nologin
krakend:!:1000:65533::/home/krakend:/sbin/nologin
";
        let group = "# krakend:x:7:krakend\ngarbage\nwheel:x:ten:krakend\n";
        assert_eq!(
            decide(&os(&["run"]), 0, passwd, group),
            dropped(&["krakend", "run"])
        );
    }

    #[test]
    fn empty_home_becomes_root_directory() {
        let passwd = "krakend:!:1000:65533:::/sbin/nologin\n";
        let Decision::DropThenExec { identity, .. } = decide(&os(&[]), 0, passwd, "") else {
            panic!("expected a drop");
        };
        assert_eq!(identity.home, "/");
    }

    #[test]
    fn accounts_are_needed_only_for_krakend_as_root() {
        assert!(needs_accounts(&os(&[]), 0));
        assert!(needs_accounts(&os(&["run"]), 0));
        assert!(needs_accounts(&os(&["krakend"]), 0));
        assert!(!needs_accounts(&os(&["sh"]), 0));
        assert!(!needs_accounts(&os(&["run"]), 1000));
    }
}
