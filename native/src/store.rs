//! Storage capabilities: the OS keyring, a 0600 JSON file under the XDG state directory,
//! memory, or a shared Redis ([`crate::redis_store`]). Records are opaque strings here; their
//! format and keys belong to core. The file's folder must be the user's own and private; links
//! are never followed (`private_fs`).

use crate::lock::FileLock;
use crate::private_fs;
use mcp_auth_core::HostError;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The keyring service name every record is stored under.
pub const KEYRING_SERVICE: &str = "mcp-auth";

/// Which store a command uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Persist {
    Keyring,
    File,
    Memory,
    /// A shared Redis (`auth.redis_url`): one grant for a fleet of hosts.
    Redis,
}

impl Persist {
    pub fn as_str(self) -> &'static str {
        match self {
            Persist::Keyring => "keyring",
            Persist::File => "file",
            Persist::Memory => "memory",
            Persist::Redis => "redis",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "keyring" => Some(Persist::Keyring),
            "file" => Some(Persist::File),
            "memory" => Some(Persist::Memory),
            "redis" => Some(Persist::Redis),
            _ => None,
        }
    }
}

impl fmt::Display for Persist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Records in memory: gone when the process ends.
#[derive(Default)]
pub struct MemoryStore {
    map: Mutex<HashMap<String, String>>,
}

impl MemoryStore {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
    pub fn load(&self, key: &str) -> Result<Option<String>, HostError> {
        Ok(self.map().get(key).cloned())
    }
    pub fn save(&self, key: &str, value: &str) -> Result<(), HostError> {
        self.map().insert(key.to_string(), value.to_string());
        Ok(())
    }
    pub fn remove(&self, key: &str) -> Result<(), HostError> {
        self.map().remove(key);
        Ok(())
    }
    pub fn keys(&self) -> Vec<String> {
        self.map().keys().cloned().collect()
    }
}

/// The state directory of mcp-auth: `$XDG_STATE_HOME/mcp-auth`, else
/// `~/.local/state/mcp-auth` (on Windows `%LOCALAPPDATA%\mcp-auth`).
pub fn state_dir() -> Result<PathBuf, HostError> {
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("mcp-auth"));
    }
    if cfg!(windows) {
        if let Some(dir) = std::env::var_os("LOCALAPPDATA").filter(|d| !d.is_empty()) {
            return Ok(PathBuf::from(dir).join("mcp-auth"));
        }
    }
    match home_dir() {
        Some(home) => Ok(home.join(".local").join("state").join("mcp-auth")),
        None => Err(HostError::Storage(
            "cannot find a state directory: set HOME or XDG_STATE_HOME".into(),
        )),
    }
}

