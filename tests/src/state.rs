//! The servers' shared state: clients, codes, grants, tokens, the request log.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use crate::protocol::{LineEnd, Protocol};
use crate::scenario::Scenario;
use crate::util::unix_now;

/// How a client authenticates at the token and revocation endpoints.
/// The client id of OpenAI's Codex CLI, pre-registered here.
pub const CODEX_CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";

/// The ChatGPT account id the testkit puts into Codex id_tokens.
pub const CODEX_ACCOUNT_ID: &str = "acct_testkit_0001";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    None,
    ClientSecretBasic,
    ClientSecretPost,
}

impl AuthMethod {
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
        }
    }

    pub fn parse(s: &str) -> Option<AuthMethod> {
        match s {
            "none" => Some(AuthMethod::None),
            "client_secret_basic" => Some(AuthMethod::ClientSecretBasic),
            "client_secret_post" => Some(AuthMethod::ClientSecretPost),
            _ => None,
        }
    }
}

/// A client known to the authorization server, e.g. one a test registers up front.
#[derive(Debug, Clone)]
pub struct StaticClient {
    pub client_id: String,
    /// Required for the secret-based methods.
    pub client_secret: Option<String>,
    pub auth_method: AuthMethod,
    pub redirect_uris: Vec<String>,
    pub client_name: Option<String>,
}

impl StaticClient {
    /// A public client (`token_endpoint_auth_method` = `none`).
    pub fn public(client_id: &str, redirect_uris: &[&str]) -> StaticClient {
        StaticClient {
            client_id: client_id.to_string(),
            client_secret: None,
            auth_method: AuthMethod::None,
            redirect_uris: redirect_uris.iter().map(|s| s.to_string()).collect(),
            client_name: None,
        }
    }

    /// A confidential client using `method` with `secret`.
    pub fn confidential(
        client_id: &str,
        secret: &str,
        method: AuthMethod,
        redirect_uris: &[&str],
    ) -> StaticClient {
        StaticClient {
            client_id: client_id.to_string(),
            client_secret: Some(secret.to_string()),
            auth_method: method,
            redirect_uris: redirect_uris.iter().map(|s| s.to_string()).collect(),
            client_name: None,
        }
    }
}

/// The stored registration of a client.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub auth_method: AuthMethod,
    pub redirect_uris: Vec<String>,
    pub client_name: Option<String>,
    pub grant_types: Vec<String>,
    pub issued_at: u64,
    /// Accepted as a Client ID Metadata Document URL (any loopback redirect).
    pub cimd: bool,
}

impl From<StaticClient> for Client {
    fn from(c: StaticClient) -> Client {
        Client {
            client_id: c.client_id,
            client_secret: c.client_secret,
            auth_method: c.auth_method,
            redirect_uris: c.redirect_uris,
            client_name: c.client_name,
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            issued_at: unix_now(),
            cimd: false,
        }
    }
}

impl Client {
    pub fn display_name(&self) -> &str {
        self.client_name.as_deref().unwrap_or(&self.client_id)
    }

    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }
}

/// A validated authorization request, waiting for the user (consent) or turned into a code.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub resource: String,
    pub scope: Vec<String>,
    pub state: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AuthCode {
    pub req: AuthRequest,
    pub expires: Instant,
    pub used: bool,
    /// The grant issued from this code, once it was exchanged.
    pub grant: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Grant {
    pub scope: Vec<String>,
    pub resource: String,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub struct AccessToken {
    pub grant: u64,
    pub client_id: String,
    pub scope: Vec<String>,
    pub resource: String,
    pub expires: Instant,
    pub revoked: bool,
    /// `cnf.jkt`: the thumbprint of the DPoP key the token is bound to.
    pub jkt: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshState {
    Active,
    Rotated,
    Revoked,
}

#[derive(Debug, Clone)]
pub struct RefreshToken {
    pub grant: u64,
    pub client_id: String,
    pub state: RefreshState,
    /// A public client's refresh token is bound to the DPoP key of the request that got it.
    pub jkt: Option<String>,
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// `"rs"` for the resource server's listener, `"as"` for the separate authorization
    /// server listener (only in scenarios where the AS has its own origin), `"second"` for
    /// the second origin of the hostile-server scenarios.
    pub server: &'static str,
    /// `http://127.0.0.1:PORT` of the listener that got the request.
    pub origin: String,
    /// The scheme of the `Authorization` header (`"Bearer"`, `"Basic"`), never its value.
    pub auth_scheme: Option<String>,
    /// Names of the fields of an `application/x-www-form-urlencoded` body, in order.
    pub form_fields: Vec<String>,
    /// The `grant_type` form field, when there is one.
    pub grant_type: Option<String>,
}

impl LoggedRequest {
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    fn scheme_is(&self, scheme: &str) -> bool {
        self.auth_scheme
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    }

    /// The request carried a bearer token.
    pub fn has_bearer(&self) -> bool {
        self.scheme_is("bearer")
    }

    /// The request carried a client secret (HTTP Basic or a `client_secret` form field).
    pub fn carries_client_secret(&self) -> bool {
        self.scheme_is("basic") || self.form_fields.iter().any(|f| f == "client_secret")
    }

    /// The request carried a refresh token (a `refresh_token` form field, or a revocation of
    /// one: any `token` form field counts).
    pub fn carries_refresh_token(&self) -> bool {
        self.form_fields
            .iter()
            .any(|f| f == "refresh_token" || f == "token")
    }

    /// A JSON view for the admin endpoint.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "server": self.server,
            "origin": self.origin,
            "auth_scheme": self.auth_scheme,
            "bearer": self.has_bearer(),
            "client_secret": self.carries_client_secret(),
            "refresh_token": self.carries_refresh_token(),
            "form_fields": self.form_fields,
            "grant_type": self.grant_type,
        })
    }
}

