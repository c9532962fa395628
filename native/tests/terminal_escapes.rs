//! Terminal escape injection: a hostile server (a tiny axum server on 127.0.0.1) puts
//! ESC [31m colours, OSC 8 links, OSC 52 clipboard writes and C1 CSI (U+009B) into its tool
//! names, descriptions, results, server name, registration `error_description` and metadata
//! `issuer`; whatever `mcp-auth` prints of them carries no ESC, CSI or BEL byte nor what is
//! left of a sequence without them (`[31m`, `]8;;https://…`), and the visible text still
//! arrives.

mod common;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::{CliEnv, Run};
use serde_json::{json, Value};

/// Every kind of sequence a terminal acts on: SGR colour, OSC 8 hyperlink, OSC 52 clipboard,
/// C1 CSI clear screen, a bare BEL and a carriage return that would overwrite the line.
const EVIL: &str = "\u{1b}[31mRED\u{1b}[0m \u{1b}]8;;https://evil.example/\u{7}LINK\u{1b}]8;;\u{7} \u{1b}]52;c;ZXZpbA==\u{7}CLIP \u{9b}2J\u{7}\rMARK";

async fn start() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/mcp", post(mcp))
        .route("/locked", post(locked))
        .route(
            "/.well-known/oauth-protected-resource/locked",
            get(|State(b): State<String>| async move {
                Json(json!({"resource": format!("{b}/locked"), "authorization_servers": [b]}))
            }),
        )
        .route(
            "/.well-known/oauth-protected-resource/badiss",
            get(|State(b): State<String>| async move {
                Json(json!({"resource": format!("{b}/badiss"), "authorization_servers": [format!("{b}/tenant")]}))
            }),
        )
        .route("/badiss", post(locked))
        .route(
            "/.well-known/oauth-authorization-server",
            get(|State(b): State<String>| async move { Json(as_metadata(&b, &b)) }),
        )
        .route(
            "/.well-known/oauth-authorization-server/tenant",
            get(|State(b): State<String>| async move {
                Json(as_metadata(&b, &format!("{b}/tenant{EVIL}")))
            }),
        )
        .route(
            "/register",
            post(|| async {
                (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": "invalid_redirect_uri", "error_description": EVIL})),
                )
            }),
        )
        .with_state(base.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn as_metadata(base: &str, issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "registration_endpoint": format!("{base}/register"),
        "code_challenge_methods_supported": ["S256"],
    })
}

/// A public modern (2026-07-28) MCP endpoint whose every string is hostile.
async fn mcp(Json(msg): Json<Value>) -> Response {
    let method = msg["method"].as_str().unwrap_or_default();
    let mut result = match method {
        "tools/list" => json!({"tools": [{
            "name": format!("tool{EVIL}"),
            "description": format!("does {EVIL}"),
            "inputSchema": {"type": "object"},
        }]}),
        "tools/call" => json!({"content": [{"type": "text", "text": format!("out {EVIL}")}]}),
        _ => json!({}),
    };
    result["resultType"] = json!("complete");
    result["_meta"] = json!({"io.modelcontextprotocol/serverInfo": {"name": format!("srv{EVIL}"), "version": "1"}});
    (
        [(header::CONTENT_TYPE, "application/json")],
        Json(json!({"jsonrpc": "2.0", "id": msg["id"], "result": result})),
    )
        .into_response()
}

async fn locked(State(base): State<String>, uri: axum::http::Uri) -> Response {
    let path = uri.path().to_string();
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            format!(
                "Bearer resource_metadata=\"{base}/.well-known/oauth-protected-resource{path}\""
            ),
        )],
    )
        .into_response()
}

fn assert_clean(run: &Run, visible: &[&str]) {
    for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        for bad in ['\u{1b}', '\u{9b}', '\u{7}', '\r'] {
            assert!(
                !text.contains(bad),
                "{name} carries {:?}:\n{text:?}",
                bad as u32
            );
        }
    }
    let all = format!("{}{}", run.stdout, run.stderr);
    // whole sequences go, not only their control characters
    for debris in ["[31m", "[0m", "]8;;", "]52;", "ZXZpbA==", "2J"] {
        assert!(!all.contains(debris), "`{debris}` left in:\n{all}");
    }
    for v in visible {
        assert!(all.contains(v), "`{v}` missing from:\n{all}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_output_carries_no_escape_sequences() {
    let base = start().await;
    let env = CliEnv::new();
    let mcp = format!("{base}/mcp");
    let run = env
        .run(&["probe", &mcp, "--call", "anything", "--args", "{}"])
        .ok();
    assert_clean(
        &run,
        &[
            "toolRED", "does RED", "LINK", "CLIP", "MARK", "out RED", "srvRED",
        ],
    );
    // raw bytes too (a lossy decode could hide a lone C1 byte)
    let out = env
        .command(&["probe", &mcp])
        .output()
        .expect("run mcp-auth");
    for bytes in [&out.stdout, &out.stderr] {
        assert!(!bytes.iter().any(|b| *b == 0x1b || *b == 0x07));
        assert!(!bytes.windows(2).any(|w| w == [0xc2, 0x9b]), "UTF-8 CSI");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_messages_carry_no_escape_sequences() {
    let base = start().await;
    let env = CliEnv::new();
    // the registration error's error_description
    let run = env
        .run(&["login", &format!("{base}/locked"), "--no-browser"])
        .failed();
    assert_clean(&run, &["invalid_redirect_uri", "RED", "LINK", "CLIP"]);
    // a mismatched issuer named by the server
    let run = env
        .run(&["login", &format!("{base}/badiss"), "--no-browser"])
        .failed();
    assert_clean(&run, &["tenantRED"]);
}
