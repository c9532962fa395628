//! The `mcp-auth` commands: argument parsing, choosing the store, and printing. Every OAuth
//! decision is core's; this file only wires the native host to it and talks to the user.

use crate::config::{self, Config, ServerConfig, Transport};
use crate::host::{LoginUi, NativeHost};
use crate::mcp::McpSession;
use crate::store::{self, FileStore, KeyringState, KeyringStore, MemoryStore, Persist, Store};
use clap::{Parser, Subcommand};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use mcp_auth_core::codex;
use mcp_auth_core::{
    identity, AuthOptions, ClientSecret, Error, LoginOutcome, McpAuth, TokenStatus,
};
use serde::Serialize;
use serde_json::{json, Value};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Selects the store for every command (overrides `persist` in the config).
pub const STORE_ENV: &str = "MCP_AUTH_STORE";
/// Overrides the Codex issuer base URL (tests point it at a local server).
pub const CODEX_ISSUER_ENV: &str = "MCP_AUTH_CODEX_ISSUER";
/// How long `status` waits for the keyring to answer.
const KEYRING_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Parser, Debug)]
#[command(
    name = "mcp-auth",
    version,
    about = "OAuth for remote MCP servers: log in, check, print tokens, clear.",
    after_help = "Without a command, shows the status overview."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The config file (fastagent.config.yaml, fast-agent.yaml, .mcp.json) or its folder.
    #[arg(short = 'c', long = "config-path", global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    pub json: bool,
    /// The loopback port for the login callback (default: the server's redirect_port, 3030).
    #[arg(
        long = "redirect-port",
        global = true,
        env = "MCP_AUTH_REDIRECT_PORT",
        value_name = "PORT"
    )]
    pub redirect_port: Option<u16>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The keyring, stored tokens, configured servers and Codex sign-in.
    Status {
        /// A server name or an identity URL.
        target: Option<String>,
    },
    /// Log in to a server (opens the browser, waits for the callback on localhost).
    Login {
        /// A configured server name or a URL.
        target: String,
        #[arg(long, value_enum)]
        transport: Option<TransportArg>,
        /// The scope to request (space separated).
        #[arg(long)]
        scope: Option<String>,
        #[arg(long = "client-id")]
        client_id: Option<String>,
        #[arg(long = "client-secret")]
        client_secret: Option<String>,
        #[arg(long = "client-metadata-url")]
        client_metadata_url: Option<String>,
        /// Print the URL instead of opening a browser; paste the redirect URL back.
        #[arg(long = "no-browser")]
        no_browser: bool,
    },
    /// Revoke and remove stored tokens.
    Clear {
        /// A configured server name.
        server: Option<String>,
        /// An identity URL (the server's origin).
        #[arg(long)]
        identity: Option<String>,
        /// Every stored identity.
        #[arg(long)]
        all: bool,
        /// Do not ask.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Print a valid access token (refreshing it if needed) and nothing else.
    Token {
        /// A configured server name or a URL.
        target: String,
    },
    /// Open an authenticated MCP session: initialize, list tools, optionally call one.
    Probe {
        /// A configured server name or a URL.
        target: String,
        #[arg(long, value_enum)]
        transport: Option<TransportArg>,
        /// Call this tool after listing.
        #[arg(long)]
        call: Option<String>,
        /// The tool's arguments as a JSON object.
        #[arg(long, requires = "call")]
        args: Option<String>,
        #[arg(long = "no-browser")]
        no_browser: bool,
    },
    /// Sign in to OpenAI Codex with ChatGPT.
    #[command(name = "codex-login")]
    CodexLogin {
        #[arg(long = "no-browser")]
        no_browser: bool,
    },
    /// Show the Codex (ChatGPT) sign-in, logging in first when there is none.
    Codexplan,
    /// Remove the Codex sign-in stored by mcp-auth.
    #[command(name = "codex-clear")]
    CodexClear {
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum TransportArg {
    Http,
    Sse,
}

/// A failure to show the user: what went wrong and what to do; the exit code.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub code: i32,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: 1,
        }
    }
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError::new(e.to_string())
    }
}

