//! The native host's HTTP bounds against servers on 127.0.0.1 that stream forever, declare a
//! huge body, never answer or drip a byte at a time: each ends in a clear network error
//! instead of filling memory or hanging, and the CLI says so and exits non-zero.

mod common;

use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use common::{CliEnv, Run};
use futures_util::stream;
use mcp_auth::http::HttpClient;
use mcp_auth_core::host::{DOCUMENT_MAX_BODY, MCP_MAX_BODY};
use mcp_auth_core::{HostError, HttpRequest};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// An endless body of 64 KiB chunks.
fn forever() -> Body {
    Body::from_stream(stream::repeat_with(|| {
        Ok::<_, std::io::Error>(Bytes::from(vec![b' '; 64 * 1024]))
    }))
}

/// One byte every 100 ms, forever.
fn drip() -> Body {
    Body::from_stream(stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Some((Ok::<_, std::io::Error>(Bytes::from_static(b" ")), ()))
    }))
}

async fn silent() -> &'static str {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    "never"
}

async fn start() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let prm = format!("{base}/forever");
    let app = Router::new()
        .route(
            "/forever",
            get(|| async { forever() }).post(|| async { forever() }),
        )
        .route("/drip", get(|| async { drip() }))
        .route("/silent", get(silent).post(silent))
        .route(
            "/mcp",
            post(move || async move {
                let challenge = format!("Bearer resource_metadata=\"{prm}\"");
                (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, challenge)],
                )
                    .into_response()
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// A raw server that declares a 10 GB body and then sends nothing.
async fn start_declared_huge() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = tokio::io::AsyncReadExt::read(&mut sock, &mut buf).await;
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 10000000000\r\n\r\n{")
                    .await;
                tokio::time::sleep(Duration::from_secs(3600)).await;
            });
        }
    });
    base
}