/// Everything mutable, behind one mutex (never held across an await).
#[derive(Default)]
pub struct Inner {
    pub clients: HashMap<String, Client>,
    pub codes: HashMap<String, AuthCode>,
    pub pending: HashMap<String, AuthRequest>,
    pub grants: HashMap<u64, Grant>,
    pub next_grant: u64,
    pub access: HashMap<String, AccessToken>,
    pub refresh: HashMap<String, RefreshToken>,
    pub log: Vec<LoggedRequest>,
    pub revoked: usize,
    pub mcp_sessions: HashMap<String, ()>,
    /// Admin switch: the RS answers 401 to every request.
    pub deny_all: bool,
    /// Admin switch: `POST /token` waits this long before it is handled (a slow AS, so a
    /// test can kill a client in the middle of a refresh). A client that goes away during
    /// the wait never reaches the grant: nothing is rotated for it.
    pub token_delay_ms: u64,
    /// Admin switch: the PRM names the second origin's AS instead of the first.
    pub switched: bool,
    /// Flip `switched` to true once this many more requests passed the bearer check.
    pub switch_after: Option<u64>,
    /// `scope-retry-limit`: how many step-up challenges were sent.
    pub step: u64,
    pub sse_sessions: HashMap<String, UnboundedSender<String>>,
    /// DPoP: every `jti` seen (a second use is a replay).
    pub dpop_jtis: HashSet<String>,
    /// DPoP: the nonce each server wants now (`dpop-nonce`).
    pub as_nonce: Option<String>,
    pub rs_nonce: Option<String>,
    /// DPoP: how many `use_dpop_nonce` challenges each server sent.
    pub as_nonce_challenges: u64,
    pub rs_nonce_challenges: u64,
    /// DPoP: the RS's next nonce, for the `DPoP-Nonce` header of the answer being built.
    pub rs_nonce_to_send: Option<String>,
    /// Every PKCE `code_verifier` received at `/token` (for tests that scan for leaks).
    pub verifiers_seen: Vec<String>,
    /// Keys, seen `jti`s and the identity provider of the grants without a browser.
    pub assertion_grants: crate::oauth::grants::GrantSetup,
    /// Canned answers replacing real handlers (bad-input tests).
    pub canned: Vec<crate::canned::Canned>,
}

impl Inner {
    /// Revoke a grant and every token issued under it.
    pub fn revoke_grant(&mut self, grant: u64) {
        if let Some(g) = self.grants.get_mut(&grant) {
            g.revoked = true;
        }
        for t in self.access.values_mut().filter(|t| t.grant == grant) {
            t.revoked = true;
        }
        for t in self.refresh.values_mut().filter(|t| t.grant == grant) {
            t.state = RefreshState::Revoked;
        }
    }

    /// Is this grant still alive?
    pub fn grant_active(&self, grant: u64) -> bool {
        self.grants.get(&grant).is_some_and(|g| !g.revoked)
    }
}

/// Fixed facts about a running server plus its mutable state.
pub struct Shared {
    pub scenario: Scenario,
    /// `http://127.0.0.1:PORT` of the resource server.
    pub base_url: String,
    /// Origin of the authorization server (same as `base_url` unless it has its own listener).
    pub as_origin: String,
    /// Path prefix of AS endpoints (`""` or `"/tenant1"`).
    pub as_prefix: String,
    pub token_lifetime: Duration,
    pub static_dir: Option<PathBuf>,
    pub protocol: Protocol,
    /// SSE answers with a priming event, with these line ends.
    pub priming: Option<LineEnd>,
    /// Origin of the second listener of the hostile-server scenarios.
    pub second_origin: Option<String>,
    /// The state of the second, legitimate AS (`as-migration`).
    pub second_as: Option<Ctx>,
    inner: Mutex<Inner>,
}

pub type Ctx = Arc<Shared>;

/// Everything [`Shared::new`] needs.
pub struct Setup {
    pub scenario: Scenario,
    pub base_url: String,
    pub as_origin: String,
    pub as_prefix: String,
    pub token_lifetime: Duration,
    pub static_dir: Option<PathBuf>,
    pub protocol: Protocol,
    pub priming: Option<LineEnd>,
    pub second_origin: Option<String>,
    pub second_as: Option<Ctx>,
}