pub fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// A JSON object of records in one file, readable only by the user, replaced by atomic
/// rename; writers serialise on a lock file beside it.
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    pub fn new(path: PathBuf) -> Self {
        FileStore { path }
    }

    /// The default file: `<state dir>/store.json`.
    pub fn default_path() -> Result<PathBuf, HostError> {
        Ok(state_dir()?.join("store.json"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn storage_error(&self, what: &str, e: impl fmt::Display) -> HostError {
        HostError::Storage(format!("cannot {what} {}: {e}", self.path.display()))
    }

    fn check_dir(&self) -> Result<(), HostError> {
        match self.path.parent() {
            Some(dir) => private_fs::check_private_dir(dir).map_err(HostError::Storage),
            None => Ok(()),
        }
    }

    fn read_all(&self) -> Result<BTreeMap<String, String>, HostError> {
        self.check_dir()?;
        match private_fs::read_no_follow(&self.path) {
            Ok(Some(text)) if text.trim().is_empty() => Ok(BTreeMap::new()),
            Ok(Some(text)) => serde_json::from_str(&text).map_err(|e| {
                HostError::Storage(format!(
                    "the token file {} is not valid JSON ({e}); move it away and log in again",
                    self.path.display()
                ))
            }),
            Ok(None) => Ok(BTreeMap::new()),
            Err(e) => Err(self.storage_error("read", e)),
        }
    }

    fn write_all(&self, map: &BTreeMap<String, String>) -> Result<(), HostError> {
        let dir = self
            .path
            .parent()
            .ok_or_else(|| self.storage_error("write", "no parent directory"))?;
        private_fs::create_private_dir(dir)
            .map_err(|e| self.storage_error("create the folder of", e))?;
        self.check_dir()?;
        let text =
            serde_json::to_string_pretty(map).map_err(|e| self.storage_error("encode", e))?;
        // callers hold the writer lock: a temp file there now was left by a killed writer
        private_fs::remove_stale_temps(&self.path);
        private_fs::replace_private(&self.path, text.as_bytes())
            .map_err(|e| self.storage_error("write", e))
    }

    fn writer_lock(&self) -> Result<FileLock, HostError> {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".lock");
        FileLock::acquire(Path::new(&name), "token file writer")
    }

    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// One record. Only that record is copied out of the file: the others are skipped
    /// without being allocated, so a lookup costs one scan of the file, not a map of it.
    pub fn load(&self, key: &str) -> Result<Option<String>, HostError> {
        self.check_dir()?;
        match private_fs::read_no_follow(&self.path) {
            Ok(Some(text)) if text.trim().is_empty() => Ok(None),
            Ok(Some(text)) => one_value(&text, key).map_err(|e| {
                HostError::Storage(format!(
                    "the token file {} is not valid JSON ({e}); move it away and log in again",
                    self.path.display()
                ))
            }),
            Ok(None) => Ok(None),
            Err(e) => Err(self.storage_error("read", e)),
        }
    }

    pub fn save(&self, key: &str, value: &str) -> Result<(), HostError> {
        let _lock = self.writer_lock()?;
        let mut map = self.read_all()?;
        map.insert(key.to_string(), value.to_string());
        self.write_all(&map)
    }

    pub fn remove(&self, key: &str) -> Result<(), HostError> {
        let _lock = self.writer_lock()?;
        let mut map = self.read_all()?;
        if map.remove(key).is_some() {
            self.write_all(&map)?;
        }
        Ok(())
    }
}

pub(crate) use crate::private_fs::create_private_dir;

/// The string stored under `key` in a JSON object of strings, reading past the others.
fn one_value(text: &str, key: &str) -> Result<Option<String>, serde_json::Error> {
    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
    use std::borrow::Cow;

    /// A key, borrowed from the text when it has no escapes.
    struct Key<'a>(Cow<'a, str>);
    impl<'de> serde::Deserialize<'de> for Key<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Key<'de>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a string key")
                }
                fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Borrowed(v)))
                }
                fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Owned(v.to_string())))
                }
            }
            d.deserialize_str(V)
        }
    }

    struct Find<'k>(&'k str);
    impl<'de> DeserializeSeed<'de> for Find<'_> {
        type Value = Option<String>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
            d.deserialize_map(self)
        }
    }
    impl<'de> Visitor<'de> for Find<'_> {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object of records")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
            let mut found = None;
            while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                if k == self.0 {
                    found = Some(map.next_value::<String>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }

    let mut de = serde_json::Deserializer::from_str(text);
    let found = Find(key).deserialize(&mut de)?;
    de.end()?;
    Ok(found)
}

/// Whether the OS keyring can be used, and if not, why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KeyringState {
    pub backend: &'static str,
    pub available: bool,
    /// The keyring is there but locked (or refused access): unlocking it is the cure, and
    /// falling back to memory would only lose the tokens it holds.
    pub locked: bool,
    /// Why it is not usable (or a note), in words.
    pub detail: Option<String>,
}

/// What to do about a locked keyring, for messages.
pub const UNLOCK_HINT: &str = "unlock it and run the command again, or keep tokens in a file \
     with `persist: file` under the server's `auth:` (or MCP_AUTH_STORE=file)";

impl KeyringState {
    /// The one-line error of a command that needs the keyring while it is locked.
    pub fn locked_message(&self) -> String {
        format!(
            "the OS keyring ({}) is locked ({}); {UNLOCK_HINT}",
            self.backend,
            self.detail.as_deref().unwrap_or("access refused")
        )
    }
}

pub fn keyring_backend_name() -> &'static str {
    if cfg!(target_os = "macos") {
        "macOS Keychain"
    } else if cfg!(target_os = "windows") {
        "Windows Credential Manager"
    } else if cfg!(target_os = "linux") {
        "Secret Service"
    } else {
        "none"
    }
}

/// The OS keyring: one entry per key under the service `mcp-auth`. Every call blocks (D-Bus
/// on Linux), so it runs on a blocking thread.
pub struct KeyringStore;

#[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
mod os_keyring {
    use super::KEYRING_SERVICE;
    use mcp_auth_core::HostError;

