//! The image contract (§3, §4): the image configuration and the filesystem listing as
//! reviewed snapshots, plus explicit checks of what must hold whatever the snapshot says:
//! no setuid/setgid file, `/etc/krakend/krakend.json`, the accounts, the CA bundle and the
//! time-zone data.

use bollard::models::ImageInspect;
use serde_json::{json, Map, Value};

use super::engine::Engine;
use super::listing::{self, Filesystem, Kind};
use super::{snapshot, ContainerError, Harness, Target, Verdict};

/// A check of the image's filesystem alone.
type FsCheck = fn(&Filesystem) -> Verdict;

/// Runs the contract checks against `target`.
pub async fn checks(harness: &mut Harness, target: &Target, inspect: &ImageInspect) {
    let arch = target.arch.name();
    let config = config_view(inspect);
    harness
        .check("contract", "image config snapshot", arch, async {
            Ok(snapshot::compare(
                &format!("image-config-{arch}"),
                &serde_json::to_string_pretty(&config).expect("json"),
            ))
        })
        .await;

    let engine = harness.engine.clone();
    let fs = match filesystem(&engine, &target.image).await {
        Ok(fs) => fs,
        Err(e) => {
            let why = e.to_string();
            harness
                .check("contract", "filesystem", arch, async {
                    Ok(Verdict::Fail(why))
                })
                .await;
            return;
        }
    };
    harness
        .check("contract", "filesystem listing snapshot", arch, async {
            // One snapshot for every architecture: the trees must be the same.
            Ok(snapshot::compare("filesystem", &listing::render(&fs)))
        })
        .await;
    let checks: [(&str, FsCheck); 6] = [
        ("no setuid or setgid file", no_setid),
        ("krakend.json is exactly { \"version\": 3 }", krakend_json),
        ("accounts", accounts),
        ("CA bundle", ca_bundle),
        ("zoneinfo and no TZ default", zoneinfo),
        ("binaries and links", binaries),
    ];
    for (name, check) in checks {
        let verdict = check(&fs);
        harness
            .check("contract", name, arch, async { Ok(verdict) })
            .await;
    }
}

/// The image's merged filesystem, from `docker save`.
pub async fn filesystem(engine: &Engine, image: &str) -> Result<Filesystem, ContainerError> {
    let archive = engine.save(image).await?;
    listing::filesystem_from_save(&archive)
}

/// The contract fields of the image configuration, with volatile label values (commit,
/// date, version) replaced by placeholders so the snapshot survives commits.
pub fn config_view(inspect: &ImageInspect) -> Value {
    let whole = serde_json::to_value(inspect).unwrap_or(Value::Null);
    let config = whole.get("Config").cloned().unwrap_or(Value::Null);
    // An absent field and an empty one mean the same to Docker; show both as null so the
    // snapshot does not suggest e.g. a declared (empty) volume list.
    let field = |name: &str| match config.get(name) {
        Some(Value::Object(map)) if map.is_empty() => Value::Null,
        Some(Value::Array(list)) if list.is_empty() => Value::Null,
        Some(value) => value.clone(),
        None => Value::Null,
    };
    let mut labels = field("Labels");
    if let Some(map) = labels.as_object_mut() {
        redact_labels(map);
    }
    json!({
        "Architecture": whole.get("Architecture"),
        "Os": whole.get("Os"),
        "Variant": whole.get("Variant"),
        "Entrypoint": field("Entrypoint"),
        "Cmd": field("Cmd"),
        "WorkingDir": field("WorkingDir"),
        "Env": field("Env"),
        "ExposedPorts": field("ExposedPorts"),
        "User": field("User"),
        "Labels": labels,
        "Volumes": field("Volumes"),
        "Healthcheck": field("Healthcheck"),
        "StopSignal": field("StopSignal"),
        "Shell": field("Shell"),
        "OnBuild": field("OnBuild"),
    })
}

fn redact_labels(labels: &mut Map<String, Value>) {
    for (key, placeholder) in [
        ("org.opencontainers.image.revision", "[commit]"),
        ("org.opencontainers.image.created", "[commit time]"),
        ("org.opencontainers.image.version", "[version]"),
    ] {
        if let Some(value) = labels.get_mut(key) {
            let shape_ok = match key {
                "org.opencontainers.image.revision" => value
                    .as_str()
                    .is_some_and(|s| s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())),
                "org.opencontainers.image.created" => value
                    .as_str()
                    .is_some_and(|s| s.len() >= 20 && s.ends_with('Z') && s.contains('T')),
                _ => value.as_str().is_some_and(|s| !s.is_empty()),
            };
            // A malformed value stays visible in the snapshot instead of hiding behind a mask.
            if shape_ok {
                *value = Value::String(placeholder.to_string());
            }
        }
    }
}

fn no_setid(fs: &Filesystem) -> Verdict {
    let found = listing::setid_paths(fs);
    Verdict::from_problems(
        found
            .iter()
            .map(|p| format!("{p} is setuid/setgid"))
            .collect(),
        format!("{} paths checked", fs.len()),
    )
}

