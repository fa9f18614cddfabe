//! The filesystem of an image, from `docker save`: its layers applied in order (with OCI
//! whiteouts), listed one line per path with type, mode, owner and size.

use std::collections::BTreeMap;
use std::io::Read;

use serde::Deserialize;

use super::ContainerError;

/// One path of the image's filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: Kind,
    /// Permission bits including setuid/setgid/sticky (`0o7777` mask).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Size of a regular file.
    pub size: u64,
    /// Contents of regular files up to [`KEEP_CONTENTS`] bytes.
    pub contents: Option<Vec<u8>>,
    /// A regular file starting with the ELF magic (a binary).
    pub elf: bool,
}

/// Regular files up to this size keep their contents for the checks (config, CA bundle).
pub const KEEP_CONTENTS: u64 = 1024 * 1024;

/// The type of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink(String),
    /// A hard link to another path of the image.
    HardLink(String),
    Other(char),
}

/// The merged filesystem: absolute path -> entry, sorted.
pub type Filesystem = BTreeMap<String, Entry>;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SaveManifest {
    layers: Vec<String>,
}

/// Reads a `docker save` archive and applies its (first image's) layers in order.
pub fn filesystem_from_save(archive: &[u8]) -> Result<Filesystem, ContainerError> {
    let members = read_members(archive)?;
    let manifest = members
        .get("manifest.json")
        .ok_or_else(|| ContainerError::Io("docker save archive without manifest.json".into()))?;
    let manifests: Vec<SaveManifest> = serde_json::from_slice(manifest)
        .map_err(|e| ContainerError::Io(format!("manifest.json of docker save: {e}")))?;
    let first = manifests
        .first()
        .ok_or_else(|| ContainerError::Io("docker save archive lists no image".into()))?;
    let mut fs = Filesystem::new();
    for layer in &first.layers {
        let bytes = members
            .get(layer.as_str())
            .ok_or_else(|| ContainerError::Io(format!("docker save archive lacks {layer}")))?;
        apply_layer(&mut fs, &decompress(bytes)?)?;
    }
    Ok(fs)
}

/// The full contents of the regular file `path` in a `docker save` archive (top layer
/// first; hard links followed), or `None` when absent.
pub fn extract_file(archive: &[u8], path: &str) -> Result<Option<Vec<u8>>, ContainerError> {
    let members = read_members(archive)?;
    let manifest = members
        .get("manifest.json")
        .ok_or_else(|| ContainerError::Io("docker save archive without manifest.json".into()))?;
    let manifests: Vec<SaveManifest> = serde_json::from_slice(manifest)
        .map_err(|e| ContainerError::Io(format!("manifest.json of docker save: {e}")))?;
    let Some(first) = manifests.first() else {
        return Ok(None);
    };
    let mut wanted = path.to_string();
    for layer in first.layers.iter().rev() {
        let Some(bytes) = members.get(layer.as_str()) else {
            continue;
        };
        let layer = decompress(bytes)?;
        let mut tar = tar::Archive::new(layer.as_slice());
        for entry in tar.entries().map_err(io("layer"))? {
            let mut entry = entry.map_err(io("layer entry"))?;
            let name = normalize(&entry.path().map_err(io("path"))?.to_string_lossy());
            if name != wanted {
                continue;
            }
            match entry.header().entry_type() {
                tar::EntryType::Regular => {
                    let mut bytes = Vec::new();
                    entry.read_to_end(&mut bytes).map_err(io("file"))?;
                    return Ok(Some(bytes));
                }
                tar::EntryType::Link => wanted = normalize(&link_name(&entry)?),
                _ => return Ok(None),
            }
        }
    }
    Ok(None)
}

