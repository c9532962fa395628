//! Protected resource metadata (RFC 9728) and authorization server metadata (RFC 8414 and
//! OpenID Connect Discovery): the documents, the URLs to try, and the checks.

use crate::error::{Error, Result};
use crate::urls::{discovered_url, parse_http_url, resource_covers};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProtectedResourceMetadata {
    pub resource: String,
    pub authorization_servers: Vec<String>,
    pub scopes_supported: Option<Vec<String>>,
    pub resource_name: Option<String>,
}

crate::json_struct!(ProtectedResourceMetadata {
    resource,
    authorization_servers = Default::default,
    scopes_supported: opt,
    resource_name: opt,
});

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub registration_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub scopes_supported: Option<Vec<String>>,
    pub code_challenge_methods_supported: Option<Vec<String>>,
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// The JWS algorithms the token endpoint takes for `private_key_jwt`.
    pub token_endpoint_auth_signing_alg_values_supported: Option<Vec<String>>,
    pub authorization_response_iss_parameter_supported: bool,
    pub client_id_metadata_document_supported: bool,
    /// RFC 9449 §5.1: the proof algorithms the server accepts (DPoP is used when it lists
    /// ES256).
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
}

crate::json_struct!(AuthServerMetadata {
    issuer,
    authorization_endpoint,
    token_endpoint,
    registration_endpoint: opt,
    revocation_endpoint: opt,
    scopes_supported: opt,
    code_challenge_methods_supported: opt,
    token_endpoint_auth_methods_supported: opt,
    token_endpoint_auth_signing_alg_values_supported: opt,
    authorization_response_iss_parameter_supported = Default::default,
    client_id_metadata_document_supported = Default::default,
    dpop_signing_alg_values_supported: opt,
});

/// Where to look for protected resource metadata, in order: the URL from the
/// `WWW-Authenticate` header, then the path-inserted well-known URL, then the root one.
pub fn protected_resource_metadata_urls(
    server_url: &str,
    from_header: Option<&str>,
) -> Result<Vec<String>> {
    let url = parse_http_url(server_url)?;
    let origin = url.origin().ascii_serialization();
    let mut out = Vec::new();
    if let Some(h) = from_header {
        out.push(discovered_url(h, &url)?.as_str().to_string());
    }
    let path = url.path().trim_end_matches('/');
    if !path.is_empty() {
        out.push(format!(
            "{origin}/.well-known/oauth-protected-resource{path}"
        ));
    }
    out.push(format!("{origin}/.well-known/oauth-protected-resource"));
    out.dedup();
    Ok(out)
}

/// Where to look for authorization server metadata for an issuer, in order (MCP 2025-11-25):
/// with a path, RFC 8414 path-inserted, OIDC path-inserted, OIDC path-appended; without, the
/// RFC 8414 and OIDC well-known URLs at the root.
pub fn authorization_server_metadata_urls(issuer: &str) -> Result<Vec<String>> {
    let url = parse_http_url(issuer)?;
    let origin = url.origin().ascii_serialization();
    let path = url.path().trim_end_matches('/');
    Ok(if path.is_empty() {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server"),
            format!("{origin}/.well-known/openid-configuration"),
        ]
    } else {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server{path}"),
            format!("{origin}/.well-known/openid-configuration{path}"),
            format!("{origin}{path}/.well-known/openid-configuration"),
        ]
    })
}

/// Issuers compare as exact strings (RFC 8414 §3.3, RFC 9207 §2.4, MCP SEP-2468): no case
/// folding, no trailing-slash forgiveness, no other normalisation.
pub fn same_issuer(a: &str, b: &str) -> bool {
    a == b
}

impl ProtectedResourceMetadata {
    pub fn parse(body: &[u8], url: &str) -> Result<Self> {
        crate::json::from_slice(body).map_err(|e| {
            Error::Discovery(format!(
                "protected resource metadata at {url} is not valid JSON: {e}"
            ))
            .boxed()
        })
    }

    /// The document must speak for the server the user asked for (RFC 9728 §3.3).
    pub fn check_resource(&self, server_resource: &str, url: &str) -> Result<()> {
        if resource_covers(&self.resource, server_resource) {
            Ok(())
        } else {
            Err(Error::ResourceMismatch {
                url: url.to_string(),
                expected: server_resource.to_string(),
                found: self.resource.clone(),
            }
            .boxed())
        }
    }
}

impl AuthServerMetadata {
    pub fn parse(body: &[u8], url: &str) -> Result<Self> {
        crate::json::from_slice(body).map_err(|e| {
            Error::Discovery(format!(
                "authorization server metadata at {url} is not usable: {e}"
            ))
            .boxed()
        })
    }

    /// The issuer must be the one asked for, PKCE S256 must be offered, and every endpoint must
    /// be https (or loopback http), and on this machine only when `server_url` (the server the
    /// user gave) is too (see [`discovered_url`]). With `assume_s256` (a per-server escape hatch for servers
    /// that support PKCE without saying so), an absent `code_challenge_methods_supported` is
    /// taken as S256; a list without S256 is still refused.
    pub fn validate(
        &self,
        expected_issuer: &str,
        assume_s256: bool,
        server_url: &str,
    ) -> Result<()> {
        let server = parse_http_url(server_url)?;
        if !same_issuer(&self.issuer, expected_issuer) {
            return Err(Error::IssuerMismatch {
                expected: expected_issuer.to_string(),
                found: self.issuer.clone(),
            }
            .boxed());
        }
        match &self.code_challenge_methods_supported {
            Some(m) if m.iter().any(|x| x == "S256") => {}
            None if assume_s256 => {}
            other => {
                return Err(Error::PkceUnsupported {
                    issuer: self.issuer.clone(),
                    advertised: match other {
                        Some(m) => format!("[{}]", crate::text::join(m, ", ")),
                        None => "absent".into(),
                    },
                }
                .boxed())
            }
        }
        discovered_url(&self.authorization_endpoint, &server)?;
        discovered_url(&self.token_endpoint, &server)?;
        for u in [&self.registration_endpoint, &self.revocation_endpoint]
            .into_iter()
            .flatten()
        {
            discovered_url(u, &server)?;
        }
        Ok(())
    }

    /// The 2025-03-26 fallback when a server publishes no metadata: default endpoints at the
    /// origin (PKCE S256 assumed, as that revision requires it of every server).
    pub fn legacy_defaults(origin: &str) -> Self {
        AuthServerMetadata {
            issuer: origin.to_string(),
            authorization_endpoint: format!("{origin}/authorize"),
            token_endpoint: format!("{origin}/token"),
            registration_endpoint: Some(format!("{origin}/register")),
            code_challenge_methods_supported: Some(vec!["S256".into()]),
            ..Default::default()
        }
    }

    pub fn supports_scope(&self, scope: &str) -> bool {
        self.scopes_supported
            .as_ref()
            .is_some_and(|s| s.iter().any(|x| x == scope))
    }
}