fn network_message(r: Result<mcp_auth_core::HttpResponse, HostError>) -> String {
    match r {
        Err(HostError::Network(m)) => m,
        other => panic!("expected a network error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_endless_body_stops_at_the_cap_of_its_kind() {
    let base = start().await;
    let http = HttpClient::new().unwrap();
    let m = network_message(http.send(HttpRequest::get(format!("{base}/forever"))).await);
    assert!(
        m.contains(&format!("larger than {} KiB", DOCUMENT_MAX_BODY / 1024)),
        "{m}"
    );
    assert!(m.contains("/forever"), "{m}");

    let mcp = HttpRequest::post(
        format!("{base}/forever"),
        "application/json",
        b"{}".to_vec(),
    )
    .max_body(MCP_MAX_BODY);
    let m = network_message(http.send(mcp).await);
    assert!(
        m.contains(&format!("larger than {} KiB", MCP_MAX_BODY / 1024)),
        "{m}"
    );
}

#[tokio::test]
async fn a_declared_huge_body_is_refused_before_reading() {
    let base = start_declared_huge().await;
    // the server never sends the body: only the declared length can end this before the
    // (long) default timeouts
    let http = HttpClient::new().unwrap();
    let m = network_message(http.send(HttpRequest::get(format!("{base}/x"))).await);
    assert!(m.contains("larger than"), "{m}");
}

#[tokio::test]
async fn silent_and_dripping_servers_time_out() {
    let base = start().await;
    let http = HttpClient::with_timeouts(
        Duration::from_secs(1),
        Duration::from_secs(1),
        Duration::from_secs(2),
    )
    .unwrap();
    for path in ["/silent", "/drip"] {
        let m = network_message(http.send(HttpRequest::get(format!("{base}{path}"))).await);
        assert!(m.starts_with("timed out"), "{path}: {m}");
        assert!(m.contains(path), "{m}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_reports_an_endless_metadata_document() {
    let base = start().await;
    let env = CliEnv::new();
    let run = tokio::task::spawn_blocking(move || {
        let r = env.run(&["login", &format!("{base}/mcp"), "--no-browser"]);
        drop(env);
        r
    })
    .await
    .unwrap()
    .failed();
    assert!(
        run.stderr.contains("larger than 1024 KiB"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("/forever"), "{}", run.stderr);
}

/// `MCP_AUTH_MAX_BODY` lowers (or raises) every cap: a metadata answer of 64 KiB chunks is
/// given up at 10 KiB, and the message says how to allow more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_body_cap_is_configurable() {
    let base = start().await;
    let mut env = CliEnv::new();
    env.extra_env
        .push(("MCP_AUTH_MAX_BODY".into(), (10 * 1024).to_string()));
    let run = tokio::task::spawn_blocking(move || {
        let r = env.run(&["login", &format!("{base}/mcp"), "--no-browser"]);
        drop(env);
        r
    })
    .await
    .unwrap()
    .failed();
    assert!(run.stderr.contains("larger than 10 KiB"), "{}", run.stderr);
    assert!(run.stderr.contains("MCP_AUTH_MAX_BODY"), "{}", run.stderr);
}

/// `MCP_AUTH_HTTP_TIMEOUT` bounds every request: a metadata server that never answers ends
/// the login with "timed out" instead of after the default 30 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_timeout_is_configurable() {
    let base = start().await;
    let mut env = CliEnv::new();
    env.extra_env
        .push(("MCP_AUTH_HTTP_TIMEOUT".into(), "1.5".into()));
    let url = format!("{base}/silent");
    let run = tokio::task::spawn_blocking(move || {
        // an MCP endpoint that never answers
        let r = env.run(&["login", &url, "--no-browser"]);
        drop(env);
        r
    })
    .await
    .unwrap()
    .failed();
    assert!(run.stderr.contains("timed out"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("may take 1.5 s: set MCP_AUTH_HTTP_TIMEOUT"),
        "{}",
        run.stderr
    );
}

/// Runs `login <url>` with a config file (and extra environment) in the working folder.
async fn login_with_config(url: String, config: (&str, &str), env_vars: &[(&str, &str)]) -> Run {
    let mut env = CliEnv::new();
    for (k, v) in env_vars {
        env.extra_env.push((k.to_string(), v.to_string()));
    }
    env.write_config(config.0, config.1);
    tokio::task::spawn_blocking(move || {
        let r = env.run(&["login", &url, "--no-browser"]);
        drop(env);
        r
    })
    .await
    .unwrap()
    .failed()
}

/// `max_body` in the config file's `mcp-auth:` section caps every response: the endless
/// metadata document is given up at 10 KiB, and the message names the cap and its file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_body_cap_can_come_from_the_config_file() {
    let base = start().await;
    for name in ["fastagent.config.yaml", ".mcp.json"] {
        let text = if name.ends_with("json") {
            r#"{"mcp-auth": {"max_body": 10240}, "mcpServers": {}}"#
        } else {
            "mcp-auth:\n  max_body: 10240\n"
        };
        let run = login_with_config(format!("{base}/mcp"), (name, text), &[]).await;
        assert!(
            run.stderr.contains("larger than 10 KiB"),
            "{name}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains("`max_body: 10240` under `mcp-auth:`") && run.stderr.contains(name),
            "{name}: {}",
            run.stderr
        );
    }
}

/// The environment wins over the file: `MCP_AUTH_MAX_BODY` of 20 KiB beats the file's 10 KiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_wins_over_the_config_file() {
    let base = start().await;
    let config = ("fastagent.config.yaml", "mcp-auth:\n  max_body: 10240\n");
    let run = login_with_config(
        format!("{base}/mcp"),
        config,
        &[("MCP_AUTH_MAX_BODY", "20480")],
    )
    .await;
    assert!(run.stderr.contains("larger than 20 KiB"), "{}", run.stderr);
    assert!(
        run.stderr.contains("MCP_AUTH_MAX_BODY=20480"),
        "{}",
        run.stderr
    );
}

/// `http_timeout` in the config file bounds every request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_timeout_can_come_from_the_config_file() {
    let base = start().await;
    let config = ("fastagent.config.yaml", "mcp-auth:\n  http_timeout: 1.5\n");
    let run = login_with_config(format!("{base}/silent"), config, &[]).await;
    assert!(run.stderr.contains("timed out"), "{}", run.stderr);
    assert!(run.stderr.contains("may take 1.5 s"), "{}", run.stderr);
}

/// A bad value is a config error with its file, line and column, before any request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_cap_in_the_config_file_names_its_position() {
    let base = start().await;
    let cases = [
        (
            "fastagent.config.yaml",
            "mcp:\n  servers: {}\nmcp-auth:\n  max_body: 0\n",
            "line 4 column",
        ),
        (
            "fastagent.config.yaml",
            "mcp-auth:\n  http_timeout: soon\n",
            "line 2 column",
        ),
        (
            "fastagent.config.yaml",
            "mcp-auth:\n  max_bdy: 10\n",
            "max_bdy",
        ),
        (
            ".mcp.json",
            "{\"mcp-auth\": {\n  \"http_timeout\": -1}}",
            "line 2 column",
        ),
    ];
    for (name, text, says) in cases {
        let run = login_with_config(format!("{base}/mcp"), (name, text), &[]).await;
        let line = run
            .stderr
            .lines()
            .find(|l| l.starts_with("mcp-auth: error:"));
        let line = line.unwrap_or_else(|| panic!("{text:?}: no error line: {}", run.stderr));
        assert!(
            line.contains(name) && line.contains(says),
            "{text:?}: {line}"
        );
    }
}
