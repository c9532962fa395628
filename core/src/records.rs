//! The stored records and the key layout, shared by every host (CLI keyring or file store,
//! browser localStorage, Node file store): one versioned JSON format.
//!
//! Keys:
//! - `index`: the list of every other key core has written (stores that can't list keys,
//!   like an OS keyring, still let `status` and `clear --all` find everything);
//! - `tokens:<identity>|<resource>`: the [`TokenRecord`] for one resource of an identity
//!   (record version 1 kept one record per identity under `tokens:<identity>`; it is
//!   migrated on first read);
//! - `client:<identity>|<issuer>`: the [`ClientRecord`] registered with an issuer (the exact
//!   issuer identifier, never normalised);
//! - `discovery:<resource>`: the cached [`DiscoveryRecord`] of a server;
//! - `pending:<state>`: a [`PendingLogin`] between the redirect and the callback;
//! - `dpop:<identity>`: the identity's software DPoP key, written by the host's default
//!   key capability (see [`crate::dpop::key`]), not listed in the index.

use crate::error::{Error, Result};
use crate::json::{self, Json};
use crate::metadata::{AuthServerMetadata, ProtectedResourceMetadata};
use crate::secret::{AccessToken, ClientSecret, PkceCodeVerifier, RefreshToken};
use crate::sorted::SortedSet;

/// The version of every record this build writes. Version 2 binds a token record to the
/// endpoints it came from and stores tokens per resource.
pub const RECORD_VERSION: u32 = 2;

pub const INDEX_KEY: &str = "index";

/// The key of the token record for `resource` (a canonical resource URI) under `identity`.
pub fn tokens_key(identity: &str, resource: &str) -> String {
    format!("tokens:{identity}|{resource}")
}
/// The key record version 1 kept an identity's only token record under.
pub fn legacy_tokens_key(identity: &str) -> String {
    format!("tokens:{identity}")
}
/// The identity and resource a token key names (`None` for other keys and version-1 keys).
pub fn parse_tokens_key(key: &str) -> Option<(&str, &str)> {
    key.strip_prefix("tokens:")?.split_once('|')
}
pub fn client_key(identity: &str, issuer: &str) -> String {
    format!("client:{identity}|{issuer}")
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

fn yes() -> bool {
    true
}

/// Tokens held for one resource, bound to the authorization server that issued them: refresh
/// and revocation go to the endpoints recorded here and nowhere else, whatever a later
/// discovery says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    pub version: u32,
    pub identity: String,
    /// The `resource` the tokens were requested for.
    pub resource: String,
    pub issuer: String,
    pub client_id: String,
    pub access_token: AccessToken,
    pub token_type: String,
    pub refresh_token: Option<RefreshToken>,
    /// Absolute expiry, seconds since the Unix epoch; `None` when the server gave no lifetime.
    pub expires_at: Option<u64>,
    /// The granted scope, space separated.
    pub scope: Option<String>,
    pub obtained_at: u64,
    /// An OpenID Connect id_token, when the server sent one.
    pub id_token: Option<AccessToken>,
    /// The token endpoint that issued these tokens (refresh goes here). `None` only for
    /// records migrated from version 1 whose endpoint could not be recovered; the next
    /// refresh then asks the recorded issuer's own metadata.
    pub token_endpoint: Option<String>,
    /// The issuer's revocation endpoint when it had one.
    pub revocation_endpoint: Option<String>,
    /// Whether the `resource` parameter is sent (off for configured providers and for
    /// servers configured with `send_resource: false`).
    pub send_resource: bool,
    /// The scope the last authorization request asked for (step-up adds to it).
    pub requested_scope: Option<String>,
    /// The grant that obtained these tokens when it was not the browser login
    /// (`client_credentials`, `jwt_bearer`, `token_exchange`): such tokens are renewed by
    /// running that grant again, not by a refresh token.
    pub flow: Option<String>,
    /// The RFC 7638 thumbprint of the identity's DPoP key when the token request carried a
    /// proof (RFC 9449): refreshes carry proofs by the same key, and a token whose
    /// `token_type` is `DPoP` goes out only with a proof by it.
    pub dpop_jkt: Option<String>,
}

