//! The flow, once: discovery, client registration, authorization, token exchange, refresh,
//! step-up, revocation and authorized requests, driven over the host's capabilities.

use crate::error::{Error, Result};
use crate::host::{Host, HttpRequest, HttpResponse};
use crate::metadata::{
    authorization_server_metadata_urls, protected_resource_metadata_urls, AuthServerMetadata,
    ProtectedResourceMetadata,
};
use crate::oauth::{self, AuthorizationParams};
use crate::pkce;
use crate::records::{
    client_key, decode, discovery_key, encode, join_scopes, pending_key, tokens_key,
    ClientAuthMethod, ClientRecord, ClientSource, DiscoveryRecord, Index, PendingLogin,
    TokenRecord, INDEX_KEY, RECORD_VERSION,
};
use crate::secret::{AccessToken, ClientSecret};
use crate::urls::{identity, parse_http_url, require_secure, resource_uri, secure_url};
use crate::www_authenticate::{bearer, BearerChallenge};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Refresh this many seconds before the access token expires.
pub const DEFAULT_REFRESH_SKEW: u64 = 60;
/// A pending login older than this is refused.
pub const PENDING_LOGIN_TTL: u64 = 15 * 60;
/// Cached discovery is used for this long.
pub const DISCOVERY_TTL: u64 = 24 * 3600;
/// Step-ups allowed for one request.
pub const MAX_STEP_UPS: u32 = 3;
/// The default loopback redirect URI.
pub const DEFAULT_REDIRECT_URI: &str = "http://localhost:3030/callback";

/// How to log in to a server. Everything is optional but the redirect URI.
#[derive(Clone, Debug)]
pub struct AuthOptions {
    pub redirect_uri: String,
    pub client_name: String,
    /// An explicitly configured scope (space separated). It is never replaced silently.
    pub scope: Option<String>,
    /// A pre-registered client.
    pub client_id: Option<String>,
    pub client_secret: Option<ClientSecret>,
    pub client_auth_method: Option<ClientAuthMethod>,
    /// A Client ID Metadata Document URL, used when the server supports it.
    pub client_metadata_url: Option<String>,
    /// Extra authorization request parameters.
    pub extra_params: Vec<(String, String)>,
    /// Whether `authorized_request` may start a login (browser) when it needs one.
    pub interactive: bool,
    /// An authorization server known in advance (e.g. a provider with a fixed client):
    /// no discovery, and no `resource` parameter is sent.
    pub fixed_server: Option<AuthServerMetadata>,
}

impl Default for AuthOptions {
    fn default() -> Self {
        AuthOptions {
            redirect_uri: DEFAULT_REDIRECT_URI.into(),
            client_name: "mcp-auth".into(),
            scope: None,
            client_id: None,
            client_secret: None,
            client_auth_method: None,
            client_metadata_url: None,
            extra_params: Vec::new(),
            interactive: true,
            fixed_server: None,
        }
    }
}

/// An authorization request ready for the user's browser.
#[derive(Clone, Debug)]
pub struct AuthorizationRequest {
    pub authorization_url: String,
    pub redirect_uri: String,
    pub state: String,
    pub identity: String,
}

/// What a finished login or refresh left in the store (no secrets).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub identity: String,
    pub resource: String,
    pub issuer: String,
    pub client_id: String,
    pub scope: Option<String>,
    pub expires_at: Option<u64>,
    pub has_refresh_token: bool,
}

impl From<&TokenRecord> for TokenInfo {
    fn from(r: &TokenRecord) -> Self {
        TokenInfo {
            identity: r.identity.clone(),
            resource: r.resource.clone(),
            issuer: r.issuer.clone(),
            client_id: r.client_id.clone(),
            scope: r.scope.clone(),
            expires_at: r.expires_at,
            has_refresh_token: r.refresh_token.is_some(),
        }
    }
}

#[derive(Clone, Debug)]
pub enum LoginOutcome {
    Completed(TokenInfo),
    /// The host navigated away (full-page redirect); finish with `complete_login`.
    Redirected,
}

