//! docker-library's generic image tests (`utc`, `no-hard-coded-passwords`, `override-cmd`),
//! re-implemented from their description with the same pass/fail rules (image contract §6),
//! and one negative twin per test: an image derived on the fly from the image under test
//! that the test must reject.

use std::time::Duration;

use super::engine::{ContainerSpec, Engine};
use super::{ContainerError, Harness, Target, Verdict};

const LIMIT: Duration = Duration::from_secs(30);

/// Runs the three tests and their negative twins against `target`.
pub async fn checks(harness: &mut Harness, target: &Target) {
    let engine = harness.engine.clone();
    let arch = target.arch.name();
    harness
        .check("library", "utc", arch, utc(&engine, target, &target.image))
        .await;
    harness
        .check(
            "library",
            "no-hard-coded-passwords",
            arch,
            no_hard_coded_passwords(&engine, target, &target.image),
        )
        .await;
    harness
        .check(
            "library",
            "override-cmd",
            arch,
            override_cmd(&engine, target, &target.image),
        )
        .await;

    for negative in Negative::ALL {
        harness
            .check(
                "library",
                negative.name(),
                arch,
                negative.run(&engine, target),
            )
            .await;
    }
}

/// `docker run --rm --entrypoint date IMAGE +%Z` prints exactly `UTC`.
pub async fn utc(engine: &Engine, target: &Target, image: &str) -> Result<Verdict, ContainerError> {
    let spec = ContainerSpec {
        image: image.into(),
        ..target.spec()
    }
    .entrypoint("date")
    .args(&["+%Z"]);
    let out = engine.run(&spec, target.limit(LIMIT)).await?;
    Ok(utc_rule(out.exit_code, &out.stdout_text()))
}

/// The `utc` rule on the command's exit code and output.
pub fn utc_rule(exit_code: i64, stdout: &str) -> Verdict {
    if exit_code != 0 {
        return Verdict::Fail(format!("date +%Z exited {exit_code}"));
    }
    match shell_capture(stdout).as_str() {
        "UTC" => Verdict::Pass(String::new()),
        other => Verdict::Fail(format!("date +%Z printed {other:?}, expected \"UTC\"")),
    }
}

/// `cut -d: -f1-2` of `/etc/passwd`, and of `/etc/shadow` when a passwd field is `x`, as
/// `--user 0:0 --entrypoint cut`: no empty root password, no crypt hash.
pub async fn no_hard_coded_passwords(
    engine: &Engine,
    target: &Target,
    image: &str,
) -> Result<Verdict, ContainerError> {
    let cut = |file: &str| {
        ContainerSpec {
            image: image.into(),
            ..target.spec()
        }
        .user("0:0")
        .entrypoint("cut")
        .args(&["-d:", "-f1-2", file])
    };
    let passwd = engine.run(&cut("/etc/passwd"), target.limit(LIMIT)).await?;
    if passwd.exit_code != 0 {
        return Ok(Verdict::Fail(format!(
            "cut of /etc/passwd exited {}: {}",
            passwd.exit_code,
            passwd.stderr_text().trim()
        )));
    }
    let passwd = passwd.stdout_text();
    let uses_shadow = passwd.lines().any(|line| line.ends_with(":x"));
    // Upstream ignores a failing cut of /etc/shadow (`|| true`).
    let shadow = if uses_shadow {
        engine
            .run(&cut("/etc/shadow"), target.limit(LIMIT))
            .await?
            .stdout_text()
    } else {
        String::new()
    };
    Ok(password_rule(&passwd, &shadow))
}

/// The `no-hard-coded-passwords` rule on the `user:password` lines of passwd and shadow.
pub fn password_rule(passwd: &str, shadow: &str) -> Verdict {
    let mut problems = Vec::new();
    let mut accounts = 0;
    for line in passwd.lines().chain(shadow.lines()) {
        if line.is_empty() {
            continue;
        }
        accounts += 1;
        let (user, password) = line.split_once(':').unwrap_or((line, ""));
        if password.is_empty() && user == "root" {
            problems.push(format!("empty password for '{user}'"));
        } else if password.starts_with('$') {
            problems.push(format!("crypt password hash for '{user}'"));
        }
    }
    Verdict::from_problems(problems, format!("{accounts} entries checked"))
}

