//! The listeners, the request router, CORS, the request log and the admin endpoints.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::json;

use crate::protocol::{LineEnd, Protocol};
use crate::scenario::{Scenario, SecondListener};
use crate::state::{Ctx, LoggedRequest, Setup, Shared, StaticClient};
use crate::{admin, canned, hostile, mcp, oauth, sse};

/// How to start a [`TestServer`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub scenario: Scenario,
    /// Port of the resource server; 0 picks any free port.
    pub port: u16,
    /// Overrides the scenario's access token lifetime.
    pub token_lifetime_secs: Option<u64>,
    /// Served under `/demo/`.
    pub static_dir: Option<PathBuf>,
    /// The MCP era(s) the MCP endpoint speaks (default: both).
    pub protocol: Protocol,
    /// Answer requests with an SSE stream that starts with a priming event (an `id:`, a
    /// `retry:` and an empty `data:`), with these line ends. `None`: JSON answers.
    pub priming_event: Option<LineEnd>,
}

/// A running authorization server + MCP resource server on 127.0.0.1.
///
/// It runs on its own thread with its own tokio runtime, so it works from plain `#[test]`
/// functions and from inside `#[tokio::test]`. Dropping it shuts it down.
pub struct TestServer {
    ctx: Ctx,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Start `scenario` on a random port. Panics if no port can be bound.
    pub fn start(scenario: Scenario) -> TestServer {
        match TestServer::start_with(Options {
            scenario,
            ..Options::default()
        }) {
            Ok(s) => s,
            Err(e) => panic!("mcp-auth-testkit: cannot start the test server: {e}"),
        }
    }

