//! The OS keyring. The `#[ignore]`d tests need a real Secret Service: `native/tests/keyring.sh`
//! runs them inside `dbus-run-session` with an unlocked gnome-keyring. The fallback test runs
//! everywhere: without any D-Bus session the CLI must say honestly that tokens stay in memory.
//! A locked collection (locked over D-Bus, unlocked again with the daemon's password) is the
//! catalogue's "locked keyring" case: commands name the lock and what to do, nothing is
//! deleted, and a refresh whose save meets the lock keeps the rotated tokens in memory.

mod common;

use common::{mcp_status_with, CliEnv};
use mcp_auth::host::{LoginUi, NativeHost};
use mcp_auth::keyring_batch::KeyringSnapshot;
use mcp_auth::store::{KeyringStore, Store};
use mcp_auth_core::{
    AccessToken, Host, HostError, HostLock, HostResult, HttpRequest, HttpResponse, McpAuth,
};
use mcp_auth_testkit::{Scenario, TestServer};
use std::sync::{Arc, Mutex};

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

/// Locks the Secret Service's login collection over D-Bus (as the desktop does on screen
/// lock or after a timeout).
fn lock_keyring() {
    let out = std::process::Command::new("gdbus")
        .args([
            "call",
            "--session",
            "--dest",
            "org.freedesktop.secrets",
            "--object-path",
            "/org/freedesktop/secrets",
            "--method",
            "org.freedesktop.Secret.Service.Lock",
            "['/org/freedesktop/secrets/collection/login']",
        ])
        .output()
        .expect("run gdbus");
    assert!(out.status.success(), "lock: {:?}", out);
}

/// Unlocks it again with its password (the keyring.sh daemon's `pass`): a Secret Service
/// unlock call would need a prompt on a display, so a new daemon takes over the session
/// (`--replace`) and unlocks the login collection with the password on its stdin.
fn unlock_keyring() {
    use std::io::Write;
    let mut child = std::process::Command::new("gnome-keyring-daemon")
        .args(["--replace", "--unlock", "--components=secrets"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("run gnome-keyring-daemon");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"pass")
        .expect("write the password");
    assert!(child.wait().expect("wait").success());
}

/// The one `mcp-auth: error:` line of a failed run, checked to say the keyring is locked and
/// what to do.
fn locked_error_line(what: &str, run: &common::Run) {
    assert_ne!(run.code, 0, "{what}: exit 0: {}", run.stdout);
    assert!(!run.stderr.contains("panicked"), "{what}: {}", run.stderr);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("mcp-auth: error:"))
        .collect();
    let [line] = lines.as_slice() else {
        panic!("{what}: not one error line: {}", run.stderr);
    };
    for says in [
        "locked",
        "unlock it",
        "persist: file",
        "MCP_AUTH_STORE=file",
    ] {
        assert!(line.contains(says), "{what}: `{says}` missing: {line}");
    }
}

/// A browser login to a fresh testkit with the keyring store, and the record it left there.
struct LoggedIn {
    server: TestServer,
    env: CliEnv,
    mcp: String,
    identity: String,
    /// The record's keyring key and its stored text.
    key: String,
    stored: String,
}

async fn logged_in_to_the_keyring() -> LoggedIn {
    let server = TestServer::start(Scenario::Default);
    let mut env = CliEnv::new();
    env.store = None;
    let mcp = server.mcp_url();
    let identity = server.base_url();
    env.run_with_browser(&["login", &mcp]).await.0.ok();
    let key = format!("tokens:{identity}|{mcp}");
    let stored = tokio::task::spawn_blocking({
        let key = key.clone();
        move || keyring_entry(&key)
    })
    .await
    .expect("join")
    .expect("stored");
    LoggedIn {
        server,
        env,
        mcp,
        identity,
        key,
        stored,
    }
}

