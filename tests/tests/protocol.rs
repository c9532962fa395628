//! Both MCP eras at the MCP endpoint: modern 2026-07-28 (stateless, header checks,
//! `server/discover`), legacy sessions, dual, SSE answers with a priming event, and the
//! `public-discovery` scenario.

mod common;

use common::*;
use mcp_auth_testkit::{LineEnd, Options, Protocol, Scenario, TestServer};
use serde_json::{json, Value};

const V: &str = "2026-07-28";

fn start(protocol: Protocol, priming_event: Option<LineEnd>, scenario: Scenario) -> TestServer {
    TestServer::start_with(Options {
        scenario,
        protocol,
        priming_event,
        ..Options::default()
    })
    .expect("start")
}

fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": V,
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {},
    })
}

/// A modern request body for `method` with `params` (plus the standard `_meta`).
fn body(method: &str, mut params: Value) -> Value {
    params["_meta"] = meta();
    json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params})
}

/// POST with exactly these extra headers (no defaults besides Accept).
async fn post(
    s: &TestServer,
    token: Option<&str>,
    headers: &[(&str, &str)],
    b: &Value,
) -> reqwest::Response {
    let mut req = http()
        .post(s.mcp_url())
        .header("accept", "application/json, text/event-stream")
        .json(b);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("post")
}

