//! Faults: `mcp-auth token` is SIGKILLed at random points of a refresh, 100 times, against the
//! testkit (rotating refresh tokens, a reused one revokes the grant). After every kill the
//! token file parses and every record in it decodes; when the server did not rotate, or the
//! client had saved the rotated refresh token, the next `token` works. The one window that
//! cannot be closed from the client — the server rotated, the process died before the save —
//! is counted, and what happens then (the next refresh is refused, the grant is revoked, a
//! new login is asked for) is asserted. The counts are printed (`--nocapture`).

mod common;

use common::CliEnv;
use mcp_auth_testkit::{Scenario, TestServer};
use std::time::{Duration, Instant};

const KILLS: usize = 100;

/// The store's map, every record checked with core's decoder.
fn read_store_checked(env: &CliEnv) -> serde_json::Map<String, serde_json::Value> {
    let text = std::fs::read_to_string(env.store_file()).expect("the token file is there");
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("a corrupt token file ({e})"));
    for (key, value) in &map {
        let record = value.as_str().expect("every record is a string");
        if let Err(e) = mcp_auth_core::records::check_record(key, record) {
            panic!("record {key} does not decode after a kill: {e}");
        }
    }
    map
}

fn refresh_token_in(env: &CliEnv, identity: &str) -> String {
    let map = read_store_checked(env);
    let key = common::token_key_in(&map, identity);
    let rec: serde_json::Value =
        serde_json::from_str(map[&key].as_str().expect("record")).expect("record json");
    rec["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_string()
}

/// Makes the stored access token expired for the client (the server's stays valid: only the
/// client's clock decides that a refresh is due).
fn expire_stored(env: &CliEnv, identity: &str) {
    let mut map = read_store_checked(env);
    let key = common::token_key_in(&map, identity);
    let mut rec: serde_json::Value =
        serde_json::from_str(map[&key].as_str().expect("record")).expect("record json");
    rec["expires_at"] = serde_json::json!(1);
    map.insert(key, serde_json::Value::String(rec.to_string()));
    std::fs::write(
        env.store_file(),
        serde_json::to_string(&map).expect("encode"),
    )
    .expect("write");
}

/// A small deterministic generator (no dependency; the seed is printed for a rerun).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn temp_files(env: &CliEnv) -> usize {
    let dir = env.store_file().parent().expect("folder").to_path_buf();
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_refresh_never_corrupts_the_store_or_loses_a_saved_grant() {
    let server = TestServer::start(Scenario::Default);
    let env = CliEnv::new();
    let mcp = server.mcp_url();
    let identity = server.base_url();
    env.run_with_browser(&["login", &mcp]).await.0.ok();

    // How long one refreshing `token` takes here: kills are spread over 0..1.2 of that.
    let mut span = Duration::ZERO;
    for _ in 0..3 {
        expire_stored(&env, &identity);
        let start = Instant::now();
        env.run(&["token", &mcp]).ok();
        span = span.max(start.elapsed());
    }
    let span_us = (span.as_micros() as u64).max(1000) * 6 / 5;
    let seed = std::env::var("FAULTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    let mut rng = Rng(seed);

    let mut last_token = env.run(&["token", &mcp]).ok().stdout.trim().to_string();
    let (mut before_rotation, mut after_save, mut finished, mut window) = (0, 0, 0, 0);
    let (mut relogins, mut left_temp) = (0, 0);
    for i in 0..KILLS {
        expire_stored(&env, &identity);
        let rt_before = refresh_token_in(&env, &identity);
        let refreshes_before = server.grant_count("refresh_token");

        let mut child = env.command(&["token", &mcp]).spawn().expect("spawn");
        let delay = Duration::from_micros(rng.below(span_us));
        std::thread::sleep(delay);
        let ran_to_the_end = child.try_wait().expect("try_wait").is_some();
        let _ = child.kill(); // SIGKILL on Unix
        let _ = child.wait();
        // a request already in the socket is still read and answered by the server
        std::thread::sleep(Duration::from_millis(100));

        // the store parses and every record decodes, whatever the kill interrupted
        let rt_after = refresh_token_in(&env, &identity);
        left_temp += usize::from(temp_files(&env) > 0);
        let rotated = server.grant_count("refresh_token") > refreshes_before;
        let saved = rt_after != rt_before;
        assert!(
            !saved || rotated,
            "kill {i}: the stored refresh token changed without a refresh"
        );
        assert_eq!(
            common::mcp_status_with(&mcp, &last_token).await,
            200,
            "kill {i}: the killed process alone got the grant revoked"
        );

        let next = env.run(&["token", &mcp]);
        if rotated && !saved {
            // The inherent window: the server rotated, the process died before the save. The
            // stored refresh token is the spent one; sending it is a reuse, and the grant goes.
            window += 1;
            let next = next.failed();
            assert!(
                next.stderr.contains("mcp-auth login"),
                "kill {i}: after a lost rotation the user is told to log in again: {}",
                next.stderr
            );
            assert_ne!(
                common::mcp_status_with(&mcp, &last_token).await,
                200,
                "kill {i}: the reuse was detected and the grant revoked"
            );
            let (run, n) = env.run_with_browser(&["login", &mcp]).await;
            run.ok();
            assert_eq!(n, 1);
            last_token = env.run(&["token", &mcp]).ok().stdout.trim().to_string();
            relogins += 1;
        } else {
            // Not rotated (the kill came first) or the rotated token was saved: the grant holds.
            let next = next.ok();
            assert!(!next.stdout.trim().is_empty(), "kill {i}: no token printed");
            assert_eq!(
                common::mcp_status_with(&mcp, next.stdout.trim()).await,
                200,
                "kill {i}: the token works"
            );
            last_token = next.stdout.trim().to_string();
            match (rotated, ran_to_the_end) {
                (false, _) => before_rotation += 1,
                (true, true) => finished += 1,
                (true, false) => after_save += 1,
            }
        }
    }
    println!(
        "faults_kill: seed {seed}, {KILLS} kills over 0..{span_us} µs: {before_rotation} before the server rotated, \
         {after_save} after the save (process still running), {finished} after the process had ended, \
         {window} between the server's rotation and the save (grant lost, {relogins} new logins); \
         {left_temp} kills left a temp file (removed by the next save)"
    );
    assert_eq!(before_rotation + after_save + finished + window, KILLS);
    // The next save (under the writer lock) removes what killed writers left behind.
    expire_stored(&env, &identity);
    env.run(&["token", &mcp]).ok();
    assert_eq!(
        temp_files(&env),
        0,
        "temp files of killed writers are cleaned up"
    );
}
