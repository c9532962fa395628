//! Reading what a server answers: the JSON-RPC messages of a response (a JSON object or
//! batch, or the events of a `text/event-stream` body), the answer to one request, its
//! `result` (with the 2026-07-28 `resultType`), and the errors that mark a modern server.

use super::headers::printable;
use super::sse;
use crate::error::{Error, Result};
use crate::host::HttpResponse;
use crate::json::Json;

/// How much server text an error message quotes.
pub const QUOTE: usize = 200;

/// JSON-RPC error codes the 2026-07-28 revision defines.
pub const HEADER_MISMATCH: i64 = -32020;
pub const MISSING_CAPABILITY: i64 = -32021;
pub const UNSUPPORTED_VERSION: i64 = -32022;
pub const METHOD_NOT_FOUND: i64 = -32601;

/// A JSON-RPC error object.
#[derive(Clone, Debug, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Json,
}

impl RpcError {
    pub fn of(msg: &Json) -> Option<RpcError> {
        let e = msg.get("error")?;
        Some(RpcError {
            code: e.get("code").and_then(Json::as_i64)?,
            message: e
                .get("message")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string(),
            data: e.get("data").cloned().unwrap_or(Json::Null),
        })
    }

    /// The `supported` versions of an `UnsupportedProtocolVersionError`.
    pub fn supported(&self) -> Vec<&str> {
        let mut out = Vec::new();
        if let Some(list) = self.data.get("supported").and_then(Json::as_array) {
            for v in list {
                if let Some(s) = v.as_str() {
                    out.push(s);
                }
            }
        }
        out
    }

    pub fn into_error(self, method: &str) -> Error {
        Error::Mcp {
            method: method.to_string(),
            code: self.code,
            message: printable(&self.message, QUOTE),
        }
    }
}

fn is_event_stream(resp: &HttpResponse) -> bool {
    is_event_stream_type(resp.header("content-type"))
}

/// Whether a `Content-Type` is `text/event-stream` (any case, parameters allowed).
pub(crate) fn is_event_stream_type(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|c| {
        c.trim_ascii_start()
            .to_ascii_lowercase()
            .starts_with("text/event-stream")
    })
}

/// The JSON-RPC messages in a response. Events with empty data (priming events) are not
/// messages; an event that is not JSON is an error.
pub fn messages(resp: &HttpResponse) -> Result<Vec<Json>> {
    if is_event_stream(resp) {
        let events = sse::parse_body(&resp.body).map_err(|e| {
            Error::McpProtocol(format!(
                "the server's event stream holds an event over {} bytes",
                e.limit
            ))
        })?;
        let mut messages = Vec::new();
        for e in events.iter().filter(|e| e.event == "message") {
            messages.push(crate::json::parse(e.data.as_bytes()).map_err(|_| {
                Error::McpProtocol(format!(
                    "the server sent an event that is not JSON: {}",
                    printable(&e.data, QUOTE)
                ))
                .boxed()
            })?);
        }
        Ok(messages)
    } else if resp.body.iter().all(u8::is_ascii_whitespace) {
        Ok(Vec::new())
    } else {
        let v: Json = crate::json::parse(&resp.body).map_err(|_| {
            if looks_like_html(resp) {
                Error::McpProtocol(format!(
                    "the server's answer is an HTML page (HTTP {}), not an MCP answer; is this the MCP endpoint?",
                    resp.status
                ))
            } else {
                Error::McpProtocol(format!(
                    "the server's answer is not JSON: {}",
                    printable(&resp.text(), QUOTE)
                ))
            }
        })?;
        Ok(match v {
            Json::Array(a) => a,
            v => vec![v],
        })
    }
}

/// The answer to request `id` among messages.
pub fn answer_to(messages: Vec<Json>, id: u64) -> Option<Json> {
    messages
        .into_iter()
        .find(|m| m.get("id").and_then(Json::as_u64) == Some(id))
}

/// The error a modern server gives with a 4xx: unsupported version, header mismatch,
/// missing capability, or method not found (the codes that tell a 2026-07-28 server from
/// an older one). `None` for any other body.
pub fn modern_error(resp: &HttpResponse) -> Option<RpcError> {
    let msgs = messages(resp).ok()?;
    for m in &msgs {
        if let Some(e) = RpcError::of(m).filter(|e| {
            matches!(
                e.code,
                HEADER_MISMATCH | MISSING_CAPABILITY | UNSUPPORTED_VERSION | METHOD_NOT_FOUND
            )
        }) {
            return Some(e);
        }
    }
    None
}

/// An answer's `result`, or its error. A `resultType` other than `complete` (absent means
/// complete) is refused: `input_required` needs multi round-trip support this client lacks.
pub fn result(method: &str, answer: Json) -> Result<Json> {
    if let Some(e) = RpcError::of(&answer) {
        return Err(e.into_error(method).boxed());
    }
    let Some(result) = answer.get("result") else {
        return Err(Error::McpProtocol(format!(
            "{method}: the server's answer has neither a result nor an error"
        ))
        .boxed());
    };
    match result.get("resultType").map(|t| t.as_str()) {
        None | Some(Some("complete")) => Ok(result.clone()),
        Some(Some("input_required")) => Err(Error::InputRequired {
            method: method.to_string(),
        }
        .boxed()),
        Some(other) => Err(Error::McpProtocol(format!(
            "{method}: the server answered with an unknown resultType `{}`",
            printable(&other.map(str::to_string).unwrap_or_default(), 60)
        ))
        .boxed()),
    }
}

