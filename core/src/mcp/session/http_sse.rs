//! The 2024-11-05 HTTP+SSE part of the session: the event stream's opening, its `endpoint`
//! event (checked: the POSTs carry the bearer token), and answers matched by id.

use super::{Awaiting, Session, State, Step};
use crate::error::{Error, Result};
use crate::json::Json;
use crate::mcp::answer;
use crate::mcp::headers::printable;
use crate::mcp::request;
use crate::mcp::sse::Event;
use crate::mcp::version::{Era, Protocol};
use crate::platform_url;
use crate::urls::is_loopback;

impl Session {
    /// Reports how the GET of `Step::OpenStream` went (a 401 is the caller's to retry with
    /// a fresh token first).
    pub fn on_stream_open(&mut self, status: u16, content_type: Option<&str>) -> Result<Step> {
        self.count_step()?;
        let sse = crate::mcp::answer::is_event_stream_type(content_type);
        if (200..300).contains(&status) && sse {
            self.awaiting = Awaiting::Endpoint;
            return Ok(Step::ReadStream);
        }
        if let Some(step) = self.reprobe() {
            return step;
        }
        let tried = if self.protocol == Protocol::Auto {
            "no 2026-07-28 answer, no `initialize` answer, and "
        } else {
            ""
        };
        Err(Error::ProtocolUnsupported(format!(
            "{}: {tried}the HTTP+SSE GET got HTTP {status}{}; is this an MCP server URL?",
            self.url,
            if sse { "" } else { " without an event stream" }
        ))
        .boxed())
    }

    /// Reads one event of the HTTP+SSE stream. `None`: keep reading.
    pub fn on_event(&mut self, event: Event) -> Result<Option<Step>> {
        match self.awaiting {
            Awaiting::Endpoint => {
                if event.event != "endpoint" {
                    return Err(Error::McpProtocol(format!(
                        "the event stream began with `{}`, not the `endpoint` event of the HTTP+SSE transport",
                        printable(&event.event, 40)
                    )).boxed());
                }
                let endpoint = checked_endpoint(&self.url, event.data.trim_ascii())?;
                let id = self.id();
                self.awaiting = Awaiting::StreamInitialize(id);
                let params = request::initialize_params("2024-11-05").into();
                let req =
                    request::legacy(&endpoint, Some(id), "initialize", Some(params), None, None);
                self.state = State::StreamInitializing { endpoint };
                Ok(Some(Step::Send(req)))
            }
            Awaiting::StreamInitialize(id) | Awaiting::StreamAnswer(id) => {
                if event.event != "message" {
                    return Ok(None);
                }
                let msg: Json = crate::json::parse(event.data.as_bytes()).map_err(|_| {
                    Error::McpProtocol(format!(
                        "the server sent an event that is not JSON: {}",
                        printable(&event.data, answer::QUOTE)
                    ))
                })?;
                if msg.get("id").and_then(Json::as_u64) != Some(id) || msg.get("method").is_some() {
                    return Ok(None);
                }
                if matches!(self.awaiting, Awaiting::StreamInitialize(_)) {
                    return self.stream_initialized(msg).map(Some);
                }
                self.awaiting = Awaiting::Nothing;
                let method = self.method();
                let result = answer::result(&method, msg)?;
                self.finish(&method, result).map(Some)
            }
            _ => Ok(None),
        }
    }

    pub(super) fn stream_initialized(&mut self, answer: Json) -> Result<Step> {
        let result = answer::result("initialize", answer)?;
        let endpoint = self.post_url().to_string();
        let version = result
            .get("protocolVersion")
            .and_then(Json::as_str)
            .filter(|v| Era::of(v).is_some_and(|e| e != Era::Modern))
            .unwrap_or("2024-11-05")
            .to_string();
        self.server_info = result.get("serverInfo").cloned();
        self.state = State::Stream {
            endpoint: endpoint.clone(),
            version,
        };
        self.awaiting = Awaiting::Initialized;
        Ok(Step::Send(request::legacy(
            &endpoint,
            None,
            "notifications/initialized",
            None,
            None,
            None,
        )))
    }
}

/// The HTTP+SSE `endpoint`, resolved against the stream's URL. POSTs carry the bearer
/// token, so the endpoint must be on the stream's own origin, and plain http only on a
/// loopback host.
pub fn checked_endpoint(stream_url: &str, data: &str) -> Result<String> {
    let refuse = |reason: &str| Error::UnsafeEndpoint {
        endpoint: printable(data, 200),
        reason: reason.to_string(),
    };
    let base = platform_url::parse(stream_url).map_err(|e| Error::invalid_url(stream_url, e))?;
    let ep = platform_url::join(&base, data).map_err(|_| refuse("is not a URL"))?;
    if ep.origin() != base.origin() {
        return Err(refuse(&format!(
            "is not on the server's origin ({})",
            base.origin().ascii_serialization()
        ))
        .boxed());
    }
    if ep.scheme() != "https" && !(ep.scheme() == "http" && is_loopback(&ep)) {
        return Err(refuse("uses plain http off a loopback host").boxed());
    }
    Ok(ep.as_str().to_string())
}