/// One stored identity, as `status` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenStatus {
    pub identity: String,
    pub present: bool,
    pub expired: bool,
    pub expires_at: Option<u64>,
    pub scope: Option<String>,
    pub issuer: Option<String>,
    pub has_refresh_token: bool,
    /// Set when the record exists but cannot be read.
    pub problem: Option<String>,
}

/// What `logout` did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LogoutReport {
    pub identity: String,
    /// Token kinds revoked at the authorization server (`refresh_token`, `access_token`).
    pub revoked: Vec<String>,
    /// Why a revocation did not happen or failed (the local delete still happened).
    pub revocation_notes: Vec<String>,
    pub deleted_keys: Vec<String>,
}

type LocalLock = Arc<futures_util::lock::Mutex<()>>;

/// Why a login happens, beyond the options: what a 401 or 403 said, and whether cached
/// discovery may be used.
#[derive(Clone, Default)]
pub(crate) struct Retry {
    /// The challenge of the response that asked for the login.
    challenge: Option<BearerChallenge>,
    /// A scope that replaces the usual choice (step-up: the union of held and challenged).
    scope: Option<String>,
    /// Discover again instead of trusting the cache.
    fresh: bool,
}

/// The MCP OAuth client over a host.
pub struct McpAuth<H: Host> {
    host: H,
    refresh_skew: u64,
    locks: Mutex<HashMap<String, LocalLock>>,
}

