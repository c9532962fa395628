//! Authorized MCP requests: the token goes only to URLs inside its resource (a DPoP-bound
//! one with a fresh proof, and one retry when the server asks for a new nonce); a 401
//! refreshes once, then logs in again; a 403 `insufficient_scope` steps up with the union of
//! the scopes requested before and the challenged ones. One operation makes at most
//! [`MAX_AUTHORIZATIONS`] authorization requests, the first login included: one call of
//! [`McpAuth::authorized_request`], or all the requests of one MCP connection.

use crate::client::{AuthOptions, LoginOutcome, McpAuth, Retry, MAX_AUTHORIZATIONS};
use crate::error::{Error, Result};
use crate::host::{Host, HttpRequest, HttpResponse};
use crate::records::{join_scopes, TokenRecord};
use crate::urls::{identity, resource_covers, secure_url};
use crate::www_authenticate::bearer;

/// Where a request may carry a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Destination {
    /// Only inside the token's resource (Streamable HTTP, everything by default).
    InsideResource,
    /// The POST endpoint an HTTP+SSE server named on its event stream: on the same origin
    /// as the server the token is for (checked against the record's resource too).
    SameOriginEndpoint,
}

impl<H: Host> McpAuth<H> {
    /// Sends an MCP HTTP request with the bearer token for `server_url`. Without a stored
    /// token the request goes out unauthenticated first, so a login starts from the
    /// challenge of the request the user actually made (its `scope`), and public methods
    /// need no login. A 401 refreshes once, then logs in again (if `opts.interactive`); a 403
    /// `insufficient_scope` re-authorizes with the union of the scopes requested before and
    /// the challenged ones. At most [`MAX_AUTHORIZATIONS`] authorization requests in all.
    /// The token is attached only when the request's URL is inside its resource.
    pub async fn authorized_request(
        &self,
        server_url: &str,
        request: HttpRequest,
        opts: &AuthOptions,
    ) -> Result<HttpResponse> {
        self.send_authorized(
            server_url,
            request,
            opts,
            Destination::InsideResource,
            &mut 0,
        )
        .await
    }

    /// [`Self::authorized_request`] for the POST endpoint an HTTP+SSE server named on its
    /// event stream: it must be on the server's origin (and https, or loopback http).
    pub async fn authorized_endpoint_request(
        &self,
        server_url: &str,
        request: HttpRequest,
        opts: &AuthOptions,
    ) -> Result<HttpResponse> {
        self.send_authorized(
            server_url,
            request,
            opts,
            Destination::SameOriginEndpoint,
            &mut 0,
        )
        .await
    }