/// A locked Secret Service collection (as after a screen lock): `token`, `status` and
/// `login` each fail with one line that says the keyring is locked and what to do, instead
/// of falling back to memory ("not logged in"); no browser is opened; nothing is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Secret Service: run native/tests/keyring.sh"]
async fn a_locked_keyring_is_named_and_nothing_is_deleted() {
    let LoggedIn {
        server: _server,
        env,
        mcp,
        identity,
        key,
        stored,
    } = logged_in_to_the_keyring().await;

    lock_keyring();
    locked_error_line("token", &env.run(&["token", &mcp]));
    let status = env.run(&["status"]);
    locked_error_line("status", &status);
    assert!(status.stdout.contains("LOCKED"), "{}", status.stdout);
    let (login, opened) = env.run_with_browser(&["login", &mcp]).await;
    locked_error_line("login", &login);
    assert_eq!(
        opened, 0,
        "a login was started with nowhere to keep its tokens"
    );
    locked_error_line(
        "clear",
        &env.run(&["clear", "--identity", &identity, "--yes"]),
    );
    unlock_keyring();
    let after = tokio::task::spawn_blocking(move || keyring_entry(&key))
        .await
        .expect("join");
    assert_eq!(
        after.as_deref(),
        Some(stored.as_str()),
        "the record changed"
    );
    // and it still works
    let tok = env.run(&["token", &mcp]).ok();
    assert_eq!(mcp_status_with(&mcp, tok.stdout.trim()).await, 200);
}

/// The native host over the real keyring, locking it the moment a refresh's answer arrives:
/// the rotated refresh token then cannot be saved (issue 10, point 6).
struct LocksAfterRefresh(NativeHost);

impl Host for LocksAfterRefresh {
    async fn send(&self, request: HttpRequest) -> HostResult<HttpResponse> {
        let refresh = request
            .body
            .as_deref()
            .is_some_and(|b| String::from_utf8_lossy(b).contains("grant_type=refresh_token"));
        let answer = self.0.send(request).await;
        if refresh {
            tokio::task::spawn_blocking(lock_keyring)
                .await
                .expect("join");
        }
        answer
    }
    async fn load(&self, key: &str) -> HostResult<Option<String>> {
        self.0.load(key).await
    }
    async fn save(&self, key: &str, value: &str) -> HostResult<()> {
        self.0.save(key, value).await
    }
    async fn remove(&self, key: &str) -> HostResult<()> {
        self.0.remove(key).await
    }
    async fn lock(&self, name: &str) -> HostResult<HostLock> {
        self.0.lock(name).await
    }
    async fn authorize(&self, _: &str, _: &str) -> HostResult<Option<String>> {
        Err(HostError::Browser("no browser in this test".into()).boxed())
    }
    fn now(&self) -> u64 {
        self.0.now()
    }
}

/// A refresh whose save fails because the keyring got locked keeps the rotated tokens in
/// memory for the process and says so; the process goes on with them (the grant is not
/// revoked for a replayed refresh token), and the keyring still holds the previous record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Secret Service: run native/tests/keyring.sh"]
async fn a_refresh_saved_into_a_locked_keyring_is_kept_in_memory() {
    let LoggedIn {
        server: _server,
        env: _env,
        mcp,
        identity: _,
        key,
        stored,
    } = logged_in_to_the_keyring().await;
    let old: serde_json::Value = serde_json::from_str(&stored).expect("record");
    let old_access = AccessToken::new(old["access_token"].as_str().expect("access token"));

    let locks = tempfile::tempdir().expect("tempdir");
    let host = NativeHost::new(
        Store::Keyring(KeyringStore),
        locks.path().to_path_buf(),
        LoginUi::default(),
    )
    .expect("host");
    let warnings = Arc::new(Mutex::new(Vec::<String>::new()));
    let auth = McpAuth::new(LocksAfterRefresh(host)).on_warning({
        let warnings = warnings.clone();
        move |w| warnings.lock().expect("warnings").push(w.to_string())
    });
    // the server rejected the access token: refresh (the keyring locks as the answer comes)
    let new = auth
        .refresh(&mcp, Some(&old_access))
        .await
        .expect("refreshed");
    assert_ne!(new.access_token.secret(), old_access.secret());
    let said = warnings.lock().expect("warnings").join("\n");
    assert!(
        said.contains("could not be saved") && said.contains("kept in memory"),
        "{said}"
    );
    assert!(
        said.contains("locked"),
        "the warning does not name the lock: {said}"
    );
    assert!(
        !said.contains(new.access_token.secret()),
        "a token in the warning"
    );
    // the new tokens work: the grant was not revoked
    assert_eq!(mcp_status_with(&mcp, new.access_token.secret()).await, 200);
    // nothing deleted: once unlocked, the keyring holds the previous record
    unlock_keyring();
    let after = tokio::task::spawn_blocking(move || keyring_entry(&key))
        .await
        .expect("join");
    assert_eq!(after.as_deref(), Some(stored.as_str()));
    // the same process keeps using the rotated tokens, not the spent refresh token
    let again = auth.valid_record(&mcp).await.expect("the in-memory record");
    assert_eq!(again.access_token.secret(), new.access_token.secret());
}

