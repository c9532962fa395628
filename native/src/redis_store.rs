//! `persist: redis`: one store for a fleet of hosts. The records are core's versioned records,
//! unchanged, under `<prefix><key>` (prefix `mcp-auth:` unless `auth.redis_prefix` /
//! `MCP_AUTH_REDIS_PREFIX` says otherwise, so several fleets can share one Redis). Locks are
//! leases in the same Redis ([`crate::redis_lock`]); while this process holds any, its writes
//! are fenced: they land only if every lock it holds is still its own.
//!
//! The `redis` crate's sync connections run on blocking threads (like the keyring); one
//! connection is kept for the process and replaced once when the server closed it (a restart).
//! Failures say what failed and stop: there is no fallback to another store.

use mcp_auth_core::HostError;
use redis::{Client, Connection, ConnectionAddr, ErrorKind, RedisError, RedisResult, Script};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The Redis URL for `persist: redis` (overrides `auth.redis_url`).
pub const REDIS_URL_ENV: &str = "MCP_AUTH_REDIS_URL";
/// The key prefix (overrides `auth.redis_prefix`).
pub const REDIS_PREFIX_ENV: &str = "MCP_AUTH_REDIS_PREFIX";
/// The prefix of every key when none is configured.
pub const DEFAULT_PREFIX: &str = "mcp-auth:";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection that broke is retried (see [`Inner::run`]).
const RECONNECT_WINDOW: Duration = Duration::from_secs(5);

/// A Redis URL. It may carry a password: Debug and Display show the address without it.
#[derive(Clone, serde::Deserialize)]
#[serde(transparent)]
pub struct RedisUrl(String);

impl RedisUrl {
    pub fn new(url: impl Into<String>) -> Self {
        RedisUrl(url.into())
    }
    fn client(&self) -> Result<Client, HostError> {
        let usage = "use redis://[user:password@]host:port[/db] or rediss://… (TLS)";
        let lower = self.0.trim().to_ascii_lowercase();
        if !(lower.starts_with("redis://") || lower.starts_with("rediss://")) {
            return Err(HostError::Storage(format!(
                "the Redis URL (auth.redis_url / {REDIS_URL_ENV}) is not a redis:// or rediss:// URL; {usage}"
            )));
        }
        // the crate's error does not repeat the URL, and neither do we: it may hold a password
        Client::open(self.0.trim()).map_err(|e| {
            HostError::Storage(format!(
                "the Redis URL (auth.redis_url / {REDIS_URL_ENV}) cannot be used ({}); {usage}",
                e.category()
            ))
        })
    }
    /// The address without the password (`redis://[user@]host:port/db`).
    pub fn address(&self) -> String {
        match self.client() {
            Ok(c) => address_of(&c),
            Err(_) => "(not a Redis URL)".into(),
        }
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({})", self.address())
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address())
    }
}

fn address_of(client: &Client) -> String {
    let info = client.get_connection_info();
    let settings = info.redis_settings();
    let user = settings
        .username()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let db = settings.db();
    let with_password = if settings.password().is_some() {
        " (password set)"
    } else {
        ""
    };
    match info.addr() {
        ConnectionAddr::Tcp(host, port) => {
            format!("redis://{user}{host}:{port}/{db}{with_password}")
        }
        ConnectionAddr::TcpTls { host, port, .. } => {
            format!("rediss://{user}{host}:{port}/{db}{with_password}")
        }
        ConnectionAddr::Unix(path) => {
            format!("redis+unix://{}?db={db}{with_password}", path.display())
        }
        _ => "(a Redis address)".into(),
    }
}

/// Where the Redis store is and what its keys start with.
#[derive(Clone, Debug)]
pub struct RedisSettings {
    pub url: RedisUrl,
    pub prefix: String,
}