/// `docker run --rm --entrypoint echo IMAGE "Hello world-N-M"` and
/// `docker run --rm IMAGE echo "Hello world-N-M"` both print exactly that line.
pub async fn override_cmd(
    engine: &Engine,
    target: &Target,
    image: &str,
) -> Result<Verdict, ContainerError> {
    let hello = format!("Hello world-{}-{}", random_u16(), random_u16());
    let base = ContainerSpec {
        image: image.into(),
        ..target.spec()
    };
    let direct = engine
        .run(
            &base.clone().entrypoint("echo").args(&[&hello]),
            target.limit(LIMIT),
        )
        .await?;
    if direct.exit_code != 0 {
        // Upstream's rule: no `echo` in the image means a single-binary image; pass.
        return Ok(Verdict::Pass(
            "image has no echo: passes as a single-binary image (upstream rule)".into(),
        ));
    }
    let through = engine
        .run(&base.args(&["echo", &hello]), target.limit(LIMIT))
        .await?;
    Ok(override_cmd_rule(
        &hello,
        &direct.stdout_text(),
        through.exit_code,
        &through.stdout_text(),
    ))
}

/// The `override-cmd` rule on both runs' output.
pub fn override_cmd_rule(
    hello: &str,
    direct_stdout: &str,
    through_exit: i64,
    through_stdout: &str,
) -> Verdict {
    let direct = shell_capture(direct_stdout);
    if direct != hello {
        return Verdict::Fail(format!(
            "--entrypoint echo printed {direct:?}, expected {hello:?}"
        ));
    }
    if through_exit != 0 {
        return Verdict::Fail(format!("IMAGE echo ... exited {through_exit}"));
    }
    let through = shell_capture(through_stdout);
    if through != hello {
        return Verdict::Fail(format!(
            "IMAGE echo ... printed {through:?}, expected {hello:?} (the entrypoint must pass \
             unknown commands through and print nothing itself)"
        ));
    }
    Verdict::Pass(String::new())
}

/// What `"$(...)"` keeps of a command's output: trailing newlines removed, and (as upstream
/// does for Windows) carriage returns dropped.
fn shell_capture(stdout: &str) -> String {
    stdout.replace('\r', "").trim_end_matches('\n').to_string()
}

fn random_u16() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    ((nanos ^ (nanos >> 16)) % 32768) as u16
}

/// Images derived from the image under test that a docker-library test must reject.
#[derive(Debug, Clone, Copy)]
enum Negative {
    TzSet,
    RootCryptHash,
    RootEmptyPassword,
    NoisyEntrypoint,
}

impl Negative {
    const ALL: [Negative; 4] = [
        Negative::TzSet,
        Negative::RootCryptHash,
        Negative::RootEmptyPassword,
        Negative::NoisyEntrypoint,
    ];

