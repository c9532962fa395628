//! Locks across hosts, in the Redis of `persist: redis`.
//!
//! A lock is the key `<prefix>lock:<name>` set with `SET key value NX PX lease`, where the
//! value is a random token followed by who holds it (`pid N (program) on host`). The lease is
//! short ([`lease`], 6 s unless `MCP_AUTH_REDIS_LEASE_MS` says otherwise) and a thread renews
//! it every third of the lease while the lock is held, so a holder that dies is replaced
//! within one lease, and a live holder keeps it however long the refresh takes. Release and
//! renewal are Lua compare-and-delete / compare-and-expire: only the owner's token does
//! anything. Waiting is bounded like the file lock (`MCP_AUTH_LOCK_TIMEOUT`, 30 s) and names
//! the holder. While held, the store's writes are fenced ([`crate::redis_store`]): a holder
//! whose lease ran out (it stalled longer than the lease) cannot overwrite what the next
//! holder stored.

use crate::lock::{lock_timeout, LOCK_TIMEOUT_ENV};
use crate::redis_store::{Inner, LockHolder, RedisStore};
use mcp_auth_core::HostError;
use redis::{Connection, Script};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The lease of a Redis lock in milliseconds (default 6000).
pub const REDIS_LEASE_ENV: &str = "MCP_AUTH_REDIS_LEASE_MS";
const DEFAULT_LEASE: Duration = Duration::from_secs(6);
const MIN_LEASE: Duration = Duration::from_millis(300);

/// The lease: `MCP_AUTH_REDIS_LEASE_MS`, at least 300 ms, else 6 s.
pub fn lease() -> Duration {
    std::env::var(REDIS_LEASE_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|ms| Duration::from_millis(ms).max(MIN_LEASE))
        .unwrap_or(DEFAULT_LEASE)
}

const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
";

/// Who this process is, for a waiter's message: pid, program, host; never the arguments.
fn holder_description() -> String {
    let program = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "?".into());
    format!("pid {} ({program}) on {}", std::process::id(), host_name())
}

#[cfg(unix)]
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or
    // truncates, and we stop at the first NUL or the end.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "?".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(not(unix))]
fn host_name() -> String {
    std::env::var("COMPUTERNAME").unwrap_or_else(|_| "?".into())
}

/// The holder part of a lock value (after the token).
fn holder_of(value: &str) -> String {
    value
        .split_once(' ')
        .map(|(_, h)| h.to_string())
        .unwrap_or_else(|| "another process (it did not say which)".into())
}

/// A held Redis lock; dropping it stops the renewal and releases it (owner only).
pub struct RedisLock {
    inner: Arc<Inner>,
    key: String,
    value: String,
    stop: Option<mpsc::Sender<()>>,
    renewer: Option<JoinHandle<()>>,
}

impl Drop for RedisLock {
    fn drop(&mut self) {
        {
            let mut held = self.inner.held.lock().unwrap_or_else(|p| p.into_inner());
            held.remove(&self.key);
        }
        drop(self.stop.take());
        if let Some(t) = self.renewer.take() {
            let _ = t.join();
        }
        // a failed release costs at most one lease for the next holder
        let script = Script::new(RELEASE);
        let _ = self
            .inner
            .run(|c| script.key(&self.key).arg(&self.value).invoke::<i64>(c));
    }
}

