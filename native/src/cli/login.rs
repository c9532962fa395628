//! `mcp-auth login`: the browser login to one server, then where the tokens went.

use super::out::{errln, outln};
use super::{
    auth_options, auth_with, open_store, print_json, require_oauth, resolve_target, store_name,
    wanted_persist, CliError, CliResult, Ctx, LoginFlags, TransportArg,
};
use crate::host::LoginUi;
use crate::store::Persist;
use mcp_auth_core::LoginOutcome;
use serde_json::json;

pub(super) async fn run(
    ctx: &Ctx,
    target: &str,
    transport: Option<TransportArg>,
    flags: &LoginFlags,
    no_browser: bool,
) -> CliResult {
    let cfg = ctx.config()?;
    let t = resolve_target(&cfg, target, transport)?;
    require_oauth(&t)?;
    let opts = auth_options(ctx, &t, flags)?;
    let wanted = wanted_persist(t.server.as_ref())?;
    let (store, note) = open_store(wanted, t.server.as_ref()).await?;
    if let Some(n) = &note {
        errln!("{n}");
    }
    let kind = store.kind();
    let ui = LoginUi {
        no_browser,
        ..LoginUi::default()
    };
    let auth = auth_with(store, ui)?;
    let info = match auth.login(&t.url, &opts).await? {
        LoginOutcome::Completed(info) => info,
        LoginOutcome::Redirected => return Err(CliError::new("the login did not come back")),
    };
    let stored = auth.token_record(&info.resource).await?.is_some();
    if !stored {
        return Err(CliError::new(format!(
            "the login finished but the tokens for {} could not be read back from {}",
            info.identity,
            store_name(kind)
        )));
    }
    if ctx.json {
        return print_json(&json!({
            "identity": info.identity,
            "store": kind,
            "persistent": kind != Persist::Memory,
            "scope": info.scope,
            "expires_at": info.expires_at,
        }));
    }
    if kind == Persist::Memory {
        outln!(
            "Authenticated to {}, but the tokens were kept in memory only and are gone when mcp-auth exits.",
            info.identity
        )?;
    } else {
        outln!(
            "Authenticated. Tokens stored for identity: {} (resource {})",
            info.identity,
            info.resource
        )?;
        errln!("(stored in {})", store_name(kind));
    }
    Ok(())
}
