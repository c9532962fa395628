//! Hostile servers against the real `mcp-auth` binary (issue 8, MCP SEP-2352): the same trust
//! properties as native/tests/hostile.rs, through the CLI's commands, config files and file
//! store; and the migration of a store written by release 0.1 (record version 1).

mod common;

use common::{mcp_status_with, CliEnv, Run};
use mcp_auth_core::oauth::query_param;
use mcp_auth_testkit::{Options, Scenario, TestServer};
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Runs a command and plays the user's browser for every URL it opens, whatever the
/// authorization server answers (a hostile one bounces straight back with an error).
/// Returns the run and the authorization URLs it opened.
async fn run_browsing_anything(env: &CliEnv, args: &[&str]) -> (Run, Vec<String>) {
    let urls_file = env.path().join("urls.txt");
    let read_urls = || -> Vec<String> {
        std::fs::read_to_string(&urls_file)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let start = read_urls().len();
    let mut seen = start;
    let mut child = tokio::process::Command::from(env.command(args))
        .spawn()
        .expect("spawn mcp-auth");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let urls = read_urls();
        while seen < urls.len() {
            // the callback page may well be an error page: that is the point
            if let Err(e) = mcp_auth_testkit::browse_and_deliver(&urls[seen]).await {
                panic!("browsing {} failed: {e}", urls[seen]);
            }
            seen += 1;
        }
        if child.try_wait().expect("try_wait").is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "mcp-auth did not finish in 60 s");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let out = child.wait_with_output().await.expect("output");
    (Run::from(out), read_urls()[start..].to_vec())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// The file store: a JSON object key → string (each value a JSON record).
fn read_store(env: &CliEnv) -> Map<String, Value> {
    let text = std::fs::read_to_string(env.store_file()).expect("read the store file");
    match serde_json::from_str(&text).expect("the store is JSON") {
        Value::Object(m) => m,
        other => panic!("the store is not an object: {other}"),
    }
}

fn write_store(env: &CliEnv, store: &Map<String, Value>) {
    std::fs::write(
        env.store_file(),
        serde_json::to_string_pretty(store).expect("encode"),
    )
    .expect("write the store file");
}

fn record(store: &Map<String, Value>, key: &str) -> Value {
    let text = store[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string"));
    serde_json::from_str(text).expect("a JSON record")
}

fn token_keys(store: &Map<String, Value>) -> Vec<String> {
    store
        .keys()
        .filter(|k| k.starts_with("tokens:"))
        .cloned()
        .collect()
}

/// Makes every stored access token expired an hour ago (as time passing would).
fn expire_stored_tokens(env: &CliEnv) {
    let mut store = read_store(env);
    for key in token_keys(&store) {
        let mut rec = record(&store, &key);
        rec["obtained_at"] = json!(now() - 7200);
        rec["expires_at"] = json!(now() - 3600);
        store.insert(key, Value::String(rec.to_string()));
    }
    write_store(env, &store);
}

/// (1) A server that switches to a hostile authorization server and forces a fresh login:
/// `probe` fails with a clear message, and the next refresh still goes to the issuer that
/// issued the refresh token; the hostile AS never sees it or a bearer token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_switch_probe_fails_and_the_refresh_stays_at_the_legitimate_as() {
    let server = TestServer::start(Scenario::AsSwitch);
    let evil = server.second_origin().expect("second origin");
    let url = server.mcp_url();
    let env = CliEnv::new();
    let (run, n) = env.run_with_browser(&["login", &url]).await;
    run.ok();
    assert_eq!(n, 1);

    server.switch_authorization_server(true);
    server.set_deny_all(true);
    let (run, opened) = run_browsing_anything(&env, &["probe", &url]).await;
    let run = run.failed();
    assert!(
        opened.iter().any(|u| u.starts_with(&format!("{evil}/"))),
        "the browser went to the hostile AS: {opened:?}"
    );
    assert!(
        run.stderr.contains("denied") && run.stdout.trim().is_empty(),
        "a clear message: {}",
        run.stderr
    );

    server.set_deny_all(false);
    expire_stored_tokens(&env);
    let refreshes = server.grant_count("refresh_token");
    let tok = env.run(&["token", &url]).ok();
    let token = tok.stdout.trim();
    assert_eq!(server.grant_count("refresh_token"), refreshes + 1);
    assert!(
        server
            .requests_at(&server.base_url())
            .iter()
            .any(|r| r.grant_type.as_deref() == Some("refresh_token")),
        "the refresh went to the legitimate AS"
    );
    assert_eq!(mcp_status_with(&url, token).await, 200);
    let at_evil = server.requests_at(&evil);
    assert!(!at_evil.is_empty(), "the hostile AS was asked for metadata");
    for r in &at_evil {
        assert!(
            r.grant_type.is_none()
                && !r.carries_refresh_token()
                && !r.carries_client_secret()
                && !r.has_bearer(),
            "the hostile AS got {r:?}"
        );
    }
}

/// (2) Two resources on one origin: `token` for b is refused until `login` b, each gets its
/// own token, and neither resource accepts the other's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_resources_need_two_logins_and_get_two_tokens() {
    let server = TestServer::start(Scenario::TwoResources);
    let (a, b) = (server.url("/a/mcp"), server.url("/b/mcp"));
    let env = CliEnv::new();
    env.run_with_browser(&["login", &a]).await.0.ok();
    let refused = env.run(&["token", &b]).failed();
    assert!(refused.stdout.trim().is_empty(), "{}", refused.stdout);
    assert!(
        refused.stderr.contains("mcp-auth login"),
        "says what to do: {}",
        refused.stderr
    );
    let (run, n) = env.run_with_browser(&["login", &b]).await;
    run.ok();
    assert_eq!(n, 1, "b's own login");
    let tok_a = env.run(&["token", &a]).ok().stdout.trim().to_string();
    let tok_b = env.run(&["token", &b]).ok().stdout.trim().to_string();
    assert_ne!(tok_a, tok_b);
    assert_eq!(mcp_status_with(&a, &tok_a).await, 200);
    assert_eq!(mcp_status_with(&b, &tok_b).await, 200);
    assert_eq!(
        mcp_status_with(&b, &tok_a).await,
        401,
        "b refuses a's token"
    );
    assert_eq!(
        mcp_status_with(&a, &tok_b).await,
        401,
        "a refuses b's token"
    );
    let stored = token_keys(&read_store(&env));
    assert_eq!(stored.len(), 2, "{stored:?}");
}

