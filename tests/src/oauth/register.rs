//! `POST /register` (RFC 7591) and `POST /revoke` (RFC 7009).

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::server::{body_text, content_type_is, json_response};
use crate::state::{AuthMethod, Client, Shared};
use crate::util::{is_loopback_http, random_token, unix_now};

use super::authorize::parse_scope;
use super::token::{authenticate, bad_request, read_form};

fn registration_error(error: &str, description: &str) -> Response {
    bad_request(error, description)
}

/// `POST /register` (RFC 7591).
pub(super) async fn register(ctx: &Shared, req: Request) -> Response {
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
pub(super) async fn revoke(ctx: &Shared, req: Request) -> Response {
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
