//! End-to-end tests of core's flow against the testkit over real HTTP on 127.0.0.1, one per
//! scenario, asserting the exact request sequence the server saw.
//!
//! The host here is the native HTTP capability with an in-memory store and the testkit's
//! scripted browser; the CLI's own tests cover the keyring and file stores.

#[path = "common/core_host.rs"]
mod core_host;

use core_host::{client, Browser, TestHost};
use mcp_auth::store::MemoryStore;
use mcp_auth_core::oauth::query_param;
use mcp_auth_core::records::TokenRecord;
use mcp_auth_core::{
    AuthOptions, ClientAuthMethod, ClientSecret, Error, Host, HttpRequest, HttpResponse,
    LoginOutcome, McpAuth,
};
use mcp_auth_testkit::{Scenario, TestServer};
use std::sync::Arc;

/// The requests the client itself made (the browser's GET of the authorization endpoint and
/// CORS preflights left out).
fn client_requests(server: &TestServer) -> Vec<String> {
    server
        .request_lines()
        .into_iter()
        .filter(|l| !l.ends_with("/authorize") && !l.starts_with("OPTIONS "))
        .collect()
}

async fn login(
    auth: &McpAuth<TestHost>,
    server: &TestServer,
    opts: &AuthOptions,
) -> mcp_auth_core::TokenInfo {
    match auth.login(&server.mcp_url(), opts).await {
        Ok(LoginOutcome::Completed(info)) => info,
        Ok(LoginOutcome::Redirected) => panic!("unexpected redirect"),
        Err(e) => panic!("login failed: {e}"),
    }
}

/// The key of the identity's (only) token record, found through the index.
fn token_key_of(auth: &McpAuth<TestHost>, identity: &str) -> Option<String> {
    let index: serde_json::Value =
        serde_json::from_str(&auth.host().store.load("index").unwrap()?).unwrap();
    let prefix = format!("tokens:{identity}|");
    index["keys"]
        .as_array()?
        .iter()
        .filter_map(|k| k.as_str())
        .find(|k| k.starts_with(&prefix))
        .map(str::to_string)
}

fn stored(auth: &McpAuth<TestHost>, identity: &str) -> Option<TokenRecord> {
    let key = token_key_of(auth, identity)?;
    auth.host()
        .store
        .load(&key)
        .unwrap()
        .map(|t| mcp_auth_core::json::from_slice(t.as_bytes()).unwrap())
}

fn rpc(server: &TestServer, method: &str, params: serde_json::Value) -> HttpRequest {
    let params = mcp_auth_core::json::parse(&serde_json::to_vec(&params).unwrap()).unwrap();
    let body = mcp_auth_core::mcp::request::body(Some(1), method, Some(params));
    HttpRequest::post(
        server.mcp_url(),
        "application/json",
        body.to_string().into_bytes(),
    )
    .header("accept", "application/json, text/event-stream")
}

/// `initialize` through the authorized request, then the same request in its session.
async fn in_session(
    auth: &McpAuth<TestHost>,
    server: &TestServer,
    opts: &AuthOptions,
    method: &str,
    params: serde_json::Value,
) -> Result<HttpResponse, Box<Error>> {
    let init = rpc(
        server,
        "initialize",
        serde_json::json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "flow-test", "version": "0"}}),
    );
    let resp = auth
        .authorized_request(&server.mcp_url(), init, opts)
        .await?;
    assert_eq!(resp.status, 200, "initialize: {}", resp.text());
    let session = resp
        .header("mcp-session-id")
        .expect("a session id")
        .to_string();
    let req = rpc(server, method, params).header("mcp-session-id", session);
    auth.authorized_request(&server.mcp_url(), req, opts).await
}

async fn tools_list(
    auth: &McpAuth<TestHost>,
    server: &TestServer,
    opts: &AuthOptions,
) -> HttpResponse {
    in_session(auth, server, opts, "tools/list", serde_json::json!({}))
        .await
        .expect("tools/list")
}