crate::json_struct!(TokenRecord {
    version = default_version,
    identity,
    resource,
    issuer,
    client_id,
    access_token,
    token_type,
    refresh_token: opt,
    expires_at: opt,
    scope: opt,
    obtained_at,
    id_token: opt,
    token_endpoint: opt,
    revocation_endpoint: opt,
    send_resource = yes,
    requested_scope: opt,
    flow: opt,
    dpop_jkt: opt,
});

/// A refresh never starts earlier than this fraction of the token's lifetime before expiry,
/// so a short-lived token is refreshed once per lifetime, not before every request.
pub const SKEW_LIFETIME_DIVISOR: u64 = 4;

/// The longest token lifetime believed: a token response's `expires_in` above it is refused,
/// and a stored record whose expiry lies further than this beyond when it was obtained (or
/// beyond now) was not written from a server's answer and is refreshed.
pub const MAX_LIFETIME_SECS: u64 = 10 * 365 * 24 * 3600;

/// How far in the future a record's `obtained_at` may lie (clocks of two processes, or an
/// NTP step) before this machine's clock is taken to have jumped back since it was written.
pub const CLOCK_TOLERANCE_SECS: u64 = 300;

impl TokenRecord {
    pub fn scopes(&self) -> Vec<String> {
        split_scope(self.scope.as_deref())
    }
    /// Expired, or expiring within `skew` seconds.
    pub fn expires_within(&self, now: u64, skew: u64) -> bool {
        self.expires_at
            .is_some_and(|t| t <= now.saturating_add(skew))
    }
    /// The refresh skew for this token: `max_skew`, but never more than a quarter of the
    /// lifetime the server gave it.
    pub fn skew(&self, max_skew: u64) -> u64 {
        match self.expires_at {
            Some(t) => max_skew.min(t.saturating_sub(self.obtained_at) / SKEW_LIFETIME_DIVISOR),
            None => max_skew,
        }
    }
    /// Whether this record's times cannot be measured against `now`: it was obtained in the
    /// future (the clock has jumped back since, so the token may have expired long ago in
    /// real time), or it expires further out than any lifetime a server may give.
    pub fn clock_untrusted(&self, now: u64) -> bool {
        self.obtained_at > now.saturating_add(CLOCK_TOLERANCE_SECS)
            || self
                .expires_at
                .is_some_and(|t| t.saturating_sub(self.obtained_at.min(now)) > MAX_LIFETIME_SECS)
    }
    /// Time to refresh: expired, within this token's skew of expiring, or its times are not
    /// to be trusted against this clock ([`Self::clock_untrusted`]): a token is never kept
    /// forever on the word of a skewed clock.
    pub fn refresh_due(&self, now: u64, max_skew: u64) -> bool {
        self.clock_untrusted(now) || self.expires_within(now, self.skew(max_skew))
    }
    /// The access token is DPoP-bound (`token_type` DPoP): it is sent with the `DPoP`
    /// scheme and a proof, never as a bearer token.
    pub fn is_dpop_bound(&self) -> bool {
        self.token_type.eq_ignore_ascii_case("dpop")
    }
    /// The scope to build on when asking for more: what was requested, else what was granted.
    pub fn base_scope(&self) -> Option<&str> {
        self.requested_scope.as_deref().or(self.scope.as_deref())
    }
}

/// How a client authenticates at the token endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// (The default only stands in while a record that fails to read is read.)
    #[default]
    None,
    ClientSecretBasic,
    ClientSecretPost,
    /// RFC 7523 §2.2: a JWT signed with the client's private key (the key is configuration,
    /// never stored).
    PrivateKeyJwt,
}

crate::json_enum!(ClientAuthMethod {
    None = "none",
    ClientSecretBasic = "client_secret_basic",
    ClientSecretPost = "client_secret_post",
    PrivateKeyJwt = "private_key_jwt",
});

