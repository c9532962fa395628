//! MCP 2026-07-28 (modern, stateless) request checks and result shapes.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use serde_json::{json, Value};

use crate::protocol::{Protocol, MODERN_VERSIONS};
use crate::server::json_response;

pub(crate) const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
pub(crate) const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
pub(crate) const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// JSON-RPC error codes the modern revision defines.
pub(crate) const HEADER_MISMATCH: i64 = -32020;
pub(crate) const UNSUPPORTED_VERSION: i64 = -32022;

/// How long clients may cache `tools/list` and `server/discover` results.
const TTL_MS: u64 = 60_000;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, Response> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => match v.to_str() {
            Ok(s) => Ok(Some(s)),
            Err(_) => Err(mismatch(
                &Value::Null,
                &format!("the {name} header contains invalid characters"),
            )),
        },
    }
}

fn meta(msg: &Value) -> Option<&Value> {
    msg.get("params").and_then(|p| p.get("_meta"))
}

/// The request's `_meta` protocol version, when it carries one.
pub(crate) fn meta_version(msg: &Value) -> Option<&Value> {
    meta(msg).and_then(|m| m.get(META_VERSION))
}

/// Does this request speak the modern era (per-request `_meta`, or a modern version header)?
pub(crate) fn looks_modern(headers: &HeaderMap, msg: &Value) -> bool {
    if meta_version(msg).is_some() {
        return true;
    }
    headers
        .get("mcp-protocol-version")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| MODERN_VERSIONS.contains(&v.trim()))
}

fn mismatch(id: &Value, detail: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({"jsonrpc": "2.0", "id": id, "error": {
            "code": HEADER_MISMATCH, "message": format!("Header mismatch: {detail}")}}),
    )
}

/// 400 + `UnsupportedProtocolVersionError` listing what this server speaks.
pub(crate) fn unsupported_version(
    protocol: Protocol,
    id: &Value,
    requested: &Value,
    note: &str,
) -> Response {
    let supported = protocol.supported_versions();
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({"jsonrpc": "2.0", "id": id, "error": {
            "code": UNSUPPORTED_VERSION,
            "message": format!("Unsupported protocol version{note}; supported: {}",
                supported.join(", ")),
            "data": {"supported": supported, "requested": requested}}}),
    )
}

/// Decode an `Mcp-Name` / `Mcp-Param-*` value: plain, or the `=?base64?...?=` sentinel form.
pub(crate) fn decode_header_value(v: &str) -> Option<String> {
    match v
        .strip_prefix("=?base64?")
        .and_then(|rest| rest.strip_suffix("?="))
    {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok()),
        None => Some(v.to_string()),
    }
}

/// The body field `Mcp-Name` mirrors for `method`, if any.
fn name_field(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    }
}

/// Check the per-request metadata rules of 2026-07-28. `Err` is a ready 400.
pub(crate) fn validate(
    protocol: Protocol,
    headers: &HeaderMap,
    msg: &Value,
) -> Result<(), Response> {
    let id = msg.get("id").cloned().unwrap_or(Value::Null);
    let method = msg.get("method").and_then(Value::as_str).unwrap_or("");
    let Some(h_version) = header(headers, "mcp-protocol-version")? else {
        return Err(mismatch(&id, "the MCP-Protocol-Version header is missing"));
    };
    let body_version = meta_version(msg).and_then(Value::as_str);
    if body_version != Some(h_version) {
        return Err(mismatch(
            &id,
            &format!(
                "MCP-Protocol-Version header value '{h_version}' does not match _meta {META_VERSION} {}",
                body_version.map_or("(missing)".to_string(), |v| format!("'{v}'"))
            ),
        ));
    }
    if !MODERN_VERSIONS.contains(&h_version) {
        return Err(unsupported_version(protocol, &id, &json!(h_version), ""));
    }
    match header(headers, "mcp-method")? {
        None => return Err(mismatch(&id, "the Mcp-Method header is missing")),
        Some(m) if m != method => {
            return Err(mismatch(
                &id,
                &format!("Mcp-Method header value '{m}' does not match body value '{method}'"),
            ))
        }
        Some(_) => {}
    }
    if let Some(field) = name_field(method) {
        let body = msg
            .get("params")
            .and_then(|p| p.get(field))
            .and_then(Value::as_str);
        let Some(raw) = header(headers, "mcp-name")? else {
            return Err(mismatch(&id, "the Mcp-Name header is missing"));
        };
        let Some(decoded) = decode_header_value(raw) else {
            return Err(mismatch(
                &id,
                "the Mcp-Name header is not valid base64 UTF-8",
            ));
        };
        if body != Some(decoded.as_str()) {
            return Err(mismatch(
                &id,
                &format!(
                    "Mcp-Name header value '{decoded}' does not match body value '{}'",
                    body.unwrap_or("")
                ),
            ));
        }
    }
    if msg.get("id").is_some() && meta(msg).and_then(|m| m.get(META_CAPABILITIES)).is_none() {
        return Err(json_response(
            StatusCode::BAD_REQUEST,
            &json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32602,
                "message": format!("Invalid params: _meta {META_CAPABILITIES} is required")}}),
        ));
    }
    Ok(())
}

pub(crate) fn server_info() -> Value {
    json!({"name": "mcp-auth-testkit", "version": env!("CARGO_PKG_VERSION")})
}

/// The `server/discover` result.
pub(crate) fn discover(protocol: Protocol) -> Value {
    json!({
        "supportedVersions": protocol.supported_versions(),
        "capabilities": {"tools": {}},
        "instructions": "mcp-auth testkit: echo, whoami and write_note tools.",
        "ttlMs": TTL_MS,
        "cacheScope": "public",
    })
}

/// Give a modern result its `resultType`, `_meta` serverInfo and, for lists, caching hints.
pub(crate) fn decorate(method: &str, result: &mut Value) {
    let Some(obj) = result.as_object_mut() else {
        return;
    };
    obj.insert("resultType".into(), json!("complete"));
    let meta = obj.entry("_meta").or_insert_with(|| json!({}));
    if let Some(m) = meta.as_object_mut() {
        m.insert(META_SERVER_INFO.into(), server_info());
    }
    if method == "tools/list" {
        obj.insert("ttlMs".into(), json!(TTL_MS));
        obj.insert("cacheScope".into(), json!("public"));
    }
}
