//! DPoP (RFC 9449) through the CLI against the testkit's strict DPoP servers: login and
//! probe with bound tokens, a refresh with the bound refresh token, nonces demanded and
//! rotated by both servers, `dpop: required` against a server without DPoP, and a token
//! copied out of the store that the server refuses without the key's proof.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::CliEnv;
use mcp_auth_core::jose::{self, SigningKey};
use mcp_auth_core::json::{Json, Object};
use mcp_auth_testkit::{Scenario, TestServer};
use serde_json::{json, Map, Value};

fn stored(env: &CliEnv) -> Map<String, Value> {
    let text = std::fs::read_to_string(env.store_file()).expect("the token file exists");
    serde_json::from_str(&text).expect("the token file is a JSON object")
}

/// The identity's token record, decoded.
fn token_record(env: &CliEnv, identity: &str) -> Value {
    let map = stored(env);
    let key = common::token_key_in(&map, identity);
    let text = map[&key].as_str().expect("a record string");
    serde_json::from_str(text).expect("record JSON")
}

fn set_expired(env: &CliEnv, identity: &str) {
    let mut map = stored(env);
    let key = common::token_key_in(&map, identity);
    let mut rec: Value = serde_json::from_str(map[&key].as_str().expect("record")).expect("json");
    rec["expires_at"] = json!(1);
    map.insert(key, Value::String(rec.to_string()));
    std::fs::write(env.store_file(), serde_json::to_string(&map).expect("json"))
        .expect("write store");
}

/// An MCP `initialize` POST with the given headers; the status and the `WWW-Authenticate`.
async fn mcp_post(url: &str, headers: &[(&str, String)]) -> (u16, String) {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(
            mcp_auth_core::mcp::request::initialize(url, 1, "2025-06-18")
                .body
                .unwrap_or_default(),
        );
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = req.send().await.expect("send");
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (resp.status().as_u16(), challenge)
}

