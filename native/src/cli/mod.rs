//! The `mcp-auth` commands: argument parsing, dispatch, choosing the store, and the helpers the
//! commands share. Every OAuth decision is core's; this module only wires the native host to
//! it and talks to the user. One file per command; everything printed goes through [`out`].

mod clear;
mod codex;
mod login;
pub mod out;
mod probe;
mod status;
mod status_redis;
mod stores;
mod target;
mod token;

use crate::config::{self, Config};
use clap::{Parser, Subcommand};
use mcp_auth_core::mcp::Protocol;
use mcp_auth_core::{ClientSecret, Error};
use out::{errln, outln};
use serde::Serialize;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use stores::{auth_with, no_login_ui, open_store, persist_override, store_name, wanted_persist};
use target::{auth_options, require_oauth, resolve_target};

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
        /// Visible to other users (`ps`) and kept in shell history: prefer
        /// --client-secret-stdin or the MCP_AUTH_CLIENT_SECRET environment variable.
        #[arg(long = "client-secret", value_name = "SECRET", value_parser = parse_secret)]
        client_secret: Option<ClientSecret>,
        /// Read the client secret from the first line of standard input.
        #[arg(long = "client-secret-stdin", conflicts_with = "client_secret")]
        client_secret_stdin: bool,
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
    /// Open an authenticated MCP session: list tools, optionally call one; prints the
    /// protocol revision spoken.
    Probe {
        /// A configured server name or a URL.
        target: String,
        #[arg(long, value_enum)]
        transport: Option<TransportArg>,
        /// The MCP revision to speak: `auto` (newest first, falling back as the server
        /// answers) or one of 2026-07-28, 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05.
        #[arg(long, default_value = "auto", value_parser = parse_protocol)]
        protocol: Protocol,
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

fn parse_protocol(s: &str) -> Result<Protocol, String> {
    s.parse()
        .map_err(|e: Box<mcp_auth_core::Error>| e.to_string())
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
    /// Nothing to show: standard output was closed by its reader (see [`out`]).
    pub quiet: bool,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: 1,
            quiet: false,
        }
    }

    /// Standard output went away: end without a message.
    pub fn closed_stdout() -> Self {
        CliError {
            message: String::new(),
            code: out::CLOSED_STDOUT_CODE,
            quiet: true,
        }
    }
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError::new(e.to_string())
    }
}

impl From<Box<Error>> for CliError {
    fn from(e: Box<Error>) -> Self {
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
            errln!("mcp-auth: error: cannot start: {e}");
            return 1;
        }
    };
    let code = match rt.block_on(run(cli)) {
        Ok(()) => 0,
        Err(e) => {
            if !e.quiet {
                errln!("mcp-auth: error: {}", e.message);
            }
            e.code
        }
    };
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
        None => status::run(&ctx, None).await,
        Some(Command::Status { target }) => status::run(&ctx, target.as_deref()).await,
        Some(Command::Login {
            target,
            transport,
            scope,
            client_id,
            client_secret,
            client_secret_stdin,
            client_metadata_url,
            no_browser,
        }) => {
            let flags = LoginFlags {
                scope,
                client_id,
                client_secret: login_secret(client_secret, client_secret_stdin)?,
                client_metadata_url,
            };
            login::run(&ctx, &target, transport, &flags, no_browser).await
        }
        Some(Command::Clear {
            server,
            identity,
            all,
            yes,
        }) => clear::run(&ctx, server.as_deref(), identity.as_deref(), all, yes).await,
        Some(Command::Token { target }) => token::run(&ctx, &target).await,
        Some(Command::Probe {
            target,
            transport,
            protocol,
            call,
            args,
            no_browser,
        }) => {
            probe::run(
                &ctx,
                &target,
                transport,
                protocol,
                call.as_deref(),
                args.as_deref(),
                no_browser,
            )
            .await
        }
        Some(Command::CodexLogin { no_browser }) => codex::login(&ctx, no_browser).await,
        Some(Command::Codexplan) => codex::plan(&ctx).await,
        Some(Command::CodexClear { yes }) => codex::clear(&ctx, yes).await,
    }
}

/// The environment variable a client secret can come from (out of sight of `ps`).
pub const CLIENT_SECRET_ENV: &str = "MCP_AUTH_CLIENT_SECRET";

fn parse_secret(value: &str) -> Result<ClientSecret, std::convert::Infallible> {
    Ok(ClientSecret::new(value))
}

/// The client secret given to `login`: standard input, then the flag (with a warning), then
/// the environment; `None` leaves it to the config.
fn login_secret(flag: Option<ClientSecret>, from_stdin: bool) -> CliResult<Option<ClientSecret>> {
    if from_stdin {
        let mut line = String::new();
        let read = std::io::stdin().read_line(&mut line).map_err(|e| {
            CliError::new(format!(
                "cannot read the client secret from standard input: {e}"
            ))
        })?;
        let secret = line.trim_end_matches(['\r', '\n']);
        if read == 0 || secret.is_empty() {
            return Err(CliError::new(
                "--client-secret-stdin: standard input gave no secret; pipe it in as the first line",
            ));
        }
        return Ok(Some(ClientSecret::new(secret)));
    }
    if flag.is_some() {
        errln!(
            "warning: --client-secret is visible to other users of this machine (ps) and stays in shell history; use --client-secret-stdin or {CLIENT_SECRET_ENV} instead"
        );
        return Ok(flag);
    }
    Ok(std::env::var(CLIENT_SECRET_ENV)
        .ok()
        .filter(|s| !s.is_empty())
        .map(ClientSecret::new))
}

struct Ctx {
    config_path: Option<PathBuf>,
    json: bool,
    redirect_port: Option<u16>,
}

impl Ctx {
    fn config(&self) -> CliResult<Config> {
        let cfg = Config::load(self.config_path.as_deref())?;
        crate::limits::use_from_file(cfg.limits.clone());
        for w in &cfg.warnings {
            errln!("warning: {w}");
        }
        Ok(cfg)
    }
}

#[derive(Default)]
struct LoginFlags {
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<ClientSecret>,
    client_metadata_url: Option<String>,
}

// ---- stores ----

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
        _ => format!("{}d", secs.saturating_add(43_200) / 86_400),
    }
}

/// The last second of the year 9999, the last time RFC 3339 can write.
const LAST_RFC3339_SECOND: u64 = 253_402_300_799;

fn describe_expiry(expires_at: Option<u64>, now: u64) -> String {
    match expires_at {
        None => "no expiry given".into(),
        Some(t) => {
            // a record from a skewed clock (or edited) may name any time: past the year 9999
            // neither SystemTime nor RFC 3339 can show it
            let when = match UNIX_EPOCH.checked_add(Duration::from_secs(t)) {
                Some(at) if t <= LAST_RFC3339_SECOND => {
                    humantime::format_rfc3339_seconds(at).to_string()
                }
                _ => "after the year 9999".into(),
            };
            if t <= now {
                format!("expired {} ago ({when})", rough(now - t))
            } else {
                format!("in {} ({when})", rough(t - now))
            }
        }
    }
}

fn print_json<T: Serialize>(v: &T) -> CliResult {
    let text = serde_json::to_string_pretty(v)
        .map_err(|e| CliError::new(format!("cannot encode JSON: {e}")))?;
    outln!("{text}")
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
    out::stderr(format_args!("{question} [y/N] "));
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| CliError::new(format!("cannot read the answer: {e}")))?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