fn assert_lists_tools(resp: &HttpResponse) {
    assert_eq!(resp.status, 200, "{}", resp.text());
    let v: serde_json::Value = serde_json::from_slice(&resp.body).expect("JSON-RPC response");
    let names: Vec<&str> = v["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"echo") && names.contains(&"write_note"),
        "{names:?}"
    );
}

// ---------------------------------------------------------------- the default flow

#[tokio::test]
async fn default_first_login_costs_five_requests_and_a_second_one_costs_one() {
    let server = TestServer::start(Scenario::Default);
    let auth = client(Browser::Approve);
    let opts = AuthOptions::default();
    let info = login(&auth, &server, &opts).await;

    assert_eq!(
        server.request_lines(),
        vec![
            "POST /mcp",
            "GET /.well-known/oauth-protected-resource/mcp",
            "GET /.well-known/oauth-authorization-server",
            "POST /register",
            "GET /authorize",
            "POST /token",
        ]
    );
    assert_eq!(client_requests(&server).len(), 5);
    assert_eq!(info.identity, server.base_url());
    assert_eq!(info.resource, server.mcp_url());
    assert!(info.has_refresh_token);

    // the authorization request carries everything the MCP spec asks for
    let url = auth.host().last_authorization_url();
    assert_eq!(query_param(&url, "response_type").as_deref(), Some("code"));
    assert_eq!(
        query_param(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(query_param(&url, "resource"), Some(server.mcp_url()));
    assert_eq!(
        query_param(&url, "redirect_uri").as_deref(),
        Some("http://localhost:3030/callback")
    );
    // the challenge's scope, plus offline_access because the server lists it
    assert_eq!(
        query_param(&url, "scope").as_deref(),
        Some("mcp:read offline_access")
    );
    assert!(query_param(&url, "state").unwrap().len() >= 22);

    // the record holds an absolute expiry
    let rec = stored(&auth, &server.base_url()).expect("stored tokens");
    let now = auth.host().now();
    assert!(
        rec.expires_at.unwrap() > now + 3000 && rec.expires_at.unwrap() <= now + 3600,
        "{:?}",
        rec.expires_at
    );
    assert!(!format!("{rec:?}").contains(rec.access_token.secret()));

    // the token works
    server.clear_log();
    assert_lists_tools(&tools_list(&auth, &server, &opts).await);
    assert_eq!(server.request_lines(), vec!["POST /mcp", "POST /mcp"]);

    // a second login reuses the cached discovery and registration
    server.clear_log();
    login(&auth, &server, &opts).await;
    assert_eq!(
        server.request_lines(),
        vec!["GET /authorize", "POST /token"]
    );
    assert_eq!(client_requests(&server).len(), 1);
}

#[tokio::test]
async fn a_token_stays_inside_its_resource_on_a_shared_origin() {
    let server = TestServer::start(Scenario::Default);
    let auth = client(Browser::Approve);
    login(&auth, &server, &AuthOptions::default()).await;
    auth.access_token(&server.mcp_url()).await.unwrap();
    let elsewhere = format!("{}/other/path", server.base_url());
    let err = auth.access_token(&elsewhere).await.unwrap_err();
    assert_eq!(err.code(), "login_required");
    // the identity still groups it: one stored record, for the server's resource
    let status = auth.status().await.unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].identity, server.base_url());
    assert_eq!(status[0].resource.as_deref(), Some(&*server.mcp_url()));
}

#[tokio::test]
async fn explicit_scope_is_never_replaced() {
    let server = TestServer::start(Scenario::Default);
    let auth = client(Browser::Approve);
    let opts = AuthOptions {
        scope: Some("mcp:write".into()),
        ..Default::default()
    };
    let info = login(&auth, &server, &opts).await;
    assert_eq!(
        query_param(&auth.host().last_authorization_url(), "scope").as_deref(),
        Some("mcp:write")
    );
    assert_eq!(info.scope.as_deref(), Some("mcp:write"));
}

// ---------------------------------------------------------------- discovery scenarios

