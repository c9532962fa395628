//! `mcp-auth clear`: revokes and removes stored tokens.

use super::out::{errln, outln};
use super::{
    auth_with, confirm, no_login_ui, open_store, print_json, resolve_target, store_name,
    wanted_persist, CliError, CliResult, Ctx,
};
use crate::store::Persist;
use mcp_auth_core::identity;

pub(super) async fn run(
    ctx: &Ctx,
    server: Option<&str>,
    identity_url: Option<&str>,
    all: bool,
    yes: bool,
) -> CliResult {
    let cfg = ctx.config()?;
    let mut server_cfg = None;
    let mut identities = Vec::new();
    if let Some(s) = server {
        let t = resolve_target(&cfg, s, None)?;
        identities.push(identity(&t.url)?);
        server_cfg = t.server;
    }
    if let Some(u) = identity_url {
        identities.push(identity(u)?);
    }
    let wanted = wanted_persist(server_cfg.as_ref())?;
    let (store, note) = open_store(wanted, server_cfg.as_ref()).await?;
    if let Some(n) = note {
        errln!("{n}");
    }
    let kind = store.kind();
    let auth = auth_with(store, no_login_ui())?;
    if all {
        let index = auth.index().await?;
        identities.extend(index.identities());
        // a DPoP key whose login never completed has no tokens, but is cleared too
        identities.extend(index.dpop_identities());
    }
    identities.sort();
    identities.dedup();
    if identities.is_empty() {
        if all {
            outln!("No tokens stored in {}.", store_name(kind))?;
            return Ok(());
        }
        return Err(CliError::new(
            "say what to clear: a server name, --identity URL, or --all",
        ));
    }
    let where_ = if kind == Persist::Keyring {
        "keyring".to_string()
    } else {
        store_name(kind)
    };
    if !confirm(
        &format!("Remove tokens for the selected server(s) from {where_}?"),
        yes,
    )? {
        outln!("Nothing removed.")?;
        return Ok(());
    }
    let mut reports = Vec::new();
    for ident in &identities {
        let report = auth.logout(ident, true).await?;
        if !ctx.json {
            if !report.revoked.is_empty() {
                outln!(
                    "{ident}: revoked {} at the authorization server.",
                    report.revoked.join(" and ")
                )?;
            }
            for n in &report.revocation_notes {
                outln!("{ident}: {n}")?;
            }
            if report.deleted_keys.iter().any(|k| k.starts_with("tokens:")) {
                outln!("{ident}: removed tokens from {where_}.")?;
            } else {
                outln!("{ident}: no tokens were stored.")?;
            }
        }
        reports.push(report);
    }
    if ctx.json {
        return print_json(&mcp_auth_core::json::to_json(&reports));
    }
    Ok(())
}
