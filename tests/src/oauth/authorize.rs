//! `GET /authorize`, the consent page and its decision.

use std::time::Instant;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::{error_page, find_client, redirect_error, redirect_with, CODE_LIFETIME};
use crate::scenario::Scenario;
use crate::server::body_text;
use crate::state::{AuthCode, AuthRequest, Client, Shared, CODEX_CLIENT_ID};
use crate::util::{
    html_escape, is_loopback_http, random_token, redirect_matches, valid_pkce_string, Params,
};

/// `GET /authorize`, validated in a fixed order.
pub(super) fn authorize(ctx: &Shared, query: Option<&str>) -> Response {
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
pub(super) fn parse_scope(
    ctx: &Shared,
    scope: Option<&str>,
    oidc: bool,
) -> Result<Vec<String>, String> {
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
pub(super) async fn decision(ctx: &Shared, req: Request) -> Response {
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
