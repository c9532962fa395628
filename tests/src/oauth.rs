//! The authorization server: metadata, /authorize, consent, /token, /register, /revoke.

use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::scenario::Scenario;
use crate::server::{body_text, content_type_is, json_response, method_not_allowed};
use crate::state::{
    AccessToken, AuthCode, AuthMethod, AuthRequest, Client, Ctx, Grant, Inner, RefreshState,
    RefreshToken, Shared, CODEX_ACCOUNT_ID, CODEX_CLIENT_ID,
};
use crate::util::{
    basic_credentials, html_escape, is_loopback_http, random_token, redirect_matches, s256,
    unix_now, valid_pkce_string, Params,
};

const CODE_LIFETIME: Duration = Duration::from_secs(60);

/// Route an AS request. `None` when the path is not an AS path in this scenario.
pub(crate) async fn route(
    ctx: &Ctx,
    method: &Method,
    path: &str,
    req: Request,
) -> Option<Response> {
    let sc = ctx.scenario;
    let prefix = ctx.as_prefix.as_str();
    if sc.rfc8414_metadata() && path == format!("/.well-known/oauth-authorization-server{prefix}") {
        return Some(get_only(method, || metadata(ctx)));
    }
    if sc.oidc_metadata() && path == format!("{prefix}/.well-known/openid-configuration") {
        return Some(get_only(method, || metadata(ctx)));
    }
    let endpoint = path.strip_prefix(prefix)?;
    let resp = match endpoint {
        // `/oauth/*`: the OpenAI (Codex) sign-in paths, same handlers
        "/authorize" | "/oauth/authorize" => {
            if method == Method::GET {
                authorize(ctx, req.uri().query())
            } else {
                method_not_allowed("GET, OPTIONS")
            }
        }
        "/authorize/decision" => {
            if method == Method::POST {
                decision(ctx, req).await
            } else {
                method_not_allowed("POST, OPTIONS")
            }
        }
        "/token" | "/oauth/token" => {
            if method == Method::POST {
                token(ctx, req).await
            } else {
                method_not_allowed("POST, OPTIONS")
            }
        }
        "/register" if sc.registration() => {
            if method == Method::POST {
                register(ctx, req).await
            } else {
                method_not_allowed("POST, OPTIONS")
            }
        }
        "/revoke" => {
            if method == Method::POST {
                revoke(ctx, req).await
            } else {
                method_not_allowed("POST, OPTIONS")
            }
        }
        _ => return None,
    };
    Some(resp)
}

fn get_only(method: &Method, f: impl FnOnce() -> Response) -> Response {
    if method == Method::GET {
        f()
    } else {
        method_not_allowed("GET, OPTIONS")
    }
}

/// RFC 8414 / OIDC discovery metadata.
fn metadata(ctx: &Shared) -> Response {
    let sc = ctx.scenario;
    let auth_methods: Vec<&str> = match sc.forced_auth_method() {
        Some(m) => vec![m],
        None => vec!["none", "client_secret_basic", "client_secret_post"],
    };
    let mut m = Map::new();
    m.insert("issuer".into(), json!(ctx.metadata_issuer()));
    m.insert(
        "authorization_endpoint".into(),
        json!(ctx.as_endpoint("/authorize")),
    );
    m.insert("token_endpoint".into(), json!(ctx.as_endpoint("/token")));
    if sc.registration() {
        m.insert(
            "registration_endpoint".into(),
            json!(ctx.as_endpoint("/register")),
        );
    }
    m.insert(
        "revocation_endpoint".into(),
        json!(ctx.as_endpoint("/revoke")),
    );
    m.insert("response_types_supported".into(), json!(["code"]));
    m.insert("response_modes_supported".into(), json!(["query"]));
    m.insert(
        "grant_types_supported".into(),
        json!(["authorization_code", "refresh_token"]),
    );
    match sc {
        Scenario::NoS256 => {
            m.insert("code_challenge_methods_supported".into(), json!(["plain"]));
        }
        Scenario::NoPkceMetadata => {}
        _ => {
            m.insert("code_challenge_methods_supported".into(), json!(["S256"]));
        }
    }
    m.insert(
        "token_endpoint_auth_methods_supported".into(),
        json!(auth_methods),
    );
    m.insert(
        "revocation_endpoint_auth_methods_supported".into(),
        json!(auth_methods),
    );
    m.insert("scopes_supported".into(), json!(Shared::supported_scopes()));
    if sc.iss_parameter() {
        m.insert(
            "authorization_response_iss_parameter_supported".into(),
            json!(true),
        );
    }
    if sc.cimd() {
        m.insert("client_id_metadata_document_supported".into(), json!(true));
    }
    if sc.oidc_metadata() {
        m.insert("subject_types_supported".into(), json!(["public"]));
        m.insert(
            "id_token_signing_alg_values_supported".into(),
            json!(["RS256"]),
        );
        m.insert(
            "jwks_uri".into(),
            json!(ctx.as_endpoint("/.well-known/jwks.json")),
        );
    }
    json_response(StatusCode::OK, &Value::Object(m))
}