impl From<mcp_auth_core::HostError> for CliError {
    fn from(e: mcp_auth_core::HostError) -> Self {
        CliError::new(Error::from(e).to_string())
    }
}

impl From<config::ConfigError> for CliError {
    fn from(e: config::ConfigError) -> Self {
        CliError::new(e.0)
    }
}

type CliResult<T = ()> = Result<T, CliError>;

/// Parses the arguments, runs the command, returns the exit code.
pub fn main_entry() -> i32 {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mcp-auth: error: cannot start: {e}");
            return 1;
        }
    };
    let code = match rt.block_on(run(cli)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("mcp-auth: error: {}", e.message);
            e.code
        }
    };
    let _ = std::io::stdout().flush();
    rt.shutdown_timeout(Duration::from_millis(200));
    code
}

pub async fn run(cli: Cli) -> CliResult {
    let ctx = Ctx {
        config_path: cli.config.clone(),
        json: cli.json,
        redirect_port: cli.redirect_port,
    };
    match cli.command {
        None => status(&ctx, None).await,
        Some(Command::Status { target }) => status(&ctx, target.as_deref()).await,
        Some(Command::Login {
            target,
            transport,
            scope,
            client_id,
            client_secret,
            client_metadata_url,
            no_browser,
        }) => {
            let flags = LoginFlags {
                scope,
                client_id,
                client_secret,
                client_metadata_url,
            };
            login(&ctx, &target, transport, &flags, no_browser).await
        }
        Some(Command::Clear {
            server,
            identity,
            all,
            yes,
        }) => clear(&ctx, server.as_deref(), identity.as_deref(), all, yes).await,
        Some(Command::Token { target }) => token(&ctx, &target).await,
        Some(Command::Probe {
            target,
            transport,
            call,
            args,
            no_browser,
        }) => {
            probe(
                &ctx,
                &target,
                transport,
                call.as_deref(),
                args.as_deref(),
                no_browser,
            )
            .await
        }
        Some(Command::CodexLogin { no_browser }) => codex_login(&ctx, no_browser).await,
        Some(Command::Codexplan) => codexplan(&ctx).await,
        Some(Command::CodexClear { yes }) => codex_clear(&ctx, yes).await,
    }
}

struct Ctx {
    config_path: Option<PathBuf>,
    json: bool,
    redirect_port: Option<u16>,
}

impl Ctx {
    fn config(&self) -> CliResult<Config> {
        let cfg = Config::load(self.config_path.as_deref())?;
        for w in &cfg.warnings {
            eprintln!("warning: {w}");
        }
        Ok(cfg)
    }
}

#[derive(Default)]
struct LoginFlags {
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_metadata_url: Option<String>,
}

// ---- stores ----

fn persist_override() -> CliResult<Option<Persist>> {
    match std::env::var(STORE_ENV) {
        Ok(v) if !v.trim().is_empty() => Persist::parse(&v).map(Some).ok_or_else(|| {
            CliError::new(format!(
                "{STORE_ENV}=`{v}` is not a store; use keyring, file or memory"
            ))
        }),
        _ => Ok(None),
    }
}

fn wanted_persist(server: Option<&ServerConfig>) -> CliResult<Persist> {
    Ok(persist_override()?
        .or_else(|| server.and_then(|s| s.persist))
        .unwrap_or(Persist::Keyring))
}

fn store_name(p: Persist) -> String {
    match p {
        Persist::Keyring => "keyring".into(),
        Persist::File => match FileStore::default_path() {
            Ok(path) => format!("the token file {}", path.display()),
            Err(_) => "the token file".into(),
        },
        Persist::Memory => "memory".into(),
    }
}

/// The store to use, and an honest note when the keyring had to be replaced by memory.
async fn open_store(wanted: Persist) -> CliResult<(Store, Option<String>)> {
    match wanted {
        Persist::Memory => Ok((Store::Memory(MemoryStore::default()), None)),
        Persist::File => Ok((
            Store::File(FileStore::new(FileStore::default_path()?)),
            None,
        )),
        Persist::Keyring => {
            let state = KeyringStore::probe(KEYRING_PROBE_TIMEOUT).await;
            if state.available {
                Ok((Store::Keyring(KeyringStore), None))
            } else {
                Ok((
                    Store::Memory(MemoryStore::default()),
                    Some(fallback_note(&state)),
                ))
            }
        }
    }
}

