//! Records the store would not take. A refresh that rotated the refresh token has spent the
//! old one: if saving the new record fails (a locked keyring, a full disk), dropping it would
//! send the old token next time, which a reuse-detecting server answers by revoking the whole
//! grant. So the save is retried once, and when that fails too the new record is kept in
//! memory for the life of this client (every read of its key sees it first) and a warning
//! says what happened. A later successful write or delete of the key ends the override.

use crate::client::McpAuth;
use crate::error::Result;
use crate::host::Host;
use crate::records::{encode, TokenRecord};
use crate::sorted::SortedMap;
use std::sync::Mutex;

type Sink = Box<dyn Fn(&str) + Send + Sync>;

/// The in-process overrides (encoded records by store key) and the warnings not yet taken.
#[derive(Default)]
pub(crate) struct Unsaved {
    records: Mutex<SortedMap<String>>,
    warnings: Mutex<Vec<String>>,
    sink: Option<Sink>,
}

impl Unsaved {
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        self.records.lock().ok()?.get(key).cloned()
    }

    pub(crate) fn forget(&self, key: &str) {
        if let Ok(mut m) = self.records.lock() {
            m.remove(key);
        }
    }

    fn keep(&self, key: &str, text: String) {
        if let Ok(mut m) = self.records.lock() {
            m.insert(key.to_string(), text);
        }
    }

    fn warn(&self, message: String) {
        if let Some(sink) = &self.sink {
            sink(&message);
        }
        if let Ok(mut w) = self.warnings.lock() {
            w.push(message);
        }
    }
}

impl<H: Host> McpAuth<H> {
    /// Calls `sink` with every warning as it happens (the CLI prints them to standard
    /// error); they are also kept for [`Self::take_warnings`].
    pub fn on_warning(mut self, sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.unsaved.sink = Some(Box::new(sink));
        self
    }

    /// The warnings since the last call (e.g. refreshed tokens the store would not save).
    /// They never carry a secret.
    pub fn take_warnings(&self) -> Vec<String> {
        self.unsaved
            .warnings
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default()
    }

    /// Saves a refreshed record; on failure retries once, then keeps it in memory and warns.
    /// The caller gets the new tokens either way.
    pub(crate) async fn save_refreshed(&self, key: &str, record: &TokenRecord) -> Result<()> {
        let Err(first) = self.write(key, record).await else {
            return Ok(());
        };
        let Err(second) = self.write(key, record).await else {
            return Ok(());
        };
        self.unsaved.keep(key, encode(record));
        self.unsaved.warn(format!(
            "the refreshed tokens for {} could not be saved ({second}; first try: {first}); \
             they are kept in memory until this process ends. The store still holds the \
             previous refresh token: if the server rotates refresh tokens, the next run may \
             have to log in again",
            record.resource
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::client::McpAuth;
    use crate::records::{tokens_key, INDEX_KEY};
    use crate::test_host::{json, MemHost};
    use futures_util::FutureExt;
    use serde_json::json as j;
    use std::sync::{Arc, Mutex};

    const ID: &str = "https://mcp.example.com";
    const RES: &str = "https://mcp.example.com/mcp";
    const AS: &str = "https://as.example.com";

    /// An expired record whose refresh rotates `r1` into `r2`; `failing` saves fail.
    fn setup(failing: u32) -> McpAuth<MemHost> {
        let h = MemHost::new(|r| {
            if r.url == format!("{AS}/token") {
                json(
                    200,
                    &j!({"access_token": "fresh-access", "token_type": "Bearer",
                        "expires_in": 3600, "refresh_token": "r2-rotated"}),
                )
            } else {
                json(404, &j!({}))
            }
        });
        h.now.set(6000);
        h.put(
            &tokens_key(ID, RES),
            &j!({"version": 2, "identity": ID, "resource": RES, "issuer": AS,
                "client_id": "c1", "access_token": "old", "token_type": "Bearer",
                "refresh_token": "r1", "expires_at": 5000, "obtained_at": 900,
                "token_endpoint": format!("{AS}/token")}),
        );
        h.put(INDEX_KEY, &j!({"keys": [tokens_key(ID, RES)]}));
        h.failing_saves.set(failing);
        McpAuth::new(h)
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        f.now_or_never().expect("the in-memory host never waits")
    }

    fn stored_refresh(auth: &McpAuth<MemHost>) -> String {
        auth.host().get(&tokens_key(ID, RES)).expect("stored")["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn a_rotated_token_the_store_refuses_is_kept_in_memory_and_reported() {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = seen.clone();
        let auth = setup(2).on_warning(move |w| sink.lock().unwrap().push(w.to_string()));
        let rec = run(auth.valid_record(RES)).expect("the caller gets the token");
        assert_eq!(rec.access_token.secret(), "fresh-access");
        assert_eq!(
            rec.refresh_token.as_ref().map(|t| t.secret()),
            Some("r2-rotated")
        );
        // the store refused both tries: it still has the spent token ...
        assert_eq!(stored_refresh(&auth), "r1");
        // ... but this process uses the new one, without refreshing again
        let again = run(auth.valid_record(RES)).expect("from memory");
        assert_eq!(
            again.refresh_token.as_ref().map(|t| t.secret()),
            Some("r2-rotated")
        );
        assert_eq!(auth.host().sent_urls().len(), 1, "one refresh only");
        let warnings = auth.take_warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains(RES), "{}", warnings[0]);
        assert!(warnings[0].contains("keyring is locked"), "{}", warnings[0]);
        for secret in ["r2-rotated", "fresh-access", "r1"] {
            assert!(!warnings[0].contains(secret), "{}", warnings[0]);
        }
        assert_eq!(
            *seen.lock().unwrap(),
            warnings,
            "the sink saw it as it happened"
        );
        assert!(auth.take_warnings().is_empty(), "taken once");

        // a later successful write ends the override: the store catches up
        run(auth.refresh(RES, Some(&again.access_token))).expect("refresh with r2");
        let sent = auth.host().sent.borrow();
        let body = String::from_utf8_lossy(sent[1].body.as_deref().unwrap_or_default());
        assert!(body.contains("refresh_token=r2-rotated"), "{body}");
        drop(sent);
        assert_eq!(stored_refresh(&auth), "r2-rotated");
        assert!(auth.unsaved.get(&tokens_key(ID, RES)).is_none());
    }

    #[test]
    fn one_failed_save_is_retried_and_stored() {
        let auth = setup(1);
        let rec = run(auth.valid_record(RES)).expect("refreshed");
        assert_eq!(
            rec.refresh_token.as_ref().map(|t| t.secret()),
            Some("r2-rotated")
        );
        assert_eq!(stored_refresh(&auth), "r2-rotated");
        assert!(auth.take_warnings().is_empty());
    }
}