/// Applies one layer tar to `fs`: whiteouts delete, opaque directories clear, the rest
/// adds or replaces.
pub fn apply_layer(fs: &mut Filesystem, layer: &[u8]) -> Result<(), ContainerError> {
    let mut archive = tar::Archive::new(layer);
    let entries = archive.entries().map_err(io("layer"))?;
    for entry in entries {
        let mut entry = entry.map_err(io("layer entry"))?;
        let raw = entry
            .path()
            .map_err(io("layer path"))?
            .to_string_lossy()
            .into_owned();
        let path = normalize(&raw);
        let (parent, base) = path.rsplit_once('/').unwrap_or(("", &path));
        let parent = if parent.is_empty() { "/" } else { parent };
        if base == ".wh..wh..opq" {
            let prefix = format!("{}/", parent.trim_end_matches('/'));
            fs.retain(|p, _| !p.starts_with(&prefix));
            continue;
        }
        if let Some(hidden) = base.strip_prefix(".wh.") {
            let gone = format!("{}/{hidden}", parent.trim_end_matches('/'));
            let prefix = format!("{gone}/");
            fs.retain(|p, _| *p != gone && !p.starts_with(&prefix));
            continue;
        }
        let header = entry.header();
        let kind = match header.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File,
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Symlink => Kind::Symlink(link_name(&entry)?),
            tar::EntryType::Link => Kind::HardLink(normalize(&link_name(&entry)?)),
            other => Kind::Other(other.as_byte() as char),
        };
        let mode = header.mode().map_err(io("mode"))? & 0o7777;
        let uid = header.uid().map_err(io("uid"))?;
        let gid = header.gid().map_err(io("gid"))?;
        let size = if kind == Kind::File { entry.size() } else { 0 };
        let (contents, elf) = if kind == Kind::File {
            let mut bytes = Vec::with_capacity(size.min(KEEP_CONTENTS) as usize);
            entry.read_to_end(&mut bytes).map_err(io("file contents"))?;
            let elf = bytes.starts_with(b"\x7fELF");
            ((bytes.len() as u64 <= KEEP_CONTENTS).then_some(bytes), elf)
        } else {
            (None, false)
        };
        if path == "/" {
            continue;
        }
        fs.insert(
            path,
            Entry {
                kind,
                mode,
                uid,
                gid,
                size,
                contents,
                elf,
            },
        );
    }
    Ok(())
}

/// The listing as text, one line per path: `mode uid:gid type size path [-> target]`.
/// Sizes of ELF binaries (they change with every code change and differ per architecture)
/// print as `*`, as do hard links to them.
pub fn render(fs: &Filesystem) -> String {
    let mut out = String::new();
    for (path, e) in fs {
        let (kind, extra) = match &e.kind {
            Kind::File => ('f', String::new()),
            Kind::Dir => ('d', String::new()),
            Kind::Symlink(target) => ('l', format!(" -> {target}")),
            Kind::HardLink(target) => ('h', format!(" => {target}")),
            Kind::Other(c) => (*c, String::new()),
        };
        let size = match &e.kind {
            Kind::File if e.elf => "*".to_string(),
            Kind::File => e.size.to_string(),
            _ => "-".to_string(),
        };
        out.push_str(&format!(
            "{:04o} {}:{} {kind} {size} {path}{extra}\n",
            e.mode, e.uid, e.gid
        ));
    }
    out
}

/// The paths with a setuid or setgid bit.
pub fn setid_paths(fs: &Filesystem) -> Vec<String> {
    fs.iter()
        .filter(|(_, e)| e.mode & 0o6000 != 0 && !matches!(e.kind, Kind::Symlink(_)))
        .map(|(p, _)| p.clone())
        .collect()
}

fn read_members(archive: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, ContainerError> {
    let mut members = BTreeMap::new();
    let mut tar = tar::Archive::new(archive);
    for entry in tar.entries().map_err(io("docker save archive"))? {
        let mut entry = entry.map_err(io("docker save entry"))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry
            .path()
            .map_err(io("path"))?
            .to_string_lossy()
            .into_owned();
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(io("docker save member"))?;
        members.insert(path.trim_start_matches("./").to_string(), bytes);
    }
    Ok(members)
}

fn decompress(bytes: &[u8]) -> Result<Vec<u8>, ContainerError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(io("gzip layer"))?;
        Ok(out)
    } else {
        Ok(bytes.to_vec())
    }
}

