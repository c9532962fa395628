//! Keyring reads over one Secret Service session per process, and every record read at once
//! for `mcp-auth status` (it lists them all).
//!
//! A keyring read through the `keyring` crate opens its own Secret Service connection and
//! session (a Diffie-Hellman exchange) for each call, so a command paid one set-up for the
//! keyring check and one per record it read. Here the process opens one session at its first
//! read (`read_one`, used by [`KeyringStore`]'s check and loads); for `status` one search
//! finds every item of the service and their secrets are fetched concurrently over it.
//! Writes and deletes still go through the `keyring` crate.
//!
//! The snapshot answers only what it read cleanly. Anything unusual is left to the ordinary
//! per-key read, so errors and edge cases stay those of [`KeyringStore`]: when any item is
//! locked, or any read fails, there is no snapshot at all; a key held by two items (the
//! `keyring` crate calls that ambiguous), a secret that is not UTF-8, a key not found (missing
//! or stored by keyring v1 without a target) are read per key as before.

use crate::store::KeyringStore;
use mcp_auth_core::HostError;
use std::collections::HashMap;
use std::sync::Mutex;

/// Records read up front; loads of other keys, and all writes, go to the keyring.
pub struct KeyringSnapshot {
    records: Mutex<HashMap<String, String>>,
}

impl KeyringSnapshot {
    /// Reads every record of the service, or `None` when that cannot be done cleanly
    /// (the caller then reads key by key, as without a snapshot).
    pub async fn take() -> Option<Self> {
        let records = read_all(crate::store::KEYRING_SERVICE).await?;
        Some(KeyringSnapshot {
            records: Mutex::new(records),
        })
    }

    fn records(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many records the snapshot holds.
    pub fn len(&self) -> usize {
        self.records().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub async fn load(&self, key: &str) -> Result<Option<String>, HostError> {
        let held = self.records().get(key).cloned();
        match held {
            Some(v) => Ok(Some(v)),
            None => KeyringStore.load(key).await,
        }
    }

    pub async fn save(&self, key: &str, value: &str) -> Result<(), HostError> {
        self.records().remove(key);
        KeyringStore.save(key, value).await
    }

    pub async fn remove(&self, key: &str) -> Result<(), HostError> {
        self.records().remove(key);
        KeyringStore.remove(key).await
    }
}

/// One Secret Service connection and session for the process, opened at first use (a set-up
/// costs a D-Bus connection and a Diffie-Hellman exchange, most of a read) and forgotten
/// after a failed call (the daemon may have been replaced). `None` when it cannot be
/// opened: the caller reads through the `keyring` crate, which says why.
#[cfg(target_os = "linux")]
mod session {
    use secret_service::{EncryptionType, SecretService};
    use std::sync::{Arc, Mutex, MutexGuard};

    type Shared = Option<Arc<SecretService<'static>>>;
    static SHARED: Mutex<Shared> = Mutex::new(None);

    fn slot() -> MutexGuard<'static, Shared> {
        SHARED.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub async fn get() -> Option<Arc<SecretService<'static>>> {
        let held = slot().clone();
        if held.is_some() {
            return held;
        }
        let ss = Arc::new(SecretService::connect(EncryptionType::Dh).await.ok()?);
        *slot() = Some(ss.clone());
        Some(ss)
    }

    pub fn forget() {
        *slot() = None;
    }
}

/// One record over the shared session, found as the `keyring` crate finds it (attributes
/// `service`, `username`, `target`). `None` unless that went cleanly and exactly one unlocked
/// item held UTF-8 text: no item (absent, or a keyring v1 item without a target), two items,
/// a locked item, a failed call are all left to the `keyring` crate's read and its errors.
#[cfg(target_os = "linux")]
pub(crate) async fn read_one(service: &str, key: &str) -> Option<String> {
    let ss = session::get().await?;
    let found = ss
        .search_items(HashMap::from([
            ("service", service),
            ("username", key),
            ("target", "default"),
        ]))
        .await;
    let found = found.inspect_err(|_| session::forget()).ok()?;
    match (found.locked.as_slice(), found.unlocked.as_slice()) {
        ([], [item]) => {
            let secret = item.get_secret().await;
            String::from_utf8(secret.inspect_err(|_| session::forget()).ok()?).ok()
        }
        _ => None,
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) async fn read_one(_: &str, _: &str) -> Option<String> {
    None
}

/// Items are found the way the `keyring` crate finds an entry (attributes `service` and
/// `target`, here without `username`), and keyed by their `username` attribute.
#[cfg(target_os = "linux")]
async fn read_all(service: &str) -> Option<HashMap<String, String>> {
    // a session that fails may be stale: one more try on a new one
    for _ in 0..2 {
        match read_all_once(service).await {
            Ok(records) => return records,
            Err(()) => session::forget(),
        }
    }
    None
}

/// `Err` when a call failed; `Ok(None)` when the records are there but not all readable
/// here (a locked item).
#[cfg(target_os = "linux")]
async fn read_all_once(service: &str) -> Result<Option<HashMap<String, String>>, ()> {
    use futures_util::future::join_all;

    let Some(ss) = session::get().await else {
        return Ok(None);
    };
    let found = ss
        .search_items(HashMap::from([("service", service), ("target", "default")]))
        .await
        .map_err(drop)?;
    if !found.locked.is_empty() {
        return Ok(None);
    }
    let reads = join_all(found.unlocked.iter().map(|item| async move {
        let attributes = item.get_attributes().await?;
        let secret = item.get_secret().await?;
        Ok::<_, secret_service::Error>((attributes.get("username").cloned(), secret))
    }))
    .await;
    let mut records = HashMap::new();
    let mut per_key = Vec::new();
    for read in reads {
        let (user, secret) = read.map_err(drop)?;
        let Some(user) = user else { continue };
        // not UTF-8: the per-key read reports it
        let Ok(text) = String::from_utf8(secret) else {
            per_key.push(user);
            continue;
        };
        if records.insert(user.clone(), text).is_some() {
            per_key.push(user);
        }
    }
    for user in per_key {
        records.remove(&user);
    }
    Ok(Some(records))
}

#[cfg(not(target_os = "linux"))]
async fn read_all(_: &str) -> Option<HashMap<String, String>> {
    None
}
