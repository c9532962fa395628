//! `mcp-auth-core`: the OAuth 2.1 client side of the Model Context Protocol, written once.
//!
//! Every rule of the flow lives here: identity and resource URIs, discovery (RFC 9728,
//! RFC 8414, OpenID Connect), client registration (configured, Client ID Metadata Document,
//! RFC 7591), PKCE, the authorization request and callback checks (RFC 9207), token exchange,
//! refresh with rotation, step-up, revocation (RFC 7009) and authorized requests. Hosts (the
//! native CLI, the wasm build) implement [`Host`]: HTTP, storage, the browser, the clock.
//! Nothing here touches a socket, a runtime, a keyring or a file.

pub mod b64;
pub mod client;
pub mod codex;
mod discover;
pub mod dpop;
pub mod error;
pub mod grants;
pub mod host;
pub mod jose;
pub mod json;
pub mod mcp;
pub mod metadata;
pub mod oauth;
mod pending;
pub mod pkce;
pub mod platform_url;
pub mod records;
mod request;
pub mod secret;
pub mod sorted;
pub mod stream;
#[cfg(test)]
mod test_host;
pub mod text;
mod tokens;
mod unsaved;
pub mod urls;
pub mod www_authenticate;

pub use client::{
    AuthOptions, AuthorizationRequest, LoginOutcome, LogoutReport, McpAuth, TokenInfo, TokenStatus,
};
pub use dpop::{DpopMode, PublicJwk};
pub use error::{Error, Result};
pub use grants::{AssertionSource, EnterpriseGrant, Grant};
pub use host::{Host, HostError, HostLock, HostResult, HttpRequest, HttpResponse, Method};
pub use jose::SigningKey;
pub use records::{ClientAuthMethod, ClientRecord, TokenRecord};
pub use secret::{
    AccessToken, Assertion, AuthorizationCode, ClientSecret, PkceCodeVerifier, RefreshToken,
};
pub use urls::{identity, resource_uri};
