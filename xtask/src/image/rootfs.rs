//! The image's root filesystem, as two trees per architecture: the base (busybox, CA bundle,
//! zoneinfo, accounts, config) and the application (the gateway and the entrypoint).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};

use super::debs::{self, DebEntry, Lock};
use super::platform::Arch;
use super::tarball::Tree;
use crate::project;

/// Where busybox lives; every applet link points here.
pub const BUSYBOX: &str = "bin/busybox";
/// The CA bundle, as Debian's `update-ca-certificates` writes it.
pub const CA_BUNDLE: &str = "etc/ssl/certs/ca-certificates.crt";
/// The time-zone database.
pub const ZONEINFO: &str = "usr/share/zoneinfo";
/// Links the contract needs beyond `busybox --list-full` (`/sbin/nologin`, the shell of `krakend`).
const EXTRA_APPLETS: [&str; 1] = ["sbin/nologin"];

/// Busybox applets that are package managers: the image contract says "no package manager",
/// so these get no link even though busybox could run them.
const PACKAGE_MANAGER_APPLETS: [&str; 4] = [
    "bin/rpm",
    "usr/bin/dpkg",
    "usr/bin/dpkg-deb",
    "usr/bin/rpm2cpio",
];

/// The files of `images/` copied into the rootfs: source name, destination, mode.
pub const IMAGE_FILES: [(&str, &str, u32); 4] = [
    ("passwd", "etc/passwd", 0o644),
    ("group", "etc/group", 0o644),
    ("shadow", "etc/shadow", 0o640),
    ("krakend.json", "etc/krakend/krakend.json", 0o644),
];

/// The static binaries of one architecture, as `cargo xtask dist` leaves them.
#[derive(Clone, Debug)]
pub struct Binaries {
    /// The gateway (`krakend`).
    pub gateway: PathBuf,
    /// The entrypoint shim (`docker-entrypoint`).
    pub entrypoint: PathBuf,
}

/// The base layer's tree for `arch`, from the pinned Debian packages and `images/`.
pub fn base(arch: Arch, lock: &Lock) -> Result<Tree> {
    let mut tree = Tree::new();
    tree.dir("tmp", 0o1777)?;
    for dir in ["bin", "etc", "sbin", "usr", "usr/bin", "usr/sbin"] {
        tree.dir(dir, 0o755)?;
    }
    add_busybox(&mut tree, &package(lock, "busybox-static", arch)?)?;
    tree.file(
        CA_BUNDLE,
        0o644,
        ca_bundle(&package(lock, "ca-certificates", arch)?)?,
    )?;
    add_zoneinfo(&mut tree, &package(lock, "tzdata", arch)?)?;
    let images = project::root().join("images");
    for (source, destination, mode) in IMAGE_FILES {
        let path = images.join(source);
        let data = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        tree.file(destination, mode, data)?;
    }
    tree.dir("etc/krakend", 0o755)?;
    Ok(tree)
}

/// The application layer's tree: `/usr/bin/krakend` (+ hard link `cephalo`) and
/// `/usr/local/bin/docker-entrypoint` (+ `docker-entrypoint.sh` link).
pub fn app(binaries: &Binaries) -> Result<Tree> {
    let read = |path: &Path| {
        fs::read(path)
            .with_context(|| format!("reading {} (run `cargo xtask dist`)", path.display()))
    };
    let mut tree = Tree::new();
    for dir in ["usr", "usr/bin", "usr/local", "usr/local/bin"] {
        tree.dir(dir, 0o755)?;
    }
    tree.file("usr/bin/krakend", 0o755, read(&binaries.gateway)?)?;
    tree.hardlink("usr/bin/cephalo", "usr/bin/krakend")?;
    tree.file(
        "usr/local/bin/docker-entrypoint",
        0o755,
        read(&binaries.entrypoint)?,
    )?;
    tree.symlink("usr/local/bin/docker-entrypoint.sh", "docker-entrypoint")?;
    Ok(tree)
}

/// The applet paths (`bin/sh`, `usr/bin/wget`...) listed in `images/busybox-applets.txt`.
pub fn applets() -> Result<Vec<String>> {
    let path = project::root().join("images/busybox-applets.txt");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_start_matches('/').to_string())
        .collect())
}

fn package(lock: &Lock, name: &str, arch: Arch) -> Result<BTreeMap<String, DebEntry>> {
    let pin = lock.pin(name, arch)?;
    let deb = debs::fetch(pin)?;
    debs::contents(&deb).with_context(|| format!("unpacking {}", pin.file_name()))
}

