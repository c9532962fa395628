//! Stored tokens: finding the record for a URL (per resource, inside an identity), migrating
//! version-1 records, refresh (single-flight, locked, re-read first, rotated token saved
//! first), status and logout with revocation.
//!
//! A token record is bound to its issuer and the endpoints it came from: refresh and
//! revocation go there and nowhere else, whatever a later discovery says.

use crate::client::{is_oauth_error, LogoutReport, McpAuth, Stored, TokenStatus};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::oauth::{self, TokenBinding};
use crate::records::{
    client_key, legacy_tokens_key, tokens_key, ClientSource, DiscoveryRecord, TokenRecord,
    RECORD_VERSION,
};
use crate::secret::AccessToken;
use crate::urls::{covering_first, identity, resource_uri};

impl<H: Host> McpAuth<H> {
    /// The stored token record whose resource covers `url` (the most specific one when
    /// several do), or `None`. A token is only ever chosen for URLs inside its resource.
    pub async fn token_record(&self, url: &str) -> Result<Option<TokenRecord>> {
        Ok(self.find_token(url).await?.map(|(_, r)| r))
    }

    pub(crate) async fn find_token(&self, url: &str) -> Result<Option<(String, TokenRecord)>> {
        let id = identity(url)?;
        let wanted = resource_uri(url)?;
        // the common case, without the index: a record for exactly this resource
        let exact = tokens_key(&id, &wanted);
        if let Some(rec) = self
            .stored(&exact)
            .await
            .and_then(Stored::decode::<TokenRecord>)?
        {
            return Ok(Some((exact, rec)));
        }
        let index = self.index().await?;
        let mut candidates: Vec<(String, String)> = Vec::new();
        for (key, resource) in index.token_keys_of(&id) {
            match resource {
                Some(r) => candidates.push((key, r)),
                None => {
                    if let Some(rec) = self.migrate_v1(&id).await? {
                        candidates.push((tokens_key(&id, &rec.resource), rec.resource));
                    }
                }
            }
        }
        for (key, _) in covering_first(candidates, |(_, r)| r, &wanted) {
            if let Some(rec) = self
                .stored(&key)
                .await
                .and_then(Stored::decode::<TokenRecord>)?
            {
                return Ok(Some((key, rec)));
            }
        }
        Ok(None)
    }

    /// Moves a version-1 record (`tokens:<identity>`, no recorded endpoints) to its
    /// per-resource key. Its endpoints come from the cached discovery only when that names
    /// the same issuer; otherwise the next refresh asks the issuer's own metadata. Nothing
    /// is dropped: the tokens, refresh token and scope carry over.
    pub(crate) async fn migrate_v1(&self, id: &str) -> Result<Option<TokenRecord>> {
        let old_key = legacy_tokens_key(id);
        let Some(mut rec) = self
            .stored(&old_key)
            .await
            .and_then(Stored::decode::<TokenRecord>)?
        else {
            return Ok(None);
        };
        if rec.token_endpoint.is_none() {
            if let Ok(Some(disc)) = self
                .stored(&crate::records::discovery_key(&rec.resource))
                .await
                .and_then(Stored::decode::<DiscoveryRecord>)
            {
                if disc.authorization_server.issuer == rec.issuer {
                    rec.token_endpoint = Some(disc.authorization_server.token_endpoint.clone());
                    rec.revocation_endpoint = disc.authorization_server.revocation_endpoint.clone();
                    rec.send_resource = !disc.fixed;
                }
            }
        }
        rec.version = RECORD_VERSION;
        let new_key = tokens_key(id, &rec.resource);
        // a newer record for that resource wins; the old one is only removed once the new
        // key holds a record
        if self
            .stored(&new_key)
            .await
            .and_then(Stored::decode::<TokenRecord>)?
            .is_none()
        {
            self.write(&new_key, &rec).await?;
        }
        self.delete(&old_key).await?;
        Ok(Some(rec))
    }

    /// A valid access token for the server: the stored one, or a refreshed one when it expires
    /// within the skew. Never opens a browser.
    pub async fn access_token(&self, server_url: &str) -> Result<AccessToken> {
        Ok(self.valid_record(server_url).await?.access_token)
    }

