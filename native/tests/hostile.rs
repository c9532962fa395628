//! Hostile servers against core's flow over real HTTP (the testkit on 127.0.0.1): every
//! credential goes only to the party it belongs to (issue 8 / MCP SEP-2352, SEP-2468).
//! Each test asserts on what the *other* party's request log saw.

#[path = "common/core_host.rs"]
mod core_host;

use core_host::{client, Browser, TestHost};
use mcp_auth_core::mcp::{McpClient, Protocol};
use mcp_auth_core::oauth::query_param;
use mcp_auth_core::{AuthOptions, ClientAuthMethod, ClientSecret, LoginOutcome, McpAuth};
use mcp_auth_testkit::{Options, Scenario, TestServer};

async fn login_to(auth: &McpAuth<TestHost>, url: &str, opts: &AuthOptions) {
    match auth.login(url, opts).await {
        Ok(LoginOutcome::Completed(_)) => {}
        other => panic!("login to {url} failed: {other:?}"),
    }
}

/// Lists tools through core's MCP session (the way the CLI and the wasm build do).
async fn list_tools(
    auth: &McpAuth<TestHost>,
    url: &str,
    opts: &AuthOptions,
) -> mcp_auth_core::Result<usize> {
    let mut c = McpClient::connect(auth, url, Protocol::Auto, opts).await?;
    Ok(c.list_tools().await?.len())
}

fn non_interactive() -> AuthOptions {
    AuthOptions {
        interactive: false,
        ..AuthOptions::default()
    }
}

/// (1) A server that switches to a hostile authorization server and forces a fresh login
/// (401 to everything; the hostile AS bounces the browser back with `access_denied`) never
/// gets the grant: the refresh token keeps going to the issuer that issued it.
#[tokio::test]
async fn a_switched_authorization_server_never_sees_the_refresh_token() {
    let server = TestServer::start(Scenario::AsSwitch);
    let evil = server.second_origin().expect("second origin");
    let auth = client(Browser::Approve);
    let opts = AuthOptions::default();
    login_to(&auth, &server.mcp_url(), &opts).await;

    server.switch_authorization_server(true);
    server.set_deny_all(true);
    let err = list_tools(&auth, &server.mcp_url(), &opts)
        .await
        .expect_err("the hostile server denies the login");
    assert_eq!(err.code(), "authorization_denied", "{err}");
    // the user's browser did go to the hostile AS, but nothing of the grant did
    assert!(auth
        .host()
        .last_authorization_url()
        .starts_with(&format!("{evil}/")));

    // back to normal: the next refresh goes to the legitimate issuer
    server.set_deny_all(false);
    let refreshes_before = server.grant_count("refresh_token");
    auth.host().advance(7200);
    auth.access_token(&server.mcp_url())
        .await
        .expect("refreshed at the legitimate AS");
    assert_eq!(server.grant_count("refresh_token"), refreshes_before + 1);
    let at_evil = server.requests_at(&evil);
    assert!(!at_evil.is_empty(), "the hostile AS was asked for metadata");
    for r in &at_evil {
        assert!(
            r.grant_type.is_none()
                && !r.form_fields.iter().any(|f| f == "refresh_token")
                && !r.carries_client_secret()
                && !r.has_bearer(),
            "the hostile AS got {r:?}"
        );
    }
}

/// (2) Two resources on one origin: each gets its own login and token, and neither token is
/// ever sent to the other resource.
#[tokio::test]
async fn two_resources_on_one_origin_each_get_their_own_token() {
    let server = TestServer::start(Scenario::TwoResources);
    let (a, b) = (server.url("/a/mcp"), server.url("/b/mcp"));
    let auth = client(Browser::Approve);
    let opts = AuthOptions::default();
    login_to(&auth, &a, &opts).await;
    assert_eq!(
        auth.access_token(&b)
            .await
            .expect_err("no token for b")
            .code(),
        "login_required"
    );
    server.clear_log();
    assert!(list_tools(&auth, &b, &opts).await.expect("b lists") > 0);
    let token_a = auth.access_token(&a).await.expect("a");
    let token_b = auth.access_token(&b).await.expect("b");
    assert_ne!(token_a, token_b);
    // the first request to b carried no token (a's is not b's), then b's own login followed
    let to_b: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/b/mcp")
        .collect();
    assert!(!to_b[0].has_bearer(), "{to_b:?}");
    assert_eq!(auth.host().authorization_urls().len(), 2);
    let resource = query_param(&auth.host().last_authorization_url(), "resource");
    assert_eq!(resource.as_deref(), Some(&*b));
    assert!(
        list_tools(&auth, &a, &non_interactive())
            .await
            .expect("a lists")
            > 0
    );
    let status = auth.status().await.expect("status");
    assert_eq!(status.len(), 2);
    assert!(status.iter().all(|s| s.identity == server.base_url()));
}

/// (3) An HTTP+SSE server whose `endpoint` event names another origin (or plain http off
/// loopback) gets refused before any POST carries the token.
#[tokio::test]
async fn an_sse_endpoint_elsewhere_never_receives_the_token() {
    for scenario in [Scenario::SseCrossOrigin, Scenario::SsePlainHttp] {
        let server = TestServer::start(scenario);
        let auth = client(Browser::Approve);
        let opts = AuthOptions::default();
        login_to(&auth, &server.sse_url(), &opts).await;
        let err = list_tools(&auth, &server.sse_url(), &opts)
            .await
            .expect_err("the endpoint is refused");
        let text = err.to_string();
        assert!(
            text.contains("endpoint") || err.code() == "token_destination",
            "{scenario:?}: {err}"
        );
        if let Some(other) = server.second_origin() {
            assert!(
                server.requests_at(&other).iter().all(|r| !r.has_bearer()),
                "{scenario:?}: the other origin got a bearer token"
            );
        }
    }
}

