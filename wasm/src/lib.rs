//! `mcp-auth-wasm`: the wasm-bindgen shell over `mcp-auth-core` for browsers and Node.
//!
//! Nothing here knows OAuth. JavaScript hands in its capabilities (storage functions, a
//! redirect handler, optionally a `fetch`) and this crate adapts them to core's [`Host`]
//! trait, and core's types and errors to plain JS objects and `Error`s with a `code`.

// only in the wasm32 build: it needs core without `software-keys` (a workspace build for the
// host unifies core's features with the CLI's)
#[cfg(target_arch = "wasm32")]
mod client_key;
mod grants;
mod host;
mod js;
mod out;
// core's JSON through the platform: only in the wasm32 build (natively core has serde_json)
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod platform_json;
mod platform_url;
mod pure;
mod session;
mod types;
mod webcrypto;

use host::JsHost;
use js::{get, opt_bool, opt_str, set};
use js_sys::{Array, Object, Promise, Uint8Array};
use mcp_auth_core::{
    AuthOptions, ClientAuthMethod, ClientSecret, Error, HttpRequest, LoginOutcome, McpAuth, Method,
};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

pub use types::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str);

    // `catch`: a warning is never worth failing the call it came from
    #[wasm_bindgen(js_namespace = console, js_name = warn, catch)]
    fn console_warn_js(message: &str) -> Result<(), JsValue>;
}

/// The module's start function: registers the platform's `JSON` (text) and `URL` (IDNA) with
/// core, and reports a panic on the console instead of an anonymous `unreachable` trap. The
/// module is unusable afterwards (panic = abort), so the message says it is a bug.
#[wasm_bindgen(start, skip_typescript)]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn install_panic_hook() {
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    platform_json::register();
    platform_url::register();
    std::panic::set_hook(Box::new(|info| {
        let message = format!("mcp-auth-wasm: internal error, please report this bug: {info}");
        console_error(&message);
        if let Ok(mut p) = PANICKED.lock() {
            *p = Some(message);
        }
    }));
}

/// Set by the panic hook: after a panic the module's memory may be inconsistent, so every
/// later call is refused with code `internal` instead of running on it.
static PANICKED: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

fn check_not_panicked() -> Result<(), JsValue> {
    match PANICKED.lock().ok().and_then(|p| p.clone()) {
        Some(m) => Err(coded_error(
            &format!("{m}; reload the page or restart the process"),
            "internal",
        )),
        None => Ok(()),
    }
}

/// Core's error as a JS `Error` with a stable `code`. Two messages name the CLI command; in
/// JS they name the method to call instead.
pub(crate) fn js_error(e: impl AsRef<Error>) -> JsValue {
    let e = e.as_ref();
    let message = match e {
        Error::LoginRequired { identity } => {
            format!("not logged in to {identity}; call login() for this server first")
        }
        Error::ReauthenticationRequired { identity } => format!(
            "the login session for {identity} has expired or was revoked; call login() again"
        ),
        other => other.to_string(),
    };
    coded_error(&message, e.code())
}

pub(crate) fn coded_error(message: &str, code: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    set(&err, "code", &JsValue::from_str(code));
    err.into()
}

/// Core's warnings (e.g. refreshed tokens the storage would not save) go to `console.warn`.
fn console_warn(message: &str) {
    let _ = console_warn_js(&format!("mcp-auth: {message}"));
}

/// Whether this runs in a browser page or worker (where a client secret is readable by any
/// script on the origin), as opposed to Node or another server-side runtime.
fn in_browser() -> bool {
    let global = js_sys::global();
    get(&global, "document").is_object() || get(&global, "WorkerGlobalScope").is_function()
}

pub(crate) fn invalid(message: impl Into<String>) -> JsValue {
    js_error(Error::Invalid(message.into()).boxed())
}

/// The identity tokens are stored under: the normalised origin of the server URL.
#[wasm_bindgen]
pub fn identity(url: &str) -> Result<String, JsValue> {
    mcp_auth_core::identity(url).map_err(js_error)
}

/// The canonical resource URI sent as `resource` (RFC 8707).
#[wasm_bindgen(js_name = resourceUri)]
pub fn resource_uri(url: &str) -> Result<String, JsValue> {
    mcp_auth_core::resource_uri(url).map_err(js_error)
}

pub(crate) struct Inner {
    pub(crate) auth: McpAuth<JsHost>,
    redirect_uri: String,
    client_name: String,
}

