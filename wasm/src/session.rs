//! `client.session(url, {protocol})`: core's MCP session for JavaScript. JS passes method
//! names and params as plain values; core builds and reads every MCP message.

use crate::js::opt_str;
use crate::{
    invalid, js_error, spawn, AnyPromise, DiscoverPromise, Inner, ToolsPromise, VoidPromise,
};
use mcp_auth_core::json::{self, Json, Object};
use mcp_auth_core::mcp::{McpConnection, Protocol};
use mcp_auth_core::AuthOptions;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// An MCP session with one server. One request at a time: await each before the next.
#[wasm_bindgen]
pub struct McpSession {
    state: Rc<State>,
}

/// A session's parts, shared with its running request: one `Rc` (each `Rc` type is its own
/// allocation and drop code).
struct State {
    inner: Rc<Inner>,
    opts: AuthOptions,
    conn: RefCell<Option<McpConnection>>,
    version: RefCell<Option<String>>,
}

pub(crate) async fn open(
    inner: Rc<Inner>,
    server_url: String,
    options: JsValue,
) -> Result<JsValue, JsValue> {
    let opts = inner.auth_options(&options)?;
    let protocol = match opt_str(&options, "protocol")? {
        None => Protocol::Auto,
        Some(p) => p.parse().map_err(js_error)?,
    };
    let conn = inner
        .auth
        .mcp_connect(&server_url, protocol)
        .await
        .map_err(js_error)?;
    Ok(McpSession {
        state: Rc::new(State {
            inner,
            opts,
            conn: RefCell::new(Some(conn)),
            version: RefCell::new(None),
        }),
    }
    .into())
}

/// A JS value as JSON (`undefined` → none).
fn json_of(v: &JsValue) -> Result<Option<Json>, JsValue> {
    if v.is_null_or_undefined() {
        return Ok(None);
    }
    let text: String = js_sys::JSON::stringify(v)
        .map_err(|_| invalid("the params cannot be turned into JSON"))?
        .into();
    json::parse(text.as_bytes())
        .map(Some)
        .map_err(|_| invalid("the params are not JSON"))
}

/// What the session methods do with the connection.
enum Op {
    Request(String, Option<Json>),
    ListTools,
    CallTool(String, Json),
    Discover,
    Close,
}

impl McpSession {
    fn run(&self, op: Op) -> js_sys::Promise {
        let state = self.state.clone();
        spawn(async move {
            let mut conn = state.conn.borrow_mut().take().ok_or_else(|| {
                invalid("this MCP session is busy with another request (await it first) or closed")
            })?;
            let (auth, opts) = (&state.inner.auth, &state.opts);
            let result = match op {
                Op::Request(m, p) => auth.mcp_request(&mut conn, &m, p, opts).await,
                Op::ListTools => auth.mcp_list_tools(&mut conn, opts).await.map(Json::Array),
                Op::CallTool(n, a) => auth.mcp_call_tool(&mut conn, &n, a, opts).await,
                Op::Discover => auth.mcp_discover(&mut conn, opts).await,
                Op::Close => auth.mcp_close(&mut conn, opts).await.map(|_| Json::Null),
            };
            *state.version.borrow_mut() = conn.protocol_version().map(str::to_string);
            *state.conn.borrow_mut() = Some(conn);
            match result.map_err(js_error)? {
                Json::Null => Ok(JsValue::UNDEFINED),
                v => js_sys::JSON::parse(&json::print(&v)),
            }
        })
    }
}

#[wasm_bindgen]
impl McpSession {
    /// Sends one MCP request (e.g. `"tools/list"`, `{}`) and resolves to its `result`.
    pub fn request(&self, method: String, params: JsValue) -> Result<AnyPromise, JsValue> {
        Ok(self
            .run(Op::Request(method, json_of(&params)?))
            .unchecked_into())
    }

    /// Every tool of the server (following pagination).
    #[wasm_bindgen(js_name = listTools)]
    pub fn list_tools(&self) -> ToolsPromise {
        self.run(Op::ListTools).unchecked_into()
    }

    /// Calls a tool; resolves to the `tools/call` result (`content`, `isError`...).
    #[wasm_bindgen(js_name = callTool)]
    pub fn call_tool(&self, name: String, args: JsValue) -> Result<AnyPromise, JsValue> {
        let args = json_of(&args)?.unwrap_or_else(|| Object::new().into());
        if !args.is_object() {
            return Err(invalid("the tool arguments must be an object"));
        }
        Ok(self.run(Op::CallTool(name, args)).unchecked_into())
    }

    /// The server's versions, capabilities and info (`server/discover` on a modern server).
    pub fn discover(&self) -> DiscoverPromise {
        self.run(Op::Discover).unchecked_into()
    }

    /// Ends the session (a DELETE for a legacy session). The session cannot be used after.
    pub fn close(&self) -> VoidPromise {
        self.run(Op::Close).unchecked_into()
    }

    /// The revision spoken, once the server has answered (`undefined` before the first request).
    #[wasm_bindgen(getter, js_name = protocolVersion)]
    pub fn protocol_version(&self) -> Option<String> {
        self.state.version.borrow().clone()
    }
}
