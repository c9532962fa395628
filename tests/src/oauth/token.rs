//! `POST /token`: client authentication, the code and refresh grants.

use std::time::Instant;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::find_client;
use crate::dpop::{self, Role};
use crate::server::{body_text, content_type_is, json_response};
use crate::state::{
    AccessToken, AuthMethod, Client, Grant, Inner, RefreshState, RefreshToken, Shared,
    CODEX_ACCOUNT_ID,
};
use crate::util::{basic_credentials, random_token, s256, unix_now, valid_pkce_string, Params};

/// An OAuth error response (RFC 6749 §5.2).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut resp = json_response(
        status,
        &json!({"error": error, "error_description": description}),
    );
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if status == StatusCode::UNAUTHORIZED {
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"mcp-auth-testkit\""),
        );
    }
    resp
}

pub(super) fn bad_request(error: &str, description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, error, description)
}

pub(super) fn invalid_client(description: &str) -> Response {
    oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description)
}

/// Read a form-encoded POST body; the error is a ready 400 response.
pub(super) async fn read_form(req: Request) -> Result<(HeaderMap, Params), Response> {
    let (parts, body) = req.into_parts();
    if !content_type_is(&parts.headers, "application/x-www-form-urlencoded") {
        return Err(bad_request(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let text = body_text(body)
        .await
        .map_err(|e| bad_request("invalid_request", &e))?;
    let p = Params::parse(&text);
    if let Some(r) = p.repeated() {
        return Err(bad_request(
            "invalid_request",
            &format!("the parameter {r} is repeated"),
        ));
    }
    Ok((parts.headers, p))
}

/// Client authentication at /token and /revoke, per the client's registered method.
pub(super) fn authenticate(
    ctx: &Shared,
    headers: &HeaderMap,
    p: &Params,
) -> Result<Client, Response> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_credentials);
    match basic {
        Some(Err(e)) => Err(invalid_client(&e)),
        Some(Ok((id, secret))) => {
            if p.get("client_secret").is_some() {
                return Err(bad_request(
                    "invalid_request",
                    "use only one client authentication method",
                ));
            }
            if p.get("client_id").is_some_and(|b| b != id) {
                return Err(invalid_client(
                    "client_id in the body differs from the Basic credentials",
                ));
            }
            let client = find_client(ctx, &id)
                .ok_or_else(|| invalid_client(&format!("unknown client {id}")))?;
            if client.auth_method != AuthMethod::ClientSecretBasic {
                return Err(invalid_client(&format!(
                    "client {id} is registered for token_endpoint_auth_method {}",
                    client.auth_method.name()
                )));
            }
            if client.client_secret.as_deref() != Some(secret.as_str()) {
                return Err(invalid_client("wrong client secret"));
            }
            Ok(client)
        }
        None => {
            let Some(id) = p.get("client_id") else {
                return Err(invalid_client("no client authentication"));
            };
            let client = find_client(ctx, id)
                .ok_or_else(|| invalid_client(&format!("unknown client {id}")))?;
            match client.auth_method {
                AuthMethod::None => {
                    if p.get("client_secret").is_some() {
                        return Err(invalid_client(
                            "this public client (method none) must not send a client_secret",
                        ));
                    }
                }
                AuthMethod::ClientSecretPost => match p.get("client_secret") {
                    Some(s) if client.client_secret.as_deref() == Some(s) => {}
                    Some(_) => return Err(invalid_client("wrong client secret")),
                    None => {
                        return Err(invalid_client(
                            "client_secret is missing (method client_secret_post)",
                        ))
                    }
                },
                AuthMethod::ClientSecretBasic => {
                    return Err(invalid_client(
                        "this client must authenticate with HTTP Basic (client_secret_basic)",
                    ))
                }
            }
            Ok(client)
        }
    }
}

/// `POST /token`.
pub(super) async fn token(ctx: &Shared, req: Request) -> Response {
    let htu = format!("{}{}", ctx.as_origin, req.uri().path());
    let (headers, p) = match read_form(req).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    // secrets, or a private_key_jwt client assertion (oauth/grants.rs)
    let client = match super::grants::authenticate(ctx, &headers, &p) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    // DPoP (RFC 9449 §5): a proof binds the tokens to its key; a nonce may be demanded
    // first (the code is not spent by that answer)
    let proof = if dpop::enabled(ctx) {
        match dpop::check_proof(ctx, &headers, "POST", &htu) {
            Ok(p) => p,
            Err(e) => return bad_request("invalid_dpop_proof", &e),
        }
    } else {
        None
    };
    if let Some(proof) = &proof {
        if !dpop::nonce_ok(ctx, Role::As, proof) {
            return dpop::as_nonce_challenge(ctx);
        }
    }
    let jkt = proof.as_ref().map(|p| p.jkt.as_str());
    let resp = match p.get("grant_type") {
        Some("authorization_code") => code_grant(ctx, &client, &p, jkt),
        Some("refresh_token") => refresh_grant(ctx, &client, &p, jkt),
        Some("client_credentials") => super::grants::client_credentials(ctx, &client, &p, jkt),
        Some(super::grants::JWT_BEARER) => super::grants::jwt_bearer(ctx, &client, &p, jkt),
        Some(other) => bad_request(
            "unsupported_grant_type",
            &format!("grant_type {other} is not supported"),
        ),
        None => bad_request("invalid_request", "grant_type is missing"),
    };
    if proof.is_some() && resp.status().is_success() {
        dpop::with_nonce(resp, dpop::rotate(ctx, Role::As))
    } else {
        resp
    }
}

fn code_grant(ctx: &Shared, client: &Client, p: &Params, jkt: Option<&str>) -> Response {
    let Some(code) = p.get("code") else {
        return bad_request("invalid_request", "code is missing");
    };
    let mut inner = ctx.lock();
    let Some(entry) = inner.codes.get_mut(code) else {
        return bad_request("invalid_grant", "unknown authorization code");
    };
    if entry.used {
        let grant = entry.grant;
        if let Some(g) = grant {
            inner.revoke_grant(g);
        }
        return bad_request(
            "invalid_grant",
            "the authorization code was already used; tokens issued from it are revoked",
        );
    }
    // One attempt per code, successful or not.
    entry.used = true;
    if Instant::now() >= entry.expires {
        return bad_request("invalid_grant", "the authorization code expired");
    }
    let req = entry.req.clone();
    if req.client_id != client.client_id {
        return bad_request(
            "invalid_grant",
            "the authorization code was issued to another client",
        );
    }
    match p.get("redirect_uri") {
        Some(r) if r == req.redirect_uri => {}
        Some(_) => {
            return bad_request(
                "invalid_grant",
                "redirect_uri differs from the authorization request",
            )
        }
        None => return bad_request("invalid_request", "redirect_uri is missing"),
    }
    let Some(verifier) = p.get("code_verifier") else {
        return bad_request("invalid_grant", "code_verifier is missing (PKCE)");
    };
    inner.verifiers_seen.push(verifier.to_string());
    if !valid_pkce_string(verifier) {
        return bad_request(
            "invalid_grant",
            "code_verifier is malformed (RFC 7636 §4.1)",
        );
    }
    if s256(verifier) != req.code_challenge {
        return bad_request(
            "invalid_grant",
            "PKCE verification failed: code_verifier does not match code_challenge",
        );
    }
    if let Some(r) = p.get("resource") {
        if r != req.resource {
            return bad_request(
                "invalid_target",
                &format!("resource {r} differs from the authorized resource"),
            );
        }
    }
    let grant = inner.next_grant;
    inner.next_grant += 1;
    inner.grants.insert(
        grant,
        Grant {
            scope: req.scope.clone(),
            resource: req.resource.clone(),
            revoked: false,
        },
    );
    if let Some(entry) = inner.codes.get_mut(code) {
        entry.grant = Some(grant);
    }
    issue_tokens(
        ctx,
        &mut inner,
        client,
        grant,
        req.scope,
        &req.resource,
        jkt,
    )
}

pub(super) fn issue_tokens(
    ctx: &Shared,
    inner: &mut Inner,
    client: &Client,
    grant: u64,
    scope: Vec<String>,
    resource: &str,
    jkt: Option<&str>,
) -> Response {
    let access = random_token(32);
    inner.access.insert(
        access.clone(),
        AccessToken {
            grant,
            client_id: client.client_id.clone(),
            scope: scope.clone(),
            resource: resource.to_string(),
            expires: Instant::now() + ctx.token_lifetime,
            revoked: false,
            jkt: jkt.map(str::to_string),
        },
    );
    let mut body = json!({
        "access_token": access,
        "token_type": if jkt.is_some() { "DPoP" } else { "Bearer" },
        "expires_in": ctx.token_lifetime.as_secs(),
        "scope": scope.join(" "),
    });
    if scope.iter().any(|s| s == "openid") {
        body["id_token"] = json!(id_token(ctx, client));
    }
    if client.allows_grant("refresh_token") {
        let refresh = random_token(32);
        inner.refresh.insert(
            refresh.clone(),
            RefreshToken {
                grant,
                client_id: client.client_id.clone(),
                state: RefreshState::Active,
                // RFC 9449 §5: a public client's refresh token is bound to the DPoP key
                jkt: jkt
                    .filter(|_| client.auth_method == AuthMethod::None)
                    .map(str::to_string),
            },
        );
        body["refresh_token"] = json!(refresh);
    }
    let mut resp = json_response(StatusCode::OK, &body);
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// An (unsigned, `alg: none`) id_token in the shape OpenAI's sign-in returns, carrying the
/// ChatGPT account id claim the Codex login reads.
fn id_token(ctx: &Shared, client: &Client) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let header = json!({"alg": "none", "typ": "JWT"});
    let now = unix_now();
    let claims = json!({
        "iss": ctx.issuer(),
        "aud": client.client_id,
        "sub": "user-testkit",
        "email": "user@example.com",
        "iat": now,
        "exp": now + 3600,
        "https://api.openai.com/auth": {
            "chatgpt_account_id": CODEX_ACCOUNT_ID,
            "chatgpt_plan_type": "plus"
        }
    });
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn refresh_grant(ctx: &Shared, client: &Client, p: &Params, jkt: Option<&str>) -> Response {
    let Some(rt) = p.get("refresh_token") else {
        return bad_request("invalid_request", "refresh_token is missing");
    };
    if !client.allows_grant("refresh_token") {
        return bad_request(
            "unauthorized_client",
            "the client did not register the refresh_token grant",
        );
    }
    let mut inner = ctx.lock();
    let Some(entry) = inner.refresh.get(rt).cloned() else {
        return bad_request("invalid_grant", "unknown refresh token");
    };
    if entry.client_id != client.client_id {
        return bad_request(
            "invalid_grant",
            "the refresh token was issued to another client",
        );
    }
    if let Some(bound) = &entry.jkt {
        match jkt {
            Some(k) if k == bound => {}
            Some(_) => {
                return bad_request(
                    "invalid_grant",
                    "the refresh token is bound to another DPoP key",
                )
            }
            None => {
                return bad_request(
                    "invalid_grant",
                    "the refresh token is DPoP-bound: the request needs a proof by its key",
                )
            }
        }
    }
    match entry.state {
        RefreshState::Active => {}
        RefreshState::Rotated => {
            inner.revoke_grant(entry.grant);
            return bad_request(
                "invalid_grant",
                "refresh token reuse detected: the token was already rotated; the grant is revoked",
            );
        }
        RefreshState::Revoked => {
            return bad_request("invalid_grant", "the refresh token was revoked")
        }
    }
    let Some(grant) = inner
        .grants
        .get(&entry.grant)
        .filter(|g| !g.revoked)
        .cloned()
    else {
        return bad_request("invalid_grant", "the grant was revoked");
    };
    let scope = match p.get("scope") {
        None => grant.scope.clone(),
        Some(s) => {
            let requested: Vec<String> = s
                .split(' ')
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect();
            if let Some(extra) = requested.iter().find(|r| !grant.scope.contains(r)) {
                return bad_request(
                    "invalid_scope",
                    &format!("scope {extra} was not granted; refresh may only narrow scope"),
                );
            }
            if requested.is_empty() {
                grant.scope.clone()
            } else {
                requested
            }
        }
    };
    if let Some(r) = p.get("resource") {
        if r != grant.resource {
            return bad_request(
                "invalid_target",
                &format!("resource {r} differs from the granted resource"),
            );
        }
    }
    if let Some(old) = inner.refresh.get_mut(rt) {
        old.state = RefreshState::Rotated;
    }
    issue_tokens(
        ctx,
        &mut inner,
        client,
        entry.grant,
        scope,
        &grant.resource,
        jkt,
    )
}
