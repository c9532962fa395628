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
    /// Whether the port may still change: until the first start succeeds (a restart keeps it).
    fresh: bool,
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
        Self::start_on(crate::common::free_port(), args, binds)
    }

    /// [`RedisServer::start_with`] trying `port` first.
    pub fn start_on(port: u16, args: &[&str], binds: &[&str]) -> RedisServer {
        let mut s = RedisServer {
            dir: tempfile::tempdir().expect("tempdir"),
            port,
            args: args.iter().map(|a| a.to_string()).collect(),
            binds: binds.iter().map(|a| a.to_string()).collect(),
            tls: None,
            child: None,
            fresh: true,
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
            fresh: true,
            child: None,
        };
        s.launch();
        s
    }

    fn spawn(&mut self) {
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
    }

    /// Starts the server and waits until it answers. A port from `free_port` can be taken by
    /// another test's listener before Redis binds it: Redis then exits, and the port answers,
    /// but not as Redis. So readiness is Redis's own answer to `PING` from a live child, and a
    /// first start that fails moves to another free port.
    fn launch(&mut self) {
        for attempt in 1.. {
            self.spawn();
            match self.wait_ready() {
                Ok(()) => {
                    self.fresh = false;
                    return;
                }
                Err(why) if self.fresh && attempt < 5 => {
                    self.kill();
                    eprintln!(
                        "redis-server on port {}: {why}; trying another port",
                        self.port
                    );
                    self.port = crate::common::free_port();
                }
                Err(why) => panic!("redis-server did not start on port {}: {why}", self.port),
            }
        }
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                return Err(format!("it exited ({status})"));
            }
            if self.answers() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("no answer within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether Redis answers on the port: `PING` gets `+PONG` (or `-NOAUTH` with a password).
    /// A TLS-only port is only connected to.
    fn answers(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut tcp) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        if self.tls.is_some() {
            return true;
        }
        let _ = tcp.set_read_timeout(Some(Duration::from_secs(2)));
        let mut reply = [0u8; 7];
        tcp.write_all(b"PING\r\n").is_ok()
            && tcp.read_exact(&mut reply).is_ok()
            && (reply.starts_with(b"+PONG") || reply.starts_with(b"-NOAUTH"))
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
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
        self.kill();
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
