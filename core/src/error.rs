//! One error type for the whole flow, with a stable machine-readable code for every case.

use std::fmt;

/// A message that is all of an error's text, written as it is (`"{0}"` would go through
/// the formatting machinery and `str`'s padding for nothing).
fn text(message: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str(message)
}

/// What went wrong, with a stable [`Error::code`] for scripts and JS callers and a message
/// that says what to do. Messages never carry a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("invalid URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("refusing plain http:// for `{url}`: only loopback hosts (localhost, 127.0.0.1, [::1]) may use http; use https")]
    InsecureUrl { url: String },
    #[error("the server `{server}` named `{url}`, an address on this machine; refusing to send it anything (only a server on this machine may name one)")]
    LocalTarget { url: String, server: String },
    #[error(fmt = text)]
    Network(String),
    #[error(fmt = text)]
    Storage(String),
    #[error(fmt = text)]
    Browser(String),
    #[error("protected resource metadata at {url} is for `{found}`, not for this server (`{expected}`); refusing to authorize, it may be a malicious server")]
    ResourceMismatch {
        url: String,
        expected: String,
        found: String,
    },
    #[error("authorization server metadata fetched for issuer `{expected}` names issuer `{found}`; refusing to continue")]
    IssuerMismatch { expected: String, found: String },
    #[error("the authorization server `{issuer}` does not support PKCE with S256 (code_challenge_methods_supported: {advertised}); MCP requires it, so login is refused")]
    PkceUnsupported { issuer: String, advertised: String },
    #[error("discovery failed: {0}")]
    Discovery(String),
    #[error("no way to identify this client to `{issuer}`: it offers no dynamic client registration{cimd}; configure a pre-registered client (client_id, and client_secret if it has one)")]
    NoClientRegistration { issuer: String, cimd: &'static str },
    #[error("client registration at `{issuer}` failed: {detail}")]
    Registration { issuer: String, detail: String },
    #[error("invalid client metadata document URL `{url}`: it must be https with a path (e.g. https://app.example.com/oauth/client.json)")]
    InvalidClientMetadataUrl { url: String },
    #[error("the authorization server answered `{error}`{}", description.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    AuthorizationDenied {
        error: String,
        description: Option<String>,
    },
    #[error("the callback's `state` does not match the pending login; it may be a forged or stale redirect, so it was ignored")]
    StateMismatch,
    #[error("the callback's issuer (`iss`) {0}; refusing it as a possible mix-up attack")]
    IssuerParameter(String),
    #[error("the callback URL carries no authorization code")]
    MissingCode,
    #[error("no login is pending for this callback; start the login again")]
    NoPendingLogin,
    #[error("token endpoint error `{error}`{}", description.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    TokenEndpoint {
        error: String,
        description: Option<String>,
        status: u16,
    },
    #[error("invalid token response: {0}")]
    InvalidTokenResponse(String),
    /// `identity` is what to log in to: the server URL (or the resource) that needs a token.
    #[error("not logged in to {identity}; run `mcp-auth login {identity}`")]
    LoginRequired { identity: String },
    #[error("the login session for {identity} has expired or was revoked; run `mcp-auth login {identity}` again")]
    ReauthenticationRequired { identity: String },
    #[error(
        "the server still refuses the request after {attempts} scope step-ups (needs `{scope}`)"
    )]
    StepUpExhausted { attempts: u32, scope: String },
    #[error("the server rejected the new token too ({status}); check that this account may use the server")]
    Unauthorized { status: u16 },
    #[error("refusing to send the access token for `{resource}` to `{url}`: it is outside the resource the token was issued for")]
    TokenDestination { resource: String, url: String },
    #[error("the pre-registered client `{client_id}` belongs to the authorization server `{expected}`, but this server now names `{found}`; its secret is not sent there. If `{found}` is right, set `issuer: {found}` in the server's auth settings (or clear the identity and log in again)")]
    ConfiguredClientIssuer {
        client_id: String,
        expected: String,
        found: String,
    },
    #[error("the stored record `{key}` is unreadable: {reason}")]
    CorruptRecord { key: String, reason: String },
    #[error(
        "the login was redirected away from this page; call completeLogin with the callback URL"
    )]
    Redirected,
    #[error("{method}: the MCP server answered error {code}: {message}")]
    Mcp {
        method: String,
        code: i64,
        message: String,
    },
    #[error(fmt = text)]
    McpProtocol(String),
    #[error(fmt = text)]
    ProtocolUnsupported(String),
    #[error("{method}: the server asks the client for more input (resultType `input_required`); mcp-auth does not support multi round-trip requests")]
    InputRequired { method: String },
    #[error("the server named `{endpoint}` as its HTTP+SSE endpoint, which {reason}; refusing to send it requests (they carry your token)")]
    UnsafeEndpoint { endpoint: String, reason: String },
    /// An assertion (workload token, ID token) the host could not produce.
    #[error(fmt = text)]
    Assertion(String),
    /// A grant refused by the party named in `party` (the identity provider, or the MCP
    /// authorization server), with the OAuth error it gave.
    #[error("{party} refused the request: `{error}`{}", description.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    GrantRefused {
        party: String,
        error: String,
        description: Option<String>,
        status: u16,
    },
    #[error("`dpop: required` is configured, but the authorization server `{issuer}` does not offer ES256 DPoP proofs (dpop_signing_alg_values_supported: {advertised}); set `dpop: auto` to use bearer tokens with it")]
    DpopUnsupported { issuer: String, advertised: String },
    #[error("DPoP: {0}")]
    DpopKey(String),
    /// A private key (or the algorithm asked of it) that cannot sign; never carries key bytes.
    #[error("signing key: {0}")]
    SigningKey(String),
    #[error(fmt = text)]
    Invalid(String),
}