    /// The stored record for the server URL, refreshed first if it is about to expire.
    pub async fn valid_record(&self, server_url: &str) -> Result<TokenRecord> {
        let record = self
            .token_record(server_url)
            .await?
            .ok_or_else(|| Error::LoginRequired {
                identity: server_url.to_string(),
            })?;
        if !record.refresh_due(self.host.now(), self.refresh_skew) {
            return Ok(record);
        }
        self.refresh_record(&record, None).await
    }

    /// Refreshes the tokens for `server_url`. With `failed`, the caller saw that access token
    /// rejected and a refresh happens even if it has not expired, unless another caller has
    /// already replaced it.
    pub async fn refresh(
        &self,
        server_url: &str,
        failed: Option<&AccessToken>,
    ) -> Result<TokenRecord> {
        let record = self
            .token_record(server_url)
            .await?
            .ok_or_else(|| Error::LoginRequired {
                identity: server_url.to_string(),
            })?;
        self.refresh_record(&record, failed).await
    }

    /// Holds the in-process lock and the host's lock, and re-reads the store inside them
    /// before spending the refresh token. The refresh goes to the token endpoint recorded
    /// with the tokens, authenticated as the client registered with the recorded issuer.
    pub(crate) async fn refresh_record(
        &self,
        stale: &TokenRecord,
        failed: Option<&AccessToken>,
    ) -> Result<TokenRecord> {
        let mut stale_client = None;
        let result = self.refresh_inner(stale, failed, &mut stale_client).await;
        // a registration the server no longer knows is forgotten outside the refresh lock
        // (deleting changes the index, which has a lock of its own)
        if let Some(key) = stale_client {
            self.delete(&key).await?;
        }
        result
    }

    /// The critical section: both locks held, the store re-read, the refresh token spent.
    async fn refresh_inner(
        &self,
        stale: &TokenRecord,
        failed: Option<&AccessToken>,
        stale_client: &mut Option<String>,
    ) -> Result<TokenRecord> {
        let key = tokens_key(&stale.identity, &stale.resource);
        let lock_name = format!("refresh:{}|{}", stale.identity, stale.resource);
        let local = self.local_lock(&lock_name);
        let _local = local.lock().await;
        let _host = self.host.lock(&lock_name).await?;
        // errors name the resource: logging in to it gets these tokens back
        let relogin = || Error::ReauthenticationRequired {
            identity: stale.resource.clone(),
        };
        let record: TokenRecord = self
            .stored(&key)
            .await
            .and_then(Stored::decode)?
            .ok_or_else(|| Error::LoginRequired {
                identity: stale.resource.clone(),
            })?;
        let now = self.host.now();
        match failed {
            Some(f) if &record.access_token != f => return Ok(record),
            None if !record.refresh_due(now, self.refresh_skew) => return Ok(record),
            _ => {}
        }
        let Some(refresh_token) = record.refresh_token.clone() else {
            return Err(relogin().boxed());
        };
        let token_endpoint = match &record.token_endpoint {
            Some(e) => e.clone(),
            None => {
                // a migrated version-1 record: ask the recorded issuer itself, never the server
                let origin = identity(&record.resource)?;
                let meta = self
                    .issuer_metadata(&record.resource, &record.issuer, Some(&origin))
                    .await?;
                meta.token_endpoint
            }
        };
        let client = self.client_for(&record).await?;
        let req = oauth::refresh_token_request(
            &token_endpoint,
            &client,
            &refresh_token,
            record.send_resource.then_some(record.resource.as_str()),
        );
        // a refresh token bound to a DPoP key goes out only with a proof by that key
        let dpop = record.dpop_jkt.is_some();
        if let Some(jkt) = &record.dpop_jkt {
            if &self.host.dpop_key(&record.identity).await?.thumbprint()? != jkt {
                return Err(relogin().boxed());
            }
        }
        let (resp, jkt) = self.send_token_request(&record.identity, req, dpop).await?;
        match oauth::parse_token_response(&resp, now, record.scope.as_deref())
            .and_then(|g| g.bind(jkt))
        {
            Ok(grant) => {
                let new = grant.into_record(
                    &TokenBinding {
                        identity: &record.identity,
                        resource: &record.resource,
                        issuer: &record.issuer,
                        client_id: &record.client_id,
                        token_endpoint: &token_endpoint,
                        revocation_endpoint: record.revocation_endpoint.as_deref(),
                        send_resource: record.send_resource,
                        requested_scope: record.requested_scope.as_deref(),
                    },
                    now,
                    Some(refresh_token),
                );
                // persisted before anyone sees the new access token (or, when the store
                // refuses it twice, kept in memory with a warning: the old one is spent)
                self.save_refreshed(&key, &new).await?;
                Ok(new)
            }
            Err(e)
                if is_oauth_error(&e, "invalid_grant") || is_oauth_error(&e, "invalid_client") =>
            {
                let mut dropped = record.clone();
                dropped.refresh_token = None;
                dropped.expires_at = Some(dropped.expires_at.unwrap_or(now).min(now));
                self.write(&key, &dropped).await?;
                if is_oauth_error(&e, "invalid_client") && client.source == ClientSource::Dynamic {
                    *stale_client = Some(client_key(&record.identity, &record.issuer));
                }
                Err(relogin().boxed())
            }
            Err(e) => Err(e), // network errors and 5xx keep the stored tokens
        }
    }

