//! A minimal MCP client session over Streamable HTTP, or the 2024-11-05 HTTP+SSE transport
//! (`GET /sse` event stream + `POST` to the endpoint it names). Every POST goes through
//! core's `authorized_request` (which refreshes, logs in again or steps up as the server
//! asks); the event stream's token comes from core's `token_for`.

use crate::host::NativeHost;
use mcp_auth_core::{AuthOptions, HttpRequest, HttpResponse, McpAuth};
use serde_json::{json, Value};

pub const PROTOCOL_VERSION: &str = "2025-06-18";

pub struct McpSession<'a> {
    auth: &'a McpAuth<NativeHost>,
    url: String,
    opts: &'a AuthOptions,
    session_id: Option<String>,
    protocol_version: Option<String>,
    next_id: u64,
    sse: Option<SseStream>,
}

/// The open event stream of the HTTP+SSE transport.
struct SseStream {
    resp: reqwest::Response,
    buf: String,
    endpoint: String,
}

/// How long to wait for an answer on the event stream.
const SSE_ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl SseStream {
    /// The next complete event: (event name, data).
    async fn next_event(&mut self) -> Result<(String, String), String> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf[..end].to_string();
                self.buf.drain(..end + 2);
                let mut event = "message".to_string();
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
                    }
                }
                if data.is_empty() {
                    continue;
                }
                return Ok((event, data.join("\n")));
            }
            let chunk = tokio::time::timeout(SSE_ANSWER_TIMEOUT, self.resp.chunk())
                .await
                .map_err(|_| {
                    format!(
                        "no event from the server within {} s",
                        SSE_ANSWER_TIMEOUT.as_secs()
                    )
                })?
                .map_err(|e| format!("the event stream broke: {e}"))?
                .ok_or_else(|| "the server closed the event stream".to_string())?;
            self.buf
                .push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n"));
        }
    }
}

/// Messages of a response: a JSON body, or the `data:` of each server-sent event.
pub fn response_messages(resp: &HttpResponse) -> Result<Vec<Value>, String> {
    let ctype = resp
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    if ctype.starts_with("text/event-stream") {
        let text = resp.text().replace("\r\n", "\n");
        let mut out = Vec::new();
        for event in text.split("\n\n") {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            if data.is_empty() {
                continue;
            }
            let joined = data.join("\n");
            out.push(
                serde_json::from_str(&joined)
                    .map_err(|e| format!("the server sent an event that is not JSON ({e})"))?,
            );
        }
        Ok(out)
    } else if resp.body.is_empty() {
        Ok(Vec::new())
    } else {
        let v: Value = serde_json::from_slice(&resp.body)
            .map_err(|e| format!("the server's answer is not JSON ({e})"))?;
        Ok(match v {
            Value::Array(a) => a,
            v => vec![v],
        })
    }
}

impl<'a> McpSession<'a> {
    pub fn new(auth: &'a McpAuth<NativeHost>, url: &str, opts: &'a AuthOptions) -> Self {
        McpSession {
            auth,
            url: url.to_string(),
            opts,
            session_id: None,
            protocol_version: None,
            next_id: 1,
            sse: None,
        }
    }

    /// Opens the event stream of the HTTP+SSE transport at `url` and reads its endpoint.
    pub async fn connect_sse(
        auth: &'a McpAuth<NativeHost>,
        url: &str,
        opts: &'a AuthOptions,
    ) -> Result<Self, String> {
        let mut rejected = None;
        for _ in 0..2 {
            let record = auth
                .token_for(url, rejected.as_ref(), opts)
                .await
                .map_err(|e| e.to_string())?;
            let bearer = vec![(
                "authorization".to_string(),
                format!("Bearer {}", record.access_token.secret()),
            )];
            let resp = auth
                .host()
                .http()
                .open_stream(url, &bearer)
                .await
                .map_err(|e| mcp_auth_core::Error::from(e).to_string())?;
            if resp.status().as_u16() == 401 {
                rejected = Some(record.access_token);
                continue;
            }
            if !resp.status().is_success() {
                return Err(format!(
                    "GET {url}: the server answered HTTP {}",
                    resp.status().as_u16()
                ));
            }
            let mut stream = SseStream {
                resp,
                buf: String::new(),
                endpoint: String::new(),
            };
            let (event, data) = stream.next_event().await?;
            if event != "endpoint" {
                return Err(format!(
                    "the SSE stream began with `{event}`, not the `endpoint` event"
                ));
            }
            let endpoint = url::Url::parse(url)
                .and_then(|base| base.join(data.trim()))
                .map_err(|e| format!("the SSE endpoint `{data}` is not a URL: {e}"))?;
            stream.endpoint = endpoint.to_string();
            let mut s = McpSession::new(auth, url, opts);
            s.sse = Some(stream);
            return Ok(s);
        }
        Err(
            "the server rejected the new token too; check that this account may use the server"
                .into(),
        )
    }

