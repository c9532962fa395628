//! `mcp-auth-testkit`: run the test servers, or act as a scriptable browser.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mcp_auth_testkit::{LineEnd, Options, Protocol, Scenario, TestServer};

#[derive(Parser)]
#[command(
    name = "mcp-auth-testkit",
    version,
    about = "Test OAuth 2.1 authorization server + MCP resource server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve until killed; prints one JSON line with the URLs first.
    Serve {
        /// Port of the resource server (0 = any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Scenario name (see `mcp-auth-testkit scenarios`).
        #[arg(long, default_value = "default")]
        scenario: Scenario,
        /// Access token lifetime in seconds (overrides the scenario).
        #[arg(long = "token-lifetime")]
        token_lifetime: Option<u64>,
        /// Serve this folder under /demo/.
        #[arg(long = "static-dir")]
        static_dir: Option<PathBuf>,
        /// MCP era(s) of the MCP endpoint: modern (2026-07-28), legacy (initialize + session)
        /// or dual.
        #[arg(long, default_value = "dual")]
        protocol: Protocol,
        /// Answer with SSE streams that start with a priming event (`lf`, or `crlf` line ends).
        #[arg(long = "priming-event", num_args = 0..=1, default_missing_value = "lf")]
        priming_event: Option<LineEnd>,
    },
    /// Act as the user's browser: approve URL, then deliver the redirect to the client.
    Browse {
        /// The authorization URL.
        url: String,
    },
    /// List the scenario names.
    Scenarios,
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn serve(opts: Options) -> Result<(), String> {
    let rt = runtime().map_err(|e| format!("cannot start a runtime: {e}"))?;
    let scenario = opts.scenario;
    let protocol = opts.protocol;
    let priming = opts.priming_event;
    let port = opts.port;
    let server = TestServer::start_with(opts)
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let line = serde_json::json!({
        "base_url": server.base_url(),
        "mcp_url": server.mcp_url(),
        "sse_url": server.sse_url(),
        "issuer": server.issuer(),
        "as_origin": server.as_origin(),
        "scenario": scenario.name(),
        "protocol": protocol.name(),
        "priming_event": priming.map(LineEnd::name),
        "second_origin": server.second_origin(),
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))?;
    drop(out);
    rt.block_on(wait_for_signal());
    drop(server);
    Ok(())
}

fn browse(url: &str) -> Result<(), String> {
    let rt = runtime().map_err(|e| format!("cannot start a runtime: {e}"))?;
    let (redirect, status) = rt.block_on(mcp_auth_testkit::browse_and_deliver(url))?;
    println!("{status} {redirect}");
    if (200..400).contains(&status) {
        Ok(())
    } else {
        Err(format!("the callback answered {status}"))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            port,
            scenario,
            token_lifetime,
            static_dir,
            protocol,
            priming_event,
        } => serve(Options {
            scenario,
            port,
            token_lifetime_secs: token_lifetime,
            static_dir,
            protocol,
            priming_event,
        }),
        Command::Browse { url } => browse(&url),
        Command::Scenarios => {
            for s in Scenario::ALL {
                println!("{s}");
            }
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-auth-testkit: {e}");
            ExitCode::FAILURE
        }
    }
}
