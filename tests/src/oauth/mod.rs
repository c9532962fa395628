//! The authorization server: metadata and routing here; /authorize + consent, /token, and
//! /register + /revoke in the submodules.

use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::scenario::Scenario;
use crate::server::{json_response, method_not_allowed};
use crate::state::{AuthMethod, Client, Ctx, Shared};
use crate::util::{html_escape, unix_now};

mod authorize;
pub(crate) mod grants;
mod jwt;
mod register;
mod token;

use authorize::{authorize, decision};
use register::{register, revoke};
use token::token;

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
        "/idp/token" => {
            if method == Method::POST {
                grants::idp_token(ctx, req).await
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
        json!([
            "authorization_code",
            "refresh_token",
            "client_credentials",
            grants::JWT_BEARER
        ]),
    );
    // private_key_jwt is for the clients a test registers with a key (register_key_client)
    m.insert(
        "token_endpoint_auth_signing_alg_values_supported".into(),
        json!(["ES256", "RS256"]),
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
    if crate::dpop::enabled(ctx) {
        m.insert("dpop_signing_alg_values_supported".into(), json!(["ES256"]));
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