impl Inner {
    /// Core's options from the client defaults and a JS `LoginOptions` object.
    pub(crate) fn auth_options(&self, options: &JsValue) -> Result<AuthOptions, JsValue> {
        let mut o = AuthOptions {
            redirect_uri: self.redirect_uri.clone(),
            client_name: self.client_name.clone(),
            ..AuthOptions::default()
        };
        if options.is_null_or_undefined() {
            return Ok(o);
        }
        if !options.is_object() {
            return Err(invalid("login options must be an object"));
        }
        if let Some(v) = opt_str(options, "redirectUri")? {
            o.redirect_uri = v;
        }
        if let Some(v) = opt_str(options, "clientName")? {
            o.client_name = v;
        }
        o.scope = opt_str(options, "scope")?;
        o.client_id = opt_str(options, "clientId")?;
        o.client_secret = opt_str(options, "clientSecret")?.map(ClientSecret::new);
        if o.client_secret.is_some() && in_browser() {
            return Err(coded_error(
                "a clientSecret cannot be kept secret in a browser: any script on the page can read it, \
                 and it would sit in storage with the tokens. Use a public client (PKCE, no secret), \
                 or keep the confidential client in a backend-for-frontend; Node may pass one",
                "client_secret_in_browser",
            ));
        }
        o.client_auth_method = match opt_str(options, "clientAuthMethod")? {
            None => None,
            Some(m) => Some(ClientAuthMethod::from_name(&m).ok_or_else(|| {
                invalid(format!(
                    "clientAuthMethod `{m}` is not none, client_secret_basic, client_secret_post or private_key_jwt"
                ))
            })?),
        };
        o.client_metadata_url = opt_str(options, "clientMetadataUrl")?;
        grants::apply(options, &mut o, in_browser())?;
        if let Some(b) = opt_bool(options, "interactive")? {
            o.interactive = b;
        }
        o.issuer = opt_str(options, "issuer")?;
        if let Some(b) = opt_bool(options, "sendResource")? {
            o.send_resource = b;
        }
        if let Some(b) = opt_bool(options, "assumePkceS256")? {
            o.assume_pkce_s256 = b;
        }
        if let Some(m) = opt_str(options, "dpop")? {
            o.dpop = mcp_auth_core::DpopMode::parse(&m)
                .ok_or_else(|| invalid(format!("dpop `{m}` is not auto, required or off")))?;
        }
        let extra = get(options, "extraParams");
        if extra.is_object() {
            for entry in Object::entries(extra.unchecked_ref::<Object>()).iter() {
                let pair: Array = entry.unchecked_into();
                let (k, v) = (pair.get(0).as_string(), pair.get(1).as_string());
                match (k, v) {
                    (Some(k), Some(v)) => o.extra_params.push((k, v)),
                    _ => return Err(invalid("extraParams values must be strings")),
                }
            }
        }
        Ok(o)
    }
}

/// An MCP OAuth client over host functions supplied by JavaScript.
#[wasm_bindgen]
pub struct McpAuthClient {
    inner: Rc<Inner>,
}

/// Runs a future as a JS promise whose rejection is a coded `Error`.
pub(crate) fn spawn<F>(future: F) -> Promise
where
    F: std::future::Future<Output = Result<JsValue, JsValue>> + 'static,
{
    if let Err(e) = check_not_panicked() {
        return Promise::reject(&e);
    }
    // One instantiation of the promise glue for all methods (smaller).
    let future: std::pin::Pin<Box<dyn std::future::Future<Output = Result<JsValue, JsValue>>>> =
        Box::pin(future);
    future_to_promise(future)
}

#[wasm_bindgen]
impl McpAuthClient {
    /// `new McpAuthClient({ storage: {get, set, delete}, redirect?, fetch?, lock?, redirectUri?, clientName? })`
    #[wasm_bindgen(constructor)]
    pub fn new(options: ClientOptions) -> Result<McpAuthClient, JsValue> {
        check_not_panicked()?;
        let options: JsValue = options.into();
        if !options.is_object() {
            return Err(invalid(
                "McpAuthClient needs an options object: { storage: {get, set, delete}, redirect }",
            ));
        }
        let host = JsHost::from_options(&options)?;
        let redirect_uri = match opt_str(&options, "redirectUri")? {
            Some(u) => u,
            None => host::page_redirect_uri()
                .unwrap_or_else(|| mcp_auth_core::client::DEFAULT_REDIRECT_URI.to_string()),
        };
        let client_name = opt_str(&options, "clientName")?.unwrap_or_else(|| "mcp-auth".into());
        Ok(McpAuthClient {
            inner: Rc::new(Inner {
                auth: McpAuth::new(host).on_warning(console_warn),
                redirect_uri,
                client_name,
            }),
        })
    }

