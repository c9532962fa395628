//! The handful of capabilities a host supplies. Everything else is core logic.
//!
//! A host sends one HTTP request (never following redirects), reads, writes and deletes
//! stored records (plus an optional lock around refresh), hands an authorization URL to the
//! user and gives back the redirect URL, and tells the time. Where DPoP is used it also keeps
//! a signing key per identity (by default a software key in its own store).

use std::fmt;

/// The most a metadata, token, registration or revocation response may hold (1 MiB).
pub const DOCUMENT_MAX_BODY: usize = 1 << 20;
/// The most an MCP message response may hold (8 MiB).
pub const MCP_MAX_BODY: usize = 8 << 20;
/// How long a host waits for a connection (seconds).
pub const CONNECT_TIMEOUT_SECS: u64 = 10;
/// How long a host waits for a whole response, body included (seconds); a longer wait is a
/// network error. Event streams (`open_stream`) instead bound each wait for the next piece.
pub const REQUEST_TIMEOUT_SECS: u64 = 30;

/// An HTTP request as core builds it. Hosts send it as is and must not follow redirects.
/// `max_body` is the most of the response body core will take: a host reads the body as a
/// stream and fails with a network error as soon as it holds more (a `Content-Length` above
/// it fails before reading), so a hostile server cannot fill memory. Every request is
/// bounded in time too ([`REQUEST_TIMEOUT_SECS`]).
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub max_body: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

impl HttpRequest {
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            method: Method::Get,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            max_body: DOCUMENT_MAX_BODY,
        }
    }

    pub fn post(url: impl Into<String>, content_type: &str, body: Vec<u8>) -> Self {
        Self {
            method: Method::Post,
            url: url.into(),
            headers: vec![("content-type".into(), content_type.into())],
            body: Some(body),
            max_body: DOCUMENT_MAX_BODY,
        }
    }

    /// Sets the most of the response body core will take (see [`HttpRequest`]).
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.add_header(name, value.into());
        self
    }

    /// Replaces (or adds) a header, matching the name case-insensitively.
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.add_header(name, value.into());
    }

    /// [`HttpRequest::header`] after the value's conversion (one copy for every value type).
    #[inline(never)]
    fn add_header(&mut self, name: &str, value: String) {
        self.headers.push((name.to_string(), value));
    }

    pub fn header_value(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// Requests carry bearer tokens and client secrets: Debug shows the method, URL and header
/// names only.
impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &names)
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .field("max_body", &self.max_body)
            .finish()
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The error a host gives for a response body larger than the request's `max_body`.
pub fn body_too_large(url: &str, max_body: usize) -> HostError {
    let shown = url.split('?').next().unwrap_or(url);
    HostError::Network(format!(
        "the response from {shown} is larger than {} KiB; refusing to read more (a server answering this is broken or hostile)",
        max_body / 1024
    ))
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// All values of a header (WWW-Authenticate may come several times).
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        all_named(&self.headers, name)
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn text(&self) -> String {
        crate::text::lossy(&self.body)
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// All values of header `name` (any case) among `headers`: one iterator type for every
/// caller, so that a reader of header values has one instance.
pub(crate) fn all_named<'a>(
    headers: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

pub(crate) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// What a host reports when one of its capabilities fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostError {
    /// The request could not be sent or no response came back (DNS, refused, timeout, TLS).
    Network(String),
    /// The store could not be read or written.
    Storage(String),
    /// The user agent could not be used, or the user gave up.
    Browser(String),
}

impl From<HostError> for crate::Error {
    fn from(e: HostError) -> Self {
        match e {
            HostError::Network(m) => crate::Error::Network(m),
            HostError::Storage(m) => crate::Error::Storage(m),
            HostError::Browser(m) => crate::Error::Browser(m),
        }
    }
}

impl From<HostError> for Box<crate::Error> {
    fn from(e: HostError) -> Self {
        crate::Error::from(e).boxed()
    }
}

impl From<Box<HostError>> for Box<crate::Error> {
    fn from(e: Box<HostError>) -> Self {
        crate::Error::from(*e).boxed()
    }
}

impl HostError {
    /// The error boxed, as [`HostResult`] carries it (out of line: one copy of the boxing).
    #[inline(never)]
    pub fn boxed(self) -> Box<HostError> {
        Box::new(self)
    }
}

/// What a host's capabilities answer. The error is boxed so that a result is hardly larger
/// than its value: every host call's result is moved through core's futures, and in the
/// wasm build each byte of it costs code (issue 11).
pub type HostResult<T> = Result<T, Box<HostError>>;

/// A held lock; dropping it releases the lock.
pub struct HostLock(#[allow(dead_code)] Option<Box<dyn std::any::Any>>);

impl HostLock {
    /// A lock that guards nothing (hosts with a single process).
    pub fn none() -> Self {
        HostLock(None)
    }
    /// Wraps a guard whose `Drop` releases the host's lock.
    pub fn new<G: 'static>(guard: G) -> Self {
        HostLock(Some(Box::new(guard)))
    }
}

/// The future of one [`ChunkStream::next_chunk`].
pub type NextChunk<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = HostResult<Option<Vec<u8>>>> + 'a>>;

/// A response body the host hands over piece by piece (a long-lived event stream).
pub trait ChunkStream {
    /// The next piece of the body; `None` at its end. Hosts bound the wait themselves.
    fn next_chunk(&mut self) -> NextChunk<'_>;
}

/// An opened stream: the status and headers now, the body as it comes.
pub struct StreamResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Box<dyn ChunkStream>,
}

