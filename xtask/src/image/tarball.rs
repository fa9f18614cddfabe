//! Deterministic tar and gzip: a file tree in memory, written with sorted entries, fixed
//! owners (0:0), fixed modes and one mtime, so equal trees give byte-identical archives.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, ensure, Context, Result};
use flate2::{Compression, GzBuilder};
use tar::{EntryType, Header};

/// The gzip level of every archive (fixed: part of the reproducibility contract).
pub const GZIP_LEVEL: u32 = 9;

/// One entry of a [`Tree`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A directory.
    Dir { mode: u32 },
    /// A regular file.
    File { mode: u32, data: Arc<[u8]> },
    /// A symbolic link to `target` (written as given, relative or absolute).
    Symlink { target: String },
    /// A hard link: one more name for the regular file at `target` (a tree path).
    HardLink { target: PathBuf },
}

/// A file tree with relative, normalised paths (`usr/bin/krakend`); parents are created with
/// mode 0755 when a child is added without them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tree {
    entries: BTreeMap<PathBuf, Node>,
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a directory (or sets the mode of an existing one).
    pub fn dir(&mut self, path: impl AsRef<Path>, mode: u32) -> Result<()> {
        self.insert(path.as_ref(), Node::Dir { mode })
    }

    /// Adds a regular file.
    pub fn file(
        &mut self,
        path: impl AsRef<Path>,
        mode: u32,
        data: impl Into<Arc<[u8]>>,
    ) -> Result<()> {
        self.insert(
            path.as_ref(),
            Node::File {
                mode,
                data: data.into(),
            },
        )
    }

    /// Adds a symbolic link.
    pub fn symlink(&mut self, path: impl AsRef<Path>, target: impl Into<String>) -> Result<()> {
        self.insert(
            path.as_ref(),
            Node::Symlink {
                target: target.into(),
            },
        )
    }

    /// Adds a hard link to a regular file already in the tree.
    pub fn hardlink(&mut self, path: impl AsRef<Path>, target: impl AsRef<Path>) -> Result<()> {
        let target = normalise(target.as_ref())?;
        ensure!(
            matches!(self.entries.get(&target), Some(Node::File { .. })),
            "hard link target {} is not a regular file of the tree",
            target.display()
        );
        self.insert(path.as_ref(), Node::HardLink { target })
    }

    /// Adds every entry of `other` (its entries win on conflicts of non-directories).
    pub fn merge(&mut self, other: &Tree) -> Result<()> {
        for (path, node) in &other.entries {
            match (self.entries.get(path), node) {
                (Some(Node::Dir { .. }), Node::Dir { .. }) | (None, _) => {
                    self.entries.insert(path.clone(), node.clone());
                }
                (Some(_), _) => bail!("{} is in both trees", path.display()),
            }
        }
        Ok(())
    }

    /// The entry at `path`, if any.
    pub fn get(&self, path: impl AsRef<Path>) -> Option<&Node> {
        self.entries.get(path.as_ref())
    }

    /// Every entry, sorted by path (component-wise, so parents come first).
    pub fn iter(&self) -> impl Iterator<Item = (&PathBuf, &Node)> {
        self.entries.iter()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Total size of the regular files' contents, each inode once.
    pub fn content_size(&self) -> u64 {
        self.entries
            .values()
            .map(|node| match node {
                Node::File { data, .. } => data.len() as u64,
                _ => 0,
            })
            .sum()
    }

    fn insert(&mut self, path: &Path, node: Node) -> Result<()> {
        let path = normalise(path)?;
        let mut parent = path.parent();
        while let Some(dir) = parent.filter(|p| !p.as_os_str().is_empty()) {
            match self.entries.get(dir) {
                Some(Node::Dir { .. }) => {}
                Some(_) => bail!("{} is not a directory", dir.display()),
                None => {
                    self.entries
                        .insert(dir.to_path_buf(), Node::Dir { mode: 0o755 });
                }
            }
            parent = dir.parent();
        }
        self.entries.insert(path, node);
        Ok(())
    }

    /// The tree as an uncompressed tar. Entry names get `prefix` (`""` for image layers,
    /// `"./"` for release tarballs, which then also hold a `./` entry); every entry is
    /// owned by 0:0 (`root`), dated `mtime`. Of a group of hard-linked names, the first in
    /// path order carries the data and the others link to it.
    pub fn to_tar(&self, prefix: &str, mtime: u64) -> Result<Vec<u8>> {
        let mut builder = tar::Builder::new(Vec::new());
        if !prefix.is_empty() {
            append(
                &mut builder,
                prefix,
                EntryType::Directory,
                0o755,
                mtime,
                None,
                &[],
            )?;
        }
        let mut first_of_group: HashMap<&Path, PathBuf> = HashMap::new();
        for (path, node) in &self.entries {
            let name = format!("{prefix}{}", path_str(path)?);
            match node {
                Node::Dir { mode } => append(
                    &mut builder,
                    &format!("{name}/"),
                    EntryType::Directory,
                    *mode,
                    mtime,
                    None,
                    &[],
                )?,
                Node::Symlink { target } => append(
                    &mut builder,
                    &name,
                    EntryType::Symlink,
                    0o777,
                    mtime,
                    Some(target),
                    &[],
                )?,
                Node::File { .. } | Node::HardLink { .. } => {
                    let canonical = match node {
                        Node::HardLink { target } => target.as_path(),
                        _ => path.as_path(),
                    };
                    let Some(Node::File { mode, data }) = self.entries.get(canonical) else {
                        bail!("hard link {} points at no regular file", path.display());
                    };
                    if let Some(first) = first_of_group.get(canonical) {
                        // The link carries the file's mode too: extractors (Docker's among
                        // them) apply a link entry's mode to the shared inode.
                        let link = format!("{prefix}{}", path_str(first)?);
                        append(
                            &mut builder,
                            &name,
                            EntryType::Link,
                            *mode,
                            mtime,
                            Some(&link),
                            &[],
                        )?;
                    } else {
                        append(
                            &mut builder,
                            &name,
                            EntryType::Regular,
                            *mode,
                            mtime,
                            None,
                            data,
                        )?;
                        first_of_group.insert(canonical, path.clone());
                    }
                }
            }
        }
        builder.into_inner().context("finishing a tar archive")
    }
}

