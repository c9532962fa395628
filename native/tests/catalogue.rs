//! The bad-input catalogue (tests/vectors/catalogue.json): every row is a hostile or broken
//! answer from one party (the testkit answers it instead of its real handler) and the typed
//! error it must end in. Each row runs through core (an in-process client on the native HTTP
//! host, asserting `Error::code()`) and through the CLI (a non-zero exit, one line on stderr
//! that starts `mcp-auth: error:`, no panic, no terminal escape from the server nor what is
//! left of one without its control characters), and in both
//! no stored record is changed or lost. The wasm build reads the same table
//! (wasm/tests/catalogue.test.mjs). Every mismatch is collected and printed before failing.
//! Clock-skew rows (`set` + `expect`) check a safe behaviour instead of an error. The locked
//! keyring needs a real Secret Service, so it is tested in native/tests/keyring.rs
//! (`a_locked_keyring_is_named_and_nothing_is_deleted`,
//! `a_refresh_saved_into_a_locked_keyring_is_kept_in_memory`; run by native/tests/keyring.sh).

mod common;
#[path = "common/core_host.rs"]
mod core_host;

use common::CliEnv;
use core_host::{client, Browser, TestHost};
use mcp_auth::store::MemoryStore;
use mcp_auth_core::mcp::{McpClient, Protocol};
use mcp_auth_core::{AuthOptions, McpAuth};
use mcp_auth_testkit::{Canned, Scenario, TestServer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(serde::Deserialize, Clone)]
struct Row {
    id: String,
    #[serde(rename = "where")]
    party: String,
    #[serde(default)]
    canned: Canned,
    code: String,
    #[serde(default = "yes")]
    cli: bool,
    #[serde(default = "yes")]
    core: bool,
    /// `cli` rows: the command line (`{mcp}`: the testkit's MCP URL), a config file, env.
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    config: Option<ConfigFile>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// `store` rows: the token record's new text (`{half}`: the real one cut in half;
    /// `{members}`: the real one without its opening brace), or
    /// the whole token file's.
    #[serde(default)]
    record: Option<String>,
    #[serde(default)]
    store_file: Option<String>,
    #[serde(default)]
    says: Option<String>,
    #[serde(default)]
    store: Option<String>,
    /// `store` rows: fields of the real token record set before the run, as a clock gone
    /// wrong would leave them (`"now+N"` / `"now-N"`: seconds from now; a number: as is).
    #[serde(default)]
    set: BTreeMap<String, Value>,
    /// The safe behaviour instead of an error: `refreshed` (the command succeeds with a
    /// new token from the server, the record from the skewed clock is not trusted) or `ok`
    /// (the CLI command succeeds, e.g. `status` shows the record without a panic).
    #[serde(default)]
    expect: Option<String>,
}

/// Seconds since the Unix epoch by this machine's clock.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The token record `real` with the row's `set` fields.
fn skewed(row: &Row, real: &str) -> String {
    let now = unix_now() as i64;
    let mut rec: Value = serde_json::from_str(real).expect("record json");
    for (field, v) in &row.set {
        let v = match v.as_str() {
            Some(rel) => {
                let off: i64 = rel
                    .strip_prefix("now")
                    .and_then(|o| o.strip_prefix('+').unwrap_or(o).parse().ok())
                    .unwrap_or_else(|| panic!("{}: bad time {rel}", row.id));
                serde_json::json!(now + off)
            }
            None => v.clone(),
        };
        rec[field] = v;
    }
    rec.to_string()
}