/// A well-formed proof for `POST url` with `token`'s `ath`, signed by `key`.
async fn proof_by(key: &SigningKey, url: &str, token: &str) -> String {
    let header = Object::new()
        .with("typ", "dpop+jwt")
        .with("jwk", key.public_jwk());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let jti = URL_SAFE_NO_PAD.encode(mcp_auth_core::pkce::random_bytes(16).expect("random"));
    let ath = URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(token.as_bytes()));
    let claims = Object::new()
        .with("jti", jti)
        .with("htm", "POST")
        .with("htu", url)
        .with("iat", now)
        .with("ath", ath);
    jose::jws(header, &claims, key).await.expect("signed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_probe_and_refresh_with_dpop_bound_tokens() {
    let server = TestServer::start(Scenario::Dpop);
    let env = CliEnv::new();
    let mcp = server.mcp_url();
    let identity = server.base_url();

    let (run, authorizations) = env.run_with_browser(&["login", &mcp]).await;
    run.ok();
    assert_eq!(authorizations, 1);
    let rec = token_record(&env, &identity);
    assert_eq!(rec["token_type"], "DPoP", "{rec}");
    let jkt = rec["dpop_jkt"]
        .as_str()
        .expect("the key thumbprint is recorded");
    // the key is a record of the same store, and the token is bound to it
    let key_rec: Value = serde_json::from_str(
        stored(&env)[&format!("dpop:{identity}")]
            .as_str()
            .expect("a dpop key record"),
    )
    .expect("key JSON");
    let public = match mcp_auth_core::json::parse(key_rec["jwk"].to_string().as_bytes()) {
        Ok(Json::Object(jwk)) => jwk,
        other => panic!("the key record's jwk is not an object: {other:?}"),
    };
    assert_eq!(jose::jwk_thumbprint(&public).expect("thumbprint"), jkt);

    let st = env.run(&["status", "--json"]).ok().json();
    let row = st["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["identity"] == identity.as_str())
        .cloned()
        .expect("listed");
    assert_eq!(row["dpop_bound"], true);
    let human = env.run(&["status", &mcp]).ok();
    assert!(human.stdout.contains("DPoP-bound"), "{}", human.stdout);

    // every MCP request goes with the DPoP scheme (the server refuses Bearer for this token)
    server.clear_log();
    let probe = env
        .run(&["probe", &mcp, "--call", "whoami", "--args", "{}"])
        .ok();
    assert!(probe.stdout.contains("whoami"), "{}", probe.stdout);
    let mcp_requests: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/mcp")
        .collect();
    assert!(mcp_requests.len() >= 2, "{mcp_requests:?}");
    assert!(mcp_requests
        .iter()
        .all(|r| r.auth_scheme.as_deref() == Some("DPoP")));

    // an expired token is refreshed with a proof by the same key (the refresh token is bound)
    set_expired(&env, &identity);
    env.run(&["probe", &mcp]).ok();
    assert_eq!(server.grant_count("refresh_token"), 1);
    let after = token_record(&env, &identity);
    assert_ne!(after["access_token"], rec["access_token"]);
    assert_eq!(after["dpop_jkt"], rec["dpop_jkt"]);

    // clear removes the key with the tokens
    env.run(&["clear", &identity, "--yes"]).ok();
    assert!(!stored(&env).contains_key(&format!("dpop:{identity}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonces_demanded_by_both_servers_are_answered_and_followed() {
    let server = TestServer::start(Scenario::DpopNonce);
    let env = CliEnv::new();
    let mcp = server.mcp_url();
    let (run, _) = env.run_with_browser(&["login", &mcp]).await;
    run.ok();
    // the token endpoint challenged the first request once, and the retry carried its nonce
    assert_eq!(server.dpop_nonce_challenges(), (1, 0));
    assert_eq!(server.count("POST", "/token"), 2);

    server.clear_log();
    let probe = env
        .run(&["probe", &mcp, "--call", "whoami", "--args", "{}"])
        .ok();
    assert!(probe.stdout.contains("whoami"), "{}", probe.stdout);
    let posts = server.count("POST", "/mcp");
    // a new process knows no nonce: the RS challenges its first request once; after that
    // the client follows the nonce the server rotates on every answer
    assert_eq!(server.dpop_nonce_challenges(), (1, 1), "{posts} posts");
    assert!(posts >= 3, "several MCP requests were made: {posts}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_required_is_refused_by_a_server_without_dpop() {
    let server = TestServer::start(Scenario::Default);
    let env = CliEnv::new();
    let mcp = server.mcp_url();
    let cfg = env.write_config(
        "fastagent.config.yaml",
        &format!(
            "mcp:\n  servers:\n    plain:\n      url: \"{mcp}\"\n      auth:\n        persist: file\n        dpop: required\n"
        ),
    );
    let cfg = cfg.to_string_lossy().to_string();
    let run = env.run(&["-c", &cfg, "login", "plain"]).failed();
    assert!(
        run.stderr.contains("dpop: required") && run.stderr.contains("ES256"),
        "{}",
        run.stderr
    );
    assert_eq!(server.count("GET", "/authorize"), 0, "no login was started");
    assert!(!env.store_file().exists() || !stored(&env).keys().any(|k| k.starts_with("tokens:")));

    // an unknown value is a configuration error naming the choices
    let bad = env.write_config(
        "bad.yaml",
        &format!("mcp:\n  servers:\n    plain:\n      url: \"{mcp}\"\n      auth:\n        dpop: sometimes\n"),
    );
    let run = env
        .run(&["-c", &bad.to_string_lossy(), "status", "plain"])
        .failed();
    assert!(run.stderr.contains("auto, required, off"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_stolen_from_the_store_is_refused_without_the_key() {
    let server = TestServer::start(Scenario::Dpop);
    let env = CliEnv::new();
    let mcp = server.mcp_url();
    let identity = server.base_url();
    let (run, _) = env.run_with_browser(&["login", &mcp]).await;
    run.ok();
    let rec = token_record(&env, &identity);
    let stolen = rec["access_token"].as_str().expect("token").to_string();
    // `mcp-auth token` prints the same token: it is no more use to a thief
    let printed = env.run(&["token", &mcp]).ok();
    assert_eq!(printed.stdout.trim(), stolen);
    assert!(printed.stderr.contains("DPoP-bound"), "{}", printed.stderr);

    // as a bearer token
    let (status, challenge) =
        mcp_post(&mcp, &[("authorization", format!("Bearer {stolen}"))]).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("DPoP-bound"), "{challenge}");
    // with the DPoP scheme but no proof
    let (status, challenge) = mcp_post(&mcp, &[("authorization", format!("DPoP {stolen}"))]).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("proof is required"), "{challenge}");
    // with a well-formed proof by the thief's own key
    let thief = SigningKey::generate_es256().expect("key");
    let proof = proof_by(&thief, &mcp, &stolen).await;
    let (status, challenge) = mcp_post(
        &mcp,
        &[("authorization", format!("DPoP {stolen}")), ("dpop", proof)],
    )
    .await;
    assert_eq!(status, 401);
    assert!(challenge.contains("another key"), "{challenge}");

    // the owner, with the key, is still served
    env.run(&["probe", &mcp]).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_sse_transport_carries_proofs_and_answers_nonces() {
    let server = TestServer::start(Scenario::DpopNonce);
    let env = CliEnv::new();
    let sse = server.sse_url();
    let (run, authorizations) = env
        .run_with_browser(&[
            "probe",
            &sse,
            "--transport",
            "sse",
            "--call",
            "echo",
            "--args",
            r#"{"text":"bound-over-sse"}"#,
        ])
        .await;
    let run = run.ok();
    assert_eq!(authorizations, 1);
    assert!(run.stdout.contains("bound-over-sse"), "{}", run.stdout);
    // the stream's GET and every POST to the endpoint went with the DPoP scheme
    let authorized: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| (r.path == "/sse" || r.path == "/messages") && r.auth_scheme.is_some())
        .collect();
    assert!(
        authorized.iter().any(|r| r.path == "/messages"),
        "{authorized:?}"
    );
    assert!(authorized
        .iter()
        .all(|r| r.auth_scheme.as_deref() == Some("DPoP")));
    // the stream's nonce challenge was answered without a refresh
    assert_eq!(server.grant_count("refresh_token"), 0);
    assert!(server.dpop_nonce_challenges().1 >= 1);
}
