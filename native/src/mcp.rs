//! A minimal MCP client session over Streamable HTTP, or the 2024-11-05 HTTP+SSE transport
//! (`GET /sse` event stream + `POST` to the endpoint it names). Every POST goes through
//! core's `authorized_request` (which refreshes, logs in again or steps up as the server
//! asks); the event stream's token comes from core's `token_for`.

use crate::host::NativeHost;
use mcp_auth_core::{mcp, AuthOptions, HttpRequest, HttpResponse, McpAuth};
use serde_json::Value;

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
    pending: std::collections::VecDeque<mcp::SseEvent>,
    endpoint: String,
}

/// How long to wait for an answer on the event stream.
const SSE_ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl SseStream {
    /// The next complete event: (event name, data).
    async fn next_event(&mut self) -> Result<(String, String), String> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Ok((e.event, e.data));
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
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
            self.pending.extend(mcp::take_sse_events(&mut self.buf));
        }
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
                pending: Default::default(),
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
        mcp::post(
            target,
            body,
            self.session_id.as_deref(),
            self.protocol_version.as_deref(),
        )
    }

    async fn send(&mut self, body: &Value) -> Result<HttpResponse, String> {
        // the HTTP+SSE endpoint is one the server named: core checks it is on the server's
        // origin before the token goes there
        let sent = match &self.sse {
            Some(_) => {
                self.auth
                    .authorized_endpoint_request(&self.url, self.request(body), self.opts)
                    .await
            }
            None => {
                self.auth
                    .authorized_request(&self.url, self.request(body), self.opts)
                    .await
            }
        };
        let resp = sent.map_err(|e| e.to_string())?;
        if let Some(s) = resp.header("mcp-session-id") {
            self.session_id = Some(s.to_string());
        }
        Ok(resp)
    }

    /// A JSON-RPC call; returns its `result`.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let body = mcp::message(Some(id), method, Some(params));
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
            mcp::find_answer(mcp::response_messages(&resp)?, id)
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
        mcp::result_of(method, msg)
    }

    pub async fn notify(&mut self, method: &str) -> Result<(), String> {
        let body = mcp::message(None, method, None);
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
                mcp::initialize_params("mcp-auth", env!("CARGO_PKG_VERSION")),
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
