//! `mcp-auth status` (also the default without a command): the keyring, the stored tokens,
//! the configured servers and the Codex sign-in; or the state of one server or identity.

use super::codex::{codex_issuer, read_codex_cli_auth};
use super::out::{out, outln};
use super::status_redis::{self, RedisView};
use super::CliError;
use super::{
    auth_with, describe_expiry, no_login_ui, now, persist_override, print_json, resolve_target,
    CliResult, Ctx, KEYRING_PROBE_TIMEOUT, STORE_ENV,
};
use crate::config::{Config, Transport};
use crate::keyring_batch::KeyringSnapshot;
use crate::redis_store::RedisState;
use crate::store::{self, FileStore, KeyringState, KeyringStore, MemoryStore, Persist, Store};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use mcp_auth_core::urls::{covering_first, resource_covers};
use mcp_auth_core::{codex, identity, TokenStatus};
use serde::Serialize;
use serde_json::json;

// ---- status ----

#[derive(Serialize)]
struct TokenRow {
    identity: String,
    /// The resource the tokens are for (a token is only used inside it).
    resource: Option<String>,
    store: Persist,
    present: bool,
    expired: bool,
    expires_at: Option<u64>,
    expires: String,
    scope: Option<String>,
    issuer: Option<String>,
    has_refresh_token: bool,
    /// The grant that obtained the tokens when it was not the browser login
    /// (`client_credentials`, `jwt_bearer`, `token_exchange`): renewed by running it again.
    flow: Option<String>,
    /// The access token is DPoP-bound (RFC 9449): useless without the identity's key.
    dpop_bound: bool,
    problem: Option<String>,
}

impl TokenRow {
    /// Expired tokens that are renewed without the user: by a refresh token, or by the grant.
    fn renewable(&self) -> bool {
        self.has_refresh_token || self.flow.is_some()
    }
}

#[derive(Serialize)]
struct ServerRow {
    name: String,
    transport: Transport,
    url: Option<String>,
    oauth: &'static str,
    persist: Persist,
    token: String,
    token_present: bool,
    identity: Option<String>,
    /// Escape hatches the server's configuration turns on (off by default).
    escape_hatches: Vec<&'static str>,
}

#[derive(Serialize, Default)]
struct CodexRow {
    logged_in: bool,
    source: Option<String>,
    identity: String,
    account_id: Option<String>,
    plan_type: Option<String>,
    expires_at: Option<u64>,
    auth_json: Option<String>,
    problem: Option<String>,
}

#[derive(Serialize)]
struct StatusReport {
    keyring: KeyringState,
    /// The Redis stores in use (`persist: redis`), without passwords.
    redis: Vec<RedisState>,
    store_override: Option<Persist>,
    token_file: Option<String>,
    config_files: Vec<String>,
    tokens: Vec<TokenRow>,
    servers: Vec<ServerRow>,
    codex: CodexRow,
}

fn row(s: TokenStatus, store: Persist, now: u64) -> TokenRow {
    TokenRow {
        expires: if s.present {
            describe_expiry(s.expires_at, now)
        } else {
            "-".into()
        },
        identity: s.identity,
        resource: s.resource,
        store,
        present: s.present,
        expired: s.expired,
        expires_at: s.expires_at,
        scope: s.scope,
        issuer: s.issuer,
        has_refresh_token: s.has_refresh_token,
        flow: s.flow,
        dpop_bound: s.dpop_bound,
        problem: s.problem,
    }
}

/// Token states of every store that may hold some (read only).
async fn gather_tokens(keyring: &KeyringState, redis: &[RedisView]) -> CliResult<Vec<TokenRow>> {
    let now = now();
    let over = persist_override()?;
    let mut stores = Vec::new();
    let file = FileStore::new(FileStore::default_path()?);
    match over {
        Some(Persist::Memory | Persist::Redis) => {}
        Some(Persist::File) => stores.push(Store::File(file)),
        Some(Persist::Keyring) | None => {
            if keyring.available {
                // one connection for every record, else key by key
                stores.push(match KeyringSnapshot::take().await {
                    Some(snapshot) => Store::KeyringSnapshot(snapshot),
                    None => Store::Keyring(KeyringStore),
                });
            }
            if over.is_none() && file.exists() {
                stores.push(Store::File(file));
            }
        }
    }
    stores.extend(
        redis
            .iter()
            .filter_map(|v| v.store.clone())
            .map(Store::Redis),
    );
    let mut rows = Vec::new();
    for store in stores {
        let kind = store.kind();
        let auth = auth_with(store, no_login_ui())?;
        for st in auth.status().await? {
            rows.push(row(st, kind, now));
        }
    }
    Ok(rows)
}