fn add_busybox(tree: &mut Tree, package: &BTreeMap<String, DebEntry>) -> Result<()> {
    let Some(DebEntry::File { data, .. }) = package.get(BUSYBOX) else {
        anyhow::bail!("busybox-static has no {BUSYBOX}");
    };
    tree.file(BUSYBOX, 0o755, data.clone())?;
    let applets = applets()?;
    ensure!(
        applets.iter().any(|a| a == "bin/sh"),
        "the busybox applet list has no bin/sh"
    );
    for applet in applets.iter().map(String::as_str).chain(EXTRA_APPLETS) {
        if PACKAGE_MANAGER_APPLETS.contains(&applet) {
            continue;
        }
        if applet != BUSYBOX && tree.get(applet).is_none() {
            tree.symlink(applet, format!("/{BUSYBOX}"))?;
        }
    }
    Ok(())
}

/// Concatenates the Mozilla certificates in name order, each ending in a newline, as
/// `update-ca-certificates` does with the default `/etc/ca-certificates.conf`.
fn ca_bundle(package: &BTreeMap<String, DebEntry>) -> Result<Vec<u8>> {
    let mut bundle = Vec::new();
    let mut count = 0;
    for (path, entry) in package.range("usr/share/ca-certificates/mozilla/".to_string()..) {
        if !path.starts_with("usr/share/ca-certificates/mozilla/") {
            break;
        }
        if let (DebEntry::File { data, .. }, true) = (entry, path.ends_with(".crt")) {
            bundle.extend_from_slice(data);
            if !data.ends_with(b"\n") {
                bundle.push(b'\n');
            }
            count += 1;
        }
    }
    ensure!(
        count > 50,
        "ca-certificates holds only {count} Mozilla certificates"
    );
    Ok(bundle)
}

