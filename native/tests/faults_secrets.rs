//! Secrets: login, token (with a refresh), probe, status and clear run with the most verbose
//! diagnostics the process can be asked for — the CLI has no log level or `-v` of its own, so
//! `RUST_LOG=trace` and `RUST_BACKTRACE=full` are set in case a dependency listens — and
//! everything they write is scanned for every secret the testkit issued or was shown: access
//! and refresh tokens, authorization codes, the client secret and the PKCE verifiers. Stdout,
//! stderr and every file under the temporary HOME, state, config, working and TMPDIR folders
//! must hold none; the token file may hold the live tokens and the client secret in their own
//! fields only, never a code or a verifier, and after `clear --all` no token at all.

mod common;

use common::{CliEnv, Run};
use mcp_auth_testkit::{Scenario, TestServer};
use std::path::Path;

fn expire_stored(env: &CliEnv) {
    let text = std::fs::read_to_string(env.store_file()).expect("store");
    let mut map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).expect("json");
    for (key, value) in map.iter_mut() {
        if key.starts_with("tokens:") {
            let mut rec: serde_json::Value =
                serde_json::from_str(value.as_str().expect("record")).expect("record json");
            rec["expires_at"] = serde_json::json!(1);
            *value = serde_json::Value::String(rec.to_string());
        }
    }
    std::fs::write(
        env.store_file(),
        serde_json::to_string(&map).expect("encode"),
    )
    .expect("write");
}

/// Every file under `dir`, with its bytes.
fn files_under(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let p = e.path();
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            files_under(&p, out);
        } else if t.is_file() {
            out.push((
                p.display().to_string(),
                std::fs::read(&p).unwrap_or_default(),
            ));
        }
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

struct Transcript(Vec<(String, String)>);
impl Transcript {
    fn add(&mut self, what: &str, run: &Run) {
        self.0.push((format!("{what} stdout"), run.stdout.clone()));
        self.0.push((format!("{what} stderr"), run.stderr.clone()));
    }
}

async fn scan_flow(server: &TestServer, login_extra: &[&str], stdin: Option<&str>) {
    let mut env = CliEnv::new();
    std::fs::create_dir_all(env.path().join("tmp")).expect("mkdir");
    env.extra_env.extend([
        ("RUST_LOG".to_string(), "trace".to_string()),
        ("RUST_BACKTRACE".to_string(), "full".to_string()),
        (
            "TMPDIR".to_string(),
            env.path().join("tmp").display().to_string(),
        ),
    ]);
    let mcp = server.mcp_url();
    let mut log = Transcript(Vec::new());

    let mut args = vec!["login", mcp.as_str()];
    args.extend_from_slice(login_extra);
    let (run, _) = env.run_with_browser_and_stdin(&args, stdin).await;
    log.add("login", &run.ok());
    let run = env.run(&["token", &mcp]).ok();
    let first = run.stdout.trim().to_string();
    // `token` prints the access token by design; everything else must not
    log.0.push(("token stderr".into(), run.stderr.clone()));
    expire_stored(&env);
    let run = env.run(&["token", &mcp]).ok();
    let live = run.stdout.trim().to_string();
    assert_ne!(live, first, "the second `token` refreshed");
    log.0
        .push(("token (refresh) stderr".into(), run.stderr.clone()));
    log.add(
        "probe",
        &env.run(&["probe", &mcp, "--call", "whoami", "--json"]).ok(),
    );
    log.add("status", &env.run(&["status"]).ok());
    log.add("status --json", &env.run(&["--json", "status"]).ok());
    // a failing command (no login for this URL) with a server-sent error path
    log.add(
        "token (unknown)",
        &env.run(&["token", &server.url("/b/mcp")]),
    );

    let secrets = server.issued_secrets();
    assert!(
        secrets.len() >= 5,
        "the testkit reported what it issued: {} secrets",
        secrets.len()
    );
    assert!(
        secrets.contains(&live) && secrets.contains(&first),
        "the testkit's list has the tokens it issued"
    );
    if std::env::var_os("FAULTS_SECRETS_SELF_CHECK").is_some() {
        // proves the scan can fail: a file holding the live token
        std::fs::write(env.work().join("leak.txt"), &live).expect("write");
    }
    let store_text = std::fs::read_to_string(env.store_file()).expect("store");
    let store: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&store_text).expect("store json");

    // output: no secret at all (the printed token of `token` aside, which is not in `log`)
    for (what, text) in &log.0 {
        for s in &secrets {
            assert!(
                !contains(text.as_bytes(), s),
                "{what} shows a secret ({} chars)",
                s.len()
            );
        }
    }
    // files outside the store: none
    let mut files = Vec::new();
    files_under(env.path(), &mut files);
    let store_path = env.store_file().display().to_string();
    let mut scanned = 0;
    for (path, bytes) in &files {
        if *path == store_path {
            continue;
        }
        scanned += 1;
        for s in &secrets {
            assert!(
                !contains(bytes, s),
                "{path} holds a secret ({} chars)",
                s.len()
            );
        }
    }
    assert!(scanned >= 1, "the lock files at least were scanned");
    // the store: live tokens and the client secret in their fields only; no code, verifier or
    // spent token
    let mut allowed: Vec<String> = Vec::new();
    for (key, value) in &store {
        let rec: serde_json::Value =
            serde_json::from_str(value.as_str().expect("record")).expect("record json");
        for field in ["access_token", "refresh_token", "client_secret"] {
            if let Some(v) = rec.get(field).and_then(|v| v.as_str()) {
                assert!(
                    key.starts_with("tokens:") || (field == "client_secret"),
                    "{field} kept under {key}"
                );
                allowed.push(v.to_string());
            }
        }
    }
    assert!(allowed.contains(&live), "the live token is stored");
    for s in &secrets {
        if !allowed.contains(s) {
            assert!(
                !store_text.contains(s.as_str()),
                "the token file holds a secret it should not ({} chars): a code, verifier or spent token",
                s.len()
            );
        }
    }

    env.run(&["clear", "--all", "--yes"]).ok();
    let after = std::fs::read_to_string(env.store_file()).unwrap_or_default();
    for s in &secrets {
        if s != "basic-secret" {
            assert!(
                !after.contains(s.as_str()),
                "a token survives `clear --all`"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_leaks_with_dynamic_registration() {
    let server = TestServer::start(Scenario::Default);
    scan_flow(&server, &[], None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_leaks_with_a_confidential_client() {
    let server = TestServer::start(Scenario::Preregistered);
    scan_flow(
        &server,
        &["--client-id", "basic-client", "--client-secret-stdin"],
        Some("basic-secret\n"),
    )
    .await;
    assert!(server.issued_secrets().iter().any(|s| s == "basic-secret"));
}
