//! The server behaviours a client test can ask for.

use std::fmt;
use std::str::FromStr;

/// One way the test servers can be set up. Each scenario changes where metadata lives,
/// what the 401 says, or which rule of the authorization server is bent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scenario {
    /// 401 carries `resource_metadata`; PRM at the path form; AS on the same origin.
    #[default]
    Default,
    /// 401 without `resource_metadata`; PRM only at the path form.
    PrmPath,
    /// 401 without `resource_metadata`; PRM only at the root form.
    PrmRoot,
    /// The AS runs on a second origin with issuer `http://127.0.0.1:<port2>/tenant1`.
    AsPathIssuer,
    /// AS metadata only at `/.well-known/openid-configuration`.
    OidcOnly,
    /// Like `AsPathIssuer`, metadata only at `/tenant1/.well-known/openid-configuration`.
    OidcPath,
    /// 2025-03-26 style: no PRM, plain `Bearer`, AS metadata at the RS origin.
    LegacyMetadata,
    /// No PRM and no AS metadata; default endpoints at the origin.
    LegacyNoMetadata,
    /// AS advertises Client ID Metadata Documents and accepts https URL client ids.
    Cimd,
    /// No dynamic client registration.
    Preregistered,
    /// Registration forces `client_secret_basic`.
    ClientSecretBasic,
    /// Registration forces `client_secret_post`.
    ClientSecretPost,
    /// Access tokens live 2 seconds.
    ShortLived,
    /// RFC 9207: the callback carries `iss`.
    Iss,
    /// Like `Iss`, but the callback's `iss` is wrong (mix-up attack).
    IssMismatch,
    /// PRM `resource` names another server.
    MaliciousResource,
    /// AS metadata advertises only the `plain` PKCE method.
    NoS256,
    /// AS metadata has no `code_challenge_methods_supported`.
    NoPkceMetadata,
    /// AS metadata `issuer` differs from the URL it was fetched for.
    IssuerMismatch,
    /// `/authorize` shows a consent page with Approve / Deny buttons.
    Consent,
    /// `server/discover` and `initialize` need no token; `tools/*` do (401 `scope="mcp:read"`,
    /// `write_note` still needs `mcp:write` via 403).
    PublicDiscovery,
    /// A hostile AS on a second origin: admin switches make the PRM name it and make the RS
    /// answer 401 to everything. Its `/authorize` bounces back with `access_denied`.
    AsSwitch,
    /// Two resources on one origin, `/a/mcp` and `/b/mcp`, each accepting only its own tokens.
    TwoResources,
    /// HTTP+SSE whose `endpoint` event names a second origin that logs what it gets.
    SseCrossOrigin,
    /// HTTP+SSE whose `endpoint` event names plain http on a non-loopback host name.
    SsePlainHttp,
    /// Authorization server migration: the PRM switches from AS1 to AS2 (both legitimate, with
    /// DCR); after the switch the RS accepts only AS2's tokens.
    AsMigration,
    /// No DCR at AS1 (use a pre-registered client such as `post-client`); the PRM can switch to
    /// a second AS that grants a code to anyone and logs any request carrying a secret.
    PreregisteredIssuerSwitch,
    /// RFC 9207 `iss` on the callback differs from the issuer by a trailing slash.
    IssTrailingSlash,
    /// `tools/call` always answers 403 `insufficient_scope` asking for a new scope.
    ScopeRetryLimit,
    /// DPoP (RFC 9449): the AS advertises ES256 proofs and binds tokens to the proof's key;
    /// the RS takes a bound token only with the `DPoP` scheme and a valid proof by that key.
    Dpop,
    /// Like `Dpop`, and both servers demand their current nonce, rotated on every success.
    DpopNonce,
}

/// What the second listener (another origin) of a scenario is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondListener {
    /// A hostile AS; `grant_codes` = its `/authorize` issues a code to any client instead of
    /// bouncing back with `access_denied`. Its token endpoint always refuses.
    HostileAs { grant_codes: bool },
    /// A second legitimate AS with its own clients and tokens.
    LegitAs,
    /// Logs every request and answers 202.
    Collector,
}

impl Scenario {
    /// Every scenario, in a stable order.
    pub const ALL: [Scenario; 31] = [
        Scenario::Default,
        Scenario::PrmPath,
        Scenario::PrmRoot,
        Scenario::AsPathIssuer,
        Scenario::OidcOnly,
        Scenario::OidcPath,
        Scenario::LegacyMetadata,
        Scenario::LegacyNoMetadata,
        Scenario::Cimd,
        Scenario::Preregistered,
        Scenario::ClientSecretBasic,
        Scenario::ClientSecretPost,
        Scenario::ShortLived,
        Scenario::Iss,
        Scenario::IssMismatch,
        Scenario::MaliciousResource,
        Scenario::NoS256,
        Scenario::NoPkceMetadata,
        Scenario::IssuerMismatch,
        Scenario::Consent,
        Scenario::PublicDiscovery,
        Scenario::AsSwitch,
        Scenario::TwoResources,
        Scenario::SseCrossOrigin,
        Scenario::SsePlainHttp,
        Scenario::AsMigration,
        Scenario::PreregisteredIssuerSwitch,
        Scenario::IssTrailingSlash,
        Scenario::ScopeRetryLimit,
        Scenario::Dpop,
        Scenario::DpopNonce,
    ];