fn file<'a>(fs: &'a Filesystem, path: &str) -> Result<&'a [u8], String> {
    let entry = fs.get(path).ok_or_else(|| format!("{path} is missing"))?;
    match (&entry.kind, &entry.contents) {
        (Kind::File, Some(bytes)) => Ok(bytes),
        (Kind::File, None) => Err(format!("{path} is too large to read")),
        (other, _) => Err(format!("{path} is not a regular file ({other:?})")),
    }
}

fn krakend_json(fs: &Filesystem) -> Verdict {
    let mut problems = Vec::new();
    match file(fs, "/etc/krakend/krakend.json") {
        Ok(bytes) if bytes == b"{ \"version\": 3 }\n" => {}
        Ok(bytes) => problems.push(format!(
            "/etc/krakend/krakend.json is {:?}",
            String::from_utf8_lossy(bytes)
        )),
        Err(e) => problems.push(e),
    }
    for path in ["/etc/krakend", "/etc/krakend/krakend.json"] {
        if let Some(e) = fs.get(path) {
            if e.uid != 0 || e.gid != 0 {
                problems.push(format!("{path} is owned by {}:{}, not root", e.uid, e.gid));
            }
            let readable = if e.kind == Kind::Dir { 0o005 } else { 0o004 };
            if e.mode & readable != readable || e.mode & 0o002 != 0 {
                problems.push(format!("{path} has mode {:04o}", e.mode));
            }
        }
    }
    Verdict::from_problems(problems, "")
}

fn accounts(fs: &Filesystem) -> Verdict {
    let mut problems = Vec::new();
    let text = |path| file(fs, path).map(|b| String::from_utf8_lossy(b).into_owned());
    match (text("/etc/passwd"), text("/etc/group")) {
        (Ok(passwd), Ok(group)) => {
            let shadow = text("/etc/shadow").unwrap_or_default();
            let krakend = passwd.lines().find(|l| l.starts_with("krakend:"));
            match krakend.map(|l| l.split(':').collect::<Vec<_>>()) {
                Some(f) if f.len() == 7 => {
                    // `x` defers to /etc/shadow.
                    let password = if f[1] == "x" {
                        shadow
                            .lines()
                            .find_map(|l| l.strip_prefix("krakend:"))
                            .and_then(|rest| rest.split(':').next())
                            .unwrap_or("x")
                    } else {
                        f[1]
                    };
                    if !password.starts_with('!') {
                        problems.push(format!(
                            "krakend's password is {password:?}, not locked (`!`)"
                        ));
                    }
                    if (f[2], f[3], f[5], f[6])
                        != ("1000", "65533", "/home/krakend", "/sbin/nologin")
                    {
                        problems.push(format!("krakend entry is {:?}", f.join(":")));
                    }
                }
                _ => problems.push("no well-formed krakend entry in /etc/passwd".into()),
            }
            if !passwd
                .lines()
                .any(|l| l.starts_with("root:") && l.split(':').nth(2) == Some("0"))
            {
                problems.push("no root entry with uid 0 in /etc/passwd".into());
            }
            if !group
                .lines()
                .any(|l| l.starts_with("nogroup:") && l.split(':').nth(2) == Some("65533"))
            {
                problems.push("no nogroup with gid 65533 in /etc/group".into());
            }
            if group.lines().any(|l| l.starts_with("krakend:")) {
                problems.push("/etc/group has a krakend group (the contract has none)".into());
            }
        }
        (Err(e), _) | (_, Err(e)) => problems.push(e),
    }
    if fs.contains_key("/home/krakend") {
        problems.push("/home/krakend exists (no home directory is created)".into());
    }
    match fs.get("/tmp") {
        Some(e) if e.kind == Kind::Dir && e.mode == 0o1777 => {}
        other => problems.push(format!("/tmp is {other:?}, expected a 1777 directory")),
    }
    Verdict::from_problems(problems, "")
}

fn ca_bundle(fs: &Filesystem) -> Verdict {
    match file(fs, "/etc/ssl/certs/ca-certificates.crt") {
        Ok(bytes) => {
            let count = String::from_utf8_lossy(bytes)
                .matches("-----BEGIN CERTIFICATE-----")
                .count();
            if count >= 100 {
                Verdict::Pass(format!("{count} certificates"))
            } else {
                Verdict::Fail(format!("only {count} certificates in the CA bundle"))
            }
        }
        Err(e) => Verdict::Fail(e),
    }
}

fn zoneinfo(fs: &Filesystem) -> Verdict {
    let mut problems = Vec::new();
    for zone in ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"] {
        let path = format!("/usr/share/zoneinfo/{zone}");
        match resolve_file(fs, &path) {
            Some(bytes) if bytes.starts_with(b"TZif") => {}
            Some(_) => problems.push(format!("{path} is not TZif data")),
            None => problems.push(format!("{path} is missing")),
        }
    }
    if let Some(localtime) = fs.get("/etc/localtime") {
        let is_utc = match &localtime.kind {
            Kind::Symlink(target) => target.ends_with("/UTC") || target.ends_with("/Etc/UTC"),
            _ => false,
        };
        if !is_utc {
            problems.push(format!(
                "/etc/localtime exists and is not UTC: {localtime:?}"
            ));
        }
    }
    let zones = fs
        .iter()
        .filter(|(p, e)| p.starts_with("/usr/share/zoneinfo/") && e.kind == Kind::File)
        .count();
    Verdict::from_problems(problems, format!("{zones} zone files"))
}

