//! The loopback callback server and the browser step of the native host.

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