fn random_token() -> Result<String, HostError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| HostError::Storage(format!("no randomness for the lock token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Waits (at most `bound`) for the lock `name`, then renews it every third of `lease` on a
/// thread of its own until the guard drops.
pub(crate) fn acquire(
    inner: Arc<Inner>,
    name: &str,
    bound: Duration,
    lease: Duration,
) -> Result<RedisLock, HostError> {
    let key = format!("{}{name}", inner.lock_prefix());
    let value = format!("{} {}", random_token()?, holder_description());
    let lease_ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX);
    let deadline = Instant::now() + bound;
    let mut pause = Duration::from_millis(5);
    loop {
        let got: Option<String> = inner.run(|c| {
            redis::cmd("SET")
                .arg(&key)
                .arg(&value)
                .arg("NX")
                .arg("PX")
                .arg(lease_ms)
                .query(c)
        })?;
        if got.is_some() {
            break;
        }
        if Instant::now() >= deadline {
            let current: Option<String> = inner.run(|c| redis::cmd("GET").arg(&key).query(c))?;
            let holder = current
                .as_deref()
                .map(holder_of)
                .unwrap_or_else(|| "a holder that has just let go".into());
            return Err(HostError::Storage(format!(
                "gave up after {:.1} s waiting for the `{name}` lock in Redis at {}, held by {holder}; \
                 if that process is stuck, end it (its lease then runs out within {:.1} s), or raise {LOCK_TIMEOUT_ENV}",
                bound.as_secs_f64(),
                inner.address,
                lease.as_secs_f64()
            )));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
    {
        let mut held = inner.held.lock().unwrap_or_else(|p| p.into_inner());
        held.insert(key.clone(), value.clone());
    }
    let (stop, stopped) = mpsc::channel();
    let renewer = {
        let (inner, key, value) = (inner.clone(), key.clone(), value.clone());
        std::thread::Builder::new()
            .name("redis-lock-renew".into())
            .spawn(move || renew_until_stopped(&inner, &key, &value, lease, &stopped))
            .map_err(|e| HostError::Storage(format!("cannot start the lock renewal: {e}")))
    };
    let renewer = match renewer {
        Ok(t) => t,
        Err(e) => {
            // not renewed means not safe to hold: let it go now
            drop(RedisLock {
                inner,
                key,
                value,
                stop: None,
                renewer: None,
            });
            return Err(e);
        }
    };
    Ok(RedisLock {
        inner,
        key,
        value,
        stop: Some(stop),
        renewer: Some(renewer),
    })
}

/// Renews the lease every third of it on its own connection until the guard drops (the
/// sender goes away) or the lease turns out to be lost (then the fenced writes refuse).
fn renew_until_stopped(
    inner: &Inner,
    key: &str,
    value: &str,
    lease: Duration,
    stopped: &mpsc::Receiver<()>,
) {
    let period = lease / 3;
    let lease_ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX);
    let script = Script::new(RENEW);
    let mut conn: Option<Connection> = None;
    loop {
        match stopped.recv_timeout(period) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        if conn.is_none() {
            conn = inner.connect().ok();
        }
        let Some(c) = conn.as_mut() else { continue };
        match script.key(key).arg(value).arg(lease_ms).invoke::<i64>(c) {
            Ok(1) => {}
            Ok(_) => return, // someone else holds it now: nothing left to renew
            Err(_) => conn = None, // try again on a new connection next period
        }
    }
}

/// Escapes a prefix for a SCAN MATCH pattern.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// The locks held now (for `status`).
pub(crate) fn holders(inner: &Inner) -> Result<Vec<LockHolder>, HostError> {
    let prefix = inner.lock_prefix();
    let pattern = format!("{}*", glob_escape(&prefix));
    let mut keys: Vec<String> = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = inner.run(|c| {
            redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(200)
                .query(c)
        })?;
        keys.extend(batch);
        if next == 0 || keys.len() > 1000 {
            break;
        }
        cursor = next;
    }
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for key in keys {
        let (value, left): (Option<String>, i64) = inner.run(|c| {
            redis::pipe()
                .cmd("GET")
                .arg(&key)
                .cmd("PTTL")
                .arg(&key)
                .query(c)
        })?;
        if let Some(v) = value {
            out.push(LockHolder {
                name: key.strip_prefix(&prefix).unwrap_or(&key).to_string(),
                holder: holder_of(&v),
                lease_ms_left: left,
            });
        }
    }
    Ok(out)
}

impl RedisStore {
    /// Holds the lock `name` across every host using this Redis (see the module comment).
    pub async fn lock(&self, name: &str) -> Result<RedisLock, HostError> {
        let (inner, name) = (self.inner.clone(), name.to_string());
        let (bound, lease) = (lock_timeout(), lease());
        tokio::task::spawn_blocking(move || acquire(inner, &name, bound, lease))
            .await
            .map_err(|e| HostError::Storage(format!("lock task failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_is_the_part_after_the_token() {
        assert_eq!(
            holder_of("0123abcd pid 7 (mcp-auth) on h1"),
            "pid 7 (mcp-auth) on h1"
        );
        assert!(holder_of("bare").contains("did not say"));
        let me = holder_description();
        assert!(
            me.starts_with(&format!("pid {} (", std::process::id())),
            "{me}"
        );
    }

    #[test]
    fn prefixes_are_matched_literally() {
        assert_eq!(glob_escape("a*b?[c]\\:"), "a\\*b\\?\\[c\\]\\\\:");
    }
}
