//! The CLI end to end against the testkit over real HTTP on 127.0.0.1: login through a
//! scripted browser, status, token, probe, refresh after expiry, step-up, clear; and the
//! paste fallback when the callback port is taken.

mod common;

use common::{mcp_status_with, CliEnv};
use mcp_auth_testkit::{Scenario, TestServer};
use std::io::{BufRead, BufReader, Write};
use std::time::{Duration, Instant};

fn stored(env: &CliEnv) -> serde_json::Map<String, serde_json::Value> {
    let text = std::fs::read_to_string(env.store_file()).expect("the token file exists");
    serde_json::from_str(&text).expect("the token file is a JSON object")
}

fn set_expired(env: &CliEnv, identity: &str) {
    let mut map = stored(env);
    let key = common::token_key_in(&map, identity);
    let rec = map
        .get(&key)
        .and_then(|v| v.as_str())
        .expect("a token record");
    let mut rec: serde_json::Value = serde_json::from_str(rec).expect("record JSON");
    rec["expires_at"] = serde_json::json!(1);
    map.insert(key, serde_json::Value::String(rec.to_string()));
    std::fs::write(
        env.store_file(),
        serde_json::to_string(&map).expect("encode"),
    )
    .expect("write store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_status_token_probe_refresh_step_up_clear() {
    let server = TestServer::start(Scenario::Default);
    let env = CliEnv::new();
    let mcp = server.mcp_url();
    let identity = server.base_url();

    // login: the browser is opened, the callback arrives, tokens are stored
    let (run, authorizations) = env.run_with_browser(&["login", &mcp]).await;
    let run = run.ok();
    assert_eq!(authorizations, 1);
    assert!(
        run.stdout.contains(&format!(
            "Authenticated. Tokens stored for identity: {identity} (resource {mcp})"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("/authorize?"),
        "the URL is always printed"
    );
    assert!(stored(&env)
        .keys()
        .any(|k| k.starts_with(&format!("tokens:{identity}|"))));
    assert!(
        !run.stdout.contains("access_token") && !run.stderr.contains("Bearer"),
        "login prints no token"
    );

    // status shows it
    let st = env.run(&["status", "--json"]).ok().json();
    let tokens = st["tokens"].as_array().expect("tokens");
    let row = tokens
        .iter()
        .find(|t| t["identity"] == identity.as_str())
        .expect("the identity is listed");
    assert_eq!(row["present"], true);
    assert_eq!(row["expired"], false);
    assert_eq!(row["store"], "file");
    let human = env.run(&["status"]).ok();
    assert!(human.stdout.contains(&identity) && human.stdout.contains('✓'));

    // token prints only a token, and the MCP endpoint accepts it
    let tok = env.run(&["token", &mcp]).ok();
    assert_eq!(tok.stdout.lines().count(), 1);
    let first = tok.stdout.trim().to_string();
    assert_eq!(mcp_status_with(&mcp, &first).await, 200);

    // probe lists the tools
    let probe = env.run(&["probe", &mcp]).ok();
    for tool in ["echo", "whoami", "write_note"] {
        assert!(probe.stdout.contains(tool), "{}", probe.stdout);
    }
    let call = env
        .run(&[
            "probe",
            &mcp,
            "--call",
            "echo",
            "--args",
            r#"{"text":"hello-cli"}"#,
        ])
        .ok();
    assert!(call.stdout.contains("hello-cli"), "{}", call.stdout);

    // refresh after expiry: exactly one token request, a new working token
    set_expired(&env, &identity);
    server.expire_access_tokens();
    server.clear_log();
    let tok = env.run(&["token", &mcp]).ok();
    let second = tok.stdout.trim().to_string();
    assert_ne!(second, first);
    assert_eq!(
        server.count("POST", "/token"),
        1,
        "{:?}",
        server.request_lines()
    );
    assert_eq!(mcp_status_with(&mcp, &second).await, 200);
    assert_eq!(mcp_status_with(&mcp, &first).await, 401);

    // step-up: write_note needs mcp:write; probe re-authorizes once with the union
    let (run, authorizations) = env
        .run_with_browser(&[
            "probe",
            &mcp,
            "--call",
            "write_note",
            "--args",
            r#"{"text":"n"}"#,
        ])
        .await;
    let run = run.ok();
    assert_eq!(authorizations, 1, "{}", run.stderr);
    let st = env.run(&["status", &mcp, "--json"]).ok().json();
    let scope = st["tokens"][0]["scope"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        scope.contains("mcp:write") && scope.contains("mcp:read"),
        "{scope}"
    );

    // the server forgets the token early: probe sees 401, refreshes once, no new login
    server.expire_access_tokens();
    server.clear_log();
    let (run, authorizations) = env.run_with_browser(&["probe", &mcp]).await;
    let run = run.ok();
    assert_eq!(authorizations, 0, "{}", run.stderr);
    assert!(run.stdout.contains("echo"));
    assert_eq!(
        server.count("POST", "/token"),
        1,
        "{:?}",
        server.request_lines()
    );

    // clear refuses without a terminal or --yes
    let refused = env.run(&["clear", "--identity", &identity]).failed();
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert!(stored(&env)
        .keys()
        .any(|k| k.starts_with(&format!("tokens:{identity}|"))));

    // clear --yes revokes and deletes
    let revoked_before = server.revoked_count();
    let cleared = env.run(&["clear", "--identity", &identity, "--yes"]).ok();
    assert!(
        server.revoked_count() > revoked_before,
        "{}",
        cleared.stdout
    );
    assert!(cleared.stdout.contains("revoked"), "{}", cleared.stdout);
    assert!(!stored(&env).keys().any(|k| k.starts_with("tokens:")));
    let st = env.run(&["status", "--json"]).ok().json();
    assert_eq!(st["tokens"].as_array().map(Vec::len), Some(0));
    let gone = env.run(&["token", &mcp]).failed();
    assert!(gone.stderr.contains("mcp-auth login"), "{}", gone.stderr);
}

/// Port 3030 (the default redirect port) is taken: the CLI says so, takes the redirect URL
/// pasted on stdin, and finishes the login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paste_fallback_when_the_callback_port_is_taken() {
    let server = TestServer::start(Scenario::Default);
    let env = CliEnv::new();
    // another process holds the callback port (a port this test owns, not the shared 3030)
    let blocker = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    let port = blocker.local_addr().expect("addr").port().to_string();
    let mut cmd = env.command(&["login", &server.mcp_url(), "--no-browser"]);
    cmd.env("MCP_AUTH_REDIRECT_PORT", &port)
        .stdin(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut url = None;
    let mut prompted = false;
    let mut seen = Vec::new();
    while Instant::now() < deadline && !(url.is_some() && prompted) {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if line.trim().starts_with("http") && line.contains("/authorize?") {
                url = Some(line.trim().to_string());
            }
            if line.contains("Callback server unavailable")
                && line.contains("Please paste the full redirect URL:")
            {
                prompted = true;
            }
            seen.push(line);
        }
    }
    assert!(prompted, "no paste prompt; stderr so far: {seen:#?}");
    let url = url.expect("the authorization URL was printed");
    assert!(url.contains(&format!(
        "redirect_uri=http%3A%2F%2Flocalhost%3A{port}%2Fcallback"
    )));
    let redirect = mcp_auth_testkit::browse(&url).await.expect("approve");
    writeln!(stdin, "{redirect}").expect("paste");
    drop(stdin);
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("Authenticated. Tokens stored for identity:"),
        "{stdout}"
    );
}

/// No callback server and nothing on stdin: fails fast and says why.
#[test]
fn login_without_any_way_to_complete_fails_fast() {
    let server = TestServer::start(Scenario::Default);
    let env = CliEnv::new();
    let blocker = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    let port = blocker.local_addr().expect("addr").port().to_string();
    let start = Instant::now();
    let run = env
        .run(&[
            "login",
            &server.mcp_url(),
            "--no-browser",
            "--redirect-port",
            &port,
        ])
        .failed();
    assert!(start.elapsed() < Duration::from_secs(20));
    assert!(
        run.stderr.contains("no redirect URL on standard input"),
        "{}",
        run.stderr
    );
    assert!(
        !env.store_file().exists()
            || !std::fs::read_to_string(env.store_file())
                .unwrap_or_default()
                .contains("tokens:")
    );
}

/// `probe` over the 2024-11-05 HTTP+SSE transport: with no token it logs in first, then
/// opens the event stream with the token and gets every answer over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_over_sse_logs_in_then_lists_and_calls() {
    let server = TestServer::start(Scenario::Default);
    let env = CliEnv::new();
    let base = server.base_url();
    let (run, n) = env
        .run_with_browser(&[
            "probe",
            &base,
            "--transport",
            "sse",
            "--call",
            "echo",
            "--args",
            r#"{"text":"over-sse"}"#,
        ])
        .await;
    let run = run.ok();
    assert_eq!(n, 1, "one login: {}", run.stderr);
    assert!(run.stdout.contains("write_note"), "{}", run.stdout);
    assert!(run.stdout.contains("over-sse"), "{}", run.stdout);
    assert!(server.count("GET", "/sse") >= 1);
    assert!(server.count("POST", "/messages") >= 3);
    assert_eq!(
        server.count("POST", "/mcp"),
        0,
        "nothing went over Streamable HTTP"
    );
}

