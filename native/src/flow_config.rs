//! The `auth:` settings of the grants without a browser (client credentials, JWT bearer,
//! enterprise token exchange): checked when the config is read, turned into core's options
//! (the private key read from its file) when a command uses them.

use mcp_auth_core::grants::{AssertionSource, EnterpriseGrant, Grant};
use mcp_auth_core::jose::{Alg, SigningKey};
use mcp_auth_core::{ClientAuthMethod, ClientSecret};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The keys as written under `auth:`.
#[derive(Deserialize, Default, Clone)]
pub struct RawFlow {
    /// `authorization_code` (default), `client_credentials`, `jwt_bearer`, `token_exchange`.
    #[serde(default)]
    pub grant: Option<String>,
    /// `client_secret_basic`, `client_secret_post`, `private_key_jwt`, `none`.
    #[serde(default)]
    pub client_auth: Option<String>,
    #[serde(default)]
    pub private_key_file: Option<String>,
    #[serde(default)]
    pub signing_alg: Option<String>,
    #[serde(default)]
    pub assertion_file: Option<String>,
    #[serde(default)]
    pub assertion_env: Option<String>,
    #[serde(default)]
    pub assertion_command: Option<String>,
    #[serde(default)]
    pub idp_token_endpoint: Option<String>,
    #[serde(default)]
    pub idp_client_id: Option<String>,
    #[serde(default)]
    pub idp_client_secret: Option<String>,
    #[serde(default)]
    pub id_token_file: Option<String>,
    #[serde(default)]
    pub id_token_env: Option<String>,
    #[serde(default)]
    pub id_token_command: Option<String>,
}

/// The names of the keys above, for the unknown-key warning.
pub const KEYS: &str = "grant, client_auth, private_key_file, signing_alg, assertion_file, assertion_env, assertion_command, idp_token_endpoint, idp_client_id, idp_client_secret, id_token_file, id_token_env, id_token_command";

/// Which grant, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantKind {
    AuthorizationCode,
    ClientCredentials,
    JwtBearer,
    TokenExchange,
}

/// The grant settings of one server, checked (files are read when used).
#[derive(Clone, Debug)]
pub struct FlowConfig {
    pub grant: GrantKind,
    pub client_auth: Option<ClientAuthMethod>,
    pub private_key_file: Option<PathBuf>,
    pub signing_alg: Option<Alg>,
    pub assertion: Option<AssertionSource>,
    pub idp_token_endpoint: Option<String>,
    pub idp_client_id: Option<String>,
    pub idp_client_secret: Option<ClientSecret>,
    pub id_token: Option<AssertionSource>,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            grant: GrantKind::AuthorizationCode,
            client_auth: None,
            private_key_file: None,
            signing_alg: None,
            assertion: None,
            idp_token_endpoint: None,
            idp_client_id: None,
            idp_client_secret: None,
            id_token: None,
        }
    }
}

/// What core needs for the grant: the grant, the client authentication method (if set) and
/// the private key (if any).
pub struct FlowOptions {
    pub grant: Grant,
    pub client_auth: Option<ClientAuthMethod>,
    pub client_key: Option<SigningKey>,
}

/// One source out of `<prefix>_file` / `_env` / `_command` (at most one may be set).
fn source(
    prefix: &str,
    file: Option<String>,
    env: Option<String>,
    command: Option<String>,
    dir: &Path,
) -> Result<Option<AssertionSource>, String> {
    let given: Vec<AssertionSource> = [
        file.map(|f| AssertionSource::File(relative_to(dir, &f).display().to_string())),
        env.map(AssertionSource::Env),
        command.map(AssertionSource::Command),
    ]
    .into_iter()
    .flatten()
    .collect();
    match given.len() {
        0 => Ok(None),
        1 => Ok(given.into_iter().next()),
        _ => Err(format!(
            "set only one of {prefix}_file, {prefix}_env and {prefix}_command"
        )),
    }
}

/// A path from the config, relative to the config file's folder.
fn relative_to(dir: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    }
}