/// For `refreshed` rows: the token record now holds a new access token, obtained by this
/// clock, with an expiry a server could give.
fn refreshed_problem(skewed: &str, now_text: Option<&String>) -> Option<String> {
    let Some(text) = now_text else {
        return Some("the token record is gone".into());
    };
    let old: Value = serde_json::from_str(skewed).expect("record json");
    let new: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Some(format!("the new record is not JSON: {e}")),
    };
    let now = unix_now();
    let obtained = new["obtained_at"].as_u64().unwrap_or(u64::MAX);
    let expires = new["expires_at"].as_u64().unwrap_or(0);
    if new["access_token"] == old["access_token"] {
        Some("the skewed record was trusted: no new access token".into())
    } else if obtained > now + 300 || expires > now + 10 * 365 * 24 * 3600 {
        Some(format!(
            "the new record's times are still off: {obtained} / {expires}"
        ))
    } else {
        None
    }
}

#[derive(serde::Deserialize, Clone)]
struct ConfigFile {
    name: String,
    text: String,
}

/// What a terminal escape sequence leaves behind when only its control characters go: the
/// escape rows' messages must carry none of it (whole sequences are stripped).
const DEBRIS: [&str; 4] = ["]8;;", "]52;", "[2J", "Zm9v"];

fn debris_in(text: &str) -> Option<&'static str> {
    DEBRIS.into_iter().find(|d| text.contains(d))
}

fn yes() -> bool {
    true
}

fn rows() -> Vec<Row> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/catalogue.json"
    );
    let text = std::fs::read_to_string(path).expect("catalogue.json");
    let doc: Value = serde_json::from_str(&text).expect("catalogue JSON");
    serde_json::from_value(doc["rows"].clone()).expect("catalogue rows")
}

/// The path (and method) the party answers on in the testkit's default scenario.
fn canned_for(row: &Row) -> Canned {
    let (path, method) = match row.party.as_str() {
        "prm" => ("/.well-known/oauth-protected-resource/mcp", "GET"),
        "as_metadata" => ("/.well-known/oauth-authorization-server", "GET"),
        "register" => ("/register", "POST"),
        "authorize" => ("/authorize", "GET"),
        "token_code" | "token_refresh" => ("/token", "POST"),
        "mcp" => ("/mcp", "POST"),
        "cli" | "store" => ("/_testkit/none", "GET"),
        other => panic!("{}: unknown party {other}", row.id),
    };
    Canned {
        path: path.into(),
        method: Some(method.into()),
        ..row.canned.clone()
    }
}

fn is_login(row: &Row) -> bool {
    matches!(
        row.party.as_str(),
        "prm" | "as_metadata" | "register" | "authorize" | "token_code"
    )
}

fn snapshot(store: &MemoryStore) -> BTreeMap<String, String> {
    store
        .keys()
        .into_iter()
        .filter_map(|k| store.load(&k).ok().flatten().map(|v| (k, v)))
        .collect()
}