    pub(crate) async fn send_authorized(
        &self,
        server_url: &str,
        request: HttpRequest,
        opts: &AuthOptions,
        dest: Destination,
        authorizations: &mut u32,
    ) -> Result<HttpResponse> {
        // errors name the server URL: logging in to it is what helps
        let id = server_url.to_string();
        identity(server_url)?;
        secure_url(&request.url)?;
        let mut record = match self.valid_record_for(server_url, opts).await {
            Ok(r) => Some(r),
            Err(e) if e.needs_login() => None,
            Err(e) => return Err(e),
        };
        let mut refreshed = false;
        let mut relogged = false;
        // one retry with a new nonce per token (RFC 9449 §9)
        let mut nonce_retried = false;
        loop {
            let mut req = request.clone();
            if let Some(r) = &record {
                check_destination(r, server_url, &req.url, dest)?;
                match self.authorize_request(&mut req, r).await {
                    Ok(()) => {}
                    // the key the token is bound to is gone (cleared, another machine's
                    // store): the token is useless, as if there were none
                    Err(e) if matches!(*e, Error::ReauthenticationRequired { .. }) && !relogged => {
                        record = None;
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            let resp = self.host.send(req).await?;
            self.note_nonce(&request.url, &resp);
            let challenge = bearer(resp.header_all("www-authenticate"));
            match resp.status {
                401 if !nonce_retried
                    && record.as_ref().is_some_and(TokenRecord::is_dpop_bound)
                    && crate::dpop::is_rs_nonce_challenge(&resp) =>
                {
                    nonce_retried = true;
                }
                401 => {
                    nonce_retried = false;
                    if let (Some(r), false) = (&record, refreshed) {
                        refreshed = true;
                        match self.refresh_record(r, Some(&r.access_token)).await {
                            Ok(new) => {
                                record = Some(new);
                                continue;
                            }
                            Err(e) if e.needs_login() => {}
                            Err(e) => return Err(e),
                        }
                    }
                    if relogged {
                        return Err(Error::Unauthorized { status: 401 }.boxed());
                    }
                    // a grant without a browser needs no user: it may always run
                    if !opts.interactive && opts.grant.uses_browser() {
                        return Err(match record {
                            None => Error::LoginRequired { identity: id },
                            Some(_) => Error::ReauthenticationRequired { identity: id },
                        }
                        .boxed());
                    }
                    if *authorizations >= MAX_AUTHORIZATIONS {
                        return Err(Error::Unauthorized { status: 401 }.boxed());
                    }
                    *authorizations += 1;
                    relogged = true;
                    // a token the server rejected means what was cached may be stale
                    let fresh = record.is_some();
                    record = Some(
                        self.login_and_read(
                            server_url,
                            opts,
                            Retry {
                                challenge,
                                scope: None,
                                fresh,
                            },
                        )
                        .await?,
                    );
                }
                403 if challenge.as_ref().and_then(|c| c.error.as_deref())
                    == Some("insufficient_scope") =>
                {
                    let wanted = challenge
                        .as_ref()
                        .and_then(|c| c.scope.clone())
                        .unwrap_or_default();
                    if *authorizations >= MAX_AUTHORIZATIONS
                        || (!opts.interactive && opts.grant.uses_browser())
                    {
                        return Err(Error::StepUpExhausted {
                            attempts: *authorizations,
                            scope: wanted,
                        }
                        .boxed());
                    }
                    *authorizations += 1;
                    nonce_retried = false;
                    let before = record
                        .as_ref()
                        .and_then(TokenRecord::base_scope)
                        .unwrap_or_default();
                    let union = join_scopes(&[before, &wanted]);
                    record = Some(
                        self.login_and_read(
                            server_url,
                            opts,
                            Retry {
                                challenge,
                                scope: union,
                                fresh: false,
                            },
                        )
                        .await?,
                    );
                }
                _ => return Ok(resp),
            }
        }
    }

    /// Logs in and reads back the record the login stored for this server.
    pub(crate) async fn login_and_read(
        &self,
        server_url: &str,
        opts: &AuthOptions,
        retry: Retry,
    ) -> Result<TokenRecord> {
        match self.login_inner(server_url, opts, retry).await? {
            LoginOutcome::Completed(info) => self.token_record(server_url).await?.ok_or(
                Error::LoginRequired {
                    identity: info.identity,
                }
                .boxed(),
            ),
            LoginOutcome::Redirected => Err(Error::Redirected.boxed()),
        }
    }
}

/// A token goes only inside the resource it was issued for (or, for an HTTP+SSE endpoint,
/// to the origin of that resource's server).
pub(crate) fn check_destination(
    record: &TokenRecord,
    server_url: &str,
    url: &str,
    dest: Destination,
) -> Result<()> {
    let allowed = resource_covers(&record.resource, url)
        || (dest == Destination::SameOriginEndpoint
            && resource_covers(&record.resource, server_url)
            && matches!((identity(url), identity(server_url)), (Ok(a), Ok(b)) if a == b));
    if allowed && secure_url(url).is_ok() {
        Ok(())
    } else {
        Err(Error::TokenDestination {
            resource: record.resource.clone(),
            url: url.to_string(),
        }
        .boxed())
    }
}