impl RawFlow {
    /// Checks the settings; `config` is the file they came from (relative paths start there).
    /// The error is the problem in words (the caller adds file and server).
    pub fn check(self, config: &Path) -> Result<FlowConfig, String> {
        let dir = config.parent().unwrap_or(Path::new("."));
        let grant = match self.grant.as_deref().map(str::trim) {
            None | Some("" | "authorization_code") => GrantKind::AuthorizationCode,
            Some("client_credentials") => GrantKind::ClientCredentials,
            Some("jwt_bearer" | "urn:ietf:params:oauth:grant-type:jwt-bearer") => {
                GrantKind::JwtBearer
            }
            Some("token_exchange" | "enterprise") => GrantKind::TokenExchange,
            Some(other) => {
                return Err(format!(
                    "`grant: {other}` is not known; use authorization_code, client_credentials, jwt_bearer or token_exchange"
                ))
            }
        };
        let client_auth = match self.client_auth.as_deref() {
            None => None,
            Some(m) => Some(ClientAuthMethod::from_name(m).ok_or_else(|| {
                format!("`client_auth: {m}` is not known; use client_secret_basic, client_secret_post, private_key_jwt or none")
            })?),
        };
        let signing_alg = match self.signing_alg.as_deref() {
            None => None,
            Some(a) => Some(Alg::parse(a).map_err(|e| e.to_string())?),
        };
        let private_key_file = self.private_key_file.map(|p| relative_to(dir, &p));
        if client_auth == Some(ClientAuthMethod::PrivateKeyJwt) && private_key_file.is_none() {
            return Err("`client_auth: private_key_jwt` needs `private_key_file`".into());
        }
        let assertion = source(
            "assertion",
            self.assertion_file,
            self.assertion_env,
            self.assertion_command,
            dir,
        )?;
        let id_token = source(
            "id_token",
            self.id_token_file,
            self.id_token_env,
            self.id_token_command,
            dir,
        )?;
        match grant {
            GrantKind::JwtBearer if assertion.is_none() => {
                return Err("`grant: jwt_bearer` needs the workload token: set assertion_file, assertion_env or assertion_command".into())
            }
            GrantKind::TokenExchange => {
                let mut missing = Vec::new();
                if self.idp_token_endpoint.is_none() {
                    missing.push("idp_token_endpoint");
                }
                if self.idp_client_id.is_none() {
                    missing.push("idp_client_id");
                }
                if id_token.is_none() {
                    missing.push("id_token_file (or id_token_env / id_token_command)");
                }
                if !missing.is_empty() {
                    return Err(format!(
                        "`grant: token_exchange` needs {}",
                        missing.join(", ")
                    ));
                }
            }
            _ => {}
        }
        Ok(FlowConfig {
            grant,
            client_auth,
            private_key_file,
            signing_alg,
            assertion,
            idp_token_endpoint: self.idp_token_endpoint,
            idp_client_id: self.idp_client_id,
            idp_client_secret: self.idp_client_secret.map(ClientSecret::new),
            id_token,
        })
    }
}

impl FlowConfig {
    /// Core's options, with the private key read from its file now.
    pub fn options(&self) -> Result<FlowOptions, String> {
        let client_key = match &self.private_key_file {
            None => None,
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read private_key_file {}: {e}", path.display()))?;
                let key = SigningKey::parse(&text)
                    .map_err(|e| format!("private_key_file {}: {e}", path.display()))?;
                if let Some(alg) = self.signing_alg {
                    key.check_alg(alg)
                        .map_err(|e| format!("private_key_file {}: {e}", path.display()))?;
                }
                Some(key)
            }
        };
        let grant = match self.grant {
            GrantKind::AuthorizationCode => Grant::AuthorizationCode,
            GrantKind::ClientCredentials => Grant::ClientCredentials,
            GrantKind::JwtBearer => Grant::JwtBearer {
                assertion: self
                    .assertion
                    .clone()
                    .ok_or("`grant: jwt_bearer` needs an assertion source")?,
            },
            GrantKind::TokenExchange => Grant::TokenExchange(Box::new(EnterpriseGrant {
                idp_token_endpoint: self
                    .idp_token_endpoint
                    .clone()
                    .ok_or("`grant: token_exchange` needs idp_token_endpoint")?,
                idp_client_id: self
                    .idp_client_id
                    .clone()
                    .ok_or("`grant: token_exchange` needs idp_client_id")?,
                idp_client_secret: self.idp_client_secret.clone(),
                id_token: self
                    .id_token
                    .clone()
                    .ok_or("`grant: token_exchange` needs an id_token source")?,
            })),
        };
        Ok(FlowOptions {
            grant,
            client_auth: self.client_auth,
            client_key,
        })
    }
}
