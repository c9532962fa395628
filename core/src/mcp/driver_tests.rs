//! The driver over a tiny in-memory host: an HTTP+SSE server whose stream arrives in odd
//! chunks, and the remembered revision used on the next connection.

use super::*;
use crate::host::{HostError, HostResult, HttpResponse, StreamResponse};
use crate::mcp::record::ProtocolRecord;
use crate::records::tokens_key;
use futures_util::FutureExt;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::HashMap;

const URL: &str = "http://127.0.0.1:9/sse";
const ID: &str = "http://127.0.0.1:9";

/// Serves the 2024-11-05 transport: POSTs are accepted, answers go on the stream.
struct OldServer {
    map: RefCell<HashMap<String, String>>,
    sent: RefCell<Vec<(String, String)>>,
    stream: std::rc::Rc<RefCell<Vec<Vec<u8>>>>,
    mute: std::cell::Cell<bool>,
}

struct Chunks(std::rc::Rc<RefCell<Vec<Vec<u8>>>>);

impl ChunkStream for Chunks {
    fn next_chunk(&mut self) -> crate::host::NextChunk<'_> {
        let next = {
            let mut q = self.0.borrow_mut();
            (!q.is_empty()).then(|| q.remove(0))
        };
        Box::pin(async move { Ok(next) })
    }
}

impl Host for OldServer {
    async fn send(&self, r: HttpRequest) -> HostResult<HttpResponse> {
        let body: Value = r
            .body
            .as_deref()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        let method = body["method"].as_str().unwrap_or("").to_string();
        self.sent.borrow_mut().push((r.url.clone(), method.clone()));
        if r.url == URL {
            // the SSE URL takes no POSTs
            return Ok(HttpResponse {
                status: 405,
                headers: vec![],
                body: vec![],
            });
        }
        let result = match method.as_str() {
            "initialize" => json!({"protocolVersion": "2024-11-05", "serverInfo": {"name": "old"}}),
            "tools/list" => json!({"tools": [{"name": "echo"}]}),
            _ => Value::Null,
        };
        if let Some(id) = body.get("id").filter(|_| !self.mute.get()) {
            let msg = json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string();
            // split mid-CRLF and mid-message
            let text = format!("event: message\r\ndata: {msg}\r\n\r\n");
            let (a, b) = text.split_at(text.len() - 3);
            let (a1, a2) = a.split_at(5);
            let mut q = self.stream.borrow_mut();
            q.extend([
                a1.as_bytes().to_vec(),
                a2.as_bytes().to_vec(),
                b.as_bytes().to_vec(),
            ]);
        }
        Ok(HttpResponse {
            status: 202,
            headers: vec![],
            body: b"Accepted".to_vec(),
        })
    }
    async fn open_stream(&self, r: HttpRequest) -> HostResult<StreamResponse> {
        self.sent.borrow_mut().push((r.url.clone(), "GET".into()));
        assert_eq!(r.header_value("authorization"), Some("Bearer tok"));
        self.stream
            .borrow_mut()
            .push(b": hi\n\nevent: endpoint\ndata: /messages?s=1\n\n".to_vec());
        Ok(StreamResponse {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            body: Box::new(Chunks(self.stream.clone())),
        })
    }
    async fn load(&self, k: &str) -> HostResult<Option<String>> {
        Ok(self.map.borrow().get(k).cloned())
    }
    async fn save(&self, k: &str, v: &str) -> HostResult<()> {
        self.map.borrow_mut().insert(k.into(), v.into());
        Ok(())
    }
    async fn remove(&self, k: &str) -> HostResult<()> {
        self.map.borrow_mut().remove(k);
        Ok(())
    }
    async fn authorize(&self, _: &str, _: &str) -> HostResult<Option<String>> {
        Err(HostError::Browser("no browser in this test".into()).boxed())
    }
    fn now(&self) -> u64 {
        1000
    }
}

fn auth() -> McpAuth<OldServer> {
    let host = OldServer {
        map: RefCell::new(HashMap::new()),
        sent: RefCell::new(Vec::new()),
        stream: Default::default(),
        mute: Default::default(),
    };
    let rec = json!({
        "identity": ID, "resource": URL, "issuer": ID, "client_id": "c",
        "access_token": "tok", "token_type": "Bearer",
        "expires_at": 5000, "obtained_at": 900
    });
    host.map
        .borrow_mut()
        .insert(tokens_key(ID, URL), rec.to_string());
    McpAuth::new(host)
}

#[test]
fn http_sse_end_to_end_and_remembered() {
    let auth = auth();
    let opts = AuthOptions::default();
    let mut conn = auth
        .mcp_connect(URL, Protocol::Auto)
        .now_or_never()
        .expect("ready")
        .expect("connect");
    let tools = auth
        .mcp_list_tools(&mut conn, &opts)
        .now_or_never()
        .expect("ready")
        .expect("tools");
    assert_eq!(
        tools,
        vec![serde_json::from_value::<Json>(json!({"name": "echo"})).unwrap()]
    );
    assert_eq!(conn.protocol_version(), Some("2024-11-05"));
    let methods: Vec<String> = auth
        .host()
        .sent
        .borrow()
        .iter()
        .map(|(_, m)| m.clone())
        .collect();
    assert_eq!(
        methods,
        [
            "tools/list",
            "initialize",
            "GET",
            "initialize",
            "notifications/initialized",
            "tools/list"
        ]
    );
    let rec: ProtocolRecord = auth
        .stored(&protocol_key(URL))
        .now_or_never()
        .expect("ready")
        .and_then(crate::client::Stored::decode)
        .expect("readable")
        .expect("written");
    assert_eq!(rec.protocol_version, "2024-11-05");

    // next time: straight to the stream
    auth.host().sent.borrow_mut().clear();
    auth.host().stream.borrow_mut().clear();
    let mut conn = auth
        .mcp_connect(URL, Protocol::Auto)
        .now_or_never()
        .expect("ready")
        .expect("connect");
    auth.mcp_list_tools(&mut conn, &opts)
        .now_or_never()
        .expect("ready")
        .expect("tools");
    assert_eq!(auth.host().sent.borrow()[0].1, "GET");
    assert_eq!(auth.host().sent.borrow().len(), 4);
}

