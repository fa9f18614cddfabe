//! The release's SBOM: an SPDX 2.3 JSON document listing the Rust crates linked into the
//! image's binaries (from `cargo metadata`, for the musl targets) and the Debian packages.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;

use anyhow::{Context, Result};
use cargo_metadata::{
    DependencyKind, Metadata as CargoMetadata, MetadataCommand, Package, PackageId, TargetKind,
};
use serde_json::{json, Value};

use crate::image::debs::Lock;
use crate::image::oci::Metadata;
use crate::image::platform::Arch;
use crate::project;

/// The workspace binaries shipped in the image.
const SHIPPED: [&str; 2] = ["gateway", "entrypoint"];

/// A crate in the image.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Crate {
    /// Crate name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Declared licence (SPDX), if any.
    pub license: Option<String>,
    /// From crates.io (else a workspace or path crate).
    pub registry: bool,
}

/// The crates linked into the gateway and the entrypoint for every architecture: normal
/// dependencies only (no build or dev dependencies, nothing behind a proc macro).
pub fn shipped_crates() -> Result<Vec<Crate>> {
    let mut crates = BTreeSet::new();
    for arch in Arch::ALL {
        let metadata = MetadataCommand::new()
            .manifest_path(project::root().join("Cargo.toml"))
            .other_options(vec![
                "--filter-platform".to_string(),
                arch.rust_target().to_string(),
            ])
            .exec()
            .context("running cargo metadata")?;
        crates.extend(reachable(&metadata)?);
    }
    Ok(crates.into_iter().collect())
}

fn reachable(metadata: &CargoMetadata) -> Result<BTreeSet<Crate>> {
    let resolve = metadata
        .resolve
        .as_ref()
        .context("cargo metadata has no resolve graph")?;
    let packages: HashMap<&PackageId, &Package> =
        metadata.packages.iter().map(|p| (&p.id, p)).collect();
    let nodes: HashMap<&PackageId, _> = resolve.nodes.iter().map(|n| (&n.id, n)).collect();
    let mut stack: Vec<&PackageId> = metadata
        .workspace_packages()
        .into_iter()
        .filter(|p| SHIPPED.contains(&p.name.as_str()))
        .map(|p| &p.id)
        .collect();
    let mut seen = BTreeSet::new();
    let mut out = BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id.repr.clone()) {
            continue;
        }
        let package = packages[id];
        if package
            .targets
            .iter()
            .any(|t| t.kind.contains(&TargetKind::ProcMacro))
        {
            continue;
        }
        out.insert(Crate {
            name: package.name.to_string(),
            version: package.version.to_string(),
            license: package.license.clone(),
            registry: package.source.as_ref().is_some_and(|s| s.is_crates_io()),
        });
        if let Some(node) = nodes.get(id) {
            for dep in &node.deps {
                if dep
                    .dep_kinds
                    .iter()
                    .any(|k| k.kind == DependencyKind::Normal)
                {
                    stack.push(&dep.pkg);
                }
            }
        }
    }
    Ok(out)
}

/// `Cargo.lock` checksums by (name, version).
fn lock_checksums() -> Result<BTreeMap<(String, String), String>> {
    let lock: toml::Table = fs::read_to_string(project::root().join("Cargo.lock"))?.parse()?;
    let mut sums = BTreeMap::new();
    for package in lock
        .get("package")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
    {
        let field = |k: &str| package.get(k).and_then(|v| v.as_str()).map(str::to_string);
        if let (Some(name), Some(version), Some(sum)) =
            (field("name"), field("version"), field("checksum"))
        {
            sums.insert((name, version), sum);
        }
    }
    Ok(sums)
}

/// Turns old-style `MIT/Apache-2.0` into an SPDX expression.
pub fn spdx_license(license: Option<&str>) -> String {
    match license.map(str::trim).filter(|l| !l.is_empty()) {
        Some(license) => license
            .split('/')
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" OR "),
        None => "NOASSERTION".into(),
    }
}

fn spdx_id(kind: &str, name: &str, version: &str) -> String {
    let raw = format!("SPDXRef-{kind}-{name}-{version}");
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Percent-encodes a purl version.
fn purl_escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '.' | '-' | '_' | '~' => c.to_string(),
            other => format!("%{:02X}", other as u32),
        })
        .collect()
}

