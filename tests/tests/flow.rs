//! Authorization code + PKCE, refresh rotation, client authentication, revocation.

mod common;

use common::*;
use mcp_auth_testkit::{AuthMethod, Scenario, StaticClient, TestServer};
use serde_json::json;

#[tokio::test]
async fn full_flow_with_dcr_logs_the_expected_requests() {
    let s = TestServer::start(Scenario::Default);
    // Discovery as a client does it.
    let resp = mcp_post(&s, None, None, initialize()).await;
    assert_eq!(resp.status().as_u16(), 401);
    let (status, prm) = get_json(&format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        s.base_url()
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(prm["authorization_servers"][0], json!(s.issuer()));
    let (status, _) = get_json(&format!(
        "{}/.well-known/oauth-authorization-server",
        s.base_url()
    ))
    .await;
    assert_eq!(status, 200);
    let (client_id, tok) = login(&s, None).await;
    assert_eq!(tok["token_type"], "Bearer");
    assert_eq!(tok["expires_in"], 3600);
    assert_eq!(tok["scope"], "mcp:read");
    assert!(tok["refresh_token"].is_string());
    assert_eq!(
        s.request_lines(),
        vec![
            "POST /mcp",
            "GET /.well-known/oauth-protected-resource/mcp",
            "GET /.well-known/oauth-authorization-server",
            "POST /register",
            "GET /authorize",
            "POST /token",
        ]
    );
    let req = &s.requests()[4];
    assert!(req
        .query
        .as_deref()
        .unwrap_or("")
        .contains("code_challenge="));
    assert_eq!(req.server, "rs");

    // The token works, and whoami reports the client.
    let token = access(&tok);
    let sid = session(&s, &token).await;
    let resp = mcp_post(
        &s,
        Some(&token),
        Some(&sid),
        json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}),
    )
    .await;
    let v: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(
        v["result"]["structuredContent"]["client_id"],
        json!(client_id)
    );
    assert_eq!(s.count("POST", "/mcp"), 3);
    s.clear_log();
    assert!(s.request_lines().is_empty());
}

#[tokio::test]
async fn token_response_is_not_cacheable() {
    let s = TestServer::start(Scenario::Default);
    let client_id = register_public(&s).await;
    let a = AuthUrl::new(&s, &client_id);
    let code = authorize(&s, &a).await;
    let resource = s.mcp_url();
    let resp = http()
        .post(format!("{}/token", s.issuer()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", a.redirect_uri.as_str()),
            ("client_id", client_id.as_str()),
            ("code_verifier", a.verifier.as_str()),
            ("resource", resource.as_str()),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers().get("cache-control").map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );
}

#[tokio::test]
async fn wrong_pkce_verifier_is_invalid_grant() {
    let s = TestServer::start(Scenario::Default);
    let client_id = register_public(&s).await;
    let a = AuthUrl::new(&s, &client_id);
    let code = authorize(&s, &a).await;
    let wrong = AuthUrl {
        verifier: verifier(),
        ..AuthUrl::new(&s, &client_id)
    };
    let (status, v) = exchange(&s, &wrong, &code).await;
    assert_eq!(status, 400);
    assert_eq!(v["error"], "invalid_grant");
    // The code was burnt by the failed attempt.
    let (status, v) = exchange(&s, &a, &code).await;
    assert_eq!(status, 400);
    assert_eq!(v["error"], "invalid_grant");
}

#[tokio::test]
async fn missing_verifier_wrong_redirect_and_wrong_resource_fail() {
    let s = TestServer::start(Scenario::Default);
    let client_id = register_public(&s).await;

    let a = AuthUrl::new(&s, &client_id);
    let code = authorize(&s, &a).await;
    let (status, v) = token_request(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &client_id),
        ],
        None,
    )
    .await;
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_grant")));

    let a = AuthUrl::new(&s, &client_id);
    let code = authorize(&s, &a).await;
    let (status, v) = token_request(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:43210/other"),
            ("client_id", &client_id),
            ("code_verifier", &a.verifier),
        ],
        None,
    )
    .await;
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_grant")));

    let a = AuthUrl::new(&s, &client_id);
    let code = authorize(&s, &a).await;
    let (status, v) = token_request(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &client_id),
            ("code_verifier", &a.verifier),
            ("resource", "http://127.0.0.1:1/mcp"),
        ],
        None,
    )
    .await;
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_target")));
}

