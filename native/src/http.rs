//! The HTTP capability: one request through reqwest, never following redirects, bounded in
//! time (connect, each read, the whole response) and in size (the body is read as a stream
//! and given up as soon as it passes the request's `max_body`).

use mcp_auth_core::host::{
    body_too_large, ChunkStream, NextChunk, StreamResponse, CONNECT_TIMEOUT_SECS,
    REQUEST_TIMEOUT_SECS,
};
use mcp_auth_core::{HostError, HttpRequest, HttpResponse, Method};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How long any single read may wait for the next bytes (the same bound as the wait for the
/// next piece of an event stream).
const READ_TIMEOUT: Duration = STREAM_IDLE_TIMEOUT;

/// Seconds (fractions allowed) a whole request may take, instead of the default 30 s; also
/// bounds the connect and each read.
pub const HTTP_TIMEOUT_ENV: &str = "MCP_AUTH_HTTP_TIMEOUT";
/// Bytes a response body may have, instead of core's cap for its kind (1 MiB for metadata,
/// token and registration answers, 8 MiB for MCP messages); applies to every response.
pub const MAX_BODY_ENV: &str = "MCP_AUTH_MAX_BODY";

/// A positive number from the environment; anything else is ignored (with a warning).
fn env_number(name: &str) -> Option<f64> {
    let raw = std::env::var(name).ok()?;
    match raw.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Some(v),
        _ => {
            eprintln!("mcp-auth: ignoring {name}={raw:?}: not a positive number");
            None
        }
    }
}

/// The body cap `MCP_AUTH_MAX_BODY` sets, if any.
pub fn max_body_override() -> Option<usize> {
    env_number(MAX_BODY_ENV).map(|v| v.min(usize::MAX as f64) as usize)
}

/// Where the body cap in force came from.
#[derive(Clone, Debug)]
enum CapSource {
    /// Core's cap for the kind of response.
    Core,
    Env,
    /// `max_body` in the `mcp-auth:` section of this config file.
    File(String),
}

/// Core's "too large" error, with where the cap came from and the way to allow more.
fn too_large(url: &str, cap: usize, source: &CapSource) -> HostError {
    let how = match source {
        CapSource::Core => format!(
            "to allow more, set {MAX_BODY_ENV} (bytes) or `max_body` under `mcp-auth:` in the config file"
        ),
        CapSource::Env => format!("the cap is {MAX_BODY_ENV}={cap}; raise it to allow more"),
        CapSource::File(file) => format!(
            "the cap is `max_body: {cap}` under `mcp-auth:` in {file}; raise it (or set {MAX_BODY_ENV}) to allow more"
        ),
    };
    match body_too_large(url, cap) {
        HostError::Network(m) => HostError::Network(format!("{m}; {how}")),
        other => other,
    }
}

/// A reqwest client configured the way core needs it. It is built on the first request:
/// setting up TLS reads every CA certificate of the system (about 150 files here), which a
/// command answered from the store (`token` with a valid token, `status`) never needs.
#[derive(Clone)]
pub struct HttpClient {
    timeouts: (Duration, Duration, Duration),
    inner: Arc<OnceLock<reqwest::Client>>,
    max_body: Option<(usize, CapSource)>,
}

impl HttpClient {
    /// The default bounds, or those set by `MCP_AUTH_HTTP_TIMEOUT` and `MCP_AUTH_MAX_BODY`,
    /// else by the config file's `mcp-auth:` section ([`crate::limits`]).
    pub fn new() -> Result<Self, HostError> {
        let file = crate::limits::from_file();
        let timeout = env_number(HTTP_TIMEOUT_ENV).or(file.http_timeout);
        let (connect, read, total) = match timeout {
            Some(secs) => {
                let t = Duration::from_secs_f64(secs.min(86_400.0));
                (
                    t.min(Duration::from_secs(CONNECT_TIMEOUT_SECS)),
                    t.min(READ_TIMEOUT),
                    t,
                )
            }
            None => (
                Duration::from_secs(CONNECT_TIMEOUT_SECS),
                READ_TIMEOUT,
                Duration::from_secs(REQUEST_TIMEOUT_SECS),
            ),
        };
        let mut client = Self::with_timeouts(connect, read, total)?;
        client.max_body = match (max_body_override(), file.max_body, &file.source) {
            (Some(cap), _, _) => Some((cap, CapSource::Env)),
            (None, Some(cap), Some(path)) => {
                Some((cap, CapSource::File(path.display().to_string())))
            }
            _ => None,
        };
        Ok(client)
    }