    fn describe(e: &keyring::Error) -> String {
        e.to_string()
    }

    /// The keyring is there but refused access: locked (a dismissed unlock prompt on
    /// Linux), or access denied.
    fn locked(e: &keyring::Error) -> bool {
        matches!(e, keyring::Error::NoStorageAccess(_))
    }

    /// A failed keyring call in words; a locked keyring says what to do.
    fn failed(what: &str, e: &keyring::Error) -> HostError {
        if locked(e) {
            HostError::Storage(format!(
                "{what}: the keyring is locked ({}); {}",
                describe(e),
                super::UNLOCK_HINT
            ))
        } else {
            HostError::Storage(format!("{what}: {}", describe(e)))
        }
    }

    fn entry(key: &str) -> Result<keyring::Entry, HostError> {
        keyring::Entry::new(KEYRING_SERVICE, key)
            .map_err(|e| HostError::Storage(format!("keyring: {}", describe(&e))))
    }

    pub fn load(key: &str) -> Result<Option<String>, HostError> {
        match entry(key)?.get_password() {
            Ok(v) => Ok(Some(v)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(failed("cannot read the keyring", &e)),
        }
    }

    pub fn save(key: &str, value: &str) -> Result<(), HostError> {
        entry(key)?.set_password(value).map_err(|e| {
            if locked(&e) {
                failed("cannot write to the keyring", &e)
            } else {
                HostError::Storage(format!(
                    "cannot write to the keyring: {}; unlock the keyring, or set `persist: file` \
                     (or MCP_AUTH_STORE=file) to keep tokens in a file instead",
                    describe(&e)
                ))
            }
        })
    }

    pub fn remove(key: &str) -> Result<(), HostError> {
        match entry(key)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(failed("cannot delete from the keyring", &e)),
        }
    }

