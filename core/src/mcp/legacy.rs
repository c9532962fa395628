//! Legacy helpers (2025-11-25 `initialize` era) kept for the authorization probe in
//! `client.rs`: JSON-RPC requests over Streamable HTTP with the session and version headers,
//! and reading answers that come as JSON or as `text/event-stream` frames. New code uses
//! [`super::request`].

use crate::host::{HttpRequest, HttpResponse};
use serde_json::{json, Value};

/// The protocol version this client asks for.
pub const PROTOCOL_VERSION: &str = "2025-11-25";

/// Both media types a Streamable HTTP client must accept.
pub const ACCEPT: &str = "application/json, text/event-stream";

/// A JSON-RPC request (with `id`) or notification (without).
pub fn message(id: Option<u64>, method: &str, params: Option<Value>) -> Value {
    let mut m = json!({"jsonrpc": "2.0", "method": method});
    if let Some(id) = id {
        m["id"] = json!(id);
    }
    if let Some(p) = params {
        m["params"] = p;
    }
    m
}

/// The `initialize` parameters of a client with no capabilities of its own.
pub fn initialize_params(client_name: &str, client_version: &str) -> Value {
    json!({
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": client_name, "version": client_version},
    })
}

/// The POST that carries a message, with the session id and negotiated version once known.
pub fn post(
    endpoint: &str,
    body: &Value,
    session_id: Option<&str>,
    protocol_version: Option<&str>,
) -> HttpRequest {
    let mut req = HttpRequest::post(endpoint, "application/json", body.to_string().into_bytes())
        .max_body(crate::host::MCP_MAX_BODY)
        .header("accept", ACCEPT);
    if let Some(s) = session_id {
        req = req.header("mcp-session-id", s);
    }
    if let Some(v) = protocol_version {
        req = req.header("mcp-protocol-version", v);
    }
    req
}

/// One server-sent event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

/// Reads one event block (the text between blank lines). Comments and blocks without data
/// give `None`; the event name defaults to `message`.
pub fn sse_event(block: &str) -> Option<SseEvent> {
    let mut event = "message".to_string();
    let mut data = Vec::new();
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            event = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    (!data.is_empty()).then(|| SseEvent {
        event,
        data: data.join("\n"),
    })
}

/// Splits a buffer into complete event blocks, leaving an incomplete tail in place.
/// Line endings are normalised to `\n` first.
pub fn take_sse_events(buffer: &mut String) -> Vec<SseEvent> {
    if buffer.contains('\r') {
        *buffer = buffer.replace("\r\n", "\n");
    }
    let mut out = Vec::new();
    while let Some(end) = buffer.find("\n\n") {
        let block: String = buffer.drain(..end + 2).collect();
        out.extend(sse_event(&block));
    }
    out
}

/// The JSON-RPC messages in a response: a JSON object or batch, or the `data` of each event
/// of a `text/event-stream` body.
pub fn response_messages(resp: &HttpResponse) -> Result<Vec<Value>, String> {
    super::answer::messages(resp).map_err(|e| e.to_string())
}

/// The answer to request `id` among messages, if present.
pub fn find_answer(messages: Vec<Value>, id: u64) -> Option<Value> {
    messages
        .into_iter()
        .find(|m| m.get("id").and_then(Value::as_u64) == Some(id))
}

/// A JSON-RPC answer's `result`, or its `error` in words.
pub fn result_of(method: &str, answer: Value) -> Result<Value, String> {
    if let Some(err) = answer.get("error") {
        return Err(format!(
            "{method}: the server answered error {}: {}",
            err.get("code").cloned().unwrap_or(Value::Null),
            err.get("message").and_then(Value::as_str).unwrap_or("")
        ));
    }
    Ok(answer.get("result").cloned().unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(ctype: &str, body: &str) -> HttpResponse {
        HttpResponse {
            status: 200,
            headers: vec![("content-type".into(), ctype.into())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn event_stream_answers_are_split_into_messages() {
        let r = resp(
            "text/event-stream; charset=utf-8",
            "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\ndata: \"result\":{}}\n\n: comment\n\nevent: message\r\ndata: {\"id\":2}\r\n\r\n",
        );
        let msgs = response_messages(&r).expect("parsed");
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert_eq!(msgs[0]["id"], 1);
        assert_eq!(find_answer(msgs, 2).unwrap()["id"], 2);
    }

    #[test]
    fn json_answers_and_batches() {
        assert_eq!(
            response_messages(&resp("application/json", r#"[{"id":1},{"id":2}]"#))
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            response_messages(&resp("application/json", r#"{"id":1}"#))
                .unwrap()
                .len(),
            1
        );
        assert!(response_messages(&resp("application/json", ""))
            .unwrap()
            .is_empty());
        assert!(response_messages(&resp("application/json", "<html>")).is_err());
    }

    #[test]
    fn incomplete_events_wait_for_more_bytes() {
        let mut buf =
            "event: endpoint\ndata: /messages?sessionId=1\n\nevent: message\ndata: {".to_string();
        let got = take_sse_events(&mut buf);
        assert_eq!(
            got,
            vec![SseEvent {
                event: "endpoint".into(),
                data: "/messages?sessionId=1".into()
            }]
        );
        assert_eq!(buf, "event: message\ndata: {");
        buf.push_str("}\n\n");
        assert_eq!(take_sse_events(&mut buf)[0].data, "{}");
    }

    #[test]
    fn requests_and_results() {
        let m = message(Some(3), "tools/list", None);
        let req = post("https://x/mcp", &m, Some("sid"), Some(PROTOCOL_VERSION));
        assert_eq!(req.header_value("mcp-session-id"), Some("sid"));
        assert_eq!(
            req.header_value("mcp-protocol-version"),
            Some(PROTOCOL_VERSION)
        );
        assert_eq!(req.header_value("accept"), Some(ACCEPT));
        assert!(message(None, "notifications/initialized", None)
            .get("id")
            .is_none());
        assert_eq!(result_of("x", json!({"result": {"a": 1}})).unwrap()["a"], 1);
        let err = result_of(
            "tools/call",
            json!({"error": {"code": -32601, "message": "nope"}}),
        )
        .unwrap_err();
        assert!(err.contains("-32601") && err.contains("nope"), "{err}");
    }
}
