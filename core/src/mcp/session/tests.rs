//! The session's decisions, driven by hand-written server answers (no I/O).

use super::*;
use crate::host::Method;
use crate::mcp::sse::Event;
use serde_json::{json, Value};

/// A fixture written with `json!` as core's tree.
fn tree(v: Value) -> Json {
    serde_json::from_value(v).unwrap()
}

const URL: &str = "http://127.0.0.1:7/mcp";

fn json_resp(status: u16, body: Value) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

fn text_resp(status: u16, body: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".into(), "text/plain".into())],
        body: body.as_bytes().to_vec(),
    }
}

fn accepted() -> HttpResponse {
    HttpResponse {
        status: 202,
        headers: vec![],
        body: vec![],
    }
}

fn sent(step: Step) -> HttpRequest {
    match step {
        Step::Send(r) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn body(req: &HttpRequest) -> Value {
    serde_json::from_slice(req.body.as_deref().unwrap()).unwrap()
}

fn id(req: &HttpRequest) -> u64 {
    body(req)["id"].as_u64().unwrap()
}

fn result_for(req: &HttpRequest, result: Value) -> HttpResponse {
    json_resp(
        200,
        json!({"jsonrpc": "2.0", "id": id(req), "result": result}),
    )
}

fn done(step: Step) -> Value {
    match step {
        Step::Done(v) => serde_json::to_value(v).unwrap(),
        other => panic!("expected a result, got {other:?}"),
    }
}

fn ev(event: &str, data: &str) -> Event {
    Event {
        event: event.into(),
        data: data.into(),
        id: None,
    }
}

#[test]
fn modern_first_and_it_answers() {
    let mut s = Session::new(URL, Protocol::Auto);
    let req = sent(s.start("tools/list", None).unwrap());
    assert_eq!(req.header_value("mcp-protocol-version"), Some(LATEST));
    assert_eq!(req.header_value("mcp-method"), Some("tools/list"));
    assert_eq!(
        s.protocol_version(),
        None,
        "nothing settled before an answer"
    );
    let r = done(
        s.on_response(result_for(&req, json!({"tools": []})))
            .unwrap(),
    );
    assert_eq!(r["tools"], json!([]));
    assert_eq!(
        s.chosen(),
        Some(Chosen {
            era: Era::Modern,
            version: LATEST.into()
        })
    );
}

#[test]
fn unsupported_version_picks_the_newest_mutual_and_goes_legacy() {
    let mut s = Session::new(URL, Protocol::Auto);
    let req = sent(s.start("tools/list", None).unwrap());
    let refusal = json_resp(
        400,
        json!({"jsonrpc": "2.0", "id": id(&req), "error": {"code": -32022, "message": "no",
            "data": {"supported": ["2025-03-26", "2025-11-25", "1999-01-01"], "requested": LATEST}}}),
    );
    let init = sent(s.on_response(refusal).unwrap());
    assert_eq!(body(&init)["method"], "initialize");
    assert_eq!(body(&init)["params"]["protocolVersion"], "2025-11-25");
    let mut ok = result_for(
        &init,
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "serverInfo": {"name": "t"}}),
    );
    ok.headers.push(("mcp-session-id".into(), "sess-1".into()));
    let note = sent(s.on_response(ok).unwrap());
    assert_eq!(body(&note)["method"], "notifications/initialized");
    assert_eq!(note.header_value("mcp-session-id"), Some("sess-1"));
    assert_eq!(
        note.header_value("mcp-protocol-version"),
        Some("2025-11-25")
    );
    let again = sent(s.on_response(accepted()).unwrap());
    assert_eq!(body(&again)["method"], "tools/list");
    assert_eq!(again.header_value("mcp-session-id"), Some("sess-1"));
    assert!(body(&again)["params"].get("_meta").is_none());
    // the answer comes as an event stream with a priming event first
    let sse = HttpResponse {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body: format!(
            "id: p\ndata:\n\nevent: message\ndata: {{\"jsonrpc\":\"2.0\",\"id\":{},\"result\":{{\"tools\":[1]}}}}\n\n",
            id(&again)
        )
        .into_bytes(),
    };
    assert_eq!(done(s.on_response(sse).unwrap())["tools"], json!([1]));
    assert_eq!(s.protocol_version(), Some("2025-11-25"));
    assert_eq!(
        s.server_info().unwrap().get("name").and_then(Json::as_str),
        Some("t")
    );
    let del = s.close().expect("a DELETE");
    assert_eq!(del.method, Method::Delete);
    assert_eq!(del.header_value("mcp-session-id"), Some("sess-1"));
    assert!(s.start("tools/list", None).is_err());
}