    fn request(&self, body: &Value) -> HttpRequest {
        let target = match &self.sse {
            Some(s) => s.endpoint.as_str(),
            None => self.url.as_str(),
        };
        let mut req = HttpRequest::post(target, "application/json", body.to_string().into_bytes())
            .header("accept", "application/json, text/event-stream");
        if let Some(s) = &self.session_id {
            req = req.header("mcp-session-id", s.clone());
        }
        if let Some(v) = &self.protocol_version {
            req = req.header("mcp-protocol-version", v.clone());
        }
        req
    }

    async fn send(&mut self, body: &Value) -> Result<HttpResponse, String> {
        let resp = self
            .auth
            .authorized_request(&self.url, self.request(body), self.opts)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(s) = resp.header("mcp-session-id") {
            self.session_id = Some(s.to_string());
        }
        Ok(resp)
    }

    /// A JSON-RPC call; returns its `result`.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let resp = self.send(&body).await?;
        if !resp.is_success() {
            return Err(format!(
                "{method}: the server answered HTTP {}{}",
                resp.status,
                short_body(&resp)
            ));
        }
        // over HTTP+SSE the POST is only acknowledged; the answer comes on the stream
        let found = if self.sse.is_some() {
            None
        } else {
            response_messages(&resp)?
                .into_iter()
                .find(|m| m.get("id").and_then(Value::as_u64) == Some(id))
        };
        let msg = match (found, &mut self.sse) {
            (Some(m), _) => m,
            (None, Some(stream)) => loop {
                let (event, data) = stream.next_event().await?;
                if event != "message" {
                    continue;
                }
                let m: Value = serde_json::from_str(&data)
                    .map_err(|e| format!("the server sent an event that is not JSON ({e})"))?;
                if m.get("id").and_then(Value::as_u64) == Some(id) {
                    break m;
                }
            },
            (None, None) => return Err(format!("{method}: the server sent no answer")),
        };
        if let Some(err) = msg.get("error") {
            return Err(format!(
                "{method}: the server answered error {}: {}",
                err.get("code").cloned().unwrap_or(Value::Null),
                err.get("message").and_then(Value::as_str).unwrap_or("")
            ));
        }
        Ok(msg.get("result").cloned().unwrap_or(Value::Null))
    }

    pub async fn notify(&mut self, method: &str) -> Result<(), String> {
        let body = json!({"jsonrpc": "2.0", "method": method});
        let resp = self.send(&body).await?;
        if resp.is_success() {
            Ok(())
        } else {
            Err(format!(
                "{method}: the server answered HTTP {}{}",
                resp.status,
                short_body(&resp)
            ))
        }
    }

    /// initialize + notifications/initialized; returns the server's `serverInfo`.
    pub async fn initialize(&mut self) -> Result<Value, String> {
        let result = self
            .call(
                "initialize",
                json!({
                    "protocolVersion": PROTOCOL_VERSION,
                    "capabilities": {},
                    "clientInfo": {"name": "mcp-auth", "version": env!("CARGO_PKG_VERSION")},
                }),
            )
            .await?;
        self.protocol_version = result
            .get("protocolVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        self.notify("notifications/initialized").await?;
        Ok(result)
    }
}

fn short_body(resp: &HttpResponse) -> String {
    let t = resp.text();
    let t = t.trim();
    if t.is_empty() {
        String::new()
    } else {
        let cut: String = t.chars().take(200).collect();
        format!(": {cut}")
    }
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
        assert_eq!(msgs[1]["id"], 2);
    }

    #[test]
    fn json_answers_and_batches_and_empty_bodies() {
        assert_eq!(
            response_messages(&resp("application/json", r#"{"id":3}"#)).expect("one")[0]["id"],
            3
        );
        assert_eq!(
            response_messages(&resp("application/json", r#"[{"id":1},{"id":2}]"#))
                .expect("batch")
                .len(),
            2
        );
        assert!(response_messages(&resp("application/json", ""))
            .expect("empty")
            .is_empty());
        assert!(response_messages(&resp("application/json", "<html>")).is_err());
    }
}