    /// Logs in to an MCP server: discovery, client registration, PKCE, the `redirect`
    /// function, token exchange. Resolves to `{redirected: true}` when the page navigated away.
    pub fn login(
        &self,
        #[wasm_bindgen(js_name = serverUrl)] server_url: String,
        options: Option<LoginOptions>,
    ) -> LoginPromise {
        let inner = self.inner.clone();
        let options: JsValue = options.map(Into::into).unwrap_or(JsValue::UNDEFINED);
        spawn(async move {
            let opts = inner.auth_options(&options)?;
            match inner
                .auth
                .login(&server_url, &opts)
                .await
                .map_err(js_error)?
            {
                LoginOutcome::Completed(info) => Ok(out::token_info(&info, Some(false))),
                LoginOutcome::Redirected => {
                    let o = Object::new();
                    set(&o, "redirected", &JsValue::TRUE);
                    Ok(o.into())
                }
            }
        })
        .unchecked_into()
    }

    /// Prepares a login without calling `redirect`: the pending state is stored and the
    /// authorization URL returned; finish with `completeLogin`.
    #[wasm_bindgen(js_name = beginLogin)]
    pub fn begin_login(
        &self,
        #[wasm_bindgen(js_name = serverUrl)] server_url: String,
        options: Option<LoginOptions>,
    ) -> BeginPromise {
        let inner = self.inner.clone();
        let options: JsValue = options.map(Into::into).unwrap_or(JsValue::UNDEFINED);
        spawn(async move {
            let opts = inner.auth_options(&options)?;
            let r = inner
                .auth
                .begin_login(&server_url, &opts)
                .await
                .map_err(js_error)?;
            Ok(out::authorization_request(&r))
        })
        .unchecked_into()
    }

    /// Finishes a login from the URL the browser came back to (e.g. `location.href`).
    #[wasm_bindgen(js_name = completeLogin)]
    pub fn complete_login(
        &self,
        #[wasm_bindgen(js_name = callbackUrl)] callback_url: String,
    ) -> TokenInfoPromise {
        let inner = self.inner.clone();
        spawn(async move {
            let info = inner
                .auth
                .complete_login(&callback_url)
                .await
                .map_err(js_error)?;
            Ok(out::token_info(&info, None))
        })
        .unchecked_into()
    }

    /// A valid access token for the server (refreshed when about to expire). Never opens a
    /// browser; with `options` naming a grant without one (`grant: "client_credentials"`,
    /// ...), that grant gets a new token when none is stored or it is about to expire.
    #[wasm_bindgen(js_name = accessToken)]
    pub fn access_token(
        &self,
        #[wasm_bindgen(js_name = serverUrl)] server_url: String,
        options: Option<LoginOptions>,
    ) -> StringPromise {
        let inner = self.inner.clone();
        let options: JsValue = options.map(Into::into).unwrap_or(JsValue::UNDEFINED);
        spawn(async move {
            let opts = inner.auth_options(&options)?;
            let token = inner
                .auth
                .access_token_for(&server_url, &opts)
                .await
                .map_err(js_error)?;
            Ok(JsValue::from_str(token.secret()))
        })
        .unchecked_into()
    }

    /// Sends a request with the bearer token: 401 refreshes (then logs in again), 403
    /// `insufficient_scope` steps up. Resolves to `{status, headers, body}`.
    #[wasm_bindgen(js_name = authorizedFetch)]
    pub fn authorized_fetch(
        &self,
        #[wasm_bindgen(js_name = serverUrl)] server_url: String,
        request: Option<AuthorizedRequest>,
        options: Option<LoginOptions>,
    ) -> ResponsePromise {
        let inner = self.inner.clone();
        let request: JsValue = request.map(Into::into).unwrap_or(JsValue::UNDEFINED);
        let options: JsValue = options.map(Into::into).unwrap_or(JsValue::UNDEFINED);
        spawn(async move {
            let opts = inner.auth_options(&options)?;
            let req = http_request(&server_url, &request)?;
            let resp = inner
                .auth
                .authorized_request(&server_url, req, &opts)
                .await
                .map_err(js_error)?;
            let headers = Object::new();
            for (name, value) in &resp.headers {
                let name = name.to_ascii_lowercase();
                let prev = get(&headers, &name).as_string();
                let value = match prev {
                    Some(p) => format!("{p}, {value}"),
                    None => value.clone(),
                };
                set(&headers, &name, &JsValue::from_str(&value));
            }
            let out = Object::new();
            set(&out, "status", &JsValue::from(resp.status));
            set(&out, "headers", &headers);
            set(&out, "body", &JsValue::from_str(&resp.text()));
            Ok(out.into())
        })
        .unchecked_into()
    }

