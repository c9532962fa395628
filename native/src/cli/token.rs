//! `mcp-auth token`: prints a valid access token (refreshed when needed) and nothing else.

use super::out::{self, errln};
use super::{
    auth_options, auth_with, no_login_ui, open_store, require_oauth, resolve_target,
    wanted_persist, CliError, CliResult, Ctx, LoginFlags,
};
use crate::store::Persist;
use mcp_auth_core::Error;

pub(super) async fn run(ctx: &Ctx, target: &str) -> CliResult {
    let cfg = ctx.config()?;
    let t = resolve_target(&cfg, target, None)?;
    require_oauth(&t)?;
    let (store, note) = open_store(wanted_persist(t.server.as_ref())?, t.server.as_ref()).await?;
    if let Some(n) = note {
        errln!("{n}");
    }
    let in_memory = store.kind() == Persist::Memory;
    // a grant without a browser (client credentials, JWT bearer) gets a token here if needed
    let opts = auth_options(ctx, &t, &LoginFlags::default())?;
    let auth = auth_with(store, no_login_ui())?;
    let record = auth.valid_record_for(&t.url, &opts).await.map_err(|e| {
        let mut msg = match (e.needs_login(), &t.server) {
            (true, Some(server)) => format!(
                "no usable token for server `{}`: {e}\n(for this server: `mcp-auth login {}`)",
                server.name, server.name
            ),
            _ => e.to_string(),
        };
        if in_memory && matches!(*e, Error::LoginRequired { .. }) {
            msg.push_str(
                "\nTokens are kept in memory here, so no earlier login survives; use a keyring or `persist: file` to keep them between commands.",
            );
        }
        CliError::new(msg)
    })?;
    if record.is_dpop_bound() {
        errln!(
            "note: this token is DPoP-bound: a server takes it only as `Authorization: DPoP` with a proof signed by this identity's key (mcp-auth sends those itself)"
        );
    }
    out::try_stdout(format_args!("{}\n", record.access_token.secret()))
        .map_err(|e| out::failed(e, "cannot write the token"))
}