async fn login_sequence(
    scenario: Scenario,
    opts: AuthOptions,
) -> (TestServer, McpAuth<TestHost>, Vec<String>) {
    let server = TestServer::start(scenario);
    let auth = client(Browser::Approve);
    login(&auth, &server, &opts).await;
    assert_lists_tools(&tools_list(&auth, &server, &opts).await);
    let lines = server.request_lines();
    (server, auth, lines)
}

/// Logs in on a scenario and checks the first requests the server saw.
async fn starts_with(scenario: Scenario, expected: &[&str]) {
    let (_, _, lines) = login_sequence(scenario, AuthOptions::default()).await;
    assert_eq!(&lines[..expected.len()], expected, "{scenario:?}");
}

#[tokio::test]
async fn metadata_by_path_without_header_hint() {
    starts_with(
        Scenario::PrmPath,
        &[
            "POST /mcp",
            "GET /.well-known/oauth-protected-resource/mcp",
            "GET /.well-known/oauth-authorization-server",
        ],
    )
    .await;
}

#[tokio::test]
async fn metadata_at_root_only() {
    starts_with(
        Scenario::PrmRoot,
        &[
            "POST /mcp",
            "GET /.well-known/oauth-protected-resource/mcp",
            "GET /.well-known/oauth-protected-resource",
            "GET /.well-known/oauth-authorization-server",
        ],
    )
    .await;
}

#[tokio::test]
async fn authorization_server_on_another_origin_with_a_path_issuer() {
    let (server, auth, lines) =
        login_sequence(Scenario::AsPathIssuer, AuthOptions::default()).await;
    assert_eq!(
        lines,
        vec![
            "POST /mcp",
            "GET /.well-known/oauth-protected-resource/mcp",
            "GET /.well-known/oauth-authorization-server/tenant1",
            "POST /tenant1/register",
            "GET /tenant1/authorize",
            "POST /tenant1/token",
            "POST /mcp",
            "POST /mcp",
        ]
    );
    let rec = stored(&auth, &server.base_url()).unwrap();
    assert_eq!(rec.issuer, server.issuer());
    assert!(server.issuer().ends_with("/tenant1"));
    // the registration is bound to that issuer
    assert!(auth.index().await.unwrap().keys.contains(&format!(
        "client:{}|{}",
        server.base_url(),
        server.issuer()
    )));
}

#[tokio::test]
async fn openid_configuration_only() {
    starts_with(
        Scenario::OidcOnly,
        &[
            "POST /mcp",
            "GET /.well-known/oauth-protected-resource/mcp",
            "GET /.well-known/oauth-authorization-server",
            "GET /.well-known/openid-configuration",
        ],
    )
    .await;
}

#[tokio::test]
async fn openid_configuration_appended_to_an_issuer_path() {
    starts_with(
        Scenario::OidcPath,
        &[
            "POST /mcp",
            "GET /.well-known/oauth-protected-resource/mcp",
            "GET /.well-known/oauth-authorization-server/tenant1",
            "GET /.well-known/openid-configuration/tenant1",
            "GET /tenant1/.well-known/openid-configuration",
        ],
    )
    .await;
}

#[tokio::test]
async fn legacy_server_with_metadata() {
    starts_with(
        Scenario::LegacyMetadata,
        &[
            "POST /mcp",
            "GET /.well-known/oauth-protected-resource/mcp",
            "GET /.well-known/oauth-protected-resource",
            "GET /.well-known/oauth-authorization-server",
            "POST /register",
        ],
    )
    .await;
}

#[tokio::test]
async fn legacy_server_without_metadata_uses_default_endpoints() {
    let (_, _, lines) = login_sequence(Scenario::LegacyNoMetadata, AuthOptions::default()).await;
    assert_eq!(
        &lines[..],
        [
            "POST /mcp",
            "GET /.well-known/oauth-protected-resource/mcp",
            "GET /.well-known/oauth-protected-resource",
            "GET /.well-known/oauth-authorization-server",
            "GET /.well-known/openid-configuration",
            "POST /register",
            "GET /authorize",
            "POST /token",
            "POST /mcp",
            "POST /mcp",
        ]
    );
}

// ---------------------------------------------------------------- clients