impl RedisSettings {
    /// The environment first (`MCP_AUTH_REDIS_URL`, `MCP_AUTH_REDIS_PREFIX`), then the
    /// server's `auth.redis_url` / `auth.redis_prefix`. No URL is an error naming both.
    pub fn resolve(
        config_url: Option<&RedisUrl>,
        config_prefix: Option<&str>,
    ) -> Result<RedisSettings, HostError> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let url = env(REDIS_URL_ENV)
            .map(RedisUrl::new)
            .or_else(|| config_url.cloned())
            .ok_or_else(|| {
                HostError::Storage(format!(
                    "`persist: redis` needs the Redis address: set `redis_url` under the server's \
                     `auth:` (or {REDIS_URL_ENV}) to redis://[user:password@]host:port[/db] or rediss://…"
                ))
            })?;
        let prefix = env(REDIS_PREFIX_ENV)
            .or_else(|| config_prefix.map(str::to_string))
            .unwrap_or_else(|| DEFAULT_PREFIX.into());
        Ok(RedisSettings { url, prefix })
    }

    /// Settings from the environment alone, when `MCP_AUTH_REDIS_URL` is set.
    pub fn from_env() -> Option<RedisSettings> {
        Self::resolve(None, None).ok()
    }
}

/// Says what a Redis failure means for the user. Never repeats the URL (it may hold a
/// password).
pub(crate) fn explain(address: &str, e: &RedisError) -> String {
    let url_names = format!("the Redis URL (auth.redis_url / {REDIS_URL_ENV})");
    match e.code() {
        Some("WRONGPASS") => {
            return format!("Redis at {address} refused the user name or password in {url_names}")
        }
        Some("NOAUTH") => {
            return format!(
                "Redis at {address} needs a password: put it in {url_names} (redis://:PASSWORD@host:port)"
            )
        }
        Some("READONLY") => {
            return format!(
                "Redis at {address} is a read-only replica (it answered READONLY): point {url_names} at the primary"
            )
        }
        Some("NOPERM") => {
            return format!(
                "Redis at {address} does not let this user run the commands mcp-auth needs (GET, SET, DEL, EVAL, EVALSHA, SCRIPT LOAD, SCAN, PTTL, ROLE): {e}"
            )
        }
        _ => {}
    }
    if e.kind() == ErrorKind::AuthenticationFailed {
        return format!("Redis at {address} refused the user name or password in {url_names}");
    }
    if e.is_io_error() || e.is_timeout() || e.is_unrecoverable_error() {
        return format!(
            "cannot reach Redis at {address} ({e}); is it running, and is {url_names} right? (no other store is used instead)"
        );
    }
    format!("Redis at {address} failed: {e}")
}

/// Writes that land only if every lock this process holds is still its own: KEYS[1] is the
/// record, KEYS[2..] the held lock keys, ARGV[1] the value, ARGV[2..] the lock values.
const FENCED_SET: &str = r"
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) ~= ARGV[i] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
";
/// As [`FENCED_SET`], deleting; ARGV[1] is unused.
const FENCED_DEL: &str = r"
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) ~= ARGV[i] then return 0 end
end
redis.call('DEL', KEYS[1])
return 1
";

pub(crate) struct Inner {
    pub(crate) client: Client,
    pub(crate) address: String,
    pub(crate) prefix: String,
    conn: Mutex<Option<Connection>>,
    /// The locks this process holds: lock key → the value it set (token and holder).
    pub(crate) held: Mutex<BTreeMap<String, String>>,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    pub(crate) fn connect(&self) -> RedisResult<Connection> {
        let conn = self.client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
        conn.set_read_timeout(Some(IO_TIMEOUT))?;
        conn.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(conn)
    }

