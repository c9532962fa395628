//! The async driver: runs a [`Session`]'s steps through the host. Every POST goes through
//! [`McpAuth::authorized_request`] (refresh on 401, login when allowed, step-up on 403);
//! the HTTP+SSE event stream is opened with the host's [`Host::open_stream`] and a token
//! from [`McpAuth::token_for`]. The revision a server settles on is remembered.

use super::record::{protocol_key, ProtocolRecord, PROTOCOL_RECORD_VERSION};
use super::session::{Chosen, Session, Step};
use super::sse::{Event, SseParser};
use super::version::Protocol;
use crate::client::{AuthOptions, McpAuth, Stored};
use crate::error::{Error, Result};
use crate::host::{ChunkStream, Host, HttpRequest};
use crate::json::{Json, Object};
use crate::request::Destination;
use crate::urls::resource_uri;

/// How many pages `list_tools` follows.
pub const MAX_PAGES: usize = 50;

/// An MCP connection to one server: the session plus, for HTTP+SSE, the open event stream.
/// Owned (no borrows), so a host can keep it between calls.
pub struct McpConnection {
    session: Session,
    resource: String,
    stream: Option<Box<dyn ChunkStream>>,
    parser: SseParser,
    /// Events read but not yet given to the session, the next one last (taken by `pop`).
    queued: Vec<Event>,
    saved: Option<Chosen>,
    /// Authorization requests (logins, step-ups) this connection has made: one user
    /// operation over one connection makes at most `MAX_AUTHORIZATIONS` in all.
    authorizations: u32,
}

impl std::fmt::Debug for McpConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpConnection")
            .field("session", &self.session)
            .field("stream_open", &self.stream.is_some())
            .finish()
    }
}

impl McpConnection {
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The revision in use, once the server answered.
    pub fn protocol_version(&self) -> Option<&str> {
        self.session.protocol_version()
    }

    /// Warnings worth showing to the user (drained).
    pub fn take_warnings(&mut self) -> Vec<String> {
        self.session.take_warnings()
    }
}

impl<H: Host> McpAuth<H> {
    /// A connection to the MCP server at `server_url`. With `Protocol::Auto` it starts from
    /// the revision remembered for the server, if any.
    pub async fn mcp_connect(&self, server_url: &str, protocol: Protocol) -> Result<McpConnection> {
        let resource = resource_uri(server_url)?;
        let saved = match protocol {
            Protocol::Auto => self
                .stored(&protocol_key(&resource))
                .await
                .and_then(Stored::decode::<ProtocolRecord>)
                .ok()
                .flatten()
                .filter(|r| r.resource == resource)
                .and_then(|r| r.chosen()),
            Protocol::Fixed(_) => None,
        };
        Ok(McpConnection {
            session: Session::new(server_url, protocol).with_hint(saved.clone()),
            resource,
            stream: None,
            parser: SseParser::new(),
            queued: Vec::new(),
            saved,
            authorizations: 0,
        })
    }

    /// Sends one MCP request and returns its `result`.
    pub async fn mcp_request(
        &self,
        conn: &mut McpConnection,
        method: &str,
        params: Option<Json>,
        opts: &AuthOptions,
    ) -> Result<Json> {
        let mut step = conn.session.start(method, params)?;
        loop {
            step = match step {
                Step::Done(v) => {
                    self.remember(conn).await;
                    return Ok(v);
                }
                Step::Send(req) => {
                    let url = conn.session.url().to_string();
                    // a POST to an HTTP+SSE endpoint the server named: core's same-origin
                    // rule decides whether the token may go there
                    let dest = if req.url == url {
                        Destination::InsideResource
                    } else {
                        Destination::SameOriginEndpoint
                    };
                    let resp = self
                        .send_authorized(&url, req, opts, dest, &mut conn.authorizations)
                        .await?;
                    conn.session.on_response(resp)?
                }
                Step::OpenStream(req) => self.open(conn, req, opts).await?,
                Step::ReadStream => next_event_step(conn).await?,
            };
        }
    }

