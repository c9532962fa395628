//! Helpers for the CLI tests: run the built `mcp-auth` binary in a throwaway HOME, with a
//! `$BROWSER` that hands the authorization URL back to the test, which then acts as the
//! user's browser through the testkit (approve, then GET the loopback callback).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_mcp-auth");

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// A temporary user: HOME, XDG dirs, a working folder, and a browser script.
pub struct CliEnv {
    pub dir: tempfile::TempDir,
    pub redirect_port: u16,
    /// `MCP_AUTH_STORE` for every command (`None`: unset).
    pub store: Option<&'static str>,
    pub extra_env: Vec<(String, String)>,
    pub removed_env: Vec<String>,
}

impl CliEnv {
    pub fn new() -> CliEnv {
        let dir = tempfile::tempdir().expect("tempdir");
        for sub in [
            "home",
            "state",
            "config",
            "work",
            "home/.cache",
            "home/.local/share",
        ] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        let script = dir.path().join("browser.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n",
                dir.path().join("urls.txt").display()
            ),
        )
        .expect("write browser script");
        CliEnv {
            dir,
            redirect_port: free_port(),
            store: Some("file"),
            extra_env: Vec::new(),
            removed_env: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn work(&self) -> PathBuf {
        self.path().join("work")
    }
    pub fn store_file(&self) -> PathBuf {
        self.path()
            .join("state")
            .join("mcp-auth")
            .join("store.json")
    }

    pub fn write_config(&self, name: &str, text: &str) -> PathBuf {
        let p = self.work().join(name);
        std::fs::write(&p, text).expect("write config");
        p
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .current_dir(self.work())
            .env("HOME", self.path().join("home"))
            .env("XDG_STATE_HOME", self.path().join("state"))
            .env("XDG_CONFIG_HOME", self.path().join("config"))
            .env("CODEX_HOME", self.path().join("codex"))
            .env(
                "BROWSER",
                format!("sh {}", self.path().join("browser.sh").display()),
            )
            .env("MCP_AUTH_REDIRECT_PORT", self.redirect_port.to_string())
            .env_remove("MCP_AUTH_CODEX_ISSUER")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match self.store {
            Some(s) => c.env("MCP_AUTH_STORE", s),
            None => c.env_remove("MCP_AUTH_STORE"),
        };
        for (k, v) in &self.extra_env {
            c.env(k, v);
        }
        for k in &self.removed_env {
            c.env_remove(k);
        }
        c
    }

    /// Runs a command that needs no browser.
    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().expect("run mcp-auth");
        Run::from(out)
    }

    fn take_url(&self, seen: &mut usize) -> Option<String> {
        let text = std::fs::read_to_string(self.path().join("urls.txt")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        if lines.len() > *seen {
            *seen += 1;
            Some(lines[*seen - 1].to_string())
        } else {
            None
        }
    }

    /// Runs a command and plays the user's browser for every URL it opens (approving).
    /// Returns the run and how many authorizations happened.
    pub async fn run_with_browser(&self, args: &[&str]) -> (Run, usize) {
        self.run_with_browser_and_stdin(args, None).await
    }

    /// As [`CliEnv::run_with_browser`], with `input` written to standard input (then closed).
    pub async fn run_with_browser_and_stdin(
        &self,
        args: &[&str],
        input: Option<&str>,
    ) -> (Run, usize) {
        let mut command = self.command(args);
        if input.is_some() {
            command.stdin(Stdio::piped());
        }
        let mut child = tokio::process::Command::from(command)
            .spawn()
            .expect("spawn mcp-auth");
        if let Some(input) = input {
            use tokio::io::AsyncWriteExt;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin
                .write_all(input.as_bytes())
                .await
                .expect("write stdin");
            drop(stdin);
        }
        let mut seen = std::fs::read_to_string(self.path().join("urls.txt"))
            .unwrap_or_default()
            .lines()
            .count();
        let start = seen;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(url) = self.take_url(&mut seen) {
                match mcp_auth_testkit::browse_and_deliver(&url).await {
                    Ok((_, status)) => assert_eq!(status, 200, "the callback page status"),
                    Err(e) => panic!("browsing {url} failed: {e}"),
                }
            }
            if child.try_wait().expect("try_wait").is_some() {
                break;
            }
            assert!(Instant::now() < deadline, "mcp-auth did not finish in 60 s");
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        let out = child.wait_with_output().await.expect("output");
        (Run::from(out), seen - start)
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
    pub fn failed(self) -> Run {
        assert_ne!(self.code, 0, "expected a failure\nstdout:\n{}", self.stdout);
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"),
            "a panic reached the user:\n{}",
            self.stderr
        );
        self
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

/// Sends an MCP `tools/list` with the token; returns the HTTP status.
pub async fn mcp_status_with(mcp_url: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .post(mcp_url)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(
            mcp_auth_core::mcp::request::initialize(mcp_url, 1, "2025-06-18")
                .body
                .unwrap_or_default(),
        )
        .send()
        .await
        .expect("send")
        .status()
        .as_u16()
}

/// The key of the identity's (first) token record in a file store's map.
pub fn token_key_in(map: &serde_json::Map<String, serde_json::Value>, identity: &str) -> String {
    let prefix = format!("tokens:{identity}|");
    map.keys()
        .find(|k| k.starts_with(&prefix))
        .cloned()
        .expect("a token record for the identity")
}
