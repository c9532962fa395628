//! What `mcp-auth status` says about Redis stores (`persist: redis`): the address without
//! the password, whether it answers and takes writes, and who holds a lock now.

use super::{persist_override, CliResult};
use crate::config::Config;
use crate::redis_store::{RedisSettings, RedisState, RedisStore, REDIS_URL_ENV};
use crate::store::Persist;

/// A Redis store status looks at: opened (and probed), or why it could not be.
pub(super) struct RedisView {
    pub store: Option<RedisStore>,
    pub state: RedisState,
}

/// The Redis stores in use: the one `MCP_AUTH_REDIS_URL` names (with `MCP_AUTH_STORE=redis`
/// or when set at all), and each distinct one configured with `persist: redis`.
pub(super) async fn gather(cfg: &Config) -> CliResult<Vec<RedisView>> {
    let over = persist_override()?;
    let mut wanted: Vec<Result<RedisSettings, String>> = Vec::new();
    if over == Some(Persist::Redis) || std::env::var_os(REDIS_URL_ENV).is_some() {
        wanted.push(RedisSettings::resolve(None, None).map_err(|e| e.to_message()));
    }
    if over.is_none() {
        for s in cfg.servers.values() {
            if s.persist == Some(Persist::Redis) {
                wanted.push(
                    RedisSettings::resolve(s.redis_url.as_ref(), s.redis_prefix.as_deref())
                        .map_err(|e| format!("server `{}`: {}", s.name, e.to_message())),
                );
            }
        }
    }
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for w in wanted {
        let view = match w.and_then(|s| RedisStore::open(&s).map_err(|e| e.to_message())) {
            Ok(store) => {
                let id = (store.address().to_string(), store.describe());
                if seen.contains(&id) {
                    continue;
                }
                seen.push(id);
                let state = store.probe().await;
                RedisView {
                    store: state.reachable.then_some(store),
                    state,
                }
            }
            Err(problem) => RedisView {
                store: None,
                state: RedisState {
                    address: "-".into(),
                    prefix: "-".into(),
                    reachable: false,
                    role: None,
                    problem: Some(problem),
                    locks: Vec::new(),
                },
            },
        };
        out.push(view);
    }
    Ok(out)
}

trait Message {
    fn to_message(&self) -> String;
}

impl Message for mcp_auth_core::HostError {
    fn to_message(&self) -> String {
        match self {
            Self::Storage(m) | Self::Network(m) | Self::Browser(m) => m.clone(),
        }
    }
}

/// One or more lines for the text report.
pub(super) fn lines(s: &RedisState) -> String {
    let mut out = if !s.reachable {
        format!(
            "Redis: {} ✗ not usable: {}",
            s.address,
            s.problem.as_deref().unwrap_or("no answer")
        )
    } else if let Some(p) = &s.problem {
        format!("Redis: {} (key prefix `{}`) ✗ {p}", s.address, s.prefix)
    } else {
        format!(
            "Redis: {} (key prefix `{}`) ✓ reachable ({})",
            s.address,
            s.prefix,
            s.role.as_deref().unwrap_or("?")
        )
    };
    for l in &s.locks {
        out.push_str(&format!(
            "\n  lock `{}` held by {} (lease {:.1} s left)",
            l.name,
            l.holder,
            l.lease_ms_left.max(0) as f64 / 1000.0
        ));
    }
    out
}