/// A well-formed modern request.
async fn modern(
    s: &TestServer,
    token: Option<&str>,
    method: &str,
    params: Value,
) -> reqwest::Response {
    let name = params
        .get("name")
        .or(params.get("uri"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut h = vec![("mcp-protocol-version", V), ("mcp-method", method)];
    if let Some(n) = &name {
        h.push(("mcp-name", n.as_str()));
    }
    post(s, token, &h, &body(method, params)).await
}

async fn status_json(resp: reqwest::Response) -> (u16, Value) {
    let st = resp.status().as_u16();
    (st, resp.json().await.unwrap_or(Value::Null))
}

async fn token(s: &TestServer, scope: Option<&str>) -> String {
    let (_, tok) = login(s, scope).await;
    access(&tok)
}

#[tokio::test]
async fn modern_discover_list_and_call_are_stateless() {
    let s = start(Protocol::Modern, None, Scenario::Default);
    let t = token(&s, None).await;
    let resp = modern(&s, Some(&t), "server/discover", json!({})).await;
    assert!(resp.headers().get("mcp-session-id").is_none());
    let (st, v) = status_json(resp).await;
    assert_eq!(st, 200, "{v}");
    let r = &v["result"];
    assert_eq!(r["resultType"], "complete");
    assert_eq!(r["supportedVersions"], json!([V]));
    assert_eq!(r["capabilities"], json!({"tools": {}}));
    assert_eq!(
        r["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "mcp-auth-testkit"
    );

    let (st, v) = status_json(modern(&s, Some(&t), "tools/list", json!({})).await).await;
    assert_eq!(st, 200);
    assert_eq!(v["result"]["resultType"], "complete");
    assert!(v["result"]["ttlMs"].as_u64().is_some(), "{v}");
    assert_eq!(v["result"]["cacheScope"], "public");
    assert_eq!(v["result"]["tools"].as_array().map(Vec::len), Some(3));

    let (st, v) = status_json(
        modern(
            &s,
            Some(&t),
            "tools/call",
            json!({"name": "echo", "arguments": {"text": "hé"}}),
        )
        .await,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["result"]["resultType"], "complete");
    assert_eq!(v["result"]["content"][0]["text"], "hé");

    // The base64 sentinel form of Mcp-Name is decoded before comparing.
    let b = body(
        "tools/call",
        json!({"name": "echo", "arguments": {"text": "x"}}),
    );
    let h = [
        ("mcp-protocol-version", V),
        ("mcp-method", "tools/call"),
        ("mcp-name", "=?base64?ZWNobw==?="),
    ];
    let (st, v) = status_json(post(&s, Some(&t), &h, &b).await).await;
    assert_eq!(
        (st, &v["result"]["content"][0]["text"]),
        (200, &json!("x")),
        "{v}"
    );

    // GET and DELETE: no stream, no sessions.
    for m in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let resp = http()
            .request(m.clone(), s.mcp_url())
            .bearer_auth(&t)
            .header("mcp-session-id", "whatever")
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status().as_u16(), 405, "{m}");
    }
}

#[tokio::test]
async fn modern_header_checks() {
    let s = start(Protocol::Modern, None, Scenario::Default);
    let t = token(&s, None).await;
    let call = body(
        "tools/call",
        json!({"name": "echo", "arguments": {"text": "x"}}),
    );
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "no version header",
            vec![("mcp-method", "tools/call"), ("mcp-name", "echo")],
        ),
        (
            "version header differs from _meta",
            vec![
                ("mcp-protocol-version", "2025-11-25"),
                ("mcp-method", "tools/call"),
                ("mcp-name", "echo"),
            ],
        ),
        (
            "no Mcp-Method",
            vec![("mcp-protocol-version", V), ("mcp-name", "echo")],
        ),
        (
            "wrong Mcp-Method",
            vec![
                ("mcp-protocol-version", V),
                ("mcp-method", "tools/list"),
                ("mcp-name", "echo"),
            ],
        ),
        (
            "no Mcp-Name",
            vec![("mcp-protocol-version", V), ("mcp-method", "tools/call")],
        ),
        (
            "wrong Mcp-Name",
            vec![
                ("mcp-protocol-version", V),
                ("mcp-method", "tools/call"),
                ("mcp-name", "whoami"),
            ],
        ),
        (
            "wrong base64 Mcp-Name",
            vec![
                ("mcp-protocol-version", V),
                ("mcp-method", "tools/call"),
                ("mcp-name", "=?base64?d2hvYW1p?="),
            ],
        ),
    ];
    for (what, h) in cases {
        let (st, v) = status_json(post(&s, Some(&t), &h, &call).await).await;
        assert_eq!(st, 400, "{what}: {v}");
        assert_eq!(v["error"]["code"], -32020, "{what}: {v}");
        assert_eq!(v["id"], 7, "{what}");
    }

    // A version the server does not speak: -32022 with the supported list.
    let mut b = body("tools/list", json!({}));
    b["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("1900-01-01");
    let h = [
        ("mcp-protocol-version", "1900-01-01"),
        ("mcp-method", "tools/list"),
    ];
    let (st, v) = status_json(post(&s, Some(&t), &h, &b).await).await;
    assert_eq!(st, 400);
    assert_eq!(v["error"]["code"], -32022);
    assert_eq!(
        v["error"]["data"],
        json!({"supported": [V], "requested": "1900-01-01"})
    );

    // Missing clientCapabilities: invalid params.
    let mut b = body("tools/list", json!({}));
    b["params"]["_meta"]
        .as_object_mut()
        .expect("meta")
        .remove("io.modelcontextprotocol/clientCapabilities");
    let h = [("mcp-protocol-version", V), ("mcp-method", "tools/list")];
    let (st, v) = status_json(post(&s, Some(&t), &h, &b).await).await;
    assert_eq!((st, &v["error"]["code"]), (400, &json!(-32602)), "{v}");

    // Unknown method: 404 + -32601.
    let (st, v) = status_json(modern(&s, Some(&t), "nope/nothing", json!({})).await).await;
    assert_eq!((st, &v["error"]["code"]), (404, &json!(-32601)), "{v}");

    // initialize in a modern-only server: 400 naming the supported versions.
    let resp = mcp_post(&s, Some(&t), None, initialize()).await;
    assert!(resp.headers().get("mcp-session-id").is_none());
    let (st, v) = status_json(resp).await;
    assert_eq!(st, 400);
    assert_eq!(v["error"]["data"]["supported"], json!([V]), "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap_or("").contains(V),
        "{v}"
    );

    // Auth comes first: no token → 401 even with broken headers.
    let resp = post(&s, None, &[], &call).await;
    assert_eq!(resp.status().as_u16(), 401);
}

