//! The loopback callback server and the browser step of the native host, including a flood
//! of junk from other local processes while a real `mcp-auth login` waits.

mod common;

use mcp_auth::callback::CallbackServer;
use mcp_auth::host::{LoginUi, NativeHost};
use mcp_auth::store::{MemoryStore, Store};
use mcp_auth_core::Host;
use std::time::Duration;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    l.local_addr().expect("addr").port()
}

async fn get(url: &str) -> (u16, String) {
    let resp = reqwest::get(url).await.expect("GET");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

#[tokio::test]
async fn one_valid_callback_is_accepted_and_strays_are_refused_with_escaped_pages() {
    let port = free_port();
    let redirect = format!("http://localhost:{port}/callback");
    let auth_url = format!(
        "https://as.example/authorize?state=s-123&redirect_uri={}",
        redirect
    );
    let mut server = CallbackServer::start(&redirect, &auth_url)
        .await
        .expect("start");
    assert!(
        server.local_addr().ip().is_loopback(),
        "listens on loopback only"
    );
    let base = format!("http://127.0.0.1:{port}");

    // a stray request with markup in it: 400, escaped, and the server keeps waiting
    let (status, body) = get(&format!(
        "{base}/callback?state=wrong&error=%3Cscript%3Ealert(1)%3C%2Fscript%3E"
    ))
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("&lt;script&gt;"), "{body}");
    assert!(!body.contains("<script>"), "{body}");
    let (status, _) = get(&format!("{base}/callback")).await;
    assert_eq!(status, 400, "no state at all");
    let (status, _) = get(&format!("{base}/favicon.ico")).await;
    assert_eq!(status, 404);

    // the IPv6 loopback (where there is one) is the same server
    if let Ok(resp) = reqwest::get(format!("http://[::1]:{port}/callback?state=wrong")).await {
        assert_eq!(resp.status().as_u16(), 400);
    }

    // the right one completes it
    let (status, body) = get(&format!("{base}/callback?code=c-1&state=s-123")).await;
    assert_eq!(status, 200);
    assert!(body.contains("You can close this tab"));
    let got = tokio::time::timeout(Duration::from_secs(5), server.wait())
        .await
        .expect("delivered")
        .expect("a URL");
    assert!(got.starts_with(&redirect), "{got}");
    assert!(
        got.contains("code=c-1") && got.contains("state=s-123"),
        "{got}"
    );

    // exactly one: a replay is refused
    let (status, _) = get(&format!("{base}/callback?code=c-2&state=s-123")).await;
    assert_eq!(status, 409);

    // shut down after use
    server.close().await;
    let mut closed = false;
    for _ in 0..50 {
        if reqwest::get(format!("{base}/callback")).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        closed,
        "the callback server still answers after it was dropped"
    );
}

#[tokio::test]
async fn the_wait_gives_up_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = NativeHost::new(
        Store::Memory(MemoryStore::default()),
        dir.path().join("locks"),
        LoginUi {
            allowed: true,
            no_browser: true,
            timeout: Duration::from_secs(1),
        },
    )
    .expect("host");
    let port = free_port();
    let redirect = format!("http://localhost:{port}/callback");
    let err = host
        .authorize("https://as.example/authorize?state=x", &redirect)
        .await
        .expect_err("times out");
    let text = format!("{err:?}");
    assert!(text.contains("no callback arrived within 1 s"), "{text}");
    // and the port is free again
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
}

#[tokio::test]
async fn a_host_that_may_not_log_in_says_what_to_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = NativeHost::new(
        Store::Memory(MemoryStore::default()),
        dir.path().join("locks"),
        LoginUi {
            allowed: false,
            ..LoginUi::default()
        },
    )
    .expect("host");
    let err = host
        .authorize(
            "https://as.example/authorize?state=x",
            "http://localhost:1/callback",
        )
        .await
        .expect_err("refused");
    assert!(format!("{err:?}").contains("mcp-auth login"));
}