    async fn open(
        &self,
        conn: &mut McpConnection,
        req: HttpRequest,
        opts: &AuthOptions,
    ) -> Result<Step> {
        let url = conn.session.url().to_string();
        let mut rejected = None;
        let mut refused = 0;
        // one retry with a new nonce per token (RFC 9449 §9), not counted as a refusal
        let mut nonce_retried = false;
        while refused < 2 {
            let record = self.token_for(&url, rejected.as_ref(), opts).await?;
            let mut r = req.clone();
            self.authorize_request(&mut r, &record).await?;
            let resp = self.host().open_stream(r).await?;
            self.nonces.note_headers(&req.url, &resp.headers);
            if resp.status == 401
                && !nonce_retried
                && record.is_dpop_bound()
                && crate::dpop::rs_nonce_challenge(resp.status, &resp.headers)
            {
                nonce_retried = true;
                continue;
            }
            if resp.status == 401 {
                refused += 1;
                nonce_retried = false;
                rejected = Some(record.access_token);
                continue;
            }
            let step = conn
                .session
                .on_stream_open(resp.status, resp.header("content-type"))?;
            conn.parser = SseParser::new();
            conn.queued.clear();
            conn.stream = matches!(step, Step::ReadStream).then_some(resp.body);
            return Ok(step);
        }
        Err(Error::Unauthorized { status: 401 }.boxed())
    }

    async fn remember(&self, conn: &mut McpConnection) {
        if conn.session.protocol() != Protocol::Auto {
            return;
        }
        let Some(chosen) = conn.session.chosen() else {
            return;
        };
        if conn.saved.as_ref() == Some(&chosen) {
            return;
        }
        let record = ProtocolRecord {
            version: PROTOCOL_RECORD_VERSION,
            resource: conn.resource.clone(),
            era: chosen.era,
            protocol_version: chosen.version.clone(),
            chosen_at: self.host().now(),
        };
        // a cache: failing to write it only costs a probe next time
        if self
            .write(&protocol_key(&conn.resource), &record)
            .await
            .is_ok()
        {
            conn.saved = Some(chosen);
        }
    }

    /// `server/discover` on a modern server; on a legacy one, what `initialize` told.
    /// Either way: `{protocolVersion, supportedVersions?, serverInfo?, capabilities?}`.
    pub async fn mcp_discover(&self, conn: &mut McpConnection, opts: &AuthOptions) -> Result<Json> {
        let legacy = conn
            .session
            .chosen()
            .is_some_and(|c| c.era != super::Era::Modern);
        let result = if legacy {
            None
        } else {
            match self.mcp_request(conn, "server/discover", None, opts).await {
                Ok(r) => Some(r),
                // a legacy server has no server/discover: what initialize said will do
                Err(e)
                    if matches!(*e, Error::Mcp { code: -32601, .. })
                        && conn
                            .session
                            .chosen()
                            .is_some_and(|c| c.era != super::Era::Modern) =>
                {
                    None
                }
                Err(e) => return Err(e),
            }
        };
        let version = conn.session.protocol_version().map(str::to_string);
        // members in key order, as this summary has always been printed
        let from_result = |k: &str| result.as_ref().and_then(|r| r.get(k)).cloned();
        let mut out = Object::new();
        for k in ["capabilities", "instructions"] {
            if let Some(v) = from_result(k) {
                out.insert(k, v);
            }
        }
        out.insert("protocolVersion", version);
        if let Some(info) = conn.session.server_info() {
            out.insert("serverInfo", info.clone());
        }
        if let Some(v) = from_result("supportedVersions") {
            out.insert("supportedVersions", v);
        }
        Ok(Json::Object(out))
    }