/// The SPDX document of a release whose image index has `index_digest`.
pub fn document(
    meta: &Metadata,
    index_digest: &str,
    crates: &[Crate],
    lock: &Lock,
) -> Result<Value> {
    let checksums = lock_checksums()?;
    let image_id = "SPDXRef-Image".to_string();
    let mut packages = vec![json!({
        "SPDXID": image_id,
        "name": "cephalo",
        "versionInfo": meta.version,
        "primaryPackagePurpose": "CONTAINER",
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": meta.licenses,
        "copyrightText": "NOASSERTION",
        "supplier": format!("Organization: {}", meta.authors),
        "checksums": [{ "algorithm": "SHA256", "checksumValue": index_digest.trim_start_matches("sha256:") }],
        "externalRefs": [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": format!("pkg:oci/cephalo@{}?tag={}", purl_escape(index_digest), meta.version),
        }],
    })];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": image_id,
    })];
    for krate in crates {
        let id = spdx_id("Crate", &krate.name, &krate.version);
        let mut package = json!({
            "SPDXID": id,
            "name": krate.name,
            "versionInfo": krate.version,
            "primaryPackagePurpose": if SHIPPED.contains(&krate.name.as_str()) { "APPLICATION" } else { "LIBRARY" },
            "downloadLocation": if krate.registry {
                format!("https://crates.io/api/v1/crates/{}/{}/download", krate.name, krate.version)
            } else {
                meta.source.clone()
            },
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": spdx_license(krate.license.as_deref()),
            "copyrightText": "NOASSERTION",
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": format!("pkg:cargo/{}@{}", krate.name, purl_escape(&krate.version)),
            }],
        });
        if let Some(sum) = checksums.get(&(krate.name.clone(), krate.version.clone())) {
            package["checksums"] = json!([{ "algorithm": "SHA256", "checksumValue": sum }]);
        }
        packages.push(package);
        relationships.push(json!({ "spdxElementId": image_id, "relationshipType": "CONTAINS", "relatedSpdxElement": id }));
    }
    for pin in &lock.pins {
        let id = spdx_id("Deb", &format!("{}-{}", pin.name, pin.arch), &pin.version);
        packages.push(json!({
            "SPDXID": id,
            "name": pin.name,
            "versionInfo": pin.version,
            "primaryPackagePurpose": if pin.name == "busybox-static" { "APPLICATION" } else { "DATA" },
            "supplier": "Organization: Debian",
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "checksums": [{ "algorithm": "SHA256", "checksumValue": pin.sha256 }],
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": format!("pkg:deb/debian/{}@{}?arch={}", pin.name, purl_escape(&pin.version), pin.arch),
            }],
        }));
        relationships.push(json!({ "spdxElementId": image_id, "relationshipType": "CONTAINS", "relatedSpdxElement": id }));
    }
    Ok(json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("cephalo-{}", meta.version),
        "documentNamespace": format!("{}/spdx/cephalo-{}-{}", meta.source, meta.version, meta.revision),
        "creationInfo": {
            "created": meta.created,
            "creators": [format!("Tool: cephalo-xtask-{}", meta.version), format!("Organization: {}", meta.authors)],
        },
        "documentDescribes": [image_id],
        "packages": packages,
        "relationships": relationships,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn licenses_become_spdx_expressions() {
        assert_eq!(spdx_license(Some("MIT/Apache-2.0")), "MIT OR Apache-2.0");
        assert_eq!(spdx_license(Some("MIT OR Apache-2.0")), "MIT OR Apache-2.0");
        assert_eq!(spdx_license(None), "NOASSERTION");
    }

    #[test]
    fn ids_and_purls_are_escaped() {
        assert_eq!(
            spdx_id("Deb", "busybox-static-amd64", "1:1.35.0-4+deb12u1"),
            "SPDXRef-Deb-busybox-static-amd64-1-1.35.0-4-deb12u1"
        );
        assert_eq!(purl_escape("1:1.35.0-4+deb12u1"), "1%3A1.35.0-4%2Bdeb12u1");
    }

    #[test]
    fn shipped_crates_cover_both_binaries_without_build_only_crates() {
        let crates = shipped_crates().unwrap();
        let names: Vec<_> = crates.iter().map(|c| c.name.as_str()).collect();
        assert!(
            names.contains(&"gateway") && names.contains(&"entrypoint"),
            "{names:?}"
        );
        assert!(!names.contains(&"xtask") && !names.contains(&"conformance"));
        for build_only in ["syn", "proc-macro2", "cc"] {
            assert!(
                !names.contains(&build_only),
                "{build_only} is not linked into the binaries"
            );
        }
    }
}