#[tokio::test]
async fn legacy_only_refuses_modern_requests_with_a_non_modern_error() {
    let s = start(Protocol::Legacy, None, Scenario::Default);
    let t = token(&s, None).await;
    let (st, v) = status_json(modern(&s, Some(&t), "server/discover", json!({})).await).await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(v["error"]["code"], -32000, "{v}");
    let (st, v) = status_json(modern(&s, Some(&t), "tools/list", json!({})).await).await;
    assert_eq!((st, &v["error"]["code"]), (400, &json!(-32000)), "{v}");

    let sid = session(&s, &t).await;
    let (st, v) = status_json(
        mcp_post(
            &s,
            Some(&t),
            Some(&sid),
            json!({"jsonrpc": "2.0", "id": 2, "method": "server/discover"}),
        )
        .await,
    )
    .await;
    assert_eq!((st, &v["error"]["code"]), (200, &json!(-32601)), "{v}");
    let (_, v) = status_json(
        mcp_post(
            &s,
            Some(&t),
            Some(&sid),
            json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}),
        )
        .await,
    )
    .await;
    assert!(v["result"].get("resultType").is_none(), "{v}");
    assert_eq!(v["result"]["tools"].as_array().map(Vec::len), Some(3));
    let resp = http()
        .delete(s.mcp_url())
        .bearer_auth(&t)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status().as_u16(), 204);
}

#[tokio::test]
async fn dual_serves_both_eras() {
    let s = start(Protocol::Dual, None, Scenario::Default);
    assert_eq!(s.protocol(), Protocol::Dual);
    let t = token(&s, None).await;
    let resp = modern(&s, Some(&t), "server/discover", json!({})).await;
    assert!(resp.headers().get("mcp-session-id").is_none());
    let (st, v) = status_json(resp).await;
    assert_eq!(st, 200);
    assert_eq!(
        v["result"]["supportedVersions"],
        json!([V, "2025-11-25", "2025-06-18", "2025-03-26"])
    );
    let (st, v) = status_json(modern(&s, Some(&t), "tools/list", json!({})).await).await;
    assert_eq!((st, &v["result"]["resultType"]), (200, &json!("complete")));
    // A legacy version in modern framing: -32022 listing every version (use initialize).
    let mut b = body("tools/list", json!({}));
    b["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2025-11-25");
    let h = [
        ("mcp-protocol-version", "2025-11-25"),
        ("mcp-method", "tools/list"),
    ];
    let (st, v) = status_json(post(&s, Some(&t), &h, &b).await).await;
    assert_eq!((st, &v["error"]["code"]), (400, &json!(-32022)), "{v}");
    assert_eq!(v["error"]["data"]["requested"], "2025-11-25");
    assert_eq!(
        v["error"]["data"]["supported"].as_array().map(Vec::len),
        Some(4)
    );
    // A modern request with a broken header is still judged as modern.
    let b = body("tools/list", json!({}));
    let (st, v) = status_json(post(&s, Some(&t), &[("mcp-protocol-version", V)], &b).await).await;
    assert_eq!((st, &v["error"]["code"]), (400, &json!(-32020)), "{v}");
    // initialize selects legacy for that session.
    let sid = session(&s, &t).await;
    let (_, v) = status_json(
        mcp_post(
            &s,
            Some(&t),
            Some(&sid),
            json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}),
        )
        .await,
    )
    .await;
    assert!(v["result"].get("resultType").is_none(), "{v}");
    // A request that is neither modern nor in a session: the legacy 400.
    let (st, v) = status_json(
        mcp_post(
            &s,
            Some(&t),
            None,
            json!({"jsonrpc": "2.0", "id": 4, "method": "tools/list"}),
        )
        .await,
    )
    .await;
    assert_eq!((st, &v["error"]["code"]), (400, &json!(-32000)), "{v}");
}