    /// Start with explicit options; returns once the listeners are bound.
    pub fn start_with(opts: Options) -> std::io::Result<TestServer> {
        let rs = std::net::TcpListener::bind(("127.0.0.1", opts.port))?;
        rs.set_nonblocking(true)?;
        let base_url = format!("http://127.0.0.1:{}", rs.local_addr()?.port());
        let as_listener = if opts.scenario.separate_as() {
            let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
            l.set_nonblocking(true)?;
            Some(l)
        } else {
            None
        };
        let (as_origin, as_prefix) = match &as_listener {
            Some(l) => (
                format!("http://127.0.0.1:{}", l.local_addr()?.port()),
                "/tenant1".to_string(),
            ),
            None => (base_url.clone(), String::new()),
        };
        let second = match opts.scenario.second_listener() {
            Some(_) => {
                let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
                l.set_nonblocking(true)?;
                Some(l)
            }
            None => None,
        };
        let second_origin = match &second {
            Some(l) => Some(format!("http://127.0.0.1:{}", l.local_addr()?.port())),
            None => None,
        };
        let lifetime = Duration::from_secs(
            opts.token_lifetime_secs
                .unwrap_or_else(|| opts.scenario.default_token_lifetime()),
        );
        let second_as = match (opts.scenario.second_listener(), &second_origin) {
            (Some(SecondListener::LegitAs), Some(origin)) => Some(Arc::new(Shared::new(Setup {
                scenario: Scenario::Default,
                base_url: base_url.clone(),
                as_origin: origin.clone(),
                as_prefix: String::new(),
                token_lifetime: lifetime,
                static_dir: None,
                protocol: opts.protocol,
                priming: None,
                second_origin: None,
                second_as: None,
            }))),
            _ => None,
        };
        let ctx: Ctx = Arc::new(Shared::new(Setup {
            scenario: opts.scenario,
            base_url: base_url.clone(),
            as_origin: as_origin.clone(),
            as_prefix,
            token_lifetime: lifetime,
            static_dir: opts.static_dir,
            protocol: opts.protocol,
            priming: opts.priming_event,
            second_origin: second_origin.clone(),
            second_as,
        }));

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("mcp-auth-testkit")
            .enable_all()
            .build()?;
        let mut apps = vec![(rs, router(ctx.clone(), "rs", base_url))];
        if let Some(l) = as_listener {
            apps.push((l, router(ctx.clone(), "as", as_origin)));
        }
        if let (Some(l), Some(origin)) = (second, second_origin) {
            apps.push((l, router(ctx.clone(), "second", origin)));
        }
        let servers = {
            let _guard = rt.enter();
            let mut servers = Vec::new();
            for (l, app) in apps {
                servers.push((tokio::net::TcpListener::from_std(l)?, app));
            }
            servers
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("mcp-auth-testkit".into())
            .spawn(move || {
                rt.block_on(async move {
                    let all =
                        futures_util::future::select_all(servers.into_iter().map(|(l, app)| {
                            Box::pin(async move {
                                if let Err(e) = axum::serve(l, app).await {
                                    eprintln!("mcp-auth-testkit: a listener stopped: {e}");
                                }
                            })
                        }));
                    tokio::select! {
                        _ = all => {}
                        _ = rx => {}
                    }
                });
                // Dropping the runtime cancels every connection task (SSE streams included).
                rt.shutdown_timeout(Duration::from_secs(2));
            })?;
        Ok(TestServer {
            ctx,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn scenario(&self) -> Scenario {
        self.ctx.scenario
    }

    pub fn protocol(&self) -> Protocol {
        self.ctx.protocol
    }

    /// `base_url` + `path`, e.g. `url("/a/mcp")` in `two-resources`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.ctx.base_url, path)
    }

    /// Origin of the second listener (hostile or second AS, or the collector), if any.
    /// It is also the issuer of the AS there.
    pub fn second_origin(&self) -> Option<String> {
        self.ctx.second_origin.clone()
    }

    /// Make the PRM name the second origin's AS (`true`) or the first AS again (`false`).
    /// Same as `POST /_testkit/switch-as?to=second|first`.
    pub fn switch_authorization_server(&self, to_second: bool) {
        let mut inner = self.ctx.lock();
        inner.switched = to_second;
        inner.switch_after = None;
    }

    /// Switch to the second origin's AS automatically once `n` more requests have passed the
    /// RS's bearer check (those `n` are served as before the switch), as the conformance
    /// `auth/authorization-server-migration` scenario does with `n = 1`.
    /// Same as `POST /_testkit/switch-as?to=second&after=N`.
    pub fn switch_authorization_server_after(&self, n: u64) {
        let mut inner = self.ctx.lock();
        if n == 0 {
            inner.switched = true;
            inner.switch_after = None;
        } else {
            inner.switch_after = Some(n);
        }
    }

    /// While on, the RS answers 401 `invalid_token` to every request.
    /// Same as `POST /_testkit/token-delay?ms=N`: `POST /token` waits `ms` before it is
    /// handled (0: no wait).
    pub fn set_token_delay_ms(&self, ms: u64) {
        self.ctx.lock().token_delay_ms = ms;
    }

    /// Same as `POST /_testkit/deny-all?on=true|false`.
    pub fn set_deny_all(&self, on: bool) {
        self.ctx.lock().deny_all = on;
    }

    /// The requests that arrived at the listener with this origin.
    pub fn requests_at(&self, origin: &str) -> Vec<LoggedRequest> {
        self.ctx
            .lock()
            .log
            .iter()
            .filter(|r| r.origin == origin)
            .cloned()
            .collect()
    }

    /// How many token requests with this `grant_type` arrived (at any listener).
    pub fn grant_count(&self, grant_type: &str) -> usize {
        self.ctx
            .lock()
            .log
            .iter()
            .filter(|r| r.grant_type.as_deref() == Some(grant_type))
            .count()
    }

    /// `http://127.0.0.1:PORT`, the resource server's origin.
    pub fn base_url(&self) -> String {
        self.ctx.base_url.clone()
    }

    pub fn mcp_url(&self) -> String {
        self.ctx.mcp_resource()
    }

    pub fn sse_url(&self) -> String {
        self.ctx.sse_resource()
    }

    /// The authorization server's issuer identifier (as listed in the PRM).
    pub fn issuer(&self) -> String {
        self.ctx.issuer()
    }

    /// The authorization server's origin (differs from `base_url` when it has its own listener).
    pub fn as_origin(&self) -> String {
        self.ctx.as_origin.clone()
    }

    /// Every request so far, in arrival order (admin `/_testkit/*` requests excluded).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.ctx.lock().log.clone()
    }

    /// `"METHOD /path"` for every request so far.
    pub fn request_lines(&self) -> Vec<String> {
        self.ctx
            .lock()
            .log
            .iter()
            .map(LoggedRequest::line)
            .collect()
    }

    /// How many `method path` requests arrived.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.ctx
            .lock()
            .log
            .iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method) && r.path == path)
            .count()
    }

    pub fn clear_log(&self) {
        self.ctx.lock().log.clear();
    }

    /// Every access token issued so far expires now.
    pub fn expire_access_tokens(&self) {
        admin::expire_all(&self.ctx);
    }

    /// Makes `canned.path` answer with `canned` instead of its handler (see [`crate::Canned`]).
    pub fn set_canned(&self, canned: crate::Canned) {
        canned::set(&self.ctx, canned);
    }

    /// Every path answers with its real handler again.
    pub fn clear_canned(&self) {
        self.ctx.lock().canned.clear();
    }

    /// Grants revoked for any reason (a refresh token replayed, a code reused, revocation).
    pub fn revoked_grant_count(&self) -> usize {
        self.ctx
            .lock()
            .grants
            .values()
            .filter(|g| g.revoked)
            .count()
    }

    /// Every secret this server issued or was shown: access and refresh tokens, authorization
    /// codes, client secrets (of registered and pre-registered clients) and the PKCE verifiers
    /// received at `/token`. For tests that scan output and files for leaks.
    pub fn issued_secrets(&self) -> Vec<String> {
        let inner = self.ctx.lock();
        let mut all: Vec<String> = Vec::new();
        all.extend(inner.access.keys().cloned());
        all.extend(inner.refresh.keys().cloned());
        all.extend(inner.codes.keys().cloned());
        all.extend(
            inner
                .clients
                .values()
                .filter_map(|c| c.client_secret.clone()),
        );
        all.extend(inner.verifiers_seen.iter().cloned());
        all
    }

    /// Tokens revoked through the revocation endpoint.
    pub fn revoked_count(&self) -> usize {
        self.ctx.lock().revoked
    }

    /// DPoP: the `use_dpop_nonce` challenges the authorization server and the resource
    /// server sent so far (`dpop-nonce`).
    pub fn dpop_nonce_challenges(&self) -> (u64, u64) {
        let inner = self.ctx.lock();
        (inner.as_nonce_challenges, inner.rs_nonce_challenges)
    }

    /// Add a pre-registered client.
    pub fn register_client(&self, c: StaticClient) {
        self.ctx.add_client(c);
    }

    /// Add a pre-registered client that may use the client credentials and JWT-bearer
    /// grants (with a secret, or public for the JWT-bearer grant).
    pub fn register_grant_client(&self, c: StaticClient) {
        crate::oauth::grants::register_grant_client(&self.ctx, c);
    }

    /// Add a `private_key_jwt` client (RFC 7523) whose assertions `public_jwk` verifies;
    /// it may use the client credentials and JWT-bearer grants.
    pub fn register_key_client(&self, client_id: &str, public_jwk: serde_json::Value) {
        crate::oauth::grants::register_key_client(&self.ctx, client_id, public_jwk);
    }

    /// A workload identity token from the platform the authorization server trusts, for
    /// `aud`, expiring in `exp_in` seconds (negative: expired), with `jti` (random if `None`).
    pub fn mint_workload_token(&self, aud: &str, exp_in: i64, jti: Option<&str>) -> String {
        crate::oauth::grants::mint_workload_token(&self.ctx, aud, exp_in, jti)
    }

    /// An ID token of the testkit's identity provider, for `aud` (the client id there:
    /// [`Self::IDP_CLIENT_ID`] is the one it accepts).
    pub fn mint_id_token(&self, aud: &str, exp_in: i64) -> String {
        crate::oauth::grants::mint_id_token(&self.ctx, aud, exp_in)
    }

    /// The client id the testkit's identity provider knows.
    pub const IDP_CLIENT_ID: &'static str = crate::oauth::grants::IDP_CLIENT_ID;

    /// The identity provider's token endpoint (RFC 8693 token exchange for ID-JAGs).
    pub fn idp_token_endpoint(&self) -> String {
        self.ctx.as_endpoint("/idp/token")
    }

    /// The MCP client the identity provider names in its ID-JAGs.
    pub fn set_id_jag_client(&self, client_id: &str) {
        crate::oauth::grants::set_jag_client(&self.ctx, client_id);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[derive(Clone)]
pub(crate) struct App {
    pub ctx: Ctx,
    pub server: &'static str,
    /// This listener's origin.
    pub origin: String,
}

fn router(ctx: Ctx, server: &'static str, origin: String) -> Router {
    Router::new().fallback(dispatch).with_state(App {
        ctx,
        server,
        origin,
    })
}

/// Every request passes here: log it, answer preflights, route it, add CORS headers.
async fn dispatch(State(app): State<App>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let (parts, body) = req.into_parts();
    let mut form_fields = Vec::new();
    let mut grant_type = None;
    let body = if content_type_is(&parts.headers, "application/x-www-form-urlencoded") {
        match axum::body::to_bytes(body, 1 << 20).await {
            Ok(bytes) => {
                for (k, v) in url::form_urlencoded::parse(&bytes) {
                    if k == "grant_type" {
                        grant_type = Some(v.into_owned());
                    }
                    form_fields.push(k.into_owned());
                }
                Body::from(bytes)
            }
            Err(_) => Body::empty(),
        }
    } else {
        body
    };
    if !path.starts_with("/_testkit/") {
        let auth_scheme = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_whitespace().next())
            .map(str::to_string);
        app.ctx.lock().log.push(LoggedRequest {
            method: method.as_str().to_string(),
            path: path.clone(),
            query: parts.uri.query().map(str::to_string),
            server: app.server,
            origin: app.origin.clone(),
            auth_scheme,
            form_fields,
            grant_type,
        });
    }
    if path == "/_testkit/canned" && method != Method::OPTIONS {
        let bytes = axum::body::to_bytes(body, 1 << 20)
            .await
            .unwrap_or_default();
        let mut resp = canned::admin(&app.ctx, &method, &bytes);
        add_cors(&mut resp);
        return resp;
    }
    let canned = if path.starts_with("/_testkit/") || method == Method::OPTIONS {
        None
    } else {
        canned::answer(&app.ctx, &app.origin, &method, &path, parts.uri.query())
    };
    if let Some(mut resp) = canned {
        add_cors(&mut resp);
        return resp;
    }
    let req = Request::from_parts(parts, body);
    let mut resp = if method == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else {
        route(&app, &method, &path, req).await
    };
    // a DPoP resource server rotates its nonce on every success (`dpop-nonce`)
    let next_nonce = app.ctx.lock().rs_nonce_to_send.take();
    resp = crate::dpop::with_nonce(resp, next_nonce);
    add_cors(&mut resp);
    resp
}