#[tokio::test]
async fn code_replay_revokes_the_tokens_issued_from_it() {
    let s = TestServer::start(Scenario::Default);
    let client_id = register_public(&s).await;
    let a = AuthUrl::new(&s, &client_id);
    let code = authorize(&s, &a).await;
    let (status, tok) = exchange(&s, &a, &code).await;
    assert_eq!(status, 200);
    let token = access(&tok);
    session(&s, &token).await;

    let (status, v) = exchange(&s, &a, &code).await;
    assert_eq!(status, 400);
    assert_eq!(v["error"], "invalid_grant");
    let resp = mcp_post(&s, Some(&token), None, initialize()).await;
    assert_eq!(resp.status().as_u16(), 401);
    assert!(www_authenticate(&resp).contains("error=\"invalid_token\""));
    let (status, v) = refresh(&s, &client_id, &refresh_token(&tok)).await;
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn refresh_rotates_and_replay_revokes_the_grant() {
    let s = TestServer::start(Scenario::Default);
    let (client_id, tok) = login(&s, Some("mcp:read mcp:write")).await;
    let rt1 = refresh_token(&tok);

    let (status, tok2) = refresh(&s, &client_id, &rt1).await;
    assert_eq!(status, 200, "{tok2}");
    let rt2 = refresh_token(&tok2);
    assert_ne!(rt1, rt2, "refresh tokens rotate");
    assert_ne!(access(&tok), access(&tok2));
    assert_eq!(tok2["scope"], "mcp:read mcp:write");
    session(&s, &access(&tok2)).await;

    // Replaying the rotated token fails and revokes everything in the grant.
    let (status, v) = refresh(&s, &client_id, &rt1).await;
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_grant")));
    let (status, v) = refresh(&s, &client_id, &rt2).await;
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_grant")));
    let resp = mcp_post(&s, Some(&access(&tok2)), None, initialize()).await;
    assert_eq!(resp.status().as_u16(), 401);
}

#[tokio::test]
async fn refresh_may_narrow_but_not_widen_scope() {
    let s = TestServer::start(Scenario::Default);
    let (client_id, tok) = login(&s, Some("mcp:read")).await;
    let rt = refresh_token(&tok);
    let (status, v) = token_request(
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", &client_id),
            ("scope", "mcp:read mcp:write"),
        ],
        None,
    )
    .await;
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_scope")));

    let (_, tok) = login(&s, Some("mcp:read mcp:write")).await;
    let client_id = tok_client(&s, &tok).await;
    let (status, v) = token_request(
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token(&tok)),
            ("client_id", &client_id),
            ("scope", "mcp:read"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["scope"], "mcp:read");
}

/// The client_id a token was issued to, via the whoami tool.
async fn tok_client(s: &TestServer, tok: &serde_json::Value) -> String {
    let token = access(tok);
    let sid = session(s, &token).await;
    let resp = mcp_post(
        s,
        Some(&token),
        Some(&sid),
        json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami"}}),
    )
    .await;
    let v: serde_json::Value = resp.json().await.expect("json");
    v["result"]["structuredContent"]["client_id"]
        .as_str()
        .expect("client_id")
        .to_string()
}

#[tokio::test]
async fn expired_access_token_gets_invalid_token_and_refresh_works() {
    let s = TestServer::start(Scenario::Default);
    let (client_id, tok) = login(&s, None).await;
    session(&s, &access(&tok)).await;
    s.expire_access_tokens();
    let resp = mcp_post(&s, Some(&access(&tok)), None, initialize()).await;
    assert_eq!(resp.status().as_u16(), 401);
    let h = www_authenticate(&resp);
    assert!(h.contains("error=\"invalid_token\""), "{h}");
    assert!(h.contains("resource_metadata=\""), "{h}");
    let (status, tok2) = refresh(&s, &client_id, &refresh_token(&tok)).await;
    assert_eq!(status, 200);
    session(&s, &access(&tok2)).await;
}

#[tokio::test]
async fn short_lived_tokens_expire_by_themselves() {
    let s = TestServer::start(Scenario::ShortLived);
    let (_, tok) = login(&s, None).await;
    assert_eq!(tok["expires_in"], 2);
    session(&s, &access(&tok)).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let resp = mcp_post(&s, Some(&access(&tok)), None, initialize()).await;
    assert_eq!(resp.status().as_u16(), 401);
}