#[tokio::test]
async fn client_id_metadata_document_when_supported() {
    let url = "https://app.example.com/oauth/client.json";
    let opts = AuthOptions {
        client_metadata_url: Some(url.into()),
        ..Default::default()
    };
    let (server, auth, lines) = login_sequence(Scenario::Cimd, opts).await;
    assert!(!lines.iter().any(|l| l.contains("/register")), "{lines:?}");
    assert_eq!(
        query_param(&auth.host().last_authorization_url(), "client_id").as_deref(),
        Some(url)
    );
    assert_eq!(stored(&auth, &server.base_url()).unwrap().client_id, url);
}

#[tokio::test]
async fn client_metadata_url_falls_back_to_registration_when_unsupported() {
    let opts = AuthOptions {
        client_metadata_url: Some("https://app.example.com/oauth/client.json".into()),
        ..Default::default()
    };
    let (_, _, lines) = login_sequence(Scenario::Default, opts).await;
    assert!(lines.contains(&"POST /register".to_string()));
}

#[tokio::test]
async fn client_metadata_url_must_be_https_with_a_path() {
    let server = TestServer::start(Scenario::Cimd);
    let auth = client(Browser::Refuse);
    for bad in [
        "http://app.example.com/client.json",
        "https://app.example.com/",
        "https://app.example.com",
    ] {
        let opts = AuthOptions {
            client_metadata_url: Some(bad.into()),
            ..Default::default()
        };
        let err = auth.login(&server.mcp_url(), &opts).await.unwrap_err();
        assert_eq!(err.code(), "invalid_client_metadata_url", "{bad}: {err}");
    }
}

#[tokio::test]
async fn preregistered_public_client() {
    let opts = AuthOptions {
        client_id: Some("public-client".into()),
        ..Default::default()
    };
    let (server, auth, lines) = login_sequence(Scenario::Preregistered, opts).await;
    assert!(!lines.iter().any(|l| l.contains("/register")));
    assert_eq!(
        stored(&auth, &server.base_url()).unwrap().client_id,
        "public-client"
    );
}

#[tokio::test]
async fn without_registration_endpoint_the_error_says_how_to_configure_a_client() {
    let server = TestServer::start(Scenario::Preregistered);
    let auth = client(Browser::Refuse);
    let err = auth
        .login(&server.mcp_url(), &AuthOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "no_client_registration");
    assert!(err.to_string().contains("client_id"), "{err}");
    assert_eq!(server.count("GET", "/authorize"), 0);
}

#[tokio::test]
async fn preregistered_confidential_clients_with_basic_and_post() {
    for (id, secret, method) in [
        (
            "basic-client",
            "basic-secret",
            ClientAuthMethod::ClientSecretBasic,
        ),
        (
            "post-client",
            "post-secret",
            ClientAuthMethod::ClientSecretPost,
        ),
    ] {
        let opts = AuthOptions {
            client_id: Some(id.into()),
            client_secret: Some(ClientSecret::new(secret)),
            client_auth_method: Some(method),
            ..Default::default()
        };
        let (server, auth, _) = login_sequence(Scenario::Preregistered, opts.clone()).await;
        // refresh authenticates the same way
        server.expire_access_tokens();
        assert_lists_tools(&tools_list(&auth, &server, &opts).await);
        assert_eq!(server.count("POST", "/token"), 2, "{id}");
    }
    // a wrong secret is refused by the token endpoint
    let server = TestServer::start(Scenario::Preregistered);
    let auth = client(Browser::Approve);
    let opts = AuthOptions {
        client_id: Some("basic-client".into()),
        client_secret: Some(ClientSecret::new("xyzzy-not-the-secret")),
        ..Default::default()
    };
    let err = auth.login(&server.mcp_url(), &opts).await.unwrap_err();
    assert!(
        matches!(&*err, Error::TokenEndpoint { error, .. } if error == "invalid_client"),
        "{err}"
    );
    assert!(!err.to_string().contains("xyzzy"), "{err}");
}

