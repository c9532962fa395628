//! The client and its login: options, client identity (configured, CIMD, DCR), the
//! authorization request and the callback. Discovery is in `discover`, stored tokens and
//! refresh in `tokens`, authorized requests in `request`.

use crate::error::{Error, Result};
use crate::host::Host;
use crate::metadata::AuthServerMetadata;
use crate::oauth::{self, AuthorizationParams, TokenBinding};
use crate::pkce;
use crate::records::{
    client_key, decode, discovery_key, encode, join_scopes, pending_key, tokens_key,
    ClientAuthMethod, ClientRecord, ClientSource, DiscoveryRecord, Index, PendingLogin,
    TokenRecord, INDEX_KEY, RECORD_VERSION,
};
use crate::secret::ClientSecret;
use crate::sorted::{SortedMap, SortedSet};
use crate::urls::{identity, parse_http_url, require_secure, resource_uri, secure_url};
use crate::www_authenticate::BearerChallenge;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// Refresh this many seconds before the access token expires.
pub const DEFAULT_REFRESH_SKEW: u64 = 60;
/// A pending login older than this is refused.
pub const PENDING_LOGIN_TTL: u64 = 15 * 60;
/// Cached discovery is used for this long.
pub const DISCOVERY_TTL: u64 = 24 * 3600;
/// Authorization requests (first login, re-login, step-ups) allowed for one operation.
pub const MAX_AUTHORIZATIONS: u32 = 3;
/// Kept for callers of the earlier name: the same cap.
pub const MAX_STEP_UPS: u32 = MAX_AUTHORIZATIONS;
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
    /// The issuer a pre-registered client belongs to. Without it, the client is bound to the
    /// issuer of its first completed login and refused with any other.
    pub issuer: Option<String>,
    /// Send the RFC 8707 `resource` parameter (default). Off only for authorization servers
    /// that refuse it (e.g. Microsoft Entra ID with v2 scopes).
    pub send_resource: bool,
    /// Take an authorization server that does not list `code_challenge_methods_supported`
    /// as supporting S256 (off by default; a list without S256 is still refused).
    pub assume_pkce_s256: bool,
    /// How tokens are obtained: the browser login (default), or a grant that needs no
    /// browser (client credentials, JWT bearer, enterprise token exchange; see `grants`).
    pub grant: crate::grants::Grant,
    /// The private key of a `private_key_jwt` client (RFC 7523 client authentication).
    pub client_key: Option<crate::jose::SigningKey>,
    /// DPoP-bound tokens (RFC 9449): `Auto` when the authorization server offers them.
    pub dpop: crate::dpop::DpopMode,
}

impl AuthOptions {
    /// One line for each escape hatch these options turn on (hosts print them whenever
    /// they are used).
    pub fn escape_hatch_warnings(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if !self.send_resource {
            out.push("warning: the RFC 8707 resource parameter is not sent (send_resource: false); tokens are not bound to this server by the authorization server");
        }
        if self.assume_pkce_s256 {
            out.push("warning: PKCE S256 is assumed for an authorization server that does not advertise it (assume_pkce_s256: true)");
        }
        out
    }
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
            issuer: None,
            send_resource: true,
            assume_pkce_s256: false,
            grant: crate::grants::Grant::AuthorizationCode,
            client_key: None,
            dpop: crate::dpop::DpopMode::Auto,
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    pub identity: String,
    pub resource: String,
    pub issuer: String,
    pub client_id: String,
    pub scope: Option<String>,
    pub expires_at: Option<u64>,
    pub has_refresh_token: bool,
    /// The grant that obtained the tokens when it was not the browser login.
    pub flow: Option<String>,
    /// The access token is DPoP-bound (useless without the identity's key).
    pub dpop_bound: bool,
}

crate::json_struct!(TokenInfo {
    identity,
    resource,
    issuer,
    client_id,
    scope,
    expires_at,
    has_refresh_token,
    flow,
    dpop_bound,
});

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
            flow: r.flow.clone(),
            dpop_bound: r.is_dpop_bound(),
        }
    }
}

#[derive(Clone, Debug)]
pub enum LoginOutcome {
    Completed(TokenInfo),
    /// The host navigated away (full-page redirect); finish with `complete_login`.
    Redirected,
}

