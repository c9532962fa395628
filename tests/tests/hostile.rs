//! The hostile-server scenarios of issue 8, driven with raw HTTP: each switch and log a
//! client test relies on does what tests/README.md says.

mod common;

use std::time::Duration;

use common::*;
use mcp_auth_testkit::{pkce_s256, Options, Scenario, TestServer, PLAIN_HTTP_HOST};
use serde_json::{json, Value};

/// DCR at `issuer`; the client id.
async fn register_at(issuer: &str) -> String {
    let resp = http()
        .post(format!("{issuer}/register"))
        .json(
            &json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
                      "grant_types": ["authorization_code", "refresh_token"]}),
        )
        .send()
        .await
        .expect("register");
    assert_eq!(resp.status().as_u16(), 201);
    let v: Value = resp.json().await.expect("json");
    v["client_id"].as_str().expect("client_id").to_string()
}

fn authorize_url(
    issuer: &str,
    client_id: &str,
    resource: &str,
    scope: &str,
    verifier: &str,
) -> String {
    let mut u = url::Url::parse(&format!("{issuer}/authorize")).expect("url");
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("state", "st-9")
        .append_pair("code_challenge", &pkce_s256(verifier))
        .append_pair("code_challenge_method", "S256")
        .append_pair("scope", scope)
        .append_pair("resource", resource);
    u.to_string()
}

/// GET an authorization URL without following the redirect; the Location header.
async fn authorize_redirect(url: &str) -> (u16, String) {
    let resp = http().get(url).send().await.expect("authorize");
    let st = resp.status().as_u16();
    let loc = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (st, loc)
}

/// A full public-client login at `issuer` for `resource`; the token response.
async fn login_at(issuer: &str, client_id: &str, resource: &str, scope: &str) -> Value {
    let verifier = verifier();
    let (st, loc) = authorize_redirect(&authorize_url(
        issuer, client_id, resource, scope, &verifier,
    ))
    .await;
    assert_eq!(st, 302, "{loc}");
    let q = query(&loc);
    let code = q.get("code").unwrap_or_else(|| panic!("no code: {loc}"));
    let resp = http()
        .post(format!("{issuer}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", client_id),
            ("code_verifier", &verifier),
            ("resource", resource),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status().as_u16(), 200);
    resp.json().await.expect("json")
}

async fn prm_issuers(s: &TestServer, path: &str) -> Value {
    let (st, v) = get_json(&format!(
        "{}/.well-known/oauth-protected-resource{path}",
        s.base_url()
    ))
    .await;
    assert_eq!(st, 200);
    v["authorization_servers"].clone()
}

/// POST `initialize` to an MCP URL with a token; the status and WWW-Authenticate.
async fn init_at(url: &str, token: &str) -> (u16, String) {
    let resp = http()
        .post(url)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .json(&initialize())
        .send()
        .await
        .expect("mcp");
    (resp.status().as_u16(), www_authenticate(&resp))
}

