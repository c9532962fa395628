//! The OS keyring. The `#[ignore]`d tests need a real Secret Service: `native/tests/keyring.sh`
//! runs them inside `dbus-run-session` with an unlocked gnome-keyring. The fallback test runs
//! everywhere: without any D-Bus session the CLI must say honestly that tokens stay in memory.

mod common;

use common::{mcp_status_with, CliEnv};
use mcp_auth_testkit::{Scenario, TestServer};

fn keyring_entry(key: &str) -> Option<String> {
    let entry = keyring::Entry::new("mcp-auth", key).expect("entry");
    match entry.get_password() {
        Ok(v) => Some(v),
        Err(keyring::Error::NoEntry) => None,
        Err(e) => panic!("the Secret Service failed: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Secret Service: run native/tests/keyring.sh"]
async fn keyring_login_token_status_clear() {
    let server = TestServer::start(Scenario::Default);
    let mut env = CliEnv::new();
    env.store = None; // the default: the keyring
    let mcp = server.mcp_url();
    let identity = server.base_url();

    let index_before = tokio::task::spawn_blocking(|| keyring_entry("index"))
        .await
        .expect("join");
    let st = env.run(&["status", "--json"]).ok().json();
    assert_eq!(st["keyring"]["available"], true, "{st}");
    let index_after = tokio::task::spawn_blocking(|| keyring_entry("index"))
        .await
        .expect("join");
    assert_eq!(index_before, index_after, "status wrote to the keyring");

    let (run, n) = env.run_with_browser(&["login", &mcp]).await;
    let run = run.ok();
    assert_eq!(n, 1);
    assert!(
        run.stdout.contains("Tokens stored for identity"),
        "{}",
        run.stdout
    );
    assert!(!run.stderr.contains("memory only"), "{}", run.stderr);
    // really in the Secret Service, and not in a file
    let rec = tokio::task::spawn_blocking({
        let key = format!("tokens:{identity}|{}", server.mcp_url());
        move || keyring_entry(&key)
    })
    .await
    .expect("join")
    .expect("the token record is in the keyring");
    assert!(rec.contains("\"access_token\""));
    assert!(!env.store_file().exists());

    let st = env.run(&["status", "--json"]).ok().json();
    let row = st["tokens"]
        .as_array()
        .and_then(|t| t.iter().find(|r| r["identity"] == identity.as_str()))
        .expect("listed");
    assert_eq!(row["store"], "keyring");
    assert_eq!(row["present"], true);

    // another process reads it back
    let tok = env.run(&["token", &mcp]).ok();
    assert_eq!(mcp_status_with(&mcp, tok.stdout.trim()).await, 200);

    let cleared = env.run(&["clear", "--identity", &identity, "--yes"]).ok();
    assert!(
        cleared.stdout.contains("removed tokens from keyring"),
        "{}",
        cleared.stdout
    );
    let gone = tokio::task::spawn_blocking({
        let key = format!("tokens:{identity}|{}", server.mcp_url());
        move || keyring_entry(&key)
    })
    .await
    .expect("join");
    assert!(gone.is_none(), "the keyring entry is deleted");
    env.run(&["token", &mcp]).failed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_secret_service_the_fallback_is_honest() {
    let server = TestServer::start(Scenario::Default);
    let mut env = CliEnv::new();
    env.store = None;
    let runtime_dir = env.path().join("no-runtime");
    std::fs::create_dir_all(&runtime_dir).expect("mkdir");
    env.removed_env = vec!["DBUS_SESSION_BUS_ADDRESS".into(), "DISPLAY".into()];
    env.extra_env
        .push(("XDG_RUNTIME_DIR".into(), runtime_dir.display().to_string()));

    let st = env.run(&["status", "--json"]).ok().json();
    assert_eq!(st["keyring"]["available"], false, "{st}");
    let human = env.run(&["status"]).ok();
    assert!(
        human.stdout.contains("not available") && human.stdout.contains("memory only"),
        "{}",
        human.stdout
    );

    let (run, n) = env.run_with_browser(&["login", &server.mcp_url()]).await;
    let run = run.ok();
    assert_eq!(n, 1);
    assert!(
        run.stderr.contains("Tokens will be kept in memory only")
            && run.stderr.contains("persist: file"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("kept in memory only"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("Tokens stored for identity"),
        "it must not claim the tokens were stored"
    );
    // and indeed nothing outlived the process
    let r = env.run(&["token", &server.mcp_url()]).failed();
    assert!(r.stderr.contains("mcp-auth login"), "{}", r.stderr);
    assert!(r.stderr.contains("kept in memory here"), "{}", r.stderr);
}
