//! Cross-process refresh: eight `mcp-auth token` processes start at once on an expired token
//! against a testkit that rotates refresh tokens and revokes the grant on reuse. The file
//! lock makes exactly one of them refresh; all eight print a token the server accepts.

mod common;

use common::{mcp_status_with, CliEnv};
use mcp_auth_testkit::{Scenario, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_parallel_token_commands_refresh_exactly_once() {
    let server = TestServer::start(Scenario::Default);
    let env = CliEnv::new();
    let mcp = server.mcp_url();
    let identity = server.base_url();
    let (run, _) = env.run_with_browser(&["login", &mcp]).await;
    run.ok();

    // the stored token is expired (client side) and dead (server side)
    let text = std::fs::read_to_string(env.store_file()).expect("store");
    let mut map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).expect("json");
    let key = common::token_key_in(&map, &identity);
    let mut rec: serde_json::Value =
        serde_json::from_str(map[&key].as_str().expect("record")).expect("record json");
    let old = rec["access_token"].as_str().expect("at").to_string();
    rec["expires_at"] = serde_json::json!(1);
    map.insert(key, serde_json::Value::String(rec.to_string()));
    std::fs::write(
        env.store_file(),
        serde_json::to_string(&map).expect("encode"),
    )
    .expect("write");
    server.expire_access_tokens();
    server.clear_log();

    let children: Vec<_> = (0..8)
        .map(|_| env.command(&["token", &mcp]).spawn().expect("spawn"))
        .collect();
    let mut tokens = Vec::new();
    for c in children {
        let out = c.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "a token process failed: {stderr}");
        tokens.push(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }
    assert_eq!(
        server.count("POST", "/token"),
        1,
        "requests: {:?}",
        server.request_lines()
    );
    assert!(tokens.iter().all(|t| t != &old && !t.is_empty()));
    for t in &tokens {
        assert_eq!(mcp_status_with(&mcp, t).await, 200);
    }
}
