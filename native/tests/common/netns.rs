//! Simulated hosts for the fleet tests: one network namespace per host, joined to the test's
//! namespace by a veth pair (`10.N.M.1` outside, `10.N.M.2` inside), each with its own HOME
//! and no shared files. Plain-http services of the test (the testkit) are forwarded with
//! Debian's `socat` so that a process inside sees them on its own 127.0.0.1 at the same port
//! (the CLI allows plain http to loopback only); Redis listens on the outer veth addresses
//! and is reached over the link like a real one. Needs root; [`unavailable`] says why not.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why namespaces cannot be made here, if they cannot.
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root (network namespaces need root; CI runs as root)".into());
    }
    let probe = format!("mcpaprobe{}", std::process::id());
    let made = Command::new("ip")
        .args(["netns", "add", &probe])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !made {
        return Some("`ip netns add` failed (no iproute2 or no namespace support)".into());
    }
    let _ = Command::new("ip").args(["netns", "del", &probe]).status();
    None
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub struct Host {
    pub ns: String,
    /// The test's side of the link (Redis listens here).
    pub outer_ip: String,
    pub dir: tempfile::TempDir,
    veth: String,
}

impl Host {
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

pub struct Fleet {
    pub hosts: Vec<Host>,
    forwarders: Vec<Child>,
}

impl Fleet {
    /// `n` hosts (at most 4). Addresses and names derive from the pid, so concurrent runs
    /// do not collide.
    pub fn new(n: usize) -> Fleet {
        assert!(n <= 4, "at most 4 hosts");
        let pid = std::process::id();
        let net = 100 + (pid / 64) % 100;
        let base = (pid % 64) * 4;
        let mut hosts = Vec::new();
        for i in 0..n {
            let ns = format!("mcpa{pid}h{i}");
            let veth = format!("mv{}x{i}", pid % 100_000);
            let peer = format!("mv{}y{i}", pid % 100_000);
            let sub = base as usize + i;
            let outer_ip = format!("10.{net}.{sub}.1");
            let inner_ip = format!("10.{net}.{sub}.2");
            ip(&["netns", "add", &ns]);
            let host = Host {
                ns: ns.clone(),
                outer_ip: outer_ip.clone(),
                dir: tempfile::tempdir().expect("tempdir"),
                veth: veth.clone(),
            };
            hosts.push(host);
            ip(&["link", "add", &veth, "type", "veth", "peer", "name", &peer]);
            ip(&["link", "set", &peer, "netns", &ns]);
            ip(&["addr", "add", &format!("{outer_ip}/24"), "dev", &veth]);
            ip(&["link", "set", &veth, "up"]);
            ip(&[
                "netns",
                "exec",
                &ns,
                "ip",
                "addr",
                "add",
                &format!("{inner_ip}/24"),
                "dev",
                &peer,
            ]);
            ip(&["netns", "exec", &ns, "ip", "link", "set", &peer, "up"]);
            ip(&["netns", "exec", &ns, "ip", "link", "set", "lo", "up"]);
            for sub in ["home", "state", "config", "work", "home/.cache"] {
                std::fs::create_dir_all(hosts[i].path().join(sub)).expect("mkdir");
            }
        }
        Fleet {
            hosts,
            forwarders: Vec::new(),
        }
    }

    /// The outer addresses (for Redis to listen on).
    pub fn outer_ips(&self) -> Vec<String> {
        self.hosts.iter().map(|h| h.outer_ip.clone()).collect()
    }

    /// Makes the test's `127.0.0.1:port` appear as `127.0.0.1:port` inside every host.
    pub fn forward_loopback(&mut self, port: u16) {
        for h in &self.hosts {
            let outer = Command::new("socat")
                .arg(format!(
                    "TCP-LISTEN:{port},bind={},fork,reuseaddr",
                    h.outer_ip
                ))
                .arg(format!("TCP:127.0.0.1:{port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("socat is not installed: run .ci/setup");
            self.forwarders.push(outer);
            let inner = Command::new("ip")
                .args(["netns", "exec", &h.ns, "socat"])
                .arg(format!("TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr"))
                .arg(format!("TCP:{}:{port}", h.outer_ip))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start socat in the namespace");
            self.forwarders.push(inner);
        }
        // ready when a connection from inside each host goes through both hops
        for h in &self.hosts {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let ok = Command::new("ip")
                    .args(["netns", "exec", &h.ns, "socat", "-u", "OPEN:/dev/null"])
                    .arg(format!("TCP:127.0.0.1:{port}"))
                    .stderr(Stdio::null())
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false);
                if ok {
                    break;
                }
                assert!(Instant::now() < deadline, "the forwarder never came up");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// `program args…` inside host `i`, with only the environment given here (plus PATH),
    /// HOME and XDG folders in the host's own directory.
    pub fn command(&self, i: usize, program: &str, args: &[&str]) -> Command {
        let h = &self.hosts[i];
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &h.ns, program])
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", h.home())
            .env("XDG_STATE_HOME", h.path().join("state"))
            .env("XDG_CONFIG_HOME", h.path().join("config"))
            .current_dir(h.path().join("work"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for c in &mut self.forwarders {
            let _ = c.kill();
            let _ = c.wait();
        }
        for h in &self.hosts {
            let _ = Command::new("ip")
                .args(["netns", "del", &h.ns])
                .stderr(Stdio::null())
                .status();
            let _ = Command::new("ip")
                .args(["link", "del", &h.veth])
                .stderr(Stdio::null())
                .status();
        }
    }
}
