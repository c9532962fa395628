//! Cross-process locks: an exclusive OS file lock on a file in the state directory, released
//! when the guard drops or the process dies. Waiting is bounded (30 s, or
//! `MCP_AUTH_LOCK_TIMEOUT` seconds); the holder writes its pid and program into the file so
//! that a waiter that gives up can say who holds it.

use mcp_auth_core::HostError;
use sha2::{Digest, Sha256};
use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The longest pause between two tries of a held lock: a waiter learns of the release within
/// this (a try is one system call; 20 waiters cost a few hundred calls a second).
const MAX_PAUSE: Duration = Duration::from_millis(50);

/// Seconds to wait for a lock before giving up.
pub const LOCK_TIMEOUT_ENV: &str = "MCP_AUTH_LOCK_TIMEOUT";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long to wait for a lock: `MCP_AUTH_LOCK_TIMEOUT` (seconds, fractions allowed) or 30 s.
pub fn lock_timeout() -> Duration {
    std::env::var(LOCK_TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// A held exclusive lock on a file.
pub struct FileLock {
    file: File,
}

impl FileLock {
    /// Waits (at most [`lock_timeout`]) until the lock on `path` is held, creating the file
    /// and its folder. `what` names the lock in the error.
    pub fn acquire(path: &Path, what: &str) -> Result<FileLock, HostError> {
        Self::acquire_within(path, what, lock_timeout())
    }

    /// As [`FileLock::acquire`], waiting at most `bound`.
    pub fn acquire_within(path: &Path, what: &str, bound: Duration) -> Result<FileLock, HostError> {
        if let Some(dir) = path.parent() {
            crate::store::create_private_dir(dir).map_err(|e| {
                HostError::Storage(format!(
                    "cannot create the lock folder {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| {
                HostError::Storage(format!("cannot open the lock file {}: {e}", path.display()))
            })?;
        let deadline = Instant::now() + bound;
        let mut pause = Duration::from_millis(10);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(MAX_PAUSE);
                }
                Err(TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = file
                        .rewind()
                        .and_then(|()| file.read_to_string(&mut holder));
                    let holder = holder.trim();
                    let holder = if holder.is_empty() {
                        "another process (it did not say which)".to_string()
                    } else {
                        holder.to_string()
                    };
                    return Err(HostError::Storage(format!(
                        "gave up after {:.1} s waiting for the {what} lock ({}), held by {holder}; if that process is stuck, end it (or raise {LOCK_TIMEOUT_ENV})",
                        bound.as_secs_f64(),
                        path.display()
                    )));
                }
                Err(TryLockError::Error(e)) => {
                    return Err(HostError::Storage(format!(
                        "cannot lock {}: {e}",
                        path.display()
                    )))
                }
            }
        }
        // Say who holds it: the pid and the program, never the arguments (they may carry a
        // secret). Failing to write this does not make the lock less held.
        let program = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "?".into());
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "pid {} ({program})", std::process::id()))
            .and_then(|()| file.flush());
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
    let what = format!("`{name}`");
    tokio::task::spawn_blocking(move || FileLock::acquire(&path, &what))
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
        let first = FileLock::acquire(&path, "test").expect("first");
        let released = Arc::new(AtomicBool::new(false));
        let flag = released.clone();
        let p2 = path.clone();
        let t = std::thread::spawn(move || {
            let _second = FileLock::acquire(&p2, "test").expect("second");
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
    fn a_held_lock_is_waited_for_only_so_long_and_the_holder_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = lock_path(dir.path(), "refresh:http://127.0.0.1:2");
        let held = FileLock::acquire(&path, "refresh").expect("held");
        let p2 = path.clone();
        let err = std::thread::spawn(move || {
            FileLock::acquire_within(&p2, "refresh `x`", Duration::from_millis(200))
                .err()
                .map(|e| format!("{e:?}"))
        })
        .join()
        .expect("join")
        .expect("a held lock is not granted");
        assert!(err.contains("refresh `x` lock"), "{err}");
        assert!(
            err.contains(&format!("held by pid {} (", std::process::id())),
            "{err}"
        );
        assert!(err.contains(&path.display().to_string()), "{err}");
        drop(held);
        let again = FileLock::acquire_within(&path, "refresh", Duration::from_millis(200));
        assert!(again.is_ok(), "released locks are granted");
    }

    #[test]
    fn names_map_to_distinct_files() {
        let d = Path::new("/x");
        assert_ne!(lock_path(d, "a"), lock_path(d, "b"));
        assert_eq!(lock_path(d, "a"), lock_path(d, "a"));
    }
}