#[tokio::test]
async fn as_switch_hostile_as_and_deny_all() {
    let s = TestServer::start(Scenario::AsSwitch);
    let evil = s.second_origin().expect("second origin");
    assert_ne!(evil, s.base_url());
    assert_eq!(prm_issuers(&s, "/mcp").await, json!([s.issuer()]));
    let (client_id, tok) = login(&s, Some("mcp:read offline_access")).await;
    let token = access(&tok);
    assert_eq!(init_at(&s.mcp_url(), &token).await.0, 200);

    // Over HTTP, as a Node test would: switch the PRM and refuse everything.
    let st = http()
        .post(format!("{}/_testkit/switch-as?to=second", s.base_url()))
        .send()
        .await
        .expect("switch")
        .status();
    assert_eq!(st.as_u16(), 200);
    let st = http()
        .post(format!("{}/_testkit/deny-all?on=true", s.base_url()))
        .send()
        .await
        .expect("deny")
        .status();
    assert_eq!(st.as_u16(), 200);
    assert_eq!(prm_issuers(&s, "/mcp").await, json!([evil]));
    let (st, wa) = init_at(&s.mcp_url(), &token).await;
    assert_eq!(st, 401);
    assert!(wa.contains("invalid_token"), "{wa}");

    // The hostile AS: metadata, DCR, and an /authorize that bounces back with access_denied.
    let (st, md) = get_json(&format!("{evil}/.well-known/oauth-authorization-server")).await;
    assert_eq!(st, 200);
    assert_eq!(md["issuer"], json!(evil));
    assert_eq!(md["token_endpoint"], json!(format!("{evil}/token")));
    let evil_client = register_at(&evil).await;
    let (st, loc) = authorize_redirect(&authorize_url(
        &evil,
        &evil_client,
        &s.mcp_url(),
        "mcp:read",
        &verifier(),
    ))
    .await;
    assert_eq!(st, 302);
    assert!(loc.starts_with(REDIRECT), "{loc}");
    let q = query(&loc);
    assert_eq!(q.get("error").map(String::as_str), Some("access_denied"));
    assert_eq!(q.get("state").map(String::as_str), Some("st-9"));
    assert!(!q.contains_key("code"));

    // What a careless client would send there is logged (names only) and refused.
    assert!(s
        .requests_at(&evil)
        .iter()
        .all(|r| !r.carries_refresh_token() && !r.carries_client_secret()));
    let resp = http()
        .post(format!("{evil}/token"))
        .basic_auth("someone", Some("secret"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "rt")])
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status().as_u16(), 400);
    let at_evil = s.requests_at(&evil);
    let last = at_evil.last().expect("logged");
    assert_eq!(last.path, "/token");
    assert!(last.carries_refresh_token() && last.carries_client_secret());
    assert_eq!(last.grant_type.as_deref(), Some("refresh_token"));
    assert_eq!(last.form_fields, ["grant_type", "refresh_token"]);
    assert!(at_evil.iter().all(|r| r.server == "second"));
    let (_, logged) = get_json(&format!("{}/_testkit/requests?origin={evil}", s.base_url())).await;
    let logged = logged["requests"].as_array().expect("requests").clone();
    assert_eq!(logged.len(), at_evil.len());
    assert_eq!(
        logged.last().map(|r| r["client_secret"].clone()),
        Some(json!(true))
    );

    // Back: the old token works again, and a refresh at AS1 is logged at the RS origin.
    s.set_deny_all(false);
    s.switch_authorization_server(false);
    assert_eq!(prm_issuers(&s, "/mcp").await, json!([s.issuer()]));
    assert_eq!(init_at(&s.mcp_url(), &token).await.0, 200);
    let (st, _) = refresh(&s, &client_id, &refresh_token(&tok)).await;
    assert_eq!(st, 200);
    let at_rs = s.requests_at(&s.base_url());
    assert!(at_rs
        .iter()
        .any(|r| r.path == "/token" && r.carries_refresh_token()));
    assert_eq!(
        s.grant_count("refresh_token"),
        2,
        "one at AS1, one at the hostile AS"
    );
}

#[tokio::test]
async fn two_resources_each_accept_only_their_own_tokens() {
    let s = TestServer::start(Scenario::TwoResources);
    let (a, b) = (s.url("/a/mcp"), s.url("/b/mcp"));
    for (path, url) in [("/a/mcp", &a), ("/b/mcp", &b)] {
        let (st, v) = get_json(&format!(
            "{}/.well-known/oauth-protected-resource{path}",
            s.base_url()
        ))
        .await;
        assert_eq!(st, 200);
        assert_eq!(v["resource"], json!(url));
        let resp = http().post(url).send().await.expect("post");
        assert_eq!(resp.status().as_u16(), 401);
        let wa = www_authenticate(&resp);
        assert!(
            wa.contains(&format!("/.well-known/oauth-protected-resource{path}")),
            "{wa}"
        );
    }
    let client = register_public(&s).await;
    let tok_a = access(&login_at(&s.issuer(), &client, &a, "mcp:read").await);
    let tok_b = access(&login_at(&s.issuer(), &client, &b, "mcp:read").await);
    assert_eq!(init_at(&a, &tok_a).await.0, 200);
    assert_eq!(init_at(&b, &tok_b).await.0, 200);
    let (st, wa) = init_at(&b, &tok_a).await;
    assert_eq!(st, 401);
    assert!(
        wa.contains("invalid_token") && wa.contains("another resource"),
        "{wa}"
    );
    assert_eq!(init_at(&a, &tok_b).await.0, 401);
}

/// Open `GET /sse` with a token and return the `endpoint` event's data.
async fn endpoint_event(s: &TestServer, token: &str) -> (reqwest::Response, String) {
    let mut resp = http()
        .get(s.sse_url())
        .bearer_auth(token)
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("sse");
    assert_eq!(resp.status().as_u16(), 200);
    let mut buf = String::new();
    while !buf.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
            .await
            .expect("event in time")
            .expect("chunk")
            .expect("stream open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(buf.starts_with("event: endpoint\n"), "{buf:?}");
    let data = buf
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .expect("data")
        .to_string();
    (resp, data)
}

#[tokio::test]
async fn sse_endpoint_on_another_origin_logs_bearer_tokens() {
    let s = TestServer::start(Scenario::SseCrossOrigin);
    let other = s.second_origin().expect("second origin");
    let (_, tok) = login(&s, None).await;
    let token = access(&tok);
    let (_stream, endpoint) = endpoint_event(&s, &token).await;
    assert!(
        endpoint.starts_with(&format!("{other}/messages?sessionId=")),
        "{endpoint}"
    );
    assert!(s.requests_at(&other).is_empty());
    let resp = http()
        .post(&endpoint)
        .bearer_auth(&token)
        .json(&initialize())
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 202);
    let resp = http()
        .post(&endpoint)
        .json(&initialize())
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 202);
    let got = s.requests_at(&other);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].path, "/messages");
    assert!(got[0].has_bearer());
    assert!(!got[1].has_bearer());
}

