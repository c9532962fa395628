//! The MCP resource server: bearer checks, 401/403 headers, JSON-RPC, CORS, HTTP+SSE.

mod common;

use std::time::Duration;

use common::*;
use mcp_auth_testkit::{Scenario, TestServer};
use serde_json::{json, Value};

async fn call(s: &TestServer, token: &str, sid: &str, body: Value) -> (u16, Value) {
    let resp = mcp_post(s, Some(token), Some(sid), body).await;
    let st = resp.status().as_u16();
    (st, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn mcp_session_tools_and_errors() {
    let s = TestServer::start(Scenario::Default);
    let (_, tok) = login(&s, None).await;
    let token = access(&tok);
    let resp = mcp_post(&s, Some(&token), None, initialize()).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json")));
    let sid = resp
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .expect("session")
        .to_string();
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["result"]["protocolVersion"], "2025-11-25");
    assert_eq!(v["result"]["serverInfo"]["name"], "mcp-auth-testkit");
    assert_eq!(v["result"]["capabilities"], json!({"tools": {}}));

    let resp = mcp_post(
        &s,
        Some(&token),
        Some(&sid),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 202);
    assert!(resp.text().await.expect("body").is_empty());

    let (st, v) = call(
        &s,
        &token,
        &sid,
        json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}),
    )
    .await;
    assert_eq!(st, 200);
    let names: Vec<&str> = v["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["echo", "whoami", "write_note"]);

    let (_, v) = call(
        &s,
        &token,
        &sid,
        json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi <there>"}}}),
    )
    .await;
    assert_eq!(v["id"], 3);
    assert_eq!(v["result"]["content"][0]["text"], "hi <there>");

    let (_, v) = call(
        &s,
        &token,
        &sid,
        json!({"jsonrpc":"2.0","id":4,"method":"nope"}),
    )
    .await;
    assert_eq!(v["error"]["code"], -32601);

    // Session rules: missing → 400, unknown → 404.
    let resp = mcp_post(
        &s,
        Some(&token),
        None,
        json!({"jsonrpc":"2.0","id":5,"method":"tools/list"}),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 400);
    let resp = mcp_post(
        &s,
        Some(&token),
        Some("bogus"),
        json!({"jsonrpc":"2.0","id":5,"method":"tools/list"}),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 404);

    // Garbage body: a JSON-RPC parse error, not a panic.
    let resp = http()
        .post(s.mcp_url())
        .bearer_auth(&token)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-session-id", &sid)
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 400);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["code"], -32700);
}

#[tokio::test]
async fn write_note_needs_mcp_write() {
    let s = TestServer::start(Scenario::Default);
    let (_, tok) = login(&s, Some("mcp:read")).await;
    let token = access(&tok);
    let sid = session(&s, &token).await;
    let body = json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"write_note","arguments":{"text":"n"}}});
    let resp = mcp_post(&s, Some(&token), Some(&sid), body.clone()).await;
    assert_eq!(resp.status().as_u16(), 403);
    let h = www_authenticate(&resp);
    assert!(h.starts_with("Bearer "), "{h}");
    assert!(h.contains("error=\"insufficient_scope\""), "{h}");
    assert!(h.contains("scope=\"mcp:read mcp:write\""), "{h}");
    assert!(
        h.contains(&format!(
            "resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
            s.base_url()
        )),
        "{h}"
    );
    assert!(h.contains("error_description=\""), "{h}");

    let (_, tok) = login(&s, Some("mcp:read mcp:write")).await;
    let token = access(&tok);
    let sid = session(&s, &token).await;
    let (st, v) = call(&s, &token, &sid, body).await;
    assert_eq!(st, 200);
    assert_eq!(v["result"]["isError"], false);
}

#[tokio::test]
async fn bearer_checks() {
    let s = TestServer::start(Scenario::Default);
    let prm = format!("{}/.well-known/oauth-protected-resource/mcp", s.base_url());
    let resp = mcp_post(&s, Some("made-up"), None, initialize()).await;
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(
        www_authenticate(&resp),
        format!(
            "Bearer resource_metadata=\"{prm}\", scope=\"mcp:read\", error=\"invalid_token\", error_description=\"the access token is not known here\""
        )
    );
    // Basic instead of Bearer: a plain challenge without an error code.
    let resp = http()
        .post(s.mcp_url())
        .basic_auth("a", Some("b"))
        .json(&initialize())
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 401);
    assert!(!www_authenticate(&resp).contains("error="));

    // A token from another server is unknown here.
    let other = TestServer::start(Scenario::Default);
    let (_, tok) = login(&other, None).await;
    let resp = mcp_post(&s, Some(&access(&tok)), None, initialize()).await;
    assert_eq!(resp.status().as_u16(), 401);
    // Accept header must allow both JSON and SSE (checked after authentication).
    let resp = http()
        .post(other.mcp_url())
        .bearer_auth(access(&tok))
        .header("accept", "application/json")
        .json(&initialize())
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 406);
}