fn fallback_note(state: &KeyringState) -> String {
    format!(
        "Warning: the OS keyring ({}) is not available: {}.\n\
         Tokens will be kept in memory only and will not outlive this process.\n\
         To keep them: install and unlock a keyring (e.g. gnome-keyring), or set `persist: file` \
         under the server's `auth:` (or {STORE_ENV}=file).",
        state.backend,
        state.detail.as_deref().unwrap_or("unknown reason")
    )
}

fn lock_dir() -> CliResult<PathBuf> {
    Ok(store::state_dir()?.join("locks"))
}

fn auth_with(store: Store, ui: LoginUi) -> CliResult<McpAuth<NativeHost>> {
    Ok(McpAuth::new(NativeHost::new(store, lock_dir()?, ui)?))
}

fn no_login_ui() -> LoginUi {
    LoginUi {
        allowed: false,
        ..LoginUi::default()
    }
}

// ---- targets ----

struct Target {
    url: String,
    transport: Transport,
    server: Option<ServerConfig>,
}

fn resolve_target(
    cfg: &Config,
    target: &str,
    transport: Option<TransportArg>,
) -> CliResult<Target> {
    if let Some(s) = cfg.server(target) {
        if s.transport == Transport::Stdio {
            return Err(CliError::new(format!(
                "STDIO servers do not use OAuth (`{target}` runs a local command)"
            )));
        }
        let url = s.url.clone().ok_or_else(|| {
            CliError::new(format!(
                "server `{target}` has no url in {}",
                s.source.display()
            ))
        })?;
        return Ok(Target {
            url,
            transport: s.transport,
            server: Some(s.clone()),
        });
    }
    if target.contains("://") {
        let mut u = url::Url::parse(target)
            .map_err(|e| CliError::new(format!("`{target}` is not a valid URL: {e}")))?;
        if u.scheme() != "http" && u.scheme() != "https" {
            return Err(CliError::new(format!("`{target}` is not an http(s) URL")));
        }
        let transport = match transport {
            Some(TransportArg::Sse) => Transport::Sse,
            Some(TransportArg::Http) => Transport::Http,
            None if u.path().trim_end_matches('/').ends_with("/sse") => Transport::Sse,
            None => Transport::Http,
        };
        if u.path() == "/" || u.path().is_empty() {
            u.set_path(if transport == Transport::Sse {
                "/sse"
            } else {
                "/mcp"
            });
        }
        return Ok(Target {
            url: u.to_string(),
            transport,
            server: None,
        });
    }
    let names: Vec<&str> = cfg
        .servers
        .values()
        .filter(|s| s.transport != Transport::Stdio)
        .map(|s| s.name.as_str())
        .collect();
    Err(CliError::new(format!(
        "`{target}` is neither a configured server nor a URL.\n  config: {}\n  servers: {}\n\
         Give a server name from the config, or a URL such as https://example.com/mcp.",
        cfg.describe_files(),
        if names.is_empty() {
            "(none)".to_string()
        } else {
            names.join(", ")
        }
    )))
}

fn require_oauth(t: &Target) -> CliResult {
    if let Some(s) = &t.server {
        if !s.oauth {
            return Err(CliError::new(if s.header_auth {
                format!(
                    "server `{}` authenticates with a configured Authorization header, not OAuth",
                    s.name
                )
            } else {
                format!(
                    "server `{}` has OAuth turned off (auth.oauth: false in {})",
                    s.name,
                    s.source.display()
                )
            }));
        }
    }
    Ok(())
}