#[test]
fn a_stream_that_ends_early_is_an_error() {
    let auth = auth();
    let opts = AuthOptions::default();
    let mut conn = auth
        .mcp_connect(URL, Protocol::Fixed("2024-11-05"))
        .now_or_never()
        .expect("ready")
        .expect("connect");
    // a server that accepts the POSTs but never answers on the stream
    auth.host().mute.set(true);
    let e = auth
        .mcp_request(&mut conn, "tools/list", None, &opts)
        .now_or_never()
        .expect("ready")
        .unwrap_err();
    assert_eq!(e.code(), "mcp_protocol", "{e}");
    assert!(e.to_string().contains("closed"), "{e}");
}

/// A modern server whose tool starts mirroring a parameter into a header after the client
/// listed the tools: its `HeaderMismatch` makes the client list again and retry once.
struct ModernServer {
    map: RefCell<HashMap<String, String>>,
    sent: RefCell<Vec<String>>,
    annotated: std::cell::Cell<bool>,
}

impl Host for ModernServer {
    async fn send(&self, r: HttpRequest) -> HostResult<HttpResponse> {
        let body: Value =
            serde_json::from_slice(r.body.as_deref().unwrap_or_default()).unwrap_or(Value::Null);
        let method = body["method"].as_str().unwrap_or("").to_string();
        self.sent.borrow_mut().push(method.clone());
        let region = json!({"type": "string", "x-mcp-header": "Region"});
        let plain = json!({"type": "string"});
        let result = match method.as_str() {
            "tools/list" => json!({"tools": [{"name": "sql", "inputSchema": {"type": "object",
                "properties": {"region": if self.annotated.get() { region } else { plain }}}}]}),
            "tools/call"
                if self.annotated.get() && r.header_value("mcp-param-region") != Some("eu") =>
            {
                let e = json!({"jsonrpc": "2.0", "id": body["id"], "error": {"code": -32020, "message": "Mcp-Param-Region missing"}});
                return Ok(HttpResponse {
                    status: 400,
                    headers: vec![("content-type".into(), "application/json".into())],
                    body: e.to_string().into_bytes(),
                });
            }
            _ => json!({"content": []}),
        };
        let a = json!({"jsonrpc": "2.0", "id": body["id"], "result": result});
        Ok(HttpResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: a.to_string().into_bytes(),
        })
    }
    async fn load(&self, k: &str) -> HostResult<Option<String>> {
        Ok(self.map.borrow().get(k).cloned())
    }
    async fn save(&self, k: &str, v: &str) -> HostResult<()> {
        self.map.borrow_mut().insert(k.into(), v.into());
        Ok(())
    }
    async fn remove(&self, k: &str) -> HostResult<()> {
        self.map.borrow_mut().remove(k);
        Ok(())
    }
    async fn authorize(&self, _: &str, _: &str) -> HostResult<Option<String>> {
        Err(HostError::Browser("no browser in this test".into()).boxed())
    }
    fn now(&self) -> u64 {
        1000
    }
}

#[test]
fn a_header_mismatch_lists_the_tools_again_and_retries_once() {
    const MCP: &str = "http://127.0.0.1:9/mcp";
    let host = ModernServer {
        map: RefCell::new(HashMap::new()),
        sent: RefCell::new(Vec::new()),
        annotated: Default::default(),
    };
    let rec = json!({
        "identity": ID, "resource": MCP, "issuer": ID, "client_id": "c",
        "access_token": "tok", "token_type": "Bearer", "expires_at": 5000, "obtained_at": 900
    });
    host.map
        .borrow_mut()
        .insert(tokens_key(ID, MCP), rec.to_string());
    let auth = McpAuth::new(host);
    let opts = AuthOptions::default();
    let mut conn = auth
        .mcp_connect(MCP, Protocol::Auto)
        .now_or_never()
        .expect("ready")
        .expect("connect");
    auth.mcp_list_tools(&mut conn, &opts)
        .now_or_never()
        .expect("ready")
        .expect("tools");
    auth.host().annotated.set(true);
    auth.mcp_call_tool(
        &mut conn,
        "sql",
        Object::new().with("region", "eu").into(),
        &opts,
    )
    .now_or_never()
    .expect("ready")
    .expect("the retry carries the header");
    assert_eq!(
        auth.host().sent.borrow().as_slice(),
        ["tools/list", "tools/call", "tools/list", "tools/call"]
    );
    assert_eq!(conn.protocol_version(), Some("2026-07-28"));
}