    /// An MCP session with the server, speaking the revision it answers in (see
    /// `SessionOptions.protocol`). Every request carries the token as `authorizedFetch`
    /// does; the MCP messages are built and read by core, not by JavaScript.
    pub fn session(
        &self,
        #[wasm_bindgen(js_name = serverUrl)] server_url: String,
        options: Option<SessionOptions>,
    ) -> SessionPromise {
        let options: JsValue = options.map(Into::into).unwrap_or(JsValue::UNDEFINED);
        spawn(session::open(self.inner.clone(), server_url, options)).unchecked_into()
    }

    /// Every stored identity with its token state (reads only).
    pub fn status(&self) -> StatusListPromise {
        let inner = self.inner.clone();
        spawn(async move {
            let list = inner.auth.status().await.map_err(js_error)?;
            let array = Array::new();
            for t in &list {
                array.push(&out::token_status(t));
            }
            Ok(array.into())
        })
        .unchecked_into()
    }

    /// The token state of one server's identity (reads only).
    #[wasm_bindgen(js_name = tokenStatus)]
    pub fn token_status(
        &self,
        #[wasm_bindgen(js_name = serverUrl)] server_url: String,
    ) -> StatusPromise {
        let inner = self.inner.clone();
        spawn(async move {
            let identity = mcp_auth_core::identity(&server_url).map_err(js_error)?;
            let st = inner.auth.token_status(&identity).await.map_err(js_error)?;
            Ok(out::token_status(&st))
        })
        .unchecked_into()
    }

    /// Revokes the tokens (when the server offers revocation) and deletes them;
    /// `{forgetClient: true}` also forgets the client registration and cached discovery.
    pub fn logout(&self, identity: String, options: Option<LogoutOptions>) -> LogoutPromise {
        let inner = self.inner.clone();
        let options: JsValue = options.map(Into::into).unwrap_or(JsValue::UNDEFINED);
        spawn(async move {
            let forget = if options.is_object() {
                opt_bool(&options, "forgetClient")?.unwrap_or(false)
            } else {
                false
            };
            let r = inner
                .auth
                .logout(&identity, forget)
                .await
                .map_err(js_error)?;
            Ok(out::logout_report(&r))
        })
        .unchecked_into()
    }
}

/// Core's request from a JS `{method, headers, body}`. It always goes to the server URL the
/// token is for (any URL on the server's origin shares its identity, e.g. an SSE transport's
/// message endpoint); there is no way to send the token elsewhere.
fn http_request(server_url: &str, request: &JsValue) -> Result<HttpRequest, JsValue> {
    let mut req = HttpRequest::get(server_url).max_body(mcp_auth_core::host::MCP_MAX_BODY);
    if request.is_null_or_undefined() {
        return Ok(req);
    }
    if !request.is_object() {
        return Err(invalid(
            "the request must be an object {method, headers, body}",
        ));
    }
    req.method = match opt_str(request, "method")?.map(|m| m.to_ascii_uppercase()) {
        None => Method::Get,
        Some(m) if m == "GET" => Method::Get,
        Some(m) if m == "POST" => Method::Post,
        Some(m) if m == "DELETE" => Method::Delete,
        Some(m) => return Err(invalid(format!("method `{m}` is not GET, POST or DELETE"))),
    };
    let headers = get(request, "headers");
    if headers.is_object() {
        // `[name, value]` pairs: a `Headers`, a `Map` or an array of pairs (iterables), else a
        // plain object's entries
        let mut add = |pair: JsValue| {
            let pair: Array = pair.unchecked_into();
            match (pair.get(0).as_string(), pair.get(1).as_string()) {
                (Some(n), Some(v)) => {
                    req.headers.push((n, v));
                    Ok(())
                }
                _ => Err(invalid("header names and values must be strings")),
            }
        };
        let pairs = crate::js::items(&headers)
            .unwrap_or_else(|| Object::entries(headers.unchecked_ref::<Object>()));
        for pair in pairs.iter() {
            add(pair)?;
        }
    }
    let body = get(request, "body");
    if let Some(s) = body.as_string() {
        req.body = Some(s.into_bytes());
    } else if body.is_instance_of::<Uint8Array>() {
        req.body = Some(crate::js::bytes(body.unchecked_ref::<Uint8Array>()));
    } else if body.is_instance_of::<js_sys::ArrayBuffer>() {
        req.body = Some(crate::js::bytes(&Uint8Array::new(&body)));
    } else if !body.is_null_or_undefined() {
        return Err(invalid(
            "the request body must be a string, Uint8Array or ArrayBuffer",
        ));
    }
    Ok(req)
}

/// The heap allocator: talc instead of std's dlmalloc (−3 KB gzip, issue 11; wasm/README.md
/// "The build's settings"). This build is single-threaded (no `atomics`).
#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