/// A pre-registered confidential client: client_id in the config, client_secret in the
/// secrets file beside it; and the flags override the config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preregistered_client_from_config_and_secrets() {
    let server = TestServer::start(Scenario::Preregistered);
    let env = CliEnv::new();
    env.write_config(
        "fastagent.config.yaml",
        &format!(
            "mcp:\n  servers:\n    pre:\n      url: {}\n      auth:\n        client_id: basic-client\n",
            server.mcp_url()
        ),
    );
    env.write_config(
        "fastagent.secrets.yaml",
        "mcp:\n  servers:\n    pre:\n      auth:\n        client_secret: basic-secret\n",
    );
    let (run, n) = env.run_with_browser(&["login", "pre"]).await;
    let run = run.ok();
    assert_eq!(n, 1);
    assert!(run.stdout.contains("Tokens stored for identity"));
    assert!(!run.stderr.contains("basic-secret") && !run.stdout.contains("basic-secret"));
    assert_eq!(server.count("POST", "/register"), 0);
    let tok = env.run(&["token", "pre"]).ok();
    assert_eq!(
        mcp_status_with(&server.mcp_url(), tok.stdout.trim()).await,
        200
    );

    // flags win over the config: a public client by URL
    let env2 = CliEnv::new();
    let (run, _) = env2
        .run_with_browser(&["login", &server.mcp_url(), "--client-id", "public-client"])
        .await;
    run.ok();
    let whoami = env2
        .run(&["probe", &server.mcp_url(), "--call", "whoami", "--json"])
        .ok()
        .json();
    assert!(
        whoami["call"].to_string().contains("public-client"),
        "{whoami}"
    );
}