/// (4) A configured client (fast-agent config with client_id and client_secret) meeting an
/// unexpected issuer: `probe` refuses and says what to set, and the secret never reaches the
/// second origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_client_secret_never_goes_to_another_issuer() {
    let server = TestServer::start(Scenario::PreregisteredIssuerSwitch);
    let evil = server.second_origin().expect("second origin");
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
    env.run_with_browser(&["login", "pre"]).await.0.ok();
    env.run(&["probe", "pre"]).ok();

    server.switch_authorization_server(true);
    server.set_deny_all(true);
    let (run, opened) = run_browsing_anything(&env, &["probe", "pre"]).await;
    let run = run.failed();
    assert!(opened.is_empty(), "no login was started: {opened:?}");
    assert!(
        run.stderr.contains("issuer:") && run.stderr.contains(&evil),
        "says what to set: {}",
        run.stderr
    );
    assert!(!run.stderr.contains("basic-secret") && !run.stdout.contains("basic-secret"));
    let at_evil = server.requests_at(&evil);
    assert!(
        at_evil
            .iter()
            .all(|r| !r.carries_client_secret() && r.path != "/authorize" && !r.has_bearer()),
        "{at_evil:?}"
    );
}

/// A store written by release 0.1 (record version 1: one token record per identity under
/// `tokens:<identity>`, no endpoints) still works: `token` reads it, `status` shows it, an
/// expired token refreshes at the issuer's token endpoint, and afterwards the store holds the
/// version-2 key only. Nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_0_1_store_is_migrated_on_first_use() {
    let server = TestServer::start(Scenario::Default);
    let url = server.mcp_url();
    let identity = server.base_url();
    let env = CliEnv::new();
    env.run_with_browser(&["login", &url]).await.0.ok();

    // rewrite the store into the shape release 0.1 wrote
    let mut store = read_store(&env);
    let keys = token_keys(&store);
    assert_eq!(keys.len(), 1, "{keys:?}");
    let v2 = record(&store, &keys[0]);
    assert_eq!(v2["version"], 2);
    let mut v1 = Map::new();
    v1.insert("version".into(), json!(1));
    for field in [
        "identity",
        "resource",
        "issuer",
        "client_id",
        "access_token",
        "token_type",
        "refresh_token",
        "expires_at",
        "scope",
        "obtained_at",
    ] {
        v1.insert(field.into(), v2[field].clone());
    }
    let legacy_key = format!("tokens:{identity}");
    store.remove(&keys[0]);
    store.insert(
        legacy_key.clone(),
        Value::String(Value::Object(v1).to_string()),
    );
    let others: Vec<String> = store
        .keys()
        .filter(|k| k.starts_with("client:") || k.starts_with("discovery:") || *k == "index")
        .cloned()
        .collect();
    assert!(
        others.iter().any(|k| k.starts_with("client:"))
            && others.iter().any(|k| k.starts_with("discovery:"))
            && others.iter().any(|k| k == "index"),
        "{others:?}"
    );
    for key in &others {
        let mut rec = record(&store, key);
        rec["version"] = json!(1);
        if key == "index" {
            rec["keys"] = json!(rec["keys"]
                .as_array()
                .expect("index keys")
                .iter()
                .map(|k| if *k == json!(keys[0]) {
                    json!(legacy_key)
                } else {
                    k.clone()
                })
                .collect::<Vec<_>>());
        }
        store.insert(key.clone(), Value::String(rec.to_string()));
    }
    store.retain(|k, _| k == "index" || k == &legacy_key || others.contains(k));
    write_store(&env, &store);
    let access_token = v2["access_token"].as_str().expect("access token");

    // the 0.1 record is used as is
    let tok = env.run(&["token", &url]).ok();
    assert_eq!(tok.stdout.trim(), access_token);
    let st = env.run(&["status", &url]).ok();
    assert!(
        st.stdout.contains(&format!("Identity: {identity}"))
            && st.stdout.contains('✓')
            && !st.stdout.contains("none stored"),
        "{}",
        st.stdout
    );
    assert!(
        !st.stdout.contains(access_token),
        "status never shows a token"
    );
    let st = env.run(&["status", &url, "--json"]).ok().json();
    let rows = st["tokens"].as_array().expect("tokens");
    assert_eq!(rows.len(), 1, "{st}");
    let row = &rows[0];
    assert_eq!(row["present"], true, "{row}");
    assert_eq!(row["problem"], Value::Null, "{row}");
    assert_eq!(row["resource"], url.as_str(), "{row}");
    assert_eq!(row["issuer"], v2["issuer"], "{row}");
    assert_eq!(row["has_refresh_token"], true, "{row}");

    // expired: refreshed at the issuer's token endpoint, once
    expire_stored_tokens(&env);
    server.clear_log();
    let refreshes = server.grant_count("refresh_token");
    let tok = env.run(&["token", &url]).ok();
    let fresh = tok.stdout.trim();
    assert_ne!(fresh, access_token);
    assert_eq!(server.grant_count("refresh_token"), refreshes + 1);
    let refresh_at: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.grant_type.as_deref() == Some("refresh_token"))
        .collect();
    assert_eq!(refresh_at.len(), 1);
    assert_eq!(
        (refresh_at[0].origin.as_str(), refresh_at[0].path.as_str()),
        (identity.as_str(), "/token")
    );
    assert_eq!(mcp_status_with(&url, fresh).await, 200);

    // the store holds the version-2 key only, and nothing else went missing
    let after = read_store(&env);
    assert_eq!(token_keys(&after), vec![keys[0].clone()]);
    let rec = record(&after, &keys[0]);
    assert_eq!(rec["version"], 2);
    assert_eq!(rec["access_token"], fresh);
    assert_eq!(rec["issuer"], v2["issuer"]);
    assert_eq!(rec["client_id"], v2["client_id"]);
    assert_eq!(rec["token_endpoint"], v2["token_endpoint"]);
    for key in others.iter().filter(|k| *k != "index") {
        assert!(after.contains_key(key), "{key} was lost");
    }
    let index = record(&after, "index");
    let listed = index["keys"].to_string();
    assert!(
        listed.contains(&format!("\"{}\"", keys[0]))
            && !listed.contains(&format!("\"{legacy_key}\"")),
        "{index}"
    );
    env.run(&["probe", &url]).ok();
}