fn auth_options(ctx: &Ctx, t: &Target, flags: &LoginFlags) -> AuthOptions {
    let s = t.server.as_ref();
    let port = ctx
        .redirect_port
        .or(s.map(|s| s.redirect_port))
        .unwrap_or(config::DEFAULT_REDIRECT_PORT);
    let path = s
        .map(|s| s.redirect_path.clone())
        .unwrap_or_else(|| config::DEFAULT_REDIRECT_PATH.into());
    AuthOptions {
        redirect_uri: config::redirect_uri(port, &path),
        scope: flags
            .scope
            .clone()
            .or_else(|| s.and_then(|s| s.scope.clone())),
        client_id: flags
            .client_id
            .clone()
            .or_else(|| s.and_then(|s| s.client_id.clone())),
        client_secret: flags
            .client_secret
            .clone()
            .map(ClientSecret::new)
            .or_else(|| s.and_then(|s| s.client_secret.clone())),
        client_metadata_url: flags
            .client_metadata_url
            .clone()
            .or_else(|| s.and_then(|s| s.client_metadata_url.clone())),
        interactive: true,
        issuer: s.and_then(|s| s.issuer.clone()),
        send_resource: s.is_none_or(|s| s.send_resource),
        assume_pkce_s256: s.is_some_and(|s| s.assume_pkce_s256),
        ..AuthOptions::default()
    }
}

// ---- time ----

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn rough(secs: u64) -> String {
    match secs {
        0..=89 => format!("{secs}s"),
        90..=5399 => format!("{}m", (secs + 30) / 60),
        5400..=129_599 => format!("{}h", (secs + 1800) / 3600),
        _ => format!("{}d", (secs + 43_200) / 86_400),
    }
}

fn describe_expiry(expires_at: Option<u64>, now: u64) -> String {
    match expires_at {
        None => "no expiry given".into(),
        Some(t) => {
            let when = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(t));
            if t <= now {
                format!("expired {} ago ({when})", rough(now - t))
            } else {
                format!("in {} ({when})", rough(t - now))
            }
        }
    }
}

// ---- status ----

#[derive(Serialize)]
struct TokenRow {
    identity: String,
    store: Persist,
    present: bool,
    expired: bool,
    expires_at: Option<u64>,
    expires: String,
    scope: Option<String>,
    issuer: Option<String>,
    has_refresh_token: bool,
    problem: Option<String>,
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
        store,
        present: s.present,
        expired: s.expired,
        expires_at: s.expires_at,
        scope: s.scope,
        issuer: s.issuer,
        has_refresh_token: s.has_refresh_token,
        problem: s.problem,
    }
}

/// Token states of every store that may hold some (read only).
async fn gather_tokens(keyring: &KeyringState) -> CliResult<Vec<TokenRow>> {
    let now = now();
    let over = persist_override()?;
    let mut stores = Vec::new();
    let file = FileStore::new(FileStore::default_path()?);
    match over {
        Some(Persist::Memory) => {}
        Some(Persist::File) => stores.push(Store::File(file)),
        Some(Persist::Keyring) | None => {
            if keyring.available {
                stores.push(Store::Keyring(KeyringStore));
            }
            if over.is_none() && file.exists() {
                stores.push(Store::File(file));
            }
        }
    }
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

fn token_cell(
    rows: &[TokenRow],
    identity: &str,
    persist: Persist,
    keyring_ok: bool,
) -> (String, bool) {
    if persist == Persist::Memory {
        return ("memory only".into(), false);
    }
    if persist == Persist::Keyring && !keyring_ok {
        return ("✗ (no keyring)".into(), false);
    }
    match rows
        .iter()
        .find(|r| r.identity == identity && r.store == persist && r.present)
    {
        Some(r) if r.problem.is_some() => ("✗ unreadable".into(), false),
        Some(r) if r.expired && r.has_refresh_token => ("✓ (expired, refreshable)".into(), true),
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
        let (token, present) = match (&ident, s.oauth) {
            (_, false) => ("-".to_string(), false),
            (Some(i), true) => token_cell(tokens, i, persist, keyring_ok),
            (None, true) => ("✗ bad url".to_string(), false),
        };
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
        });
    }
    Ok(out)
}

fn codex_issuer() -> String {
    codex::issuer(std::env::var(CODEX_ISSUER_ENV).ok().as_deref())
}