/// Split an SSE body into events of (field, value) lines, accepting LF and CRLF.
fn events(text: &str) -> Vec<Vec<(String, String)>> {
    let norm = text.replace("\r\n", "\n");
    norm.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            e.lines()
                .map(|l| match l.split_once(':') {
                    Some((k, v)) => (k.to_string(), v.trim_start().to_string()),
                    None => (l.to_string(), String::new()),
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn priming_event_in_both_line_end_styles_and_eras() {
    for le in [LineEnd::Lf, LineEnd::CrLf] {
        let s = start(Protocol::Dual, Some(le), Scenario::Default);
        let t = token(&s, None).await;
        let sid = session(&s, &t).await;
        let legacy = mcp_post(
            &s,
            Some(&t),
            Some(&sid),
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        )
        .await;
        let modern = modern(&s, Some(&t), "tools/list", json!({})).await;
        for (era, resp) in [("legacy", legacy), ("modern", modern)] {
            assert_eq!(resp.status().as_u16(), 200);
            let ct = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            assert!(ct.starts_with("text/event-stream"), "{era}: {ct}");
            let text = resp.text().await.expect("body");
            match le {
                LineEnd::CrLf => {
                    assert!(text.contains("data:\r\n\r\n"), "{era}: {text:?}");
                    assert!(!text.replace("\r\n", "").contains('\n'), "{era}: {text:?}");
                }
                LineEnd::Lf => {
                    assert!(text.contains("data:\n\n"), "{era}: {text:?}");
                    assert!(!text.contains('\r'), "{era}: {text:?}");
                }
            }
            let ev = events(&text);
            assert_eq!(ev.len(), 2, "{era}: {text:?}");
            let prime = &ev[0];
            assert_eq!(
                prime[0].0, "id",
                "{era}: the priming event starts with an id"
            );
            assert!(prime
                .iter()
                .any(|(k, v)| k == "retry" && v.parse::<u64>().is_ok()));
            assert!(prime.iter().any(|(k, v)| k == "data" && v.is_empty()));
            let data = ev[1]
                .iter()
                .find(|(k, _)| k == "data")
                .map(|(_, v)| v.clone())
                .expect("data");
            let v: Value = serde_json::from_str(&data).expect("json");
            assert_eq!(v["id"], if era == "legacy" { json!(2) } else { json!(7) });
            assert_eq!(v["result"]["tools"].as_array().map(Vec::len), Some(3));
        }
    }
}

#[tokio::test]
async fn public_discovery_protects_only_tools() {
    let s = start(Protocol::Dual, None, Scenario::PublicDiscovery);
    let (st, v) = status_json(modern(&s, None, "server/discover", json!({})).await).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["result"]["resultType"], "complete");
    let resp = mcp_post(&s, None, None, initialize()).await;
    assert_eq!(resp.status().as_u16(), 200);
    let sid = resp
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .expect("sid")
        .to_string();

    let resp = modern(&s, None, "tools/list", json!({})).await;
    assert_eq!(resp.status().as_u16(), 401);
    let wa = www_authenticate(&resp);
    assert!(wa.contains("scope=\"mcp:read\""), "{wa}");
    assert!(wa.contains("resource_metadata="), "{wa}");
    let resp = mcp_post(
        &s,
        None,
        Some(&sid),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 401);
    let resp = modern(
        &s,
        None,
        "tools/call",
        json!({"name": "echo", "arguments": {"text": "x"}}),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 401);

    let t = token(&s, Some("mcp:read")).await;
    let (st, _) = status_json(modern(&s, Some(&t), "tools/list", json!({})).await).await;
    assert_eq!(st, 200);
    let resp = modern(
        &s,
        Some(&t),
        "tools/call",
        json!({"name": "write_note", "arguments": {"text": "x"}}),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 403);
    let wa = www_authenticate(&resp);
    assert!(
        wa.contains("insufficient_scope") && wa.contains("mcp:write"),
        "{wa}"
    );
}
