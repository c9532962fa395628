//! The MCP resource server's Streamable HTTP endpoint: bearer checks, both MCP eras, tools.

use std::time::Instant;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::dpop;
use crate::modern;
use crate::protocol::{LineEnd, Protocol, LEGACY_VERSIONS};
use crate::scenario::Scenario;
use crate::server::{body_text, content_type_is, json_response, method_not_allowed};
use crate::state::{Ctx, Shared};
use crate::util::random_token;

const LATEST_LEGACY: &str = "2025-11-25";

/// What a valid bearer token grants.
#[derive(Debug, Clone)]
pub(crate) struct TokenInfo {
    pub client_id: String,
    pub scope: Vec<String>,
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The `WWW-Authenticate` value for a 401 on `rs_path`.
fn challenge(ctx: &Shared, rs_path: &str, error: Option<&str>) -> String {
    let sc = ctx.scenario;
    let mut parts: Vec<String> = Vec::new();
    if sc.header_has_resource_metadata() {
        parts.push(format!("resource_metadata=\"{}\"", ctx.prm_url(rs_path)));
    }
    if !sc.legacy() {
        parts.push("scope=\"mcp:read\"".to_string());
    }
    if let Some(desc) = error {
        parts.push("error=\"invalid_token\"".to_string());
        parts.push(format!("error_description=\"{}\"", quote(desc)));
    }
    if parts.is_empty() {
        "Bearer".to_string()
    } else {
        format!("Bearer {}", parts.join(", "))
    }
}

pub(crate) fn unauthorized(ctx: &Shared, rs_path: &str, error: Option<&str>) -> Response {
    let body = match error {
        Some(d) => json!({"error": "invalid_token", "error_description": d}),
        None => json!({"error": "unauthorized", "error_description": "a bearer token is required"}),
    };
    let mut resp = json_response(StatusCode::UNAUTHORIZED, &body);
    if let Ok(v) = HeaderValue::from_str(&challenge(ctx, rs_path, error)) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// What a 403 asks for: the `scope` of the challenge and the scope that was missing.
#[derive(Debug, Clone)]
pub(crate) struct StepUp {
    pub challenge_scope: String,
    pub needed: String,
}

pub(crate) fn insufficient_scope(ctx: &Shared, rs_path: &str, step: &StepUp) -> Response {
    let desc = format!("this operation needs the {} scope", step.needed);
    let mut parts = vec![
        "error=\"insufficient_scope\"".to_string(),
        format!("scope=\"{}\"", quote(&step.challenge_scope)),
    ];
    if ctx.scenario.header_has_resource_metadata() {
        parts.push(format!("resource_metadata=\"{}\"", ctx.prm_url(rs_path)));
    }
    parts.push(format!("error_description=\"{}\"", quote(&desc)));
    let mut resp = json_response(
        StatusCode::FORBIDDEN,
        &json!({"error": "insufficient_scope", "error_description": desc}),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer {}", parts.join(", "))) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// Check the access token: issued by the AS the PRM names, unexpired, unrevoked, audience =
/// this RS (exactly this resource in `two-resources`). A DPoP-bound token only with the
/// `DPoP` scheme and a proof by its key for this request (`method`, `path` on this origin).
pub(crate) fn check_bearer(
    ctx: &Shared,
    headers: &HeaderMap,
    rs_path: &str,
    method: &Method,
    path: &str,
) -> Result<TokenInfo, Response> {
    if ctx.lock().deny_all {
        return Err(unauthorized(
            ctx,
            rs_path,
            Some("this server wants a fresh login"),
        ));
    }
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(unauthorized(ctx, rs_path, None));
    };
    let Some((scheme, token)) = value.trim().split_once(' ') else {
        return Err(unauthorized(ctx, rs_path, None));
    };
    let dpop_scheme = scheme.eq_ignore_ascii_case("dpop") && dpop::enabled(ctx);
    if !scheme.eq_ignore_ascii_case("bearer") && !dpop_scheme {
        return Err(unauthorized(ctx, rs_path, None));
    }
    let Some((t, grant_active)) = ctx.find_access(token.trim()) else {
        return Err(unauthorized(
            ctx,
            rs_path,
            Some("the access token is not known here"),
        ));
    };
    if t.revoked || !grant_active {
        return Err(unauthorized(
            ctx,
            rs_path,
            Some("the access token was revoked"),
        ));
    }
    if Instant::now() >= t.expires {
        return Err(unauthorized(ctx, rs_path, Some("the access token expired")));
    }
    let audience_ok = if ctx.scenario == Scenario::TwoResources {
        t.resource == format!("{}{}", ctx.base_url, rs_path)
    } else {
        ctx.is_known_resource(&t.resource)
    };
    if !audience_ok {
        return Err(unauthorized(
            ctx,
            rs_path,
            Some("the access token was issued for another resource"),
        ));
    }
    let token = token.trim();
    match (&t.jkt, dpop_scheme) {
        (None, false) => {}
        (Some(_), false) => {
            return Err(unauthorized(
                ctx,
                rs_path,
                Some(
                    "this access token is DPoP-bound: present it with the DPoP scheme and a proof",
                ),
            ))
        }
        (None, true) => {
            return Err(dpop::rs_challenge(
                ctx,
                "invalid_token",
                "this access token is not DPoP-bound; present it as a Bearer token",
            ))
        }
        (Some(jkt), true) => {
            let url = format!("{}{}", ctx.base_url, path);
            let proof = match dpop::check_proof(ctx, headers, method.as_str(), &url) {
                Ok(Some(p)) => p,
                Ok(None) => {
                    return Err(dpop::rs_challenge(
                        ctx,
                        "invalid_dpop_proof",
                        "a DPoP proof is required with this token",
                    ))
                }
                Err(e) => return Err(dpop::rs_challenge(ctx, "invalid_dpop_proof", &e)),
            };
            if proof.ath.as_deref() != Some(dpop::token_hash(token).as_str()) {
                return Err(dpop::rs_challenge(
                    ctx,
                    "invalid_dpop_proof",
                    "the proof's ath does not match the access token",
                ));
            }
            if &proof.jkt != jkt {
                return Err(dpop::rs_challenge(
                    ctx,
                    "invalid_token",
                    "the proof is signed by another key than the one the token is bound to",
                ));
            }
            if !dpop::nonce_ok(ctx, dpop::Role::Rs, &proof) {
                return Err(dpop::rs_challenge(
                    ctx,
                    "use_dpop_nonce",
                    "this resource server needs a DPoP nonce",
                ));
            }
            let next = dpop::rotate(ctx, dpop::Role::Rs);
            ctx.lock().rs_nonce_to_send = next;
        }
    }
    ctx.tick_switch();
    Ok(TokenInfo {
        client_id: t.client_id,
        scope: t.scope,
    })
}

pub(crate) fn rpc_error_body(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

pub(crate) fn rpc_error(status: StatusCode, id: Value, code: i64, message: &str) -> Response {
    json_response(status, &rpc_error_body(id, code, message))
}

/// Which era a message is handled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Era {
    Legacy,
    Modern,
}

/// The outcome of one JSON-RPC message.
pub(crate) enum Outcome {
    /// A result to send back (the whole JSON-RPC response).
    Reply(Value),
    /// A JSON-RPC error to send back.
    Error(Value),
    /// The method is unknown (JSON-RPC -32601).
    UnknownMethod(Value),
    /// A notification or a response: nothing to send.
    Nothing,
    /// The token lacks a scope.
    Forbidden(StepUp),
}

fn tools() -> Value {
    json!([
        {
            "name": "echo",
            "description": "Echo the given text back.",
            "inputSchema": {
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"]
            }
        },
        {
            "name": "whoami",
            "description": "Return the client_id and scopes of the access token.",
            "inputSchema": {"type": "object", "properties": {}}
        },
        {
            "name": "write_note",
            "description": "Store a note. Needs the mcp:write scope.",
            "inputSchema": {
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"]
            }
        }
    ])
}

fn text_result(text: String) -> Value {
    json!({"content": [{"type": "text", "text": text}], "isError": false})
}

/// Handle one JSON-RPC message (already known to be an object with `jsonrpc: "2.0"`).
pub(crate) fn handle_message(
    ctx: &Shared,
    msg: &Value,
    token: Option<&TokenInfo>,
    era: Era,
) -> Outcome {
    let Some(method) = msg.get("method").and_then(Value::as_str) else {
        return Outcome::Nothing;
    };
    let Some(id) = msg.get("id").cloned() else {
        return Outcome::Nothing;
    };
    if !(id.is_string() || id.is_i64() || id.is_u64()) {
        return Outcome::Error(rpc_error_body(
            Value::Null,
            -32600,
            "invalid request: id must be a string or an integer",
        ));
    }
    let params = msg.get("params").cloned().unwrap_or(json!({}));
    let fail = |code: i64, message: &str| Outcome::Error(rpc_error_body(id.clone(), code, message));
    let result = match (method, era) {
        ("initialize", Era::Legacy) => {
            let requested = params
                .get("protocolVersion")
                .and_then(Value::as_str)
                .unwrap_or(LATEST_LEGACY);
            let version = if LEGACY_VERSIONS.contains(&requested) || requested == "2024-11-05" {
                requested
            } else {
                LATEST_LEGACY
            };
            json!({
                "protocolVersion": version,
                "capabilities": {"tools": {}},
                "serverInfo": modern::server_info(),
            })
        }
        ("server/discover", Era::Modern) => modern::discover(ctx.protocol),
        ("ping", _) => json!({}),
        ("tools/list", _) => json!({"tools": tools()}),
        ("tools/call", _) => {
            if ctx.scenario == Scenario::ScopeRetryLimit {
                let n = {
                    let mut inner = ctx.lock();
                    inner.step += 1;
                    inner.step
                };
                return Outcome::Forbidden(StepUp {
                    challenge_scope: format!("mcp:read mcp:step{n}"),
                    needed: format!("mcp:step{n}"),
                });
            }
            let name = params.get("name").and_then(Value::as_str).unwrap_or("");
            let args = params.get("arguments").cloned().unwrap_or(json!({}));
            let text_arg = args.get("text").and_then(Value::as_str);
            let scopes: &[String] = token.map_or(&[], |t| t.scope.as_slice());
            match name {
                "echo" => match text_arg {
                    Some(t) => text_result(t.to_string()),
                    None => return fail(-32602, "echo needs a string argument `text`"),
                },
                "whoami" => {
                    let who = json!({
                        "client_id": token.map(|t| t.client_id.clone()),
                        "scopes": scopes,
                    });
                    let mut r = text_result(who.to_string());
                    r["structuredContent"] = who;
                    r
                }
                "write_note" => {
                    if !scopes.iter().any(|s| s == "mcp:write") {
                        return Outcome::Forbidden(StepUp {
                            challenge_scope: "mcp:read mcp:write".into(),
                            needed: "mcp:write".into(),
                        });
                    }
                    match text_arg {
                        Some(t) => text_result(format!("note saved: {t}")),
                        None => return fail(-32602, "write_note needs a string argument `text`"),
                    }
                }
                other => return fail(-32602, &format!("unknown tool: {other}")),
            }
        }
        (other, _) => {
            return Outcome::UnknownMethod(rpc_error_body(
                id,
                -32601,
                &format!("method not found: {other}"),
            ))
        }
    };
    Outcome::Reply(json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

/// Reads a JSON-RPC POST: an `application/json` body holding one message. The error is a
/// ready response (415, or the JSON-RPC parse / invalid-request errors).
pub(crate) async fn read_message(
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<Value, Response> {
    if !content_type_is(headers, "application/json") {
        return Err(rpc_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Value::Null,
            -32000,
            "Unsupported Media Type: the body must be application/json",
        ));
    }
    let text = body_text(body)
        .await
        .map_err(|e| rpc_error(StatusCode::BAD_REQUEST, Value::Null, -32700, &e))?;
    parse_message(&text)
}

/// Parse a JSON-RPC body; the error is a ready response.
pub(crate) fn parse_message(text: &str) -> Result<Value, Response> {
    let msg: Value = serde_json::from_str(text)
        .map_err(|_| rpc_error(StatusCode::BAD_REQUEST, Value::Null, -32700, "parse error"))?;
    if !msg.is_object() {
        return Err(rpc_error(
            StatusCode::BAD_REQUEST,
            Value::Null,
            -32600,
            "invalid request: expected one JSON-RPC object (batches are not supported)",
        ));
    }
    if msg.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(rpc_error(
            StatusCode::BAD_REQUEST,
            msg.get("id").cloned().unwrap_or(Value::Null),
            -32600,
            "invalid request: jsonrpc must be \"2.0\"",
        ));
    }
    Ok(msg)
}

/// Does the Accept header allow `media`?
fn accepts(headers: &HeaderMap, media: &str) -> bool {
    let Some(v) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    v.split(',').any(|part| {
        let m = part.split(';').next().unwrap_or("").trim();
        m.eq_ignore_ascii_case(media) || m == "*/*"
    })
}

/// An answer to a request: JSON, or an SSE stream that starts with a priming event.
fn reply(ctx: &Shared, v: &Value) -> Response {
    match ctx.priming {
        None => json_response(StatusCode::OK, v),
        Some(le) => sse_answer(le, v),
    }
}

/// `id:` + `retry:` + an empty `data:` (the 2025-11-25 priming event), then the message.
fn sse_answer(le: LineEnd, v: &Value) -> Response {
    let n = le.as_str();
    let body = format!(
        "id: {}{n}retry: 1000{n}data:{n}{n}id: {}{n}event: message{n}data: {v}{n}{n}",
        random_token(8),
        random_token(8),
    );
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

/// JSON-RPC methods callable without a token in the `public-discovery` scenario.
fn public_method(msg: &Value) -> bool {
    msg.get("id").is_none()
        || matches!(
            msg.get("method").and_then(Value::as_str),
            Some("server/discover" | "initialize")
        )
}

/// The MCP endpoint (`/mcp`, or `/a/mcp` and `/b/mcp`): Streamable HTTP in the configured era.
pub(crate) async fn mcp_endpoint(
    ctx: &Ctx,
    rs_path: &str,
    method: &Method,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let deferred_auth = ctx.scenario.public_discovery() && method == Method::POST;
    let mut token = None;
    if !deferred_auth {
        match check_bearer(ctx, &headers, rs_path, method, rs_path) {
            Ok(t) => token = Some(t),
            Err(resp) => return resp,
        }
    }
    let legacy = ctx.protocol.serves_legacy();
    let allow = if legacy {
        "POST, DELETE, OPTIONS"
    } else {
        "POST, OPTIONS"
    };
    if method == Method::DELETE && legacy {
        let sid = headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        return if ctx.lock().mcp_sessions.remove(sid).is_some() {
            StatusCode::NO_CONTENT.into_response()
        } else {
            rpc_error(
                StatusCode::NOT_FOUND,
                Value::Null,
                -32001,
                "session not found",
            )
        };
    }
    if method != Method::POST {
        // No server-initiated GET stream (legacy: 405 is allowed; modern: there is none).
        return method_not_allowed(allow);
    }
    if !accepts(&headers, "application/json") || !accepts(&headers, "text/event-stream") {
        return rpc_error(
            StatusCode::NOT_ACCEPTABLE,
            Value::Null,
            -32000,
            "Not Acceptable: the client must accept both application/json and text/event-stream",
        );
    }
    let msg = match read_message(&headers, body).await {
        Ok(m) => m,
        Err(resp) => return resp,
    };
    if token.is_none() && !public_method(&msg) {
        match check_bearer(ctx, &headers, rs_path, method, rs_path) {
            Ok(t) => token = Some(t),
            Err(resp) => return resp,
        }
    }
    let is_initialize = msg.get("method").and_then(Value::as_str) == Some("initialize");
    let era = match ctx.protocol {
        Protocol::Modern => Era::Modern,
        Protocol::Legacy => Era::Legacy,
        Protocol::Dual if is_initialize => Era::Legacy,
        Protocol::Dual if modern::looks_modern(&headers, &msg) => Era::Modern,
        Protocol::Dual => Era::Legacy,
    };
    match era {
        Era::Modern => modern_post(ctx, rs_path, &headers, &msg, token.as_ref()),
        Era::Legacy => legacy_post(ctx, rs_path, &headers, &msg, token.as_ref()),
    }
}

/// A 2026-07-28 request: stateless, checked headers, `resultType` on every result.
fn modern_post(
    ctx: &Shared,
    rs_path: &str,
    headers: &HeaderMap,
    msg: &Value,
    token: Option<&TokenInfo>,
) -> Response {
    let id = msg.get("id").cloned().unwrap_or(Value::Null);
    let method = msg.get("method").and_then(Value::as_str).unwrap_or("");
    if method == "initialize" {
        let requested = msg
            .get("params")
            .and_then(|p| p.get("protocolVersion"))
            .cloned()
            .unwrap_or(Value::Null);
        return modern::unsupported_version(
            ctx.protocol,
            &id,
            &requested,
            " (this server has no initialize handshake)",
        );
    }
    if let Err(resp) = modern::validate(ctx.protocol, headers, msg) {
        return resp;
    }
    match handle_message(ctx, msg, token, Era::Modern) {
        Outcome::Nothing => StatusCode::ACCEPTED.into_response(),
        Outcome::Forbidden(step) => insufficient_scope(ctx, rs_path, &step),
        Outcome::UnknownMethod(v) => json_response(StatusCode::NOT_FOUND, &v),
        Outcome::Error(v) => reply(ctx, &v),
        Outcome::Reply(mut v) => {
            if let Some(r) = v.get_mut("result") {
                modern::decorate(method, r);
            }
            reply(ctx, &v)
        }
    }
}

/// A 2025-11-25 / 2025-06-18 / 2025-03-26 request: `initialize` opens a session.
fn legacy_post(
    ctx: &Shared,
    rs_path: &str,
    headers: &HeaderMap,
    msg: &Value,
    token: Option<&TokenInfo>,
) -> Response {
    let id = msg.get("id").cloned().unwrap_or(Value::Null);
    let is_initialize = msg.get("method").and_then(Value::as_str) == Some("initialize");
    let session = headers
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if !is_initialize {
        match &session {
            None => {
                return rpc_error(
                    StatusCode::BAD_REQUEST,
                    id,
                    -32000,
                    "Bad Request: Mcp-Session-Id header is required",
                )
            }
            Some(s) if !ctx.lock().mcp_sessions.contains_key(s) => {
                return rpc_error(StatusCode::NOT_FOUND, id, -32001, "session not found")
            }
            Some(_) => {}
        }
    }
    if let Some(v) = headers.get("mcp-protocol-version") {
        let ok = v
            .to_str()
            .is_ok_and(|v| LEGACY_VERSIONS.contains(&v.trim()));
        if !ok {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                Value::Null,
                -32000,
                "Bad Request: unsupported MCP-Protocol-Version",
            );
        }
    }
    let new_session = is_initialize.then(|| {
        let sid = random_token(16);
        ctx.lock().mcp_sessions.insert(sid.clone(), ());
        sid
    });
    let mut resp = match handle_message(ctx, msg, token, Era::Legacy) {
        Outcome::Nothing => return StatusCode::ACCEPTED.into_response(),
        Outcome::Forbidden(step) => return insufficient_scope(ctx, rs_path, &step),
        Outcome::Reply(v) | Outcome::Error(v) | Outcome::UnknownMethod(v) => reply(ctx, &v),
    };
    if let Some(sid) = new_session.and_then(|s| HeaderValue::from_str(&s).ok()) {
        resp.headers_mut().insert("mcp-session-id", sid);
    }
    resp
}