impl Shared {
    pub fn new(setup: Setup) -> Shared {
        let Setup {
            scenario,
            base_url,
            as_origin,
            as_prefix,
            token_lifetime,
            static_dir,
            protocol,
            priming,
            second_origin,
            second_as,
        } = setup;
        let shared = Shared {
            scenario,
            base_url,
            as_origin,
            as_prefix,
            token_lifetime,
            static_dir,
            protocol,
            priming,
            second_origin,
            second_as,
            inner: Mutex::new(Inner {
                next_grant: 1,
                ..Inner::default()
            }),
        };
        let loopback = [
            "http://localhost:3030/callback",
            "http://127.0.0.1:3030/callback",
        ];
        shared.add_client(StaticClient {
            client_name: Some("Public test client".into()),
            ..StaticClient::public("public-client", &loopback)
        });
        shared.add_client(StaticClient {
            client_name: Some("Basic test client".into()),
            ..StaticClient::confidential(
                "basic-client",
                "basic-secret",
                AuthMethod::ClientSecretBasic,
                &loopback,
            )
        });
        shared.add_client(StaticClient {
            client_name: Some("Post test client".into()),
            ..StaticClient::confidential(
                "post-client",
                "post-secret",
                AuthMethod::ClientSecretPost,
                &loopback,
            )
        });
        // The OpenAI Codex (ChatGPT sign-in) public client, for `mcp-auth codex-login` tests
        // against `/oauth/authorize` and `/oauth/token`.
        shared.add_client(StaticClient {
            client_name: Some("Codex CLI".into()),
            ..StaticClient::public(CODEX_CLIENT_ID, &["http://localhost:1455/auth/callback"])
        });
        shared
    }

    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add_client(&self, c: StaticClient) {
        let c: Client = c.into();
        self.lock().clients.insert(c.client_id.clone(), c);
    }

    /// The issuer identifier (what PRM lists in `authorization_servers`).
    pub fn issuer(&self) -> String {
        format!("{}{}", self.as_origin, self.as_prefix)
    }

    /// The issuer value the metadata document claims.
    pub fn metadata_issuer(&self) -> String {
        if self.scenario == Scenario::IssuerMismatch {
            "https://other.example.com".to_string()
        } else {
            self.issuer()
        }
    }

    /// Full URL of an AS endpoint such as `/token`.
    pub fn as_endpoint(&self, path: &str) -> String {
        format!("{}{}{}", self.as_origin, self.as_prefix, path)
    }

    pub fn mcp_resource(&self) -> String {
        format!("{}/mcp", self.base_url)
    }

    pub fn sse_resource(&self) -> String {
        format!("{}/sse", self.base_url)
    }

    /// Resource URIs the AS issues tokens for.
    pub fn is_known_resource(&self, r: &str) -> bool {
        r == self.mcp_resource()
            || r == self.sse_resource()
            || (self.scenario == Scenario::TwoResources
                && (r == format!("{}/a/mcp", self.base_url)
                    || r == format!("{}/b/mcp", self.base_url)))
    }

    /// The issuer the PRM names now (the second origin's after the admin switch).
    pub fn prm_issuer(&self) -> String {
        match &self.second_origin {
            Some(o) if self.lock().switched => o.clone(),
            _ => self.issuer(),
        }
    }

    /// Count one request that passed the bearer check towards a pending automatic switch.
    pub fn tick_switch(&self) {
        let mut inner = self.lock();
        match inner.switch_after {
            Some(n) if n <= 1 => {
                inner.switched = true;
                inner.switch_after = None;
            }
            Some(n) => inner.switch_after = Some(n - 1),
            None => {}
        }
    }

    /// Look an access token up at the AS whose tokens the RS accepts now, with whether its
    /// grant is still active. In `as-migration` after the switch that is the second AS only.
    pub fn find_access(&self, token: &str) -> Option<(AccessToken, bool)> {
        let migrated = self.scenario == Scenario::AsMigration && self.lock().switched;
        let store: &Shared = if migrated {
            self.second_as.as_deref()?
        } else {
            self
        };
        let inner = store.lock();
        let t = inner.access.get(token)?.clone();
        let active = inner.grant_active(t.grant);
        Some((t, active))
    }

    /// The PRM URL to name in `WWW-Authenticate` for a given RS path (`/mcp` or `/sse`).
    pub fn prm_url(&self, rs_path: &str) -> String {
        if self.scenario.prm_root_form() {
            format!("{}/.well-known/oauth-protected-resource", self.base_url)
        } else {
            format!(
                "{}/.well-known/oauth-protected-resource{}",
                self.base_url, rs_path
            )
        }
    }

    pub fn supported_scopes() -> &'static [&'static str] {
        &["mcp:read", "mcp:write", "offline_access"]
    }

    /// OpenID Connect scopes, accepted (not advertised) for the Codex-style sign-in.
    pub fn oidc_scopes() -> &'static [&'static str] {
        &["openid", "profile", "email"]
    }
}
