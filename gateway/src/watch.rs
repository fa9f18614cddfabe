//! `run --watch`: rebuilds the whole gateway when its config (or, with Flexible
//! Configuration, any file of its settings, partials or templates) changes, and swaps it in
//! atomically. Requests in flight finish on the gateway they started on; new ones take the
//! new one; the request path only loads an `Arc` (no lock). A config that does not load or
//! build is logged and the running gateway stays.
//!
//! Not KrakenD CE behaviour (its Hub page says: restart the container). Listener-level
//! settings (port, TLS, logging, metrics listeners) still need a restart.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::app::Gateway;
use crate::config::ServiceConfig;

/// How often the watched files are compared.
pub const POLL: Duration = Duration::from_millis(300);

/// Rebuilds a gateway from a freshly loaded config.
pub type Build = dyn Fn(&ServiceConfig) -> Result<Gateway, Vec<String>> + Send + Sync;

/// Watches `path` until the process ends, swapping gateways rebuilt by `build` into
/// `current`; `file_port` is the port the running config file declared.
pub async fn watch(
    path: PathBuf,
    current: Arc<ArcSwap<Gateway>>,
    file_port: u16,
    build: Box<Build>,
) {
    let mut seen = fingerprint(&path);
    let mut ticks = tokio::time::interval(POLL);
    loop {
        ticks.tick().await;
        let now = fingerprint(&path);
        if now == seen {
            continue;
        }
        seen = now;
        match reload(&path, file_port, build.as_ref()) {
            Ok((gateway, endpoints)) => {
                current.store(Arc::new(gateway));
                tracing::warn!(
                    "{}: configuration changed, new router with {endpoints} endpoints in service",
                    path.display()
                );
            }
            Err(problems) => {
                for p in problems {
                    tracing::error!(
                        "{}: configuration change rejected, keeping the running router: {p}",
                        path.display()
                    );
                }
            }
        }
    }
}

fn reload(path: &Path, file_port: u16, build: &Build) -> Result<(Gateway, usize), Vec<String>> {
    let cfg = crate::config::load(path).map_err(|e| vec![e.to_string()])?;
    if cfg.port != file_port {
        tracing::warn!(
            "{}: the port changed to {}; it applies after a restart",
            path.display(),
            cfg.port
        );
    }
    let endpoints = cfg.endpoints.len();
    build(&cfg).map(|g| (g, endpoints))
}

/// A hash of the contents of the config file and, with `FC_ENABLE`, of every file of the
/// Flexible Configuration directories (missing files hash as absent).
fn fingerprint(path: &Path) -> u64 {
    let mut hasher = DefaultHasher::new();
    let mut files = vec![path.to_path_buf()];
    if let Some(fc) = crate::fc::FcSettings::from_env() {
        for dir in [fc.settings, fc.partials, fc.templates]
            .into_iter()
            .flatten()
        {
            if let Ok(entries) = std::fs::read_dir(&dir) {
                let mut list: Vec<PathBuf> =
                    entries.filter_map(Result::ok).map(|e| e.path()).collect();
                list.sort();
                files.extend(list);
            }
        }
    }
    for f in files {
        f.hash(&mut hasher);
        std::fs::read(&f).ok().hash(&mut hasher);
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_follows_contents() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("krakend.json");
        std::fs::write(&file, "{}").unwrap();
        let a = fingerprint(&file);
        assert_eq!(a, fingerprint(&file));
        std::fs::write(&file, "{ }").unwrap();
        assert_ne!(a, fingerprint(&file));
        std::fs::remove_file(&file).unwrap();
        assert_ne!(a, fingerprint(&file));
    }
}
