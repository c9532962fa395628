//! A throwaway Debian `redis-server` for the Redis store tests: its own temp dir and a free
//! port, append-only persistence (so a restart keeps the records), stopped on drop. The
//! distro's service is never used.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// Extra `redis-server` arguments (e.g. `--requirepass`, `--replicaof`).
    args: Vec<String>,
    /// Addresses to listen on besides 127.0.0.1.
    binds: Vec<String>,
    /// TLS only (rediss://): the port speaks TLS with this certificate and key.
    tls: Option<(PathBuf, PathBuf)>,
    child: Option<Child>,
}

fn redis_server_bin() -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/usr/sbin"] {
        let p = PathBuf::from(dir).join("redis-server");
        if p.exists() {
            return p;
        }
    }
    panic!("redis-server is not installed: run .ci/setup (it installs Debian's redis-server)");
}

impl RedisServer {
    pub fn start() -> RedisServer {
        Self::start_with(&[], &[])
    }

    pub fn start_with(args: &[&str], binds: &[&str]) -> RedisServer {
        let mut s = RedisServer {
            dir: tempfile::tempdir().expect("tempdir"),
            port: crate::common::free_port(),
            args: args.iter().map(|a| a.to_string()).collect(),
            binds: binds.iter().map(|a| a.to_string()).collect(),
            tls: None,
            child: None,
        };
        s.launch();
        s
    }

    /// A server that speaks only TLS on its port, with this certificate chain and key.
    pub fn start_tls(cert: PathBuf, key: PathBuf) -> RedisServer {
        let mut s = RedisServer {
            dir: tempfile::tempdir().expect("tempdir"),
            port: crate::common::free_port(),
            args: Vec::new(),
            binds: Vec::new(),
            tls: Some((cert, key)),
            child: None,
        };
        s.launch();
        s
    }

    fn launch(&mut self) {
        let mut bind = vec!["127.0.0.1".to_string()];
        bind.extend(self.binds.iter().cloned());
        let mut c = Command::new(redis_server_bin());
        match &self.tls {
            None => c.arg("--port").arg(self.port.to_string()),
            Some((cert, key)) => c
                .args(["--port", "0", "--tls-port"])
                .arg(self.port.to_string())
                .arg("--tls-cert-file")
                .arg(cert)
                .arg("--tls-key-file")
                .arg(key)
                .args(["--tls-auth-clients", "no"]),
        };
        c.arg("--bind")
            .args(&bind)
            .arg("--dir")
            .arg(self.dir.path())
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .args([
                "--daemonize",
                "no",
                "--protected-mode",
                "no",
                "--logfile",
                "",
            ])
            .args(["--maxclients", "1000"])
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.child = Some(c.spawn().expect("start redis-server"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops the server (SIGTERM: it finishes its append-only file) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: plain kill(2) on our own child's pid.
            unsafe {
                libc::kill(c.id() as i32, libc::SIGTERM);
            }
            let _ = c.wait();
        }
    }

    /// Stops and starts it again on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// Starts it again after [`RedisServer::stop`].
    pub fn start_again(&mut self) {
        self.launch();
    }

    /// A connection for the test itself.
    pub fn conn(&self) -> redis::Connection {
        self.conn_with(&self.url())
    }

    pub fn conn_with(&self, url: &str) -> redis::Connection {
        redis::Client::open(url)
            .expect("redis url")
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("connect to the test redis")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Sets `expires_at` of the record under `key` to the past (the client-side clock says the
/// access token has expired). Returns the access token it held.
pub fn expire_record(conn: &mut redis::Connection, key: &str) -> String {
    let text: String = redis::cmd("GET").arg(key).query(conn).expect("GET record");
    let mut rec: serde_json::Value = serde_json::from_str(&text).expect("record json");
    let old = rec["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();
    rec["expires_at"] = serde_json::json!(1);
    redis::cmd("SET")
        .arg(key)
        .arg(rec.to_string())
        .query::<()>(conn)
        .expect("SET record");
    old
}

/// The record under `key`, parsed.
pub fn record(conn: &mut redis::Connection, key: &str) -> serde_json::Value {
    let text: String = redis::cmd("GET").arg(key).query(conn).expect("GET record");
    serde_json::from_str(&text).expect("record json")
}

/// The one token record key under `prefix`.
pub fn token_key(conn: &mut redis::Connection, prefix: &str) -> String {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}tokens:*"))
        .query(conn)
        .expect("KEYS");
    assert_eq!(keys.len(), 1, "one token record: {keys:?}");
    keys[0].clone()
}

/// The lock keys under `prefix` held now.
pub fn lock_keys(conn: &mut redis::Connection, prefix: &str) -> Vec<String> {
    redis::cmd("KEYS")
        .arg(format!("{prefix}lock:*"))
        .query(conn)
        .expect("KEYS")
}
