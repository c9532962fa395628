//! The host capabilities, supplied by JavaScript: storage functions, a redirect handler,
//! `fetch`, and the clock. Every fetch carries `AbortSignal.timeout` (the whole request for
//! `send`, ten minutes for an event stream), and `send` reads the body through its stream
//! reader, cancelling it as soon as it passes the request's `max_body`.

use crate::js::{get, message_of, Reader, Stream};
use js_sys::{Function, Object, Promise, Uint8Array};
use mcp_auth_core::host::{
    body_too_large, ChunkStream, NextChunk, StreamResponse, REQUEST_TIMEOUT_SECS,
};
use mcp_auth_core::{Host, HostError, HostLock, HostResult, HttpRequest, HttpResponse};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Response};

pub(crate) struct JsHost {
    storage: JsValue,
    get: Function,
    set: Function,
    delete: Function,
    redirect: Option<Function>,
    fetch: Function,
    fetch_this: JsValue,
    lock: Option<Function>,
    /// The browser's non-extractable DPoP keys; `None`: the store's key record (the CLI's
    /// format), signed with through WebCrypto.
    webcrypto: Option<crate::webcrypto::WebCryptoKeys>,
}

/// Calls the release function the host's `lock` gave when the lock guard is dropped.
struct Release(Function);

impl Drop for Release {
    fn drop(&mut self) {
        let _ = self.0.call0(&JsValue::UNDEFINED);
    }
}

fn function(target: &JsValue, name: &str, what: &str) -> Result<Function, JsValue> {
    get(target, name)
        .dyn_into::<Function>()
        .map_err(|_| crate::invalid(format!("{what}: `{name}` must be a function")))
}

/// An optional function among the client's options: `undefined` or `null` is `None`.
fn opt_function(options: &JsValue, name: &str) -> Result<Option<Function>, JsValue> {
    let v = get(options, name);
    if v.is_null_or_undefined() {
        return Ok(None);
    }
    function(options, name, "McpAuthClient options").map(Some)
}

/// Awaits a value that may or may not be a promise (a thenable too: `Promise.resolve`). A
/// plain function returning the future: an `async fn` would be one more state machine.
fn settle(value: JsValue) -> JsFuture {
    JsFuture::from(Promise::resolve(&value))
}

/// The page's URL without query or fragment, in a browser; `None` in Node.
pub(crate) fn page_redirect_uri() -> Option<String> {
    let location = get(&crate::js::global(), "location");
    let origin = get(&location, "origin").as_string()?;
    let path = get(&location, "pathname").as_string()?;
    origin
        .starts_with("http")
        .then(|| format!("{origin}{path}"))
}

/// A URL without its query, for messages.
fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

impl JsHost {
    pub(crate) fn from_options(options: &JsValue) -> Result<JsHost, JsValue> {
        let storage = get(options, "storage");
        if !storage.is_object() {
            return Err(crate::invalid(
                "McpAuthClient needs `storage`: an object with get(key), set(key, value) and delete(key)",
            ));
        }
        let what = "storage";
        let redirect = opt_function(options, "redirect")?;
        let (fetch, fetch_this) = match opt_function(options, "fetch")? {
            Some(custom) => (custom, JsValue::UNDEFINED),
            None => {
                let global = crate::js::global();
                let f = get(&global, "fetch");
                if !f.is_function() {
                    return Err(crate::invalid(
                        "this JavaScript environment (no global fetch; pass `fetch` in the options): `fetch` must be a function",
                    ));
                }
                (f.unchecked_into(), global)
            }
        };
        let lock = opt_function(options, "lock")?;
        let webcrypto = match crate::js::opt_str(options, "dpopKeys")?.as_deref() {
            None => crate::webcrypto::available(),
            Some("webcrypto") if crate::webcrypto::available() => true,
            Some("webcrypto") => {
                return Err(crate::invalid(
                    "dpopKeys: \"webcrypto\" needs indexedDB and crypto.subtle, which this environment lacks",
                ))
            }
            Some("store") => false,
            Some(other) => {
                return Err(crate::invalid(format!(
                    "dpopKeys `{other}` is not \"webcrypto\" or \"store\""
                )))
            }
        };
        Ok(JsHost {
            webcrypto: webcrypto.then(Default::default),
            lock,
            get: function(&storage, "get", what)?,
            set: function(&storage, "set", what)?,
            delete: function(&storage, "delete", what)?,
            storage,
            redirect,
            fetch,
            fetch_this,
        })
    }
}

fn storage_error(op: &str, key: &str, err: &JsValue) -> Box<HostError> {
    HostError::Storage(format!(
        "storage.{op}(\"{key}\") failed: {}",
        message_of(err)
    ))
    .boxed()
}