/// (3) An HTTP+SSE server whose `endpoint` event names another origin (or plain http off
/// loopback): `probe` refuses, and no request anywhere else carries the bearer token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_endpoint_elsewhere_never_receives_the_token() {
    for scenario in [Scenario::SseCrossOrigin, Scenario::SsePlainHttp] {
        let server = TestServer::start(scenario);
        let env = CliEnv::new();
        let url = server.sse_url();
        env.run_with_browser(&["login", &url]).await.0.ok();
        let run = env.run(&["probe", &url, "--transport", "sse"]).failed();
        assert!(
            run.stderr.contains("endpoint"),
            "{scenario:?}: says why: {}",
            run.stderr
        );
        let base = server.base_url();
        let carried: Vec<_> = server
            .requests()
            .into_iter()
            .filter(|r| r.has_bearer() && r.origin != base)
            .collect();
        assert!(carried.is_empty(), "{scenario:?}: {carried:?}");
    }
}

/// (4b) Authorization server migration: `probe` re-registers at the new server and logs in
/// there; the old server's refresh token never goes to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_server_migration_re_registers() {
    let server = TestServer::start(Scenario::AsMigration);
    let as2 = server.second_origin().expect("second origin");
    let url = server.mcp_url();
    let env = CliEnv::new();
    env.run_with_browser(&["login", &url]).await.0.ok();
    server.switch_authorization_server(true);
    let (run, n) = env.run_with_browser(&["probe", &url]).await;
    run.ok();
    assert_eq!(n, 1, "one login at the new server");
    let at_as2 = server.requests_at(&as2);
    assert!(
        at_as2
            .iter()
            .any(|r| r.method == "POST" && r.path.ends_with("/register")),
        "{at_as2:?}"
    );
    assert!(
        at_as2
            .iter()
            .all(|r| r.grant_type.as_deref() != Some("refresh_token") && !r.carries_refresh_token()),
        "{at_as2:?}"
    );
    let store = read_store(&env);
    let keys = token_keys(&store);
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(record(&store, &keys[0])["issuer"], as2.as_str());
}