#[tokio::test]
async fn registered_clients_with_secret_basic_and_secret_post() {
    for scenario in [Scenario::ClientSecretBasic, Scenario::ClientSecretPost] {
        let (server, auth, _) = login_sequence(scenario, AuthOptions::default()).await;
        server.expire_access_tokens();
        assert_lists_tools(&tools_list(&auth, &server, &AuthOptions::default()).await);
        let idx = auth.index().await.unwrap();
        let key = idx
            .keys
            .iter()
            .find(|k| k.starts_with("client:"))
            .unwrap()
            .clone();
        let rec: mcp_auth_core::ClientRecord = mcp_auth_core::json::from_slice(
            auth.host().store.load(&key).unwrap().unwrap().as_bytes(),
        )
        .unwrap();
        let want = if scenario == Scenario::ClientSecretBasic {
            ClientAuthMethod::ClientSecretBasic
        } else {
            ClientAuthMethod::ClientSecretPost
        };
        assert_eq!(rec.auth_method, want);
        assert!(rec.client_secret.is_some());
    }
}

// ---------------------------------------------------------------- refusals

async fn refused(scenario: Scenario, code: &str) {
    let server = TestServer::start(scenario);
    let auth = client(Browser::Refuse);
    let err = auth
        .login(&server.mcp_url(), &AuthOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), code, "{scenario:?}: {err}");
    assert_eq!(server.count("GET", "/authorize"), 0, "{scenario:?}");
    assert_eq!(server.count("POST", "/register"), 0, "{scenario:?}");
    assert!(auth.status().await.unwrap().is_empty());
}

#[tokio::test]
async fn refuses_a_resource_that_does_not_match() {
    refused(Scenario::MaliciousResource, "resource_mismatch").await;
}

#[tokio::test]
async fn refuses_servers_without_s256() {
    refused(Scenario::NoS256, "pkce_unsupported").await;
    refused(Scenario::NoPkceMetadata, "pkce_unsupported").await;
}

#[tokio::test]
async fn refuses_an_issuer_mismatch() {
    refused(Scenario::IssuerMismatch, "issuer_mismatch").await;
}

#[tokio::test]
async fn refuses_plain_http_off_loopback() {
    let auth = client(Browser::Refuse);
    let err = auth
        .login("http://mcp.example.com/mcp", &AuthOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "insecure_url");
    let opts = AuthOptions {
        redirect_uri: "http://example.com/callback".into(),
        ..Default::default()
    };
    let err = auth
        .login("https://mcp.example.com/mcp", &opts)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "insecure_url");
}

#[tokio::test]
async fn iss_in_the_callback_is_checked() {
    let (_, _, lines) = login_sequence(Scenario::Iss, AuthOptions::default()).await;
    assert!(lines.contains(&"POST /token".to_string()));

    let server = TestServer::start(Scenario::IssMismatch);
    let auth = client(Browser::Approve);
    let err = auth
        .login(&server.mcp_url(), &AuthOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "iss_mismatch");
    assert_eq!(
        server.count("POST", "/token"),
        0,
        "the code must not be redeemed"
    );
}

#[tokio::test]
async fn consent_page_approval() {
    let (_, _, lines) = login_sequence(Scenario::Consent, AuthOptions::default()).await;
    assert!(lines.contains(&"POST /token".to_string()), "{lines:?}");
}

// ---------------------------------------------------------------- refresh

#[tokio::test]
async fn a_401_refreshes_once_with_rotation() {
    let server = TestServer::start(Scenario::Default);
    let auth = client(Browser::Approve);
    let opts = AuthOptions::default();
    login(&auth, &server, &opts).await;
    let before = stored(&auth, &server.base_url()).unwrap();
    server.expire_access_tokens();
    server.clear_log();
    assert_lists_tools(&tools_list(&auth, &server, &opts).await);
    assert_eq!(
        server.request_lines(),
        vec!["POST /mcp", "POST /token", "POST /mcp", "POST /mcp"]
    );
    let after = stored(&auth, &server.base_url()).unwrap();
    assert_ne!(before.access_token, after.access_token);
    assert_ne!(
        before.refresh_token, after.refresh_token,
        "the rotated refresh token is stored"
    );
    assert!(after.refresh_token.is_some());
}