impl Host for JsHost {
    async fn send(&self, request: HttpRequest) -> HostResult<HttpResponse> {
        let url = request.url.clone();
        let cap = request.max_body;
        let (resp, status, headers) = self.fetch(request, REQUEST_TIMEOUT_SECS).await?;
        let declared = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| mcp_auth_core::text::decimal(v.trim_ascii()));
        if declared.is_some_and(|n| n > cap as u64) {
            if let Some(body) = body_of(&resp) {
                // best effort: stop the download
                let _ = body.unchecked_into::<Stream>().cancel();
            }
            return Err(body_too_large(&url, cap).boxed());
        }
        let Some(body) = body_of(&resp) else {
            // no stream (no body at all, or a `fetch` that does not offer one): the whole
            // body at once, still refused when over the cap
            let failed = |e: JsValue| fetch_failed(&url, &e);
            let buf = settle(resp.array_buffer().map_err(failed)?.into())
                .await
                .map_err(failed)?;
            let bytes = crate::js::bytes(&Uint8Array::new(&buf));
            if bytes.len() > cap {
                return Err(body_too_large(&url, cap).boxed());
            }
            return Ok(HttpResponse {
                status,
                headers,
                body: bytes,
            });
        };
        let mut chunks = JsChunks::new(&body, url.clone())?;
        let mut out = Vec::new();
        while let Some(chunk) = chunks.next_chunk().await? {
            if out.len() + chunk.len() > cap {
                // best effort: stop the download
                let _ = chunks.reader.cancel();
                return Err(body_too_large(&url, cap).boxed());
            }
            out.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body: out,
        })
    }

    async fn open_stream(&self, request: HttpRequest) -> HostResult<StreamResponse> {
        let url = request.url.clone();
        let (resp, status, headers) = self.fetch(request, STREAM_TIMEOUT_SECS).await?;
        let body = get(&resp, "body");
        Ok(StreamResponse {
            status,
            headers,
            body: Box::new(JsChunks::new(&body, url)?),
        })
    }

    async fn load(&self, key: &str) -> HostResult<Option<String>> {
        let v = self
            .get
            .call1(&self.storage, &JsValue::from_str(key))
            .map_err(|e| storage_error("get", key, &e))?;
        let v = settle(v).await.map_err(|e| storage_error("get", key, &e))?;
        if v.is_null_or_undefined() {
            return Ok(None);
        }
        v.as_string().map(Some).ok_or_else(|| {
            HostError::Storage(format!(
                "storage.get(\"{key}\") returned a value that is not a string"
            ))
            .boxed()
        })
    }

    async fn save(&self, key: &str, value: &str) -> HostResult<()> {
        let v = self
            .set
            .call2(
                &self.storage,
                &JsValue::from_str(key),
                &JsValue::from_str(value),
            )
            .map_err(|e| storage_error("set", key, &e))?;
        settle(v).await.map_err(|e| storage_error("set", key, &e))?;
        Ok(())
    }

    async fn remove(&self, key: &str) -> HostResult<()> {
        let v = self
            .delete
            .call1(&self.storage, &JsValue::from_str(key))
            .map_err(|e| storage_error("delete", key, &e))?;
        settle(v)
            .await
            .map_err(|e| storage_error("delete", key, &e))?;
        Ok(())
    }

    async fn dpop_key(&self, identity: &str) -> HostResult<mcp_auth_core::PublicJwk> {
        match &self.webcrypto {
            Some(keys) => Ok(keys.key(self, identity).await?.1),
            None => Ok(crate::webcrypto::store_key(self, identity).await?.jwk),
        }
    }

    async fn dpop_sign(&self, identity: &str, signing_input: &[u8]) -> HostResult<Vec<u8>> {
        match &self.webcrypto {
            Some(keys) => {
                let (key, _) = keys.key(self, identity).await?;
                crate::webcrypto::sign(&key, signing_input).await
            }
            None => crate::webcrypto::store_sign(self, identity, signing_input).await,
        }
    }

    async fn dpop_forget(&self, identity: &str) -> HostResult<()> {
        match &self.webcrypto {
            Some(keys) => keys.forget(identity).await,
            None => {
                self.remove(&mcp_auth_core::dpop::key::key_name(identity))
                    .await
            }
        }
    }

    async fn lock(&self, name: &str) -> HostResult<HostLock> {
        let Some(lock) = &self.lock else {
            return Ok(HostLock::none());
        };
        let failed =
            |e: &JsValue| HostError::Storage(format!("lock(\"{name}\") failed: {}", message_of(e)));
        let v = lock
            .call1(&JsValue::UNDEFINED, &JsValue::from_str(name))
            .map_err(|e| failed(&e))?;
        let release = settle(v).await.map_err(|e| failed(&e))?;
        let release = release.dyn_into::<Function>().map_err(|_| {
            HostError::Storage(format!(
                "lock(\"{name}\") must resolve to a function that releases the lock"
            ))
        })?;
        Ok(HostLock::new(Release(release)))
    }

    async fn authorize(
        &self,
        authorization_url: &str,
        redirect_uri: &str,
    ) -> HostResult<Option<String>> {
        let Some(redirect) = &self.redirect else {
            return Err(HostError::Browser(
                "no `redirect` function was given to McpAuthClient; pass one, or use beginLogin() and completeLogin()".into(),
            ).boxed());
        };
        let failed = |e: &JsValue| {
            HostError::Browser(format!("the redirect function failed: {}", message_of(e)))
        };
        let v = redirect
            .call2(
                &JsValue::UNDEFINED,
                &JsValue::from_str(authorization_url),
                &JsValue::from_str(redirect_uri),
            )
            .map_err(|e| failed(&e))?;
        let v = settle(v).await.map_err(|e| failed(&e))?;
        if v.is_null_or_undefined() {
            return Ok(None);
        }
        v.as_string().map(Some).ok_or_else(|| {
            HostError::Browser(
                "the redirect function must return the callback URL (a string) or undefined".into(),
            )
            .boxed()
        })
    }

    fn now(&self) -> u64 {
        (js_sys::Date::now() / 1000.0) as u64
    }
}

