//! A minimal MCP client session over Streamable HTTP, every request sent through core's
//! `authorized_request` (which refreshes, logs in again or steps up as the server asks).

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
}

/// Messages of a response: a JSON body, or the `data:` of each server-sent event.
pub fn response_messages(resp: &HttpResponse) -> Result<Vec<Value>, String> {
    let ctype = resp
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    if ctype.starts_with("text/event-stream") {
        let text = resp.text();
        let mut out = Vec::new();
        for event in text.split("\n\n").flat_map(|e| e.split("\r\n\r\n")) {
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
        }
    }

    fn request(&self, body: &Value) -> HttpRequest {
        let mut req =
            HttpRequest::post(&self.url, "application/json", body.to_string().into_bytes())
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
        let msg = response_messages(&resp)?
            .into_iter()
            .find(|m| m.get("id").and_then(Value::as_u64) == Some(id))
            .ok_or_else(|| format!("{method}: the server sent no answer"))?;
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