impl<H: Host> McpAuth<H> {
    pub fn new(host: H) -> Self {
        McpAuth {
            host,
            refresh_skew: DEFAULT_REFRESH_SKEW,
            locks: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_refresh_skew(mut self, seconds: u64) -> Self {
        self.refresh_skew = seconds;
        self
    }

    pub fn host(&self) -> &H {
        &self.host
    }

    // ---- storage helpers ----

    pub(crate) async fn read<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        match self.host.load(key).await? {
            Some(text) => decode(key, &text).map(Some),
            None => Ok(None),
        }
    }

    pub(crate) async fn write<T: Serialize>(&self, key: &str, record: &T) -> Result<()> {
        self.host.save(key, &encode(record)?).await?;
        if key != INDEX_KEY {
            self.update_index(|idx| idx.keys.insert(key.to_string()))
                .await?;
        }
        Ok(())
    }

    pub(crate) async fn delete(&self, key: &str) -> Result<()> {
        self.host.remove(key).await?;
        self.update_index(|idx| idx.keys.remove(key)).await
    }

    async fn update_index(&self, change: impl FnOnce(&mut Index) -> bool) -> Result<()> {
        let mut idx = self.index().await?;
        if change(&mut idx) {
            idx.version = RECORD_VERSION;
            self.host.save(INDEX_KEY, &encode(&idx)?).await?;
        }
        Ok(())
    }

    /// The index of stored keys (an unreadable index is rebuilt empty rather than blocking).
    pub async fn index(&self) -> Result<Index> {
        match self.read::<Index>(INDEX_KEY).await {
            Ok(i) => Ok(i.unwrap_or_default()),
            Err(Error::CorruptRecord { .. }) => Ok(Index::default()),
            Err(e) => Err(e),
        }
    }

    pub async fn token_record(&self, identity: &str) -> Result<Option<TokenRecord>> {
        self.read(&tokens_key(identity)).await
    }

    // ---- discovery ----

    async fn get_json_document(&self, url: &str) -> Result<Option<HttpResponse>> {
        let resp = self
            .host
            .send(HttpRequest::get(url).header("accept", "application/json"))
            .await?;
        match resp.status {
            200..=299 => Ok(Some(resp)),
            400..=499 => Ok(None),
            s => Err(Error::Discovery(format!(
                "{url} answered HTTP {s}; try again later"
            ))),
        }
    }

    /// Sends the unauthenticated MCP request that tells the client where to look.
    async fn probe(&self, server_url: &str) -> Result<Option<BearerChallenge>> {
        let init = crate::mcp::initialize_params("mcp-auth", env!("CARGO_PKG_VERSION"));
        let req = crate::mcp::post(
            server_url,
            &crate::mcp::message(Some(0), "initialize", Some(init)),
            None,
            None,
        );
        let resp = self.host.send(req).await?;
        Ok(if resp.status == 401 {
            bearer(resp.header_all("www-authenticate"))
        } else {
            None
        })
    }

    /// Finds the protected resource and authorization server metadata for a server.
    pub async fn discover(
        &self,
        server_url: &str,
        challenge: Option<BearerChallenge>,
        max_age: u64,
    ) -> Result<(DiscoveryRecord, Option<BearerChallenge>)> {
        let resource = resource_uri(server_url)?;
        let server = secure_url(server_url)?;
        let now = self.host.now();
        if max_age > 0 {
            if let Ok(Some(rec)) = self
                .read::<DiscoveryRecord>(&discovery_key(&resource))
                .await
            {
                if now.saturating_sub(rec.fetched_at) < max_age {
                    return Ok((rec, challenge));
                }
            }
        }
        let challenge = match challenge {
            Some(c) => Some(c),
            None => self.probe(server_url).await?,
        };
        let header_url = challenge
            .as_ref()
            .and_then(|c| c.resource_metadata.as_deref());
        let mut prm = None;
        for url in protected_resource_metadata_urls(server_url, header_url)? {
            if let Some(resp) = self.get_json_document(&url).await? {
                let doc = ProtectedResourceMetadata::parse(&resp.body, &url)?;
                doc.check_resource(&resource, &url)?;
                prm = Some(doc);
                break;
            }
        }
        let origin = server.origin().ascii_serialization();
        let (issuer, legacy) = match &prm {
            Some(doc) => {
                let first = doc.authorization_servers.first().ok_or_else(|| {
                    Error::Discovery(
                        "the protected resource metadata lists no authorization_servers".into(),
                    )
                })?;
                (
                    secure_url(first)?
                        .to_string()
                        .trim_end_matches('/')
                        .to_string(),
                    false,
                )
            }
            None => (origin.clone(), true),
        };
        let mut found = None;
        for url in authorization_server_metadata_urls(&issuer)? {
            if let Some(resp) = self.get_json_document(&url).await? {
                let meta = AuthServerMetadata::parse(&resp.body, &url)?;
                meta.validate(&issuer)?;
                found = Some((meta, url));
                break;
            }
        }
        let (meta, metadata_url) = match found {
            Some((m, u)) => (m, Some(u)),
            None if legacy => (AuthServerMetadata::legacy_defaults(&origin), None),
            None => {
                return Err(Error::Discovery(format!(
                    "no authorization server metadata found for issuer {issuer}"
                )))
            }
        };
        // Send the resource the metadata names when it covers this server (same origin, path prefix).
        let resource_param = prm
            .as_ref()
            .map(|p| p.resource.clone())
            .unwrap_or_else(|| resource.clone());
        let rec = DiscoveryRecord {
            version: RECORD_VERSION,
            resource: resource_uri(&resource_param).unwrap_or(resource.clone()),
            protected_resource: prm,
            authorization_server: meta,
            metadata_url,
            fixed: false,
            fetched_at: now,
        };
        self.write(&discovery_key(&resource), &rec).await?;
        Ok((rec, challenge))
    }

    // ---- client identity ----

    async fn resolve_client(
        &self,
        identity: &str,
        meta: &AuthServerMetadata,
        opts: &AuthOptions,
        scope: Option<&str>,
    ) -> Result<ClientRecord> {
        let issuer = meta.issuer.trim_end_matches('/').to_string();
        let key = client_key(identity, &issuer);
        if let Some(id) = &opts.client_id {
            let method = oauth::choose_auth_method(
                opts.client_auth_method,
                opts.client_secret.is_some(),
                meta,
            );
            if method != ClientAuthMethod::None && opts.client_secret.is_none() {
                return Err(Error::Invalid(format!(
                    "client {id} uses {} but no client_secret is configured",
                    method.as_str()
                )));
            }
            let rec = ClientRecord {
                version: RECORD_VERSION,
                issuer,
                client_id: id.clone(),
                client_secret: opts.client_secret.clone(),
                auth_method: method,
                source: ClientSource::Configured,
                redirect_uris: vec![opts.redirect_uri.clone()],
                registered_at: None,
            };
            self.write(&key, &rec).await?;
            return Ok(rec);
        }
        if let Some(url) = &opts.client_metadata_url {
            oauth::check_client_metadata_url(url)?;
            if meta.client_id_metadata_document_supported {
                let rec = ClientRecord {
                    version: RECORD_VERSION,
                    issuer,
                    client_id: url.clone(),
                    client_secret: None,
                    auth_method: ClientAuthMethod::None,
                    source: ClientSource::MetadataDocument,
                    redirect_uris: vec![opts.redirect_uri.clone()],
                    registered_at: None,
                };
                self.write(&key, &rec).await?;
                return Ok(rec);
            }
        }
        if let Ok(Some(rec)) = self.read::<ClientRecord>(&key).await {
            if rec.source == ClientSource::Dynamic
                && rec.redirect_uris.iter().any(|u| u == &opts.redirect_uri)
            {
                return Ok(rec);
            }
        }
        let Some(endpoint) = &meta.registration_endpoint else {
            return Err(Error::NoClientRegistration {
                issuer,
                cimd: if meta.client_id_metadata_document_supported {
                    " (it accepts a client metadata document URL: set client_metadata_url)"
                } else {
                    ""
                },
            });
        };
        let resp = self
            .host
            .send(oauth::registration_request(
                endpoint,
                &opts.client_name,
                &opts.redirect_uri,
                scope,
            ))
            .await?;
        let rec = oauth::parse_registration_response(
            &resp,
            &issuer,
            &opts.redirect_uri,
            self.host.now(),
        )?;
        self.write(&key, &rec).await?;
        Ok(rec)
    }

    async fn client_for(&self, record: &TokenRecord) -> Result<ClientRecord> {
        match self
            .read::<ClientRecord>(&client_key(&record.identity, &record.issuer))
            .await?
        {
            Some(c) if c.client_id == record.client_id => Ok(c),
            _ => Ok(ClientRecord {
                version: RECORD_VERSION,
                issuer: record.issuer.clone(),
                client_id: record.client_id.clone(),
                client_secret: None,
                auth_method: ClientAuthMethod::None,
                source: ClientSource::Configured,
                redirect_uris: Vec::new(),
                registered_at: None,
            }),
        }
    }

    // ---- login ----

    /// Prepares a login: discovery, client, PKCE and state; stores the pending login and returns
    /// the URL to open.
    pub async fn begin_login(
        &self,
        server_url: &str,
        opts: &AuthOptions,
    ) -> Result<AuthorizationRequest> {
        self.begin(server_url, opts, Retry::default()).await
    }

    async fn begin(
        &self,
        server_url: &str,
        opts: &AuthOptions,
        retry: Retry,
    ) -> Result<AuthorizationRequest> {
        let Retry {
            challenge,
            scope: scope_override,
            fresh,
        } = retry;
        let identity = identity(server_url)?;
        let redirect = parse_http_url(&opts.redirect_uri)?;
        require_secure(&redirect)?;
        let (disc, challenge) = match &opts.fixed_server {
            Some(meta) => (self.fixed_discovery(server_url, meta).await?, challenge),
            None => {
                let max_age = if fresh { 0 } else { DISCOVERY_TTL };
                self.discover(server_url, challenge, max_age).await?
            }
        };
        let meta = &disc.authorization_server;
        let scope = scope_override.or_else(|| self.choose_scope(opts, challenge.as_ref(), &disc));
        let client = self
            .resolve_client(&identity, meta, opts, scope.as_deref())
            .await?;
        let verifier = pkce::new_verifier()?;
        let state = pkce::new_state()?;
        let url = oauth::authorization_url(&AuthorizationParams {
            authorization_endpoint: &meta.authorization_endpoint,
            client_id: &client.client_id,
            redirect_uri: &opts.redirect_uri,
            state: &state,
            code_challenge: &pkce::challenge_s256(&verifier),
            resource: (!disc.fixed).then_some(disc.resource.as_str()),
            scope: scope.as_deref(),
            extra: &opts.extra_params,
        })?;
        let pending = PendingLogin {
            version: RECORD_VERSION,
            state: state.clone(),
            verifier,
            server_url: server_url.to_string(),
            identity: identity.clone(),
            resource: disc.resource.clone(),
            issuer: meta.issuer.clone(),
            token_endpoint: meta.token_endpoint.clone(),
            redirect_uri: opts.redirect_uri.clone(),
            client,
            scope,
            iss_required: meta.authorization_response_iss_parameter_supported,
            fixed: disc.fixed,
            created_at: self.host.now(),
        };
        self.write(&pending_key(&state), &pending).await?;
        Ok(AuthorizationRequest {
            authorization_url: url,
            redirect_uri: opts.redirect_uri.clone(),
            state,
            identity,
        })
    }

    /// A discovery record for a server whose authorization server is known in advance
    /// (no discovery requests, no `resource` parameter); cached so refresh finds it.
    async fn fixed_discovery(
        &self,
        server_url: &str,
        meta: &AuthServerMetadata,
    ) -> Result<DiscoveryRecord> {
        secure_url(&meta.authorization_endpoint)?;
        secure_url(&meta.token_endpoint)?;
        let resource = resource_uri(server_url)?;
        let rec = DiscoveryRecord {
            version: RECORD_VERSION,
            resource: resource.clone(),
            protected_resource: None,
            authorization_server: meta.clone(),
            metadata_url: None,
            fixed: true,
            fetched_at: self.host.now(),
        };
        self.write(&discovery_key(&resource), &rec).await?;
        Ok(rec)
    }

    /// Scope choice (MCP 2025-11-25): configured, else the challenge's, else the protected
    /// resource's `scopes_supported`, else none; `offline_access` added only when the
    /// authorization server lists it.
    fn choose_scope(
        &self,
        opts: &AuthOptions,
        challenge: Option<&BearerChallenge>,
        disc: &DiscoveryRecord,
    ) -> Option<String> {
        if let Some(s) = opts.scope.as_deref().filter(|s| !s.trim().is_empty()) {
            return join_scopes([s]);
        }
        let base = challenge.and_then(|c| c.scope.clone()).or_else(|| {
            disc.protected_resource
                .as_ref()
                .and_then(|p| p.scopes_supported.as_ref())
                .map(|s| s.join(" "))
        });
        let base = base?;
        let offline = disc
            .authorization_server
            .supports_scope("offline_access")
            .then_some("offline_access");
        join_scopes([base.as_str()].into_iter().chain(offline))
    }

    /// Finishes a login from the redirect URL: checks it, exchanges the code, stores the tokens.
    pub async fn complete_login(&self, callback_url: &str) -> Result<TokenInfo> {
        let state = oauth::query_param(callback_url, "state").ok_or(Error::StateMismatch)?;
        let key = pending_key(&state);
        let pending: PendingLogin = self.read(&key).await?.ok_or(Error::StateMismatch)?;
        let now = self.host.now();
        if now.saturating_sub(pending.created_at) > PENDING_LOGIN_TTL {
            self.delete(&key).await?;
            return Err(Error::NoPendingLogin);
        }
        // the pending login is spent by any callback that names it: a denial, an issuer
        // mismatch or a token endpoint error all end it
        self.delete(&key).await?;
        let code = oauth::validate_callback(
            callback_url,
            &pending.state,
            &pending.issuer,
            pending.iss_required,
        )?;
        let req = oauth::code_token_request(
            &pending.token_endpoint,
            &pending.client,
            &code,
            &pending.redirect_uri,
            &pending.verifier,
            (!pending.fixed).then_some(pending.resource.as_str()),
        );
        let resp = self.host.send(req).await?;
        let grant = match oauth::parse_token_response(&resp, now, pending.scope.as_deref()) {
            Ok(g) => g,
            Err(e) => {
                if is_oauth_error(&e, "invalid_client")
                    && pending.client.source == ClientSource::Dynamic
                {
                    // a stale registration: forget it so the next attempt registers anew
                    self.delete(&client_key(&pending.identity, &pending.issuer))
                        .await?;
                }
                return Err(e);
            }
        };
        let record = grant.into_record(
            &pending.identity,
            &pending.resource,
            &pending.issuer,
            &pending.client.client_id,
            now,
            None,
        );
        self.write(&tokens_key(&pending.identity), &record).await?;
        Ok(TokenInfo::from(&record))
    }

    /// The whole login: prepare, let the host take the user through the browser, finish.
    /// A stale dynamic registration is dropped and registration retried once.
    pub async fn login(&self, server_url: &str, opts: &AuthOptions) -> Result<LoginOutcome> {
        self.login_inner(server_url, opts, Retry::default()).await
    }

    async fn login_inner(
        &self,
        server_url: &str,
        opts: &AuthOptions,
        mut retry: Retry,
    ) -> Result<LoginOutcome> {
        for attempt in 0..2 {
            let req = self.begin(server_url, opts, retry.clone()).await?;
            let Some(callback) = self
                .host
                .authorize(&req.authorization_url, &req.redirect_uri)
                .await?
            else {
                return Ok(LoginOutcome::Redirected);
            };
            match self.complete_login(&callback).await {
                Err(e)
                    if attempt == 0
                        && is_oauth_error(&e, "invalid_client")
                        && opts.client_id.is_none() =>
                {
                    retry.fresh = true;
                    continue;
                }
                other => return other.map(LoginOutcome::Completed),
            }
        }
        Err(Error::Invalid("login failed twice".into()))
    }

    // ---- tokens ----

    fn local_lock(&self, identity: &str) -> LocalLock {
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(identity.to_string()).or_default().clone()
    }

    /// A valid access token for the server: the stored one, or a refreshed one when it expires
    /// within the skew. Never opens a browser.
    pub async fn access_token(&self, server_url: &str) -> Result<AccessToken> {
        Ok(self.valid_record(server_url).await?.access_token)
    }

    /// The stored record, refreshed first if it is about to expire.
    pub async fn valid_record(&self, server_url: &str) -> Result<TokenRecord> {
        let identity = identity(server_url)?;
        let record = self
            .token_record(&identity)
            .await?
            .ok_or_else(|| Error::LoginRequired {
                identity: identity.clone(),
            })?;
        if !record.expires_within(self.host.now(), self.refresh_skew) {
            return Ok(record);
        }
        self.refresh(&identity, None).await
    }

    /// Refreshes the identity's tokens. With `failed`, the caller saw that access token
    /// rejected and a refresh happens even if it has not expired, unless another caller has
    /// already replaced it. Holds the in-process lock and the host's lock, and re-reads the
    /// store inside them before spending the refresh token.
    pub async fn refresh(
        &self,
        identity: &str,
        failed: Option<&AccessToken>,
    ) -> Result<TokenRecord> {
        let local = self.local_lock(identity);
        let _local = local.lock().await;
        let _host = self.host.lock(&format!("refresh:{identity}")).await?;
        let key = tokens_key(identity);
        let record: TokenRecord = self.read(&key).await?.ok_or_else(|| Error::LoginRequired {
            identity: identity.to_string(),
        })?;
        let now = self.host.now();
        match failed {
            Some(f) if &record.access_token != f => return Ok(record),
            None if !record.expires_within(now, self.refresh_skew) => return Ok(record),
            _ => {}
        }
        let Some(refresh_token) = record.refresh_token.clone() else {
            return Err(Error::ReauthenticationRequired {
                identity: identity.to_string(),
            });
        };
        let (disc, _) = self.discover(&record.resource, None, u64::MAX).await?;
        let client = self.client_for(&record).await?;
        let req = oauth::refresh_token_request(
            &disc.authorization_server.token_endpoint,
            &client,
            &refresh_token,
            (!disc.fixed).then_some(record.resource.as_str()),
        );
        let resp = self.host.send(req).await?;
        match oauth::parse_token_response(&resp, now, record.scope.as_deref()) {
            Ok(grant) => {
                let new = grant.into_record(
                    identity,
                    &record.resource,
                    &record.issuer,
                    &record.client_id,
                    now,
                    Some(refresh_token),
                );
                // persisted before anyone sees the new access token
                self.write(&key, &new).await?;
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
                    self.delete(&client_key(identity, &record.issuer)).await?;
                }
                Err(Error::ReauthenticationRequired {
                    identity: identity.to_string(),
                })
            }
            Err(e) => Err(e), // network errors and 5xx keep the stored tokens
        }
    }

