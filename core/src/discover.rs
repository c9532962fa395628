//! Discovery: from a server URL (and the challenge of its 401) to the protected resource
//! metadata (RFC 9728) and the authorization server metadata (RFC 8414 / OpenID Connect).
//!
//! Discovery only reads. What it finds is cached by a login once that login completes, so a
//! server that names a different authorization server cannot change where an existing grant's
//! tokens go by starting a login the user never finishes.

use crate::client::{McpAuth, Stored};
use crate::error::{Error, Result};
use crate::host::{Host, HttpRequest, HttpResponse};
use crate::metadata::{
    authorization_server_metadata_urls, protected_resource_metadata_urls, AuthServerMetadata,
    ProtectedResourceMetadata,
};
use crate::records::{discovery_key, DiscoveryRecord, RECORD_VERSION};
use crate::urls::{discovered_url, resource_uri, secure_url};
use crate::www_authenticate::{bearer, BearerChallenge};

impl<H: Host> McpAuth<H> {
    async fn get_json_document(&self, url: &str) -> Result<Option<HttpResponse>> {
        let resp = self
            .host
            .send(HttpRequest::get(url).header("accept", "application/json"))
            .await?;
        match resp.status {
            200..=299 => Ok(Some(resp)),
            400..=499 => Ok(None),
            s => Err(Error::Discovery(format!("{url} answered HTTP {s}; try again later")).boxed()),
        }
    }

    /// Sends the unauthenticated MCP request that tells the client where to look (a
    /// 2026-07-28 `server/discover`; a legacy server answers it with its 401 just the same).
    async fn probe(&self, server_url: &str) -> Result<Option<BearerChallenge>> {
        let resp = self
            .host
            .send(crate::mcp::discover_request(server_url))
            .await?;
        Ok(if resp.status == 401 {
            bearer(resp.header_all("www-authenticate"))
        } else {
            None
        })
    }

    /// The cached discovery of a server (written by completed logins), if younger than
    /// `max_age` seconds.
    pub async fn cached_discovery(
        &self,
        server_url: &str,
        max_age: u64,
    ) -> Result<Option<DiscoveryRecord>> {
        let resource = resource_uri(server_url)?;
        let now = self.host.now();
        Ok(
            match self
                .stored(&discovery_key(&resource))
                .await
                .and_then(Stored::decode::<DiscoveryRecord>)
            {
                Ok(Some(rec)) if now.saturating_sub(rec.fetched_at) < max_age => Some(rec),
                _ => None,
            },
        )
    }

    /// Finds the protected resource and authorization server metadata for a server. Reads
    /// only: nothing is stored. `assume_s256` is the per-server escape hatch for
    /// authorization servers that support PKCE without advertising it.
    pub async fn discover(
        &self,
        server_url: &str,
        challenge: Option<BearerChallenge>,
        assume_s256: bool,
    ) -> Result<(DiscoveryRecord, Option<BearerChallenge>)> {
        let resource = resource_uri(server_url)?;
        let server = secure_url(server_url)?;
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
                // the issuer identifier is used exactly as the resource names it (RFC 8414
                // §3.3 compares it as a string with the metadata's `issuer`)
                discovered_url(first, &server)?;
                (first.clone(), false)
            }
            None => (origin.clone(), true),
        };
        let mut found = None;
        for url in authorization_server_metadata_urls(&issuer)? {
            if let Some(resp) = self.get_json_document(&url).await? {
                let meta = AuthServerMetadata::parse(&resp.body, &url)?;
                meta.validate(&issuer, assume_s256, server_url)?;
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
                ))
                .boxed())
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
            fetched_at: self.host.now(),
        };
        Ok((rec, challenge))
    }

    /// The authorization server metadata of `issuer` itself (never of whatever a server
    /// names), for records that predate recorded endpoints. `legacy_origin` allows the
    /// 2025-03-26 default endpoints when the issuer is that origin and publishes nothing.
    /// `server_url` is the resource the record is for (its endpoints may be on this machine
    /// only when it is).
    pub(crate) async fn issuer_metadata(
        &self,
        server_url: &str,
        issuer: &str,
        legacy_origin: Option<&str>,
    ) -> Result<AuthServerMetadata> {
        for url in authorization_server_metadata_urls(issuer)? {
            if let Some(resp) = self.get_json_document(&url).await? {
                let meta = AuthServerMetadata::parse(&resp.body, &url)?;
                meta.validate(issuer, true, server_url)?;
                return Ok(meta);
            }
        }
        match legacy_origin {
            Some(o) if o == issuer => Ok(AuthServerMetadata::legacy_defaults(o)),
            _ => Err(Error::Discovery(format!(
                "no authorization server metadata found for issuer {issuer}"
            ))
            .boxed()),
        }
    }
}
