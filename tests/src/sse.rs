//! The 2024-11-05 HTTP+SSE transport: `GET /sse` opens the stream, `POST /messages` sends.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::mcp::{
    check_bearer, handle_message, insufficient_scope, read_message, rpc_error, Era, Outcome,
};
use crate::scenario::Scenario;
use crate::state::{Ctx, Shared};
use crate::util::{random_token, Params};

/// Host name of the `sse-plain-http` scenario's endpoint: plain http, not loopback.
pub const PLAIN_HTTP_HOST: &str = "mcp-messages.testkit.example";

/// The URL the `endpoint` event names for session `sid`.
fn endpoint_url(ctx: &Shared, sid: &str) -> String {
    match (ctx.scenario, &ctx.second_origin) {
        (Scenario::SseCrossOrigin, Some(other)) => format!("{other}/messages?sessionId={sid}"),
        (Scenario::SsePlainHttp, Some(other)) => {
            let port = url::Url::parse(other)
                .ok()
                .and_then(|u| u.port_or_known_default())
                .unwrap_or(80);
            format!("http://{PLAIN_HTTP_HOST}:{port}/messages?sessionId={sid}")
        }
        _ => format!("/messages?sessionId={sid}"),
    }
}

fn sse_event(event: &str, data: &str) -> String {
    let mut out = format!("event: {event}\n");
    for line in data.lines() {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// `GET /sse`: open the event stream of the 2024-11-05 HTTP+SSE transport.
pub(crate) async fn sse_get(ctx: &Ctx, req: Request) -> Response {
    if let Err(resp) = check_bearer(ctx, req.headers(), "/sse", req.method(), "/sse") {
        return resp;
    }
    let sid = random_token(16);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let _ = tx.send(sse_event("endpoint", &endpoint_url(ctx, &sid)));
    ctx.lock().sse_sessions.insert(sid, tx);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|s| (Ok::<Bytes, Infallible>(Bytes::from(s)), rx))
    });
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// `POST /messages?sessionId=...`: a JSON-RPC message whose answer goes onto the stream.
pub(crate) async fn messages_post(ctx: &Ctx, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let token = match check_bearer(ctx, &parts.headers, "/sse", &parts.method, parts.uri.path()) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let p = Params::parse(parts.uri.query().unwrap_or(""));
    let Some(sid) = p.get("sessionId").map(str::to_string) else {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            Value::Null,
            -32000,
            "sessionId is missing",
        );
    };
    let Some(tx) = ctx.lock().sse_sessions.get(&sid).cloned() else {
        return rpc_error(
            StatusCode::NOT_FOUND,
            Value::Null,
            -32001,
            "session not found",
        );
    };
    let msg = match read_message(&parts.headers, body).await {
        Ok(m) => m,
        Err(resp) => return resp,
    };
    match handle_message(ctx, &msg, Some(&token), Era::Legacy) {
        Outcome::Nothing => StatusCode::ACCEPTED.into_response(),
        Outcome::Forbidden(step) => insufficient_scope(ctx, "/sse", &step),
        Outcome::Reply(v) | Outcome::Error(v) | Outcome::UnknownMethod(v) => {
            if tx.send(sse_event("message", &v.to_string())).is_err() {
                ctx.lock().sse_sessions.remove(&sid);
                return rpc_error(StatusCode::NOT_FOUND, Value::Null, -32001, "stream closed");
            }
            (StatusCode::ACCEPTED, "Accepted").into_response()
        }
    }
}
