//! The second origin of the hostile-server scenarios: a hostile authorization server, or a
//! collector that only logs. Every request is logged by the dispatcher before it gets here.

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::server::{body_text, json_response, method_not_allowed, not_found};
use crate::util::{random_token, Params};

/// A hostile AS at `origin` (its issuer). Its `/authorize` bounces straight back with
/// `error=access_denied`, or (`grant_codes`) with a code for any client; its token
/// endpoint refuses everything; registration and revocation succeed.
pub(crate) async fn hostile_as(
    origin: &str,
    grant_codes: bool,
    method: &Method,
    path: &str,
    req: Request,
) -> Response {
    match (path, method.as_str()) {
        ("/.well-known/oauth-authorization-server", "GET") => json_response(
            StatusCode::OK,
            &json!({
                "issuer": origin,
                "authorization_endpoint": format!("{origin}/authorize"),
                "token_endpoint": format!("{origin}/token"),
                "registration_endpoint": format!("{origin}/register"),
                "revocation_endpoint": format!("{origin}/revoke"),
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported":
                    ["none", "client_secret_basic", "client_secret_post"],
                "scopes_supported": ["mcp:read", "mcp:write", "offline_access"],
            }),
        ),
        ("/authorize", "GET") => authorize(grant_codes, req.uri().query().unwrap_or("")),
        ("/register", "POST") => register(req).await,
        ("/token", "POST") => json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": "invalid_grant", "error_description": "nothing is valid here"}),
        ),
        ("/revoke", "POST") => StatusCode::OK.into_response(),
        ("/authorize", _) | ("/.well-known/oauth-authorization-server", _) => {
            method_not_allowed("GET, OPTIONS")
        }
        ("/register" | "/token" | "/revoke", _) => method_not_allowed("POST, OPTIONS"),
        _ => not_found(),
    }
}

fn authorize(grant_codes: bool, query: &str) -> Response {
    let p = Params::parse(query);
    let Some(mut url) = p.get("redirect_uri").and_then(|r| url::Url::parse(r).ok()) else {
        return (
            StatusCode::BAD_REQUEST,
            "redirect_uri is missing or not a URL",
        )
            .into_response();
    };
    {
        let mut q = url.query_pairs_mut();
        if grant_codes {
            q.append_pair("code", &random_token(32));
        } else {
            q.append_pair("error", "access_denied");
            q.append_pair("error_description", "the user denied the request");
        }
        if let Some(state) = p.get("state") {
            q.append_pair("state", state);
        }
    }
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// Accept any registration: a fresh client id, the metadata echoed back.
async fn register(req: Request) -> Response {
    let body: Value = match body_text(req.into_body()).await {
        Ok(t) => serde_json::from_str(&t).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    let mut out = match body {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    out.insert(
        "client_id".into(),
        json!(format!("hostile-{}", random_token(12))),
    );
    out.insert("client_id_issued_at".into(), json!(crate::util::unix_now()));
    if out
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
        .is_some_and(|m| m != "none")
    {
        out.insert("client_secret".into(), json!(random_token(24)));
    }
    json_response(StatusCode::CREATED, &Value::Object(out))
}

/// The collector: `POST` anything → 202, anything else → 404.
pub(crate) fn collector(method: &Method) -> Response {
    if method == Method::POST {
        (StatusCode::ACCEPTED, "Accepted").into_response()
    } else {
        not_found()
    }
}