/// `$CODEX_HOME/auth.json`, else `~/.codex/auth.json`.
fn codex_auth_json_path() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("CODEX_HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(h).join("auth.json"));
    }
    store::home_dir().map(|h| h.join(".codex").join("auth.json"))
}

fn read_codex_cli_auth() -> Option<(PathBuf, Result<codex::CodexCliAuth, Error>)> {
    let path = codex_auth_json_path()?;
    let text = std::fs::read_to_string(&path).ok()?;
    Some((path, codex::parse_codex_auth_json(&text)))
}

async fn codex_row(tokens: &[TokenRow], keyring_ok: bool) -> CliResult<CodexRow> {
    let ident = identity(&codex::server_url(&codex_issuer()))?;
    let mut row = CodexRow {
        identity: ident.clone(),
        ..Default::default()
    };
    if let Some(t) = tokens.iter().find(|r| r.identity == ident && r.present) {
        row.logged_in = !t.expired || t.has_refresh_token;
        row.source = Some(format!("mcp-auth ({})", t.store));
        row.expires_at = t.expires_at;
        let store = match t.store {
            Persist::File => Store::File(FileStore::new(FileStore::default_path()?)),
            _ if keyring_ok => Store::Keyring(KeyringStore),
            _ => Store::Memory(MemoryStore::default()),
        };
        let auth = auth_with(store, no_login_ui())?;
        if let Ok(Some(rec)) = auth
            .token_record(&codex::server_url(&codex_issuer()))
            .await
        {
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
    } else {
        format!(
            "Keyring: {} not available ({}); tokens would be kept in memory only. \
             Install and unlock a keyring, or use `persist: file`.",
            k.backend,
            k.detail.as_deref().unwrap_or("unknown reason")
        )
    }
}

async fn status(ctx: &Ctx, target: Option<&str>) -> CliResult {
    let cfg = ctx.config()?;
    let over = persist_override()?;
    let keyring = if over.is_none() || over == Some(Persist::Keyring) {
        KeyringStore::probe(KEYRING_PROBE_TIMEOUT).await
    } else {
        KeyringState {
            backend: store::keyring_backend_name(),
            available: false,
            detail: Some(format!(
                "not used ({STORE_ENV}={})",
                over.map(|p| p.as_str()).unwrap_or("")
            )),
        }
    };
    let tokens = gather_tokens(&keyring).await?;
    let servers = server_rows(&cfg, &tokens, keyring.available)?;
    if let Some(target) = target {
        return status_target(ctx, &cfg, target, &keyring, tokens, servers);
    }
    let codex = codex_row(&tokens, keyring.available).await?;
    let file = FileStore::default_path()?;
    let report = StatusReport {
        keyring,
        store_override: over,
        token_file: file.exists().then(|| file.display().to_string()),
        config_files: cfg.files.iter().map(|p| p.display().to_string()).collect(),
        tokens,
        servers,
        codex,
    };
    if ctx.json {
        return print_json(&report);
    }
    let mut out = String::new();
    out.push_str(&keyring_line(&report.keyring, over));
    out.push('\n');
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
        let mut t = table(&["Identity", "Token", "Expires", "Scopes", "Store"]);
        for r in &report.tokens {
            let mark = match (&r.problem, r.present, r.expired) {
                (Some(_), _, _) => "✗ unreadable",
                (None, true, false) => "✓",
                (None, true, true) if r.has_refresh_token => "✓ refreshable",
                (None, true, true) => "✗ expired",
                (None, false, _) => "✗",
            };
            t.add_row(vec![
                r.identity.clone(),
                mark.to_string(),
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
    print!("{out}");
    Ok(())
}

fn status_target(
    ctx: &Ctx,
    cfg: &Config,
    target: &str,
    keyring: &KeyringState,
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
            "tokens": mine,
            "servers": sharing,
        }));
    }
    println!("{}", keyring_line(keyring, persist_override()?));
    println!("Identity: {ident}");
    if mine.is_empty() {
        println!("Token:    ✗ none stored (run `mcp-auth login {target}`)");
    }
    for r in &mine {
        let mark = if r.problem.is_some() {
            "✗ unreadable"
        } else if !r.expired {
            "✓"
        } else if r.has_refresh_token {
            "✓ refreshable"
        } else {
            "✗ expired"
        };
        println!(
            "Token:    {mark} in {} — expires {}; scopes: {}",
            r.store,
            r.expires,
            r.scope.as_deref().unwrap_or("-")
        );
    }
    if sharing.is_empty() {
        println!("Servers:  (no configured server uses this identity)");
    } else {
        let names: Vec<&str> = sharing.iter().map(|s| s.name.as_str()).collect();
        println!("Servers:  {}", names.join(", "));
    }
    Ok(())
}

