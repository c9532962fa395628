//! The grants without a browser through the CLI, against the testkit's strict authorization
//! server and identity provider: client credentials (client_secret_basic / _post,
//! private_key_jwt with ES256 and RS256 keys from PEM and JWK files), the JWT-bearer grant
//! with a workload token (file, environment, command), and enterprise-managed authorization
//! (token exchange at the IdP for an ID-JAG, then the JWT-bearer grant). Every refusal is
//! an error naming who refused and why, sent once, with nothing stored.

mod common;

use common::{mcp_status_with, CliEnv, Run};
use mcp_auth_testkit::{AuthMethod, Scenario, StaticClient, TestServer};

const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/keys");

fn key_file(name: &str) -> String {
    format!("{KEYS}/{name}")
}

fn public_jwk(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(key_file(name)).expect("read key");
    serde_json::from_str(&text).expect("jwk")
}

/// A config with one server `svc` and these `auth:` lines (YAML, already indented).
fn config(env: &CliEnv, server: &TestServer, auth: &str) {
    env.write_config(
        "fastagent.config.yaml",
        &format!(
            "mcp:\n  servers:\n    svc:\n      url: {}\n      auth:\n        persist: file\n{auth}",
            server.mcp_url()
        ),
    );
}

/// The token records in the store (none when it does not exist).
fn stored_tokens(env: &CliEnv) -> Vec<serde_json::Value> {
    let Ok(text) = std::fs::read_to_string(env.store_file()) else {
        return Vec::new();
    };
    let store: serde_json::Value = serde_json::from_str(&text).expect("store json");
    let mut out = Vec::new();
    if let Some(map) = store.as_object() {
        for (k, v) in map.iter().chain(
            store
                .get("records")
                .and_then(|r| r.as_object())
                .into_iter()
                .flatten(),
        ) {
            if k.starts_with("tokens:") {
                let rec = match v {
                    serde_json::Value::String(s) => serde_json::from_str(s).expect("record"),
                    other => other.clone(),
                };
                out.push(rec);
            }
        }
    }
    out
}

fn no_browser(env: &CliEnv) {
    assert!(
        !env.path().join("urls.txt").exists(),
        "a grant without a browser opened one"
    );
}