fn add_cors(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(
            "authorization, content-type, mcp-protocol-version, mcp-session-id, last-event-id, \
             mcp-method, mcp-name, dpop",
        ),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("WWW-Authenticate, Mcp-Session-Id, Location, DPoP-Nonce"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
}

async fn route(app: &App, method: &Method, path: &str, req: Request) -> Response {
    let ctx = &app.ctx;
    if let Some(what) = path.strip_prefix("/_testkit/") {
        return admin::route(ctx, method, what, req.uri().query().unwrap_or(""));
    }
    if path == "/token" && method == Method::POST {
        let delay = ctx.lock().token_delay_ms;
        if delay > 0 {
            // a client that disconnects meanwhile drops this future: its request never
            // reaches the grant
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        }
    }
    let resp = match app.server {
        "rs" => rs_route(ctx, method, path, req).await,
        "second" => match ctx.scenario.second_listener() {
            Some(SecondListener::HostileAs { grant_codes }) => {
                Some(hostile::hostile_as(&app.origin, grant_codes, method, path, req).await)
            }
            Some(SecondListener::LegitAs) => match &ctx.second_as {
                Some(second) => oauth::route(second, method, path, req).await,
                None => None,
            },
            Some(SecondListener::Collector) => Some(hostile::collector(method)),
            None => None,
        },
        _ => oauth::route(ctx, method, path, req).await,
    };
    resp.unwrap_or_else(not_found)
}

/// Routes on the resource server's origin (which also hosts the AS unless it is separate).
/// `None` when the path is not served on this origin in this scenario.
async fn rs_route(ctx: &Ctx, method: &Method, path: &str, req: Request) -> Option<Response> {
    let sc = ctx.scenario;
    match path {
        "/mcp" => return Some(mcp::mcp_endpoint(ctx, "/mcp", method, req).await),
        "/a/mcp" | "/b/mcp" if sc == Scenario::TwoResources => {
            return Some(mcp::mcp_endpoint(ctx, path, method, req).await)
        }
        "/.well-known/oauth-protected-resource/a/mcp"
        | "/.well-known/oauth-protected-resource/b/mcp"
            if sc == Scenario::TwoResources =>
        {
            let rs_path = path.trim_start_matches("/.well-known/oauth-protected-resource");
            return Some(prm(ctx, method, rs_path));
        }
        "/sse" => {
            return Some(if method == Method::GET {
                sse::sse_get(ctx, req).await
            } else {
                method_not_allowed("GET, OPTIONS")
            })
        }
        "/messages" => {
            return Some(if method == Method::POST {
                sse::messages_post(ctx, req).await
            } else {
                method_not_allowed("POST, OPTIONS")
            })
        }
        "/.well-known/oauth-protected-resource/mcp" if sc.prm_path_form() => {
            return Some(prm(ctx, method, "/mcp"))
        }
        "/.well-known/oauth-protected-resource/sse" if sc.prm_path_form() => {
            return Some(prm(ctx, method, "/sse"))
        }
        "/.well-known/oauth-protected-resource" if sc.prm_root_form() => {
            return Some(prm(ctx, method, "/mcp"))
        }
        _ => {}
    }
    if path == "/demo" || path.starts_with("/demo/") {
        return Some(crate::statics::serve(ctx, method, path));
    }
    if !sc.separate_as() {
        return oauth::route(ctx, method, path, req).await;
    }
    None
}

/// RFC 9728 protected resource metadata.
fn prm(ctx: &Shared, method: &Method, rs_path: &str) -> Response {
    if method != Method::GET {
        return method_not_allowed("GET, OPTIONS");
    }
    let resource = if ctx.scenario == Scenario::MaliciousResource {
        format!("https://evil.example.com{rs_path}")
    } else {
        format!("{}{}", ctx.base_url, rs_path)
    };
    json_response(
        StatusCode::OK,
        &json!({
            "resource": resource,
            "authorization_servers": [ctx.prm_issuer()],
            "scopes_supported": ["mcp:read", "mcp:write"],
            "bearer_methods_supported": ["header"],
            "resource_name": "mcp-auth testkit",
        }),
    )
}

pub(crate) fn json_response(status: StatusCode, v: &serde_json::Value) -> Response {
    let mut resp = (status, v.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub(crate) fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({"error": "not_found", "error_description": "no such endpoint in this scenario"}),
    )
}

pub(crate) fn method_not_allowed(allow: &'static str) -> Response {
    let mut resp = json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &json!({"error": "method_not_allowed"}),
    );
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

/// Read a request body (at most 1 MiB) as UTF-8 text.
pub(crate) async fn body_text(body: Body) -> Result<String, String> {
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .map_err(|e| format!("cannot read the request body: {e}"))?;
    String::from_utf8(bytes.to_vec()).map_err(|_| "the request body is not UTF-8".to_string())
}

/// Does the `Content-Type` header name this media type (parameters ignored)?
pub(crate) fn content_type_is(headers: &axum::http::HeaderMap, media: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(media))
}
