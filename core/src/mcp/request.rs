//! Building the HTTP requests of each era. Bodies are JSON-RPC 2.0; the modern ones carry
//! the request metadata (`_meta` and the mirrored headers) the 2026-07-28 revision requires.

use super::headers::encode_value;
use super::version::LATEST;
use crate::host::{HttpRequest, Method, MCP_MAX_BODY};
use crate::json::{Json, Object};

/// Both media types a Streamable HTTP client must accept.
pub const ACCEPT: &str = "application/json, text/event-stream";

/// The name this client gives servers.
pub const CLIENT_NAME: &str = "mcp-auth";
/// The version this client gives servers.
pub const CLIENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// This client's `clientInfo`.
fn client_info() -> Object {
    Object::new()
        .with("name", CLIENT_NAME)
        .with("version", CLIENT_VERSION)
}

/// The `_meta` every modern request carries (members in key order, as sent before).
pub fn meta(version: &str) -> Object {
    Object::new()
        .with("io.modelcontextprotocol/clientCapabilities", Object::new())
        .with("io.modelcontextprotocol/clientInfo", client_info())
        .with("io.modelcontextprotocol/protocolVersion", version)
}

/// The `initialize` params asking for `version`.
pub fn initialize_params(version: &str) -> Object {
    Object::new()
        .with("capabilities", Object::new())
        .with("clientInfo", client_info())
        .with("protocolVersion", version)
}

/// `o`'s members in key order (the order the bodies have always been sent in).
fn sorted(mut o: Object) -> Object {
    o.sort_keys();
    o
}

/// A JSON-RPC body: a request with `id`, or a notification without.
pub fn body(id: Option<u64>, method: &str, params: Option<Json>) -> Json {
    let mut m = Object::new();
    if let Some(id) = id {
        m.insert("id", id);
    }
    m.insert("jsonrpc", "2.0");
    m.insert("method", method);
    if let Some(p) = params {
        m.insert("params", p);
    }
    Json::Object(m)
}

/// A modern (2026-07-28) request: `params._meta` merged into the caller's params, and the
/// `MCP-Protocol-Version`, `Mcp-Method` and (for `tools/call`, `resources/read`,
/// `prompts/get`) `Mcp-Name` headers, plus any `Mcp-Param-*` headers given.
pub fn modern(
    url: &str,
    id: u64,
    version: &str,
    method: &str,
    params: Option<Json>,
    param_headers: Vec<(String, String)>,
) -> HttpRequest {
    let mut params = match params {
        Some(Json::Object(m)) => m,
        _ => Object::new(),
    };
    let mut m = match params.remove("_meta") {
        Some(Json::Object(m)) => m,
        _ => Object::new(),
    };
    for (k, v) in meta(version) {
        m.insert(k, v);
    }
    params.insert("_meta", sorted(m));
    let params = sorted(params);
    let name_field = match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    };
    let name = name_field
        .and_then(|f| params.get(f))
        .and_then(Json::as_str)
        .map(encode_value);
    let payload = body(Some(id), method, Some(Json::Object(params)));
    let text = crate::json::print(&payload);
    let mut req = HttpRequest::post(url, "application/json", text.into_bytes())
        .max_body(MCP_MAX_BODY)
        .header("accept", ACCEPT)
        .header("mcp-protocol-version", version)
        .header("mcp-method", encode_value(method));
    if let Some(n) = name {
        req = req.header("mcp-name", n);
    }
    for (n, v) in param_headers {
        req = req.header(&n, v);
    }
    req
}

/// The unauthenticated modern `server/discover` POST for `server_url`: every required
/// header and `_meta`, at the newest revision. Its 401 starts discovery; its answer tells
/// the server's versions (or, as a 4xx without a modern error, that the server is legacy).
pub fn discover_request(server_url: &str) -> HttpRequest {
    modern(server_url, 1, LATEST, "server/discover", None, Vec::new())
}

/// A legacy (Streamable HTTP up to 2025-11-25, or an HTTP+SSE endpoint) POST, with the
/// session id and negotiated version headers once known.
pub fn legacy(
    url: &str,
    id: Option<u64>,
    method: &str,
    params: Option<Json>,
    session_id: Option<&str>,
    version_header: Option<&str>,
) -> HttpRequest {
    let payload = crate::json::print(&body(id, method, params)).into_bytes();
    let mut req = HttpRequest::post(url, "application/json", payload)
        .max_body(MCP_MAX_BODY)
        .header("accept", ACCEPT);
    if let Some(s) = session_id {
        req = req.header("mcp-session-id", s);
    }
    if let Some(v) = version_header {
        req = req.header("mcp-protocol-version", v);
    }
    req
}

/// The `initialize` request asking for `version`.
pub fn initialize(url: &str, id: u64, version: &str) -> HttpRequest {
    let params = initialize_params(version).into();
    legacy(url, Some(id), "initialize", Some(params), None, None)
}

/// The GET that opens the 2024-11-05 event stream.
pub fn event_stream(url: &str) -> HttpRequest {
    HttpRequest::get(url).header("accept", "text/event-stream")
}

