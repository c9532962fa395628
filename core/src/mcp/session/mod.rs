//! One MCP session per server, sans-IO: it builds the HTTP requests, reads the responses and
//! the events of an HTTP+SSE stream, and decides every step — which era to speak, when to
//! fall back, when to retry with another version — while the caller only carries bytes.
//!
//! ```text
//! start(method, params) ─▶ Step::Send(req)        ─ caller sends ─▶ on_response(resp) ─▶ Step
//!                          Step::OpenStream(get)  ─ caller opens ─▶ on_stream_open(status, type)
//!                          Step::ReadStream       ─ caller reads ─▶ on_event(event) ─▶ Option<Step>
//!                          Step::Done(result)
//! ```
//!
//! Selection (auto): a modern 2026-07-28 request first; `UnsupportedProtocolVersion` picks
//! the newest version both sides speak and retries once; a 400/404/405 without a modern
//! JSON-RPC error falls back to `initialize` (2025-11-25, accepting an older answer); a
//! 400/404/405 to that falls back to the 2024-11-05 HTTP+SSE transport. A remembered choice
//! (see [`super::record`]) is tried first and forgotten if it fails.

mod http_sse;
mod results;
#[cfg(test)]
mod tests;

pub use http_sse::checked_endpoint;

use crate::error::{Error, Result};
use crate::host::{HttpRequest, HttpResponse};
use crate::json::Json;
use crate::mcp::answer::{self, RpcError, UNSUPPORTED_VERSION};
use crate::mcp::headers::{param_values, printable, ParamHeader};
use crate::mcp::request;
use crate::mcp::version::{newest_mutual, spoken, Era, Protocol, LATEST, VERSIONS_LISTED};
use crate::sorted::SortedMap;

/// The legacy revision asked for in `initialize` when falling back.
pub const LEGACY_DEFAULT: &str = "2025-11-25";
/// Steps (HTTP exchanges and stream openings) one request may take.
const MAX_STEPS: u32 = 8;

/// What the session settled on for a server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chosen {
    pub era: Era,
    pub version: String,
}

crate::json_struct!(Chosen { era, version });

/// What the caller does next.
#[derive(Debug)]
pub enum Step {
    /// Send this request (with the user's token) and pass the response to `on_response`.
    Send(HttpRequest),
    /// Open an event stream with this GET (with the user's token), report the status with
    /// `on_stream_open`, then feed its events to `on_event`.
    OpenStream(HttpRequest),
    /// Read the open event stream and feed its events to `on_event`.
    ReadStream,
    /// The result of the request.
    Done(Json),
}

