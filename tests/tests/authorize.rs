//! /authorize validation, consent page, iss, CIMD, registration rules.

mod common;

use common::*;
use mcp_auth_testkit::{browse, Scenario, TestServer};
use serde_json::json;

async fn get(url: &str) -> reqwest::Response {
    http().get(url).send().await.expect("GET")
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn unknown_client_and_unregistered_redirect_never_redirect() {
    let s = TestServer::start(Scenario::Default);
    let client_id = register_public(&s).await;
    let mut a = AuthUrl::new(&s, "no-such-client");
    let resp = get(&a.url(&s)).await;
    assert_eq!(resp.status().as_u16(), 400);
    assert!(resp.headers().get("location").is_none());
    assert!(resp.text().await.expect("body").contains("invalid_client"));

    a.client_id = client_id;
    a.redirect_uri = "https://evil.example.com/cb".to_string();
    let resp = get(&a.url(&s)).await;
    assert_eq!(resp.status().as_u16(), 400);
    assert!(resp.headers().get("location").is_none());

    // Loopback: another port is fine (RFC 8252 §7.3), another path is not.
    a.redirect_uri = "http://127.0.0.1:9/callback".to_string();
    let resp = get(&a.url(&s)).await;
    assert_eq!(resp.status().as_u16(), 302);
    assert!(location(&resp).starts_with("http://127.0.0.1:9/callback?code="));
    a.redirect_uri = "http://127.0.0.1:43210/elsewhere".to_string();
    assert_eq!(get(&a.url(&s)).await.status().as_u16(), 400);
}

#[tokio::test]
async fn errors_redirect_with_state() {
    let s = TestServer::start(Scenario::Default);
    let client_id = register_public(&s).await;
    let base = AuthUrl::new(&s, &client_id);
    let good = base.url(&s);

    let cases = [
        (
            "code_challenge_method=S256",
            "code_challenge_method=plain",
            "invalid_request",
        ),
        (
            "response_type=code",
            "response_type=token",
            "unsupported_response_type",
        ),
        ("state=st-123", "state=st-123&scope=admin", "invalid_scope"),
        (
            "resource=",
            "resource=https%3A%2F%2Fevil.example.com%2Fmcp&x=",
            "invalid_target",
        ),
    ];
    for (from, to, error) in cases {
        assert!(good.contains(from), "{good} lacks {from}");
        let url = good.replacen(from, to, 1);
        let resp = get(&url).await;
        assert_eq!(resp.status().as_u16(), 302, "{url}");
        let q = query(&location(&resp));
        assert_eq!(q.get("error").map(String::as_str), Some(error), "{url}");
        assert_eq!(q.get("state").map(String::as_str), Some("st-123"));
        assert!(q.contains_key("error_description"));
        assert!(!q.contains_key("code"));
    }

    // Missing PKCE and missing resource.
    let mut a = AuthUrl::new(&s, &client_id);
    a.resource = None;
    let q = query(&location(&get(&a.url(&s)).await));
    assert_eq!(q.get("error").map(String::as_str), Some("invalid_target"));
    let no_pkce = good
        .split('&')
        .filter(|p| !p.starts_with("code_challenge"))
        .collect::<Vec<_>>()
        .join("&");
    let q = query(&location(&get(&no_pkce).await));
    assert_eq!(q.get("error").map(String::as_str), Some("invalid_request"));
}

#[tokio::test]
async fn unknown_scope_is_rejected_and_default_scope_is_mcp_read() {
    let s = TestServer::start(Scenario::Default);
    let (_, tok) = login(&s, None).await;
    assert_eq!(tok["scope"], "mcp:read");
    let (_, tok) = login(&s, Some("mcp:read mcp:write offline_access")).await;
    assert_eq!(tok["scope"], "mcp:read mcp:write offline_access");
}

#[tokio::test]
async fn consent_page_escapes_and_approves() {
    let s = TestServer::start(Scenario::Consent);
    let (st, v) = register(
        &s,
        json!({"redirect_uris": [REDIRECT], "client_name": "<script>alert('x')</script> & co"}),
    )
    .await;
    assert_eq!(st, 201);
    let client_id = v["client_id"].as_str().expect("id").to_string();
    let a = AuthUrl::new(&s, &client_id);
    let resp = get(&a.url(&s)).await;
    assert_eq!(resp.status().as_u16(), 200);
    let html = resp.text().await.expect("html");
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"));
    assert!(html.contains("<title>Authorize &lt;script&gt;"));
    assert!(html.contains("<form method=\"post\" action=\"/authorize/decision\">"));
    assert!(html
        .contains("<button id=\"approve\" name=\"decision\" value=\"approve\">Approve</button>"));
    assert!(html.contains("id=\"deny\""));
    assert!(html.contains("mcp:read"));
    assert!(html.contains(&s.mcp_url()));

    // browse() presses Approve.
    let code = authorize(&s, &a).await;
    let (st, _) = exchange(&s, &a, &code).await;
    assert_eq!(st, 200);
    assert!(s
        .request_lines()
        .contains(&"POST /authorize/decision".to_string()));
}

#[tokio::test]
async fn consent_deny_redirects_with_access_denied() {
    let s = TestServer::start(Scenario::Consent);
    let client_id = register_public(&s).await;
    let a = AuthUrl::new(&s, &client_id);
    let html = get(&a.url(&s)).await.text().await.expect("html");
    let marker = "name=\"request_id\" value=\"";
    let start = html.find(marker).expect("request id") + marker.len();
    let id = &html[start..start + html[start..].find('"').expect("end")];
    let resp = http()
        .post(format!("{}/authorize/decision", s.base_url()))
        .form(&[("request_id", id), ("decision", "deny")])
        .send()
        .await
        .expect("deny");
    assert_eq!(resp.status().as_u16(), 302);
    let q = query(&location(&resp));
    assert_eq!(q.get("error").map(String::as_str), Some("access_denied"));
    assert_eq!(q.get("state").map(String::as_str), Some("st-123"));
    // The request id is one-time.
    let resp = http()
        .post(format!("{}/authorize/decision", s.base_url()))
        .form(&[("request_id", id), ("decision", "approve")])
        .send()
        .await
        .expect("again");
    assert_eq!(resp.status().as_u16(), 400);
}

#[tokio::test]
async fn iss_and_iss_mismatch() {
    let s = TestServer::start(Scenario::Iss);
    let client_id = register_public(&s).await;
    let a = AuthUrl::new(&s, &client_id);
    let redirect = browse(&a.url(&s)).await.expect("browse");
    assert_eq!(query(&redirect).get("iss"), Some(&s.issuer()));

    let s = TestServer::start(Scenario::IssMismatch);
    let client_id = register_public(&s).await;
    let a = AuthUrl::new(&s, &client_id);
    let redirect = browse(&a.url(&s)).await.expect("browse");
    let iss = query(&redirect).get("iss").cloned().expect("iss");
    assert_ne!(iss, s.issuer());

    let s = TestServer::start(Scenario::Default);
    let client_id = register_public(&s).await;
    let a = AuthUrl::new(&s, &client_id);
    let redirect = browse(&a.url(&s)).await.expect("browse");
    assert!(!query(&redirect).contains_key("iss"));
}

#[tokio::test]
async fn cimd_client_ids_only_in_the_cimd_scenario() {
    let cid = "https://app.example.com/oauth/client.json";
    let s = TestServer::start(Scenario::Cimd);
    let mut a = AuthUrl::new(&s, cid);
    a.redirect_uri = "http://127.0.0.1:40001/cb".to_string();
    let code = authorize(&s, &a).await;
    let (st, tok) = exchange(&s, &a, &code).await;
    assert_eq!(st, 200, "{tok}");
    // Only loopback redirects for an unfetched document.
    a.redirect_uri = "https://app.example.com/cb".to_string();
    assert_eq!(get(&a.url(&s)).await.status().as_u16(), 400);

    let s = TestServer::start(Scenario::Default);
    let mut a = AuthUrl::new(&s, cid);
    a.redirect_uri = "http://127.0.0.1:40001/cb".to_string();
    assert_eq!(get(&a.url(&s)).await.status().as_u16(), 400);
}

#[tokio::test]
async fn registration_validates_redirect_uris() {
    let s = TestServer::start(Scenario::Default);
    for body in [
        json!({}),
        json!({"redirect_uris": []}),
        json!({"redirect_uris": ["http://app.example.com/cb"]}),
        json!({"redirect_uris": ["not a url"]}),
        json!({"redirect_uris": [42]}),
    ] {
        let (st, v) = register(&s, body.clone()).await;
        assert_eq!(st, 400, "{body}");
        assert_eq!(v["error"], "invalid_redirect_uri", "{body}");
    }
    let (st, v) = register(
        &s,
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt"}),
    )
    .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("invalid_client_metadata"))
    );
    let (st, v) = register(
        &s,
        json!({"redirect_uris": ["https://app.example.com/cb", "http://localhost/cb"],
               "client_name": "App", "token_endpoint_auth_method": "client_secret_post"}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["client_name"], "App");
    assert_eq!(v["token_endpoint_auth_method"], "client_secret_post");
    assert!(v["client_secret"].is_string());
    assert!(v["client_id_issued_at"].is_u64());
    let (st, v) = register(&s, json!({"redirect_uris": [REDIRECT]})).await;
    assert_eq!(st, 201);
    assert_eq!(v["token_endpoint_auth_method"], "none");
    assert!(v.get("client_secret").is_none());
    // Not JSON at all.
    let resp = http()
        .post(format!("{}/register", s.base_url()))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .expect("register");
    assert_eq!(resp.status().as_u16(), 400);
}