/// Look a client up; in the `cimd` scenario an `https://` URL with a path is accepted as a
/// Client ID Metadata Document URL. The document is NOT fetched: tests cannot serve https
/// here, so such a client is treated as a public client that may use any loopback redirect.
fn find_client(ctx: &Shared, client_id: &str) -> Option<Client> {
    if let Some(c) = ctx.lock().clients.get(client_id) {
        return Some(c.clone());
    }
    if ctx.scenario.cimd() && is_cimd_url(client_id) {
        return Some(Client {
            client_id: client_id.to_string(),
            client_secret: None,
            auth_method: AuthMethod::None,
            redirect_uris: Vec::new(),
            client_name: None,
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            issued_at: unix_now(),
            cimd: true,
        });
    }
    None
}

fn is_cimd_url(s: &str) -> bool {
    match url::Url::parse(s) {
        Ok(u) => {
            u.scheme() == "https"
                && u.host().is_some()
                && u.path().len() > 1
                && u.fragment().is_none()
                && u.username().is_empty()
                && u.password().is_none()
        }
        Err(_) => false,
    }
}

/// The 400 page for requests whose client or redirect URI cannot be trusted.
fn error_page(error: &str, description: &str) -> Response {
    let body = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Authorization error</title></head>\
         <body><h1>Authorization error</h1><p id=\"error\">{}</p><p id=\"error_description\">{}</p></body></html>\n",
        html_escape(error),
        html_escape(description)
    );
    let mut resp = (StatusCode::BAD_REQUEST, Html(body)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn iss_value(ctx: &Shared) -> Option<String> {
    match ctx.scenario {
        Scenario::Iss => Some(ctx.issuer()),
        Scenario::IssMismatch => Some("https://mix-up.example.com".to_string()),
        Scenario::IssTrailingSlash => Some(format!("{}/", ctx.issuer())),
        _ => None,
    }
}

/// A 302 to the (already verified) redirect URI with `params` appended to its query.
fn redirect_with(ctx: &Shared, redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return error_page("invalid_request", "the redirect_uri is not a URL");
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
        if let Some(iss) = iss_value(ctx) {
            q.append_pair("iss", &iss);
        }
    }
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn redirect_error(
    ctx: &Shared,
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> Response {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(s) = state {
        params.push(("state", s));
    }
    redirect_with(ctx, redirect_uri, &params)
}

/// `GET /authorize`, validated in a fixed order.
fn authorize(ctx: &Shared, query: Option<&str>) -> Response {
    let p = Params::parse(query.unwrap_or(""));
    if let Some(r) = p.repeated() {
        if r == "client_id" || r == "redirect_uri" {
            return error_page("invalid_request", &format!("the parameter {r} is repeated"));
        }
    }
    let Some(client_id) = p.get("client_id") else {
        return error_page("invalid_request", "client_id is missing");
    };
    let Some(client) = find_client(ctx, client_id) else {
        return error_page("invalid_client", &format!("unknown client_id {client_id}"));
    };
    let Some(redirect_uri) = p.get("redirect_uri") else {
        return error_page("invalid_request", "redirect_uri is missing");
    };
    let redirect_ok = if client.cimd {
        url::Url::parse(redirect_uri)
            .map(|u| is_loopback_http(&u) && u.fragment().is_none())
            .unwrap_or(false)
    } else {
        client
            .redirect_uris
            .iter()
            .any(|r| redirect_matches(r, redirect_uri))
    };
    if !redirect_ok {
        return error_page(
            "invalid_request",
            &format!("redirect_uri {redirect_uri} is not registered for client {client_id}"),
        );
    }
    // From here on the redirect URI is trusted: errors go back to the client.
    let state = p.get("state");
    let fail = |error: &str, desc: &str| redirect_error(ctx, redirect_uri, state, error, desc);
    if let Some(r) = p.repeated() {
        return fail("invalid_request", &format!("the parameter {r} is repeated"));
    }
    match p.get("response_type") {
        Some("code") => {}
        Some(other) => {
            return fail(
                "unsupported_response_type",
                &format!("response_type {other} is not supported; use code"),
            )
        }
        None => return fail("invalid_request", "response_type is missing"),
    }
    if !client.allows_grant("authorization_code") {
        return fail(
            "unauthorized_client",
            "the client did not register the authorization_code grant",
        );
    }
    let Some(challenge) = p.get("code_challenge") else {
        return fail("invalid_request", "code_challenge is required (PKCE)");
    };
    match p.get("code_challenge_method") {
        Some("S256") => {}
        Some(m) => {
            return fail(
                "invalid_request",
                &format!("code_challenge_method {m} is not supported; use S256"),
            )
        }
        None => {
            return fail(
                "invalid_request",
                "code_challenge_method is required and must be S256",
            )
        }
    }
    if !valid_pkce_string(challenge) {
        return fail("invalid_request", "code_challenge is malformed");
    }
    // The Codex sign-in sends no resource: its tokens are for the default resource.
    let codex = client.client_id == CODEX_CLIENT_ID;
    let mcp_resource = ctx.mcp_resource();
    let Some(resource) = p.get("resource").or(codex.then_some(mcp_resource.as_str())) else {
        return fail(
            "invalid_target",
            "the resource parameter (RFC 8707) is required",
        );
    };
    if !ctx.is_known_resource(resource) {
        return fail(
            "invalid_target",
            &format!(
                "unknown resource {resource}; expected {}",
                ctx.mcp_resource()
            ),
        );
    }
    let scope = match parse_scope(ctx, p.get("scope"), codex) {
        Ok(s) => s,
        Err(bad) => return fail("invalid_scope", &format!("unknown scope {bad}")),
    };
    let req = AuthRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_string(),
        code_challenge: challenge.to_string(),
        resource: resource.to_string(),
        scope,
        state: state.map(str::to_string),
    };
    if ctx.scenario.consent() {
        let id = random_token(24);
        ctx.lock().pending.insert(id.clone(), req.clone());
        return consent_page(ctx, &client, &req, &id);
    }
    issue_code(ctx, req)
}

/// Requested scopes (default `mcp:read`); `Err(scope)` names the first unknown one.
/// In `scope-retry-limit` the `mcp:stepN` scopes the RS asks for are known too.
fn parse_scope(ctx: &Shared, scope: Option<&str>, oidc: bool) -> Result<Vec<String>, String> {
    let steps = ctx.scenario == Scenario::ScopeRetryLimit;
    let mut out: Vec<String> = Vec::new();
    for s in scope.unwrap_or("").split(' ').filter(|s| !s.is_empty()) {
        let known = Shared::supported_scopes().contains(&s)
            || (oidc && Shared::oidc_scopes().contains(&s))
            || (steps
                && s.strip_prefix("mcp:step")
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())));
        if !known {
            return Err(s.to_string());
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    if out.is_empty() {
        out.push("mcp:read".to_string());
    }
    Ok(out)
}

fn issue_code(ctx: &Shared, req: AuthRequest) -> Response {
    let code = random_token(32);
    let redirect_uri = req.redirect_uri.clone();
    let state = req.state.clone();
    ctx.lock().codes.insert(
        code.clone(),
        AuthCode {
            req,
            expires: Instant::now() + CODE_LIFETIME,
            used: false,
            grant: None,
        },
    );
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = state.as_deref() {
        params.push(("state", s));
    }
    redirect_with(ctx, &redirect_uri, &params)
}

fn consent_page(ctx: &Shared, client: &Client, req: &AuthRequest, id: &str) -> Response {
    let name = html_escape(client.display_name());
    let scopes: String = req
        .scope
        .iter()
        .map(|s| format!("<li class=\"scope\">{}</li>", html_escape(s)))
        .collect();
    let body = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Authorize {name}</title></head>\n\
         <body>\n<h1>Authorize {name}</h1>\n\
         <p><strong id=\"client-name\">{name}</strong> (<code id=\"client-id\">{cid}</code>) wants to access\n\
         <code id=\"resource\">{resource}</code> with these scopes:</p>\n<ul id=\"scopes\">{scopes}</ul>\n\
         <form method=\"post\" action=\"{action}\">\n\
         <input type=\"hidden\" name=\"request_id\" value=\"{id}\">\n\
         <button id=\"approve\" name=\"decision\" value=\"approve\">Approve</button>\n\
         <button id=\"deny\" name=\"decision\" value=\"deny\">Deny</button>\n\
         </form>\n</body></html>\n",
        cid = html_escape(&client.client_id),
        resource = html_escape(&req.resource),
        action = html_escape(&format!("{}/authorize/decision", ctx.as_prefix)),
        id = html_escape(id),
    );
    let mut resp = (StatusCode::OK, Html(body)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    resp
}

/// `POST /authorize/decision` from the consent page.
async fn decision(ctx: &Shared, req: Request) -> Response {
    let body = match body_text(req.into_body()).await {
        Ok(b) => b,
        Err(e) => return error_page("invalid_request", &e),
    };
    let p = Params::parse(&body);
    let Some(id) = p.get("request_id") else {
        return error_page("invalid_request", "request_id is missing");
    };
    let Some(pending) = ctx.lock().pending.remove(id) else {
        return error_page(
            "invalid_request",
            "unknown or already answered authorization request",
        );
    };
    match p.get("decision") {
        Some("approve") => issue_code(ctx, pending),
        Some("deny") => redirect_error(
            ctx,
            &pending.redirect_uri,
            pending.state.as_deref(),
            "access_denied",
            "the user denied the request",
        ),
        _ => redirect_error(
            ctx,
            &pending.redirect_uri,
            pending.state.as_deref(),
            "invalid_request",
            "decision must be approve or deny",
        ),
    }
}

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

fn bad_request(error: &str, description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, error, description)
}

