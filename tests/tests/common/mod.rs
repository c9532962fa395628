//! Hand-driven OAuth/MCP client steps shared by the integration tests.
#![allow(dead_code)]

use mcp_auth_testkit::{pkce_s256, TestServer};
use reqwest::redirect::Policy;
use serde_json::{json, Value};

pub const REDIRECT: &str = "http://127.0.0.1:43210/callback";

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

pub fn verifier() -> String {
    // 43+ unreserved characters, different every call.
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "verifier-{:040}-{}",
        N.fetch_add(1, Ordering::SeqCst),
        std::process::id()
    )
}

pub async fn get_json(url: &str) -> (u16, Value) {
    let resp = http().get(url).send().await.expect("GET");
    let status = resp.status().as_u16();
    let v = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, v)
}

/// Register a public client with DCR; returns the response JSON.
pub async fn register(s: &TestServer, body: Value) -> (u16, Value) {
    let resp = http()
        .post(format!("{}/register", s.issuer()))
        .json(&body)
        .send()
        .await
        .expect("register");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub async fn register_public(s: &TestServer) -> String {
    let (status, v) = register(
        s,
        json!({"redirect_uris": [REDIRECT], "client_name": "test client",
               "grant_types": ["authorization_code", "refresh_token"],
               "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    v["client_id"].as_str().expect("client_id").to_string()
}

pub struct AuthUrl {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: String,
    pub verifier: String,
    pub scope: Option<String>,
    pub resource: Option<String>,
}

impl AuthUrl {
    pub fn new(s: &TestServer, client_id: &str) -> AuthUrl {
        AuthUrl {
            client_id: client_id.to_string(),
            redirect_uri: REDIRECT.to_string(),
            state: "st-123".to_string(),
            verifier: verifier(),
            scope: None,
            resource: Some(s.mcp_url()),
        }
    }

    pub fn url(&self, s: &TestServer) -> String {
        let mut u = url::Url::parse(&format!("{}/authorize", s.issuer())).expect("url");
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &self.client_id)
                .append_pair("redirect_uri", &self.redirect_uri)
                .append_pair("state", &self.state)
                .append_pair("code_challenge", &pkce_s256(&self.verifier))
                .append_pair("code_challenge_method", "S256");
            if let Some(sc) = &self.scope {
                q.append_pair("scope", sc);
            }
            if let Some(r) = &self.resource {
                q.append_pair("resource", r);
            }
        }
        u.to_string()
    }
}

/// Query parameters of a redirect URL.
pub fn query(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .expect("redirect url")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Run /authorize (via `browse`) and return the code.
pub async fn authorize(s: &TestServer, a: &AuthUrl) -> String {
    let redirect = mcp_auth_testkit::browse(&a.url(s)).await.expect("browse");
    assert!(redirect.starts_with(&a.redirect_uri), "{redirect}");
    let q = query(&redirect);
    assert_eq!(q.get("state"), Some(&a.state), "{redirect}");
    q.get("code")
        .cloned()
        .unwrap_or_else(|| panic!("no code in {redirect}"))
}

pub async fn token_request(
    s: &TestServer,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, Value) {
    let mut req = http().post(format!("{}/token", s.issuer())).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let resp = req.send().await.expect("token");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Exchange a code for tokens as a public client.
pub async fn exchange(s: &TestServer, a: &AuthUrl, code: &str) -> (u16, Value) {
    let resource = s.mcp_url();
    token_request(
        s,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &a.redirect_uri),
            ("client_id", &a.client_id),
            ("code_verifier", &a.verifier),
            ("resource", &resource),
        ],
        None,
    )
    .await
}

/// DCR + authorize + token: a fresh access/refresh token pair for a public client.
pub async fn login(s: &TestServer, scope: Option<&str>) -> (String, Value) {
    let client_id = register_public(s).await;
    let mut a = AuthUrl::new(s, &client_id);
    a.scope = scope.map(str::to_string);
    let code = authorize(s, &a).await;
    let (status, tok) = exchange(s, &a, &code).await;
    assert_eq!(status, 200, "{tok}");
    (client_id, tok)
}

pub async fn refresh(s: &TestServer, client_id: &str, rt: &str) -> (u16, Value) {
    token_request(
        s,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", client_id),
        ],
        None,
    )
    .await
}

/// POST a JSON-RPC message to /mcp.
pub async fn mcp_post(
    s: &TestServer,
    token: Option<&str>,
    session: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let mut req = http()
        .post(s.mcp_url())
        .header("accept", "application/json, text/event-stream")
        .json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(sid) = session {
        req = req.header("mcp-session-id", sid);
    }
    req.send().await.expect("mcp")
}

pub fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"}}})
}

pub fn www_authenticate(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

pub fn access(tok: &Value) -> String {
    tok["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

pub fn refresh_token(tok: &Value) -> String {
    tok["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_string()
}

/// Initialize an MCP session with this token; returns the session id.
pub async fn session(s: &TestServer, token: &str) -> String {
    let resp = mcp_post(s, Some(token), None, initialize()).await;
    assert_eq!(resp.status().as_u16(), 200);
    resp.headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .expect("session id")
        .to_string()
}