/// The token state of a configured server: the stored record of its identity whose resource
/// covers the server's URL.
fn token_cell(rows: &[TokenRow], url: &str, persist: Persist, keyring_ok: bool) -> (String, bool) {
    if persist == Persist::Memory {
        return ("memory only".into(), false);
    }
    if persist == Persist::Keyring && !keyring_ok {
        return ("✗ (no keyring)".into(), false);
    }
    let Ok(ident) = identity(url) else {
        return ("✗ bad url".into(), false);
    };
    // the record core itself would use for this URL
    let mine: Vec<&TokenRow> = rows
        .iter()
        .filter(|r| r.identity == ident && r.store == persist && r.present)
        .collect();
    let chosen = covering_first(mine, |r| r.resource.as_deref().unwrap_or(""), url);
    match chosen.first() {
        Some(r) if r.problem.is_some() => ("✗ unreadable".into(), false),
        Some(r) if r.expired && r.has_refresh_token => ("✓ (expired, refreshable)".into(), true),
        Some(r) if r.expired && r.renewable() => ("✓ (expired, renewable)".into(), true),
        Some(r) if r.expired => ("✗ expired".into(), false),
        Some(_) => ("✓".into(), true),
        None => ("✗".into(), false),
    }
}

fn server_rows(cfg: &Config, tokens: &[TokenRow], keyring_ok: bool) -> CliResult<Vec<ServerRow>> {
    let over = persist_override()?;
    let mut out = Vec::new();
    for s in cfg.servers.values() {
        if s.transport == Transport::Stdio {
            continue;
        }
        let persist = over.or(s.persist).unwrap_or(Persist::Keyring);
        let ident = s.url.as_deref().and_then(|u| identity(u).ok());
        let (token, present) = match (s.url.as_deref().filter(|_| ident.is_some()), s.oauth) {
            (_, false) => ("-".to_string(), false),
            (Some(u), true) => token_cell(tokens, u, persist, keyring_ok),
            (None, true) => ("✗ bad url".to_string(), false),
        };
        let mut escape_hatches = Vec::new();
        if s.oauth && !s.send_resource {
            escape_hatches.push("send_resource: false");
        }
        if s.oauth && s.assume_pkce_s256 {
            escape_hatches.push("assume_pkce_s256: true");
        }
        out.push(ServerRow {
            name: s.name.clone(),
            transport: s.transport,
            url: s.url.clone(),
            oauth: if s.header_auth && !s.oauth {
                "header"
            } else if s.oauth {
                "on"
            } else {
                "off"
            },
            persist,
            token,
            token_present: present,
            identity: ident,
            escape_hatches,
        });
    }
    Ok(out)
}

async fn codex_row(tokens: &[TokenRow], keyring_ok: bool) -> CliResult<CodexRow> {
    let ident = identity(&codex::server_url(&codex_issuer()))?;
    let mut row = CodexRow {
        identity: ident.clone(),
        ..Default::default()
    };
    if let Some(t) = tokens.iter().find(|r| r.identity == ident && r.present) {
        row.logged_in = !t.expired || t.renewable();
        row.source = Some(format!("mcp-auth ({})", t.store));
        row.expires_at = t.expires_at;
        let store = match t.store {
            Persist::File => Store::File(FileStore::new(FileStore::default_path()?)),
            Persist::Redis => Store::Memory(MemoryStore::default()),
            _ if keyring_ok => Store::Keyring(KeyringStore),
            _ => Store::Memory(MemoryStore::default()),
        };
        let auth = auth_with(store, no_login_ui())?;
        if let Ok(Some(rec)) = auth.token_record(&codex::server_url(&codex_issuer())).await {
            if let Some(id) = rec.id_token {
                if let Ok(acc) = codex::account_from_id_token(id.secret()) {
                    row.account_id = acc.account_id;
                    row.plan_type = acc.plan_type;
                }
            }
        }
    }
    if let Some((path, parsed)) = read_codex_cli_auth() {
        row.auth_json = Some(path.display().to_string());
        match parsed {
            Ok(a) => {
                if !row.logged_in && (a.access_token.is_some() || a.refresh_token.is_some()) {
                    row.logged_in = true;
                    row.source = Some("Codex CLI auth.json (read only)".into());
                    row.account_id = a.account_id.clone();
                    row.plan_type = a
                        .id_token
                        .as_ref()
                        .and_then(|t| codex::account_from_id_token(t.secret()).ok())
                        .and_then(|acc| acc.plan_type);
                }
            }
            Err(e) => row.problem = Some(format!("{}: {e}", path.display())),
        }
    }
    Ok(row)
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header.iter().copied());
    t
}