/// Compresses `data` with gzip at [`GZIP_LEVEL`], header mtime 0, no file name.
pub fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), Compression::new(GZIP_LEVEL));
    encoder.write_all(data)?;
    Ok(encoder.finish()?)
}

fn normalise(path: &Path) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::RootDir | Component::CurDir => {}
            _ => bail!("unsupported path in a tree: {}", path.display()),
        }
    }
    ensure!(!out.as_os_str().is_empty(), "empty path in a tree");
    Ok(out)
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str()
        .with_context(|| format!("non-UTF-8 path {}", path.display()))
}

fn append(
    builder: &mut tar::Builder<Vec<u8>>,
    name: &str,
    kind: EntryType,
    mode: u32,
    mtime: u64,
    link: Option<&str>,
    data: &[u8],
) -> Result<()> {
    let mut header = Header::new_ustar();
    set_ustar_name(&mut header, name)?;
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_username("root")?;
    header.set_groupname("root")?;
    header.set_mtime(mtime);
    header.set_size(data.len() as u64);
    if let Some(link) = link {
        let bytes = link.as_bytes();
        let slot = &mut header.as_ustar_mut().expect("ustar header").linkname;
        ensure!(
            bytes.len() <= slot.len(),
            "link target too long for ustar: {link}"
        );
        slot[..bytes.len()].copy_from_slice(bytes);
    }
    header.set_cksum();
    builder.append(&header, data)?;
    Ok(())
}

