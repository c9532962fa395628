//! Where each scenario publishes its metadata, and what the 401 says.

mod common;

use common::*;
use mcp_auth_testkit::{Scenario, TestServer};
use serde_json::json;

async fn status(url: &str) -> u16 {
    http().get(url).send().await.expect("GET").status().as_u16()
}

async fn challenge(s: &TestServer) -> String {
    let resp = mcp_post(s, None, None, initialize()).await;
    assert_eq!(resp.status().as_u16(), 401);
    www_authenticate(&resp)
}

const PRM_PATH: &str = "/.well-known/oauth-protected-resource/mcp";
const PRM_ROOT: &str = "/.well-known/oauth-protected-resource";
const RFC8414: &str = "/.well-known/oauth-authorization-server";
const OIDC: &str = "/.well-known/openid-configuration";

#[tokio::test]
async fn default_metadata() {
    let s = TestServer::start(Scenario::Default);
    let b = s.base_url();
    assert_eq!(s.issuer(), b);
    assert_eq!(
        challenge(&s).await,
        format!("Bearer resource_metadata=\"{b}{PRM_PATH}\", scope=\"mcp:read\"")
    );
    let (st, prm) = get_json(&format!("{b}{PRM_PATH}")).await;
    assert_eq!(st, 200);
    assert_eq!(
        prm,
        json!({"resource": format!("{b}/mcp"), "authorization_servers": [b],
               "scopes_supported": ["mcp:read", "mcp:write"],
               "bearer_methods_supported": ["header"], "resource_name": "mcp-auth testkit"})
    );
    assert_eq!(status(&format!("{b}{PRM_ROOT}")).await, 404);
    assert_eq!(status(&format!("{b}{OIDC}")).await, 404);
    let (st, m) = get_json(&format!("{b}{RFC8414}")).await;
    assert_eq!(st, 200);
    assert_eq!(m["issuer"], json!(b));
    assert_eq!(m["authorization_endpoint"], json!(format!("{b}/authorize")));
    assert_eq!(m["token_endpoint"], json!(format!("{b}/token")));
    assert_eq!(m["registration_endpoint"], json!(format!("{b}/register")));
    assert_eq!(m["revocation_endpoint"], json!(format!("{b}/revoke")));
    assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(m["response_types_supported"], json!(["code"]));
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        json!(["none", "client_secret_basic", "client_secret_post"])
    );
    assert_eq!(
        m["scopes_supported"],
        json!(["mcp:read", "mcp:write", "offline_access"])
    );
    assert!(m
        .get("authorization_response_iss_parameter_supported")
        .is_none());
    assert!(m.get("client_id_metadata_document_supported").is_none());
    // The SSE transport has its own PRM.
    let (st, prm) = get_json(&format!("{b}/.well-known/oauth-protected-resource/sse")).await;
    assert_eq!(st, 200);
    assert_eq!(prm["resource"], json!(format!("{b}/sse")));
}

#[tokio::test]
async fn prm_path_and_prm_root() {
    let s = TestServer::start(Scenario::PrmPath);
    let b = s.base_url();
    assert_eq!(challenge(&s).await, "Bearer scope=\"mcp:read\"");
    assert_eq!(status(&format!("{b}{PRM_PATH}")).await, 200);
    assert_eq!(status(&format!("{b}{PRM_ROOT}")).await, 404);

    let s = TestServer::start(Scenario::PrmRoot);
    let b = s.base_url();
    assert_eq!(challenge(&s).await, "Bearer scope=\"mcp:read\"");
    assert_eq!(status(&format!("{b}{PRM_PATH}")).await, 404);
    let (st, prm) = get_json(&format!("{b}{PRM_ROOT}")).await;
    assert_eq!(st, 200);
    assert_eq!(prm["resource"], json!(format!("{b}/mcp")));
    assert_eq!(
        s.request_lines(),
        vec![
            "POST /mcp",
            &format!("GET {PRM_PATH}"),
            &format!("GET {PRM_ROOT}")
        ]
    );
}

#[tokio::test]
async fn as_path_issuer_runs_on_a_second_origin() {
    let s = TestServer::start(Scenario::AsPathIssuer);
    let b = s.base_url();
    let issuer = s.issuer();
    assert!(issuer.ends_with("/tenant1"), "{issuer}");
    let as_origin = issuer.trim_end_matches("/tenant1").to_string();
    assert_ne!(as_origin, b);
    assert_eq!(s.as_origin(), as_origin);
    let (_, prm) = get_json(&format!("{b}{PRM_PATH}")).await;
    assert_eq!(prm["authorization_servers"], json!([issuer]));
    let (st, m) = get_json(&format!("{as_origin}{RFC8414}/tenant1")).await;
    assert_eq!(st, 200);
    assert_eq!(m["issuer"], json!(issuer));
    assert_eq!(m["token_endpoint"], json!(format!("{issuer}/token")));
    assert_eq!(status(&format!("{as_origin}{RFC8414}")).await, 404);
    assert_eq!(status(&format!("{as_origin}/tenant1{OIDC}")).await, 404);
    assert_eq!(status(&format!("{b}{RFC8414}")).await, 404);
    assert_eq!(status(&format!("{b}{RFC8414}/tenant1")).await, 404);

    // The whole flow works against the tenant endpoints.
    let (_, tok) = login(&s, None).await;
    session(&s, &access(&tok)).await;
    let as_lines: Vec<String> = s
        .requests()
        .iter()
        .filter(|r| r.server == "as")
        .map(|r| r.line())
        .collect();
    assert_eq!(
        as_lines,
        vec![
            format!("GET {RFC8414}/tenant1"),
            format!("GET {RFC8414}"),
            format!("GET /tenant1{OIDC}"),
            "POST /tenant1/register".to_string(),
            "GET /tenant1/authorize".to_string(),
            "POST /tenant1/token".to_string(),
        ]
    );
}