fn invalid_client(description: &str) -> Response {
    oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description)
}

/// Read a form-encoded POST body; the error is a ready 400 response.
async fn read_form(req: Request) -> Result<(HeaderMap, Params), Response> {
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
fn authenticate(ctx: &Shared, headers: &HeaderMap, p: &Params) -> Result<Client, Response> {
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
async fn token(ctx: &Shared, req: Request) -> Response {
    let (headers, p) = match read_form(req).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let client = match authenticate(ctx, &headers, &p) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    match p.get("grant_type") {
        Some("authorization_code") => code_grant(ctx, &client, &p),
        Some("refresh_token") => refresh_grant(ctx, &client, &p),
        Some(other) => bad_request(
            "unsupported_grant_type",
            &format!("grant_type {other} is not supported"),
        ),
        None => bad_request("invalid_request", "grant_type is missing"),
    }
}

fn code_grant(ctx: &Shared, client: &Client, p: &Params) -> Response {
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
    issue_tokens(ctx, &mut inner, client, grant, req.scope, &req.resource)
}

fn issue_tokens(
    ctx: &Shared,
    inner: &mut Inner,
    client: &Client,
    grant: u64,
    scope: Vec<String>,
    resource: &str,
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
        },
    );
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
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

fn refresh_grant(ctx: &Shared, client: &Client, p: &Params) -> Response {
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
    issue_tokens(ctx, &mut inner, client, entry.grant, scope, &grant.resource)
}

fn registration_error(error: &str, description: &str) -> Response {
    bad_request(error, description)
}

/// `POST /register` (RFC 7591).
async fn register(ctx: &Shared, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if !content_type_is(&parts.headers, "application/json") {
        return registration_error(
            "invalid_client_metadata",
            "the registration request must be application/json",
        );
    }
    let text = match body_text(body).await {
        Ok(t) => t,
        Err(e) => return registration_error("invalid_client_metadata", &e),
    };
    let Ok(Value::Object(meta)) = serde_json::from_str::<Value>(&text) else {
        return registration_error("invalid_client_metadata", "the body must be a JSON object");
    };
    let redirect_uris: Vec<String> = match meta.get("redirect_uris") {
        Some(Value::Array(a)) if !a.is_empty() => {
            let mut out = Vec::new();
            for v in a {
                let Some(s) = v.as_str() else {
                    return registration_error(
                        "invalid_redirect_uri",
                        "redirect_uris must be strings",
                    );
                };
                let ok = url::Url::parse(s).is_ok_and(|u| {
                    u.fragment().is_none() && (u.scheme() == "https" || is_loopback_http(&u))
                });
                if !ok {
                    return registration_error(
                        "invalid_redirect_uri",
                        &format!("redirect URI {s} must be https or a loopback http URL without a fragment"),
                    );
                }
                out.push(s.to_string());
            }
            out
        }
        _ => {
            return registration_error(
                "invalid_redirect_uri",
                "redirect_uris is required and must be a non-empty array",
            )
        }
    };
    let requested_method = match meta.get("token_endpoint_auth_method") {
        None => AuthMethod::None,
        Some(Value::String(s)) => match AuthMethod::parse(s) {
            Some(m) => m,
            None => {
                return registration_error(
                    "invalid_client_metadata",
                    &format!("token_endpoint_auth_method {s} is not supported"),
                )
            }
        },
        Some(_) => {
            return registration_error(
                "invalid_client_metadata",
                "token_endpoint_auth_method must be a string",
            )
        }
    };
    // RFC 7591 §3.2.1: the server may replace requested metadata with its own values.
    let method = match ctx.scenario.forced_auth_method() {
        Some(m) => AuthMethod::parse(m).unwrap_or(requested_method),
        None => requested_method,
    };
    let strings = |key: &str| -> Result<Option<Vec<String>>, Response> {
        match meta.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        registration_error(
                            "invalid_client_metadata",
                            &format!("{key} must be an array of strings"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(registration_error(
                "invalid_client_metadata",
                &format!("{key} must be an array of strings"),
            )),
        }
    };
    let grant_types = match strings("grant_types") {
        Ok(g) => g.unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()]),
        Err(resp) => return resp,
    };
    if let Some(bad) = grant_types
        .iter()
        .find(|g| *g != "authorization_code" && *g != "refresh_token")
    {
        return registration_error(
            "invalid_client_metadata",
            &format!("grant type {bad} is not supported"),
        );
    }
    let response_types = match strings("response_types") {
        Ok(r) => r.unwrap_or_else(|| vec!["code".into()]),
        Err(resp) => return resp,
    };
    if let Some(bad) = response_types.iter().find(|r| *r != "code") {
        return registration_error(
            "invalid_client_metadata",
            &format!("response type {bad} is not supported"),
        );
    }
    if !grant_types.iter().any(|g| g == "authorization_code") {
        return registration_error(
            "invalid_client_metadata",
            "response_types code needs the authorization_code grant type",
        );
    }
    let client_name = match meta.get("client_name") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return registration_error("invalid_client_metadata", "client_name must be a string")
        }
    };
    match meta.get("scope") {
        None => {}
        Some(Value::String(s)) => {
            if let Err(bad) = parse_scope(ctx, Some(s), false) {
                return registration_error(
                    "invalid_client_metadata",
                    &format!("unknown scope {bad}"),
                );
            }
        }
        Some(_) => return registration_error("invalid_client_metadata", "scope must be a string"),
    }
    let client = Client {
        client_id: random_token(16),
        client_secret: (method != AuthMethod::None).then(|| random_token(32)),
        auth_method: method,
        redirect_uris: redirect_uris.clone(),
        client_name: client_name.clone(),
        grant_types: grant_types.clone(),
        issued_at: unix_now(),
        cimd: false,
    };
    let mut out = meta.clone();
    out.insert("client_id".into(), json!(client.client_id));
    out.insert("client_id_issued_at".into(), json!(client.issued_at));
    out.insert("redirect_uris".into(), json!(redirect_uris));
    out.insert("token_endpoint_auth_method".into(), json!(method.name()));
    out.insert("grant_types".into(), json!(grant_types));
    out.insert("response_types".into(), json!(response_types));
    if let Some(secret) = &client.client_secret {
        out.insert("client_secret".into(), json!(secret));
        out.insert("client_secret_expires_at".into(), json!(0));
    } else {
        out.remove("client_secret");
        out.remove("client_secret_expires_at");
    }
    ctx.lock().clients.insert(client.client_id.clone(), client);
    let mut resp = json_response(StatusCode::CREATED, &Value::Object(out));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `POST /revoke` (RFC 7009).
async fn revoke(ctx: &Shared, req: Request) -> Response {
    let (headers, p) = match read_form(req).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let client = match authenticate(ctx, &headers, &p) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let Some(token) = p.get("token") else {
        return bad_request("invalid_request", "token is missing");
    };
    let mut inner = ctx.lock();
    if let Some(t) = inner.access.get_mut(token) {
        if t.client_id != client.client_id {
            return bad_request("invalid_request", "the token was not issued to this client");
        }
        t.revoked = true;
        inner.revoked += 1;
    } else if let Some(t) = inner.refresh.get(token).cloned() {
        if t.client_id != client.client_id {
            return bad_request("invalid_request", "the token was not issued to this client");
        }
        inner.revoke_grant(t.grant);
        inner.revoked += 1;
    }
    // RFC 7009 §2.2: unknown tokens also get 200.
    let mut resp = StatusCode::OK.into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