/// (5) `iss` is compared as an exact string: a trailing slash is another issuer, and the
/// code is never redeemed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iss_with_a_trailing_slash_is_refused() {
    let server = TestServer::start(Scenario::IssTrailingSlash);
    let env = CliEnv::new();
    let (run, opened) = run_browsing_anything(&env, &["login", &server.mcp_url()]).await;
    let run = run.failed();
    assert_eq!(opened.len(), 1);
    assert!(run.stderr.contains("iss"), "{}", run.stderr);
    assert_eq!(
        server.count("POST", "/token"),
        0,
        "the code was never redeemed"
    );
    assert!(!env.store_file().exists() || token_keys(&read_store(&env)).is_empty());
}

/// (6) Step-up asks for the union of the scopes requested before and the challenged ones,
/// and one MCP request makes at most 3 authorization requests. `probe --call` makes two
/// requests: `tools/list` (the first login) and `tools/call` (always 403 in this scenario:
/// step-ups until the cap), so at most 1 + 3 in all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_up_uses_the_union_and_stops_at_three_authorizations() {
    let server = TestServer::start(Scenario::ScopeRetryLimit);
    let env = CliEnv::new();
    let url = server.mcp_url();
    let (run, opened) = run_browsing_anything(
        &env,
        &["probe", &url, "--call", "echo", "--args", r#"{"text":"x"}"#],
    )
    .await;
    let run = run.failed();
    let step_ups = opened.len().saturating_sub(1);
    assert!(
        (1..=3).contains(&step_ups),
        "{} authorization requests for tools/call after the login",
        step_ups
    );
    assert_eq!(server.count("GET", "/authorize"), opened.len());
    assert!(run.stderr.contains("scope"), "{}", run.stderr);
    let scopes: Vec<Vec<String>> = opened
        .iter()
        .map(|u| {
            query_param(u, "scope")
                .unwrap_or_default()
                .split(' ')
                .map(str::to_string)
                .collect()
        })
        .collect();
    for pair in scopes.windows(2) {
        assert!(
            pair[0].iter().all(|s| pair[1].contains(s)),
            "a step-up dropped a scope requested before: {scopes:?}"
        );
        assert!(pair[1].len() > pair[0].len(), "{scopes:?}");
    }
}

/// (8) 5 s tokens: `mcp-auth token` about once a second is refreshed once per expiry, not on
/// every run. The skew is at most a quarter of the lifetime (1 s): every refresh must happen
/// when the token it replaces had at most that long left (whenever each run actually lands,
/// so a slow machine changes nothing), and over ~11 s there are at least two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_second_tokens_cost_one_refresh_per_expiry() {
    let server = TestServer::start_with(Options {
        scenario: Scenario::Default,
        token_lifetime_secs: Some(5),
        ..Options::default()
    })
    .expect("server");
    let url = server.mcp_url();
    let env = CliEnv::new();
    env.run_with_browser(&["login", &url]).await.0.ok();
    let store = read_store(&env);
    let key = token_keys(&store)[0].clone();
    let first = record(&store, &key);
    let obtained = first["obtained_at"].as_u64().expect("obtained_at");
    assert_eq!(first["expires_at"].as_u64(), Some(obtained + 5));
    let before = server.grant_count("refresh_token");
    let mut prev = first;
    let mut refreshes = 0;
    for k in 1..=11u64 {
        let at = UNIX_EPOCH + Duration::from_millis((obtained + k) * 1000 + 500);
        if let Ok(wait) = at.duration_since(SystemTime::now()) {
            tokio::time::sleep(wait).await;
        }
        let printed = env.run(&["token", &url]).ok().stdout.trim().to_string();
        let now = record(&read_store(&env), &key);
        assert_eq!(now["access_token"].as_str(), Some(printed.as_str()));
        if now["access_token"] != prev["access_token"] {
            refreshes += 1;
            let at = now["obtained_at"].as_u64().expect("obtained_at");
            let due = prev["expires_at"].as_u64().expect("expires_at") - 1;
            assert!(at >= due, "refreshed at {at}, before it was due at {due}");
        }
        prev = now;
    }
    assert_eq!(server.grant_count("refresh_token") - before, refreshes);
    assert!(
        refreshes >= 2,
        "{refreshes} refreshes over 11 s of 5 s tokens"
    );
}