    /// Runs `f` on the process's connection. A kept connection that fails at the transport
    /// means Redis was there a moment ago (a restart, a fail-over): new connections are tried
    /// for up to [`RECONNECT_WINDOW`] before giving up, so refreshed tokens are not lost to
    /// a restart. A first connection that fails fails at once. Every command here is safe to
    /// repeat.
    pub(crate) fn run<T>(
        &self,
        mut f: impl FnMut(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, HostError> {
        let mut slot = locked(&self.conn);
        let mut reconnecting: Option<std::time::Instant> = None;
        loop {
            let (mut conn, kept) = match slot.take() {
                Some(c) => (c, true),
                None => match self.connect() {
                    Ok(c) => (c, false),
                    Err(_) if reconnecting.is_some_and(|t| t.elapsed() < RECONNECT_WINDOW) => {
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    }
                    Err(e) => return Err(HostError::Storage(explain(&self.address, &e))),
                },
            };
            match f(&mut conn) {
                Ok(v) => {
                    *slot = Some(conn);
                    return Ok(v);
                }
                Err(e) if e.is_io_error() || e.is_unrecoverable_error() => {
                    if kept && reconnecting.is_none() {
                        reconnecting = Some(std::time::Instant::now());
                        continue;
                    }
                    return Err(HostError::Storage(explain(&self.address, &e)));
                }
                Err(e) => {
                    *slot = Some(conn);
                    return Err(HostError::Storage(explain(&self.address, &e)));
                }
            }
        }
    }

    pub(crate) fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn fenced(&self, script: &str, key: &str, value: &str) -> Result<(), HostError> {
        let held: Vec<(String, String)> = locked(&self.held)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let full = self.key(key);
        if held.is_empty() {
            return self.run(|c| {
                if script == FENCED_DEL {
                    redis::cmd("DEL").arg(&full).query::<()>(c)
                } else {
                    redis::cmd("SET").arg(&full).arg(value).query::<()>(c)
                }
            });
        }
        let script = Script::new(script);
        let landed: i64 = self.run(|c| {
            let mut inv = script.prepare_invoke();
            inv.key(&full).arg(value);
            for (k, v) in &held {
                inv.key(k).arg(v);
            }
            inv.invoke(c)
        })?;
        if landed == 1 {
            return Ok(());
        }
        let names: Vec<&str> = held
            .iter()
            .map(|(k, _)| k.strip_prefix(&self.lock_prefix()).unwrap_or(k))
            .collect();
        Err(HostError::Storage(format!(
            "the lease on the lock `{}` in Redis at {} ran out before this write (this process \
             stalled longer than the lease, or lost Redis meanwhile), so the write was refused: \
             another holder may have stored newer tokens since",
            names.join("`, `"),
            self.address
        )))
    }

    pub(crate) fn lock_prefix(&self) -> String {
        format!("{}lock:", self.prefix)
    }
}

/// The Redis store (see the module comment).
#[derive(Clone)]
pub struct RedisStore {
    pub(crate) inner: Arc<Inner>,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, HostError> + Send + 'static,
) -> Result<T, HostError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| HostError::Storage(format!("Redis call failed: {e}")))?
}

/// What `mcp-auth status` says about the Redis store.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RedisState {
    pub address: String,
    pub prefix: String,
    pub reachable: bool,
    /// `master` or `slave` (a read-only replica), as ROLE says.
    pub role: Option<String>,
    /// Why it is not usable, in words.
    pub problem: Option<String>,
    /// The locks held now: name, holder, milliseconds left on the lease.
    pub locks: Vec<LockHolder>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct LockHolder {
    pub name: String,
    pub holder: String,
    pub lease_ms_left: i64,
}

impl RedisStore {
    /// Opens (without connecting) the store the settings name.
    pub fn open(settings: &RedisSettings) -> Result<RedisStore, HostError> {
        let client = settings.url.client()?;
        let address = address_of(&client);
        Ok(RedisStore {
            inner: Arc::new(Inner {
                client,
                address,
                prefix: settings.prefix.clone(),
                conn: Mutex::new(None),
                held: Mutex::new(BTreeMap::new()),
            }),
        })
    }

    /// The address without the password, and the prefix, for messages.
    pub fn describe(&self) -> String {
        format!(
            "Redis at {} (key prefix `{}`)",
            self.inner.address, self.inner.prefix
        )
    }

    pub fn address(&self) -> &str {
        &self.inner.address
    }

