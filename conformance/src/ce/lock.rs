//! The machine-wide lock that serialises everything using the suite's fixed
//! ports (8080, 8081, 8090): the upstream fixture hard-codes them.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// Default lock file, shared with the container harness.
pub const LOCK_PATH: &str = "/tmp/cephalo-ce.lock";

/// Holds the exclusive lock until dropped.
#[derive(Debug)]
pub struct PortsLock {
    file: File,
    path: PathBuf,
}

impl PortsLock {
    /// Takes the lock at `path`, blocking while another process holds it.
    /// `on_wait` is called once if the lock is busy (to print progress).
    pub fn acquire(path: impl AsRef<Path>, on_wait: impl FnOnce()) -> std::io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                on_wait();
                file.lock()?;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        Ok(Self { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PortsLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_waits() {
        let path = std::env::temp_dir().join(format!("cephalo-lock-test-{}", std::process::id()));
        let first = PortsLock::acquire(&path, || panic!("free lock reported busy")).unwrap();
        // A second open file description conflicts even within one process.
        let other = OpenOptions::new().write(true).open(&path).unwrap();
        assert!(matches!(
            other.try_lock(),
            Err(std::fs::TryLockError::WouldBlock)
        ));
        drop(first);
        assert!(other.try_lock().is_ok());
        std::fs::remove_file(&path).unwrap();
    }
}
