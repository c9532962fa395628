//! The Codex commands: `codex-login`, `codexplan` and `codex-clear` (ChatGPT sign-in through
//! mcp-auth's own store; the Codex CLI's auth.json is only ever read).

use super::out::{errln, outln};
use super::{
    auth_with, confirm, describe_expiry, now, open_store, print_json, store_name, wanted_persist,
    CliError, CliResult, Ctx, CODEX_ISSUER_ENV,
};
use crate::host::{LoginUi, NativeHost};
use crate::store::{self, Persist};
use mcp_auth_core::{codex, Error, LoginOutcome, McpAuth};
use serde_json::json;
use std::io::IsTerminal;
use std::path::PathBuf;

pub(super) fn codex_issuer() -> String {
    codex::issuer(std::env::var(CODEX_ISSUER_ENV).ok().as_deref())
}

/// `$CODEX_HOME/auth.json`, else `~/.codex/auth.json`.
pub(super) fn codex_auth_json_path() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("CODEX_HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(h).join("auth.json"));
    }
    store::home_dir().map(|h| h.join(".codex").join("auth.json"))
}

pub(super) fn read_codex_cli_auth() -> Option<(PathBuf, Result<codex::CodexCliAuth, Box<Error>>)> {
    let path = codex_auth_json_path()?;
    let text = std::fs::read_to_string(&path).ok()?;
    Some((path, codex::parse_codex_auth_json(&text)))
}

async fn codex_login_with(auth: &McpAuth<NativeHost>, kind: Persist, json_out: bool) -> CliResult {
    let issuer = codex_issuer();
    let opts = codex::auth_options(&issuer, "mcp-auth");
    let info = match auth.login(&codex::server_url(&issuer), &opts).await? {
        LoginOutcome::Completed(i) => i,
        LoginOutcome::Redirected => return Err(CliError::new("the login did not come back")),
    };
    let record = auth
        .token_record(&info.resource)
        .await?
        .ok_or_else(|| CliError::new("the Codex tokens could not be read back after login"))?;
    let account = record
        .id_token
        .as_ref()
        .and_then(|t| codex::account_from_id_token(t.secret()).ok())
        .unwrap_or_default();
    if json_out {
        return print_json(&json!({
            "identity": info.identity,
            "store": kind,
            "account_id": account.account_id,
            "plan_type": account.plan_type,
        }));
    }
    outln!(
        "Authenticated with ChatGPT{}. Tokens stored for identity: {}{}",
        account
            .account_id
            .as_deref()
            .map(|a| format!(" (account {a})"))
            .unwrap_or_default(),
        info.identity,
        if kind == Persist::Memory {
            " (in memory only: gone when mcp-auth exits)"
        } else {
            ""
        }
    )?;
    Ok(())
}

async fn codex_auth(no_browser: bool, allowed: bool) -> CliResult<(McpAuth<NativeHost>, Persist)> {
    let (store, note) = open_store(wanted_persist(None)?, None).await?;
    if let Some(n) = note {
        errln!("{n}");
    }
    let kind = store.kind();
    let ui = LoginUi {
        no_browser,
        allowed,
        ..LoginUi::default()
    };
    Ok((auth_with(store, ui)?, kind))
}

pub(super) async fn login(ctx: &Ctx, no_browser: bool) -> CliResult {
    let (auth, kind) = codex_auth(no_browser, true).await?;
    codex_login_with(&auth, kind, ctx.json).await
}

pub(super) async fn plan(ctx: &Ctx) -> CliResult {
    let (auth, kind) = codex_auth(false, true).await?;
    let url = codex::server_url(&codex_issuer());
    match auth.valid_record(&url).await {
        Ok(rec) => {
            let acc = rec
                .id_token
                .as_ref()
                .and_then(|t| codex::account_from_id_token(t.secret()).ok())
                .unwrap_or_default();
            if ctx.json {
                return print_json(
                    &json!({"logged_in": true, "source": "mcp-auth", "account_id": acc.account_id, "plan_type": acc.plan_type, "expires_at": rec.expires_at}),
                );
            }
            outln!(
                "Codex: signed in with ChatGPT (mcp-auth, {}); account {}; plan {}; token expires {}",
                kind,
                acc.account_id.as_deref().unwrap_or("unknown"),
                acc.plan_type.as_deref().unwrap_or("unknown"),
                describe_expiry(rec.expires_at, now())
            )?;
            return Ok(());
        }
        Err(e) if e.needs_login() => {}
        Err(e) => return Err(e.into()),
    }
    if let Some((path, Ok(a))) = read_codex_cli_auth() {
        if a.access_token.is_some() {
            if ctx.json {
                return print_json(
                    &json!({"logged_in": true, "source": path.display().to_string(), "account_id": a.account_id}),
                );
            }
            outln!(
                "Codex: signed in via the Codex CLI ({}, read only); account {}",
                path.display(),
                a.account_id.as_deref().unwrap_or("unknown")
            )?;
            return Ok(());
        }
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::new(
            "no valid Codex sign-in; run `mcp-auth codex-login` (not started here: standard input is not a terminal)",
        ));
    }
    if !confirm("No valid Codex sign-in. Sign in with ChatGPT now?", false)? {
        outln!("Not signed in.")?;
        return Ok(());
    }
    codex_login_with(&auth, kind, ctx.json).await
}

pub(super) async fn clear(ctx: &Ctx, yes: bool) -> CliResult {
    let (auth, kind) = codex_auth(false, false).await?;
    let url = codex::server_url(&codex_issuer());
    if !confirm("Remove the Codex sign-in stored by mcp-auth?", yes)? {
        outln!("Nothing removed.")?;
        return Ok(());
    }
    let report = auth.logout(&url, true).await?;
    if ctx.json {
        return print_json(&mcp_auth_core::json::to_json(&report));
    }
    if report.deleted_keys.iter().any(|k| k.starts_with("tokens:")) {
        outln!("Removed the Codex sign-in from {}.", store_name(kind))?;
    } else {
        outln!("No Codex sign-in was stored by mcp-auth.")?;
    }
    if let Some(p) = codex_auth_json_path().filter(|p| p.exists()) {
        outln!(
            "The Codex CLI's own {} was left untouched (mcp-auth never writes it).",
            p.display()
        )?;
    }
    Ok(())
}
