//! OCI documents and archives: gzip layers, image configs, manifests, the image index, the
//! OCI layout directory and the `docker load`-able hybrid archive. Every document is typed
//! (`oci-spec`) and serialised canonically (sorted keys, compact), so equal inputs give equal
//! digests.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use oci_spec::image::{
    Arch as OciArch, ConfigBuilder, Descriptor, DescriptorBuilder, Digest, HistoryBuilder,
    ImageConfigurationBuilder, ImageIndexBuilder, ImageManifestBuilder, MediaType, Os,
    PlatformBuilder, RootFsBuilder,
};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::platform::Arch;
use super::tarball::{self, Tree};

/// The contract's `PATH` (§4), the only environment variable of the image.
pub const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The contract's working directory.
pub const WORKING_DIR: &str = "/etc/krakend";
/// The contract's entrypoint.
pub const ENTRYPOINT: [&str; 1] = ["docker-entrypoint"];
/// The contract's default command.
pub const CMD: [&str; 4] = ["krakend", "run", "-c", "krakend.json"];
/// The contract's exposed ports (gateway, metrics).
pub const EXPOSED_PORTS: [&str; 2] = ["8080/tcp", "8090/tcp"];

/// A content-addressed blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    /// Its media type.
    pub media_type: MediaType,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Its bytes.
    pub data: Vec<u8>,
}

impl Blob {
    /// Wraps bytes, computing the digest.
    pub fn new(media_type: MediaType, data: Vec<u8>) -> Self {
        Self {
            media_type,
            digest: sha256_digest(&data),
            data,
        }
    }

    /// Serialises a typed document canonically.
    pub fn json(media_type: MediaType, document: &impl Serialize) -> Result<Self> {
        Ok(Self::new(media_type, canonical_json(document)?))
    }

    /// The hex part of the digest.
    pub fn hex(&self) -> &str {
        self.digest.trim_start_matches("sha256:")
    }

    /// A descriptor of this blob.
    pub fn descriptor(&self) -> Result<Descriptor> {
        Ok(Descriptor::new(
            self.media_type.clone(),
            self.data.len() as u64,
            parse_digest(&self.digest)?,
        ))
    }
}

/// One layer: its name (for reports), the gzip blob and the uncompressed digest (diff ID).
#[derive(Clone, Debug)]
pub struct Layer {
    /// What the layer holds, e.g. `base`.
    pub name: String,
    /// The compressed layer.
    pub blob: Blob,
    /// `sha256:` of the uncompressed tar.
    pub diff_id: String,
    /// Size of the uncompressed tar.
    pub tar_size: u64,
    /// The command recorded in the image history.
    pub created_by: String,
}

impl Layer {
    /// Writes `tree` as a deterministic gzip layer.
    pub fn from_tree(name: &str, tree: &Tree, mtime: u64, created_by: &str) -> Result<Self> {
        let tar = tree.to_tar("", mtime)?;
        let diff_id = sha256_digest(&tar);
        let blob = Blob::new(MediaType::ImageLayerGzip, tarball::gzip(&tar)?);
        Ok(Self {
            name: name.into(),
            blob,
            diff_id,
            tar_size: tar.len() as u64,
            created_by: created_by.into(),
        })
    }
}

/// What every image of a release says about itself (labels and annotations).
#[derive(Clone, Debug)]
pub struct Metadata {
    /// Project version (`X.Y.Z`).
    pub version: String,
    /// Git commit.
    pub revision: String,
    /// Commit time, RFC 3339.
    pub created: String,
    /// Source repository URL.
    pub source: String,
    /// SPDX licence expression.
    pub licenses: String,
    /// Authors.
    pub authors: String,
    /// One-line description.
    pub description: String,
}

impl Metadata {
    /// The `org.opencontainers.image.*` labels/annotations.
    pub fn annotations(&self) -> HashMap<String, String> {
        [
            ("title", "Cephalo"),
            ("description", self.description.as_str()),
            ("version", self.version.as_str()),
            ("revision", self.revision.as_str()),
            ("source", self.source.as_str()),
            ("licenses", self.licenses.as_str()),
            ("created", self.created.as_str()),
            ("authors", self.authors.as_str()),
        ]
        .into_iter()
        .map(|(key, value)| (format!("org.opencontainers.image.{key}"), value.to_string()))
        .collect()
    }
}

/// One architecture's image.
#[derive(Clone, Debug)]
pub struct Image {
    /// Its architecture.
    pub arch: Arch,
    /// Its layers, bottom first.
    pub layers: Vec<Layer>,
    /// The config blob (its digest is Docker's image ID).
    pub config: Blob,
    /// The manifest blob.
    pub manifest: Blob,
}

