//! `mcp-auth probe`: an authenticated MCP session through core's dual-era session: list
//! tools, optionally call one, and say which protocol revision was spoken.

use super::out::{errln, outln};
use super::{
    auth_options, auth_with, open_store, print_json, require_oauth, resolve_target, wanted_persist,
    CliError, CliResult, Ctx, LoginFlags, TransportArg,
};
use crate::config::Transport;
use crate::host::LoginUi;
use mcp_auth_core::json::Json;
use mcp_auth_core::mcp::{McpClient, Protocol};
use mcp_auth_core::Error;
use serde_json::{json, Value};

pub(super) async fn run(
    ctx: &Ctx,
    target: &str,
    transport: Option<TransportArg>,
    protocol: Protocol,
    call: Option<&str>,
    args: Option<&str>,
    no_browser: bool,
) -> CliResult {
    let cfg = ctx.config()?;
    let t = resolve_target(&cfg, target, transport)?;
    require_oauth(&t)?;
    let arguments: Value = match args {
        Some(a) => serde_json::from_str(a)
            .map_err(|e| CliError::new(format!("--args is not valid JSON: {e}")))?,
        None => json!({}),
    };
    if !arguments.is_object() {
        return Err(CliError::new(
            "--args must be a JSON object, e.g. '{\"text\":\"hi\"}'",
        ));
    }
    let opts = auth_options(ctx, &t, &LoginFlags::default())?;
    let (store, note) = open_store(wanted_persist(t.server.as_ref())?, t.server.as_ref()).await?;
    if let Some(n) = note {
        errln!("{n}");
    }
    let ui = LoginUi {
        no_browser,
        ..LoginUi::default()
    };
    let auth = auth_with(store, ui)?;
    // a server configured (or given) as HTTP+SSE speaks 2024-11-05: no probing needed
    let protocol = match (protocol, t.transport) {
        (Protocol::Auto, Transport::Sse) => Protocol::Fixed("2024-11-05"),
        (p, _) => p,
    };
    let named = |e: Box<Error>| naming_server(&t.url, e);
    let mut session = McpClient::connect(&auth, &t.url, protocol, &opts)
        .await
        .map_err(named)?;
    let tools: Vec<Value> = session
        .list_tools()
        .await
        .map_err(named)?
        .into_iter()
        .map(value)
        .collect();
    let call_result = match call {
        Some(name) => {
            let arguments = serde_json::from_value::<Json>(arguments)
                .map_err(|e| CliError::new(format!("--args is not valid JSON: {e}")))?;
            Some(value(
                session.call_tool(name, arguments).await.map_err(named)?,
            ))
        }
        None => None,
    };
    let warnings = session.connection().take_warnings();
    for w in &warnings {
        errln!("warning: {w}");
    }
    let revision = session.protocol_version().unwrap_or("?").to_string();
    let info = session
        .connection()
        .session()
        .server_info()
        .cloned()
        .map(value);
    // ends a legacy session (DELETE); a failure here does not undo the work done
    if let Err(e) = session.close().await {
        errln!("note: could not end the MCP session: {e}");
    }
    let is_error = call_result
        .as_ref()
        .and_then(|r| r.get("isError"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if ctx.json {
        print_json(&json!({
            "server": info,
            "protocolVersion": revision,
            "tools": tools,
            "call": call_result,
        }))?;
    } else {
        let name = info
            .as_ref()
            .and_then(|i| i.get("name"))
            .and_then(Value::as_str);
        let version = info
            .as_ref()
            .and_then(|i| i.get("version"))
            .and_then(Value::as_str);
        let label = match (name, version) {
            (Some(n), Some(v)) => format!("{n} {v}"),
            (Some(n), None) => n.to_string(),
            _ => "the server".to_string(),
        };
        outln!("Connected to {} (protocol {})", label, revision)?;
        let list = tools;
        outln!("Tools ({}):", list.len())?;
        for tool in &list {
            outln!(
                "  {}{}",
                tool.get("name").and_then(Value::as_str).unwrap_or("?"),
                tool.get("description")
                    .and_then(Value::as_str)
                    .map(|d| format!(" — {d}"))
                    .unwrap_or_default()
            )?;
        }
        if let (Some(name), Some(result)) = (call, &call_result) {
            outln!(
                "Result of {name}{}:",
                if is_error { " (error)" } else { "" }
            )?;
            let content = result
                .get("content")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for c in content {
                match c.get("text").and_then(Value::as_str) {
                    Some(text) => outln!("  {text}")?,
                    None => outln!("  {c}")?,
                }
            }
        }
    }
    if is_error {
        return Err(CliError::new(format!(
            "the tool `{}` reported an error",
            call.unwrap_or("?")
        )));
    }
    Ok(())
}

/// A server's JSON as serde_json's tree, so the CLI prints it as before (members sorted).
fn value(j: Json) -> Value {
    serde_json::to_value(j).unwrap_or(Value::Null)
}

/// An error of the MCP exchange, naming the server when it is the server's answer that failed.
fn naming_server(url: &str, e: Box<Error>) -> CliError {
    let from_server = matches!(*e, Error::McpProtocol(_));
    let err = CliError::from(e);
    if from_server && !err.message.contains(url) {
        CliError::new(format!("MCP server {url}: {}", err.message))
    } else {
        err
    }
}