    /// Reads the index entry: reachable (present or not) means usable. Writes nothing.
    /// Fails with why, and whether the keyring is there but locked.
    pub fn probe() -> Result<(), (String, bool)> {
        let e = keyring::Entry::new(KEYRING_SERVICE, "index")
            .map_err(|e| (describe(&e), locked(&e)))?;
        match e.get_password() {
            Ok(_) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err((describe(&e), locked(&e))),
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
mod os_keyring {
    use mcp_auth_core::HostError;
    const NONE: &str = "no OS keyring support on this platform";
    pub fn load(_: &str) -> Result<Option<String>, HostError> {
        Err(HostError::Storage(NONE.into()))
    }
    pub fn save(_: &str, _: &str) -> Result<(), HostError> {
        Err(HostError::Storage(NONE.into()))
    }
    pub fn remove(_: &str) -> Result<(), HostError> {
        Err(HostError::Storage(NONE.into()))
    }
    pub fn probe() -> Result<(), (String, bool)> {
        Err((NONE.into(), false))
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, HostError> + Send + 'static,
) -> Result<T, HostError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| HostError::Storage(format!("keyring call failed: {e}")))?
}

impl KeyringStore {
    pub async fn load(&self, key: &str) -> Result<Option<String>, HostError> {
        // over the process's one Secret Service session when that answers plainly
        if let Some(v) = crate::keyring_batch::read_one(KEYRING_SERVICE, key).await {
            return Ok(Some(v));
        }
        let key = key.to_string();
        blocking(move || os_keyring::load(&key)).await
    }
    pub async fn save(&self, key: &str, value: &str) -> Result<(), HostError> {
        let (key, value) = (key.to_string(), value.to_string());
        blocking(move || os_keyring::save(&key, &value)).await
    }
    pub async fn remove(&self, key: &str) -> Result<(), HostError> {
        let key = key.to_string();
        blocking(move || os_keyring::remove(&key)).await
    }

    /// Whether the keyring answers, without writing to it. Gives up after `timeout`
    /// (a Secret Service that cannot start hangs for minutes).
    pub async fn probe(timeout: std::time::Duration) -> KeyringState {
        let backend = keyring_backend_name();
        let res = tokio::time::timeout(timeout, async {
            // an index read over the shared session proves the keyring usable and opens the
            // session the command's own reads then use; anything else is asked the long way
            if crate::keyring_batch::read_one(KEYRING_SERVICE, "index")
                .await
                .is_some()
            {
                return Ok(Ok(()));
            }
            tokio::task::spawn_blocking(os_keyring::probe).await
        })
        .await;
        let mut locked = false;
        let detail = match res {
            Ok(Ok(Ok(()))) => None,
            Ok(Ok(Err((why, is_locked)))) => {
                locked = is_locked;
                Some(why)
            }
            Ok(Err(e)) => Some(format!("the keyring check failed: {e}")),
            Err(_) => Some(format!(
                "the keyring did not answer within {} s",
                timeout.as_secs()
            )),
        };
        KeyringState {
            backend,
            available: detail.is_none(),
            locked,
            detail,
        }
    }
}

/// The store a command works with.
pub enum Store {
    Keyring(KeyringStore),
    /// The keyring, every record read up front (`status`).
    KeyringSnapshot(crate::keyring_batch::KeyringSnapshot),
    File(FileStore),
    Memory(MemoryStore),
    Redis(crate::redis_store::RedisStore),
}

impl Store {
    pub fn kind(&self) -> Persist {
        match self {
            Store::Keyring(_) | Store::KeyringSnapshot(_) => Persist::Keyring,
            Store::File(_) => Persist::File,
            Store::Memory(_) => Persist::Memory,
            Store::Redis(_) => Persist::Redis,
        }
    }
    pub async fn load(&self, key: &str) -> Result<Option<String>, HostError> {
        match self {
            Store::Keyring(s) => s.load(key).await,
            Store::KeyringSnapshot(s) => s.load(key).await,
            Store::File(s) => s.load(key),
            Store::Memory(s) => s.load(key),
            Store::Redis(s) => s.load(key).await,
        }
    }
    pub async fn save(&self, key: &str, value: &str) -> Result<(), HostError> {
        match self {
            Store::Keyring(s) => s.save(key, value).await,
            Store::KeyringSnapshot(s) => s.save(key, value).await,
            Store::File(s) => s.save(key, value),
            Store::Memory(s) => s.save(key, value),
            Store::Redis(s) => s.save(key, value).await,
        }
    }
    pub async fn remove(&self, key: &str) -> Result<(), HostError> {
        match self {
            Store::Keyring(s) => s.remove(key).await,
            Store::KeyringSnapshot(s) => s.remove(key).await,
            Store::File(s) => s.remove(key),
            Store::Memory(s) => s.remove(key),
            Store::Redis(s) => s.remove(key).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_record_is_read_out_of_the_file_as_the_whole_map_would_give_it() {
        let text = serde_json::json!({
            "index": "{\"keys\":[]}",
            "tokens:https://a.example|https://a.example/mcp": "{\"access_token\":\"t\\u0041\"}",
            "odd \"quoted\" key": "x\ny",
        })
        .to_string();
        let all: BTreeMap<String, String> = serde_json::from_str(&text).unwrap();
        for key in all.keys() {
            assert_eq!(
                one_value(&text, key).unwrap().as_ref(),
                all.get(key),
                "{key}"
            );
        }
        assert_eq!(
            one_value(&text, "tokens:https://b.example|x").unwrap(),
            None
        );
        assert_eq!(one_value("{}", "index").unwrap(), None);
        // the last of duplicate keys wins, as with the map
        assert_eq!(
            one_value(r#"{"k":"1","k":"2"}"#, "k").unwrap().as_deref(),
            Some("2")
        );
        for broken in [r#"{"k":"1""#, "[]", r#"{"k":1}"#, r#"{"k":"1"} trailing"#] {
            assert!(one_value(broken, "k").is_err(), "{broken}");
        }
    }

    #[test]
    fn file_store_round_trip_is_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStore::new(dir.path().join("sub").join("store.json"));
        assert_eq!(store.load("a").expect("load"), None);
        store.save("a", "1").expect("save");
        store.save("b", "2").expect("save");
        assert_eq!(store.load("a").expect("load").as_deref(), Some("1"));
        store.remove("a").expect("remove");
        assert_eq!(store.load("a").expect("load"), None);
        assert_eq!(store.load("b").expect("load").as_deref(), Some("2"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path())
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn corrupt_file_store_says_what_to_do() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("private").join("store.json");
        create_private_dir(dir.path().join("private").as_path()).expect("mkdir");
        std::fs::write(&path, "{not json").expect("write");
        let err = FileStore::new(path).load("a").expect_err("corrupt");
        assert!(format!("{err:?}").contains("move it away"), "{err:?}");
    }
}
