//! The stored records and the key layout, shared by every host (CLI keyring or file store,
//! browser localStorage, Node file store): one versioned JSON format.
//!
//! Keys:
//! - `index`: the list of every other key core has written (stores that can't list keys,
//!   like an OS keyring, still let `status` and `clear --all` find everything);
//! - `tokens:<identity>`: the [`TokenRecord`] of an identity;
//! - `client:<identity>|<issuer>`: the [`ClientRecord`] registered with an issuer;
//! - `discovery:<resource>`: the cached [`DiscoveryRecord`] of a server;
//! - `pending:<state>`: a [`PendingLogin`] between the redirect and the callback.

use crate::error::{Error, Result};
use crate::metadata::{AuthServerMetadata, ProtectedResourceMetadata};
use crate::secret::{AccessToken, ClientSecret, PkceCodeVerifier, RefreshToken};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The version of every record this build writes.
pub const RECORD_VERSION: u32 = 1;

pub const INDEX_KEY: &str = "index";

pub fn tokens_key(identity: &str) -> String {
    format!("tokens:{identity}")
}
pub fn client_key(identity: &str, issuer: &str) -> String {
    format!("client:{identity}|{}", issuer.trim_end_matches('/'))
}
pub fn discovery_key(resource: &str) -> String {
    format!("discovery:{resource}")
}
pub fn pending_key(state: &str) -> String {
    format!("pending:{state}")
}

fn default_version() -> u32 {
    RECORD_VERSION
}

/// Tokens held for one identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    #[serde(default = "default_version")]
    pub version: u32,
    pub identity: String,
    /// The `resource` the tokens were requested for.
    pub resource: String,
    pub issuer: String,
    pub client_id: String,
    pub access_token: AccessToken,
    pub token_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<RefreshToken>,
    /// Absolute expiry, seconds since the Unix epoch; `None` when the server gave no lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// The granted scope, space separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub obtained_at: u64,
    /// An OpenID Connect id_token, when the server sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<AccessToken>,
}

impl TokenRecord {
    pub fn scopes(&self) -> Vec<String> {
        split_scope(self.scope.as_deref())
    }
    /// Expired, or expiring within `skew` seconds.
    pub fn expires_within(&self, now: u64, skew: u64) -> bool {
        self.expires_at
            .is_some_and(|t| t <= now.saturating_add(skew))
    }
}

/// How a client authenticates at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    None,
    ClientSecretBasic,
    ClientSecretPost,
}

impl ClientAuthMethod {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
        }
    }
}

/// Where a client identity came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientSource {
    Configured,
    MetadataDocument,
    Dynamic,
}

/// A client identity at one issuer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    #[serde(default = "default_version")]
    pub version: u32,
    pub issuer: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<ClientSecret>,
    pub auth_method: ClientAuthMethod,
    pub source: ClientSource,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_at: Option<u64>,
}

/// What discovery found for a server, cached so a second login skips it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryRecord {
    #[serde(default = "default_version")]
    pub version: u32,
    /// The `resource` value to send (the server's canonical URI, or the covering resource
    /// its metadata names).
    pub resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected_resource: Option<ProtectedResourceMetadata>,
    pub authorization_server: AuthServerMetadata,
    /// Where the authorization server metadata came from (`None`: legacy defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_url: Option<String>,
    /// Configured rather than discovered: no `resource` parameter is sent.
    #[serde(default)]
    pub fixed: bool,
    pub fetched_at: u64,
}

/// A login between the authorization redirect and the callback.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    #[serde(default = "default_version")]
    pub version: u32,
    pub state: String,
    pub verifier: PkceCodeVerifier,
    pub server_url: String,
    pub identity: String,
    pub resource: String,
    pub issuer: String,
    pub token_endpoint: String,
    pub redirect_uri: String,
    pub client: ClientRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// RFC 9207: the callback must carry `iss`.
    #[serde(default)]
    pub iss_required: bool,
    /// A configured authorization server: no `resource` parameter.
    #[serde(default)]
    pub fixed: bool,
    pub created_at: u64,
}

/// Every key core has written (the store may not be able to list its keys).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    #[serde(default = "default_version")]
    pub version: u32,
    #[serde(default)]
    pub keys: BTreeSet<String>,
}

impl Index {
    /// The identities that have a token record.
    pub fn identities(&self) -> Vec<String> {
        self.keys
            .iter()
            .filter_map(|k| k.strip_prefix("tokens:"))
            .map(str::to_string)
            .collect()
    }
    /// Every key that belongs to an identity (tokens, clients, and discovery on its origin).
    pub fn keys_of(&self, identity: &str) -> Vec<String> {
        self.keys
            .iter()
            .filter(|k| {
                k.strip_prefix("tokens:") == Some(identity)
                    || k.strip_prefix("client:")
                        .is_some_and(|r| r.split('|').next() == Some(identity))
                    || k.strip_prefix("discovery:").is_some_and(|r| {
                        r == identity
                            || r.strip_prefix(identity)
                                .is_some_and(|rest| rest.starts_with(['/', '?']))
                    })
            })
            .cloned()
            .collect()
    }
}

pub(crate) fn decode<T: DeserializeOwned>(key: &str, text: &str) -> Result<T> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Error::CorruptRecord {
            key: key.to_string(),
            reason: format!("not JSON ({e})"),
        })?;
    let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(1);
    if version > RECORD_VERSION as u64 {
        return Err(Error::CorruptRecord {
            key: key.to_string(),
            reason: format!(
                "written by a newer mcp-auth (record version {version}); upgrade mcp-auth"
            ),
        });
    }
    serde_json::from_value(value).map_err(|e| Error::CorruptRecord {
        key: key.to_string(),
        reason: e.to_string(),
    })
}

pub(crate) fn encode<T: Serialize>(record: &T) -> Result<String> {
    serde_json::to_string(record)
        .map_err(|e| Error::Storage(format!("cannot encode a record: {e}")))
}

/// Splits a space-separated scope string.
pub fn split_scope(scope: Option<&str>) -> Vec<String> {
    scope
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Joins scopes, keeping the first occurrence of each.
pub fn join_scopes<I: IntoIterator<Item = S>, S: AsRef<str>>(scopes: I) -> Option<String> {
    let mut seen = Vec::<String>::new();
    for s in scopes {
        for part in s.as_ref().split_whitespace() {
            if !seen.iter().any(|x| x == part) {
                seen.push(part.to_string());
            }
        }
    }
    if seen.is_empty() {
        None
    } else {
        Some(seen.join(" "))
    }
}