/// Contents of `path`, following symlinks and hard links inside the image.
fn resolve_file<'a>(fs: &'a Filesystem, path: &str) -> Option<&'a [u8]> {
    let mut current = path.to_string();
    for _ in 0..16 {
        let entry = fs.get(&current)?;
        match &entry.kind {
            Kind::File => return entry.contents.as_deref(),
            Kind::HardLink(target) => current = target.clone(),
            Kind::Symlink(target) if target.starts_with('/') => current = target.clone(),
            Kind::Symlink(target) => {
                let dir = current.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                current = normalize_path(&format!("{dir}/{target}"));
            }
            _ => return None,
        }
    }
    None
}

fn normalize_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

fn binaries(fs: &Filesystem) -> Verdict {
    let mut problems = Vec::new();
    let is_elf = |path: &str| {
        let mut current = path.to_string();
        for _ in 0..8 {
            match fs.get(&current).map(|e| (&e.kind, e.elf)) {
                Some((Kind::File, elf)) => return elf,
                Some((Kind::HardLink(t), _)) => current = t.clone(),
                Some((Kind::Symlink(t), _)) if t.starts_with('/') => current = t.clone(),
                Some((Kind::Symlink(t), _)) => {
                    let dir = current.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                    current = normalize_path(&format!("{dir}/{t}"));
                }
                _ => return false,
            }
        }
        false
    };
    for path in [
        "/usr/bin/krakend",
        "/usr/bin/cephalo",
        "/usr/local/bin/docker-entrypoint",
        "/usr/local/bin/docker-entrypoint.sh",
        "/bin/sh",
    ] {
        if !is_elf(path) {
            problems.push(format!("{path} is not an executable binary in the image"));
        }
    }
    for tool in [
        "date", "cut", "echo", "id", "env", "ls", "cat", "wget", "sleep", "tr",
    ] {
        let found = ["/bin", "/usr/bin", "/sbin", "/usr/sbin"]
            .iter()
            .any(|dir| is_elf(&format!("{dir}/{tool}")));
        if !found {
            problems.push(format!("no {tool} on PATH"));
        }
    }
    // §3: no package manager (not even busybox's `dpkg`/`rpm` applets), no compiler, no docs.
    for absent in [
        "/sbin/apk",
        "/usr/bin/apt",
        "/usr/bin/dpkg",
        "/usr/bin/dpkg-deb",
        "/usr/bin/rpm",
        "/usr/bin/rpm2cpio",
        "/bin/rpm",
        "/usr/bin/gcc",
        "/usr/share/doc",
        "/var/lib/dpkg",
    ] {
        if fs.get(absent).is_some() {
            problems.push(format!(
                "{absent} should not be in the image (no package manager, compiler or docs)"
            ));
        }
    }
    Verdict::from_problems(problems, String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_with_the_right_shape_are_masked_others_stay_visible() {
        let mut labels = json!({
            "org.opencontainers.image.revision": "0123456789abcdef0123456789abcdef01234567",
            "org.opencontainers.image.created": "2026-11-24T09:30:00Z",
            "org.opencontainers.image.version": "0.1.0",
            "org.opencontainers.image.title": "cephalo",
        });
        redact_labels(labels.as_object_mut().unwrap());
        assert_eq!(labels["org.opencontainers.image.revision"], "[commit]");
        assert_eq!(labels["org.opencontainers.image.created"], "[commit time]");
        assert_eq!(labels["org.opencontainers.image.version"], "[version]");
        assert_eq!(labels["org.opencontainers.image.title"], "cephalo");

        let mut bad = json!({"org.opencontainers.image.created": "yesterday"});
        redact_labels(bad.as_object_mut().unwrap());
        assert_eq!(bad["org.opencontainers.image.created"], "yesterday");
    }

    #[test]
    fn symlinks_resolve_relative_and_absolute() {
        assert_eq!(
            normalize_path("/usr/share/zoneinfo/../zoneinfo/./UTC"),
            "/usr/share/zoneinfo/UTC"
        );
        let mut fs = Filesystem::new();
        let file = |contents: &[u8]| listing::Entry {
            kind: Kind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: contents.len() as u64,
            contents: Some(contents.to_vec()),
            elf: false,
        };
        fs.insert("/z/Etc/UTC".into(), file(b"TZif2"));
        fs.insert(
            "/z/UTC".into(),
            listing::Entry {
                kind: Kind::Symlink("Etc/UTC".into()),
                ..file(b"")
            },
        );
        assert_eq!(resolve_file(&fs, "/z/UTC"), Some(&b"TZif2"[..]));
    }
}