#[test]
fn unsupported_version_is_retried_once_only() {
    let mut s = Session::new(URL, Protocol::Auto);
    let req = sent(s.start("server/discover", None).unwrap());
    let refuse = |req: &HttpRequest, supported: Value| {
        json_resp(
            400,
            json!({"jsonrpc": "2.0", "id": id(req), "error": {"code": -32022, "message": "x", "data": {"supported": supported}}}),
        )
    };
    let e = s
        .on_response(refuse(&req, json!(["2030-01-01"])))
        .unwrap_err();
    assert_eq!(e.code(), "protocol_unsupported");
    assert!(e.to_string().contains("2030-01-01"), "{e}");
    // the same version again is no way forward either
    let mut s = Session::new(URL, Protocol::Auto);
    let req = sent(s.start("server/discover", None).unwrap());
    let e = s.on_response(refuse(&req, json!([LATEST]))).unwrap_err();
    assert_eq!(e.code(), "protocol_unsupported");
}

#[test]
fn legacy_answers_fall_back_modern_errors_do_not() {
    for resp in [
        text_resp(400, "Missing MCP-Protocol-Version header"),
        text_resp(404, "Not Found"),
        text_resp(405, ""),
        json_resp(
            400,
            json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32000, "message": "Bad Request: No valid session ID provided"}}),
        ),
    ] {
        let mut s = Session::new(URL, Protocol::Auto);
        sent(s.start("tools/list", None).unwrap());
        let next = sent(s.on_response(resp).unwrap());
        assert_eq!(body(&next)["method"], "initialize");
    }
    for code in [-32020, -32021, -32601] {
        let mut s = Session::new(URL, Protocol::Auto);
        let req = sent(s.start("tools/list", None).unwrap());
        let status = if code == -32601 { 404 } else { 400 };
        let e = s
            .on_response(json_resp(
                status,
                json!({"jsonrpc": "2.0", "id": id(&req), "error": {"code": code, "message": "m"}}),
            ))
            .unwrap_err();
        assert_eq!(e.code(), "mcp_error", "{code}");
        assert_eq!(s.protocol_version(), Some(LATEST), "stays modern");
    }
    // a 500 is an error, not a sign of a legacy server
    let mut s = Session::new(URL, Protocol::Auto);
    sent(s.start("tools/list", None).unwrap());
    assert_eq!(
        s.on_response(text_resp(500, "boom")).unwrap_err().code(),
        "mcp_protocol"
    );
}

#[test]
fn down_to_http_sse_with_answers_on_the_stream() {
    let mut s = Session::new(URL, Protocol::Auto);
    sent(s.start("tools/list", None).unwrap());
    let init = sent(s.on_response(text_resp(404, "")).unwrap());
    let get = match s.on_response(text_resp(405, "")).unwrap() {
        Step::OpenStream(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(get.method, Method::Get);
    assert_eq!(get.header_value("accept"), Some("text/event-stream"));
    assert!(id(&init) > 0);
    assert!(matches!(
        s.on_stream_open(200, Some("text/event-stream; charset=utf-8"))
            .unwrap(),
        Step::ReadStream
    ));
    let init = sent(
        s.on_event(ev("endpoint", "/messages?sessionId=abc"))
            .unwrap()
            .unwrap(),
    );
    assert_eq!(init.url, "http://127.0.0.1:7/messages?sessionId=abc");
    assert_eq!(body(&init)["params"]["protocolVersion"], "2024-11-05");
    assert!(matches!(
        s.on_response(accepted()).unwrap(),
        Step::ReadStream
    ));
    let answer = json!({"jsonrpc": "2.0", "id": id(&init), "result": {"protocolVersion": "2024-11-05", "serverInfo": {"name": "old"}}});
    let note = sent(
        s.on_event(ev("message", &answer.to_string()))
            .unwrap()
            .unwrap(),
    );
    assert_eq!(body(&note)["method"], "notifications/initialized");
    let list = sent(s.on_response(accepted()).unwrap());
    assert_eq!(list.url, init.url);
    assert!(matches!(
        s.on_response(accepted()).unwrap(),
        Step::ReadStream
    ));
    // unrelated traffic on the stream is skipped
    assert!(s.on_event(ev("ping", "x")).unwrap().is_none());
    let other = json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {}});
    assert!(s
        .on_event(ev("message", &other.to_string()))
        .unwrap()
        .is_none());
    let answer = json!({"jsonrpc": "2.0", "id": id(&list), "result": {"tools": ["t"]}});
    let r = done(
        s.on_event(ev("message", &answer.to_string()))
            .unwrap()
            .unwrap(),
    );
    assert_eq!(r["tools"], json!(["t"]));
    assert_eq!(s.chosen().unwrap().era, Era::HttpSse);
    assert!(s.close().is_none(), "no DELETE for HTTP+SSE");
}