/// Stores `name` in the ustar `name` field, or splits it at a `/` into `prefix` + `name`.
fn set_ustar_name(header: &mut Header, name: &str) -> Result<()> {
    let ustar = header.as_ustar_mut().expect("ustar header");
    let bytes = name.as_bytes();
    let (prefix, rest) = if bytes.len() <= ustar.name.len() {
        (&b""[..], bytes)
    } else {
        let split = (0..bytes.len())
            .filter(|&i| {
                bytes[i] == b'/'
                    && i <= ustar.prefix.len()
                    && bytes.len() - i - 1 <= ustar.name.len()
            })
            .find(|&i| i > 0)
            .with_context(|| format!("path too long for a ustar header: {name}"))?;
        (&bytes[..split], &bytes[split + 1..])
    };
    ustar.name[..rest.len()].copy_from_slice(rest);
    ustar.prefix[..prefix.len()].copy_from_slice(prefix);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_entries(tar_bytes: &[u8]) -> Vec<(String, EntryType, u32, u64, u64, Option<String>)> {
        let mut archive = tar::Archive::new(tar_bytes);
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let header = entry.header();
                (
                    entry.path().unwrap().to_string_lossy().into_owned(),
                    header.entry_type(),
                    header.mode().unwrap(),
                    header.uid().unwrap(),
                    header.mtime().unwrap(),
                    entry
                        .link_name()
                        .unwrap()
                        .map(|l| l.to_string_lossy().into_owned()),
                )
            })
            .collect()
    }

    fn sample() -> Tree {
        let mut tree = Tree::new();
        tree.file("usr/bin/krakend", 0o755, &b"binary"[..]).unwrap();
        tree.hardlink("usr/bin/cephalo", "usr/bin/krakend").unwrap();
        tree.symlink("bin/sh", "/bin/busybox").unwrap();
        tree.dir("tmp", 0o1777).unwrap();
        tree
    }

    #[test]
    fn parents_are_created_and_entries_sorted() {
        let entries = read_entries(&sample().to_tar("", 1_700_000_000).unwrap());
        let names: Vec<_> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "bin/",
                "bin/sh",
                "tmp/",
                "usr/",
                "usr/bin/",
                "usr/bin/cephalo",
                "usr/bin/krakend"
            ]
        );
        assert!(entries.iter().all(|e| e.3 == 0 && e.4 == 1_700_000_000));
        let tmp = entries.iter().find(|e| e.0 == "tmp/").unwrap();
        assert_eq!(tmp.2, 0o1777);
    }

    #[test]
    fn first_hard_link_name_carries_the_data() {
        let entries = read_entries(&sample().to_tar("", 0).unwrap());
        let cephalo = entries.iter().find(|e| e.0 == "usr/bin/cephalo").unwrap();
        let krakend = entries.iter().find(|e| e.0 == "usr/bin/krakend").unwrap();
        assert_eq!((cephalo.1, cephalo.2), (EntryType::Regular, 0o755));
        assert_eq!((krakend.1, krakend.2), (EntryType::Link, 0o755));
        assert_eq!(krakend.5.as_deref(), Some("usr/bin/cephalo"));
    }

    #[test]
    fn prefix_adds_a_root_entry() {
        let entries = read_entries(&sample().to_tar("./", 0).unwrap());
        assert_eq!(entries[0].0, "./");
        assert!(entries.iter().skip(1).all(|e| e.0.starts_with("./")));
        let krakend = entries.iter().find(|e| e.0 == "./usr/bin/krakend").unwrap();
        assert_eq!(krakend.5.as_deref(), Some("./usr/bin/cephalo"));
    }

    #[test]
    fn long_paths_are_split_into_the_ustar_prefix() {
        let mut tree = Tree::new();
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(90));
        tree.file(&long, 0o644, &b"x"[..]).unwrap();
        let entries = read_entries(&tree.to_tar("", 0).unwrap());
        assert_eq!(entries.last().unwrap().0, long);
    }

    #[test]
    fn gzip_is_deterministic_with_a_zero_header_mtime() {
        let tar = sample().to_tar("", 42).unwrap();
        let a = gzip(&tar).unwrap();
        assert_eq!(a, gzip(&tar).unwrap());
        assert_eq!(&a[4..8], &[0, 0, 0, 0], "gzip header mtime");
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&a[..]), &mut back).unwrap();
        assert_eq!(back, tar);
    }

    #[test]
    fn conflicting_entries_are_refused() {
        let mut a = Tree::new();
        a.file("etc/passwd", 0o644, &b"a"[..]).unwrap();
        let mut b = Tree::new();
        b.file("etc/passwd", 0o644, &b"b"[..]).unwrap();
        assert!(a.merge(&b).is_err());
        assert!(a.file("etc/passwd/x", 0o644, &b""[..]).is_err());
        assert!(a.hardlink("etc/link", "etc").is_err());
    }
}