#[tokio::test]
async fn sse_endpoint_over_plain_http_to_a_non_loopback_host() {
    let s = TestServer::start(Scenario::SsePlainHttp);
    let (_, tok) = login(&s, None).await;
    let (_stream, endpoint) = endpoint_event(&s, &access(&tok)).await;
    let u = url::Url::parse(&endpoint).expect("absolute URL");
    assert_eq!(u.scheme(), "http");
    assert_eq!(u.host_str(), Some(PLAIN_HTTP_HOST));
    let second = url::Url::parse(&s.second_origin().expect("second origin")).expect("url");
    assert_eq!(u.port(), second.port());
    assert_eq!(u.path(), "/messages");
}

#[tokio::test]
async fn as_migration_moves_tokens_and_registrations() {
    let s = TestServer::start(Scenario::AsMigration);
    let as2 = s.second_origin().expect("second origin");
    let c1 = register_public(&s).await;
    let t1 = access(&login_at(&s.issuer(), &c1, &s.mcp_url(), "mcp:read").await);
    assert_eq!(init_at(&s.mcp_url(), &t1).await.0, 200);

    s.switch_authorization_server(true);
    assert_eq!(prm_issuers(&s, "/mcp").await, json!([as2]));
    let (st, wa) = init_at(&s.mcp_url(), &t1).await;
    assert_eq!(st, 401, "AS1's token is refused after the switch");
    assert!(wa.contains("invalid_token"), "{wa}");
    let (st, md) = get_json(&format!("{as2}/.well-known/oauth-authorization-server")).await;
    assert_eq!(st, 200);
    assert_eq!(md["issuer"], json!(as2));
    assert_eq!(
        md["registration_endpoint"],
        json!(format!("{as2}/register"))
    );
    // AS1's registration means nothing at AS2.
    let (st, _) = authorize_redirect(&authorize_url(
        &as2,
        &c1,
        &s.mcp_url(),
        "mcp:read",
        &verifier(),
    ))
    .await;
    assert_eq!(st, 400, "unknown client_id at AS2");
    let c2 = register_at(&as2).await;
    let t2 = access(&login_at(&as2, &c2, &s.mcp_url(), "mcp:read").await);
    assert_eq!(init_at(&s.mcp_url(), &t2).await.0, 200);
    assert!(s.requests_at(&as2).iter().any(|r| r.path == "/register"));

    s.switch_authorization_server(false);
    assert_eq!(init_at(&s.mcp_url(), &t1).await.0, 200);
    assert_eq!(init_at(&s.mcp_url(), &t2).await.0, 401);
}