    // ---- status and logout ----

    /// Every stored token record (identity and resource) with its state. Reads only
    /// (version-1 records are shown as they are and migrated by the next command that uses
    /// them).
    pub async fn status(&self) -> Result<Vec<TokenStatus>> {
        let idx = self.index().await?;
        let mut out = Vec::new();
        for id in idx.identities() {
            for (key, _) in idx.token_keys_of(&id) {
                out.push(self.status_of_key(&id, &key).await?);
            }
        }
        Ok(out)
    }

    /// The state of the tokens for a URL: the record covering it, else (for an identity)
    /// the identity's broadest record.
    pub async fn token_status(&self, url: &str) -> Result<TokenStatus> {
        let id = identity(url)?;
        if let Ok(Some((key, _))) = self.find_token(url).await {
            return self.status_of_key(&id, &key).await;
        }
        let idx = self.index().await?;
        let keys = idx.token_keys_of(&id);
        // the broadest record: the shortest resource, the first of equals (no sort needed)
        let resource_len = |(_, r): &(String, Option<String>)| r.as_ref().map_or(0, String::len);
        let mut broadest = None;
        for k in &keys {
            if broadest.is_none_or(|b| resource_len(k) < resource_len(b)) {
                broadest = Some(k);
            }
        }
        match broadest {
            Some((key, _)) => self.status_of_key(&id, key).await,
            None => Ok(TokenStatus::absent(id, None)),
        }
    }

    async fn status_of_key(&self, id: &str, key: &str) -> Result<TokenStatus> {
        let now = self.host.now();
        let mut st = TokenStatus::absent(
            id.to_string(),
            crate::records::parse_tokens_key(key).map(|(_, r)| r.to_string()),
        );
        match self
            .stored(key)
            .await
            .and_then(Stored::decode::<TokenRecord>)
        {
            Ok(Some(r)) => {
                st.present = true;
                st.dpop_bound = r.is_dpop_bound();
                st.expired = r.expires_within(now, 0);
                st.expires_at = r.expires_at;
                st.scope = r.scope;
                st.issuer = Some(r.issuer);
                st.resource = Some(r.resource);
                st.has_refresh_token = r.refresh_token.is_some();
                st.flow = r.flow;
            }
            Ok(None) => {}
            Err(e) if matches!(*e, Error::CorruptRecord { .. }) => st.problem = Some(e.to_string()),
            Err(e) => return Err(e),
        }
        Ok(st)
    }