/// Where a client identity came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientSource {
    Configured,
    MetadataDocument,
    /// (The default only stands in while a record that fails to read is read.)
    #[default]
    Dynamic,
}

crate::json_enum!(ClientSource {
    Configured = "configured",
    MetadataDocument = "metadata_document",
    Dynamic = "dynamic",
});

/// A client identity at one issuer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientRecord {
    pub version: u32,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<ClientSecret>,
    pub auth_method: ClientAuthMethod,
    pub source: ClientSource,
    pub redirect_uris: Vec<String>,
    pub registered_at: Option<u64>,
}

crate::json_struct!(ClientRecord {
    version = default_version,
    issuer,
    client_id,
    client_secret: opt,
    auth_method,
    source,
    redirect_uris = Default::default,
    registered_at: opt,
});

/// What discovery found for a server, cached so a second login skips it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveryRecord {
    pub version: u32,
    /// The `resource` value to send (the server's canonical URI, or the covering resource
    /// its metadata names).
    pub resource: String,
    pub protected_resource: Option<ProtectedResourceMetadata>,
    pub authorization_server: AuthServerMetadata,
    /// Where the authorization server metadata came from (`None`: legacy defaults).
    pub metadata_url: Option<String>,
    /// Configured rather than discovered: no `resource` parameter is sent.
    pub fixed: bool,
    pub fetched_at: u64,
}

crate::json_struct!(DiscoveryRecord {
    version = default_version,
    resource,
    protected_resource: opt,
    authorization_server,
    metadata_url: opt,
    fixed = Default::default,
    fetched_at,
});

/// A login between the authorization redirect and the callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingLogin {
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
    pub scope: Option<String>,
    /// The issuer's revocation endpoint, recorded with the tokens.
    pub revocation_endpoint: Option<String>,
    /// What discovery found; cached only once the login completes, so an abandoned or
    /// refused login never changes where an existing grant's tokens go.
    pub discovery: Option<DiscoveryRecord>,
    /// RFC 9207: the callback must carry `iss`.
    pub iss_required: bool,
    /// No `resource` parameter (a configured provider, or `send_resource: false`).
    pub fixed: bool,
    /// The token request carries a DPoP proof (RFC 9449).
    pub dpop: bool,
    pub created_at: u64,
}

crate::json_struct!(PendingLogin {
    version = default_version,
    state,
    verifier,
    server_url,
    identity,
    resource,
    issuer,
    token_endpoint,
    redirect_uri,
    client,
    scope: opt,
    revocation_endpoint: opt,
    discovery: opt,
    iss_required = Default::default,
    fixed = Default::default,
    dpop = Default::default,
    created_at,
});

/// Every key core has written (the store may not be able to list its keys).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Index {
    pub version: u32,
    pub keys: SortedSet,
}

crate::json_struct!(Index {
    version = default_version,
    keys = Default::default,
});

impl Index {
    /// The identities that have a DPoP key (each once), with or without tokens.
    pub fn dpop_identities(&self) -> Vec<String> {
        let mut out = Vec::new();
        for k in self.keys.iter() {
            if let Some(id) = k.strip_prefix("dpop:") {
                out.push(id.to_string());
            }
        }
        out
    }