/// Copies `usr/share/zoneinfo` (files 0644, directories 0755, links as shipped), without the
/// `localtime` link into `/etc` (the image has no `/etc/localtime`: UTC).
fn add_zoneinfo(tree: &mut Tree, package: &BTreeMap<String, DebEntry>) -> Result<()> {
    let inside = |path: &str| {
        path.starts_with(&format!("{ZONEINFO}/")) && path != format!("{ZONEINFO}/localtime")
    };
    tree.dir(ZONEINFO, 0o755)?;
    for (path, entry) in package.iter().filter(|(p, _)| inside(p)) {
        match entry {
            DebEntry::Dir => tree.dir(path, 0o755)?,
            DebEntry::File { data, .. } => tree.file(path, 0o644, data.clone())?,
            DebEntry::Symlink(target) => tree.symlink(path, target.clone())?,
            DebEntry::HardLink(_) => {}
        }
    }
    for (path, entry) in package.iter().filter(|(p, _)| inside(p)) {
        if let DebEntry::HardLink(target) = entry {
            tree.hardlink(path, target)?;
        }
    }
    ensure!(
        tree.get(format!("{ZONEINFO}/UTC")).is_some(),
        "tzdata has no {ZONEINFO}/UTC"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Builds the real rootfs (pinned Debian packages: cached, or fetched with apt-get) with
    //! stand-in binaries and checks it against the image contract §3.
    use super::*;
    use crate::image::tarball::Node;

    fn real_rootfs(arch: Arch) -> Tree {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "cephalo-rootfs-test-{}-{unique}",
            std::process::id()
        ));
        fs::create_dir_all(&dir).unwrap();
        let binaries = Binaries {
            gateway: dir.join("krakend"),
            entrypoint: dir.join("docker-entrypoint"),
        };
        fs::write(&binaries.gateway, b"gateway stand-in").unwrap();
        fs::write(&binaries.entrypoint, b"entrypoint stand-in").unwrap();
        let lock = Lock::load().unwrap();
        let mut tree = base(arch, &lock).unwrap();
        tree.merge(&app(&binaries).unwrap()).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        tree
    }

    fn mode(tree: &Tree, path: &str) -> u32 {
        match tree.get(path).unwrap_or_else(|| panic!("{path} missing")) {
            Node::Dir { mode } | Node::File { mode, .. } => *mode,
            other => panic!("{path} is {other:?}"),
        }
    }

    fn text(tree: &Tree, path: &str) -> String {
        match tree.get(path) {
            Some(Node::File { data, .. }) => String::from_utf8(data.to_vec()).unwrap(),
            other => panic!("{path} is {other:?}"),
        }
    }

    #[test]
    fn real_rootfs_matches_the_image_contract() {
        let tree = real_rootfs(Arch::Amd64);
        assert_eq!(mode(&tree, "usr/bin/krakend"), 0o755);
        assert_eq!(
            tree.get("usr/bin/cephalo"),
            Some(&Node::HardLink {
                target: "usr/bin/krakend".into()
            })
        );
        assert_eq!(mode(&tree, "usr/local/bin/docker-entrypoint"), 0o755);
        assert_eq!(
            tree.get("usr/local/bin/docker-entrypoint.sh"),
            Some(&Node::Symlink {
                target: "docker-entrypoint".into()
            })
        );
        assert_eq!(
            text(&tree, "etc/krakend/krakend.json"),
            "{ \"version\": 3 }\n"
        );
        assert_eq!(
            (
                mode(&tree, "etc/krakend"),
                mode(&tree, "etc/krakend/krakend.json")
            ),
            (0o755, 0o644)
        );
        assert_eq!(mode(&tree, "tmp"), 0o1777);
        assert_eq!(mode(&tree, BUSYBOX), 0o755);
        for applet in [
            "bin/sh",
            "bin/date",
            "usr/bin/cut",
            "bin/echo",
            "usr/bin/id",
            "usr/bin/env",
            "bin/ls",
            "bin/cat",
            "usr/bin/wget",
            "sbin/nologin",
        ] {
            assert_eq!(
                tree.get(applet),
                Some(&Node::Symlink {
                    target: "/bin/busybox".into()
                }),
                "{applet}"
            );
        }
        for package_manager in PACKAGE_MANAGER_APPLETS {
            assert_eq!(tree.get(package_manager), None, "{package_manager}");
        }
        let bundle = text(&tree, CA_BUNDLE);
        assert!(bundle.matches("-----BEGIN CERTIFICATE-----").count() > 100);
        assert!(bundle.ends_with("-----END CERTIFICATE-----\n"));
        assert_eq!(mode(&tree, "usr/share/zoneinfo/Etc/UTC"), 0o644);
        assert!(tree.get("usr/share/zoneinfo/Europe/Paris").is_some());
        assert!(
            tree.get("etc/localtime").is_none()
                && tree.get("usr/share/zoneinfo/localtime").is_none()
        );
        for (path, node) in tree.iter() {
            let path = path.to_string_lossy();
            assert!(
                !path.starts_with("usr/share/doc")
                    && !path.starts_with("var")
                    && !path.starts_with("home"),
                "{path}"
            );
            if let Node::Dir { mode } | Node::File { mode, .. } = node {
                assert_eq!(mode & 0o6000, 0, "{path} is setuid/setgid");
            }
        }
    }

    #[test]
    fn accounts_match_the_contract() {
        let tree = real_rootfs(Arch::Amd64);
        let passwd = text(&tree, "etc/passwd");
        let shadow = text(&tree, "etc/shadow");
        let group = text(&tree, "etc/group");
        assert_eq!(
            mode(&tree, "etc/shadow") & 0o007,
            0,
            "shadow is not world-readable"
        );
        let field = |file: &str, user: &str, index: usize| -> String {
            file.lines()
                .find(|l| l.starts_with(&format!("{user}:")))
                .unwrap()
                .split(':')
                .nth(index)
                .unwrap()
                .to_string()
        };
        assert_eq!(field(&passwd, "root", 2), "0");
        assert_eq!(field(&shadow, "root", 1), "*");
        assert_eq!(
            passwd.lines().find(|l| l.starts_with("krakend:")).unwrap(),
            "krakend:x:1000:65533:krakend:/home/krakend:/sbin/nologin"
        );
        assert_eq!(field(&shadow, "krakend", 1), "!");
        assert_eq!(field(&group, "nogroup", 2), "65533");
        assert!(
            !group.lines().any(|l| l.starts_with("krakend:")),
            "there is no krakend group"
        );
        for line in passwd.lines().chain(shadow.lines()) {
            let password = line.split(':').nth(1).unwrap();
            assert!(!password.is_empty() && !password.starts_with('$'), "{line}");
        }
    }

    #[test]
    fn both_architectures_have_the_same_paths() {
        let paths = |arch| {
            real_rootfs(arch)
                .iter()
                .map(|(p, _)| p.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(paths(Arch::Amd64), paths(Arch::Arm64));
    }
}