    /// Revokes every token record of the identity at the authorization server that issued it
    /// (RFC 7009; refresh token first, which ends the grant), then deletes the token records
    /// and, with `forget_client`, the client registrations and cached discovery too.
    pub async fn logout(&self, identity_url: &str, forget_client: bool) -> Result<LogoutReport> {
        let id = identity(identity_url)?;
        let mut report = LogoutReport {
            identity: id.clone(),
            ..Default::default()
        };
        let idx = self.index().await?;
        let mut keys = Vec::new();
        for (key, _) in idx.token_keys_of(&id) {
            keys.push(key);
        }
        keys.push(legacy_tokens_key(&id));
        for key in &keys {
            match self
                .stored(key)
                .await
                .and_then(Stored::decode::<TokenRecord>)
            {
                Ok(Some(record)) => self.revoke(&record, &mut report).await,
                Ok(None) => {}
                Err(e) => report.revocation_notes.push(format!(
                    "the stored tokens were unreadable ({e}); deleted without revoking"
                )),
            }
        }
        if forget_client {
            keys.extend(idx.keys_of(&id));
        }
        crate::sorted::sort_strings(&mut keys);
        keys.dedup();
        for key in keys {
            let existed = idx.keys.contains(&key) || self.host.load(&key).await?.is_some();
            self.delete(&key).await?;
            if existed {
                report.deleted_keys.push(key);
            }
        }
        // the DPoP key goes with the tokens it signed for; after them, so that a key store
        // that fails never keeps the tokens
        match self.host.dpop_forget(&id).await {
            Ok(()) => {
                let name = crate::dpop::key::key_name(&id);
                self.update_index(&|idx| idx.keys.remove(&name)).await?;
                self.dpop_indexed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
            }
            Err(e) => report.revocation_notes.push(format!(
                "the DPoP key could not be deleted ({})",
                Error::from(*e)
            )),
        }
        Ok(report)
    }