#[tokio::test]
async fn oidc_only_and_oidc_path() {
    let s = TestServer::start(Scenario::OidcOnly);
    let b = s.base_url();
    assert_eq!(status(&format!("{b}{RFC8414}")).await, 404);
    let (st, m) = get_json(&format!("{b}{OIDC}")).await;
    assert_eq!(st, 200);
    assert_eq!(m["issuer"], json!(b));
    assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));

    let s = TestServer::start(Scenario::OidcPath);
    let issuer = s.issuer();
    let origin = s.as_origin();
    assert_eq!(issuer, format!("{origin}/tenant1"));
    assert_eq!(status(&format!("{origin}{RFC8414}/tenant1")).await, 404);
    assert_eq!(status(&format!("{origin}{OIDC}/tenant1")).await, 404);
    let (st, m) = get_json(&format!("{issuer}{OIDC}")).await;
    assert_eq!(st, 200);
    assert_eq!(m["issuer"], json!(issuer));
    assert_eq!(
        m["authorization_endpoint"],
        json!(format!("{issuer}/authorize"))
    );
}

#[tokio::test]
async fn legacy_scenarios() {
    let s = TestServer::start(Scenario::LegacyMetadata);
    let b = s.base_url();
    assert_eq!(challenge(&s).await, "Bearer");
    assert_eq!(status(&format!("{b}{PRM_PATH}")).await, 404);
    assert_eq!(status(&format!("{b}{PRM_ROOT}")).await, 404);
    assert_eq!(status(&format!("{b}{RFC8414}")).await, 200);

    let s = TestServer::start(Scenario::LegacyNoMetadata);
    let b = s.base_url();
    assert_eq!(challenge(&s).await, "Bearer");
    for p in [PRM_PATH, PRM_ROOT, RFC8414, OIDC] {
        assert_eq!(status(&format!("{b}{p}")).await, 404, "{p}");
    }
    // The default endpoints still work.
    let (_, tok) = login(&s, None).await;
    session(&s, &access(&tok)).await;
}

#[tokio::test]
async fn scenario_flags_in_metadata() {
    async fn meta(sc: Scenario) -> (TestServer, serde_json::Value) {
        let s = TestServer::start(sc);
        let (st, m) = get_json(&format!("{}{RFC8414}", s.base_url())).await;
        assert_eq!(st, 200, "{sc}");
        (s, m)
    }
    let (_, m) = meta(Scenario::Cimd).await;
    assert_eq!(m["client_id_metadata_document_supported"], json!(true));
    let (_, m) = meta(Scenario::Preregistered).await;
    assert!(m.get("registration_endpoint").is_none());
    let (_, m) = meta(Scenario::Iss).await;
    assert_eq!(
        m["authorization_response_iss_parameter_supported"],
        json!(true)
    );
    let (_, m) = meta(Scenario::NoS256).await;
    assert_eq!(m["code_challenge_methods_supported"], json!(["plain"]));
    let (_, m) = meta(Scenario::NoPkceMetadata).await;
    assert!(m.get("code_challenge_methods_supported").is_none());
    let (s, m) = meta(Scenario::IssuerMismatch).await;
    assert_eq!(m["issuer"], json!("https://other.example.com"));
    assert_ne!(m["issuer"], json!(s.issuer()));
    let (s, _) = meta(Scenario::MaliciousResource).await;
    let (_, prm) = get_json(&format!("{}{PRM_PATH}", s.base_url())).await;
    assert_eq!(prm["resource"], "https://evil.example.com/mcp");
}

#[tokio::test]
async fn preregistered_has_no_registration() {
    let s = TestServer::start(Scenario::Preregistered);
    let (st, _) = register(&s, json!({"redirect_uris": [REDIRECT]})).await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn every_scenario_starts_and_round_trips_its_name() {
    for sc in Scenario::ALL {
        assert_eq!(sc.to_string().parse::<Scenario>(), Ok(sc));
        let s = TestServer::start(sc);
        // `public-discovery` answers `initialize` without a token, not `tools/list`.
        let body = if sc == Scenario::PublicDiscovery {
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        } else {
            initialize()
        };
        let resp = mcp_post(&s, None, None, body).await;
        assert_eq!(resp.status().as_u16(), 401, "{sc}");
    }
    assert!("nope".parse::<Scenario>().is_err());
}

#[tokio::test]
async fn options_port_and_token_lifetime() {
    use mcp_auth_testkit::Options;
    let s = TestServer::start_with(Options {
        scenario: Scenario::ShortLived,
        token_lifetime_secs: Some(120),
        ..Options::default()
    })
    .expect("start");
    let (_, tok) = login(&s, None).await;
    assert_eq!(tok["expires_in"], 120);
    // The same port twice fails with an io error instead of panicking.
    let port: u16 = s
        .base_url()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let again = TestServer::start_with(Options {
        port,
        ..Options::default()
    });
    assert!(again.is_err());
}
