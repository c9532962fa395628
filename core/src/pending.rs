//! Pending logins that will never complete: a login whose browser step failed or timed out,
//! or a full-page redirect the user never came back from. Each holds a PKCE verifier and
//! a line in the index; left alone they pile up, and every index write grows with them.

use crate::client::{McpAuth, Stored, PENDING_LOGIN_TTL};
use crate::error::Result;
use crate::host::Host;
use crate::records::{pending_key, PendingLogin};

/// At most this many pending logins are looked at per new login (each is a store read).
const PRUNE_BATCH: usize = 16;

/// A client looks again at most this often (seconds): a pending login goes stale after
/// [`PENDING_LOGIN_TTL`], so a minute late costs nothing, and a page or process that starts
/// many logins does not read the same young ones again for each.
const PRUNE_EVERY: u64 = 60;

impl<H: Host> McpAuth<H> {
    /// Deletes pending logins older than [`PENDING_LOGIN_TTL`] (a callback for them would be
    /// refused anyway). Unreadable ones are left for `clear` to report, never deleted unseen.
    pub(crate) async fn prune_stale_pending(&self) -> Result<usize> {
        let now = self.host().now();
        {
            let Ok(mut last) = self.pruned_at.lock() else {
                return Ok(0);
            };
            if last.is_some_and(|t| now.saturating_sub(t) < PRUNE_EVERY && t <= now) {
                return Ok(0);
            }
            *last = Some(now);
        }
        let mut keys = Vec::new();
        for k in self.index().await?.keys.iter() {
            if keys.len() == PRUNE_BATCH {
                break;
            }
            if k.starts_with("pending:") {
                keys.push(k.clone());
            }
        }
        let mut pruned = 0;
        for key in keys {
            let stale = match self
                .stored(&key)
                .await
                .and_then(Stored::decode::<PendingLogin>)
            {
                Ok(Some(p)) => now.saturating_sub(p.created_at) > PENDING_LOGIN_TTL,
                // already gone: only the index line is left
                Ok(None) => true,
                Err(_) => false,
            };
            if stale {
                self.delete(&key).await?;
                pruned += 1;
            }
        }
        Ok(pruned)
    }

    /// Forgets the pending login of a browser step that failed: its verifier is never needed.
    pub(crate) async fn abandon_pending(&self, state: &str) {
        // best effort: the login's own error is what the caller needs to see
        let _ = self.delete(&pending_key(state)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::AuthOptions;
    use crate::error::Error;
    use crate::metadata::AuthServerMetadata;
    use crate::test_host::MemHost;
    use futures_util::FutureExt;

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        f.now_or_never().expect("the in-memory host never waits")
    }

    fn options() -> AuthOptions {
        let meta: AuthServerMetadata = crate::json::from_value(serde_json::json!({
            "issuer": "https://as.example.com",
            "authorization_endpoint": "https://as.example.com/authorize",
            "token_endpoint": "https://as.example.com/token",
            "code_challenge_methods_supported": ["S256"]
        }))
        .unwrap();
        AuthOptions {
            client_id: Some("c1".into()),
            fixed_server: Some(meta),
            ..AuthOptions::default()
        }
    }

    fn pending_keys(auth: &McpAuth<MemHost>) -> Vec<String> {
        let mut keys: Vec<String> = auth
            .host()
            .map
            .borrow()
            .keys()
            .filter(|k| k.starts_with("pending:"))
            .cloned()
            .collect();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn a_failed_browser_step_leaves_no_pending_login_behind() {
        let auth = McpAuth::new(MemHost::new(|_| unreachable!("no request is needed")));
        let err = run(auth.login("https://mcp.example.com/mcp", &options())).unwrap_err();
        assert!(matches!(*err, Error::Browser(_)), "{err:?}");
        assert!(pending_keys(&auth).is_empty(), "{:?}", pending_keys(&auth));
        let index = run(auth.index()).unwrap();
        assert!(
            !index.keys.iter().any(|k| k.starts_with("pending:")),
            "{index:?}"
        );
    }

    #[test]
    fn abandoned_redirects_are_pruned_once_they_are_too_old_to_complete() {
        let auth = McpAuth::new(MemHost::new(|_| unreachable!("no request is needed")));
        let url = "https://mcp.example.com/mcp";
        let first = run(auth.begin_login(url, &options())).unwrap();
        auth.host().now.set(1000 + PENDING_LOGIN_TTL / 2);
        let second = run(auth.begin_login(url, &options())).unwrap();
        assert_eq!(
            pending_keys(&auth).len(),
            2,
            "both are still young enough to complete"
        );

        auth.host().now.set(1000 + PENDING_LOGIN_TTL + 1);
        let third = run(auth.begin_login(url, &options())).unwrap();
        let left = pending_keys(&auth);
        assert!(
            !left.contains(&pending_key(&first.state)),
            "the expired one is gone"
        );
        assert!(left.contains(&pending_key(&second.state)));
        assert!(left.contains(&pending_key(&third.state)));
        let index = run(auth.index()).unwrap();
        assert!(!index.keys.contains(&pending_key(&first.state)));
    }

    #[test]
    fn a_client_looks_for_stale_pending_logins_at_most_once_a_minute() {
        let auth = McpAuth::new(MemHost::new(|_| unreachable!("no request is needed")));
        let url = "https://mcp.example.com/mcp";
        let first = run(auth.begin_login(url, &options())).unwrap();
        let looked = 1000 + PENDING_LOGIN_TTL - 29;
        auth.host().now.set(looked);
        run(auth.begin_login(url, &options())).unwrap();
        // 30 s later the first one is stale, but this client looked 30 s ago
        auth.host().now.set(looked + 30);
        run(auth.begin_login(url, &options())).unwrap();
        assert!(pending_keys(&auth).contains(&pending_key(&first.state)));
        // a minute after it last looked, it looks again
        auth.host().now.set(looked + PRUNE_EVERY);
        run(auth.begin_login(url, &options())).unwrap();
        assert!(!pending_keys(&auth).contains(&pending_key(&first.state)));
        assert_eq!(pending_keys(&auth).len(), 3);
    }

    #[test]
    fn an_unreadable_pending_record_is_not_deleted_unseen() {
        let auth = McpAuth::new(MemHost::new(|_| unreachable!("no request is needed")));
        let url = "https://mcp.example.com/mcp";
        let first = run(auth.begin_login(url, &options())).unwrap();
        let key = pending_key(&first.state);
        auth.host()
            .map
            .borrow_mut()
            .insert(key.clone(), "{not json".into());
        auth.host().now.set(1000 + PENDING_LOGIN_TTL + 1);
        run(auth.begin_login(url, &options())).unwrap();
        assert_eq!(
            auth.host().map.borrow().get(&key).map(String::as_str),
            Some("{not json")
        );
    }
}