/// The DELETE that ends a legacy session.
pub fn end_session(url: &str, session_id: &str, version_header: Option<&str>) -> HttpRequest {
    let mut req = HttpRequest {
        method: Method::Delete,
        url: url.to_string(),
        headers: vec![("mcp-session-id".into(), session_id.to_string())],
        body: None,
        max_body: MCP_MAX_BODY,
    };
    if let Some(v) = version_header {
        req = req.header("mcp-protocol-version", v);
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// Test fixtures are written with `serde_json::json!` and read as core's tree.
    fn tree(v: Value) -> Json {
        crate::json::parse(&serde_json::to_vec(&v).unwrap()).unwrap()
    }

    fn json_body(req: &HttpRequest) -> Value {
        serde_json::from_slice(req.body.as_deref().unwrap()).unwrap()
    }

    #[test]
    fn discover_request_carries_every_required_part() {
        let req = discover_request("https://mcp.example/mcp");
        assert_eq!(req.method, Method::Post);
        assert_eq!(req.url, "https://mcp.example/mcp");
        assert_eq!(req.header_value("mcp-protocol-version"), Some(LATEST));
        assert_eq!(req.header_value("mcp-method"), Some("server/discover"));
        assert_eq!(req.header_value("mcp-name"), None);
        assert_eq!(req.header_value("content-type"), Some("application/json"));
        assert_eq!(
            req.header_value("accept"),
            Some("application/json, text/event-stream")
        );
        assert_eq!(req.header_value("authorization"), None);
        let b = json_body(&req);
        assert_eq!(b["jsonrpc"], "2.0");
        assert_eq!(b["method"], "server/discover");
        assert!(b["id"].is_u64());
        let m = &b["params"]["_meta"];
        assert_eq!(m["io.modelcontextprotocol/protocolVersion"], LATEST);
        assert_eq!(m["io.modelcontextprotocol/clientInfo"]["name"], "mcp-auth");
        assert_eq!(
            m["io.modelcontextprotocol/clientInfo"]["version"],
            CLIENT_VERSION
        );
        assert_eq!(m["io.modelcontextprotocol/clientCapabilities"], json!({}));
    }

    #[test]
    fn legacy_requests_carry_the_session_and_version_once_known() {
        let req = legacy(
            "https://x/mcp",
            Some(3),
            "tools/list",
            None,
            Some("sid"),
            Some("2025-11-25"),
        );
        assert_eq!(req.header_value("mcp-session-id"), Some("sid"));
        assert_eq!(req.header_value("mcp-protocol-version"), Some("2025-11-25"));
        assert_eq!(req.header_value("accept"), Some(ACCEPT));
        assert_eq!(json_body(&req)["id"], 3);
        let note = legacy(
            "https://x/mcp",
            None,
            "notifications/initialized",
            None,
            None,
            None,
        );
        assert!(json_body(&note).get("id").is_none());
        assert!(note.header_value("mcp-session-id").is_none());
    }

    #[test]
    fn named_requests_mirror_the_name() {
        let req = modern(
            "https://x/mcp",
            7,
            LATEST,
            "tools/call",
            Some(tree(
                json!({"name": "wetter€", "arguments": {}, "_meta": {"progressToken": 1}}),
            )),
            vec![("mcp-param-Region".into(), "eu".into())],
        );
        assert_eq!(
            req.header_value("mcp-name"),
            Some("=?base64?d2V0dGVy4oKs?=")
        );
        assert_eq!(req.header_value("mcp-param-region"), Some("eu"));
        let b = json_body(&req);
        assert_eq!(b["params"]["_meta"]["progressToken"], 1);
        assert_eq!(
            b["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"],
            LATEST
        );
        let r = modern(
            "https://x/mcp",
            8,
            LATEST,
            "resources/read",
            Some(tree(json!({"uri": "file:///a b"}))),
            Vec::new(),
        );
        assert_eq!(r.header_value("mcp-name"), Some("file:///a b"));
    }

    #[test]
    fn bodies_keep_their_member_order() {
        // serde_json's Map (no preserve_order) printed members sorted; the bytes stay so
        let reqs = [
            discover_request("https://x/mcp"),
            initialize("https://x/mcp", 1, "2025-06-18"),
            modern(
                "https://x/mcp",
                7,
                LATEST,
                "tools/call",
                Some(tree(
                    json!({"name": "t", "arguments": {"b": 1, "a": [true, null, "x"]}, "_meta": {"z": 1, "a": 2}}),
                )),
                Vec::new(),
            ),
        ];
        for req in reqs {
            let text = req.body.as_deref().unwrap();
            let sorted = serde_json::to_vec(&json_body(&req)).unwrap();
            assert_eq!(
                String::from_utf8_lossy(text),
                String::from_utf8_lossy(&sorted)
            );
        }
        assert_eq!(
            String::from_utf8_lossy(
                initialize("https://x/mcp", 4, "2025-06-18")
                    .body
                    .as_deref()
                    .unwrap()
            ),
            format!(
                r#"{{"id":4,"jsonrpc":"2.0","method":"initialize","params":{{"capabilities":{{}},"clientInfo":{{"name":"mcp-auth","version":"{CLIENT_VERSION}"}},"protocolVersion":"2025-06-18"}}}}"#
            )
        );
    }

    #[test]
    fn legacy_requests() {
        let i = initialize("https://x/mcp", 1, "2025-06-18");
        assert_eq!(i.header_value("mcp-protocol-version"), None);
        assert_eq!(json_body(&i)["params"]["protocolVersion"], "2025-06-18");
        let d = end_session("https://x/mcp", "s1", Some("2025-11-25"));
        assert_eq!(d.method, Method::Delete);
        assert_eq!(d.header_value("mcp-session-id"), Some("s1"));
    }
}