    /// Sends an MCP HTTP request with the bearer token. A 401 refreshes once, then logs in
    /// again (if `opts.interactive`); a 403 `insufficient_scope` re-authorizes with the union
    /// of the scopes held and challenged, at most [`MAX_STEP_UPS`] times.
    pub async fn authorized_request(
        &self,
        server_url: &str,
        request: HttpRequest,
        opts: &AuthOptions,
    ) -> Result<HttpResponse> {
        let identity = identity(server_url)?;
        let mut record = match self.valid_record(server_url).await {
            Ok(r) => r,
            Err(e @ (Error::LoginRequired { .. } | Error::ReauthenticationRequired { .. })) => {
                if !opts.interactive {
                    return Err(e);
                }
                self.login_and_read(server_url, opts, Retry::default())
                    .await?
            }
            Err(e) => return Err(e),
        };
        let mut refreshed = false;
        let mut relogged = false;
        let mut step_ups = 0;
        loop {
            let mut req = request.clone();
            req.set_header(
                "authorization",
                format!("Bearer {}", record.access_token.secret()),
            );
            let resp = self.host.send(req).await?;
            let challenge = bearer(resp.header_all("www-authenticate"));
            match resp.status {
                401 => {
                    if !refreshed {
                        refreshed = true;
                        match self.refresh(&identity, Some(&record.access_token)).await {
                            Ok(r) => {
                                record = r;
                                continue;
                            }
                            Err(
                                Error::ReauthenticationRequired { .. }
                                | Error::LoginRequired { .. },
                            ) => {}
                            Err(e) => return Err(e),
                        }
                    }
                    if relogged {
                        return Err(Error::Unauthorized { status: 401 });
                    }
                    if !opts.interactive {
                        return Err(Error::ReauthenticationRequired { identity });
                    }
                    relogged = true;
                    record = self
                        .login_and_read(
                            server_url,
                            opts,
                            Retry {
                                challenge,
                                scope: None,
                                fresh: true,
                            },
                        )
                        .await?;
                }
                403 if challenge.as_ref().and_then(|c| c.error.as_deref())
                    == Some("insufficient_scope") =>
                {
                    let wanted = challenge
                        .as_ref()
                        .and_then(|c| c.scope.clone())
                        .unwrap_or_default();
                    if step_ups >= MAX_STEP_UPS || !opts.interactive {
                        return Err(Error::StepUpExhausted {
                            attempts: step_ups,
                            scope: wanted,
                        });
                    }
                    step_ups += 1;
                    let union = join_scopes([record.scope.clone().unwrap_or_default(), wanted]);
                    record = self
                        .login_and_read(
                            server_url,
                            opts,
                            Retry {
                                challenge,
                                scope: union,
                                fresh: false,
                            },
                        )
                        .await?;
                }
                _ => return Ok(resp),
            }
        }
    }