impl Error {
    /// A stable code for each case (kept the same across releases; JS sees it as `error.code`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidUrl { .. } => "invalid_url",
            Error::InsecureUrl { .. } => "insecure_url",
            Error::LocalTarget { .. } => "local_target",
            Error::Network(_) => "network",
            Error::Storage(_) => "storage",
            Error::Browser(_) => "browser",
            Error::ResourceMismatch { .. } => "resource_mismatch",
            Error::IssuerMismatch { .. } => "issuer_mismatch",
            Error::PkceUnsupported { .. } => "pkce_unsupported",
            Error::Discovery(_) => "discovery",
            Error::NoClientRegistration { .. } => "no_client_registration",
            Error::Registration { .. } => "registration",
            Error::InvalidClientMetadataUrl { .. } => "invalid_client_metadata_url",
            Error::AuthorizationDenied { .. } => "authorization_denied",
            Error::StateMismatch => "state_mismatch",
            Error::IssuerParameter(_) => "iss_mismatch",
            Error::MissingCode => "missing_code",
            Error::NoPendingLogin => "no_pending_login",
            Error::TokenEndpoint { .. } => "token_endpoint",
            Error::InvalidTokenResponse(_) => "invalid_token_response",
            Error::LoginRequired { .. } => "login_required",
            Error::ReauthenticationRequired { .. } => "reauthentication_required",
            Error::StepUpExhausted { .. } => "step_up_exhausted",
            Error::Unauthorized { .. } => "unauthorized",
            Error::TokenDestination { .. } => "token_destination",
            Error::ConfiguredClientIssuer { .. } => "configured_client_issuer",
            Error::CorruptRecord { .. } => "corrupt_record",
            Error::Redirected => "redirected",
            Error::Mcp { .. } => "mcp_error",
            Error::McpProtocol(_) => "mcp_protocol",
            Error::ProtocolUnsupported(_) => "protocol_unsupported",
            Error::InputRequired { .. } => "input_required",
            Error::UnsafeEndpoint { .. } => "unsafe_endpoint",
            Error::DpopUnsupported { .. } => "dpop_unsupported",
            Error::DpopKey(_) => "dpop_key",
            Error::SigningKey(_) => "signing_key",
            Error::Assertion(_) => "assertion",
            Error::GrantRefused { .. } => "grant_refused",
            Error::Invalid(_) => "invalid",
        }
    }

    /// The error boxed, out of line: one allocation call instead of one inlined at every
    /// place an error is made (smaller wasm build).
    #[inline(never)]
    pub fn boxed(self) -> Box<Error> {
        Box::new(self)
    }

    /// An MCP protocol error with a fixed message, boxed (out of line: one copy of the
    /// string's allocation for the places that have no detail to add).
    #[inline(never)]
    pub(crate) fn mcp_protocol(message: &str) -> Box<Error> {
        Error::McpProtocol(message.to_string()).boxed()
    }

    /// [`Error::InvalidTokenResponse`] with a fixed message, boxed (as [`Error::mcp_protocol`]).
    #[inline(never)]
    pub(crate) fn invalid_token_response(message: &str) -> Box<Error> {
        Error::InvalidTokenResponse(message.to_string()).boxed()
    }

    /// Whether the case is "log in (again)": no token, or a grant that ended.
    pub fn needs_login(&self) -> bool {
        matches!(
            self,
            Error::LoginRequired { .. } | Error::ReauthenticationRequired { .. }
        )
    }

    pub(crate) fn invalid_url(url: &str, reason: impl fmt::Display) -> Self {
        Error::InvalidUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// Core's results carry their error boxed: an [`Error`] is about 40 bytes (its largest cases
/// hold three strings), and every `?` and every future's state moves it. Boxed, a
/// `Result<(), Error>` is one pointer. In the wasm build that is −2.3 KB gzip (each byte of
/// `Error`'s size cost about 90 bytes of gzip). Match on `*e`, or use [`Error::needs_login`].
pub type Result<T, E = Box<Error>> = std::result::Result<T, E>;