async fn token_works(env: &CliEnv, server: &TestServer) -> String {
    let run = env.run(&["token", "svc"]).ok();
    let token = run.stdout.trim().to_string();
    assert_eq!(mcp_status_with(&server.mcp_url(), &token).await, 200);
    no_browser(env);
    token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_with_a_secret_basic_or_post() {
    for (method, name) in [
        (AuthMethod::ClientSecretBasic, "client_secret_basic"),
        (AuthMethod::ClientSecretPost, "client_secret_post"),
    ] {
        let server = TestServer::start(Scenario::Default);
        server.register_grant_client(StaticClient::confidential(
            "svc-client",
            "svc-secret",
            method,
            &[],
        ));
        let env = CliEnv::new();
        config(
            &env,
            &server,
            &format!(
                "        grant: client_credentials\n        client_id: svc-client\n        client_secret: svc-secret\n        client_auth: {name}\n"
            ),
        );
        let token = token_works(&env, &server).await;
        assert_eq!(server.grant_count("client_credentials"), 1, "{name}");
        // the stored token serves the next command; no second grant
        let again = env.run(&["token", "svc"]).ok();
        assert_eq!(again.stdout.trim(), token);
        assert_eq!(server.grant_count("client_credentials"), 1);
        let records = stored_tokens(&env);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0]["flow"], "client_credentials");
        assert!(records[0].get("refresh_token").is_none(), "{}", records[0]);
        let st = env.run(&["status", "--json"]).ok().json();
        assert_eq!(st["tokens"][0]["flow"], "client_credentials", "{st}");
        let text = env.run(&["status", "svc"]).ok();
        assert!(
            text.stdout.contains("client_credentials grant"),
            "{}",
            text.stdout
        );
        assert!(!text.stdout.contains("svc-secret") && !text.stderr.contains("svc-secret"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_client_credentials_token_is_renewed_by_the_grant() {
    let server = TestServer::start_with(mcp_auth_testkit::Options {
        scenario: Scenario::Default,
        token_lifetime_secs: Some(1),
        ..Default::default()
    })
    .expect("start");
    server.register_grant_client(StaticClient::confidential(
        "svc-client",
        "svc-secret",
        AuthMethod::ClientSecretBasic,
        &[],
    ));
    let env = CliEnv::new();
    config(
        &env,
        &server,
        "        grant: client_credentials\n        client_id: svc-client\n        client_secret: svc-secret\n",
    );
    let first = env.run(&["token", "svc"]).ok().stdout;
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let second = token_works(&env, &server).await;
    assert_ne!(first.trim(), second, "a new token after expiry");
    assert_eq!(server.grant_count("client_credentials"), 2);
    assert_eq!(server.grant_count("refresh_token"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_key_jwt_with_es256_and_rs256_keys_from_pem_and_jwk() {
    for (key, public) in [
        ("es256.pem", "es256.public.jwk.json"),
        ("es256.sec1.pem", "es256.public.jwk.json"),
        ("es256.jwk.json", "es256.public.jwk.json"),
        ("rs256.pem", "rs256.public.jwk.json"),
        ("rs256.pkcs1.pem", "rs256.public.jwk.json"),
        ("rs256.jwk.json", "rs256.public.jwk.json"),
    ] {
        let server = TestServer::start(Scenario::Default);
        server.register_key_client("key-client", public_jwk(public));
        let env = CliEnv::new();
        config(
            &env,
            &server,
            &format!(
                "        grant: client_credentials\n        client_id: key-client\n        private_key_file: {}\n",
                key_file(key)
            ),
        );
        token_works(&env, &server).await;
        let token_requests: Vec<_> = server
            .requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/token"))
            .collect();
        assert_eq!(token_requests.len(), 1, "{key}");
        let fields = &token_requests[0].form_fields;
        assert!(
            fields.iter().any(|f| f == "client_assertion")
                && !fields.iter().any(|f| f == "client_secret")
                && token_requests[0].auth_scheme.is_none(),
            "{key}: no secret, a signed assertion: {fields:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_assertion_with_the_wrong_key_is_refused_and_nothing_is_stored() {
    let server = TestServer::start(Scenario::Default);
    server.register_key_client("key-client", public_jwk("es256.public.jwk.json"));
    let env = CliEnv::new();
    // another P-256 key than the registered one: a signature the server cannot verify
    let other = mcp_auth_core::SigningKey::generate_es256().expect("key");
    let other_file = env.work().join("other.jwk.json");
    let jwk = mcp_auth_core::json::Json::Object(other.private_jwk().expect("an EC key"));
    std::fs::write(&other_file, jwk.to_string()).expect("write key");
    config(
        &env,
        &server,
        &format!(
            "        grant: client_credentials\n        client_id: key-client\n        private_key_file: {}\n",
            other_file.display()
        ),
    );
    let run = env.run(&["token", "svc"]).failed();
    assert!(
        run.stderr.contains("refused") && run.stderr.contains("invalid_client"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("signature"), "{}", run.stderr);
    assert!(stored_tokens(&env).is_empty());
    assert_eq!(server.grant_count("client_credentials"), 1, "sent once");

    // an RS256 key for a client registered with an EC key: refused the same way
    config(
        &env,
        &server,
        &format!(
            "        grant: client_credentials\n        client_id: key-client\n        private_key_file: {}\n",
            key_file("rs256.pem")
        ),
    );
    env.run(&["token", "svc"]).failed();
    assert!(stored_tokens(&env).is_empty());
}

fn wif_config(env: &CliEnv, server: &TestServer, source: &str) {
    config(
        env,
        server,
        &format!("        grant: jwt_bearer\n        client_id: wl-client\n{source}"),
    );
}

fn wif_server() -> TestServer {
    let server = TestServer::start(Scenario::Default);
    server.register_grant_client(StaticClient::public("wl-client", &[]));
    server
}

fn write_token(env: &CliEnv, name: &str, token: &str) -> String {
    let p = env.work().join(name);
    std::fs::write(&p, token).expect("write token");
    p.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_identity_from_a_file_an_env_var_or_a_command() {
    let jwt = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    for source in ["file", "env", "command"] {
        let server = wif_server();
        let mut env = CliEnv::new();
        let token = server.mint_workload_token(&server.issuer(), 300, None);
        let line = match source {
            "file" => format!(
                "        assertion_file: {}\n",
                write_token(&env, "token.jwt", &token)
            ),
            "env" => {
                env.extra_env.push(("WORKLOAD_TOKEN".into(), token.clone()));
                "        assertion_env: WORKLOAD_TOKEN\n".into()
            }
            _ => format!(
                "        assertion_command: cat {}\n",
                write_token(&env, "token.jwt", &token)
            ),
        };
        wif_config(&env, &server, &line);
        token_works(&env, &server).await;
        assert_eq!(server.grant_count(jwt), 1, "{source}");
        assert_eq!(stored_tokens(&env)[0]["flow"], "jwt_bearer");
    }
}

/// Each refused assertion: the error names the authorization server and the reason, the
/// grant is sent once (no retry, no other grant), nothing is stored.
async fn refused(server: &TestServer, token: &str, reason: &str) -> Run {
    let env = CliEnv::new();
    let file = write_token(&env, "token.jwt", token);
    wif_config(&env, server, &format!("        assertion_file: {file}\n"));
    let before = server.requests().len();
    let run = env.run(&["probe", "svc"]).failed();
    assert!(
        run.stderr.contains("MCP authorization server") && run.stderr.contains("invalid_grant"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(reason), "{reason}: {}", run.stderr);
    let grants = server.requests()[before..]
        .iter()
        .filter(|r| r.path.ends_with("/token"))
        .count();
    assert_eq!(grants, 1, "{reason}: sent once");
    assert!(stored_tokens(&env).is_empty(), "{reason}: nothing stored");
    no_browser(&env);
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_audience_expired_replayed_and_forged_workload_tokens_are_refused() {
    let server = wif_server();
    let wrong_aud = server.mint_workload_token("https://wrong.example", 300, None);
    refused(&server, &wrong_aud, "audience").await;
    let expired = server.mint_workload_token(&server.issuer(), -60, None);
    refused(&server, &expired, "expired").await;

    // the first use is fine, the same token again is a replay
    let once = server.mint_workload_token(&server.issuer(), 300, Some("jti-once"));
    let env = CliEnv::new();
    let file = write_token(&env, "token.jwt", &once);
    wif_config(&env, &server, &format!("        assertion_file: {file}\n"));
    token_works(&env, &server).await;
    refused(&server, &once, "replayed").await;

    // a token whose signature is not the platform's
    let mut parts: Vec<String> = server
        .mint_workload_token(&server.issuer(), 300, None)
        .split('.')
        .map(str::to_string)
        .collect();
    let other = server.mint_workload_token(&server.issuer(), 300, None);
    parts[2] = other.rsplit('.').next().expect("sig").to_string();
    refused(&server, &parts.join("."), "signature").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_assertion_or_key_is_a_clear_error_before_anything_is_sent() {
    let server = wif_server();
    let env = CliEnv::new();
    wif_config(
        &env,
        &server,
        "        assertion_command: echo no token here >&2; exit 3\n",
    );
    let run = env.run(&["token", "svc"]).failed();
    assert!(
        run.stderr.contains("workload identity token")
            && run.stderr.contains("it failed")
            && run.stderr.contains("no token here"),
        "{}",
        run.stderr
    );
    wif_config(&env, &server, "        assertion_file: missing.jwt\n");
    let run = env.run(&["token", "svc"]).failed();
    assert!(run.stderr.contains("missing.jwt"), "{}", run.stderr);
    assert_eq!(
        server.grant_count("urn:ietf:params:oauth:grant-type:jwt-bearer"),
        0
    );

    config(
        &env,
        &server,
        "        grant: client_credentials\n        client_id: c\n        private_key_file: nowhere.pem\n",
    );
    let run = env.run(&["token", "svc"]).failed();
    assert!(
        run.stderr.contains("cannot read private_key_file") && run.stderr.contains("nowhere.pem"),
        "{}",
        run.stderr
    );
    config(
        &env,
        &server,
        &format!(
            "        grant: client_credentials\n        client_id: c\n        private_key_file: {}\n",
            key_file("es384.pem")
        ),
    );
    let run = env.run(&["token", "svc"]).failed();
    assert!(
        run.stderr.contains("ES384 (P-384) is not supported"),
        "{}",
        run.stderr
    );
    config(
        &env,
        &server,
        "        grant: jwt_bearer\n        client_id: c\n",
    );
    let run = env.run(&["token", "svc"]).failed();
    assert!(run.stderr.contains("assertion_file"), "{}", run.stderr);
    assert!(stored_tokens(&env).is_empty());
}

fn enterprise_config(env: &CliEnv, server: &TestServer, id_token: &str) {
    let file = write_token(env, "id.jwt", id_token);
    config(
        env,
        server,
        &format!(
            "        grant: token_exchange\n        client_id: mcp-client\n        client_secret: mcp-secret\n        idp_token_endpoint: {}\n        idp_client_id: {}\n        id_token_file: {file}\n",
            server.idp_token_endpoint(),
            TestServer::IDP_CLIENT_ID
        ),
    );
}

fn enterprise_server() -> TestServer {
    let server = TestServer::start(Scenario::Default);
    server.register_grant_client(StaticClient::confidential(
        "mcp-client",
        "mcp-secret",
        AuthMethod::ClientSecretBasic,
        &[],
    ));
    server.set_id_jag_client("mcp-client");
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enterprise_managed_authorization_exchanges_the_id_token_for_an_id_jag() {
    let server = enterprise_server();
    let env = CliEnv::new();
    let id_token = server.mint_id_token(TestServer::IDP_CLIENT_ID, 300);
    enterprise_config(&env, &server, &id_token);
    let probe = env.run(&["probe", "svc", "--json"]).ok().json();
    assert!(probe.to_string().contains("tools"), "{probe}");
    assert_eq!(server.count("POST", "/idp/token"), 1);
    assert_eq!(
        server.grant_count("urn:ietf:params:oauth:grant-type:jwt-bearer"),
        1
    );
    assert_eq!(stored_tokens(&env)[0]["flow"], "token_exchange");
    no_browser(&env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_exchange_names_the_identity_provider() {
    let server = enterprise_server();
    let env = CliEnv::new();
    // an ID token for another client at the IdP
    let id_token = server.mint_id_token("someone-else", 300);
    enterprise_config(&env, &server, &id_token);
    let run = env.run(&["token", "svc"]).failed();
    assert!(
        run.stderr.contains("identity provider at")
            && run.stderr.contains("invalid_grant")
            && run.stderr.contains("not issued for this client"),
        "{}",
        run.stderr
    );
    assert_eq!(
        server.grant_count("urn:ietf:params:oauth:grant-type:jwt-bearer"),
        0,
        "nothing reached the MCP authorization server's token endpoint"
    );
    assert!(stored_tokens(&env).is_empty());

    // an ID-JAG for another MCP client: the MCP authorization server refuses it
    let server = enterprise_server();
    server.set_id_jag_client("another-client");
    let env = CliEnv::new();
    enterprise_config(
        &env,
        &server,
        &server.mint_id_token(TestServer::IDP_CLIENT_ID, 300),
    );
    let run = env.run(&["token", "svc"]).failed();
    assert!(
        run.stderr.contains("MCP authorization server") && run.stderr.contains("another client"),
        "{}",
        run.stderr
    );
    assert!(stored_tokens(&env).is_empty());
}

/// Under DPoP with nonces, the token request is answered `use_dpop_nonce` first; the retry
/// carries a new client assertion (a fresh `jti`: the server saw the first one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_key_jwt_under_dpop_nonces_signs_a_new_assertion_for_the_retry() {
    let server = TestServer::start(Scenario::DpopNonce);
    server.register_key_client("key-client", public_jwk("es256.public.jwk.json"));
    let env = CliEnv::new();
    config(
        &env,
        &server,
        &format!(
            "        grant: client_credentials\n        client_id: key-client\n        private_key_file: {}\n",
            key_file("es256.pem")
        ),
    );
    let probe = env.run(&["probe", "svc", "--json"]).ok().json();
    assert!(probe.to_string().contains("tools"), "{probe}");
    let (as_challenges, _) = server.dpop_nonce_challenges();
    assert!(as_challenges >= 1, "the AS demanded a nonce first");
    assert_eq!(
        server.grant_count("client_credentials"),
        as_challenges as usize + 1
    );
    let records = stored_tokens(&env);
    assert!(records[0].get("dpop_jkt").is_some(), "{}", records[0]);
    no_browser(&env);
}

/// The grant keys are known keys (a typo beside them is still pointed out), an `.mcp.json`
/// server takes the same `auth` block, and a broken grant setting names file and server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_settings_in_yaml_and_mcp_json_and_their_errors() {
    let server = TestServer::start(Scenario::Default);
    server.register_grant_client(StaticClient::confidential(
        "svc-client",
        "svc-secret",
        AuthMethod::ClientSecretPost,
        &[],
    ));
    let env = CliEnv::new();
    config(
        &env,
        &server,
        "        grant: client_credentials\n        client_id: svc-client\n        client_secret: svc-secret\n        client_auth: client_secret_post\n        signing_alg: ES256\n        assertion_fiel: typo\n",
    );
    let run = env.run(&["status"]).ok();
    assert!(
        run.stderr.contains("unknown key `auth.assertion_fiel`"),
        "{}",
        run.stderr
    );
    for known in ["grant", "client_auth", "signing_alg"] {
        assert!(
            !run.stderr.contains(&format!("`auth.{known}`")),
            "{known} is known: {}",
            run.stderr
        );
    }

    let env = CliEnv::new();
    env.write_config(
        ".mcp.json",
        &serde_json::json!({"mcpServers": {"svc": {"url": server.mcp_url(), "auth": {
            "persist": "file", "grant": "client_credentials", "client_id": "svc-client",
            "client_secret": "svc-secret", "client_auth": "client_secret_post"}}}})
        .to_string(),
    );
    token_works(&env, &server).await;
    assert_eq!(stored_tokens(&env)[0]["flow"], "client_credentials");

    for (auth, says) in [
        (
            "        grant: password\n",
            "`grant: password` is not known",
        ),
        (
            "        grant: jwt_bearer\n        assertion_env: A\n        assertion_file: b\n",
            "set only one of assertion_file, assertion_env and assertion_command",
        ),
        (
            "        grant: token_exchange\n        client_id: c\n",
            "needs idp_token_endpoint, idp_client_id, id_token_file",
        ),
        (
            "        signing_alg: HS256\n",
            "HS256 is not supported; use ES256 or RS256",
        ),
        (
            "        client_auth: private_key_jwt\n",
            "`client_auth: private_key_jwt` needs `private_key_file`",
        ),
    ] {
        let env = CliEnv::new();
        config(&env, &server, auth);
        let run = env.run(&["status"]).failed();
        assert!(
            run.stderr.contains(says) && run.stderr.contains("server `svc`"),
            "{says}: {}",
            run.stderr
        );
    }
}