fn keyring_line(k: &KeyringState, over: Option<Persist>) -> String {
    if let Some(p) = over.filter(|p| *p != Persist::Keyring) {
        return format!("Keyring: {} not used ({STORE_ENV}={p})", k.backend);
    }
    if k.available {
        format!("Keyring: {} (available)", k.backend)
    } else if k.locked {
        format!(
            "Keyring: {} is LOCKED ({}); its tokens cannot be read.",
            k.backend,
            k.detail.as_deref().unwrap_or("access refused")
        )
    } else {
        format!(
            "Keyring: {} not available ({}); tokens would be kept in memory only. \
             Install and unlock a keyring, or use `persist: file`.",
            k.backend,
            k.detail.as_deref().unwrap_or("unknown reason")
        )
    }
}

pub(super) async fn run(ctx: &Ctx, target: Option<&str>) -> CliResult {
    let cfg = ctx.config()?;
    let over = persist_override()?;
    let keyring = if over.is_none() || over == Some(Persist::Keyring) {
        KeyringStore::probe(KEYRING_PROBE_TIMEOUT).await
    } else {
        KeyringState {
            backend: store::keyring_backend_name(),
            available: false,
            locked: false,
            detail: Some(format!(
                "not used ({STORE_ENV}={})",
                over.map(|p| p.as_str()).unwrap_or("")
            )),
        }
    };
    let redis = status_redis::gather(&cfg).await?;
    let tokens = gather_tokens(&keyring, &redis).await?;
    let redis: Vec<RedisState> = redis.into_iter().map(|v| v.state).collect();
    let servers = server_rows(&cfg, &tokens, keyring.available)?;
    // a locked keyring: the report shows what can be read, then the command fails saying
    // what to do (its tokens are not "none")
    let locked = keyring.locked.then(|| keyring.locked_message());
    let finish = |shown: CliResult| {
        shown?;
        locked.map_or(Ok(()), |m| Err(CliError::new(m)))
    };
    if let Some(target) = target {
        return finish(status_target(
            ctx,
            &cfg,
            target,
            (&keyring, &redis),
            tokens,
            servers,
        ));
    }
    let codex = codex_row(&tokens, keyring.available).await?;
    let file = FileStore::default_path()?;
    let report = StatusReport {
        keyring,
        redis,
        store_override: over,
        token_file: file.exists().then(|| file.display().to_string()),
        config_files: cfg.files.iter().map(|p| p.display().to_string()).collect(),
        tokens,
        servers,
        codex,
    };
    if ctx.json {
        return finish(print_json(&report));
    }
    let mut out = String::new();
    out.push_str(&keyring_line(&report.keyring, over));
    out.push('\n');
    for r in &report.redis {
        out.push_str(&status_redis::lines(r));
        out.push('\n');
    }
    if let Some(p) = over {
        out.push_str(&format!("Store: {p} (from {STORE_ENV})\n"));
    }
    if let Some(f) = &report.token_file {
        out.push_str(&format!("Token file: {f}\n"));
    }
    out.push_str(&format!("Config: {}\n\n", cfg.describe_files()));
    out.push_str("Stored tokens\n");
    if report.tokens.is_empty() {
        out.push_str("  (none; log in with `mcp-auth login <server or URL>`)\n");
    } else {
        let mut t = table(&[
            "Identity", "Resource", "Token", "Expires", "Scopes", "Store",
        ]);
        for r in &report.tokens {
            let mark = match (&r.problem, r.present, r.expired) {
                (Some(_), _, _) => "✗ unreadable",
                (None, true, false) => "✓",
                (None, true, true) if r.has_refresh_token => "✓ refreshable",
                (None, true, true) if r.renewable() => "✓ renewable",
                (None, true, true) => "✗ expired",
                (None, false, _) => "✗",
            };
            let mark = match &r.flow {
                Some(flow) => format!("{mark} ({flow})"),
                None => mark.to_string(),
            };
            let resource = r
                .resource
                .as_deref()
                .map(|res| res.strip_prefix(&r.identity).unwrap_or(res))
                .filter(|p| !p.is_empty())
                .unwrap_or("/");
            let mark = if r.dpop_bound && r.present {
                format!("{mark} DPoP")
            } else {
                mark.to_string()
            };
            t.add_row(vec![
                r.identity.clone(),
                resource.to_string(),
                mark,
                r.expires.clone(),
                r.scope.clone().unwrap_or_else(|| "-".into()),
                r.store.to_string(),
            ]);
        }
        out.push_str(&format!("{t}\n"));
    }
    out.push_str("\nConfigured servers\n");
    if report.servers.is_empty() {
        out.push_str("  (none with a URL)\n");
    } else {
        let mut t = table(&[
            "Server",
            "Transport",
            "OAuth",
            "Persist",
            "Token",
            "Identity",
        ]);
        for s in &report.servers {
            t.add_row(vec![
                s.name.clone(),
                s.transport.to_string(),
                s.oauth.to_string(),
                if s.oauth == "on" {
                    s.persist.to_string()
                } else {
                    "-".to_string()
                },
                s.token.clone(),
                s.identity.clone().unwrap_or_else(|| "-".into()),
            ]);
        }
        out.push_str(&format!("{t}\n"));
        for s in report
            .servers
            .iter()
            .filter(|s| !s.escape_hatches.is_empty())
        {
            out.push_str(&format!(
                "  ! {}: escape hatch on ({}); the strict default is off\n",
                s.name,
                s.escape_hatches.join(", ")
            ));
        }
    }
    let c = &report.codex;
    out.push('\n');
    if c.logged_in {
        out.push_str(&format!(
            "Codex OAuth: ✓ signed in via {}{}{}\n",
            c.source.as_deref().unwrap_or("?"),
            c.account_id
                .as_deref()
                .map(|a| format!(", account {a}"))
                .unwrap_or_default(),
            c.plan_type
                .as_deref()
                .map(|p| format!(", plan {p}"))
                .unwrap_or_default()
        ));
    } else {
        out.push_str("Codex OAuth: ✗ not signed in (run `mcp-auth codex-login`)\n");
    }
    if let Some(p) = &c.problem {
        out.push_str(&format!("  note: {p}\n"));
    }
    finish(out!("{out}"))
}