#[test]
fn hostile_endpoints_are_refused() {
    assert_eq!(
        checked_endpoint("https://a.example/sse", "/m?s=1").unwrap(),
        "https://a.example/m?s=1"
    );
    for (base, ep) in [
        ("https://a.example/sse", "https://evil.example/m"),
        ("https://a.example/sse", "//evil.example/m"),
        ("https://a.example/sse", "http://a.example/m"),
        ("https://a.example/sse", "https://a.example:8443/m"),
        ("http://example.com/sse", "/m"),
    ] {
        let e = checked_endpoint(base, ep).unwrap_err();
        assert_eq!(e.code(), "unsafe_endpoint", "{base} {ep}");
    }
    // and the session stops there, sending nothing
    let mut s = Session::new("https://a.example/sse", Protocol::Fixed("2024-11-05"));
    assert!(matches!(
        s.start("tools/list", None).unwrap(),
        Step::OpenStream(_)
    ));
    s.on_stream_open(200, Some("text/event-stream")).unwrap();
    let e = s
        .on_event(ev("endpoint", "https://evil.example/steal"))
        .unwrap_err();
    assert_eq!(e.code(), "unsafe_endpoint");
    // a stream that does not begin with `endpoint`
    let mut s = Session::new(URL, Protocol::Fixed("2024-11-05"));
    s.start("tools/list", None).unwrap();
    s.on_stream_open(200, Some("text/event-stream")).unwrap();
    assert_eq!(
        s.on_event(ev("message", "{}")).unwrap_err().code(),
        "mcp_protocol"
    );
}

#[test]
fn a_forced_revision_does_not_fall_back() {
    let mut s = Session::new(URL, Protocol::Fixed(LATEST));
    sent(s.start("tools/list", None).unwrap());
    let e = s.on_response(text_resp(400, "bad")).unwrap_err();
    assert_eq!(e.code(), "protocol_unsupported");
    assert!(e.to_string().contains("`auto`"), "{e}");
    let mut s = Session::new(URL, Protocol::Fixed("2025-06-18"));
    let init = sent(s.start("tools/list", None).unwrap());
    assert_eq!(body(&init)["params"]["protocolVersion"], "2025-06-18");
    let e = s
        .on_response(result_for(&init, json!({"protocolVersion": "2025-11-25"})))
        .unwrap_err();
    assert_eq!(e.code(), "protocol_unsupported");
    let mut s = Session::new(URL, Protocol::Fixed("2025-06-18"));
    let init = sent(s.start("tools/list", None).unwrap());
    let e = s.on_response(text_resp(405, "")).unwrap_err();
    assert_eq!(e.code(), "protocol_unsupported", "no HTTP+SSE try: {e}");
    let mut s = Session::new(URL, Protocol::Fixed("2025-03-26"));
    let init2 = sent(s.start("tools/list", None).unwrap());
    let note = sent(
        s.on_response(result_for(&init2, json!({"protocolVersion": "2025-03-26"})))
            .unwrap(),
    );
    assert_eq!(
        note.header_value("mcp-protocol-version"),
        None,
        "2025-03-26 has no version header"
    );
    assert!(id(&init) > 0);
}