    /// The identities that have a token record (each once).
    pub fn identities(&self) -> Vec<String> {
        let mut out = Vec::new();
        for k in self.keys.iter() {
            if let Some(rest) = k.strip_prefix("tokens:") {
                out.push(rest.split_once('|').map_or(rest, |(id, _)| id).to_string());
            }
        }
        crate::sorted::sort_strings(&mut out);
        out.dedup();
        out
    }
    /// The token keys of an identity: `(key, resource)`, version-1 keys with no resource.
    pub fn token_keys_of(&self, identity: &str) -> Vec<(String, Option<String>)> {
        let mut out = Vec::new();
        for k in self.keys.iter() {
            let Some(rest) = k.strip_prefix("tokens:") else {
                continue;
            };
            match rest.split_once('|') {
                Some((id, res)) if id == identity => out.push((k.clone(), Some(res.to_string()))),
                None if rest == identity => out.push((k.clone(), None)),
                _ => {}
            }
        }
        out
    }
    /// Every key that belongs to an identity (tokens, clients, and the cached discovery and
    /// remembered MCP revision of servers on its origin).
    pub fn keys_of(&self, identity: &str) -> Vec<String> {
        let mut out = Vec::new();
        for k in self.keys.iter() {
            let mine = k
                .strip_prefix("tokens:")
                .is_some_and(|r| r.split('|').next() == Some(identity))
                || k.strip_prefix("client:")
                    .is_some_and(|r| r.split('|').next() == Some(identity))
                || k.strip_prefix("discovery:")
                    .or_else(|| k.strip_prefix("protocol:"))
                    .is_some_and(|r| {
                        r == identity
                            || r.strip_prefix(identity).is_some_and(|rest| {
                                matches!(rest.bytes().next(), Some(b'/' | b'?'))
                            })
                    });
            if mine {
                out.push(k.clone());
            }
        }
        out
    }
}

/// A stored record type: every one carries the version of the mcp-auth that wrote it, in a
/// top-level `version` member (1 when absent).
pub(crate) trait Record: json::FromJson {}

macro_rules! records {
    ($($t:ty),*) => {$(
        impl Record for $t {}
    )*};
}
records!(
    Index,
    TokenRecord,
    ClientRecord,
    DiscoveryRecord,
    PendingLogin,
    crate::mcp::record::ProtocolRecord,
    crate::dpop::key::DpopKeyRecord
);

/// Reads a stored record: refused, in this order, when it is not JSON, when a newer mcp-auth
/// wrote it, or with its type's own reason (naming the member).
pub(crate) fn decode<T: Record>(key: &str, text: &str) -> Result<T> {
    let tree = record_tree(key, text)?;
    json::from_json(&tree).map_err(|e| corrupt(key, e.0).boxed())
}

/// [`decode`]'s part that is the same for every record type, out of line.
#[inline(never)]
fn record_tree(key: &str, text: &str) -> Result<Json> {
    let tree = json::parse(text.as_bytes()).map_err(|_| corrupt(key, "not JSON".into()))?;
    let version = tree.get("version").and_then(Json::as_u64).unwrap_or(1);
    if version > u64::from(RECORD_VERSION) {
        return Err(newer(key, version).boxed());
    }
    Ok(tree)
}

#[inline(never)]
fn newer(key: &str, version: u64) -> Error {
    corrupt(
        key,
        format!("written by a newer mcp-auth (record version {version}); upgrade mcp-auth"),
    )
}

#[inline(never)]
fn corrupt(key: &str, reason: String) -> Error {
    Error::CorruptRecord {
        key: key.to_string(),
        reason,
    }
}

/// Decodes a stored value the way core reads the record under `key` (chosen by the key's
/// prefix: `index`, `tokens:`, `client:`, `discovery:`, `pending:`, `protocol:`, `dpop:`), and drops
/// it. Core itself reads records through [`crate::McpAuth`]; this exists so the fuzz targets
/// in `fuzz/` can reach the record decoder without a host. Unknown keys are `Ok`.
pub fn check_record(key: &str, text: &str) -> Result<()> {
    if key == INDEX_KEY {
        decode::<Index>(key, text).map(drop)
    } else if key.starts_with("tokens:") {
        decode::<TokenRecord>(key, text).map(drop)
    } else if key.starts_with("client:") {
        decode::<ClientRecord>(key, text).map(drop)
    } else if key.starts_with("discovery:") {
        decode::<DiscoveryRecord>(key, text).map(drop)
    } else if key.starts_with("pending:") {
        decode::<PendingLogin>(key, text).map(drop)
    } else if key.starts_with("protocol:") {
        decode::<crate::mcp::record::ProtocolRecord>(key, text).map(drop)
    } else if key.starts_with("dpop:") {
        decode::<crate::dpop::key::DpopKeyRecord>(key, text).map(drop)
    } else {
        Ok(())
    }
}