impl Image {
    /// Builds the config and manifest of `layers` for `arch`.
    pub fn new(arch: Arch, layers: Vec<Layer>, meta: &Metadata) -> Result<Self> {
        let config = Blob::json(MediaType::ImageConfig, &config(arch, &layers, meta)?)?;
        let mut layer_descriptors = Vec::new();
        for layer in &layers {
            layer_descriptors.push(layer.blob.descriptor()?);
        }
        let manifest = ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageManifest)
            .config(config.descriptor()?)
            .layers(layer_descriptors)
            .annotations(meta.annotations())
            .build()?;
        let manifest = Blob::json(MediaType::ImageManifest, &manifest)?;
        Ok(Self {
            arch,
            layers,
            config,
            manifest,
        })
    }

    /// Total compressed size of the layers.
    pub fn compressed_size(&self) -> u64 {
        self.layers.iter().map(|l| l.blob.data.len() as u64).sum()
    }

    /// The manifest descriptor with this image's platform.
    pub fn platform_descriptor(&self) -> Result<Descriptor> {
        let mut platform = PlatformBuilder::default()
            .architecture(oci_arch(self.arch))
            .os(Os::Linux);
        if let Some(variant) = self.arch.oci_variant() {
            platform = platform.variant(variant);
        }
        Ok(DescriptorBuilder::default()
            .media_type(MediaType::ImageManifest)
            .size(self.manifest.data.len() as u64)
            .digest(parse_digest(&self.manifest.digest)?)
            .platform(platform.build()?)
            .build()?)
    }

    fn blobs(&self) -> impl Iterator<Item = &Blob> {
        self.layers
            .iter()
            .map(|l| &l.blob)
            .chain([&self.config, &self.manifest])
    }
}

/// The image configuration of contract §4.
fn config(
    arch: Arch,
    layers: &[Layer],
    meta: &Metadata,
) -> Result<oci_spec::image::ImageConfiguration> {
    let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let runtime = ConfigBuilder::default()
        .env(strings(&[PATH_ENV]))
        .working_dir(WORKING_DIR)
        .entrypoint(strings(&ENTRYPOINT))
        .cmd(strings(&CMD))
        .exposed_ports(strings(&EXPOSED_PORTS))
        .labels(meta.annotations())
        .build()?;
    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>())
        .build()?;
    let mut history = Vec::new();
    for layer in layers {
        history.push(
            HistoryBuilder::default()
                .created(meta.created.clone())
                .created_by(layer.created_by.clone())
                .comment(format!("cephalo {} layer", layer.name))
                .build()?,
        );
    }
    let mut builder = ImageConfigurationBuilder::default()
        .created(meta.created.clone())
        .architecture(oci_arch(arch))
        .os(Os::Linux)
        .config(runtime)
        .rootfs(rootfs)
        .history(history);
    if let Some(variant) = arch.oci_variant() {
        builder = builder.variant(variant);
    }
    Ok(builder.build()?)
}

/// Every architecture's image and the image index over them.
#[derive(Clone, Debug)]
pub struct ImageSet {
    /// The images, in [`Arch::ALL`] order.
    pub images: Vec<Image>,
    /// The image index blob.
    pub index: Blob,
}

impl ImageSet {
    /// Builds the image index over `images`.
    pub fn new(images: Vec<Image>, meta: &Metadata) -> Result<Self> {
        let mut manifests = Vec::new();
        for image in &images {
            manifests.push(image.platform_descriptor()?);
        }
        let index = ImageIndexBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageIndex)
            .manifests(manifests)
            .annotations(meta.annotations())
            .build()?;
        Ok(Self {
            index: Blob::json(MediaType::ImageIndex, &index)?,
            images,
        })
    }

    /// Writes the OCI image layout: `oci-layout`, `index.json` (naming the image index
    /// `<version>`) and `blobs/sha256/*`.
    pub fn write_layout(&self, dir: &Path, meta: &Metadata) -> Result<()> {
        if dir.exists() {
            fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        let mut tree = Tree::new();
        let blobs = self
            .images
            .iter()
            .flat_map(Image::blobs)
            .chain([&self.index]);
        layout_tree(&mut tree, blobs, &self.index, &meta.version)?;
        for (path, node) in tree.iter() {
            if let tarball::Node::File { data, .. } = node {
                let target = dir.join(path);
                fs::create_dir_all(target.parent().expect("blob paths have parents"))?;
                fs::write(&target, data)
                    .with_context(|| format!("writing {}", target.display()))?;
            }
        }
        Ok(())
    }
}

