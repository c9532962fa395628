//! Cross-process locks: an exclusive OS file lock (`File::lock`) on a file in the state
//! directory, released when the guard drops or the process dies.

use mcp_auth_core::HostError;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::path::{Path, PathBuf};

/// A held exclusive lock on a file.
pub struct FileLock {
    file: File,
}

impl FileLock {
    /// Blocks until the lock on `path` is held (creating the file and its folder).
    pub fn acquire(path: &Path) -> Result<FileLock, HostError> {
        if let Some(dir) = path.parent() {
            crate::store::create_private_dir(dir).map_err(|e| {
                HostError::Storage(format!(
                    "cannot create the lock folder {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| {
                HostError::Storage(format!("cannot open the lock file {}: {e}", path.display()))
            })?;
        file.lock()
            .map_err(|e| HostError::Storage(format!("cannot lock {}: {e}", path.display())))?;
        Ok(FileLock { file })
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// The lock file for a lock name (names hold URLs, so the file is named by their hash).
pub fn lock_path(dir: &Path, name: &str) -> PathBuf {
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    dir.join(format!("{hex}.lock"))
}

/// Acquires a named lock under `dir` without blocking the async runtime.
pub async fn acquire_named(dir: PathBuf, name: &str) -> Result<FileLock, HostError> {
    let path = lock_path(&dir, name);
    tokio::task::spawn_blocking(move || FileLock::acquire(&path))
        .await
        .map_err(|e| HostError::Storage(format!("lock task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn second_holder_waits_for_the_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = lock_path(dir.path(), "refresh:http://127.0.0.1:1");
        let first = FileLock::acquire(&path).expect("first");
        let released = Arc::new(AtomicBool::new(false));
        let flag = released.clone();
        let p2 = path.clone();
        let t = std::thread::spawn(move || {
            let _second = FileLock::acquire(&p2).expect("second");
            flag.load(Ordering::SeqCst)
        });
        std::thread::sleep(Duration::from_millis(200));
        released.store(true, Ordering::SeqCst);
        drop(first);
        assert!(
            t.join().expect("join"),
            "the second lock was granted while the first was held"
        );
    }

    #[test]
    fn names_map_to_distinct_files() {
        let d = Path::new("/x");
        assert_ne!(lock_path(d, "a"), lock_path(d, "b"));
        assert_eq!(lock_path(d, "a"), lock_path(d, "a"));
    }
}