    pub(crate) async fn login_and_read(
        &self,
        server_url: &str,
        opts: &AuthOptions,
        retry: Retry,
    ) -> Result<TokenRecord> {
        match self.login_inner(server_url, opts, retry).await? {
            LoginOutcome::Completed(info) => {
                self.token_record(&info.identity)
                    .await?
                    .ok_or(Error::LoginRequired {
                        identity: info.identity,
                    })
            }
            LoginOutcome::Redirected => Err(Error::Redirected),
        }
    }

    // ---- status and logout ----

    /// Every stored identity with its token state. Reads only.
    pub async fn status(&self) -> Result<Vec<TokenStatus>> {
        let idx = self.index().await?;
        let mut out = Vec::new();
        for identity in idx.identities() {
            out.push(self.token_status(&identity).await?);
        }
        Ok(out)
    }

    pub async fn token_status(&self, identity: &str) -> Result<TokenStatus> {
        let now = self.host.now();
        let mut st = TokenStatus {
            identity: identity.to_string(),
            present: false,
            expired: false,
            expires_at: None,
            scope: None,
            issuer: None,
            has_refresh_token: false,
            problem: None,
        };
        match self.token_record(identity).await {
            Ok(Some(r)) => {
                st.present = true;
                st.expired = r.expires_within(now, 0);
                st.expires_at = r.expires_at;
                st.scope = r.scope;
                st.issuer = Some(r.issuer);
                st.has_refresh_token = r.refresh_token.is_some();
            }
            Ok(None) => {}
            Err(e @ Error::CorruptRecord { .. }) => st.problem = Some(e.to_string()),
            Err(e) => return Err(e),
        }
        Ok(st)
    }