    async fn revoke(&self, record: &TokenRecord, report: &mut LogoutReport) {
        let endpoint = match (&record.token_endpoint, &record.revocation_endpoint) {
            (_, Some(e)) => Some(e.clone()),
            (Some(_), None) => None,
            // a migrated version-1 record: the recorded issuer's own metadata says
            (None, None) => match self
                .issuer_metadata(&record.resource, &record.issuer, None)
                .await
            {
                Ok(meta) => meta.revocation_endpoint,
                Err(e) => {
                    report.revocation_notes.push(format!(
                        "could not reach the authorization server to revoke ({e})"
                    ));
                    return;
                }
            },
        };
        let Some(endpoint) = endpoint else {
            report
                .revocation_notes
                .push("the authorization server offers no revocation endpoint".into());
            return;
        };
        let client = match self.client_for(record).await {
            Ok(c) => c,
            Err(e) => {
                report
                    .revocation_notes
                    .push(format!("no client record to revoke with ({e})"));
                return;
            }
        };
        let mut tokens = Vec::new();
        if let Some(rt) = &record.refresh_token {
            tokens.push((rt.secret().to_string(), "refresh_token"));
        }
        tokens.push((record.access_token.secret().to_string(), "access_token"));
        for (token, hint) in tokens {
            match self
                .host
                .send(oauth::revocation_request(&endpoint, &client, &token, hint))
                .await
            {
                Ok(r) if r.is_success() => report.revoked.push(hint.to_string()),
                Ok(r) => report
                    .revocation_notes
                    .push(match oauth::endpoint_error(&r) {
                        // the revocation endpoint's answer, named as such
                        Error::TokenEndpoint {
                            error, description, ..
                        } => format!(
                        "revoking the {hint} failed: revocation endpoint {} answered `{error}`{}",
                        endpoint,
                        description.map(|d| format!(": {d}")).unwrap_or_default()
                    ),
                        other => format!("revoking the {hint} failed: {other}"),
                    }),
                Err(e) => report
                    .revocation_notes
                    .push(format!("revoking the {hint} failed: {}", Error::from(*e))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::client::{AuthOptions, McpAuth};
    use crate::records::{discovery_key, legacy_tokens_key, tokens_key, INDEX_KEY};
    use crate::test_host::{json, MemHost};
    use futures_util::FutureExt;
    use serde_json::{json as j, Value};

    const ID: &str = "https://mcp.example.com";
    const RES: &str = "https://mcp.example.com/a/mcp";
    const AS: &str = "https://as.example.com";
    const EVIL: &str = "https://evil.example.com";

    fn token_answer() -> Value {
        j!({"access_token": "new", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "r2"})
    }

    /// Answers the legitimate issuer's metadata and token endpoint; anything else is a 404.
    fn host() -> MemHost {
        MemHost::new(|r| {
            if r.url == format!("{AS}/.well-known/oauth-authorization-server") {
                json(
                    200,
                    &j!({"issuer": AS, "authorization_endpoint": format!("{AS}/authorize"),
                        "token_endpoint": format!("{AS}/oauth/token"),
                        "code_challenge_methods_supported": ["S256"]}),
                )
            } else if r.url.ends_with("/token") || r.url.ends_with("/oauth/token") {
                json(200, &token_answer())
            } else {
                json(404, &j!({}))
            }
        })
    }

    /// A token record exactly as release 0.1 (record version 1) wrote it.
    fn v1_record(expires_at: u64) -> Value {
        j!({"version": 1, "identity": ID, "resource": RES, "issuer": AS, "client_id": "c1",
            "access_token": "old", "token_type": "Bearer", "refresh_token": "r1",
            "expires_at": expires_at, "scope": "mcp:read", "obtained_at": 900})
    }

    /// The same record as this build writes it (version 2, its token endpoint recorded).
    fn v2_record(expires_at: u64) -> Value {
        let mut rec = v1_record(expires_at);
        rec["version"] = j!(2);
        rec["token_endpoint"] = j!(format!("{AS}/token"));
        rec
    }

    fn discovery(issuer: &str) -> Value {
        j!({"version": 1, "resource": RES, "authorization_server": {
            "issuer": issuer, "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "revocation_endpoint": format!("{issuer}/revoke")},
            "fetched_at": 900})
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        f.now_or_never().expect("the in-memory host never waits")
    }

    #[test]
    fn a_version_1_record_is_migrated_with_the_endpoints_of_its_own_issuer() {
        let h = host();
        h.put(&legacy_tokens_key(ID), &v1_record(5000));
        h.put(&discovery_key(RES), &discovery(AS));
        h.put(
            INDEX_KEY,
            &j!({"keys": [legacy_tokens_key(ID), discovery_key(RES)]}),
        );
        let auth = McpAuth::new(h);
        let rec = run(auth.token_record(RES)).expect("read").expect("found");
        assert_eq!(rec.access_token.secret(), "old");
        assert_eq!(rec.refresh_token.as_ref().map(|t| t.secret()), Some("r1"));
        assert_eq!(rec.token_endpoint.as_deref(), Some(&*format!("{AS}/token")));
        assert_eq!(
            rec.revocation_endpoint.as_deref(),
            Some(&*format!("{AS}/revoke"))
        );
        let h = auth.host();
        assert!(h.get(&legacy_tokens_key(ID)).is_none(), "old key removed");
        let moved = h.get(&tokens_key(ID, RES)).expect("new key");
        assert_eq!(moved["version"], 2);
        let index = h.get(INDEX_KEY).expect("index");
        let keys: Vec<&str> = index["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(keys.contains(&tokens_key(ID, RES).as_str()), "{keys:?}");
        assert!(!keys.contains(&legacy_tokens_key(ID).as_str()), "{keys:?}");
        assert!(h.sent_urls().is_empty(), "migration sends nothing");
    }

    #[test]
    fn a_poisoned_discovery_cache_never_receives_a_migrated_refresh_token() {
        let h = host();
        h.now.set(6000); // expired: the next use refreshes
        h.put(&legacy_tokens_key(ID), &v1_record(5000));
        h.put(&discovery_key(RES), &discovery(EVIL));
        h.put(INDEX_KEY, &j!({"keys": [legacy_tokens_key(ID)]}));
        let auth = McpAuth::new(h);
        let rec = run(auth.valid_record(RES)).expect("refreshed");
        assert_eq!(rec.access_token.secret(), "new");
        let sent = auth.host().sent_urls();
        assert!(sent.iter().all(|u| !u.starts_with(EVIL)), "{sent:?}");
        assert_eq!(
            sent.last().map(String::as_str),
            Some(&*format!("{AS}/oauth/token"))
        );
        // the endpoint learnt from the issuer itself is kept
        assert_eq!(
            rec.token_endpoint.as_deref(),
            Some(&*format!("{AS}/oauth/token"))
        );
    }

    #[test]
    fn refresh_goes_to_the_recorded_endpoint_whatever_discovery_says_now() {
        let h = host();
        h.now.set(6000);
        let rec = v2_record(5000);
        h.put(&tokens_key(ID, RES), &rec);
        h.put(&discovery_key(RES), &discovery(EVIL));
        let auth = McpAuth::new(h);
        run(auth.valid_record(RES)).expect("refreshed");
        assert_eq!(auth.host().sent_urls(), [format!("{AS}/token")]);
        let sent = auth.host().sent.borrow();
        let body = String::from_utf8_lossy(sent[0].body.as_deref().unwrap_or_default());
        assert!(body.contains("refresh_token=r1"), "{body}");
        assert!(body.contains("resource="), "{body}");
    }

    #[test]
    fn a_token_is_chosen_only_inside_its_resource() {
        let h = host();
        let rec = v2_record(5000);
        h.put(&tokens_key(ID, RES), &rec);
        h.put(INDEX_KEY, &j!({"keys": [tokens_key(ID, RES)]}));
        let auth = McpAuth::new(h);
        assert!(run(auth.token_record(RES)).expect("read").is_some());
        assert!(run(auth.token_record(&format!("{RES}/sub")))
            .expect("read")
            .is_some());
        for other in [
            "https://mcp.example.com/b/mcp",
            "https://mcp.example.com/a/mcpx",
            "https://mcp.example.com",
            "https://other.example.com/a/mcp",
        ] {
            assert!(
                run(auth.token_record(other)).expect("read").is_none(),
                "{other}"
            );
            let e = run(auth.access_token(other)).expect_err("no token there");
            assert_eq!(e.code(), "login_required", "{other}");
        }
    }

    #[test]
    fn an_authorized_request_outside_the_resource_carries_no_token() {
        let h = host();
        let rec = v2_record(5000);
        h.put(&tokens_key(ID, RES), &rec);
        let auth = McpAuth::new(h);
        let opts = AuthOptions {
            interactive: false,
            ..AuthOptions::default()
        };
        let req = crate::host::HttpRequest::post(
            "https://mcp.example.com/b/mcp",
            "application/json",
            b"{}".to_vec(),
        );
        let e = run(auth.authorized_request(RES, req, &opts)).expect_err("refused");
        assert_eq!(e.code(), "token_destination");
        let to_other_origin = crate::host::HttpRequest::post(
            "https://evil.example.com/messages",
            "application/json",
            b"{}".to_vec(),
        );
        let e = run(auth.authorized_endpoint_request(RES, to_other_origin, &opts))
            .expect_err("refused");
        assert_eq!(e.code(), "token_destination");
        assert!(auth.host().sent_urls().is_empty(), "nothing was sent");
        // the same origin is fine for an HTTP+SSE endpoint the server named
        let same_origin = crate::host::HttpRequest::post(
            "https://mcp.example.com/messages?s=1",
            "application/json",
            b"{}".to_vec(),
        );
        let resp = run(auth.authorized_endpoint_request(RES, same_origin, &opts)).expect("sent");
        assert_eq!(resp.status, 404);
        let sent = auth.host().sent.borrow();
        assert_eq!(sent[0].header_value("authorization"), Some("Bearer old"));
    }

    #[test]
    fn short_lived_tokens_are_refreshed_once_per_lifetime() {
        let h = host();
        let mut rec = v2_record(1005);
        rec["obtained_at"] = j!(1000);
        h.put(&tokens_key(ID, RES), &rec);
        let auth = McpAuth::new(h);
        for now in [1000, 1001, 1002, 1003] {
            auth.host().now.set(now);
            run(auth.valid_record(RES)).expect("valid");
        }
        assert!(
            auth.host().sent_urls().is_empty(),
            "no refresh while 5 s tokens are fresh"
        );
        auth.host().now.set(1004);
        run(auth.valid_record(RES)).expect("refreshed");
        assert_eq!(auth.host().sent_urls().len(), 1);
    }
}
