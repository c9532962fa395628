//! `persist: redis` with a real `redis-server` (started by the test on 127.0.0.1) and the
//! testkit: the same records as every store under a prefix, status without the password and
//! with the lock holder, clear errors (unreachable, wrong or missing password, read-only
//! replica) and no fallback, a Redis restarted in the middle of a refresh, and a Redis that
//! is gone and comes back.
#![cfg(unix)]

mod common;
#[path = "common/redis.rs"]
mod redis_kit;

use common::{mcp_status_with, CliEnv};
use mcp_auth_testkit::{Scenario, TestServer};
use redis_kit::{expire_record, lock_keys, record, token_key, RedisServer};
use std::time::{Duration, Instant};

fn redis_env(url: &str) -> CliEnv {
    let mut env = CliEnv::new();
    env.store = Some("redis");
    env.extra_env
        .push(("MCP_AUTH_REDIS_URL".into(), url.to_string()));
    env
}

async fn logged_in(server: &TestServer, env: &CliEnv) {
    let (run, n) = env.run_with_browser(&["login", &server.mcp_url()]).await;
    run.ok();
    assert_eq!(n, 1, "one browser login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_live_in_redis_under_the_prefix_and_status_hides_the_password() {
    let redis = RedisServer::start_with(&["--requirepass", "fleet-pw-93"], &[]);
    let url = format!("redis://:fleet-pw-93@127.0.0.1:{}", redis.port);
    let server = TestServer::start(Scenario::Default);
    let mut env = redis_env(&url);
    env.extra_env
        .push(("MCP_AUTH_REDIS_PREFIX".into(), "fleet-a:".into()));
    logged_in(&server, &env).await;

    let mut conn = redis.conn_with(&url);
    let key = token_key(&mut conn, "fleet-a:");
    let rec = record(&mut conn, &key);
    assert_eq!(rec["version"], 2, "the same versioned record: {rec}");
    let all: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).expect("KEYS");
    assert!(all.iter().all(|k| k.starts_with("fleet-a:")), "{all:?}");
    assert!(all.contains(&"fleet-a:index".to_string()), "{all:?}");
    assert!(
        !env.store_file().exists(),
        "nothing is written to the file store"
    );

    // the stored token is used as is, and a second fleet's prefix sees nothing
    let token = env.run(&["token", &server.mcp_url()]).ok().stdout;
    assert_eq!(token.trim(), rec["access_token"].as_str().expect("at"));
    let mut other = redis_env(&url);
    other
        .extra_env
        .push(("MCP_AUTH_REDIS_PREFIX".into(), "fleet-b:".into()));
    let run = other.run(&["token", &server.mcp_url()]).failed();
    assert!(run.stderr.contains("login"), "{}", run.stderr);

    // status: the address without the password, reachable, the stored tokens
    let st = env.run(&["status"]).ok();
    assert!(!st.stdout.contains("fleet-pw-93") && !st.stderr.contains("fleet-pw-93"));
    let shown = format!("redis://127.0.0.1:{}/0 (password set)", redis.port);
    assert!(st.stdout.contains(&shown), "{}", st.stdout);
    assert!(st.stdout.contains("✓ reachable (master)"), "{}", st.stdout);
    assert!(st.stdout.contains(&server.base_url()), "{}", st.stdout);
    let json = env.run(&["--json", "status"]).ok();
    assert!(!json.stdout.contains("fleet-pw-93"));
    let j = json.json();
    assert_eq!(j["redis"][0]["reachable"], true, "{j}");
    assert_eq!(j["tokens"][0]["store"], "redis", "{j}");

    // while a refresh is under way, status names the lock holder
    expire_record(&mut conn, &key);
    server.set_token_delay_ms(4000);
    let mut slow = env
        .command(&["token", &server.mcp_url()])
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    while lock_keys(&mut conn, "fleet-a:").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the refresh lock never showed up"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let st = env.run(&["status"]).ok();
    let holder = format!("held by pid {} (mcp-auth) on ", slow.id());
    assert!(st.stdout.contains("lock `refresh:"), "{}", st.stdout);
    assert!(st.stdout.contains(&holder), "{}", st.stdout);
    let out = slow.wait().expect("wait");
    assert!(out.success());
    assert!(
        lock_keys(&mut conn, "fleet-a:").is_empty(),
        "the lock is released"
    );
    assert_eq!(server.grant_count("refresh_token"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_redis_is_an_error_that_says_why_and_nothing_falls_back() {
    let server = TestServer::start(Scenario::Default);
    let mcp = server.mcp_url();

    // nobody listening
    let dead = common::free_port();
    let env = redis_env(&format!("redis://:secret-pw@127.0.0.1:{dead}"));
    let run = env.run(&["token", &mcp]).failed();
    assert!(
        run.stderr
            .contains(&format!("cannot reach Redis at redis://127.0.0.1:{dead}/0")),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("secret-pw"), "{}", run.stderr);
    let (run, n) = env.run_with_browser(&["login", &mcp]).await;
    let run = run.failed();
    assert_eq!(n, 0, "no login is started without a store");
    assert!(run.stderr.contains("cannot reach Redis"), "{}", run.stderr);
    assert!(!env.store_file().exists(), "no fallback to the file store");
    let st = env.run(&["status"]).ok();
    assert!(st.stdout.contains("✗ not usable"), "{}", st.stdout);

    // a wrong password, and none where one is needed
    let redis = RedisServer::start_with(&["--requirepass", "right-pw"], &[]);
    let env = redis_env(&format!("redis://:wrong-pw@127.0.0.1:{}", redis.port));
    let run = env.run(&["token", &mcp]).failed();
    assert!(
        run.stderr.contains("refused the user name or password"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("wrong-pw"), "{}", run.stderr);
    let env = redis_env(&redis.url());
    let run = env.run(&["token", &mcp]).failed();
    assert!(run.stderr.contains("needs a password"), "{}", run.stderr);

    // a read-only replica
    let primary = RedisServer::start();
    let replica_of = format!("127.0.0.1 {}", primary.port);
    let replica = RedisServer::start_with(
        &["--replicaof", &replica_of, "--replica-read-only", "yes"],
        &[],
    );
    let env = redis_env(&replica.url());
    let (run, n) = env.run_with_browser(&["login", &mcp]).await;
    let run = run.failed();
    assert_eq!(n, 0);
    assert!(run.stderr.contains("read-only replica"), "{}", run.stderr);
    assert!(!env.store_file().exists(), "no fallback to the file store");

    // a URL that is not one, without echoing it
    let env = redis_env("http://:pw-in-url@127.0.0.1:1");
    let run = env.run(&["token", &mcp]).failed();
    assert!(run.stderr.contains("redis://"), "{}", run.stderr);
    assert!(!run.stderr.contains("pw-in-url"), "{}", run.stderr);
    // `persist: redis` without a URL says where to put one
    let mut env = CliEnv::new();
    env.store = Some("redis");
    env.removed_env.push("MCP_AUTH_REDIS_URL".into());
    let run = env.run(&["token", &mcp]).failed();
    assert!(run.stderr.contains("MCP_AUTH_REDIS_URL"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_during_a_refresh_and_an_outage_lose_nothing() {
    let mut redis = RedisServer::start();
    let server = TestServer::start(Scenario::Default);
    let mcp = server.mcp_url();
    let env = redis_env(&redis.url());
    logged_in(&server, &env).await;
    let mut conn = redis.conn();
    let key = token_key(&mut conn, "mcp-auth:");

    // Redis goes down while the refresh request is at the AS and comes back after the answer:
    // the refreshed tokens must still reach it (the store reconnects for a few seconds)
    let old = expire_record(&mut conn, &key);
    server.clear_log();
    server.set_token_delay_ms(1000);
    let child = env.command(&["token", &mcp]).spawn().expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.count("POST", "/token") == 0 {
        assert!(Instant::now() < deadline, "no refresh request came");
        std::thread::sleep(Duration::from_millis(10));
    }
    redis.stop();
    std::thread::sleep(Duration::from_millis(2000));
    redis.start_again();
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let mut conn = redis.conn();
    let rec = record(&mut conn, &key);
    assert_eq!(
        rec["access_token"].as_str(),
        Some(printed.as_str()),
        "the refreshed tokens reached Redis after its restart"
    );
    assert_ne!(printed, old);
    assert_eq!(mcp_status_with(&mcp, &printed).await, 200);

    // Redis gone: a clear error, and nothing changes
    server.set_token_delay_ms(0);
    redis.stop();
    let run = env.run(&["token", &mcp]).failed();
    assert!(run.stderr.contains("cannot reach Redis"), "{}", run.stderr);
    let st = env.run(&["status"]).ok();
    assert!(st.stdout.contains("✗ not usable"), "{}", st.stdout);

    // back: the same record, and the next expiry costs one refresh with the rotated token
    redis.restart();
    let mut conn = redis.conn();
    assert_eq!(record(&mut conn, &key), rec, "nothing was lost");
    server.clear_log();
    expire_record(&mut conn, &key);
    let token = env.run(&["token", &mcp]).ok().stdout;
    assert_eq!(server.grant_count("refresh_token"), 1);
    assert_eq!(mcp_status_with(&mcp, token.trim()).await, 200);
    assert_eq!(server.revoked_grant_count(), 0, "no grant was revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_whose_lease_ran_out_cannot_overwrite_the_next_holders_record() {
    use mcp_auth::redis_store::{RedisSettings, RedisStore, RedisUrl};
    let redis = RedisServer::start();
    let settings = RedisSettings {
        url: RedisUrl::new(redis.url()),
        prefix: "fence:".into(),
    };
    let a = RedisStore::open(&settings).expect("open");
    let b = RedisStore::open(&settings).expect("open");
    let held_a = a.lock("refresh:x").await.expect("lock a");
    a.save("tokens:x", "from a, in time").await.expect("save a");
    // A stalls; its lease runs out (here: the key goes) and B takes the lock
    let mut conn = redis.conn();
    redis::cmd("DEL")
        .arg("fence:lock:refresh:x")
        .query::<()>(&mut conn)
        .expect("DEL");
    let held_b = b.lock("refresh:x").await.expect("lock b");
    b.save("tokens:x", "from b").await.expect("save b");
    let err = a
        .save("tokens:x", "from a, stale")
        .await
        .expect_err("fenced");
    assert!(
        format!("{err:?}").contains("ran out before this write"),
        "{err:?}"
    );
    assert!(a.remove("tokens:x").await.is_err(), "a fenced delete too");
    assert_eq!(
        b.load("tokens:x").await.expect("load").as_deref(),
        Some("from b"),
        "the stale holder wrote nothing"
    );
    drop(held_a);
    assert_eq!(
        lock_keys(&mut conn, "fence:").len(),
        1,
        "A's release leaves B's lock alone"
    );
    drop(held_b);
    assert!(
        lock_keys(&mut conn, "fence:").is_empty(),
        "released by its owner"
    );
    // without a lock held, writes are plain
    a.save("tokens:x", "later").await.expect("save");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_longer_than_the_lease_keeps_the_lock_by_renewing_it() {
    let redis = RedisServer::start();
    let server = TestServer::start(Scenario::Default);
    let mcp = server.mcp_url();
    let mut env = redis_env(&redis.url());
    logged_in(&server, &env).await;
    let mut conn = redis.conn();
    let key = token_key(&mut conn, "mcp-auth:");
    // the token endpoint takes four leases; the holder's renewals keep the waiters out
    env.extra_env
        .push(("MCP_AUTH_REDIS_LEASE_MS".into(), "500".into()));
    expire_record(&mut conn, &key);
    server.clear_log();
    server.set_token_delay_ms(2000);
    let holder = env.command(&["token", &mcp]).spawn().expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.count("POST", "/token") == 0 {
        assert!(Instant::now() < deadline, "no refresh request came");
        std::thread::sleep(Duration::from_millis(10));
    }
    let waiters: Vec<_> = (0..3)
        .map(|_| env.command(&["token", &mcp]).spawn().expect("spawn"))
        .collect();
    let mut tokens = Vec::new();
    for c in std::iter::once(holder).chain(waiters) {
        let out = c.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        tokens.push(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }
    assert_eq!(
        server.grant_count("refresh_token"),
        1,
        "the waiters never took the lock from a live holder"
    );
    assert!(tokens.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(server.revoked_grant_count(), 0);
    assert_eq!(mcp_status_with(&mcp, &tokens[0]).await, 200);
}

/// Runs `openssl` (Debian's, from .ci/setup) with `args` in `dir`.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is not installed: run .ci/setup");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_verifies_the_server_certificate() {
    // a private CA and a certificate for 127.0.0.1 signed by it
    let pki = tempfile::tempdir().expect("tempdir");
    let d = pki.path();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=mcp-auth test CA",
    ]);
    openssl(d, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=localhost",
    ]);
    openssl(d, &csr);
    std::fs::write(
        d.join("ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "ext",
        ],
    );
    let redis = RedisServer::start_tls(d.join("leaf.pem"), d.join("leaf.key"));
    let server = TestServer::start(Scenario::Default);
    let url = format!("rediss://127.0.0.1:{}", redis.port);

    // the system's roots do not know the private CA: refused, and said so
    let mut env = redis_env(&url);
    env.removed_env.push("SSL_CERT_FILE".into());
    let run = env.run(&["token", &server.mcp_url()]).failed();
    assert!(
        run.stderr
            .contains("cannot reach Redis at rediss://127.0.0.1"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("certificate"), "{}", run.stderr);

    // trusting the CA (SSL_CERT_FILE, read by the system-roots loader): login and token work
    let mut env = redis_env(&url);
    env.extra_env.push((
        "SSL_CERT_FILE".into(),
        d.join("ca.pem").display().to_string(),
    ));
    logged_in(&server, &env).await;
    let st = env.run(&["status"]).ok();
    assert!(st.stdout.contains("✓ reachable (master)"), "{}", st.stdout);
    let token = env.run(&["token", &server.mcp_url()]).ok().stdout;
    assert_eq!(mcp_status_with(&server.mcp_url(), token.trim()).await, 200);
}

/// The harness itself: a port another listener took between `free_port` and Redis's bind
/// (Redis exits; the squatter accepts but is not Redis) sends a first start to another port.
#[test]
fn a_test_redis_moves_off_a_taken_port() {
    let squatter = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    let taken = squatter.local_addr().expect("addr").port();
    let redis = RedisServer::start_on(taken, &[], &[]);
    assert_ne!(redis.port, taken, "started on the squatter's port");
    let pong: String = redis::cmd("PING")
        .query(&mut redis.conn())
        .expect("PING the test redis");
    assert_eq!(pong, "PONG");
    drop(squatter);
}