    /// Revokes the identity's tokens at the authorization server when it offers revocation
    /// (RFC 7009; refresh token first, which ends the grant), then deletes the token record
    /// and, with `forget_client`, the client registrations and cached discovery too.
    pub async fn logout(&self, identity_url: &str, forget_client: bool) -> Result<LogoutReport> {
        let identity = identity(identity_url)?;
        let mut report = LogoutReport {
            identity: identity.clone(),
            ..Default::default()
        };
        match self.token_record(&identity).await {
            Ok(Some(record)) => self.revoke(&record, &mut report).await,
            Ok(None) => {}
            Err(e) => report.revocation_notes.push(format!(
                "the stored tokens were unreadable ({e}); deleted without revoking"
            )),
        }
        let idx = self.index().await?;
        let mut keys = vec![tokens_key(&identity)];
        if forget_client {
            keys.extend(idx.keys_of(&identity));
        }
        keys.sort();
        keys.dedup();
        for key in keys {
            let existed = idx.keys.contains(&key) || self.host.load(&key).await?.is_some();
            self.delete(&key).await?;
            if existed {
                report.deleted_keys.push(key);
            }
        }
        Ok(report)
    }

    async fn revoke(&self, record: &TokenRecord, report: &mut LogoutReport) {
        let disc = match self.discover(&record.resource, None, u64::MAX).await {
            Ok((d, _)) => d,
            Err(e) => {
                report.revocation_notes.push(format!(
                    "could not reach the authorization server to revoke ({e})"
                ));
                return;
            }
        };
        let Some(endpoint) = disc.authorization_server.revocation_endpoint.clone() else {
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
                Ok(r) => report.revocation_notes.push(format!(
                    "revoking the {hint} failed: {}",
                    oauth::endpoint_error(&r)
                )),
                Err(e) => report
                    .revocation_notes
                    .push(format!("revoking the {hint} failed: {}", Error::from(e))),
            }
        }
    }
}

fn is_oauth_error(e: &Error, code: &str) -> bool {
    matches!(e, Error::TokenEndpoint { error, .. } if error == code)
}