#[derive(Clone, Debug)]
enum State {
    Fresh,
    /// Modern, not yet confirmed by an answer.
    Probing(&'static str),
    Modern(&'static str),
    Initializing(&'static str),
    Legacy {
        version: String,
        session_id: Option<String>,
    },
    StreamOpening,
    StreamInitializing {
        endpoint: String,
    },
    Stream {
        endpoint: String,
        version: String,
    },
    Closed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Awaiting {
    Nothing,
    Answer(u64),
    Initialize(u64),
    Initialized,
    StreamOpen,
    Endpoint,
    StreamInitialize(u64),
    StreamAnswer(u64),
}

#[derive(Clone, Debug)]
struct Pending {
    method: String,
    params: Option<Json>,
}

/// The session with one MCP server.
#[derive(Debug)]
pub struct Session {
    url: String,
    protocol: Protocol,
    hint: Option<Chosen>,
    hinted: bool,
    state: State,
    awaiting: Awaiting,
    pending: Option<Pending>,
    next_id: u64,
    steps: u32,
    version_retried: bool,
    reinitialized: bool,
    tools: SortedMap<Vec<ParamHeader>>,
    server_info: Option<Json>,
    warnings: Vec<String>,
}

impl Session {
    /// A session with the MCP endpoint `url`, speaking `protocol`.
    pub fn new(url: &str, protocol: Protocol) -> Self {
        Session {
            url: url.to_string(),
            protocol,
            hint: None,
            hinted: false,
            state: State::Fresh,
            awaiting: Awaiting::Nothing,
            pending: None,
            next_id: 1,
            steps: 0,
            version_retried: false,
            reinitialized: false,
            tools: SortedMap::new(),
            server_info: None,
            warnings: Vec::new(),
        }
    }

    /// Starts from a remembered choice (ignored when a revision is forced or unknown).
    pub fn with_hint(mut self, hint: Option<Chosen>) -> Self {
        self.hint = hint.filter(|h| Era::of(&h.version) == Some(h.era));
        self
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The revision spoken, once a server has answered in it.
    pub fn protocol_version(&self) -> Option<&str> {
        self.chosen_ref().map(|(_, v)| v)
    }

    /// The era and revision spoken, once settled.
    pub fn chosen(&self) -> Option<Chosen> {
        self.chosen_ref().map(|(era, v)| Chosen {
            era,
            version: v.to_string(),
        })
    }

    fn chosen_ref(&self) -> Option<(Era, &str)> {
        match &self.state {
            State::Modern(v) => Some((Era::Modern, v)),
            State::Legacy { version, .. } => Some((Era::Legacy, version)),
            State::Stream { version, .. } => Some((Era::HttpSse, version)),
            _ => None,
        }
    }

    /// The server's `serverInfo` from `initialize` or `server/discover`, when seen.
    pub fn server_info(&self) -> Option<&Json> {
        self.server_info.as_ref()
    }

    /// Warnings worth showing (e.g. tools left out for invalid `x-mcp-header`s); drained.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// The URL the POSTs go to (the HTTP+SSE endpoint once known).
    pub fn post_url(&self) -> &str {
        match &self.state {
            State::Stream { endpoint, .. } | State::StreamInitializing { endpoint } => endpoint,
            _ => &self.url,
        }
    }

    fn id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Begins a request; returns the first step.
    pub fn start(&mut self, method: &str, params: Option<Json>) -> Result<Step> {
        if matches!(self.state, State::Closed) {
            return Err(Error::mcp_protocol("the MCP session is closed"));
        }
        if matches!(
            self.state,
            State::Initializing(_) | State::StreamOpening | State::StreamInitializing { .. }
        ) {
            // an earlier request failed while setting up: set up again
            self.state = State::Fresh;
        }
        self.awaiting = Awaiting::Nothing;
        self.pending = Some(Pending {
            method: method.to_string(),
            params,
        });
        self.steps = 0;
        self.version_retried = false;
        self.reinitialized = false;
        self.send_pending()
    }

    fn method(&self) -> String {
        self.pending
            .as_ref()
            .map(|p| p.method.clone())
            .unwrap_or_default()
    }

    /// The step that sends the pending request in the current state.
    fn send_pending(&mut self) -> Result<Step> {
        let Some(p) = self.pending.clone() else {
            return Err(Error::mcp_protocol("no MCP request is pending"));
        };
        match self.state.clone() {
            State::Fresh => self.begin(),
            State::Probing(v) | State::Modern(v) => {
                let id = self.id();
                self.awaiting = Awaiting::Answer(id);
                let extra = match (&p.method[..], &p.params) {
                    ("tools/call", Some(params)) => {
                        let name = params.get("name").and_then(Json::as_str).unwrap_or("");
                        let args = params.get("arguments");
                        self.tools
                            .get(name)
                            .map(|hs| param_values(hs, args.unwrap_or(&Json::Null)))
                            .unwrap_or_default()
                    }
                    _ => Vec::new(),
                };
                Ok(Step::Send(request::modern(
                    &self.url, id, v, &p.method, p.params, extra,
                )))
            }
            State::Legacy {
                version,
                session_id,
            } => {
                let id = self.id();
                self.awaiting = Awaiting::Answer(id);
                Ok(Step::Send(request::legacy(
                    &self.url,
                    Some(id),
                    &p.method,
                    p.params,
                    session_id.as_deref(),
                    version_header(&version),
                )))
            }
            State::Stream { endpoint, .. } => {
                let id = self.id();
                self.awaiting = Awaiting::Answer(id);
                Ok(Step::Send(request::legacy(
                    &endpoint,
                    Some(id),
                    &p.method,
                    p.params,
                    None,
                    None,
                )))
            }
            State::Closed => Err(Error::mcp_protocol("the MCP session is closed")),
            State::Initializing(_) | State::StreamOpening | State::StreamInitializing { .. } => {
                Err(Error::mcp_protocol("the MCP session is still being set up"))
            }
        }
    }

    /// The first step for a fresh session: the forced revision, the remembered one, or a
    /// modern probe.
    fn begin(&mut self) -> Result<Step> {
        let version: &'static str = match (self.protocol, &self.hint) {
            (Protocol::Fixed(v), _) => v,
            (Protocol::Auto, Some(h)) => {
                self.hinted = true;
                spoken(&h.version).unwrap_or(LATEST)
            }
            (Protocol::Auto, None) => LATEST,
        };
        self.enter(version)
    }

    fn enter(&mut self, version: &'static str) -> Result<Step> {
        match Era::of(version) {
            Some(Era::Modern) | None => {
                self.state = State::Probing(version);
                self.send_pending()
            }
            Some(Era::Legacy) => {
                self.state = State::Initializing(version);
                let id = self.id();
                self.awaiting = Awaiting::Initialize(id);
                Ok(Step::Send(request::initialize(&self.url, id, version)))
            }
            Some(Era::HttpSse) => {
                self.state = State::StreamOpening;
                self.awaiting = Awaiting::StreamOpen;
                Ok(Step::OpenStream(request::event_stream(&self.url)))
            }
        }
    }

    /// A remembered choice failed: forget it and select from scratch.
    fn reprobe(&mut self) -> Option<Result<Step>> {
        if !(self.hinted && self.protocol == Protocol::Auto) {
            return None;
        }
        self.hinted = false;
        self.hint = None;
        self.state = State::Fresh;
        Some(self.begin())
    }

    fn count_step(&mut self) -> Result<()> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(Error::McpProtocol(format!(
                "{}: gave up after {MAX_STEPS} exchanges without an answer",
                self.method()
            ))
            .boxed());
        }
        Ok(())
    }

    /// Reads the response to the last `Step::Send`.
    pub fn on_response(&mut self, resp: HttpResponse) -> Result<Step> {
        self.count_step()?;
        let method = self.method();
        // matched by reference (no copy of the state's strings); each arm takes what it
        // needs by value before it changes the session
        match (self.awaiting, &self.state) {
            (Awaiting::Answer(id), State::Probing(v) | State::Modern(v)) => {
                let v = *v;
                self.modern_answer(&method, id, v, &resp)
            }
            (Awaiting::Answer(id), State::Legacy { version, .. }) => {
                let again = spoken(version).unwrap_or(LEGACY_DEFAULT);
                if resp.is_success() {
                    self.awaiting = Awaiting::Nothing;
                    let a = answer::answer_to(answer::messages(&resp)?, id)
                        .ok_or_else(|| no_answer(&method))?;
                    return self.finish(&method, answer::result(&method, a)?);
                }
                if resp.status == 404 && !self.reinitialized {
                    // 2025-03-26+: a 404 to a request with a session id means the session
                    // ended; start a new one once.
                    self.reinitialized = true;
                    return self.enter(again);
                }
                Err(answer::http_error(&method, &resp).boxed())
            }
            (Awaiting::Answer(id), State::Stream { .. }) => {
                if !resp.is_success() {
                    return Err(answer::http_error(&method, &resp).boxed());
                }
                // usually 202 and the answer comes on the stream; take it if it is here
                if let Some(a) = answer::messages(&resp)
                    .ok()
                    .and_then(|m| answer::answer_to(m, id))
                {
                    self.awaiting = Awaiting::Nothing;
                    return self.finish(&method, answer::result(&method, a)?);
                }
                self.awaiting = Awaiting::StreamAnswer(id);
                Ok(Step::ReadStream)
            }
            (Awaiting::Initialize(id), State::Initializing(asked)) => {
                let asked = *asked;
                if resp.is_success() {
                    let a = answer::answer_to(answer::messages(&resp)?, id)
                        .ok_or_else(|| no_answer("initialize"))?;
                    let result = answer::result("initialize", a)?;
                    let version = self.accept_initialize(asked, &result)?;
                    let session_id = resp
                        .header("mcp-session-id")
                        .filter(|s| crate::text::is_visible_ascii(s))
                        .map(str::to_string);
                    let note = request::legacy(
                        &self.url,
                        None,
                        "notifications/initialized",
                        None,
                        session_id.as_deref(),
                        version_header(&version),
                    );
                    self.state = State::Legacy {
                        version,
                        session_id,
                    };
                    self.awaiting = Awaiting::Initialized;
                    return Ok(Step::Send(note));
                }
                if matches!(resp.status, 400 | 404 | 405) {
                    if let Some(step) = self.reprobe() {
                        return step;
                    }
                    if self.protocol == Protocol::Auto {
                        return self.enter("2024-11-05");
                    }
                    return Err(not_spoken("initialize", asked, &resp).boxed());
                }
                Err(answer::http_error("initialize", &resp).boxed())
            }
            (Awaiting::StreamInitialize(id), State::StreamInitializing { .. }) => {
                if !resp.is_success() {
                    return Err(answer::http_error("initialize", &resp).boxed());
                }
                if let Some(a) = answer::messages(&resp)
                    .ok()
                    .and_then(|m| answer::answer_to(m, id))
                {
                    return self.stream_initialized(a);
                }
                Ok(Step::ReadStream)
            }
            (Awaiting::Initialized, _) => {
                if !resp.is_success() {
                    return Err(answer::http_error("notifications/initialized", &resp).boxed());
                }
                self.awaiting = Awaiting::Nothing;
                self.send_pending()
            }
            _ => Err(Error::mcp_protocol(
                "an MCP response arrived that no request was waiting for",
            )),
        }
    }

    fn modern_answer(
        &mut self,
        method: &str,
        id: u64,
        version: &'static str,
        resp: &HttpResponse,
    ) -> Result<Step> {
        if resp.is_success() {
            let msgs = answer::messages(resp)?;
            let a = answer::answer_to(msgs, id).ok_or_else(|| no_answer(method))?;
            if let Some(e) = RpcError::of(&a).filter(|e| e.code == UNSUPPORTED_VERSION) {
                return self.other_version(method, version, e);
            }
            self.state = State::Modern(version);
            self.awaiting = Awaiting::Nothing;
            let result = answer::result(method, a)?;
            return self.finish(method, result);
        }
        if let Some(e) = answer::modern_error(resp) {
            if e.code == UNSUPPORTED_VERSION {
                return self.other_version(method, version, e);
            }
            // a modern server that refuses this request: stay modern
            self.state = State::Modern(version);
            self.awaiting = Awaiting::Nothing;
            return Err(e.into_error(method).boxed());
        }
        if matches!(resp.status, 400 | 404 | 405) && self.protocol == Protocol::Auto {
            if matches!(self.state, State::Modern(_)) {
                // it answered modern requests before: not a legacy server
                return Err(answer::http_error(method, resp).boxed());
            }
            return self.enter(LEGACY_DEFAULT);
        }
        if matches!(resp.status, 400 | 404 | 405) && matches!(self.state, State::Probing(_)) {
            return Err(not_spoken(method, version, resp).boxed());
        }
        Err(answer::http_error(method, resp).boxed())
    }

    fn other_version(&mut self, method: &str, asked: &str, e: RpcError) -> Result<Step> {
        let theirs = e.supported();
        let mut shown = Vec::with_capacity(theirs.len());
        for v in &theirs {
            shown.push(printable(v, 20));
        }
        let listed = crate::text::join(&shown, ", ");
        if let Protocol::Fixed(v) = self.protocol {
            return Err(Error::ProtocolUnsupported(format!(
                "{method}: the server does not speak {v} (it lists: {listed}); use --protocol auto"
            ))
            .boxed());
        }
        let pick = newest_mutual(&theirs).filter(|v| *v != asked);
        match pick {
            Some(v) if !self.version_retried => {
                self.version_retried = true;
                self.enter(v)
            }
            _ => Err(Error::ProtocolUnsupported(format!(
                "{method}: the server speaks {listed}; mcp-auth speaks {}: no version in common",
                VERSIONS_LISTED
            ))
            .boxed()),
        }
    }

    fn accept_initialize(&mut self, asked: &'static str, result: &Json) -> Result<String> {
        let answered = result
            .get("protocolVersion")
            .and_then(Json::as_str)
            .unwrap_or("");
        self.server_info = result.get("serverInfo").cloned();
        let known = Era::of(answered).is_some_and(|e| e != Era::Modern);
        if !known {
            return Err(Error::ProtocolUnsupported(format!(
                "initialize: the server answered protocol version `{}`, which mcp-auth does not speak ({})",
                printable(answered, 40),
                VERSIONS_LISTED
            )).boxed());
        }
        if matches!(self.protocol, Protocol::Fixed(_)) && answered != asked {
            return Err(Error::ProtocolUnsupported(format!(
                "initialize: asked for {asked}, the server answered {}; use --protocol auto or --protocol {}",
                answered, answered
            )).boxed());
        }
        Ok(answered.to_string())
    }

    /// The request that ends the session (a DELETE for a legacy session with an id), if
    /// any. The session cannot be used afterwards.
    pub fn close(&mut self) -> Option<HttpRequest> {
        let req = match &self.state {
            State::Legacy {
                version,
                session_id: Some(sid),
            } => Some(request::end_session(
                &self.url,
                sid,
                version_header(version),
            )),
            _ => None,
        };
        self.state = State::Closed;
        req
    }
}

/// The `MCP-Protocol-Version` header after `initialize` (2025-06-18 and later).
fn version_header(version: &str) -> Option<&str> {
    (version != "2025-03-26" && version != "2024-11-05").then_some(version)
}

/// A forced revision the server refuses with a status that older or newer servers use.
fn not_spoken(method: &str, version: &str, resp: &HttpResponse) -> Error {
    Error::ProtocolUnsupported(format!(
        "{}; the server may not speak {version}: try the protocol `auto`",
        answer::http_error(method, resp)
    ))
}

fn no_answer(method: &str) -> Error {
    Error::McpProtocol(format!(
        "{method}: the server's response holds no answer to the request"
    ))
}