impl StreamResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

impl fmt::Debug for StreamResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamResponse")
            .field("status", &self.status)
            .finish()
    }
}

/// The capabilities a host supplies. Futures need not be `Send`: the wasm host's are not.
#[allow(async_fn_in_trait)]
pub trait Host {
    /// Sends one request. Must not follow redirects.
    async fn send(&self, request: HttpRequest) -> HostResult<HttpResponse>;
    /// Reads the record stored under `key`.
    async fn load(&self, key: &str) -> HostResult<Option<String>>;
    /// Writes the record under `key`, replacing any earlier one.
    async fn save(&self, key: &str, value: &str) -> HostResult<()>;
    /// Deletes the record under `key`; deleting a missing record is not an error.
    async fn remove(&self, key: &str) -> HostResult<()>;
    /// Holds a lock named `name` across processes (for the refresh critical section and the
    /// index of stored keys). Locks of different names are independent: core may hold one
    /// name while it asks for another (it never asks for the same name twice).
    /// The default guards nothing; core still serialises callers inside one process.
    async fn lock(&self, name: &str) -> HostResult<HostLock> {
        let _ = name;
        Ok(HostLock::none())
    }
    /// Hands the authorization URL to the user. Returns the full redirect URL the browser
    /// came back to, or `None` when the page navigated away (full-page redirect flow) and
    /// the login will be finished later with `complete_login`.
    async fn authorize(
        &self,
        authorization_url: &str,
        redirect_uri: &str,
    ) -> HostResult<Option<String>>;
    /// Seconds since the Unix epoch.
    fn now(&self) -> u64;
    /// Produces an assertion (a workload identity token, an identity provider's ID token)
    /// from where the configuration says it is, read afresh on every call: platforms rotate
    /// these tokens. The error is the reason, in words, without the assertion. The default
    /// serves only assertions given as values (hosts with files, an environment and
    /// processes read the rest).
    async fn assertion(
        &self,
        source: &crate::grants::AssertionSource,
    ) -> Result<crate::secret::Assertion, String> {
        match source {
            crate::grants::AssertionSource::Value(v) => Ok(v.clone()),
            other => Err(format!(
                "this host cannot read {}; give the assertion itself",
                other.describe()
            )),
        }
    }
    /// The public half of the identity's DPoP key (RFC 9449), created on first use. Hosts
    /// keep the key and sign with it ([`Host::dpop_sign`]); core never sees the private
    /// key. The default is a software P-256 key kept as a record (`dpop:<identity>`) in
    /// this host's store, so hosts sharing a store share the key.
    async fn dpop_key(&self, identity: &str) -> HostResult<crate::dpop::PublicJwk> {
        crate::dpop::key::software_public_key(self, identity).await
    }
    /// An ES256 signature (raw r || s, 64 bytes) of `signing_input` with the identity's
    /// DPoP key (the one [`Host::dpop_key`] describes).
    async fn dpop_sign(&self, identity: &str, signing_input: &[u8]) -> HostResult<Vec<u8>> {
        crate::dpop::key::software_sign(self, identity, signing_input).await
    }
    /// Forgets the identity's DPoP key (logout); forgetting a missing key is not an error.
    async fn dpop_forget(&self, identity: &str) -> HostResult<()> {
        self.remove(&crate::dpop::key::key_name(identity)).await
    }
    /// Sends one request and hands back the body as it arrives (the long-lived GET of the
    /// 2024-11-05 HTTP+SSE transport). Hosts that cannot hold a stream open keep the
    /// default, and such servers are then refused with this message.
    async fn open_stream(&self, request: HttpRequest) -> HostResult<StreamResponse> {
        let _ = request;
        Err(HostError::Network(
            "this host cannot hold an event stream open, which the 2024-11-05 HTTP+SSE transport needs".into(),
        ).boxed())
    }
}