    fn name(self) -> &'static str {
        match self {
            Negative::TzSet => "utc rejects an image with TZ set",
            Negative::RootCryptHash => "no-hard-coded-passwords rejects a crypt hash for root",
            Negative::RootEmptyPassword => "no-hard-coded-passwords rejects an empty root password",
            Negative::NoisyEntrypoint => "override-cmd rejects an entrypoint printing to stdout",
        }
    }

    fn dockerfile(self, base: &str) -> String {
        let body = match self {
            Negative::TzSet => "ENV TZ=Europe/Paris\n",
            Negative::RootCryptHash => "COPY passwd /etc/passwd\nCOPY shadow /etc/shadow\n",
            Negative::RootEmptyPassword => "COPY passwd /etc/passwd\n",
            Negative::NoisyEntrypoint => {
                "ENTRYPOINT [\"/bin/sh\", \"-c\", \"echo starting; exec docker-entrypoint \\\"$@\\\"\", \"--\"]\n"
            }
        };
        format!("FROM {base}\n{body}")
    }

    fn files(self) -> Vec<(&'static str, &'static [u8], u32)> {
        match self {
            Negative::RootCryptHash => vec![
                (
                    "passwd",
                    b"root:x:0:0:root:/root:/bin/sh\nkrakend:x:1000:65533::/home/krakend:/sbin/nologin\n",
                    0o644,
                ),
                (
                    "shadow",
                    // A SHA-512 crypt-format field (`$6$salt$hash`); the rule looks at the
                    // format only, so the hash part is filler.
                    b"root:$6$cephalo$0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ:19000:0:99999:7:::\nkrakend:!:19000::::::\n",
                    0o640,
                ),
            ],
            Negative::RootEmptyPassword => vec![(
                "passwd",
                b"root::0:0:root:/root:/bin/sh\nkrakend:!:1000:65533::/home/krakend:/sbin/nologin\n",
                0o644,
            )],
            Negative::TzSet | Negative::NoisyEntrypoint => vec![],
        }
    }

    async fn run(self, engine: &Engine, target: &Target) -> Result<Verdict, ContainerError> {
        let tag = format!(
            "cephalo-conformance-negative:{}-{:?}-{}",
            target.arch.name(),
            self,
            engine.run_id()
        )
        .to_lowercase();
        let dockerfile = self.dockerfile(&target.image);
        let mut files = self.files();
        files.push(("Dockerfile", dockerfile.as_bytes(), 0o644));
        engine
            .build(&tag, &files, target.platform.as_deref())
            .await?;
        let verdict = match self {
            Negative::TzSet => utc(engine, target, &tag).await?,
            Negative::RootCryptHash | Negative::RootEmptyPassword => {
                no_hard_coded_passwords(engine, target, &tag).await?
            }
            Negative::NoisyEntrypoint => override_cmd(engine, target, &tag).await?,
        };
        Ok(match verdict {
            Verdict::Fail(why) => Verdict::Pass(format!("rejected as expected: {why}")),
            Verdict::Pass(_) => Verdict::Fail(format!(
                "the check accepted the derived image {tag} it must reject"
            )),
            skip @ Verdict::Skip(_) => skip,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_accepts_only_exactly_utc() {
        assert!(matches!(utc_rule(0, "UTC\n"), Verdict::Pass(_)));
        assert!(matches!(utc_rule(0, "UTC\r\n"), Verdict::Pass(_)));
        assert!(matches!(utc_rule(0, "CET\n"), Verdict::Fail(_)));
        assert!(matches!(utc_rule(0, " UTC\n"), Verdict::Fail(_)));
        assert!(matches!(utc_rule(0, "UTC\nUTC\n"), Verdict::Fail(_)));
        assert!(matches!(utc_rule(1, "UTC\n"), Verdict::Fail(_)));
    }

    #[test]
    fn passwords_locked_or_shadowed_pass() {
        let passwd = "root:*\nnobody:*\nkrakend:!\n";
        assert!(matches!(password_rule(passwd, ""), Verdict::Pass(_)));
        assert!(matches!(
            password_rule("root:x\n", "root:*\nkrakend:!$6$abc\n"),
            Verdict::Pass(_)
        ));
        // An empty password is only fatal for root.
        assert!(matches!(
            password_rule("root:*\nguest:\n", ""),
            Verdict::Pass(_)
        ));
    }

    #[test]
    fn empty_root_password_or_any_crypt_hash_fails() {
        assert!(matches!(password_rule("root:\n", ""), Verdict::Fail(_)));
        assert!(matches!(password_rule("root\n", ""), Verdict::Fail(_)));
        assert!(matches!(
            password_rule("root:x\n", "root:$6$s$h\n"),
            Verdict::Fail(_)
        ));
        let Verdict::Fail(why) = password_rule("root:*\napp:$1$abc$def\n", "") else {
            panic!("expected a failure");
        };
        assert!(why.contains("'app'"), "{why}");
    }

    #[test]
    fn override_cmd_needs_the_exact_line_both_ways() {
        let hello = "Hello world-1-2";
        let ok = "Hello world-1-2\n";
        assert!(matches!(
            override_cmd_rule(hello, ok, 0, ok),
            Verdict::Pass(_)
        ));
        assert!(matches!(
            override_cmd_rule(hello, ok, 0, "starting\nHello world-1-2\n"),
            Verdict::Fail(_)
        ));
        assert!(matches!(
            override_cmd_rule(hello, ok, 127, ""),
            Verdict::Fail(_)
        ));
        assert!(matches!(
            override_cmd_rule(hello, "Hello world-1-3\n", 0, ok),
            Verdict::Fail(_)
        ));
    }
}