fn print_json<T: Serialize>(v: &T) -> CliResult {
    let text = serde_json::to_string_pretty(v)
        .map_err(|e| CliError::new(format!("cannot encode JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

// ---- login / token / clear ----

async fn login(
    ctx: &Ctx,
    target: &str,
    transport: Option<TransportArg>,
    flags: &LoginFlags,
    no_browser: bool,
) -> CliResult {
    let cfg = ctx.config()?;
    let t = resolve_target(&cfg, target, transport)?;
    require_oauth(&t)?;
    let opts = auth_options(ctx, &t, flags);
    let wanted = wanted_persist(t.server.as_ref())?;
    let (store, note) = open_store(wanted).await?;
    if let Some(n) = &note {
        eprintln!("{n}");
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
        println!(
            "Authenticated to {}, but the tokens were kept in memory only and are gone when mcp-auth exits.",
            info.identity
        );
    } else {
        println!(
            "Authenticated. Tokens stored for identity: {}",
            info.identity
        );
        eprintln!("(stored in {})", store_name(kind));
    }
    Ok(())
}

async fn token(ctx: &Ctx, target: &str) -> CliResult {
    let cfg = ctx.config()?;
    let t = resolve_target(&cfg, target, None)?;
    require_oauth(&t)?;
    let (store, note) = open_store(wanted_persist(t.server.as_ref())?).await?;
    if let Some(n) = note {
        eprintln!("{n}");
    }
    let in_memory = store.kind() == Persist::Memory;
    let auth = auth_with(store, no_login_ui())?;
    let record = auth.valid_record(&t.url).await.map_err(|e| {
        let mut msg = match (&e, &t.server) {
            (
                Error::LoginRequired { .. } | Error::ReauthenticationRequired { .. },
                Some(server),
            ) => format!(
                "no usable token for server `{}`: {e}\n(for this server: `mcp-auth login {}`)",
                server.name, server.name
            ),
            _ => e.to_string(),
        };
        if in_memory && matches!(e, Error::LoginRequired { .. }) {
            msg.push_str(
                "\nTokens are kept in memory here, so no earlier login survives; use a keyring or `persist: file` to keep them between commands.",
            );
        }
        CliError::new(msg)
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", record.access_token.secret())
        .map_err(|e| CliError::new(format!("cannot write the token: {e}")))?;
    Ok(())
}

fn confirm(question: &str, yes: bool) -> CliResult<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::new(format!(
            "{question} needs a confirmation, but standard input is not a terminal; pass --yes to proceed"
        )));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| CliError::new(format!("cannot read the answer: {e}")))?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

async fn clear(
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
    let (store, note) = open_store(wanted).await?;
    if let Some(n) = note {
        eprintln!("{n}");
    }
    let kind = store.kind();
    let auth = auth_with(store, no_login_ui())?;
    if all {
        identities.extend(auth.index().await?.identities());
    }
    identities.sort();
    identities.dedup();
    if identities.is_empty() {
        if all {
            println!("No tokens stored in {}.", store_name(kind));
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
        println!("Nothing removed.");
        return Ok(());
    }
    let mut reports = Vec::new();
    for ident in &identities {
        let report = auth.logout(ident, true).await?;
        if !ctx.json {
            if !report.revoked.is_empty() {
                println!(
                    "{ident}: revoked {} at the authorization server.",
                    report.revoked.join(" and ")
                );
            }
            for n in &report.revocation_notes {
                println!("{ident}: {n}");
            }
            if report.deleted_keys.iter().any(|k| k.starts_with("tokens:")) {
                println!("{ident}: removed tokens from {where_}.");
            } else {
                println!("{ident}: no tokens were stored.");
            }
        }
        reports.push(report);
    }
    if ctx.json {
        return print_json(&reports);
    }
    Ok(())
}

// ---- probe ----

async fn probe(
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
        eprintln!("{n}");
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
        println!(
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
        );
        let list = tools
            .get("tools")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        println!("Tools ({}):", list.len());
        for tool in &list {
            println!(
                "  {}{}",
                tool.get("name").and_then(Value::as_str).unwrap_or("?"),
                tool.get("description")
                    .and_then(Value::as_str)
                    .map(|d| format!(" — {d}"))
                    .unwrap_or_default()
            );
        }
        if let (Some(name), Some(result)) = (call, &call_result) {
            println!(
                "Result of {name}{}:",
                if is_error { " (error)" } else { "" }
            );
            let content = result
                .get("content")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for c in content {
                match c.get("text").and_then(Value::as_str) {
                    Some(text) => println!("  {text}"),
                    None => println!("  {c}"),
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

// ---- Codex ----

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
    println!(
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
    );
    Ok(())
}

async fn codex_auth(no_browser: bool, allowed: bool) -> CliResult<(McpAuth<NativeHost>, Persist)> {
    let (store, note) = open_store(wanted_persist(None)?).await?;
    if let Some(n) = note {
        eprintln!("{n}");
    }
    let kind = store.kind();
    let ui = LoginUi {
        no_browser,
        allowed,
        ..LoginUi::default()
    };
    Ok((auth_with(store, ui)?, kind))
}

async fn codex_login(ctx: &Ctx, no_browser: bool) -> CliResult {
    let (auth, kind) = codex_auth(no_browser, true).await?;
    codex_login_with(&auth, kind, ctx.json).await
}

async fn codexplan(ctx: &Ctx) -> CliResult {
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
            println!(
                "Codex: signed in with ChatGPT (mcp-auth, {}); account {}; plan {}; token expires {}",
                kind,
                acc.account_id.as_deref().unwrap_or("unknown"),
                acc.plan_type.as_deref().unwrap_or("unknown"),
                describe_expiry(rec.expires_at, now())
            );
            return Ok(());
        }
        Err(Error::LoginRequired { .. } | Error::ReauthenticationRequired { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    if let Some((path, Ok(a))) = read_codex_cli_auth() {
        if a.access_token.is_some() {
            if ctx.json {
                return print_json(
                    &json!({"logged_in": true, "source": path.display().to_string(), "account_id": a.account_id}),
                );
            }
            println!(
                "Codex: signed in via the Codex CLI ({}, read only); account {}",
                path.display(),
                a.account_id.as_deref().unwrap_or("unknown")
            );
            return Ok(());
        }
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::new(
            "no valid Codex sign-in; run `mcp-auth codex-login` (not started here: standard input is not a terminal)",
        ));
    }
    if !confirm("No valid Codex sign-in. Sign in with ChatGPT now?", false)? {
        println!("Not signed in.");
        return Ok(());
    }
    codex_login_with(&auth, kind, ctx.json).await
}

async fn codex_clear(ctx: &Ctx, yes: bool) -> CliResult {
    let (auth, kind) = codex_auth(false, false).await?;
    let url = codex::server_url(&codex_issuer());
    if !confirm("Remove the Codex sign-in stored by mcp-auth?", yes)? {
        println!("Nothing removed.");
        return Ok(());
    }
    let report = auth.logout(&url, true).await?;
    if ctx.json {
        return print_json(&report);
    }
    if report.deleted_keys.iter().any(|k| k.starts_with("tokens:")) {
        println!("Removed the Codex sign-in from {}.", store_name(kind));
    } else {
        println!("No Codex sign-in was stored by mcp-auth.");
    }
    if let Some(p) = codex_auth_json_path().filter(|p| p.exists()) {
        println!(
            "The Codex CLI's own {} was left untouched (mcp-auth never writes it).",
            p.display()
        );
    }
    Ok(())
}