/// How long an event stream may stay open (the fetch's `AbortSignal.timeout`).
const STREAM_TIMEOUT_SECS: u64 = 600;

/// Reads a fetch response body chunk by chunk (`body.getReader().read()`).
struct JsChunks {
    reader: Reader,
    url: String,
}

impl JsChunks {
    fn new(body: &JsValue, url: String) -> HostResult<JsChunks> {
        let reader = body
            .unchecked_ref::<Stream>()
            .reader()
            .map_err(|e| fetch_failed(&url, &e))?;
        Ok(JsChunks { reader, url })
    }
}

impl ChunkStream for JsChunks {
    fn next_chunk(&mut self) -> NextChunk<'_> {
        Box::pin(async move {
            let failed = |e: JsValue| fetch_failed(&self.url, &e);
            let read = self.reader.read().map_err(failed)?;
            let part = settle(read).await.map_err(failed)?;
            if get(&part, "done").as_bool() == Some(true) {
                return Ok(None);
            }
            Ok(Some(crate::js::bytes(&Uint8Array::new(&get(
                &part, "value",
            )))))
        })
    }
}

/// A response's body stream; `None` when it has none (or a `fetch` offers none).
fn body_of(resp: &Response) -> Option<JsValue> {
    let body = get(resp, "body");
    (!body.is_null_or_undefined()).then_some(body)
}

fn fetch_failed(url: &str, e: &JsValue) -> Box<HostError> {
    HostError::Network(format!(
        "the request to {} failed: {}",
        without_query(url),
        message_of(e)
    ))
    .boxed()
}

impl JsHost {
    /// Sends a request through the host's `fetch` (no redirects followed); the response
    /// with its status and headers, the body still unread.
    /// `timeout_secs` bounds the whole exchange, body included (`AbortSignal.timeout`).
    async fn fetch(
        &self,
        request: HttpRequest,
        timeout_secs: u64,
    ) -> HostResult<(Response, u16, Vec<(String, String)>)> {
        let url = request.url.clone();
        let failed = |e: JsValue| fetch_failed(&url, &e);
        // the init's members are set through the shell's one property writer: web-sys's
        // typed `RequestInit` setters would be one import each
        let init = Object::new();
        let put = |name, value: &JsValue| crate::js::set(&init, name, value);
        put("method", &JsValue::from_str(request.method.as_str()));
        let headers = Headers::new().map_err(failed)?;
        for (name, value) in &request.headers {
            headers.append(name, value).map_err(failed)?;
        }
        put("headers", &headers);
        if let Some(body) = &request.body {
            put("body", &Uint8Array::from(body.as_slice()));
        }
        put("redirect", &JsValue::from_str("manual"));
        // where the environment has `AbortSignal.timeout` (every current browser, Node 18+)
        if let Ok(signal) = crate::js::abort_timeout((timeout_secs * 1000) as u32) {
            put("signal", &signal);
        }
        let pending = self
            .fetch
            .call2(&self.fetch_this, &JsValue::from_str(&request.url), &init)
            .map_err(failed)?;
        let resp: Response = settle(pending)
            .await
            .map_err(|e| {
                let mut err = failed(e);
                if page_redirect_uri().is_some() {
                    if let HostError::Network(m) = &mut *err {
                        m.push_str(" (in a browser this is also what a missing CORS header looks like: the server must allow this origin)");
                    }
                }
                err
            })?
            .unchecked_into();
        if get(&resp, "type").as_string().as_deref() == Some("opaqueredirect") {
            return Err(HostError::Network(format!(
                "{} answered with a redirect, which mcp-auth does not follow; use the final URL",
                without_query(&url)
            ))
            .boxed());
        }
        let status = resp.status();
        let headers = crate::js::string_pairs(&resp.headers());
        Ok((resp, status, headers))
    }
}