/// A raw exchange: sends `bytes`, then reads what comes back until the server closes.
async fn raw(port: u16, bytes: &[u8]) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return Vec::new();
    };
    let _ = stream.write_all(bytes).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_completes_through_a_flood_of_junk_slow_and_oversized_requests() {
    use futures_util::StreamExt;
    use mcp_auth_testkit::{Scenario, TestServer};
    use tokio::io::AsyncWriteExt;

    let server = TestServer::start(Scenario::Default);
    let env = common::CliEnv::new();
    let port = env.redirect_port;
    let mut child = tokio::process::Command::from(env.command(&["login", &server.mcp_url()]))
        .spawn()
        .expect("spawn login");
    let urls = env.path().join("urls.txt");
    let mut auth_url = None;
    for _ in 0..600 {
        if let Some(line) = std::fs::read_to_string(&urls)
            .ok()
            .and_then(|t| t.lines().next().map(str::to_string))
        {
            auth_url = Some(line);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let auth_url = auth_url.expect("login opened the browser");
    let state = mcp_auth_core::oauth::query_param(&auth_url, "state").expect("state");
    // the browser is opened once the listener is up; make sure it answers
    let (status, _) = get(&format!("http://127.0.0.1:{port}/callback?state=nope")).await;
    assert_eq!(status, 400);

    // slow half-open connections: half a request line, then nothing
    let mut stalled = Vec::new();
    for _ in 0..20 {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        s.write_all(b"GET /callback?sta").await.expect("write");
        stalled.push(s);
    }

    // 2,000 junk requests, 16 at a time
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let base = format!("http://127.0.0.1:{port}");
    let outcomes: Vec<(usize, Option<u16>)> = futures_util::stream::iter(0..2000usize)
        .map(|i| {
            let (http, base, state) = (http.clone(), base.clone(), state.clone());
            async move {
                let got = match i % 4 {
                    0 => http
                        .get(format!("{base}/callback?code=evil&state=wrong-{i}"))
                        .send()
                        .await
                        .ok()
                        .map(|r| r.status().as_u16()),
                    // the right state, the wrong method: must not complete the login
                    1 => http
                        .post(format!("{base}/callback?code=evil&state={state}"))
                        .send()
                        .await
                        .ok()
                        .map(|r| r.status().as_u16()),
                    2 => http
                        .get(format!("{base}/not-the-callback/{i}"))
                        .send()
                        .await
                        .ok()
                        .map(|r| r.status().as_u16()),
                    _ => {
                        let answer = raw(port, b"\x00\xff\xfejunk \r\n\r\n").await;
                        Some(if answer.starts_with(b"HTTP/1.1 200") {
                            200
                        } else {
                            0
                        })
                    }
                };
                (i, got)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for (i, got) in &outcomes {
        let want = match i % 4 {
            0 => Some(400),
            1 => Some(405),
            2 => Some(404),
            _ => Some(0),
        };
        assert_eq!(*got, want, "junk request {i}");
    }

    // oversized headers, carrying the right state: refused, never taken as the callback
    for _ in 0..5 {
        let mut req =
            format!("GET /callback?code=evil&state={state} HTTP/1.1\r\nHost: localhost\r\nX-Big: ")
                .into_bytes();
        req.extend(std::iter::repeat_n(b'a', 64 * 1024));
        req.extend_from_slice(b"\r\n\r\n");
        let answer = raw(port, &req).await;
        assert!(
            !answer.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "login is still waiting for the real callback"
    );

    // the real browser completes the login
    let (_, status) = mcp_auth_testkit::browse_and_deliver(&auth_url)
        .await
        .expect("deliver");
    assert_eq!(status, 200);
    let out = child.wait_with_output().await.expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Tokens stored for identity"), "{stdout}");
    assert_eq!(
        server.count("POST", "/token"),
        1,
        "only the real code was redeemed"
    );
    drop(stalled);
}

#[tokio::test]
async fn a_loopback_port_held_by_another_process_is_an_error() {
    let port = free_port();
    let held = std::net::TcpListener::bind(("127.0.0.1", port)).expect("hold");
    let err = CallbackServer::start(
        &format!("http://localhost:{port}/callback"),
        "https://as.example/authorize?state=x",
    )
    .await
    .err()
    .expect("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    assert!(err.to_string().contains("held by another process"), "{err}");
    drop(held);

    // the IPv6 loopback: held by another process is an error too; no IPv6 stack is not
    let port = free_port();
    let redirect = format!("http://[::1]:{port}/callback");
    match std::net::TcpListener::bind(("::1", port)) {
        Ok(held6) => {
            let err = CallbackServer::start(&redirect, "https://as.example/authorize?state=x")
                .await
                .err()
                .expect("refused");
            assert!(err.to_string().contains("on ::1"), "{err}");
            drop(held6);
        }
        Err(_) => {
            let server = CallbackServer::start(&redirect, "https://as.example/authorize?state=x")
                .await
                .expect("no IPv6 stack is not an error");
            assert!(server.local_addr().ip().is_loopback());
        }
    }
}

#[tokio::test]
async fn a_stalled_request_is_closed_by_the_listener() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let port = free_port();
    let server = CallbackServer::start(
        &format!("http://localhost:{port}/callback"),
        "https://as.example/authorize?state=s",
    )
    .await
    .expect("start");
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream
        .write_all(b"GET /callback?sta")
        .await
        .expect("half a request line");
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    // the listener must end it (header-read timeout); the outer bound only keeps a broken
    // listener from hanging the test
    let ended = tokio::time::timeout(Duration::from_secs(120), stream.read_to_end(&mut answer))
        .await
        .is_ok();
    assert!(ended, "the listener kept a stalled connection open");
    assert!(
        !answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    eprintln!("stalled connection closed after {:?}", started.elapsed());
    drop(server);
}

/// DNS rebinding: a page on a name the attacker controls, rebound to 127.0.0.1, reaches the
/// listener with its own name in `Host`. Such a request is refused (421) even with the right
/// state, and the login still completes through the real redirect.
#[tokio::test]
async fn a_request_for_another_host_is_refused_even_with_the_right_state() {
    let port = free_port();
    let redirect = format!("http://localhost:{port}/callback");
    let auth_url = format!("https://as.example/authorize?state=s-9&redirect_uri={redirect}");
    let mut server = CallbackServer::start(&redirect, &auth_url)
        .await
        .expect("start");
    for host in [
        format!("evil.example:{port}"),
        format!("localhost:{}", port.wrapping_add(1)),
        String::new(),
    ] {
        let head = if host.is_empty() {
            "GET /callback?code=evil&state=s-9 HTTP/1.0\r\n\r\n".to_string()
        } else {
            format!("GET /callback?code=evil&state=s-9 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
        };
        let answer = raw(port, head.as_bytes()).await;
        let text = String::from_utf8_lossy(&answer);
        assert!(
            text.starts_with("HTTP/1.1 421") || text.starts_with("HTTP/1.0 421"),
            "Host {host:?}: {text}"
        );
    }
    let (status, _) = get(&format!(
        "http://localhost:{port}/callback?code=c-9&state=s-9"
    ))
    .await;
    assert_eq!(status, 200);
    let got = tokio::time::timeout(Duration::from_secs(5), server.wait())
        .await
        .expect("delivered")
        .expect("a URL");
    assert!(got.contains("code=c-9"), "{got}");
}