/// An error page of a proxy or web server rather than an MCP answer.
fn looks_like_html(resp: &HttpResponse) -> bool {
    resp.header("content-type").is_some_and(|c| {
        c.as_bytes()
            .windows(4)
            .any(|w| w.eq_ignore_ascii_case(b"html"))
    }) || resp.text().trim_ascii_start().starts_with('<')
}

/// An HTTP status that is not an answer, in words (with the server's JSON-RPC error when it
/// sent one).
pub fn http_error(method: &str, resp: &HttpResponse) -> Error {
    if let Some(e) = messages(resp)
        .ok()
        .and_then(|m| m.iter().find_map(RpcError::of))
    {
        return e.into_error(method);
    }
    let text = if looks_like_html(resp) {
        // an error page of a proxy or web server: its markup says nothing to the user
        "an HTML page, not an MCP answer".to_string()
    } else {
        printable(resp.text().trim_ascii(), QUOTE)
    };
    Error::McpProtocol(format!(
        "{method}: the server answered HTTP {}{}",
        resp.status,
        if text.is_empty() {
            String::new()
        } else {
            format!(": {text}")
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test fixtures are written with `serde_json::json!` and read as core's tree.
    macro_rules! json {
        ($($t:tt)+) => {
            crate::json::parse(&serde_json::to_vec(&serde_json::json!($($t)+)).unwrap()).unwrap()
        };
    }

    fn resp(status: u16, ctype: &str, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![("content-type".into(), ctype.into())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn priming_events_are_not_messages() {
        let r = resp(
            200,
            "text/event-stream",
            "id: abc\ndata:\n\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{}}\n\n",
        );
        let m = messages(&r).unwrap();
        assert_eq!(m.len(), 1);
        assert!(answer_to(m, 4).is_some());
        let bad = resp(200, "text/event-stream", "data: <html>\n\n");
        assert_eq!(messages(&bad).unwrap_err().code(), "mcp_protocol");
    }

    #[test]
    fn json_answers_batches_and_event_streams() {
        let j = |body| messages(&resp(200, "application/json", body));
        assert_eq!(j(r#"[{"id":1},{"id":2}]"#).unwrap().len(), 2);
        assert_eq!(j(r#"{"id":1}"#).unwrap().len(), 1);
        assert!(j("").unwrap().is_empty());
        assert!(j("<html>").is_err());
        let sse = resp(
            200,
            "text/event-stream; charset=utf-8",
            "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\ndata: \"result\":{}}\n\n: comment\n\nevent: message\r\ndata: {\"id\":2}\r\n\r\n",
        );
        let msgs = messages(&sse).expect("parsed");
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert_eq!(msgs[0].get("id").and_then(Json::as_u64), Some(1));
        assert_eq!(
            answer_to(msgs, 2).unwrap().get("id").and_then(Json::as_u64),
            Some(2)
        );
    }

    #[test]
    fn modern_errors_are_recognised() {
        let r = resp(
            400,
            "application/json",
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32022,"message":"x","data":{"supported":["2025-11-25"]}}}"#,
        );
        let e = modern_error(&r).unwrap();
        assert_eq!(e.supported(), ["2025-11-25"]);
        // a legacy server's 400: not a modern error
        let legacy = resp(
            400,
            "application/json",
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"Bad Request: Server not initialized"}}"#,
        );
        assert!(modern_error(&legacy).is_none());
        assert!(modern_error(&resp(404, "text/plain", "Not Found")).is_none());
        assert!(modern_error(&resp(405, "", "")).is_none());
        let e = http_error("tools/list", &legacy);
        assert_eq!(e.code(), "mcp_error");
        assert!(e.to_string().contains("-32000"), "{e}");
    }

    #[test]
    fn an_html_error_page_is_summarised_not_quoted() {
        let page = resp(
            503,
            "text/html; charset=utf-8",
            "<html><body><h1>Service Unavailable</h1>\u{1b}]52;c;Zm9v\u{7}</body></html>",
        );
        let m = http_error("tools/list", &page).to_string();
        assert!(m.contains("HTTP 503: an HTML page"), "{m}");
        assert!(!m.contains("<h1>") && !m.contains("52;c"), "{m}");
    }

    #[test]
    fn result_types() {
        assert_eq!(
            result("m", json!({"result": {"a": 1}}))
                .unwrap()
                .get("a")
                .and_then(Json::as_u64),
            Some(1)
        );
        assert!(result("m", json!({"result": {"resultType": "complete"}})).is_ok());
        assert_eq!(
            result("m", json!({"result": {"resultType": "input_required"}}))
                .unwrap_err()
                .code(),
            "input_required"
        );
        assert_eq!(
            result("m", json!({"result": {"resultType": "later"}}))
                .unwrap_err()
                .code(),
            "mcp_protocol"
        );
        let e = result(
            "m",
            json!({"error": {"code": -32601, "message": "no\u{1b}[2J"}}),
        )
        .unwrap_err();
        assert_eq!(e.code(), "mcp_error");
        assert!(!e.to_string().contains('\u{1b}'));
    }
}