impl Image {
    /// The `docker load`-able archive of this image: an OCI layout (whose `index.json`
    /// names the manifest) plus docker-save's `manifest.json`, which Docker 20.10 needs.
    pub fn docker_archive(&self, repo_tags: &[String], mtime: u64) -> Result<Vec<u8>> {
        let mut tree = Tree::new();
        let ref_name = repo_tags
            .first()
            .map(|t| t.rsplit(':').next().unwrap_or(t))
            .unwrap_or("latest");
        layout_tree(&mut tree, self.blobs(), &self.manifest, ref_name)?;
        let docker_manifest = serde_json::json!([{
            "Config": format!("blobs/sha256/{}", self.config.hex()),
            "RepoTags": repo_tags,
            "Layers": self.layers.iter().map(|l| format!("blobs/sha256/{}", l.blob.hex())).collect::<Vec<_>>(),
        }]);
        tree.file("manifest.json", 0o644, canonical_json(&docker_manifest)?)?;
        tree.to_tar("", mtime)
    }
}

fn layout_tree<'a>(
    tree: &mut Tree,
    blobs: impl Iterator<Item = &'a Blob>,
    top: &Blob,
    ref_name: &str,
) -> Result<()> {
    tree.file(
        "oci-layout",
        0o644,
        canonical_json(&serde_json::json!({ "imageLayoutVersion": "1.0.0" }))?,
    )?;
    for blob in blobs {
        tree.file(
            format!("blobs/sha256/{}", blob.hex()),
            0o644,
            blob.data.clone(),
        )?;
    }
    let mut top_descriptor = top.descriptor()?;
    top_descriptor.set_annotations(Some(HashMap::from([(
        "org.opencontainers.image.ref.name".to_string(),
        ref_name.to_string(),
    )])));
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![top_descriptor])
        .build()?;
    tree.file("index.json", 0o644, canonical_json(&index)?)?;
    Ok(())
}

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Serialises with every object's keys sorted (whatever map type the document uses).
pub fn canonical_json(document: &impl Serialize) -> Result<Vec<u8>> {
    fn sort(value: Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Object(entries.into_iter().map(|(k, v)| (k, sort(v))).collect())
            }
            Value::Array(items) => Value::Array(items.into_iter().map(sort).collect()),
            other => other,
        }
    }
    Ok(serde_json::to_vec(&sort(serde_json::to_value(document)?))?)
}

fn parse_digest(digest: &str) -> Result<Digest> {
    digest
        .parse::<Digest>()
        .with_context(|| format!("bad digest {digest}"))
}