    /// Every tool, following `nextCursor` (at most [`MAX_PAGES`] pages).
    pub async fn mcp_list_tools(
        &self,
        conn: &mut McpConnection,
        opts: &AuthOptions,
    ) -> Result<Vec<Json>> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let params = cursor
                .as_ref()
                .map(|c| Object::new().with("cursor", c).into());
            let page = self.mcp_request(conn, "tools/list", params, opts).await?;
            if let Some(t) = page.get("tools").and_then(Json::as_array) {
                tools.extend_from_slice(t);
            }
            match page.get("nextCursor").and_then(Json::as_str) {
                Some(c) if !c.is_empty() && cursor.as_deref() != Some(c) => {
                    cursor = Some(c.to_string())
                }
                _ => return Ok(tools),
            }
        }
        Err(Error::McpProtocol(format!(
            "tools/list: still more pages after {MAX_PAGES}; giving up"
        ))
        .boxed())
    }

    /// `tools/call` with `arguments`. A `HeaderMismatch` (the tool's `x-mcp-header`
    /// parameters changed since the last listing) lists the tools again and retries once.
    pub async fn mcp_call_tool(
        &self,
        conn: &mut McpConnection,
        name: &str,
        arguments: Json,
        opts: &AuthOptions,
    ) -> Result<Json> {
        let params: Json = Object::new()
            .with("arguments", arguments)
            .with("name", name)
            .into();
        match self
            .mcp_request(conn, "tools/call", Some(params.clone()), opts)
            .await
        {
            Err(e)
                if matches!(
                    *e,
                    Error::Mcp {
                        code: super::answer::HEADER_MISMATCH,
                        ..
                    }
                ) && conn
                    .session
                    .chosen()
                    .is_some_and(|c| c.era == super::Era::Modern) =>
            {
                self.mcp_list_tools(conn, opts).await?;
                self.mcp_request(conn, "tools/call", Some(params), opts)
                    .await
            }
            other => other,
        }
    }

    /// Ends the session: a DELETE for a legacy session with an id (a 405 is fine: the
    /// server does not let clients end sessions), and the event stream is dropped.
    pub async fn mcp_close(&self, conn: &mut McpConnection, opts: &AuthOptions) -> Result<()> {
        conn.stream = None;
        let Some(req) = conn.session.close() else {
            return Ok(());
        };
        let url = conn.session.url().to_string();
        let resp = self.authorized_request(&url, req, opts).await?;
        if resp.is_success() || resp.status == 405 || resp.status == 404 {
            Ok(())
        } else {
            Err(super::answer::http_error("DELETE (end of session)", &resp).boxed())
        }
    }
}

/// Reads the event stream until the session has its next step.
async fn next_event_step(conn: &mut McpConnection) -> Result<Step> {
    loop {
        while let Some(ev) = conn.queued.pop() {
            if let Some(step) = conn.session.on_event(ev)? {
                return Ok(step);
            }
        }
        let Some(stream) = conn.stream.as_mut() else {
            return Err(Error::mcp_protocol("the event stream is not open"));
        };
        let chunk = stream.next_chunk().await?.ok_or_else(|| {
            Error::mcp_protocol("the server closed the event stream before answering")
        })?;
        let events = conn.parser.feed(&chunk).map_err(|e| {
            Error::McpProtocol(format!(
                "the server's event stream sent over {} bytes without finishing an event",
                e.limit
            ))
        })?;
        // the queue was drained above: the new events go in last first, for `pop`
        conn.queued = events;
        conn.queued.reverse();
    }
}

/// A borrowed convenience: an [`McpAuth`], the options, and one connection.
pub struct McpClient<'a, H: Host> {
    auth: &'a McpAuth<H>,
    opts: &'a AuthOptions,
    conn: McpConnection,
}

impl<'a, H: Host> McpClient<'a, H> {
    pub async fn connect(
        auth: &'a McpAuth<H>,
        server_url: &str,
        protocol: Protocol,
        opts: &'a AuthOptions,
    ) -> Result<Self> {
        let conn = auth.mcp_connect(server_url, protocol).await?;
        Ok(McpClient { auth, opts, conn })
    }

    pub fn connection(&mut self) -> &mut McpConnection {
        &mut self.conn
    }

    pub fn protocol_version(&self) -> Option<&str> {
        self.conn.protocol_version()
    }

    pub async fn request(&mut self, method: &str, params: Option<Json>) -> Result<Json> {
        self.auth
            .mcp_request(&mut self.conn, method, params, self.opts)
            .await
    }

    pub async fn discover(&mut self) -> Result<Json> {
        self.auth.mcp_discover(&mut self.conn, self.opts).await
    }

    pub async fn list_tools(&mut self) -> Result<Vec<Json>> {
        self.auth.mcp_list_tools(&mut self.conn, self.opts).await
    }

    pub async fn call_tool(&mut self, name: &str, arguments: Json) -> Result<Json> {
        self.auth
            .mcp_call_tool(&mut self.conn, name, arguments, self.opts)
            .await
    }

    pub async fn close(&mut self) -> Result<()> {
        self.auth.mcp_close(&mut self.conn, self.opts).await
    }
}

#[cfg(test)]
#[path = "driver_tests.rs"]
mod tests;