/// Every record stored before is there after, unchanged (token records may be refreshed
/// when the row allows it); a failed login stores no token.
fn store_problem(
    row: &Row,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Option<String> {
    let mode = row.store.as_deref().unwrap_or("kept");
    for (k, v) in before {
        let may_change = match mode {
            "may_refresh" => true,
            "drops_dead_credential" => {
                k.starts_with("tokens:") || k.starts_with("client:") || k == "index"
            }
            _ => false,
        };
        let may_go = mode == "drops_dead_credential" && k.starts_with("client:");
        match after.get(k) {
            None if !may_go => return Some(format!("the record {k} was lost")),
            Some(now) if now != v && !may_change => return Some(format!("the record {k} changed")),
            _ => {}
        }
    }
    let new_tokens: Vec<&String> = after
        .keys()
        .filter(|k| k.starts_with("tokens:") && !before.contains_key(*k))
        .collect();
    (!new_tokens.is_empty()).then(|| format!("a token was stored: {new_tokens:?}"))
}

async fn core_run(
    row: &Row,
    server: &TestServer,
    baseline: &BTreeMap<String, String>,
) -> Result<String, String> {
    // a row that lets a real refresh happen gets a grant of its own: the testkit rotates
    // refresh tokens and revokes a grant whose old one comes back
    let fresh;
    let baseline = if row.set.is_empty() {
        baseline
    } else {
        let own = client(Browser::Approve);
        own.login(&server.mcp_url(), &AuthOptions::default())
            .await
            .map_err(|e| format!("core: the row's own login: {e}"))?;
        fresh = snapshot(&own.host().store);
        &fresh
    };
    let store = Arc::new(MemoryStore::default());
    if !is_login(row) {
        for (k, v) in baseline {
            store.save(k, v).map_err(|e| format!("{e:?}"))?;
        }
    }
    if let Some(record) = &row.record {
        let key = baseline
            .keys()
            .find(|k| k.starts_with("tokens:"))
            .expect("a token record")
            .clone();
        store
            .save(&key, &corrupted(record, &baseline[&key]))
            .map_err(|e| format!("{e:?}"))?;
    }
    let mut skewed_text = None;
    if !row.set.is_empty() {
        let key = baseline
            .keys()
            .find(|k| k.starts_with("tokens:"))
            .expect("a token record")
            .clone();
        let text = skewed(row, &baseline[&key]);
        store.save(&key, &text).map_err(|e| format!("{e:?}"))?;
        skewed_text = Some((key, text));
    }
    let before = snapshot(&store);
    let host = TestHost::sharing(store.clone(), Browser::Approve);
    if row.party == "token_refresh" {
        host.advance(100_000); // the stored access token has expired by the client's clock
    }
    let auth = McpAuth::new(host);
    let mcp = server.mcp_url();
    let opts = AuthOptions::default();
    if row.party != "store" {
        server.set_canned(canned_for(row));
    }
    let result = match row.party.as_str() {
        "token_refresh" | "store" => auth.valid_record(&mcp).await.map(drop),
        "mcp" => match McpClient::connect(&auth, &mcp, Protocol::Auto, &opts).await {
            Ok(mut c) => c.list_tools().await.map(drop),
            Err(e) => Err(e),
        },
        _ => auth.login(&mcp, &opts).await.map(drop),
    };
    server.clear_canned();
    if row.expect.as_deref() == Some("refreshed") {
        result.map_err(|e| format!("core: {} ({e})", e.code()))?;
        let (key, text) = skewed_text.expect("a `refreshed` row sets record fields");
        if let Some(p) = refreshed_problem(&text, snapshot(&store).get(&key)) {
            return Err(format!("core: {p}"));
        }
        if let Some(p) = store_problem(row, &before, &snapshot(&store)) {
            return Err(format!("core: {p}"));
        }
        return Ok("refreshed".into());
    }
    let code = match result {
        Ok(()) => return Err("core: no error".into()),
        Err(e) => format!("{} ({e})", e.code()),
    };
    if let Some(d) = debris_in(&code) {
        return Err(format!("core: escape debris `{d}` in the message: {code}"));
    }
    if let Some(p) = store_problem(row, &before, &snapshot(&store)) {
        return Err(format!("core: {p}"));
    }
    Ok(code)
}

/// A record's replacement text: `{half}` is the real record cut in half, `{members}` the real
/// record without its opening brace (a row puts a member of its own before the real ones).
fn corrupted(template: &str, real: &str) -> String {
    template
        .replace("{half}", &real[..real.len() / 2])
        .replace("{members}", real.strip_prefix('{').unwrap_or(real))
}

fn file_records(env: &CliEnv) -> BTreeMap<String, String> {
    let Ok(text) = std::fs::read_to_string(env.store_file()) else {
        return BTreeMap::new();
    };
    serde_json::from_str(&text).expect("the token file stays JSON")
}

async fn cli_run(row: &Row, server: &TestServer, baseline: &CliEnv) -> Result<String, String> {
    let mut env = CliEnv::new();
    env.extra_env
        .push(("MCP_AUTH_HTTP_TIMEOUT".into(), "10".into()));
    let mcp = server.mcp_url();
    // a grant of its own for a row that lets a real refresh happen (as in `core_run`)
    let own = CliEnv::new();
    let baseline = if row.set.is_empty() {
        baseline
    } else {
        own.run_with_browser(&["login", &mcp]).await.0.ok();
        &own
    };
    if matches!(row.party.as_str(), "token_refresh" | "mcp" | "store") && row.store_file.is_none()
        || row.store_file.is_some()
    {
        let dir = env.store_file().parent().expect("dir").to_path_buf();
        common_private_dir(&dir);
        let mut map: serde_json::Map<String, Value> =
            serde_json::from_str(&std::fs::read_to_string(baseline.store_file()).expect("store"))
                .expect("json");
        if row.party == "token_refresh" {
            let key = common::token_key_in(&map, &server.base_url());
            let mut rec: Value =
                serde_json::from_str(map[&key].as_str().expect("record")).expect("record json");
            rec["expires_at"] = serde_json::json!(1);
            map.insert(key, Value::String(rec.to_string()));
        }
        std::fs::write(
            env.store_file(),
            serde_json::to_string(&map).expect("encode"),
        )
        .expect("write");
    }
    for (k, v) in &row.env {
        env.extra_env.push((k.clone(), v.clone()));
    }
    if let Some(c) = &row.config {
        env.write_config(&c.name, &c.text);
    }
    if let Some(record) = &row.record {
        let mut map: serde_json::Map<String, Value> =
            serde_json::from_str(&std::fs::read_to_string(env.store_file()).expect("store"))
                .expect("json");
        let key = common::token_key_in(&map, &server.base_url());
        let text = corrupted(record, map[&key].as_str().expect("record"));
        map.insert(key, Value::String(text));
        std::fs::write(
            env.store_file(),
            serde_json::to_string(&map).expect("encode"),
        )
        .expect("write");
    }
    let mut skewed_text = None;
    if !row.set.is_empty() {
        let mut map: serde_json::Map<String, Value> =
            serde_json::from_str(&std::fs::read_to_string(env.store_file()).expect("store"))
                .expect("json");
        let key = common::token_key_in(&map, &server.base_url());
        let text = skewed(row, map[&key].as_str().expect("record"));
        map.insert(key.clone(), Value::String(text.clone()));
        std::fs::write(
            env.store_file(),
            serde_json::to_string(&map).expect("encode"),
        )
        .expect("write");
        skewed_text = Some((key, text));
    }
    if let Some(text) = &row.store_file {
        std::fs::write(env.store_file(), text).expect("write");
    }
    let file_before = std::fs::read(env.store_file()).ok();
    let before = if row.store_file.is_some() {
        BTreeMap::new()
    } else {
        file_records(&env)
    };
    if !matches!(row.party.as_str(), "cli" | "store") {
        server.set_canned(canned_for(row));
    }
    let args: Vec<String> = row.args.iter().map(|a| a.replace("{mcp}", &mcp)).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = match row.party.as_str() {
        "cli" => tokio::task::block_in_place(|| env.run(&args)),
        "store" if !args.is_empty() => tokio::task::block_in_place(|| env.run(&args)),
        "store" => tokio::task::block_in_place(|| env.run(&["token", &mcp])),
        "token_refresh" => tokio::task::block_in_place(|| env.run(&["token", &mcp])),
        // a 401 may lead to a new login: the test is the browser
        "mcp" => env.run_with_browser(&["probe", &mcp]).await.0,
        _ => env.run_with_browser(&["login", &mcp]).await.0,
    };
    server.clear_canned();
    if let Some(expect) = &row.expect {
        if run.code != 0 || run.stderr.contains("panicked") {
            return Err(format!("CLI: exit {}: {}", run.code, run.stderr));
        }
        let after = file_records(&env);
        if expect == "refreshed" {
            let (key, text) = skewed_text.expect("a `refreshed` row sets record fields");
            if let Some(p) = refreshed_problem(&text, after.get(&key)) {
                return Err(format!("CLI: {p}"));
            }
        }
        if let Some(p) = store_problem(row, &before, &after) {
            return Err(format!("CLI: {p}"));
        }
        return Ok(format!("exit 0 ({expect})"));
    }
    if run.code == 0 {
        return Err("CLI: exit 0".into());
    }
    if run.stderr.contains("panicked") {
        return Err(format!("CLI: a panic: {}", run.stderr));
    }
    let error_lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("mcp-auth: error:"))
        .collect();
    let [line] = error_lines.as_slice() else {
        return Err(format!("CLI: not one error line: {}", run.stderr));
    };
    if run
        .stderr
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(format!(
            "CLI: a control character reached stderr: {:?}",
            run.stderr
        ));
    }
    if let Some(d) = debris_in(&run.stderr) {
        return Err(format!(
            "CLI: escape debris `{d}` on stderr: {}",
            run.stderr
        ));
    }
    if row.args.iter().any(|a| a.contains("s3cr3t")) && run.stderr.contains("s3cr3t") {
        return Err(format!("CLI: a password from the URL was echoed: {line}"));
    }
    if let Some(says) = &row.says {
        // in the error line, or in a note just before it (e.g. why the keyring is not used)
        if !run.stderr.contains(says.as_str()) {
            return Err(format!("CLI: the message does not say `{says}`: {line}"));
        }
    }
    if row.store_file.is_some() {
        if std::fs::read(env.store_file()).ok() != file_before {
            return Err("CLI: the unreadable token file was rewritten".into());
        }
    } else if let Some(p) = store_problem(row, &before, &file_records(&env)) {
        return Err(format!("CLI: {p}"));
    }
    if row.record.is_some() {
        // reported, and can be cleared
        let identity = server.base_url();
        let clear =
            tokio::task::block_in_place(|| env.run(&["clear", "--identity", &identity, "--yes"]));
        let left = file_records(&env);
        if clear.code != 0 || left.keys().any(|k| k.starts_with("tokens:")) {
            return Err(format!(
                "CLI: `clear` did not remove the corrupted record (exit {}): {}",
                clear.code, clear.stderr
            ));
        }
    }
    Ok(line.to_string())
}

