//! The `mcp-auth-testkit` binary: serve, scenarios, browse.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use mcp_auth_testkit::{Scenario, TestServer};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mcp-auth-testkit");

struct Serve {
    child: Child,
    info: Value,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str]) -> Serve {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("line");
    let info: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    Serve { child, info }
}

fn terminate(s: &mut Serve) -> std::process::ExitStatus {
    let pid = s.child.id().to_string();
    let ok = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(ok.success());
    for _ in 0..100 {
        if let Some(st) = s.child.try_wait().expect("wait") {
            return st;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("serve did not exit on SIGTERM");
}

#[tokio::test]
async fn serve_prints_its_json_line_and_exits_on_sigterm() {
    let mut s = serve(&["--scenario", "as-path-issuer", "--token-lifetime", "7"]);
    let base = s.info["base_url"].as_str().expect("base_url").to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    assert_eq!(s.info["mcp_url"], Value::String(format!("{base}/mcp")));
    assert_eq!(s.info["sse_url"], Value::String(format!("{base}/sse")));
    assert_eq!(s.info["scenario"], "as-path-issuer");
    let issuer = s.info["issuer"].as_str().expect("issuer").to_string();
    assert!(issuer.ends_with("/tenant1") && !issuer.starts_with(&base));

    let resp = http()
        .post(format!("{base}/mcp"))
        .send()
        .await
        .expect("mcp");
    assert_eq!(resp.status().as_u16(), 401);
    let (st, stats) = get_json(&format!("{base}/_testkit/stats")).await;
    assert_eq!(st, 200);
    assert_eq!(stats["requests"], serde_json::json!(["POST /mcp"]));
    assert_eq!(stats["counts"]["POST /mcp"], 1);

    let status = terminate(&mut s);
    assert!(status.success(), "{status:?}");
}

#[test]
fn scenarios_lists_every_name() {
    let out = Command::new(BIN).arg("scenarios").output().expect("run");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf8");
    let names: Vec<&str> = text.lines().collect();
    let want: Vec<String> = Scenario::ALL.iter().map(|s| s.to_string()).collect();
    assert_eq!(names, want);
}

#[test]
fn unknown_scenario_is_an_error() {
    let out = Command::new(BIN)
        .args(["serve", "--scenario", "bogus"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("known scenarios"));
}

#[tokio::test]
async fn serve_static_dir() {
    let dir = std::env::temp_dir().join(format!("testkit-static-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("pkg")).expect("mkdir");
    std::fs::write(dir.join("index.html"), "<h1>demo</h1>").expect("write");
    std::fs::write(dir.join("pkg/app.wasm"), b"\0asm").expect("write");
    std::fs::write(dir.join("app.mjs"), "export {}").expect("write");
    let s = serve(&["--static-dir", dir.to_str().expect("utf8 path")]);
    let base = s.info["base_url"].as_str().expect("base").to_string();
    for (path, ct, body) in [
        ("/demo/", "text/html", "<h1>demo</h1>"),
        ("/demo/index.html", "text/html", "<h1>demo</h1>"),
        ("/demo/app.mjs", "text/javascript", "export {}"),
        ("/demo/pkg/app.wasm", "application/wasm", "\0asm"),
    ] {
        let resp = http()
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("get");
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        let got = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(got.starts_with(ct), "{path}: {got}");
        assert_eq!(resp.text().await.expect("text"), body);
    }
    for path in ["/demo/missing.js", "/demo/../Cargo.toml", "/demo/%2e%2e/x"] {
        let resp = http()
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("get");
        assert_eq!(resp.status().as_u16(), 404, "{path}");
    }
    drop(s);
    let _ = std::fs::remove_dir_all(dir);
}

/// A one-shot "client callback" server answering 200.
async fn callback_server() -> (u16, tokio::task::JoinHandle<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = l.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        let (mut sock, _) = l.accept().await.expect("accept");
        let mut buf = vec![0u8; 4096];
        let n = sock.read(&mut buf).await.expect("read");
        let _ = sock
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            .await;
        String::from_utf8_lossy(&buf[..n]).to_string()
    });
    (port, task)
}

#[tokio::test]
async fn browse_command_delivers_the_code_to_the_callback() {
    let s = TestServer::start(Scenario::Consent);
    let client_id = register_public(&s).await;
    let (port, task) = callback_server().await;
    let mut a = AuthUrl::new(&s, &client_id);
    a.redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let url = a.url(&s);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(["browse", &url])
            .output()
            .expect("run")
    })
    .await
    .expect("join");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("200 "));
    let request = task.await.expect("callback");
    assert!(request.starts_with("GET /callback?code="), "{request}");
    assert!(request.contains("state=st-123"));
}

#[test]
fn browse_command_fails_on_an_error_page() {
    let s = TestServer::start(Scenario::Default);
    let url = format!(
        "{}/authorize?client_id=nobody&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb",
        s.base_url()
    );
    let out = Command::new(BIN)
        .args(["browse", &url])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("400"));
}

#[tokio::test]
async fn serve_protocol_and_priming_flags() {
    let s = serve(&["--protocol", "modern", "--priming-event", "crlf"]);
    assert_eq!(s.info["protocol"], "modern");
    assert_eq!(s.info["priming_event"], "crlf");
    assert_eq!(s.info["second_origin"], Value::Null);
    let base = s.info["base_url"].as_str().expect("base").to_string();
    // Auth comes before any protocol check.
    let resp = http()
        .post(format!("{base}/mcp"))
        .json(&initialize())
        .send()
        .await
        .expect("mcp");
    assert_eq!(resp.status().as_u16(), 401);
    let (_, stats) = get_json(&format!("{base}/_testkit/stats")).await;
    assert_eq!(stats["protocol"], "modern");

    let s = serve(&["--priming-event"]);
    assert_eq!(s.info["protocol"], "dual");
    assert_eq!(s.info["priming_event"], "lf");

    let s = serve(&["--scenario", "as-switch"]);
    let second = s.info["second_origin"].as_str().expect("second origin");
    assert!(second.starts_with("http://127.0.0.1:"), "{second}");

    let out = Command::new(BIN)
        .args(["serve", "--protocol", "future"])
        .output()
        .expect("run");
    assert!(!out.status.success());
}