#[tokio::test]
async fn tokens_are_refreshed_ahead_of_expiry() {
    let server = TestServer::start(Scenario::Default);
    let auth = client(Browser::Approve);
    login(&auth, &server, &AuthOptions::default()).await;
    let first = auth.access_token(&server.mcp_url()).await.unwrap();
    assert_eq!(server.count("POST", "/token"), 1);
    auth.host().advance(3600 - 30); // inside the 60 s skew
    let second = auth.access_token(&server.mcp_url()).await.unwrap();
    assert_ne!(first, second);
    assert_eq!(server.count("POST", "/token"), 2);
}

#[tokio::test]
async fn short_lived_tokens_keep_working() {
    let server = TestServer::start(Scenario::ShortLived);
    let auth = client(Browser::Approve);
    let opts = AuthOptions::default();
    login(&auth, &server, &opts).await;
    // every token expires within the skew, so each call refreshes first
    assert_lists_tools(&tools_list(&auth, &server, &opts).await);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_lists_tools(&tools_list(&auth, &server, &opts).await);
    assert!(server.count("POST", "/token") >= 2);
}

#[tokio::test]
async fn concurrent_callers_share_one_refresh() {
    let server = TestServer::start(Scenario::Default);
    let auth = client(Browser::Approve);
    login(&auth, &server, &AuthOptions::default()).await;
    auth.host().advance(7200);
    server.clear_log();
    let url = server.mcp_url();
    let calls: Vec<_> = (0..8).map(|_| auth.access_token(&url)).collect();
    let tokens = futures_util::future::join_all(calls).await;
    let tokens: Vec<_> = tokens.into_iter().map(|t| t.expect("a token")).collect();
    assert!(tokens.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(
        server.count("POST", "/token"),
        1,
        "{:?}",
        server.request_lines()
    );
}

#[tokio::test]
async fn a_replayed_refresh_token_drops_the_grant_and_asks_for_login() {
    let server = TestServer::start(Scenario::Default);
    let auth = client(Browser::Approve);
    login(&auth, &server, &AuthOptions::default()).await;
    let key = token_key_of(&auth, &server.base_url()).expect("a token record");
    let old = auth.host().store.load(&key).unwrap().unwrap();
    auth.host().advance(7200);
    auth.access_token(&server.mcp_url()).await.unwrap(); // rotates
    auth.host().store.save(&key, &old).unwrap(); // a stale copy comes back
    let err = auth.access_token(&server.mcp_url()).await.unwrap_err();
    assert_eq!(err.code(), "reauthentication_required");
    assert!(err.to_string().contains("mcp-auth login"));
    assert!(
        stored(&auth, &server.base_url())
            .unwrap()
            .refresh_token
            .is_none(),
        "the dead refresh token is dropped"
    );
}

#[tokio::test]
async fn network_errors_keep_the_stored_tokens() {
    let server = TestServer::start(Scenario::Default);
    let auth = client(Browser::Approve);
    login(&auth, &server, &AuthOptions::default()).await;
    let url = server.mcp_url();
    let base = server.base_url();
    drop(server);
    auth.host().advance(7200);
    let err = auth.access_token(&url).await.unwrap_err();
    assert_eq!(err.code(), "network", "{err}");
    assert!(stored(&auth, &base).unwrap().refresh_token.is_some());
}

#[tokio::test]
async fn a_second_process_sees_the_rotated_token() {
    // two clients over one store, as two processes over one file
    let server = TestServer::start(Scenario::Default);
    let store = Arc::new(MemoryStore::default());
    let a = McpAuth::new(TestHost::sharing(store.clone(), Browser::Approve));
    let b = McpAuth::new(TestHost::sharing(store, Browser::Refuse));
    login(&a, &server, &AuthOptions::default()).await;
    a.host().advance(7200);
    b.host().advance(7200);
    let ta = a.access_token(&server.mcp_url()).await.unwrap();
    let tb = b.access_token(&server.mcp_url()).await.unwrap();
    assert_eq!(
        ta, tb,
        "b re-read the store instead of spending the rotated refresh token"
    );
    assert_eq!(server.count("POST", "/token"), 2);
}

// ---------------------------------------------------------------- step-up, 401 and revocation

#[tokio::test]
async fn insufficient_scope_steps_up_with_the_union_of_scopes() {
    let server = TestServer::start(Scenario::Default);
    let auth = client(Browser::Approve);
    let opts = AuthOptions::default();
    login(&auth, &server, &opts).await;
    let resp = in_session(
        &auth,
        &server,
        &opts,
        "tools/call",
        serde_json::json!({"name": "write_note", "arguments": {"text": "hi"}}),
    )
    .await
    .unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
    let scope = query_param(&auth.host().last_authorization_url(), "scope").unwrap();
    let scopes: Vec<&str> = scope.split(' ').collect();
    assert!(
        scopes.contains(&"mcp:read")
            && scopes.contains(&"mcp:write")
            && scopes.contains(&"offline_access"),
        "{scope}"
    );
    assert_eq!(server.count("GET", "/authorize"), 2);
    assert!(stored(&auth, &server.base_url())
        .unwrap()
        .scopes()
        .contains(&"mcp:write".to_string()));
}

#[tokio::test]
async fn step_up_is_not_attempted_without_interaction() {
    let server = TestServer::start(Scenario::Default);
    let auth = client(Browser::Approve);
    login(&auth, &server, &AuthOptions::default()).await;
    let opts = AuthOptions {
        interactive: false,
        ..Default::default()
    };
    let err = in_session(
        &auth,
        &server,
        &opts,
        "tools/call",
        serde_json::json!({"name": "write_note", "arguments": {"text": "hi"}}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "step_up_exhausted");
    assert_eq!(server.count("GET", "/authorize"), 1);
}

#[tokio::test]
async fn a_revoked_grant_logs_in_again_on_401() {
    let server = TestServer::start(Scenario::Default);
    let auth = client(Browser::Approve);
    let opts = AuthOptions::default();
    login(&auth, &server, &opts).await;
    // revoke behind the client's back, via a second client over a copy of the store
    let rec = stored(&auth, &server.base_url()).unwrap();
    let other = client(Browser::Refuse);
    for key in auth.index().await.unwrap().keys {
        if let Some(v) = auth.host().store.load(&key).unwrap() {
            other.host().store.save(&key, &v).unwrap();
        }
    }
    other
        .host()
        .store
        .save("index", &auth.host().store.load("index").unwrap().unwrap())
        .unwrap();
    other.logout(&server.mcp_url(), false).await.unwrap();
    assert!(server.revoked_count() >= 1);
    server.clear_log();
    assert_lists_tools(&tools_list(&auth, &server, &opts).await);
    // 401, refresh refused (grant revoked), fresh discovery and login, then success
    let lines = server.request_lines();
    assert_eq!(lines[..2], ["POST /mcp", "POST /token"]);
    assert!(lines.contains(&"GET /authorize".to_string()));
    assert_eq!(lines.last().unwrap(), "POST /mcp");
    assert_ne!(
        stored(&auth, &server.base_url()).unwrap().access_token,
        rec.access_token
    );
}

#[tokio::test]
async fn logout_revokes_then_deletes() {
    let server = TestServer::start(Scenario::Default);
    let auth = client(Browser::Approve);
    login(&auth, &server, &AuthOptions::default()).await;
    let token = auth.access_token(&server.mcp_url()).await.unwrap();
    server.clear_log();
    let report = auth.logout(&server.mcp_url(), true).await.unwrap();
    assert_eq!(report.revoked, vec!["refresh_token", "access_token"]);
    assert_eq!(server.request_lines(), vec!["POST /revoke", "POST /revoke"]);
    assert!(report.deleted_keys.iter().any(|k| k.starts_with("tokens:")));
    assert!(report.deleted_keys.iter().any(|k| k.starts_with("client:")));
    assert!(stored(&auth, &server.base_url()).is_none());
    assert!(auth.status().await.unwrap().is_empty());
    // the old token no longer works at the resource server
    let mut req = rpc(&server, "tools/list", serde_json::json!({}));
    req.set_header("authorization", format!("Bearer {}", token.secret()));
    assert_eq!(auth.host().send(req).await.unwrap().status, 401);
    let err = auth.access_token(&server.mcp_url()).await.unwrap_err();
    assert_eq!(err.code(), "login_required");
}

#[tokio::test]
async fn secrets_stay_out_of_errors_and_debug() {
    let server = TestServer::start(Scenario::Default);
    let auth = client(Browser::Approve);
    login(&auth, &server, &AuthOptions::default()).await;
    let rec = stored(&auth, &server.base_url()).unwrap();
    let shown = format!("{rec:?}");
    assert!(!shown.contains(rec.access_token.secret()));
    assert!(!shown.contains(rec.refresh_token.as_ref().unwrap().secret()));
    let mut req = rpc(&server, "tools/list", serde_json::json!({}));
    req.set_header(
        "authorization",
        format!("Bearer {}", rec.access_token.secret()),
    );
    assert!(!format!("{req:?}").contains(rec.access_token.secret()));
}

#[tokio::test]
async fn a_stale_registration_is_dropped_and_registration_retried_once() {
    let server = TestServer::start(Scenario::Default);
    let auth = client(Browser::Approve);
    login(&auth, &server, &AuthOptions::default()).await;
    // the server no longer accepts the stored client as it is (say, its secret was rotated)
    let key = format!("client:{}|{}", server.base_url(), server.issuer());
    let mut rec: mcp_auth_core::ClientRecord =
        mcp_auth_core::json::from_slice(auth.host().store.load(&key).unwrap().unwrap().as_bytes())
            .unwrap();
    rec.auth_method = ClientAuthMethod::ClientSecretPost;
    rec.client_secret = Some(ClientSecret::new("stale"));
    auth.host()
        .store
        .save(&key, &mcp_auth_core::json::to_string(&rec))
        .unwrap();
    server.clear_log();
    login(&auth, &server, &AuthOptions::default()).await;
    let lines = server.request_lines();
    assert_eq!(
        lines.iter().filter(|l| *l == "POST /register").count(),
        1,
        "{lines:?}"
    );
    assert_eq!(
        lines.iter().filter(|l| *l == "POST /token").count(),
        2,
        "{lines:?}"
    );
    let now: mcp_auth_core::ClientRecord =
        mcp_auth_core::json::from_slice(auth.host().store.load(&key).unwrap().unwrap().as_bytes())
            .unwrap();
    assert_ne!(now.client_id, rec.client_id);
}

#[tokio::test]
async fn a_denied_or_mismatched_callback_ends_the_pending_login() {
    let server = TestServer::start(Scenario::Default);
    let auth = client(Browser::Refuse);
    let opts = AuthOptions::default();
    let pending = |auth: &McpAuth<TestHost>| {
        auth.host()
            .store
            .keys()
            .into_iter()
            .filter(|k| k.starts_with("pending:"))
            .count()
    };
    let req = auth.begin_login(&server.mcp_url(), &opts).await.unwrap();
    assert_eq!(pending(&auth), 1);
    // a callback with another state is ignored and leaves the pending login alone
    let err = auth
        .complete_login(&format!("{}?code=x&state=forged", req.redirect_uri))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "state_mismatch");
    assert_eq!(pending(&auth), 1);
    // the user said no
    let denied = format!(
        "{}?error=access_denied&error_description=No+thanks&state={}",
        req.redirect_uri, req.state
    );
    let err = auth.complete_login(&denied).await.unwrap_err();
    assert_eq!(err.code(), "authorization_denied");
    assert!(err.to_string().contains("No thanks"), "{err}");
    assert_eq!(pending(&auth), 0);
    assert!(!auth
        .index()
        .await
        .unwrap()
        .keys
        .iter()
        .any(|k| k.starts_with("pending:")));
    // the same callback again finds nothing to complete
    assert_eq!(
        auth.complete_login(&denied).await.unwrap_err().code(),
        "state_mismatch"
    );
}