    /// A client with other bounds: waiting for a connection, for each read, and for a whole
    /// response (event streams keep their own, longer limit).
    pub fn with_timeouts(
        connect: Duration,
        read: Duration,
        total: Duration,
    ) -> Result<Self, HostError> {
        Ok(HttpClient {
            timeouts: (connect, read, total),
            inner: Arc::new(OnceLock::new()),
            max_body: None,
        })
    }

    /// The reqwest client, built on first use.
    fn client(&self) -> Result<&reqwest::Client, HostError> {
        if let Some(client) = self.inner.get() {
            return Ok(client);
        }
        let (connect, read, total) = self.timeouts;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect)
            .read_timeout(read)
            .timeout(total)
            .user_agent(concat!("mcp-auth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HostError::Network(format!("cannot set up HTTP: {e}")))?;
        // Two first requests at once may both build one; either is kept.
        Ok(self.inner.get_or_init(|| client))
    }

    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HostError> {
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut rb = self.client()?.request(method, &request.url);
        for (name, value) in &request.headers {
            rb = rb.header(name, value);
        }
        if let Some(body) = request.body {
            rb = rb.body(body);
        }
        let mut resp = rb.send().await.map_err(|e| self.failed(&request.url, &e))?;
        let status = resp.status().as_u16();
        let headers = header_pairs(&resp);
        let (cap, source) = match &self.max_body {
            Some((cap, source)) => (*cap, source),
            None => (request.max_body, &CapSource::Core),
        };
        if resp.content_length().is_some_and(|n| n > cap as u64) {
            return Err(too_large(&request.url, cap, source));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.failed(&request.url, &e))?
        {
            if body.len() + chunk.len() > cap {
                return Err(too_large(&request.url, cap, source));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

impl HttpClient {
    /// A failed request in words; a timeout also says what the limit is and how to change it.
    fn failed(&self, url: &str, e: &reqwest::Error) -> HostError {
        let mut m = describe(url, e);
        if e.is_timeout() {
            m.push_str(&format!(
                "; a request may take {} s: set {HTTP_TIMEOUT_ENV} or `http_timeout` under `mcp-auth:` in the config file to change it",
                self.timeouts.2.as_secs_f64()
            ));
        }
        HostError::Network(m)
    }
}

/// The response headers as core's (name, value) pairs; values that are not text are left out.
fn header_pairs(resp: &reqwest::Response) -> Vec<(String, String)> {
    resp.headers()
        .iter()
        .filter_map(|(n, v)| {
            v.to_str()
                .ok()
                .map(|v| (n.as_str().to_string(), v.to_string()))
        })
        .collect()
}

/// A URL as messages show it: without its query (it may hold a code) and without a user
/// name or password.
fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => url.split('?').next().unwrap_or(url).to_string(),
    }
}

/// A network error in words, with the URL but without any query (it may hold a code).
fn describe(url: &str, e: &reqwest::Error) -> String {
    let shown = shown_url(url);
    let shown = shown.as_str();
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        format!("{what}: {shown}")
    } else {
        format!("{what}: {shown} ({detail})")
    }
}

/// How long an open event stream may stay silent before the wait is given up.
const STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

impl HttpClient {
    /// Sends a request whose body is read as it comes (the HTTP+SSE event stream).
    /// Redirects are not followed; the stream may stay open up to ten minutes, and each
    /// wait for the next piece is bounded.
    pub async fn open_stream(&self, request: HttpRequest) -> Result<StreamResponse, HostError> {
        let mut rb = self
            .client()?
            .get(&request.url)
            .timeout(Duration::from_secs(600));
        for (name, value) in &request.headers {
            rb = rb.header(name, value);
        }
        let resp = rb
            .send()
            .await
            .map_err(|e| HostError::Network(describe(&request.url, &e)))?;
        let headers = header_pairs(&resp);
        Ok(StreamResponse {
            status: resp.status().as_u16(),
            headers,
            body: Box::new(Body {
                resp,
                url: request.url,
            }),
        })
    }
}

struct Body {
    resp: reqwest::Response,
    url: String,
}

impl ChunkStream for Body {
    fn next_chunk(&mut self) -> NextChunk<'_> {
        Box::pin(async move {
            match tokio::time::timeout(STREAM_IDLE_TIMEOUT, self.resp.chunk()).await {
                Err(_) => Err(HostError::Network(format!(
                    "no event from the server within {} s",
                    STREAM_IDLE_TIMEOUT.as_secs()
                ))
                .boxed()),
                Ok(Err(e)) => Err(HostError::Network(describe(&self.url, &e)).boxed()),
                Ok(Ok(c)) => Ok(c.map(|b| b.to_vec())),
            }
        })
    }
}