#[test]
fn an_unknown_legacy_answer_is_refused() {
    let mut s = Session::new(URL, Protocol::Auto);
    sent(s.start("tools/list", None).unwrap());
    let init = sent(s.on_response(text_resp(400, "")).unwrap());
    let e = s
        .on_response(result_for(&init, json!({"protocolVersion": "2031-01-01"})))
        .unwrap_err();
    assert_eq!(e.code(), "protocol_unsupported");
}

#[test]
fn a_remembered_choice_is_tried_first_and_dropped_when_it_fails() {
    let hint = Chosen {
        era: Era::Legacy,
        version: "2025-06-18".into(),
    };
    let mut s = Session::new(URL, Protocol::Auto).with_hint(Some(hint));
    let init = sent(s.start("tools/list", None).unwrap());
    assert_eq!(body(&init)["params"]["protocolVersion"], "2025-06-18");
    let modern = sent(s.on_response(text_resp(400, "")).unwrap());
    assert_eq!(modern.header_value("mcp-protocol-version"), Some(LATEST));
    done(s.on_response(result_for(&modern, json!({}))).unwrap());
    assert_eq!(s.chosen().unwrap().era, Era::Modern);
    // a hint with a wrong era is ignored
    let bad = Chosen {
        era: Era::Modern,
        version: "2025-06-18".into(),
    };
    let mut s = Session::new(URL, Protocol::Auto).with_hint(Some(bad));
    let first = sent(s.start("tools/list", None).unwrap());
    assert_eq!(first.header_value("mcp-protocol-version"), Some(LATEST));
}

#[test]
fn an_ended_legacy_session_is_started_again_once() {
    let mut s = Session::new(URL, Protocol::Fixed("2025-11-25"));
    let init = sent(s.start("tools/list", None).unwrap());
    let mut ok = result_for(&init, json!({"protocolVersion": "2025-11-25"}));
    ok.headers.push(("mcp-session-id".into(), "old".into()));
    sent(s.on_response(ok).unwrap());
    let list = sent(s.on_response(accepted()).unwrap());
    let init2 = sent(s.on_response(text_resp(404, "")).unwrap());
    assert_eq!(body(&init2)["method"], "initialize");
    let mut ok = result_for(&init2, json!({"protocolVersion": "2025-11-25"}));
    ok.headers.push(("mcp-session-id".into(), "new".into()));
    sent(s.on_response(ok).unwrap());
    let list2 = sent(s.on_response(accepted()).unwrap());
    assert_eq!(list2.header_value("mcp-session-id"), Some("new"));
    assert!(id(&list2) > id(&list));
    assert!(s.on_response(text_resp(404, "")).is_err(), "only once");
}

#[test]
fn tool_headers_come_from_the_listing() {
    let mut s = Session::new(URL, Protocol::Auto);
    let req = sent(s.start("tools/list", None).unwrap());
    let tools = json!({"tools": [
        {"name": "sql", "inputSchema": {"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"}}}},
        {"name": "broken", "inputSchema": {"type": "object", "properties": {
            "n": {"type": "number", "x-mcp-header": "N"}}}},
    ]});
    let r = done(s.on_response(result_for(&req, tools)).unwrap());
    assert_eq!(
        r["tools"].as_array().unwrap().len(),
        1,
        "invalid tool left out"
    );
    let w = s.take_warnings();
    assert!(w.len() == 1 && w[0].contains("broken"), "{w:?}");
    let call = sent(
        s.start(
            "tools/call",
            Some(tree(
                json!({"name": "sql", "arguments": {"region": "Zürich"}}),
            )),
        )
        .unwrap(),
    );
    assert_eq!(call.header_value("mcp-name"), Some("sql"));
    assert_eq!(
        call.header_value("mcp-param-region"),
        Some(crate::mcp::headers::encode_value("Zürich").as_str())
    );
    let e = s
        .on_response(result_for(&call, json!({"resultType": "input_required"})))
        .unwrap_err();
    assert_eq!(e.code(), "input_required");
}

#[test]
fn a_failed_setup_is_started_again_by_the_next_request() {
    let mut s = Session::new(URL, Protocol::Fixed("2025-11-25"));
    sent(s.start("tools/list", None).unwrap());
    assert!(s.on_response(text_resp(500, "later")).is_err());
    let again = sent(s.start("tools/list", None).unwrap());
    assert_eq!(body(&again)["method"], "initialize");
}