/// A second item for `key` beside the one the keyring crate wrote (same service, user and
/// target; another label and no `application`): the per-key read calls that ambiguous.
async fn add_twin_item(key: &str) {
    use secret_service::{EncryptionType, SecretService};
    let ss = SecretService::connect(EncryptionType::Dh)
        .await
        .expect("connect");
    let collection = ss.get_default_collection().await.expect("collection");
    let attributes = std::collections::HashMap::from([
        ("service", "mcp-auth"),
        ("username", key),
        ("target", "default"),
    ]);
    collection
        .create_item("twin", attributes, b"twin", false, "text/plain")
        .await
        .expect("create the twin item");
}

/// `status` reads the keyring through one snapshot. It answers every key as the per-key read
/// does: records verbatim (a corrupt one too), a missing key as absent, a key held by two
/// items with the per-key error; a locked keyring gives no snapshot (so `status` reads key
/// by key and names the lock, as the locked test checks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Secret Service: run native/tests/keyring.sh"]
async fn the_status_snapshot_answers_as_the_per_key_reads_do() {
    let records = [
        ("snapshot-test:a", "{\"v\":1}"),
        ("snapshot-test:corrupt", "not json {"),
        ("snapshot-test:lines", "x\ny é"),
    ];
    for (k, v) in records {
        KeyringStore.save(k, v).await.expect("save");
    }
    let twin = "snapshot-test:twin";
    KeyringStore.save(twin, "one").await.expect("save");
    add_twin_item(twin).await;

    let snapshot = KeyringSnapshot::take().await.expect("a snapshot");
    assert!(snapshot.len() >= records.len(), "{}", snapshot.len());
    for (k, v) in records {
        assert_eq!(snapshot.load(k).await.expect("load").as_deref(), Some(v));
        assert_eq!(
            KeyringStore.load(k).await.expect("load").as_deref(),
            Some(v)
        );
    }
    assert_eq!(
        snapshot.load("snapshot-test:missing").await.expect("load"),
        None
    );
    let per_key = KeyringStore.load(twin).await.expect_err("ambiguous");
    let from_snapshot = snapshot.load(twin).await.expect_err("ambiguous");
    // the same error (its list of items is in hash order, so compared by what it says)
    for err in [per_key, from_snapshot] {
        let said = format!("{err:?}");
        assert!(said.contains("matched by 2 credentials"), "{said}");
    }

    lock_keyring();
    let locked = KeyringSnapshot::take().await;
    unlock_keyring();
    assert!(locked.is_none(), "a snapshot of a locked keyring");
    // the daemon was replaced: the process's session is stale, and reads still answer
    let (k, v) = records[0];
    assert_eq!(
        KeyringStore.load(k).await.expect("load").as_deref(),
        Some(v)
    );
    let again = KeyringSnapshot::take()
        .await
        .expect("a snapshot after the unlock");
    assert_eq!(again.load(k).await.expect("load").as_deref(), Some(v));

    // clean up: both items of the twin, then the rest
    {
        use secret_service::{EncryptionType, SecretService};
        let ss = SecretService::connect(EncryptionType::Dh)
            .await
            .expect("connect");
        let found = ss
            .search_items(std::collections::HashMap::from([
                ("service", "mcp-auth"),
                ("username", twin),
            ]))
            .await
            .expect("search");
        assert_eq!(found.unlocked.len(), 2);
        for item in &found.unlocked {
            item.delete().await.expect("delete a twin");
        }
    }
    for (k, _) in records {
        KeyringStore.remove(k).await.expect("remove");
    }
    assert_eq!(KeyringStore.load(twin).await.expect("load"), None);
}