    /// The kebab-case name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Default => "default",
            Scenario::PrmPath => "prm-path",
            Scenario::PrmRoot => "prm-root",
            Scenario::AsPathIssuer => "as-path-issuer",
            Scenario::OidcOnly => "oidc-only",
            Scenario::OidcPath => "oidc-path",
            Scenario::LegacyMetadata => "legacy-metadata",
            Scenario::LegacyNoMetadata => "legacy-no-metadata",
            Scenario::Cimd => "cimd",
            Scenario::Preregistered => "preregistered",
            Scenario::ClientSecretBasic => "client-secret-basic",
            Scenario::ClientSecretPost => "client-secret-post",
            Scenario::ShortLived => "short-lived",
            Scenario::Iss => "iss",
            Scenario::IssMismatch => "iss-mismatch",
            Scenario::MaliciousResource => "malicious-resource",
            Scenario::NoS256 => "no-s256",
            Scenario::NoPkceMetadata => "no-pkce-metadata",
            Scenario::IssuerMismatch => "issuer-mismatch",
            Scenario::Consent => "consent",
            Scenario::PublicDiscovery => "public-discovery",
            Scenario::AsSwitch => "as-switch",
            Scenario::TwoResources => "two-resources",
            Scenario::SseCrossOrigin => "sse-cross-origin",
            Scenario::SsePlainHttp => "sse-plain-http",
            Scenario::AsMigration => "as-migration",
            Scenario::PreregisteredIssuerSwitch => "preregistered-issuer-switch",
            Scenario::IssTrailingSlash => "iss-trailing-slash",
            Scenario::ScopeRetryLimit => "scope-retry-limit",
            Scenario::Dpop => "dpop",
            Scenario::DpopNonce => "dpop-nonce",
        }
    }

    /// The AS runs on its own listener (another origin) under `/tenant1`.
    pub fn separate_as(self) -> bool {
        matches!(self, Scenario::AsPathIssuer | Scenario::OidcPath)
    }

    /// The 401 `WWW-Authenticate` header names the PRM URL.
    pub fn header_has_resource_metadata(self) -> bool {
        !matches!(
            self,
            Scenario::PrmPath
                | Scenario::PrmRoot
                | Scenario::LegacyMetadata
                | Scenario::LegacyNoMetadata
        )
    }

    /// 2025-03-26 style: no PRM and a plain `Bearer` challenge.
    pub fn legacy(self) -> bool {
        matches!(self, Scenario::LegacyMetadata | Scenario::LegacyNoMetadata)
    }

    /// PRM served at `/.well-known/oauth-protected-resource/<path>`.
    pub fn prm_path_form(self) -> bool {
        !self.legacy() && self != Scenario::PrmRoot
    }

    /// PRM served at `/.well-known/oauth-protected-resource`.
    pub fn prm_root_form(self) -> bool {
        self == Scenario::PrmRoot
    }

    /// RFC 8414 metadata is published (at the well-known URL for the issuer).
    pub fn rfc8414_metadata(self) -> bool {
        !matches!(
            self,
            Scenario::OidcOnly | Scenario::OidcPath | Scenario::LegacyNoMetadata
        )
    }

    /// OpenID Connect discovery metadata is published.
    pub fn oidc_metadata(self) -> bool {
        matches!(self, Scenario::OidcOnly | Scenario::OidcPath)
    }

    /// Dynamic client registration is available.
    pub fn registration(self) -> bool {
        !matches!(
            self,
            Scenario::Preregistered | Scenario::PreregisteredIssuerSwitch
        )
    }

    /// The token endpoint auth method that registration forces, if any.
    pub fn forced_auth_method(self) -> Option<&'static str> {
        match self {
            Scenario::ClientSecretBasic => Some("client_secret_basic"),
            Scenario::ClientSecretPost => Some("client_secret_post"),
            _ => None,
        }
    }

    /// Access token lifetime in seconds, before any override.
    pub fn default_token_lifetime(self) -> u64 {
        if self == Scenario::ShortLived {
            2
        } else {
            3600
        }
    }

    /// RFC 9207 `iss` is advertised and sent on the callback.
    pub fn iss_parameter(self) -> bool {
        matches!(
            self,
            Scenario::Iss | Scenario::IssMismatch | Scenario::IssTrailingSlash
        )
    }

    /// Client ID Metadata Documents are accepted.
    pub fn cimd(self) -> bool {
        self == Scenario::Cimd
    }

    /// `server/discover` and `initialize` are served without a token.
    pub fn public_discovery(self) -> bool {
        self == Scenario::PublicDiscovery
    }

    /// The second listener (another origin) this scenario runs, if any.
    pub fn second_listener(self) -> Option<SecondListener> {
        match self {
            Scenario::AsSwitch => Some(SecondListener::HostileAs { grant_codes: false }),
            Scenario::PreregisteredIssuerSwitch => {
                Some(SecondListener::HostileAs { grant_codes: true })
            }
            Scenario::AsMigration => Some(SecondListener::LegitAs),
            Scenario::SseCrossOrigin | Scenario::SsePlainHttp => Some(SecondListener::Collector),
            _ => None,
        }
    }

    /// `/authorize` asks the user instead of approving at once.
    pub fn consent(self) -> bool {
        self == Scenario::Consent
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for an unknown scenario name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownScenario(pub String);

impl fmt::Display for UnknownScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
        write!(
            f,
            "unknown scenario `{}`; known scenarios: {}",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownScenario {}

impl FromStr for Scenario {
    type Err = UnknownScenario;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scenario::ALL
            .iter()
            .copied()
            .find(|sc| sc.name() == s)
            .ok_or_else(|| UnknownScenario(s.to_string()))
    }
}