#[tokio::test]
async fn preregistered_client_meets_an_unexpected_issuer() {
    let s = TestServer::start(Scenario::PreregisteredIssuerSwitch);
    let evil = s.second_origin().expect("second origin");
    let (st, _) = register(&s, json!({"redirect_uris": [REDIRECT]})).await;
    assert_eq!(st, 404, "AS1 has no DCR");
    s.switch_authorization_server(true);
    assert_eq!(prm_issuers(&s, "/mcp").await, json!([evil]));
    // The second AS hands a code to anyone ...
    let (st, loc) = authorize_redirect(&authorize_url(
        &evil,
        "post-client",
        &s.mcp_url(),
        "mcp:read",
        &verifier(),
    ))
    .await;
    assert_eq!(st, 302);
    let q = query(&loc);
    assert!(
        q.contains_key("code") && q.get("state").map(String::as_str) == Some("st-9"),
        "{loc}"
    );
    assert!(s
        .requests_at(&evil)
        .iter()
        .all(|r| !r.carries_client_secret()));
    // ... and logs the secret a careless client then sends (post and basic).
    let resp = http()
        .post(format!("{evil}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("client_id", "post-client"),
            ("client_secret", "post-secret"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status().as_u16(), 400);
    let resp = http()
        .post(format!("{evil}/token"))
        .basic_auth("basic-client", Some("basic-secret"))
        .form(&[("grant_type", "authorization_code"), ("code", "x")])
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status().as_u16(), 400);
    let secrets = s
        .requests_at(&evil)
        .iter()
        .filter(|r| r.carries_client_secret())
        .count();
    assert_eq!(secrets, 2);
}

#[tokio::test]
async fn iss_differs_by_a_trailing_slash() {
    let s = TestServer::start(Scenario::IssTrailingSlash);
    let (_, md) = get_json(&format!(
        "{}/.well-known/oauth-authorization-server",
        s.base_url()
    ))
    .await;
    assert_eq!(md["authorization_response_iss_parameter_supported"], true);
    assert_eq!(md["issuer"], json!(s.issuer()));
    let client = register_public(&s).await;
    let (st, loc) = authorize_redirect(&authorize_url(
        &s.issuer(),
        &client,
        &s.mcp_url(),
        "mcp:read",
        &verifier(),
    ))
    .await;
    assert_eq!(st, 302);
    let q = query(&loc);
    assert!(q.contains_key("code"));
    assert_eq!(q.get("iss"), Some(&format!("{}/", s.issuer())));
}

#[tokio::test]
async fn scope_retry_limit_asks_for_a_new_scope_every_time() {
    let s = TestServer::start(Scenario::ScopeRetryLimit);
    let (_, tok) = login(&s, None).await;
    let token = access(&tok);
    let sid = session(&s, &token).await;
    let mut scopes = Vec::new();
    for i in 0..3 {
        let resp = mcp_post(
            &s,
            Some(&token),
            Some(&sid),
            json!({"jsonrpc": "2.0", "id": 10 + i, "method": "tools/call",
                   "params": {"name": "echo", "arguments": {"text": "x"}}}),
        )
        .await;
        assert_eq!(resp.status().as_u16(), 403);
        let wa = www_authenticate(&resp);
        assert!(wa.contains("insufficient_scope"), "{wa}");
        let scope = wa
            .split("scope=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("scope")
            .to_string();
        assert!(scope.starts_with("mcp:read mcp:step"), "{scope}");
        scopes.push(scope);
    }
    scopes.dedup();
    assert_eq!(scopes.len(), 3, "{scopes:?}");
    // The AS grants the challenged scopes; each authorization request is counted.
    let before = s.count("GET", "/authorize");
    let client = register_public(&s).await;
    let t = login_at(&s.issuer(), &client, &s.mcp_url(), &scopes[2]).await;
    assert_eq!(t["scope"], json!(scopes[2]));
    assert_eq!(s.count("GET", "/authorize"), before + 1);
}

#[tokio::test]
async fn short_token_lifetime_and_refresh_counting() {
    let s = TestServer::start_with(Options {
        token_lifetime_secs: Some(5),
        ..Options::default()
    })
    .expect("start");
    let (client_id, tok) = login(&s, None).await;
    assert_eq!(tok["expires_in"], 5);
    assert_eq!(s.grant_count("authorization_code"), 1);
    assert_eq!(s.grant_count("refresh_token"), 0);
    let (st, again) = refresh(&s, &client_id, &refresh_token(&tok)).await;
    assert_eq!(st, 200);
    assert_eq!(again["expires_in"], 5);
    assert_eq!(s.grant_count("refresh_token"), 1);
}

#[tokio::test]
async fn as_migration_can_switch_after_the_next_authorized_request() {
    let s = TestServer::start(Scenario::AsMigration);
    let as2 = s.second_origin().expect("second origin");
    let c1 = register_public(&s).await;
    let t1 = access(&login_at(&s.issuer(), &c1, &s.mcp_url(), "mcp:read").await);
    let resp = http()
        .post(format!(
            "{}/_testkit/switch-as?to=second&after=1",
            s.base_url()
        ))
        .send()
        .await
        .expect("switch");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        prm_issuers(&s, "/mcp").await,
        json!([s.issuer()]),
        "not yet"
    );
    assert_eq!(
        init_at(&s.mcp_url(), &t1).await.0,
        200,
        "served before the switch"
    );
    assert_eq!(prm_issuers(&s, "/mcp").await, json!([as2]));
    assert_eq!(init_at(&s.mcp_url(), &t1).await.0, 401);
    let resp = http()
        .post(format!(
            "{}/_testkit/switch-as?to=second&after=x",
            s.base_url()
        ))
        .send()
        .await
        .expect("switch");
    assert_eq!(resp.status().as_u16(), 400);
    s.switch_authorization_server_after(2);
    s.switch_authorization_server(false);
    assert_eq!(init_at(&s.mcp_url(), &t1).await.0, 200);
    assert_eq!(
        init_at(&s.mcp_url(), &t1).await.0,
        200,
        "a plain switch cancels the pending one"
    );
}
