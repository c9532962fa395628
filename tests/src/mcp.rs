//! The MCP resource server: Streamable HTTP at /mcp and the old HTTP+SSE transport.

use std::convert::Infallible;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::server::{body_text, content_type_is, json_response, method_not_allowed};
use crate::state::{Ctx, Shared};
use crate::util::{random_token, Params};

const LATEST_PROTOCOL: &str = "2025-11-25";
const SUPPORTED_PROTOCOLS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

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

fn unauthorized(ctx: &Shared, rs_path: &str, error: Option<&str>) -> Response {
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

fn insufficient_scope(ctx: &Shared, rs_path: &str, needed: &str) -> Response {
    let desc = format!("this operation needs the {needed} scope");
    let mut parts = vec![
        "error=\"insufficient_scope\"".to_string(),
        "scope=\"mcp:read mcp:write\"".to_string(),
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

/// Check the bearer token: issued here, unexpired, unrevoked, audience = this RS.
fn check_bearer(ctx: &Shared, headers: &HeaderMap, rs_path: &str) -> Result<TokenInfo, Response> {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(unauthorized(ctx, rs_path, None));
    };
    let Some((scheme, token)) = value.trim().split_once(' ') else {
        return Err(unauthorized(ctx, rs_path, None));
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(unauthorized(ctx, rs_path, None));
    }
    let token = token.trim();
    let inner = ctx.lock();
    let Some(t) = inner.access.get(token) else {
        return Err(unauthorized(
            ctx,
            rs_path,
            Some("the access token is not known here"),
        ));
    };
    if t.revoked || !inner.grant_active(t.grant) {
        return Err(unauthorized(
            ctx,
            rs_path,
            Some("the access token was revoked"),
        ));
    }
    if Instant::now() >= t.expires {
        return Err(unauthorized(ctx, rs_path, Some("the access token expired")));
    }
    if !ctx.is_known_resource(&t.resource) {
        return Err(unauthorized(
            ctx,
            rs_path,
            Some("the access token was issued for another resource"),
        ));
    }
    Ok(TokenInfo {
        client_id: t.client_id.clone(),
        scope: t.scope.clone(),
    })
}

fn rpc_error_body(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn rpc_error(status: StatusCode, id: Value, code: i64, message: &str) -> Response {
    json_response(status, &rpc_error_body(id, code, message))
}

fn accepted() -> Response {
    StatusCode::ACCEPTED.into_response()
}

/// The outcome of one JSON-RPC message.
enum Outcome {
    /// A response to send back.
    Reply(Value),
    /// A notification or a response: nothing to send.
    Nothing,
    /// The token lacks a scope.
    Forbidden(&'static str),
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
fn handle_message(msg: &Value, token: &TokenInfo) -> Outcome {
    let Some(method) = msg.get("method").and_then(Value::as_str) else {
        return Outcome::Nothing;
    };
    let Some(id) = msg.get("id").cloned() else {
        return Outcome::Nothing;
    };
    if !(id.is_string() || id.is_i64() || id.is_u64()) {
        return Outcome::Reply(rpc_error_body(
            Value::Null,
            -32600,
            "invalid request: id must be a string or an integer",
        ));
    }
    let params = msg.get("params").cloned().unwrap_or(json!({}));
    let result = match method {
        "initialize" => {
            let requested = params
                .get("protocolVersion")
                .and_then(Value::as_str)
                .unwrap_or(LATEST_PROTOCOL);
            let version = if SUPPORTED_PROTOCOLS.contains(&requested) {
                requested
            } else {
                LATEST_PROTOCOL
            };
            json!({
                "protocolVersion": version,
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "mcp-auth-testkit", "version": env!("CARGO_PKG_VERSION")},
            })
        }
        "ping" => json!({}),
        "tools/list" => json!({"tools": tools()}),
        "tools/call" => {
            let name = params.get("name").and_then(Value::as_str).unwrap_or("");
            let args = params.get("arguments").cloned().unwrap_or(json!({}));
            let text_arg = args.get("text").and_then(Value::as_str);
            match name {
                "echo" => match text_arg {
                    Some(t) => text_result(t.to_string()),
                    None => {
                        return Outcome::Reply(rpc_error_body(
                            id,
                            -32602,
                            "echo needs a string argument `text`",
                        ))
                    }
                },
                "whoami" => {
                    let who = json!({"client_id": token.client_id, "scopes": token.scope});
                    let mut r = text_result(who.to_string());
                    r["structuredContent"] = who;
                    r
                }
                "write_note" => {
                    if !token.scope.iter().any(|s| s == "mcp:write") {
                        return Outcome::Forbidden("mcp:write");
                    }
                    match text_arg {
                        Some(t) => text_result(format!("note saved: {t}")),
                        None => {
                            return Outcome::Reply(rpc_error_body(
                                id,
                                -32602,
                                "write_note needs a string argument `text`",
                            ))
                        }
                    }
                }
                other => {
                    return Outcome::Reply(rpc_error_body(
                        id,
                        -32602,
                        &format!("unknown tool: {other}"),
                    ))
                }
            }
        }
        other => {
            return Outcome::Reply(rpc_error_body(
                id,
                -32601,
                &format!("method not found: {other}"),
            ))
        }
    };
    Outcome::Reply(json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

/// Parse a JSON-RPC body; the error is a ready response.
fn parse_message(text: &str) -> Result<Value, Response> {
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

/// `/mcp`: Streamable HTTP (JSON responses only).
pub(crate) async fn mcp_endpoint(ctx: &Ctx, method: &Method, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let token = match check_bearer(ctx, &headers, "/mcp") {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    if method == Method::DELETE {
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
    if method == Method::GET {
        // We offer no server-initiated stream (spec: 405 is allowed).
        return method_not_allowed("POST, DELETE, OPTIONS");
    }
    if method != Method::POST {
        return method_not_allowed("POST, DELETE, OPTIONS");
    }
    if !accepts(&headers, "application/json") || !accepts(&headers, "text/event-stream") {
        return rpc_error(
            StatusCode::NOT_ACCEPTABLE,
            Value::Null,
            -32000,
            "Not Acceptable: the client must accept both application/json and text/event-stream",
        );
    }
    if !content_type_is(&headers, "application/json") {
        return rpc_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Value::Null,
            -32000,
            "Unsupported Media Type: the body must be application/json",
        );
    }
    if let Some(v) = headers.get("mcp-protocol-version") {
        let ok = v
            .to_str()
            .is_ok_and(|v| SUPPORTED_PROTOCOLS.contains(&v.trim()));
        if !ok {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                Value::Null,
                -32000,
                "unsupported MCP-Protocol-Version",
            );
        }
    }
    let text = match body_text(body).await {
        Ok(t) => t,
        Err(e) => return rpc_error(StatusCode::BAD_REQUEST, Value::Null, -32700, &e),
    };
    let msg = match parse_message(&text) {
        Ok(m) => m,
        Err(resp) => return resp,
    };
    let id = msg.get("id").cloned().unwrap_or(Value::Null);
    let is_initialize = msg.get("method").and_then(Value::as_str) == Some("initialize");
    let session = headers
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut new_session = None;
    if is_initialize {
        let sid = random_token(16);
        ctx.lock().mcp_sessions.insert(sid.clone(), ());
        new_session = Some(sid);
    } else {
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
    match handle_message(&msg, &token) {
        Outcome::Nothing => accepted(),
        Outcome::Forbidden(scope) => insufficient_scope(ctx, "/mcp", scope),
        Outcome::Reply(v) => {
            let mut resp = json_response(StatusCode::OK, &v);
            if let Some(sid) = new_session.and_then(|s| HeaderValue::from_str(&s).ok()) {
                resp.headers_mut().insert("mcp-session-id", sid);
            }
            resp
        }
    }
}

fn sse_event(event: &str, data: &str) -> String {
    let mut out = format!("event: {event}\n");
    for line in data.lines() {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// `GET /sse`: open the event stream of the 2024-11-05 HTTP+SSE transport.
pub(crate) async fn sse_get(ctx: &Ctx, req: Request) -> Response {
    if let Err(resp) = check_bearer(ctx, req.headers(), "/sse") {
        return resp;
    }
    let sid = random_token(16);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let _ = tx.send(sse_event("endpoint", &format!("/messages?sessionId={sid}")));
    ctx.lock().sse_sessions.insert(sid, tx);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|s| (Ok::<Bytes, Infallible>(Bytes::from(s)), rx))
    });
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// `POST /messages?sessionId=...`: a JSON-RPC message whose answer goes onto the stream.
pub(crate) async fn messages_post(ctx: &Ctx, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let token = match check_bearer(ctx, &parts.headers, "/sse") {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let p = Params::parse(parts.uri.query().unwrap_or(""));
    let Some(sid) = p.get("sessionId").map(str::to_string) else {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            Value::Null,
            -32000,
            "sessionId is missing",
        );
    };
    let Some(tx) = ctx.lock().sse_sessions.get(&sid).cloned() else {
        return rpc_error(
            StatusCode::NOT_FOUND,
            Value::Null,
            -32001,
            "session not found",
        );
    };
    if !content_type_is(&parts.headers, "application/json") {
        return rpc_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Value::Null,
            -32000,
            "the body must be application/json",
        );
    }
    let text = match body_text(body).await {
        Ok(t) => t,
        Err(e) => return rpc_error(StatusCode::BAD_REQUEST, Value::Null, -32700, &e),
    };
    let msg = match parse_message(&text) {
        Ok(m) => m,
        Err(resp) => return resp,
    };
    match handle_message(&msg, &token) {
        Outcome::Nothing => accepted(),
        Outcome::Forbidden(scope) => insufficient_scope(ctx, "/sse", scope),
        Outcome::Reply(v) => {
            if tx.send(sse_event("message", &v.to_string())).is_err() {
                ctx.lock().sse_sessions.remove(&sid);
                return rpc_error(StatusCode::NOT_FOUND, Value::Null, -32001, "stream closed");
            }
            (StatusCode::ACCEPTED, "Accepted").into_response()
        }
    }
}
