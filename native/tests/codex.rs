//! Codex (ChatGPT sign-in) against the testkit's `/oauth/*` endpoints, selected with
//! `MCP_AUTH_CODEX_ISSUER`; the fixed client redirects to localhost:1455, so this is the only
//! test that logs in to Codex. Also: a Codex CLI `auth.json` is read, never written.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::CliEnv;
use mcp_auth_testkit::{Scenario, TestServer, CODEX_ACCOUNT_ID};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_login_plan_status_clear() {
    let server = TestServer::start(Scenario::Default);
    let mut env = CliEnv::new();
    env.extra_env
        .push(("MCP_AUTH_CODEX_ISSUER".into(), server.base_url()));

    let st = env.run(&["status", "--json"]).ok().json();
    assert_eq!(st["codex"]["logged_in"], false);
    let plan = env.run(&["codexplan"]).failed();
    assert!(
        plan.stderr.contains("mcp-auth codex-login"),
        "{}",
        plan.stderr
    );

    let (run, n) = env.run_with_browser(&["codex-login"]).await;
    let run = run.ok();
    assert_eq!(n, 1);
    assert!(
        run.stdout.contains(&format!(
            "Authenticated with ChatGPT (account {CODEX_ACCOUNT_ID})"
        )),
        "{}",
        run.stdout
    );
    let url = std::fs::read_to_string(env.path().join("urls.txt")).expect("urls");
    for part in [
        "/oauth/authorize?",
        "client_id=app_EMoamEEZ73f0CkXaXp7hrann",
        "redirect_uri=http%3A%2F%2Flocalhost%3A1455%2Fauth%2Fcallback",
        "id_token_add_organizations=true",
        "codex_cli_simplified_flow=true",
        "originator=mcp-auth",
        "code_challenge_method=S256",
    ] {
        assert!(url.contains(part), "{part} missing from {url}");
    }
    assert!(server.count("POST", "/oauth/token") >= 1);

    let st = env.run(&["status", "--json"]).ok().json();
    assert_eq!(st["codex"]["logged_in"], true, "{st}");
    assert_eq!(st["codex"]["account_id"], CODEX_ACCOUNT_ID);
    let human = env.run(&["status"]).ok();
    assert!(human.stdout.contains("Codex OAuth: ✓"), "{}", human.stdout);

    // codexplan finds the sign-in and does not log in again
    let plan = env.run(&["codexplan"]).ok();
    assert!(plan.stdout.contains(CODEX_ACCOUNT_ID), "{}", plan.stdout);

    let refused = env.run(&["codex-clear"]).failed();
    assert!(refused.stderr.contains("--yes"));
    let cleared = env.run(&["codex-clear", "--yes"]).ok();
    assert!(
        cleared.stdout.contains("Removed the Codex sign-in"),
        "{}",
        cleared.stdout
    );
    let st = env.run(&["status", "--json"]).ok().json();
    assert_eq!(st["codex"]["logged_in"], false);
}

#[test]
fn codex_cli_auth_json_is_read_and_never_written() {
    let env = CliEnv::new();
    let codex_home = env.path().join("codex");
    std::fs::create_dir_all(&codex_home).expect("mkdir");
    let claims = r#"{"https://api.openai.com/auth":{"chatgpt_account_id":"acct_from_cli","chatgpt_plan_type":"pro"}}"#;
    let id_token = format!(
        "{}.{}.sig",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let text = format!(
        r#"{{"OPENAI_API_KEY":null,"tokens":{{"id_token":"{id_token}","access_token":"cli-at","refresh_token":"cli-rt"}},"last_refresh":"2026-01-01T00:00:00Z"}}"#
    );
    let path = codex_home.join("auth.json");
    std::fs::write(&path, &text).expect("write");

    let st = env.run(&["status", "--json"]).ok().json();
    assert_eq!(st["codex"]["logged_in"], true, "{st}");
    assert_eq!(st["codex"]["account_id"], "acct_from_cli");
    assert_eq!(st["codex"]["plan_type"], "pro");
    assert!(st["codex"]["source"]
        .as_str()
        .unwrap_or_default()
        .contains("auth.json"));
    let plan = env.run(&["codexplan"]).ok();
    assert!(plan.stdout.contains("acct_from_cli"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("cli-at"), "no token is printed");
    let cleared = env.run(&["codex-clear", "--yes"]).ok();
    assert!(
        cleared.stdout.contains("left untouched"),
        "{}",
        cleared.stdout
    );
    assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
}