#[tokio::test]
async fn cors_on_errors_and_preflight() {
    let s = TestServer::start(Scenario::Default);
    let resp = mcp_post(&s, None, None, initialize()).await;
    assert_eq!(resp.status().as_u16(), 401);
    let h = resp.headers();
    assert_eq!(
        h.get("access-control-allow-origin").map(|v| v.as_bytes()),
        Some(&b"*"[..])
    );
    let expose = h
        .get("access-control-expose-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    for name in ["www-authenticate", "mcp-session-id", "location"] {
        assert!(expose.contains(name), "{expose}");
    }
    // An AS error too.
    let (st, _) = token_request(&s, &[("grant_type", "password")], None).await;
    assert_eq!(st, 401);
    let resp = http()
        .post(format!("{}/token", s.base_url()))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .expect("token");
    assert_eq!(
        resp.headers()
            .get("access-control-allow-origin")
            .map(|v| v.as_bytes()),
        Some(&b"*"[..])
    );

    for path in [
        "/mcp",
        "/token",
        "/register",
        "/.well-known/oauth-authorization-server",
    ] {
        let resp = http()
            .request(reqwest::Method::OPTIONS, format!("{}{path}", s.base_url()))
            .header("origin", "http://localhost:8080")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
            .await
            .expect("preflight");
        assert_eq!(resp.status().as_u16(), 204, "{path}");
        let h = resp.headers();
        let allow_headers = h
            .get("access-control-allow-headers")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        for name in [
            "authorization",
            "content-type",
            "mcp-protocol-version",
            "mcp-session-id",
            "last-event-id",
        ] {
            assert!(allow_headers.contains(name), "{path}: {allow_headers}");
        }
        let methods = h
            .get("access-control-allow-methods")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            methods.contains("POST") && methods.contains("DELETE"),
            "{methods}"
        );
    }
    assert_eq!(s.count("OPTIONS", "/mcp"), 1);
}

#[tokio::test]
async fn admin_endpoints_are_not_logged() {
    let s = TestServer::start(Scenario::Default);
    let _ = http().get(format!("{}/nowhere", s.base_url())).send().await;
    let (st, v) = get_json(&format!("{}/_testkit/stats", s.base_url())).await;
    assert_eq!(st, 200);
    assert_eq!(v["requests"], json!(["GET /nowhere"]));
    assert_eq!(v["counts"]["GET /nowhere"], 1);
    assert_eq!(v["revoked"], 0);
    let (_, tok) = login(&s, None).await;
    session(&s, &access(&tok)).await;
    let resp = http()
        .post(format!("{}/_testkit/expire", s.base_url()))
        .send()
        .await
        .expect("expire");
    assert_eq!(resp.status().as_u16(), 200);
    let resp = mcp_post(&s, Some(&access(&tok)), None, initialize()).await;
    assert_eq!(resp.status().as_u16(), 401);
    let resp = http()
        .post(format!("{}/_testkit/clear-log", s.base_url()))
        .send()
        .await
        .expect("clear");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(s.request_lines().is_empty());
}

/// Read SSE events until `want` of them arrived.
async fn read_events(
    stream: &mut reqwest::Response,
    buf: &mut String,
    want: usize,
) -> Vec<(String, String)> {
    let mut events = Vec::new();
    loop {
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut ev = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    ev = e.to_string();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            events.push((ev, data));
            if events.len() == want {
                return events;
            }
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
            .await
            .expect("event in time")
            .expect("chunk")
            .expect("stream open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn old_http_sse_transport() {
    let s = TestServer::start(Scenario::Default);
    let resp = http().get(s.sse_url()).send().await.expect("sse");
    assert_eq!(resp.status().as_u16(), 401);
    assert!(www_authenticate(&resp).contains("/.well-known/oauth-protected-resource/sse"));

    let (_, tok) = login(&s, None).await;
    let token = access(&tok);
    let resp = http()
        .get(s.sse_url())
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("sse");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"text/event-stream"[..])
    );
    let mut stream = resp;
    let mut buf = String::new();
    let ev = read_events(&mut stream, &mut buf, 1).await;
    assert_eq!(ev[0].0, "endpoint");
    assert!(ev[0].1.starts_with("/messages?sessionId="), "{}", ev[0].1);
    let endpoint = format!("{}{}", s.base_url(), ev[0].1);

    // No token → 401; with token → 202 and the answer on the stream.
    let resp = http()
        .post(&endpoint)
        .json(&initialize())
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 401);
    let resp = http()
        .post(&endpoint)
        .bearer_auth(&token)
        .json(&json!({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo","arguments":{"text":"over sse"}}}))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 202);
    let ev = read_events(&mut stream, &mut buf, 1).await;
    assert_eq!(ev[0].0, "message");
    let v: Value = serde_json::from_str(&ev[0].1).expect("json");
    assert_eq!(v["id"], 9);
    assert_eq!(v["result"]["content"][0]["text"], "over sse");

    let resp = http()
        .post(format!("{}/messages?sessionId=unknown", s.base_url()))
        .bearer_auth(&token)
        .json(&initialize())
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 404);
}

#[tokio::test]
async fn drop_does_not_hang_on_an_open_event_stream() {
    let s = TestServer::start(Scenario::Default);
    let (_, tok) = login(&s, None).await;
    let mut stream = http()
        .get(s.sse_url())
        .bearer_auth(access(&tok))
        .send()
        .await
        .expect("sse");
    let mut buf = String::new();
    read_events(&mut stream, &mut buf, 1).await;
    let dropped = tokio::task::spawn_blocking(move || drop(s));
    tokio::time::timeout(Duration::from_secs(5), dropped)
        .await
        .expect("drop finished in time")
        .expect("join");
    // The stream ends once the server is gone.
    let end = tokio::time::timeout(Duration::from_secs(5), stream.chunk())
        .await
        .expect("stream ended in time");
    assert!(!matches!(end, Ok(Some(_))), "{end:?}");
}
