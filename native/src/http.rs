//! The HTTP capability: one request through reqwest, never following redirects.

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

impl HttpClient {
    /// Opens a streaming GET (an SSE event stream); the caller reads the body as it comes.
    /// Redirects are not followed; the stream may stay open up to ten minutes.
    pub async fn open_stream(
        &self,
        url: &str,
        headers: &[(String, String)],
    ) -> Result<reqwest::Response, HostError> {
        let mut rb = self
            .inner
            .get(url)
            .timeout(Duration::from_secs(600))
            .header("accept", "text/event-stream");
        for (name, value) in headers {
            rb = rb.header(name, value);
        }
        rb.send()
            .await
            .map_err(|e| HostError::Network(describe(url, &e)))
    }
}