fn status_target(
    ctx: &Ctx,
    cfg: &Config,
    target: &str,
    (keyring, redis): (&KeyringState, &[RedisState]),
    tokens: Vec<TokenRow>,
    servers: Vec<ServerRow>,
) -> CliResult {
    let t = resolve_target(cfg, target, None)?;
    let ident = identity(&t.url)?;
    let sharing: Vec<&ServerRow> = servers
        .iter()
        .filter(|s| s.identity.as_deref() == Some(ident.as_str()))
        .collect();
    let mine: Vec<&TokenRow> = tokens.iter().filter(|r| r.identity == ident).collect();
    if ctx.json {
        return print_json(&json!({
            "identity": ident,
            "url": t.url,
            "keyring": keyring,
            "redis": redis,
            "tokens": mine,
            "servers": sharing,
        }));
    }
    outln!("{}", keyring_line(keyring, persist_override()?))?;
    for r in redis {
        outln!("{}", status_redis::lines(r))?;
    }
    outln!("Identity: {ident}")?;
    if mine.is_empty() {
        outln!("Token:    ✗ none stored (run `mcp-auth login {target}`)")?;
    }
    for r in &mine {
        let mark = if r.problem.is_some() {
            "✗ unreadable"
        } else if !r.expired {
            "✓"
        } else if r.has_refresh_token {
            "✓ refreshable"
        } else if r.renewable() {
            "✓ renewable"
        } else {
            "✗ expired"
        };
        let res = r.resource.as_deref().unwrap_or("-");
        let used = if resource_covers(res, &t.url) {
            ""
        } else {
            " (another resource of this identity; not sent to this URL)"
        };
        let flow = r
            .flow
            .as_deref()
            .map(|f| format!("; obtained by the {f} grant (renewed without a browser)"))
            .unwrap_or_default();
        let bound = if r.dpop_bound {
            "; DPoP-bound (sent only with a proof by this identity's key)"
        } else {
            ""
        };
        outln!(
            "Token:    {mark} in {} for {res}{used} — expires {}; scopes: {}{bound}{flow}",
            r.store,
            r.expires,
            r.scope.as_deref().unwrap_or("-")
        )?;
    }
    if sharing.is_empty() {
        outln!("Servers:  (no configured server uses this identity)")?;
    } else {
        let names: Vec<&str> = sharing.iter().map(|s| s.name.as_str()).collect();
        outln!("Servers:  {}", names.join(", "))?;
    }
    Ok(())
}
