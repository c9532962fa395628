//! `mcp-auth probe`: an authenticated MCP session: initialize, list tools, optionally call one.

use super::out::{errln, outln};
use super::{
    auth_options, auth_with, open_store, print_json, require_oauth, resolve_target, wanted_persist,
    CliError, CliResult, Ctx, LoginFlags, TransportArg,
};
use crate::config::Transport;
use crate::host::LoginUi;
use crate::mcp::McpSession;
use serde_json::{json, Value};

pub(super) async fn run(
    ctx: &Ctx,
    target: &str,
    transport: Option<TransportArg>,
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
    let opts = auth_options(ctx, &t, &LoginFlags::default());
    let (store, note) = open_store(wanted_persist(t.server.as_ref())?).await?;
    if let Some(n) = note {
        errln!("{n}");
    }
    let ui = LoginUi {
        no_browser,
        ..LoginUi::default()
    };
    let auth = auth_with(store, ui)?;
    let mut session = if t.transport == Transport::Sse {
        McpSession::connect_sse(&auth, &t.url, &opts)
            .await
            .map_err(CliError::new)?
    } else {
        McpSession::new(&auth, &t.url, &opts)
    };
    let init = session.initialize().await.map_err(CliError::new)?;
    let tools = session
        .call("tools/list", json!({}))
        .await
        .map_err(CliError::new)?;
    let call_result = match call {
        Some(name) => Some(
            session
                .call("tools/call", json!({"name": name, "arguments": arguments}))
                .await
                .map_err(CliError::new)?,
        ),
        None => None,
    };
    let is_error = call_result
        .as_ref()
        .and_then(|r| r.get("isError"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if ctx.json {
        print_json(&json!({
            "server": init.get("serverInfo"),
            "protocolVersion": init.get("protocolVersion"),
            "tools": tools.get("tools"),
            "call": call_result,
        }))?;
    } else {
        let info = init.get("serverInfo");
        outln!(
            "Connected to {} {} (protocol {})",
            info.and_then(|i| i.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("?"),
            info.and_then(|i| i.get("version"))
                .and_then(Value::as_str)
                .unwrap_or(""),
            init.get("protocolVersion")
                .and_then(Value::as_str)
                .unwrap_or("?")
        )?;
        let list = tools
            .get("tools")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
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