async fn preregistered_code(s: &TestServer, client_id: &str) -> (AuthUrl, String) {
    let mut a = AuthUrl::new(s, client_id);
    a.redirect_uri = "http://127.0.0.1:51234/callback".to_string();
    let code = authorize(s, &a).await;
    (a, code)
}

fn code_form<'a>(a: &'a AuthUrl, code: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", a.redirect_uri.as_str()),
        ("code_verifier", a.verifier.as_str()),
    ]
}

#[tokio::test]
async fn client_secret_basic_right_and_wrong() {
    let s = TestServer::start(Scenario::Preregistered);
    let (a, code) = preregistered_code(&s, "basic-client").await;
    let form = code_form(&a, &code);
    let (status, v) = token_request(&s, &form, Some(("basic-client", "wrong"))).await;
    assert_eq!((status, v["error"].as_str()), (401, Some("invalid_client")));
    // Secret in the body instead of Basic: wrong method.
    let mut post = form.clone();
    post.push(("client_id", "basic-client"));
    post.push(("client_secret", "basic-secret"));
    let (status, v) = token_request(&s, &post, None).await;
    assert_eq!((status, v["error"].as_str()), (401, Some("invalid_client")));
    let (status, v) = token_request(&s, &form, Some(("basic-client", "basic-secret"))).await;
    // The failed attempts above did not consume the code: client auth comes first.
    assert_eq!(status, 200, "{v}");
}

#[tokio::test]
async fn client_secret_post_right_and_wrong() {
    let s = TestServer::start(Scenario::Preregistered);
    let (a, code) = preregistered_code(&s, "post-client").await;
    let mut form = code_form(&a, &code);
    form.push(("client_id", "post-client"));
    let mut wrong = form.clone();
    wrong.push(("client_secret", "nope"));
    let (status, v) = token_request(&s, &wrong, None).await;
    assert_eq!((status, v["error"].as_str()), (401, Some("invalid_client")));
    let (status, v) = token_request(&s, &form, None).await;
    assert_eq!((status, v["error"].as_str()), (401, Some("invalid_client")));
    let (status, _) = token_request(&s, &form, Some(("post-client", "post-secret"))).await;
    assert_eq!(status, 401);
    let mut right = form.clone();
    right.push(("client_secret", "post-secret"));
    let (status, v) = token_request(&s, &right, None).await;
    assert_eq!(status, 200, "{v}");
}

#[tokio::test]
async fn public_client_and_unknown_client() {
    let s = TestServer::start(Scenario::Preregistered);
    let (a, code) = preregistered_code(&s, "public-client").await;
    let mut form = code_form(&a, &code);
    let (status, v) = token_request(&s, &form, None).await;
    assert_eq!((status, v["error"].as_str()), (401, Some("invalid_client")));
    let mut unknown = form.clone();
    unknown.push(("client_id", "who-is-this"));
    let (status, v) = token_request(&s, &unknown, None).await;
    assert_eq!((status, v["error"].as_str()), (401, Some("invalid_client")));
    form.push(("client_id", "public-client"));
    let (status, v) = token_request(&s, &form, None).await;
    assert_eq!(status, 200, "{v}");
}

#[tokio::test]
async fn basic_credentials_are_form_urlencoded() {
    let s = TestServer::start(Scenario::Default);
    s.register_client(StaticClient::confidential(
        "odd id:1",
        "s3cr3t/+&=",
        AuthMethod::ClientSecretBasic,
        &["http://127.0.0.1:3030/callback"],
    ));
    let (a, code) = preregistered_code(&s, "odd id:1").await;
    let form = code_form(&a, &code);
    // Raw (not form-encoded) credentials contain ':' in the id and must fail.
    let (status, _) = token_request(&s, &form, Some(("odd id:1", "s3cr3t/+&="))).await;
    assert_eq!(status, 401);
    let id = url::form_urlencoded::byte_serialize(b"odd id:1").collect::<String>();
    let secret = url::form_urlencoded::byte_serialize(b"s3cr3t/+&=").collect::<String>();
    let (status, v) = token_request(&s, &form, Some((&id, &secret))).await;
    assert_eq!(status, 200, "{v}");
}