fn oci_arch(arch: Arch) -> OciArch {
    match arch {
        Arch::Amd64 => OciArch::Amd64,
        Arch::Arm64 => OciArch::ARM64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Metadata {
        Metadata {
            version: "1.2.3".into(),
            revision: "0123456789abcdef0123456789abcdef01234567".into(),
            created: "2026-01-02T03:04:05Z".into(),
            source: "https://github.com/cephalo-gateway/cephalo".into(),
            licenses: "Apache-2.0".into(),
            authors: "Cephalo developers".into(),
            description: "test".into(),
        }
    }

    /// A small fixture rootfs, rebuilt from scratch on every call.
    fn fixture(binary: &[u8]) -> Tree {
        let mut tree = Tree::new();
        tree.dir("tmp", 0o1777).unwrap();
        tree.file(
            "etc/krakend/krakend.json",
            0o644,
            &b"{ \"version\": 3 }\n"[..],
        )
        .unwrap();
        tree.file("usr/bin/krakend", 0o755, binary.to_vec())
            .unwrap();
        tree.hardlink("usr/bin/cephalo", "usr/bin/krakend").unwrap();
        tree.symlink("bin/sh", "/bin/busybox").unwrap();
        tree
    }

    fn image_set(binary: &[u8], mtime: u64) -> ImageSet {
        let images = Arch::ALL
            .iter()
            .map(|&arch| {
                let layer = Layer::from_tree("app", &fixture(binary), mtime, "fixture").unwrap();
                Image::new(arch, vec![layer], &meta()).unwrap()
            })
            .collect();
        ImageSet::new(images, &meta()).unwrap()
    }

    #[test]
    fn two_builds_give_the_same_digests() {
        let (a, b) = (
            image_set(b"gateway", 1_700_000_000),
            image_set(b"gateway", 1_700_000_000),
        );
        assert_eq!(a.index, b.index);
        for (x, y) in a.images.iter().zip(&b.images) {
            assert_eq!(x.layers[0].blob.digest, y.layers[0].blob.digest);
            assert_eq!(x.config, y.config);
            assert_eq!(x.manifest, y.manifest);
            assert_eq!(
                x.docker_archive(&["t:1".into()], 7).unwrap(),
                y.docker_archive(&["t:1".into()], 7).unwrap()
            );
        }
    }

    #[test]
    fn content_and_mtime_change_the_digests() {
        let base = image_set(b"gateway", 1_700_000_000);
        assert_ne!(
            base.index.digest,
            image_set(b"gateway2", 1_700_000_000).index.digest
        );
        assert_ne!(
            base.index.digest,
            image_set(b"gateway", 1_700_000_001).index.digest
        );
    }

    #[test]
    fn config_has_the_contract_fields() {
        let set = image_set(b"gateway", 0);
        let arm: Value = serde_json::from_slice(&set.images[1].config.data).unwrap();
        assert_eq!(arm["architecture"], "arm64");
        assert_eq!(arm["variant"], "v8");
        assert_eq!(arm["os"], "linux");
        assert_eq!(arm["created"], "2026-01-02T03:04:05Z");
        let config = &arm["config"];
        assert_eq!(config["Env"], serde_json::json!([PATH_ENV]));
        assert_eq!(config["WorkingDir"], "/etc/krakend");
        assert_eq!(
            config["Entrypoint"],
            serde_json::json!(["docker-entrypoint"])
        );
        assert_eq!(
            config["Cmd"],
            serde_json::json!(["krakend", "run", "-c", "krakend.json"])
        );
        assert_eq!(
            config["ExposedPorts"],
            serde_json::json!({"8080/tcp": {}, "8090/tcp": {}})
        );
        assert!(
            config.get("User").is_none()
                && config.get("Volumes").is_none()
                && config.get("Healthcheck").is_none()
        );
        let labels = config["Labels"].as_object().unwrap();
        for key in [
            "title",
            "description",
            "version",
            "revision",
            "source",
            "licenses",
            "created",
            "authors",
        ] {
            assert!(
                labels.contains_key(&format!("org.opencontainers.image.{key}")),
                "label {key}"
            );
        }
        let diff_ids = arm["rootfs"]["diff_ids"].as_array().unwrap();
        assert_eq!(diff_ids[0], set.images[1].layers[0].diff_id.as_str());
    }

    #[test]
    fn index_lists_both_platforms_and_docker_manifest_points_into_blobs() {
        let set = image_set(b"gateway", 0);
        let index: Value = serde_json::from_slice(&set.index.data).unwrap();
        let platforms: Vec<_> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["platform"]["architecture"].clone(),
                    m["platform"]["variant"].clone(),
                )
            })
            .collect();
        assert_eq!(
            platforms,
            [("amd64".into(), Value::Null), ("arm64".into(), "v8".into())]
        );
        assert_eq!(
            index["annotations"]["org.opencontainers.image.version"],
            "1.2.3"
        );

        let image = &set.images[0];
        let archive = image
            .docker_archive(&["cephalo:1.2.3-amd64".into()], 0)
            .unwrap();
        let mut files = std::collections::BTreeMap::new();
        for entry in tar::Archive::new(&archive[..]).entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
            files.insert(path, data);
        }
        let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
        let config_path = manifest[0]["Config"].as_str().unwrap();
        assert_eq!(files[config_path], image.config.data);
        assert_eq!(
            manifest[0]["RepoTags"],
            serde_json::json!(["cephalo:1.2.3-amd64"])
        );
        let layer_path = manifest[0]["Layers"][0].as_str().unwrap();
        assert_eq!(
            sha256_digest(&files[layer_path]),
            image.layers[0].blob.digest
        );
        let layout_index: Value = serde_json::from_slice(&files["index.json"]).unwrap();
        assert_eq!(
            layout_index["manifests"][0]["digest"],
            image.manifest.digest.as_str()
        );
        assert!(files.contains_key("oci-layout"));
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let map: HashMap<&str, HashMap<&str, u8>> = HashMap::from([
            ("b", HashMap::from([("z", 1), ("a", 2)])),
            ("a", HashMap::new()),
        ]);
        assert_eq!(
            String::from_utf8(canonical_json(&map).unwrap()).unwrap(),
            r#"{"a":{},"b":{"a":2,"z":1}}"#
        );
    }
}