/// One stored token record (an identity and one of its resources), as `status` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenStatus {
    pub identity: String,
    /// The resource the tokens are for (`None` when nothing is stored).
    pub resource: Option<String>,
    pub present: bool,
    pub expired: bool,
    pub expires_at: Option<u64>,
    pub scope: Option<String>,
    pub issuer: Option<String>,
    pub has_refresh_token: bool,
    /// The grant that obtained the tokens when it was not the browser login
    /// (`client_credentials`, `jwt_bearer`, `token_exchange`).
    pub flow: Option<String>,
    /// The access token is DPoP-bound (RFC 9449).
    pub dpop_bound: bool,
    /// Set when the record exists but cannot be read.
    pub problem: Option<String>,
}

crate::json_struct!(TokenStatus {
    identity,
    resource,
    present,
    expired,
    expires_at,
    scope,
    issuer,
    has_refresh_token,
    flow,
    dpop_bound,
    problem,
});

impl TokenStatus {
    /// Nothing stored (yet): the fields a present record fills in are empty.
    pub(crate) fn absent(identity: String, resource: Option<String>) -> Self {
        TokenStatus {
            identity,
            resource,
            present: false,
            expired: false,
            expires_at: None,
            scope: None,
            issuer: None,
            has_refresh_token: false,
            flow: None,
            dpop_bound: false,
            problem: None,
        }
    }
}

/// What `logout` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogoutReport {
    pub identity: String,
    /// Token kinds revoked at the authorization server (`refresh_token`, `access_token`).
    pub revoked: Vec<String>,
    /// Why a revocation did not happen or failed (the local delete still happened).
    pub revocation_notes: Vec<String>,
    pub deleted_keys: Vec<String>,
}

crate::json_struct!(LogoutReport {
    identity,
    revoked,
    revocation_notes,
    deleted_keys,
});

/// The text stored under a key (see [`McpAuth::stored`]).
pub(crate) struct Stored<'k> {
    key: &'k str,
    text: Option<String>,
}

impl Stored<'_> {
    /// The record, `None` when nothing is stored.
    pub(crate) fn decode<T: crate::records::Record>(self) -> Result<Option<T>> {
        match self.text {
            Some(text) => decode(self.key, &text).map(Some),
            None => Ok(None),
        }
    }
}

type LocalLock = Arc<futures_util::lock::Mutex<()>>;

/// Why a login happens, beyond the options: what a 401 or 403 said, and whether cached
/// discovery may be used.
#[derive(Clone, Default)]
pub(crate) struct Retry {
    /// The challenge of the response that asked for the login.
    pub(crate) challenge: Option<BearerChallenge>,
    /// A scope that replaces the usual choice (step-up: the union of requested and
    /// challenged).
    pub(crate) scope: Option<String>,
    /// Discover again instead of trusting the cache.
    pub(crate) fresh: bool,
}

/// The MCP OAuth client over a host.
pub struct McpAuth<H: Host> {
    pub(crate) host: H,
    pub(crate) refresh_skew: u64,
    pub(crate) locks: Mutex<SortedMap<LocalLock>>,
    pub(crate) unsaved: crate::unsaved::Unsaved,
    pub(crate) nonces: crate::dpop::Nonces,
    /// Identities whose DPoP key this process has seen listed in the index.
    pub(crate) dpop_indexed: Mutex<SortedSet>,
    /// When this client last looked for stale pending logins (host clock, seconds).
    pub(crate) pruned_at: Mutex<Option<u64>>,
}

impl<H: Host> McpAuth<H> {
    pub fn new(host: H) -> Self {
        McpAuth {
            host,
            refresh_skew: DEFAULT_REFRESH_SKEW,
            locks: Mutex::new(SortedMap::new()),
            unsaved: Default::default(),
            nonces: Default::default(),
            dpop_indexed: Default::default(),
            pruned_at: Default::default(),
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

    /// What is stored under `key`, to be decoded as a record type by [`Stored::decode`]:
    /// `self.stored(key).await.and_then(Stored::decode::<T>)`. Only the decoding is generic:
    /// one state machine for every record type, and no future adapter per type.
    /// A refreshed record the store would not take wins over the store (see `unsaved`).
    pub(crate) async fn stored<'k>(&self, key: &'k str) -> Result<Stored<'k>> {
        let text = match self.unsaved.get(key) {
            Some(text) => Some(text),
            None => self.host.load(key).await?,
        };
        Ok(Stored { key, text })
    }