pub(crate) fn encode<T: json::ToJson>(record: &T) -> String {
    json::to_string(record)
}

/// Splits a space-separated scope string (RFC 6749 §3.3; tabs and line breaks are taken as
/// separators too, other characters, a non-ASCII space included, as part of a scope token).
pub fn split_scope(scope: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    for part in scope.unwrap_or("").split_ascii_whitespace() {
        out.push(part.to_string());
    }
    out
}

/// Joins scopes (each a space-separated list), keeping the first occurrence of each.
pub fn join_scopes(scopes: &[&str]) -> Option<String> {
    let mut seen = Vec::<&str>::new();
    for s in scopes {
        for part in s.split_ascii_whitespace() {
            if !seen.contains(&part) {
                seen.push(part);
            }
        }
    }
    if seen.is_empty() {
        None
    } else {
        Some(crate::text::join(&seen, " "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_split_at_ascii_whitespace() {
        assert_eq!(split_scope(None), Vec::<String>::new());
        assert_eq!(split_scope(Some(" a  b\tc\r\nd ")), ["a", "b", "c", "d"]);
        assert_eq!(split_scope(Some("a\u{a0}b c")), ["a\u{a0}b", "c"]);
        assert_eq!(
            join_scopes(&["a\u{3000}b a"]).as_deref(),
            Some("a\u{3000}b a")
        );
    }

    #[test]
    fn join_scopes_keeps_the_first_occurrence_of_each() {
        assert_eq!(join_scopes(&[]), None);
        assert_eq!(join_scopes(&["", "  "]), None);
        assert_eq!(join_scopes(&["read"]).as_deref(), Some("read"));
        assert_eq!(
            join_scopes(&[" b  a\tb ", "c a", "offline_access"]).as_deref(),
            Some("b a c offline_access")
        );
    }

    fn reason(r: Result<()>) -> String {
        match r.map_err(|e| *e) {
            Err(Error::CorruptRecord { reason, .. }) => reason,
            other => panic!("not a corrupt record: {other:?}"),
        }
    }

    #[test]
    fn a_corrupt_record_says_why() {
        // not JSON: a fixed reason (the platform's parser gives none worth showing)
        assert_eq!(reason(check_record(INDEX_KEY, "{half}")), "not JSON");
        // a newer record is refused before its fields are looked at
        assert_eq!(
            reason(check_record(INDEX_KEY, r#"{"version":99,"keys":5}"#)),
            "written by a newer mcp-auth (record version 99); upgrade mcp-auth"
        );
        // and so is one whose fields this build happens to read
        assert_eq!(
            reason(check_record(INDEX_KEY, r#"{"version":3,"keys":["a"]}"#)),
            "written by a newer mcp-auth (record version 3); upgrade mcp-auth"
        );
        // JSON of the wrong shape: the member and what it should be, never its value
        assert_eq!(
            reason(check_record(INDEX_KEY, r#"{"version":2,"keys":5}"#)),
            "member `keys`: expected an array"
        );
        assert_eq!(
            reason(check_record(INDEX_KEY, r#"{"version":2,"keys":["a",5]}"#)),
            "member `keys`: expected a string"
        );
        assert_eq!(reason(check_record(INDEX_KEY, "5")), "expected an object");
        let pending = r#"{"version":2,"client":{"auth_method":"magic"}}"#;
        assert!(reason(check_record("pending:s", pending)).starts_with("missing member"));

        assert!(check_record(INDEX_KEY, r#"{"version":2,"keys":["a"]}"#).is_ok());
    }

    #[test]
    fn the_index_is_written_as_a_sorted_array_of_unique_keys() {
        let text = r#"{"version":2,"keys":["tokens:b","client:a","tokens:b","dpop:c"]}"#;
        let mut idx: Index = decode(INDEX_KEY, text).expect("an index");
        assert_eq!(idx.keys.len(), 3, "a duplicate is read once");
        assert!(idx.keys.insert("pending:s".into()));
        assert!(idx.keys.remove("tokens:b"));
        assert_eq!(
            encode(&idx),
            r#"{"version":2,"keys":["client:a","dpop:c","pending:s"]}"#
        );
        // absent keys: an empty index, written with an empty array
        let empty: Index = decode(INDEX_KEY, r#"{"version":2}"#).expect("an index");
        assert!(empty.keys.is_empty());
        assert_eq!(encode(&empty), r#"{"version":2,"keys":[]}"#);
    }

    #[test]
    fn an_identity_owns_its_tokens_clients_discovery_and_revisions_only() {
        let id = "https://a.example";
        let idx = Index {
            version: RECORD_VERSION,
            keys: [
                tokens_key(id, "https://a.example/mcp"),
                legacy_tokens_key(id),
                client_key(id, "https://as.example"),
                discovery_key("https://a.example/mcp"),
                "protocol:https://a.example/mcp".to_string(),
                tokens_key("https://a.example:8443", "https://a.example:8443/mcp"),
                "protocol:https://a.example.evil/mcp".to_string(),
                discovery_key("https://ab.example/mcp"),
                pending_key("s"),
            ]
            .into_iter()
            .collect(),
        };
        let mut mine = idx.keys_of(id);
        mine.sort();
        let mut want = vec![
            tokens_key(id, "https://a.example/mcp"),
            legacy_tokens_key(id),
            client_key(id, "https://as.example"),
            discovery_key("https://a.example/mcp"),
            "protocol:https://a.example/mcp".to_string(),
        ];
        want.sort();
        assert_eq!(mine, want);
        assert_eq!(
            idx.identities(),
            vec!["https://a.example", "https://a.example:8443"]
        );
        assert_eq!(idx.token_keys_of(id).len(), 2);
    }

    fn record(obtained_at: u64, expires_at: Option<u64>) -> TokenRecord {
        TokenRecord {
            version: RECORD_VERSION,
            identity: "https://a.example".into(),
            resource: "https://a.example/mcp".into(),
            issuer: "https://a.example".into(),
            client_id: "c".into(),
            access_token: AccessToken::new("at"),
            token_type: "Bearer".into(),
            refresh_token: None,
            expires_at,
            scope: None,
            obtained_at,
            id_token: None,
            token_endpoint: None,
            revocation_endpoint: None,
            send_resource: true,
            requested_scope: None,
            flow: None,
            dpop_jkt: None,
        }
    }

    #[test]
    fn a_record_from_a_skewed_clock_is_refreshed_not_trusted() {
        let now = 1_800_000_000;
        // an hour's token obtained ten minutes ago: kept
        assert!(!record(now - 600, Some(now + 3000)).refresh_due(now, 60));
        // obtained a minute "in the future" (another process's clock): within tolerance
        assert!(!record(now + 60, Some(now + 3660)).refresh_due(now, 60));
        // the clock jumped back a day since it was stored: refreshed
        let jumped = record(now + 86_400, Some(now + 90_000));
        assert!(jumped.clock_untrusted(now) && jumped.refresh_due(now, 60));
        // no expiry, obtained in the future: refreshed too
        assert!(record(now + 86_400, None).refresh_due(now, 60));
        // an expiry no server may give (more than ten years out), up to u64::MAX: refreshed
        for far in [now + MAX_LIFETIME_SECS + 1, 99_999_999_999_999, u64::MAX] {
            let r = record(now - 10, Some(far));
            assert!(
                r.clock_untrusted(now) && r.refresh_due(now, u64::MAX),
                "{far}"
            );
        }
        // extreme clocks never overflow
        for (obtained, at, clock) in [(0, Some(u64::MAX), u64::MAX), (u64::MAX, Some(0), 0)] {
            let r = record(obtained, at);
            let _ = (r.refresh_due(clock, u64::MAX), r.skew(u64::MAX));
        }
        assert!(record(u64::MAX, Some(u64::MAX)).refresh_due(0, 0));
    }
}