#[tokio::test]
async fn codex_style_sign_in_issues_an_id_token_with_the_account_claim() {
    use base64::Engine;
    let server = mcp_auth_testkit::TestServer::start(mcp_auth_testkit::Scenario::Default);
    let verifier = "codex-verifier-codex-verifier-codex-verifier-0123";
    let mut url = url::Url::parse(&format!("{}/oauth/authorize", server.base_url())).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", mcp_auth_testkit::CODEX_CLIENT_ID)
        .append_pair("redirect_uri", "http://localhost:1455/auth/callback")
        .append_pair("scope", "openid profile email offline_access")
        .append_pair("code_challenge", &mcp_auth_testkit::pkce_s256(verifier))
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", "st");
    let back = mcp_auth_testkit::browse(url.as_str()).await.unwrap();
    let back = url::Url::parse(&back).unwrap();
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    let resp = reqwest::Client::new()
        .post(format!("{}/oauth/token", server.base_url()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost:1455/auth/callback"),
            ("code_verifier", verifier),
            ("client_id", mcp_auth_testkit::CODEX_CLIENT_ID),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    let id_token = body["id_token"].as_str().expect("an id_token");
    let payload = id_token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims["https://api.openai.com/auth"]["chatgpt_account_id"],
        mcp_auth_testkit::CODEX_ACCOUNT_ID
    );
    assert!(body["refresh_token"].is_string());
}