    pub async fn load(&self, key: &str) -> Result<Option<String>, HostError> {
        let (inner, key) = (self.inner.clone(), self.inner.key(key));
        blocking(move || inner.run(|c| redis::cmd("GET").arg(&key).query(c))).await
    }

    pub async fn save(&self, key: &str, value: &str) -> Result<(), HostError> {
        let (inner, key, value) = (self.inner.clone(), key.to_string(), value.to_string());
        blocking(move || inner.fenced(FENCED_SET, &key, &value)).await
    }

    pub async fn remove(&self, key: &str) -> Result<(), HostError> {
        let (inner, key) = (self.inner.clone(), key.to_string());
        blocking(move || inner.fenced(FENCED_DEL, &key, "")).await
    }

    /// Fails with a clear message unless Redis answers and takes writes (a read-only replica
    /// is refused before any refresh token is spent against it).
    pub async fn check(&self) -> Result<(), HostError> {
        let inner = self.inner.clone();
        let role = blocking(move || role(&inner)).await?;
        match replica_problem(&role, &self.inner.address) {
            Some(p) => Err(HostError::Storage(p)),
            None => Ok(()),
        }
    }

    /// Reachability, role and the locks held now (reads only).
    pub async fn probe(&self) -> RedisState {
        let inner = self.inner.clone();
        let mut state = RedisState {
            address: inner.address.clone(),
            prefix: inner.prefix.clone(),
            reachable: false,
            role: None,
            problem: None,
            locks: Vec::new(),
        };
        let got = blocking(move || {
            let role = role(&inner)?;
            let locks = crate::redis_lock::holders(&inner)?;
            Ok((role, locks))
        })
        .await;
        match got {
            Ok((role, locks)) => {
                state.reachable = true;
                state.problem = replica_problem(&role, &state.address);
                state.role = Some(role);
                state.locks = locks;
            }
            Err(HostError::Storage(m) | HostError::Network(m) | HostError::Browser(m)) => {
                state.problem = Some(m)
            }
        }
        state
    }
}

/// What ROLE says: `master`, or `slave` for a replica.
fn role(inner: &Inner) -> Result<String, HostError> {
    let role: Vec<redis::Value> = inner.run(|c| redis::cmd("ROLE").query(c))?;
    Ok(match role.first() {
        Some(redis::Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(redis::Value::SimpleString(s)) => s.clone(),
        _ => "unknown".into(),
    })
}

fn replica_problem(role: &str, address: &str) -> Option<String> {
    (role == "slave" || role == "replica").then(|| {
        format!(
            "Redis at {address} is a read-only replica: point the Redis URL (auth.redis_url / {REDIS_URL_ENV}) at the primary"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_never_shown() {
        let url = RedisUrl::new("redis://fleet:s3cret-pw@10.1.2.3:6380/2");
        assert_eq!(
            url.address(),
            "redis://fleet@10.1.2.3:6380/2 (password set)"
        );
        assert!(!format!("{url:?}").contains("s3cret"));
        let tls = RedisUrl::new("rediss://:s3cret-pw@cache.example:6379");
        assert_eq!(
            tls.address(),
            "rediss://cache.example:6379/0 (password set)"
        );
        let err = RedisUrl::new("http://:s3cret-pw@x").client().err();
        assert!(!format!("{err:?}").contains("s3cret"), "{err:?}");
        assert!(format!("{err:?}").contains("redis://"), "{err:?}");
    }

    #[test]
    fn settings_without_a_url_say_where_to_put_one() {
        if std::env::var_os(REDIS_URL_ENV).is_some() {
            return;
        }
        let err = RedisSettings::resolve(None, None).expect_err("no url");
        assert!(format!("{err:?}").contains(REDIS_URL_ENV), "{err:?}");
        let s = RedisSettings::resolve(Some(&RedisUrl::new("redis://127.0.0.1:1")), None)
            .expect("settings");
        if std::env::var_os(REDIS_PREFIX_ENV).is_none() {
            assert_eq!(s.prefix, DEFAULT_PREFIX);
        }
    }
}