#[tokio::test]
async fn secret_scenarios_force_the_method_at_registration() {
    for (scenario, method) in [
        (Scenario::ClientSecretBasic, "client_secret_basic"),
        (Scenario::ClientSecretPost, "client_secret_post"),
    ] {
        let s = TestServer::start(scenario);
        let (_, meta) = get_json(&format!(
            "{}/.well-known/oauth-authorization-server",
            s.base_url()
        ))
        .await;
        assert_eq!(
            meta["token_endpoint_auth_methods_supported"],
            json!([method])
        );
        let (status, v) = register(
            &s,
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}),
        )
        .await;
        assert_eq!(status, 201);
        assert_eq!(v["token_endpoint_auth_method"], method);
        let id = v["client_id"].as_str().expect("id").to_string();
        let secret = v["client_secret"].as_str().expect("secret").to_string();
        let (a, code) = {
            let a = AuthUrl::new(&s, &id);
            let code = authorize(&s, &a).await;
            (a, code)
        };
        let mut form = code_form(&a, &code);
        let basic = if method == "client_secret_basic" {
            Some((id.as_str(), secret.as_str()))
        } else {
            form.push(("client_id", id.as_str()));
            form.push(("client_secret", secret.as_str()));
            None
        };
        let (status, v) = token_request(&s, &form, basic).await;
        assert_eq!(status, 200, "{scenario}: {v}");
    }
}

#[tokio::test]
async fn revoke_refresh_token_revokes_the_grant() {
    let s = TestServer::start(Scenario::Default);
    let (client_id, tok) = login(&s, None).await;
    let resp = http()
        .post(format!("{}/revoke", s.issuer()))
        .form(&[
            ("token", refresh_token(&tok).as_str()),
            ("token_type_hint", "refresh_token"),
            ("client_id", client_id.as_str()),
        ])
        .send()
        .await
        .expect("revoke");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(s.revoked_count(), 1);
    let resp = mcp_post(&s, Some(&access(&tok)), None, initialize()).await;
    assert_eq!(resp.status().as_u16(), 401);
    let (status, _) = refresh(&s, &client_id, &refresh_token(&tok)).await;
    assert_eq!(status, 400);

    // Unknown tokens: still 200, not counted.
    let resp = http()
        .post(format!("{}/revoke", s.issuer()))
        .form(&[("token", "nonsense"), ("client_id", client_id.as_str())])
        .send()
        .await
        .expect("revoke");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(s.revoked_count(), 1);
}

#[tokio::test]
async fn revoke_access_token_only_and_needs_client_auth() {
    let s = TestServer::start(Scenario::Default);
    let (client_id, tok) = login(&s, None).await;
    let resp = http()
        .post(format!("{}/revoke", s.issuer()))
        .form(&[("token", access(&tok).as_str())])
        .send()
        .await
        .expect("revoke");
    assert_eq!(resp.status().as_u16(), 401);
    let resp = http()
        .post(format!("{}/revoke", s.issuer()))
        .form(&[
            ("token", access(&tok).as_str()),
            ("client_id", client_id.as_str()),
        ])
        .send()
        .await
        .expect("revoke");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(s.revoked_count(), 1);
    let resp = mcp_post(&s, Some(&access(&tok)), None, initialize()).await;
    assert_eq!(resp.status().as_u16(), 401);
    let (status, _) = refresh(&s, &client_id, &refresh_token(&tok)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn token_endpoint_rejects_bad_input_without_panicking() {
    let s = TestServer::start(Scenario::Default);
    let url = format!("{}/token", s.issuer());
    // JSON instead of a form.
    let resp = http()
        .post(&url)
        .json(&json!({"grant_type": "authorization_code"}))
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status().as_u16(), 400);
    // Repeated parameter.
    let resp = http()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("client_id=public-client&grant_type=refresh_token&grant_type=refresh_token")
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status().as_u16(), 400);
    // Garbage Basic header.
    let resp = http()
        .post(&url)
        .header("authorization", "Basic %%%")
        .form(&[("grant_type", "refresh_token")])
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status().as_u16(), 401);
    // Unsupported grant type.
    let (status, v) = token_request(
        &s,
        &[("grant_type", "password"), ("client_id", "public-client")],
        None,
    )
    .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    // Unknown code.
    let (status, v) = token_request(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "public-client"),
            ("code", "nope"),
        ],
        None,
    )
    .await;
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_grant")));
}
