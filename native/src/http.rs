//! The HTTP capability: one request through reqwest, never following redirects.

use mcp_auth_core::host::{ChunkStream, NextChunk, StreamResponse};
use mcp_auth_core::{HostError, HttpRequest, HttpResponse, Method};
use std::time::Duration;

/// A reqwest client configured the way core needs it.
#[derive(Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
}

impl HttpClient {
    pub fn new() -> Result<Self, HostError> {
        let inner = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("mcp-auth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HostError::Network(format!("cannot set up HTTP: {e}")))?;
        Ok(HttpClient { inner })
    }

    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HostError> {
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut rb = self.inner.request(method, &request.url);
        for (name, value) in &request.headers {
            rb = rb.header(name, value);
        }
        if let Some(body) = request.body {
            rb = rb.body(body);
        }
        let resp = rb
            .send()
            .await
            .map_err(|e| HostError::Network(describe(&request.url, &e)))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(n, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (n.as_str().to_string(), v.to_string()))
            })
            .collect();
        let body = resp
            .bytes()
            .await
            .map_err(|e| HostError::Network(describe(&request.url, &e)))?
            .to_vec();
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

/// A network error in words, with the URL but without any query (it may hold a code).
fn describe(url: &str, e: &reqwest::Error) -> String {
    let shown = url.split('?').next().unwrap_or(url);
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
            .inner
            .get(&request.url)
            .timeout(Duration::from_secs(600));
        for (name, value) in &request.headers {
            rb = rb.header(name, value);
        }
        let resp = rb
            .send()
            .await
            .map_err(|e| HostError::Network(describe(&request.url, &e)))?;
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(n, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (n.as_str().to_string(), v.to_string()))
            })
            .collect();
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
                ))),
                Ok(Err(e)) => Err(HostError::Network(describe(&self.url, &e))),
                Ok(Ok(c)) => Ok(c.map(|b| b.to_vec())),
            }
        })
    }
}
