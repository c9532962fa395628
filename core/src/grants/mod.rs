//! Tokens without a browser: the client credentials grant (OAuth 2.1 §4.2, the MCP
//! client-credentials extension, SEP-1046), the JWT-bearer grant (RFC 7523) with a workload
//! identity token (SEP-1933), and enterprise-managed authorization (SEP-990): an RFC 8693
//! token exchange at the identity provider for an ID-JAG, then the JWT-bearer grant with it
//! at the MCP authorization server.
//!
//! Discovery is the browser login's (protected resource metadata, authorization server
//! metadata, the scope from the challenge or the metadata, the `resource` indicator). The
//! client is always a configured one, bound to its issuer like any configured client. No
//! refresh token is kept: when the token is due, the grant runs again, under the same locks a
//! refresh holds, so parallel processes fetch one token, not one each. A refused grant is an
//! error naming who refused it; nothing is retried and no other grant is tried.

mod messages;

pub use messages::{
    client_assertion, CLIENT_ASSERTION_LIFETIME, CLIENT_ASSERTION_TYPE, CLIENT_CREDENTIALS,
    JWT_BEARER, TOKEN_EXCHANGE, TOKEN_TYPE_ID_JAG, TOKEN_TYPE_ID_TOKEN,
};

use crate::client::{AuthOptions, McpAuth, Retry, Stored, TokenInfo};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::metadata::AuthServerMetadata;
use crate::oauth::{self, TokenBinding};
use crate::records::{
    client_key, discovery_key, tokens_key, ClientAuthMethod, ClientRecord, ClientSource,
    TokenRecord, RECORD_VERSION,
};
use crate::secret::{AccessToken, Assertion, ClientSecret};
use crate::urls::{identity, resource_uri, secure_url};
use messages::{
    check_signing_alg, exchange_params, into_refused, parse_exchange_response, token_request,
    with_assertion_clock_hint, ExchangeParams,
};

/// How tokens are obtained.
#[derive(Clone, Debug, Default)]
pub enum Grant {
    /// The browser login (authorization code with PKCE).
    #[default]
    AuthorizationCode,
    /// The client's own credentials: a secret (`client_secret_basic` / `_post`) or a private
    /// key (`private_key_jwt`).
    ClientCredentials,
    /// An assertion the platform issued (workload identity federation), presented with the
    /// JWT-bearer grant.
    JwtBearer { assertion: AssertionSource },
    /// Enterprise-managed authorization: the identity provider's ID token exchanged there
    /// for an ID-JAG, presented with the JWT-bearer grant.
    TokenExchange(Box<EnterpriseGrant>),
}

impl Grant {
    /// Whether this grant sends the user to a browser.
    pub fn uses_browser(&self) -> bool {
        matches!(self, Grant::AuthorizationCode)
    }

    /// The name recorded with the tokens and shown by `status` (`None` for the browser
    /// login).
    pub fn flow_name(&self) -> Option<&'static str> {
        match self {
            Grant::AuthorizationCode => None,
            Grant::ClientCredentials => Some("client_credentials"),
            Grant::JwtBearer { .. } => Some("jwt_bearer"),
            Grant::TokenExchange(_) => Some("token_exchange"),
        }
    }
}

/// Where the identity provider is and who the client is there (SEP-990).
#[derive(Clone, Debug)]
pub struct EnterpriseGrant {
    /// The identity provider's token endpoint (RFC 8693 token exchange).
    pub idp_token_endpoint: String,
    /// The client id at the identity provider.
    pub idp_client_id: String,
    /// Its secret there, if it has one (sent with HTTP Basic).
    pub idp_client_secret: Option<ClientSecret>,
    /// The user's ID token from the identity provider.
    pub id_token: AssertionSource,
}

/// Where an assertion comes from. Hosts read it afresh on every use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AssertionSource {
    /// The assertion itself.
    Value(Assertion),
    /// A file holding it (e.g. a Kubernetes projected service account token).
    File(String),
    /// An environment variable holding it.
    Env(String),
    /// A command that prints it (run through the shell).
    Command(String),
}

impl AssertionSource {
    /// Where it is, in words (never the assertion itself).
    pub fn describe(&self) -> String {
        match self {
            AssertionSource::Value(_) => "the assertion given in the configuration".into(),
            AssertionSource::File(p) => format!("the file `{p}`"),
            AssertionSource::Env(v) => format!("the environment variable `{v}`"),
            AssertionSource::Command(c) => format!("the output of `{c}`"),
        }
    }
}