/// (4) A pre-registered client meeting an unexpected issuer is refused before any request
/// carries its secret; naming the new issuer in the configuration lets the user move on.
#[tokio::test]
async fn a_configured_client_secret_never_goes_to_another_issuer() {
    let server = TestServer::start(Scenario::PreregisteredIssuerSwitch);
    let evil = server.second_origin().expect("second origin");
    let auth = client(Browser::Approve);
    let opts = AuthOptions {
        client_id: Some("post-client".into()),
        client_secret: Some(ClientSecret::new("post-secret")),
        client_auth_method: Some(ClientAuthMethod::ClientSecretPost),
        ..AuthOptions::default()
    };
    login_to(&auth, &server.mcp_url(), &opts).await;
    server.switch_authorization_server(true);
    server.set_deny_all(true);
    let err = list_tools(&auth, &server.mcp_url(), &opts)
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "configured_client_issuer", "{err}");
    assert!(err.to_string().contains("issuer"), "{err}");
    let at_evil = server.requests_at(&evil);
    assert!(
        at_evil
            .iter()
            .all(|r| !r.carries_client_secret() && r.path != "/authorize"),
        "{at_evil:?}"
    );
    assert_eq!(auth.host().authorization_urls().len(), 1, "no second login");

    // the user says the new issuer is right: the login goes ahead there
    let moved = AuthOptions {
        issuer: Some(evil.clone()),
        ..opts.clone()
    };
    let begun = auth
        .begin_login(&server.mcp_url(), &moved)
        .await
        .expect("allowed with auth.issuer");
    assert!(begun.authorization_url.starts_with(&format!("{evil}/")));
}

/// (4b) Authorization server migration: a dynamic client re-registers at the new server,
/// and the old server's refresh token never goes there.
#[tokio::test]
async fn authorization_server_migration_re_registers() {
    let server = TestServer::start(Scenario::AsMigration);
    let as2 = server.second_origin().expect("second origin");
    let auth = client(Browser::Approve);
    let opts = AuthOptions::default();
    login_to(&auth, &server.mcp_url(), &opts).await;
    server.switch_authorization_server(true);
    assert!(
        list_tools(&auth, &server.mcp_url(), &opts)
            .await
            .expect("lists")
            > 0
    );
    let at_as2 = server.requests_at(&as2);
    assert!(
        at_as2
            .iter()
            .any(|r| r.method == "POST" && r.path.ends_with("/register")),
        "{at_as2:?}"
    );
    assert!(
        at_as2
            .iter()
            .all(|r| r.grant_type.as_deref() != Some("refresh_token")),
        "{at_as2:?}"
    );
    let rec = auth
        .token_record(&server.mcp_url())
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(rec.issuer, as2);
}

/// (5) `iss` is compared as an exact string: a trailing slash is a different issuer.
#[tokio::test]
async fn an_iss_with_a_trailing_slash_is_refused() {
    let server = TestServer::start(Scenario::IssTrailingSlash);
    let auth = client(Browser::Approve);
    let err = auth
        .login(&server.mcp_url(), &AuthOptions::default())
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "iss_mismatch", "{err}");
    assert_eq!(
        server.count("POST", "/token"),
        0,
        "the code was never redeemed"
    );
}

/// (6) Step-up asks for the union of the scopes requested before and the challenged ones,
/// and one operation makes at most 3 authorization requests, the first login included.
#[tokio::test]
async fn step_up_uses_the_union_and_stops_at_three_authorizations() {
    let server = TestServer::start(Scenario::ScopeRetryLimit);
    let auth = client(Browser::Approve);
    let opts = AuthOptions::default();
    let mut c = McpClient::connect(&auth, &server.mcp_url(), Protocol::Auto, &opts)
        .await
        .expect("connect");
    let err = c
        .call_tool(
            "echo",
            mcp_auth_core::json::Object::new().with("text", "x").into(),
        )
        .await
        .expect_err("never enough scope");
    assert_eq!(err.code(), "step_up_exhausted", "{err}");
    let urls = auth.host().authorization_urls();
    assert!(urls.len() <= 3, "{} authorization requests", urls.len());
    let scopes: Vec<Vec<String>> = urls
        .iter()
        .map(|u| {
            query_param(u, "scope")
                .unwrap_or_default()
                .split(' ')
                .map(str::to_string)
                .collect()
        })
        .collect();
    for pair in scopes.windows(2) {
        assert!(
            pair[0].iter().all(|s| pair[1].contains(s)),
            "a step-up dropped a scope requested before: {scopes:?}"
        );
        assert!(pair[1].len() > pair[0].len(), "{scopes:?}");
    }
}

/// (8) A 5 s token is refreshed once per lifetime, not before every request.
#[tokio::test]
async fn five_second_tokens_cost_one_refresh_per_expiry() {
    let server = TestServer::start_with(Options {
        scenario: Scenario::Default,
        token_lifetime_secs: Some(5),
        ..Options::default()
    })
    .expect("server");
    let auth = client(Browser::Approve);
    login_to(&auth, &server.mcp_url(), &AuthOptions::default()).await;
    let before = server.grant_count("refresh_token");
    // one request per (client-side) second over 10 s: two expiries
    for _ in 0..10 {
        auth.host().advance(1);
        auth.access_token(&server.mcp_url()).await.expect("token");
    }
    assert_eq!(server.grant_count("refresh_token") - before, 2);
}
