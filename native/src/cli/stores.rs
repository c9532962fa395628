//! Which store a command uses (keyring, file or memory, with an honest fallback) and the
//! core client over it.

use super::out::errln;
use super::{CliError, CliResult, KEYRING_PROBE_TIMEOUT, STORE_ENV};
use crate::config::ServerConfig;
use crate::host::{LoginUi, NativeHost};
use crate::redis_store::{RedisSettings, RedisStore};
use crate::store::{self, FileStore, KeyringState, KeyringStore, MemoryStore, Persist, Store};
use mcp_auth_core::McpAuth;
use std::path::PathBuf;

pub(super) fn persist_override() -> CliResult<Option<Persist>> {
    match std::env::var(STORE_ENV) {
        Ok(v) if !v.trim().is_empty() => Persist::parse(&v).map(Some).ok_or_else(|| {
            CliError::new(format!(
                "{STORE_ENV}=`{v}` is not a store; use keyring, file, memory or redis"
            ))
        }),
        _ => Ok(None),
    }
}

pub(super) fn wanted_persist(server: Option<&ServerConfig>) -> CliResult<Persist> {
    Ok(persist_override()?
        .or_else(|| server.and_then(|s| s.persist))
        .unwrap_or(Persist::Keyring))
}

pub(super) fn store_name(p: Persist) -> String {
    match p {
        Persist::Keyring => "keyring".into(),
        Persist::File => match FileStore::default_path() {
            Ok(path) => format!("the token file {}", path.display()),
            Err(_) => "the token file".into(),
        },
        Persist::Memory => "memory".into(),
        Persist::Redis => match RedisSettings::from_env() {
            Some(s) => format!("Redis at {}", s.url.address()),
            None => "the shared Redis store".into(),
        },
    }
}

/// The store to use, and an honest note when the keyring had to be replaced by memory.
/// `server` gives `auth.redis_url` / `auth.redis_prefix` for `persist: redis`; Redis that
/// cannot be used is an error (a fleet never falls back to a store of its own).
pub(super) async fn open_store(
    wanted: Persist,
    server: Option<&ServerConfig>,
) -> CliResult<(Store, Option<String>)> {
    match wanted {
        Persist::Redis => {
            let settings = RedisSettings::resolve(
                server.and_then(|s| s.redis_url.as_ref()),
                server.and_then(|s| s.redis_prefix.as_deref()),
            )?;
            let store = RedisStore::open(&settings)?;
            store.check().await?;
            Ok((Store::Redis(store), None))
        }
        Persist::Memory => Ok((Store::Memory(MemoryStore::default()), None)),
        Persist::File => Ok((
            Store::File(FileStore::new(FileStore::default_path()?)),
            None,
        )),
        Persist::Keyring => {
            let state = KeyringStore::probe(KEYRING_PROBE_TIMEOUT).await;
            if state.available {
                Ok((Store::Keyring(KeyringStore), None))
            } else if state.locked {
                // memory would hide the tokens it holds (and a login would be lost)
                Err(CliError::new(state.locked_message()))
            } else {
                Ok((
                    Store::Memory(MemoryStore::default()),
                    Some(fallback_note(&state)),
                ))
            }
        }
    }
}

pub(super) fn fallback_note(state: &KeyringState) -> String {
    format!(
        "Warning: the OS keyring ({}) is not available: {}.\n\
         Tokens will be kept in memory only and will not outlive this process.\n\
         To keep them: install and unlock a keyring (e.g. gnome-keyring), or set `persist: file` \
         under the server's `auth:` (or {STORE_ENV}=file).",
        state.backend,
        state.detail.as_deref().unwrap_or("unknown reason")
    )
}

pub(super) fn lock_dir() -> CliResult<PathBuf> {
    Ok(store::state_dir()?.join("locks"))
}

pub(super) fn auth_with(store: Store, ui: LoginUi) -> CliResult<McpAuth<NativeHost>> {
    Ok(McpAuth::new(NativeHost::new(store, lock_dir()?, ui)?)
        .on_warning(|w| errln!("warning: {w}")))
}

pub(super) fn no_login_ui() -> LoginUi {
    LoginUi {
        allowed: false,
        ..LoginUi::default()
    }
}

// ---- targets ----
