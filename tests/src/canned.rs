//! Canned answers: any path of any listener can be made to answer with a fixed status,
//! headers and body instead of its real handler — the hostile or broken server of one
//! bad-input test, while every other endpoint stays the strict real one.
//!
//! Set over HTTP with `POST /_testkit/canned` and a JSON body (see [`Canned`]), cleared with
//! `DELETE /_testkit/canned`; from Rust with `TestServer::set_canned` / `clear_canned`.
//! Header values and the body may hold placeholders filled from the request:
//! `{redirect_uri}` and `{state}` (query parameters, as in an authorization request; `{state}`
//! percent-encoded), `{origin}` (this listener's origin) and `{issuer}`.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::state::Shared;
use crate::util::Params;

/// One canned answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Canned {
    /// The request path it replaces (exactly).
    #[serde(default)]
    pub path: String,
    /// Only for this method (`GET`, `POST`, …); any method when absent.
    #[serde(default)]
    pub method: Option<String>,
    pub status: u16,
    /// Extra headers, in order (`content-type` included: none is added).
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub body: String,
    /// The body is `body` repeated this many times (huge documents without huge vectors).
    #[serde(default)]
    pub repeat: Option<usize>,
}

fn fill(s: &str, origin: &str, issuer: &str, query: &Params) -> String {
    let state: String =
        url::form_urlencoded::byte_serialize(query.get("state").unwrap_or("").as_bytes()).collect();
    s.replace("{redirect_uri}", query.get("redirect_uri").unwrap_or(""))
        .replace("{state}", &state)
        .replace("{origin}", origin)
        .replace("{issuer}", issuer)
}

/// The canned answer for this request, if one is set.
pub(crate) fn answer(
    ctx: &Shared,
    origin: &str,
    method: &Method,
    path: &str,
    query: Option<&str>,
) -> Option<Response> {
    let canned = {
        let inner = ctx.lock();
        inner
            .canned
            .iter()
            .find(|c| {
                c.path == path
                    && c.method
                        .as_deref()
                        .is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
            })
            .cloned()?
    };
    let params = Params::parse(query.unwrap_or(""));
    let issuer = ctx.issuer();
    let one = fill(&canned.body, origin, &issuer, &params);
    let body = match canned.repeat {
        Some(n) => one.repeat(n.min(64 << 20)),
        None => one,
    };
    let status = StatusCode::from_u16(canned.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, Body::from(body)).into_response();
    for (name, value) in &canned.headers {
        let value = fill(value, origin, &issuer, &params);
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            resp.headers_mut().append(n, v);
        }
    }
    Some(resp)
}

/// `POST /_testkit/canned` (JSON [`Canned`], replacing any for the same path and method) and
/// `DELETE /_testkit/canned` (all cleared).
pub(crate) fn admin(ctx: &Shared, method: &Method, body: &[u8]) -> Response {
    match *method {
        Method::POST => match serde_json::from_slice::<Canned>(body) {
            Ok(c) => {
                set(ctx, c);
                StatusCode::NO_CONTENT.into_response()
            }
            Err(e) => {
                (StatusCode::BAD_REQUEST, format!("not a canned answer: {e}")).into_response()
            }
        },
        Method::DELETE => {
            ctx.lock().canned.clear();
            StatusCode::NO_CONTENT.into_response()
        }
        _ => crate::server::method_not_allowed("POST, DELETE, OPTIONS"),
    }
}

pub(crate) fn set(ctx: &Shared, c: Canned) {
    let mut inner = ctx.lock();
    inner
        .canned
        .retain(|old| !(old.path == c.path && old.method == c.method));
    inner.canned.push(c);
}