fn common_private_dir(dir: &std::path::Path) {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .expect("mkdir");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_catalogue_row_ends_in_its_typed_error_and_keeps_the_store() {
    let rows = rows();
    assert!(rows.len() >= 80, "the catalogue has {} rows", rows.len());
    let server = TestServer::start(Scenario::Default);
    let mcp = server.mcp_url();

    // baselines: a core client and a CLI user, each logged in
    let base_client = client(Browser::Approve);
    base_client
        .login(&mcp, &AuthOptions::default())
        .await
        .expect("baseline login");
    let baseline = snapshot(&base_client.host().store);
    let cli_base = CliEnv::new();
    cli_base.run_with_browser(&["login", &mcp]).await.0.ok();

    let mut problems = Vec::new();
    let mut table = Vec::new();
    let mut cli_rows = 0;
    let core_rows = rows.iter().filter(|r| r.core).count();
    for row in &rows {
        eprintln!("catalogue: {}", row.id);
        let core = if !row.core {
            Ok(row.code.clone())
        } else {
            tokio::time::timeout(
                std::time::Duration::from_secs(40),
                core_run(row, &server, &baseline),
            )
            .await
            .unwrap_or_else(|_| Err("core: no answer within 40 s".into()))
        };
        server.clear_canned();
        match core {
            Ok(code) if code.split(' ').next() == Some(row.code.as_str()) => {}
            Ok(code) => problems.push(format!("{}: core: code {code}, want {}", row.id, row.code)),
            Err(e) => problems.push(format!("{}: {e}", row.id)),
        }
        if row.cli {
            cli_rows += 1;
            match cli_run(row, &server, &cli_base).await {
                Ok(line) => table.push(format!("{}: {line}", row.id)),
                Err(e) => problems.push(format!("{}: {e}", row.id)),
            }
        }
    }
    println!(
        "catalogue: {} rows, {core_rows} through core, {cli_rows} through the CLI",
        rows.len()
    );
    for line in &table {
        println!("  {line}");
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