fn link_name<R: Read>(entry: &tar::Entry<R>) -> Result<String, ContainerError> {
    Ok(entry
        .link_name()
        .map_err(io("link name"))?
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default())
}

/// `./usr/bin/` -> `/usr/bin`.
fn normalize(path: &str) -> String {
    let trimmed = path.trim_start_matches("./").trim_start_matches('/');
    let trimmed = trimmed.trim_end_matches('/');
    format!("/{trimmed}")
}

fn io(what: &'static str) -> impl Fn(std::io::Error) -> ContainerError {
    move |e| ContainerError::Io(format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (path, type, mode, contents, link target)
    type Member<'a> = (&'a str, tar::EntryType, u32, &'a [u8], Option<&'a str>);

    fn layer(entries: &[Member]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, kind, mode, data, link) in entries {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(*kind);
            h.set_mode(*mode);
            h.set_uid(0);
            h.set_gid(0);
            h.set_size(data.len() as u64);
            if let Some(link) = link {
                h.set_link_name(link).unwrap();
            }
            h.set_path(path).unwrap();
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn layers_apply_in_order_with_whiteouts() {
        use tar::EntryType::*;
        let mut fs = Filesystem::new();
        let base = layer(&[
            ("./", Directory, 0o755, b"", None),
            ("etc/", Directory, 0o755, b"", None),
            ("etc/a", Regular, 0o644, b"one", None),
            ("etc/b", Regular, 0o644, b"two", None),
            ("opt/", Directory, 0o755, b"", None),
            ("opt/x", Regular, 0o644, b"x", None),
            ("bin/", Directory, 0o755, b"", None),
            ("bin/sh", Symlink, 0o777, b"", Some("busybox")),
            ("bin/busybox", Regular, 0o4755, b"\x7fELF...", None),
            ("bin/ls", Link, 0o755, b"", Some("./bin/busybox")),
        ]);
        apply_layer(&mut fs, &base).unwrap();
        let top = layer(&[
            ("etc/.wh.a", Regular, 0o644, b"", None),
            ("etc/b", Regular, 0o600, b"changed", None),
            ("opt/.wh..wh..opq", Regular, 0o644, b"", None),
            ("opt/y", Regular, 0o644, b"y", None),
        ]);
        apply_layer(&mut fs, &top).unwrap();
        assert_eq!(
            render(&fs),
            "\
0755 0:0 d - /bin
4755 0:0 f * /bin/busybox
0755 0:0 h - /bin/ls => /bin/busybox
0777 0:0 l - /bin/sh -> busybox
0755 0:0 d - /etc
0600 0:0 f 7 /etc/b
0755 0:0 d - /opt
0644 0:0 f 1 /opt/y
"
        );
        assert_eq!(fs["/etc/b"].contents.as_deref(), Some(&b"changed"[..]));
        assert_eq!(setid_paths(&fs), ["/bin/busybox"]);
    }

    #[test]
    fn docker_save_archives_are_read_through_their_manifest() {
        use tar::EntryType::*;
        let l1 = layer(&[
            ("etc/", Directory, 0o755, b"", None),
            ("etc/a", Regular, 0o644, b"1", None),
        ]);
        let l2 = layer(&[
            ("etc/.wh.a", Regular, 0o644, b"", None),
            ("etc/c", Regular, 0o644, b"3", None),
        ]);
        let manifest =
            br#"[{"Config":"c.json","RepoTags":["x:y"],"Layers":["l1/layer.tar","l2/layer.tar"]}]"#;
        let save = layer(&[
            ("manifest.json", Regular, 0o644, manifest, None),
            ("l2/layer.tar", Regular, 0o644, &l2, None),
            ("l1/layer.tar", Regular, 0o644, &l1, None),
        ]);
        let fs = filesystem_from_save(&save).unwrap();
        assert_eq!(fs.keys().collect::<Vec<_>>(), ["/etc", "/etc/c"]);
    }
}