    /// Stores `record` under `key`. Only the encoding is generic: the record is encoded before
    /// the (one) future is made, so each record type adds no state machine.
    pub(crate) fn write<'a, T: crate::json::ToJson>(
        &'a self,
        key: &'a str,
        record: &T,
    ) -> impl std::future::Future<Output = Result<()>> + 'a {
        self.write_text(key, encode(record))
    }

    async fn write_text(&self, key: &str, text: String) -> Result<()> {
        self.host.save(key, &text).await?;
        self.unsaved.forget(key);
        if key != INDEX_KEY {
            self.update_index(&|idx| idx.keys.insert(key.to_string()))
                .await?;
        }
        Ok(())
    }

    pub(crate) async fn delete(&self, key: &str) -> Result<()> {
        self.host.remove(key).await?;
        self.unsaved.forget(key);
        self.update_index(&|idx| idx.keys.remove(key)).await
    }

    /// Read-modify-write of the index under the host's lock, so parallel processes do not
    /// lose each other's keys. Rewriting a key the index already lists (every refresh) takes
    /// no lock at all, so the refresh critical section never holds two locks.
    pub(crate) async fn update_index(&self, change: &dyn Fn(&mut Index) -> bool) -> Result<()> {
        if !change(&mut self.index().await?) {
            return Ok(());
        }
        let local = self.local_lock(INDEX_KEY);
        let _local = local.lock().await;
        let _host = self.host.lock(INDEX_KEY).await?;
        let mut idx = self.index().await?;
        if change(&mut idx) {
            idx.version = RECORD_VERSION;
            self.host.save(INDEX_KEY, &encode(&idx)).await?;
        }
        Ok(())
    }

    /// The index of stored keys (an unreadable index is rebuilt empty rather than blocking).
    pub async fn index(&self) -> Result<Index> {
        match self
            .stored(INDEX_KEY)
            .await
            .and_then(Stored::decode::<Index>)
        {
            Ok(i) => Ok(i.unwrap_or_default()),
            Err(e) if matches!(*e, Error::CorruptRecord { .. }) => Ok(Index::default()),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn local_lock(&self, name: &str) -> LocalLock {
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        map.or_insert(name.to_string(), LocalLock::default())
            .clone()
    }

    // ---- client identity ----

    /// The client to use with `meta`'s issuer: configured → Client ID Metadata Document →
    /// a stored dynamic registration → a new registration. Every client is bound to one exact
    /// issuer; a configured client's secret never goes to an issuer it was not bound to.
    async fn resolve_client(
        &self,
        identity: &str,
        meta: &AuthServerMetadata,
        opts: &AuthOptions,
        scope: Option<&str>,
    ) -> Result<ClientRecord> {
        let issuer = meta.issuer.clone();
        let key = client_key(identity, &issuer);
        if let Some(id) = &opts.client_id {
            self.check_configured_issuer(identity, id, &issuer, opts)
                .await?;
            let method = oauth::choose_auth_method(
                opts.client_auth_method,
                opts.client_secret.is_some(),
                meta,
            );
            if method != ClientAuthMethod::None && opts.client_secret.is_none() {
                return Err(Error::Invalid(format!(
                    "client {id} uses {} but no client_secret is configured",
                    method.as_str()
                ))
                .boxed());
            }
            // stored (and so bound to this issuer) only when a login with it completes
            return Ok(ClientRecord {
                version: RECORD_VERSION,
                issuer,
                client_id: id.clone(),
                client_secret: opts.client_secret.clone(),
                auth_method: method,
                source: ClientSource::Configured,
                redirect_uris: vec![opts.redirect_uri.clone()],
                registered_at: None,
            });
        }
        if let Some(url) = &opts.client_metadata_url {
            oauth::check_client_metadata_url(url)?;
            if meta.client_id_metadata_document_supported {
                return Ok(ClientRecord {
                    version: RECORD_VERSION,
                    issuer,
                    client_id: url.clone(),
                    client_secret: None,
                    auth_method: ClientAuthMethod::None,
                    source: ClientSource::MetadataDocument,
                    redirect_uris: vec![opts.redirect_uri.clone()],
                    registered_at: None,
                });
            }
        }
        if let Ok(Some(rec)) = self
            .stored(&key)
            .await
            .and_then(Stored::decode::<ClientRecord>)
        {
            if rec.source == ClientSource::Dynamic
                && rec.issuer == issuer
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
            }
            .boxed());
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

    /// A pre-registered client belongs to the configured issuer, else to the issuer of its
    /// first completed login (recorded as a configured client record under that issuer).
    pub(crate) async fn check_configured_issuer(
        &self,
        identity: &str,
        client_id: &str,
        issuer: &str,
        opts: &AuthOptions,
    ) -> Result<()> {
        let refuse = |expected: &str| Error::ConfiguredClientIssuer {
            client_id: client_id.to_string(),
            expected: expected.to_string(),
            found: issuer.to_string(),
        };
        if let Some(expected) = &opts.issuer {
            return if expected == issuer {
                Ok(())
            } else {
                Err(refuse(expected).boxed())
            };
        }
        let prefix = format!("client:{identity}|");
        let idx = self.index().await?;
        for key in idx.keys.iter() {
            if !key.starts_with(&prefix) {
                continue;
            }
            if let Ok(Some(rec)) = self
                .stored(key)
                .await
                .and_then(Stored::decode::<ClientRecord>)
            {
                if rec.source == ClientSource::Configured
                    && rec.client_id == client_id
                    && rec.issuer != issuer
                {
                    return Err(refuse(&rec.issuer).boxed());
                }
            }
        }
        Ok(())
    }

    /// The client a token record was issued to, at the record's issuer only. A record
    /// without a matching client (e.g. deleted) is treated as a public client.
    pub(crate) async fn client_for(&self, record: &TokenRecord) -> Result<ClientRecord> {
        match self
            .stored(&client_key(&record.identity, &record.issuer))
            .await
            .and_then(Stored::decode::<ClientRecord>)?
        {
            Some(c) if c.client_id == record.client_id && c.issuer == record.issuer => Ok(c),
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
    ///
    /// (This and [`McpAuth::login`] return their inner flow's future as it is: an `async fn`
    /// around it would be one more state machine in the wasm build.)
    pub fn begin_login<'a>(
        &'a self,
        server_url: &'a str,
        opts: &'a AuthOptions,
    ) -> impl Future<Output = Result<AuthorizationRequest>> + 'a {
        self.begin(server_url, opts, Retry::default())
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
        let (disc, challenge) = self
            .discovery_for(server_url, opts, challenge, fresh, opts.assume_pkce_s256)
            .await?;
        let meta = &disc.authorization_server;
        let dpop = crate::dpop::use_dpop(opts.dpop, meta)?;
        let scope =
            scope_override.or_else(|| self.choose_scope(opts, challenge.as_ref(), &disc, true));
        let client = self
            .resolve_client(&identity, meta, opts, scope.as_deref())
            .await?;
        let verifier = pkce::new_verifier()?;
        let state = pkce::new_state()?;
        let send_resource = !disc.fixed && opts.send_resource;
        let url = oauth::authorization_url(&AuthorizationParams {
            authorization_endpoint: &meta.authorization_endpoint,
            client_id: &client.client_id,
            redirect_uri: &opts.redirect_uri,
            state: &state,
            code_challenge: &pkce::challenge_s256(&verifier),
            resource: send_resource.then_some(disc.resource.as_str()),
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
            revocation_endpoint: meta.revocation_endpoint.clone(),
            iss_required: meta.authorization_response_iss_parameter_supported,
            fixed: !send_resource,
            dpop,
            created_at: self.host.now(),
            discovery: (!disc.fixed).then_some(disc),
        };
        // housekeeping only: a store that cannot prune fails the write below anyway
        let _ = self.prune_stale_pending().await;
        self.write(&pending_key(&state), &pending).await?;
        Ok(AuthorizationRequest {
            authorization_url: url,
            redirect_uri: opts.redirect_uri.clone(),
            state,
            identity,
        })
    }

    /// What discovery says for a server: the configured authorization server, else the cache
    /// (unless `fresh`, and only when it names the configured issuer), else discovery itself.
    pub(crate) async fn discovery_for(
        &self,
        server_url: &str,
        opts: &AuthOptions,
        challenge: Option<BearerChallenge>,
        fresh: bool,
        assume_s256: bool,
    ) -> Result<(DiscoveryRecord, Option<BearerChallenge>)> {
        if let Some(meta) = &opts.fixed_server {
            return Ok((self.fixed_discovery(server_url, meta)?, challenge));
        }
        let cached = if fresh {
            None
        } else {
            // a cache naming another issuer than the configured one is stale
            self.cached_discovery(server_url, DISCOVERY_TTL)
                .await?
                .filter(|d| {
                    opts.issuer
                        .as_ref()
                        .is_none_or(|i| i == &d.authorization_server.issuer)
                })
        };
        match cached {
            Some(rec) => Ok((rec, challenge)),
            None => self.discover(server_url, challenge, assume_s256).await,
        }
    }

    /// A discovery record for a server whose authorization server is known in advance
    /// (no discovery requests, no `resource` parameter).
    fn fixed_discovery(
        &self,
        server_url: &str,
        meta: &AuthServerMetadata,
    ) -> Result<DiscoveryRecord> {
        secure_url(&meta.authorization_endpoint)?;
        secure_url(&meta.token_endpoint)?;
        Ok(DiscoveryRecord {
            version: RECORD_VERSION,
            resource: resource_uri(server_url)?,
            protected_resource: None,
            authorization_server: meta.clone(),
            metadata_url: None,
            fixed: true,
            fetched_at: self.host.now(),
        })
    }

    /// Scope choice (MCP 2025-11-25): configured, else the challenge's, else the protected
    /// resource's `scopes_supported`, else none; `offline_access` added (with `offline`) only
    /// when the authorization server lists it.
    pub(crate) fn choose_scope(
        &self,
        opts: &AuthOptions,
        challenge: Option<&BearerChallenge>,
        disc: &DiscoveryRecord,
        offline: bool,
    ) -> Option<String> {
        if let Some(s) = opts.scope.as_deref().filter(|s| !s.trim_ascii().is_empty()) {
            return join_scopes(&[s]);
        }
        let base = challenge.and_then(|c| c.scope.clone()).or_else(|| {
            disc.protected_resource
                .as_ref()
                .and_then(|p| p.scopes_supported.as_ref())
                .map(|s| crate::text::join(s, " "))
        });
        let base = base?;
        let offline = offline && disc.authorization_server.supports_scope("offline_access");
        // an empty list adds nothing
        join_scopes(&[&base, if offline { "offline_access" } else { "" }])
    }

    /// Finishes a login from the redirect URL: checks it, exchanges the code, stores the tokens
    /// (bound to the issuer and endpoints they came from), and only then caches what discovery
    /// found and binds a configured client to this issuer.
    pub async fn complete_login(&self, callback_url: &str) -> Result<TokenInfo> {
        let state = oauth::query_param(callback_url, "state").ok_or(Error::StateMismatch)?;
        let key = pending_key(&state);
        let pending: PendingLogin = self
            .stored(&key)
            .await
            .and_then(Stored::decode)?
            .ok_or(Error::StateMismatch)?;
        let now = self.host.now();
        if now.saturating_sub(pending.created_at) > PENDING_LOGIN_TTL {
            self.delete(&key).await?;
            return Err(Error::NoPendingLogin.boxed());
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
        let (resp, jkt) = self
            .send_token_request(&pending.identity, req, pending.dpop)
            .await?;
        let grant = match oauth::parse_token_response(&resp, now, pending.scope.as_deref())
            .and_then(|g| g.bind(jkt))
        {
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
            &TokenBinding {
                identity: &pending.identity,
                resource: &pending.resource,
                issuer: &pending.issuer,
                client_id: &pending.client.client_id,
                token_endpoint: &pending.token_endpoint,
                revocation_endpoint: pending.revocation_endpoint.as_deref(),
                send_resource: !pending.fixed,
                requested_scope: pending.scope.as_deref(),
            },
            now,
            None,
        );
        self.write(&tokens_key(&pending.identity, &pending.resource), &record)
            .await?;
        if pending.client.source != ClientSource::Dynamic {
            self.write(
                &client_key(&pending.identity, &pending.issuer),
                &pending.client,
            )
            .await?;
        }
        if let Some(disc) = &pending.discovery {
            let server_resource = resource_uri(&pending.server_url)?;
            self.write(&discovery_key(&server_resource), disc).await?;
        }
        Ok(TokenInfo::from(&record))
    }

    /// The whole login: prepare, let the host take the user through the browser, finish.
    /// A stale dynamic registration is dropped and registration retried once.
    pub fn login<'a>(
        &'a self,
        server_url: &'a str,
        opts: &'a AuthOptions,
    ) -> impl Future<Output = Result<LoginOutcome>> + 'a {
        self.login_inner(server_url, opts, Retry::default())
    }

    pub(crate) async fn login_inner(
        &self,
        server_url: &str,
        opts: &AuthOptions,
        mut retry: Retry,
    ) -> Result<LoginOutcome> {
        if !opts.grant.uses_browser() {
            // no browser: the configured grant obtains the tokens
            return self
                .grant_login(server_url, opts, retry, None)
                .await
                .map(LoginOutcome::Completed);
        }
        for attempt in 0..2 {
            let req = self.begin(server_url, opts, retry.clone()).await?;
            let authorized = self
                .host
                .authorize(&req.authorization_url, &req.redirect_uri)
                .await;
            if authorized.is_err() {
                self.abandon_pending(&req.state).await;
            }
            let Some(callback) = authorized? else {
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
        Err(Error::Invalid("login failed twice".into()).boxed())
    }
}

pub(crate) fn is_oauth_error(e: &Error, code: &str) -> bool {
    matches!(e, Error::TokenEndpoint { error, .. } if error == code)
}