impl<H: Host> McpAuth<H> {
    /// The stored record for the server, renewed first when it is about to expire: by a
    /// refresh for the browser login, by running the configured grant again otherwise (which
    /// also obtains the first token: these grants need no user).
    pub async fn valid_record_for(
        &self,
        server_url: &str,
        opts: &AuthOptions,
    ) -> Result<TokenRecord> {
        if opts.grant.uses_browser() {
            return self.valid_record(server_url).await;
        }
        let stale = self.token_record(server_url).await?;
        if let Some(r) = &stale {
            if !r.refresh_due(self.host.now(), self.refresh_skew) {
                return Ok(r.clone());
            }
        }
        let info = self
            .grant_login(
                server_url,
                opts,
                Retry::default(),
                stale.as_ref().map(|r| &r.access_token),
            )
            .await?;
        self.token_record(server_url).await?.ok_or(
            Error::LoginRequired {
                identity: info.identity,
            }
            .boxed(),
        )
    }

    /// [`Self::valid_record_for`]'s access token.
    pub async fn access_token_for(
        &self,
        server_url: &str,
        opts: &AuthOptions,
    ) -> Result<AccessToken> {
        Ok(self.valid_record_for(server_url, opts).await?.access_token)
    }

    /// Runs the configured grant and stores its token. With `stale`, the caller holds that
    /// (expiring or rejected) token: when another process has replaced it meanwhile, that
    /// replacement is used instead of a new grant.
    pub(crate) async fn grant_login(
        &self,
        server_url: &str,
        opts: &AuthOptions,
        retry: Retry,
        stale: Option<&AccessToken>,
    ) -> Result<TokenInfo> {
        let Some(flow) = opts.grant.flow_name() else {
            return Err(Error::Invalid(
                "the browser login is not a grant without a browser".into(),
            )
            .boxed());
        };
        let identity = identity(server_url)?;
        // PKCE plays no part here: an authorization server that does not advertise it is fine
        let (disc, challenge) = self
            .discovery_for(server_url, opts, retry.challenge, retry.fresh, true)
            .await?;
        let meta = &disc.authorization_server;
        let scope = retry
            .scope
            .or_else(|| self.choose_scope(opts, challenge.as_ref(), &disc, false));
        let client = self.grant_client(&identity, meta, opts, flow).await?;
        let dpop = crate::dpop::use_dpop(opts.dpop, meta)?;
        let send_resource = !disc.fixed && opts.send_resource;
        let resource = disc.resource.clone();
        let key = tokens_key(&identity, &resource);
        let record = {
            let lock_name = format!("refresh:{identity}|{resource}");
            let local = self.local_lock(&lock_name);
            let _local = local.lock().await;
            let _host = self.host.lock(&lock_name).await?;
            let now = self.host.now();
            if let Some(stale) = stale {
                if let Ok(Some(current)) = self
                    .stored(&key)
                    .await
                    .and_then(Stored::decode::<TokenRecord>)
                {
                    if &current.access_token != stale
                        && !current.refresh_due(now, self.refresh_skew)
                    {
                        return Ok(TokenInfo::from(&current));
                    }
                }
            }
            let party = format!("the MCP authorization server `{}`", meta.issuer);
            let resource_param = send_resource.then_some(resource.as_str());
            let assertion = match &opts.grant {
                Grant::JwtBearer { assertion } => Some(
                    self.read_assertion(assertion, "workload identity token")
                        .await?,
                ),
                Grant::TokenExchange(enterprise) => Some(
                    self.exchange_for_id_jag(enterprise, &meta.issuer, &resource, scope.as_deref())
                        .await?,
                ),
                _ => None,
            };
            let mut params: Vec<(&str, &str)> = match &assertion {
                Some(a) => vec![("grant_type", JWT_BEARER), ("assertion", a.secret())],
                None => vec![("grant_type", CLIENT_CREDENTIALS)],
            };
            if let Some(s) = scope.as_deref() {
                params.push(("scope", s));
            }
            if let Some(r) = resource_param {
                params.push(("resource", r));
            }
            // with DPoP, the token request carries a proof and the token is bound to the key;
            // a nonce retry is built anew (a client assertion's jti is good for one request)
            let build = || -> crate::dpop::RequestFuture<'_> {
                Box::pin(token_request(
                    &meta.token_endpoint,
                    &client,
                    opts.client_key.as_ref(),
                    &meta.issuer,
                    now,
                    &params,
                ))
            };
            let (resp, jkt) = self
                .send_token_request_with(&identity, &build, dpop)
                .await?;
            let grant = oauth::parse_token_response(&resp, now, scope.as_deref())
                .map_err(|e| {
                    let e = with_assertion_clock_hint(*e, client.auth_method);
                    into_refused(&format!("{party} ({flow} grant)"), e)
                })?
                .bind(jkt)?;
            let mut record = grant.into_record(
                &TokenBinding {
                    identity: &identity,
                    resource: &resource,
                    issuer: &meta.issuer,
                    client_id: &client.client_id,
                    token_endpoint: &meta.token_endpoint,
                    revocation_endpoint: meta.revocation_endpoint.as_deref(),
                    send_resource,
                    requested_scope: scope.as_deref(),
                },
                now,
                None,
            );
            // renewed by running the grant again, never by a refresh token
            record.refresh_token = None;
            record.flow = Some(flow.to_string());
            self.write(&key, &record).await?;
            record
        };
        // the configured client is now bound to this issuer, and discovery is cached
        self.write(&client_key(&identity, &meta.issuer), &client)
            .await?;
        if !disc.fixed {
            self.write(&discovery_key(&resource_uri(server_url)?), &disc)
                .await?;
        }
        Ok(TokenInfo::from(&record))
    }

    /// The configured client for a grant without a browser, bound to `meta`'s issuer, with
    /// its authentication method: explicit, else `private_key_jwt` when a key is configured,
    /// else what the secret and the metadata suggest.
    async fn grant_client(
        &self,
        identity: &str,
        meta: &AuthServerMetadata,
        opts: &AuthOptions,
        flow: &str,
    ) -> Result<ClientRecord> {
        let Some(id) = &opts.client_id else {
            return Err(Error::Invalid(format!(
                "the {flow} grant needs a client registered with the authorization server: configure client_id (and client_secret or private_key_file)"
            )).boxed());
        };
        self.check_configured_issuer(identity, id, &meta.issuer, opts)
            .await?;
        let method = match (opts.client_auth_method, &opts.client_key) {
            (Some(m), _) => m,
            (None, Some(_)) => ClientAuthMethod::PrivateKeyJwt,
            (None, None) => oauth::choose_auth_method(None, opts.client_secret.is_some(), meta),
        };
        match method {
            ClientAuthMethod::PrivateKeyJwt => match &opts.client_key {
                Some(key) => check_signing_alg(key, meta)?,
                None => {
                    return Err(Error::SigningKey(format!(
                        "client {id} uses private_key_jwt but no private key is configured (private_key_file)"
                    )).boxed())
                }
            },
            ClientAuthMethod::ClientSecretBasic | ClientAuthMethod::ClientSecretPost
                if opts.client_secret.is_none() =>
            {
                return Err(Error::Invalid(format!(
                    "client {id} uses {} but no client_secret is configured",
                    method.as_str()
                )).boxed())
            }
            _ => {}
        }
        if method == ClientAuthMethod::None && flow == "client_credentials" {
            return Err(Error::Invalid(format!(
                "the client_credentials grant needs the client to authenticate: configure client_secret or private_key_file for client {id}"
            )).boxed());
        }
        Ok(ClientRecord {
            version: RECORD_VERSION,
            issuer: meta.issuer.clone(),
            client_id: id.clone(),
            client_secret: opts.client_secret.clone(),
            auth_method: method,
            source: ClientSource::Configured,
            redirect_uris: Vec::new(),
            registered_at: None,
        })
    }

    /// The assertion from the host, read now.
    async fn read_assertion(&self, source: &AssertionSource, what: &str) -> Result<Assertion> {
        let assertion = self.host.assertion(source).await.map_err(|reason| {
            Error::Assertion(format!(
                "cannot read the {what} from {}: {reason}",
                source.describe()
            ))
        })?;
        let trimmed = assertion.secret().trim_ascii();
        if trimmed.is_empty() {
            return Err(Error::Assertion(format!(
                "the {what} from {} is empty",
                source.describe()
            ))
            .boxed());
        }
        Ok(Assertion::new(trimmed))
    }

    /// SEP-990 step one: the user's ID token for an ID-JAG at the identity provider, for the
    /// MCP authorization server `audience` and the MCP server `resource`.
    async fn exchange_for_id_jag(
        &self,
        enterprise: &EnterpriseGrant,
        audience: &str,
        resource: &str,
        scope: Option<&str>,
    ) -> Result<Assertion> {
        let endpoint = &enterprise.idp_token_endpoint;
        secure_url(endpoint)?;
        let id_token = self
            .read_assertion(&enterprise.id_token, "identity provider's ID token")
            .await?;
        let idp_client = ClientRecord {
            version: RECORD_VERSION,
            issuer: String::new(),
            client_id: enterprise.idp_client_id.clone(),
            client_secret: enterprise.idp_client_secret.clone(),
            auth_method: if enterprise.idp_client_secret.is_some() {
                ClientAuthMethod::ClientSecretBasic
            } else {
                ClientAuthMethod::None
            },
            source: ClientSource::Configured,
            redirect_uris: Vec::new(),
            registered_at: None,
        };
        let exchange = ExchangeParams {
            id_token: &id_token,
            audience,
            resource,
            scope,
        };
        let request =
            oauth::client_form_request(endpoint, &idp_client, &exchange_params(&exchange));
        let resp = self.host.send(request).await?;
        parse_exchange_response(
            &resp,
            &format!("the identity provider at `{endpoint}` (token exchange for an ID-JAG)"),
        )
    }
}

#[cfg(test)]
mod tests;
