//! Which server a command means (a configured name or a URL) and the login options for it.

use super::{out, CliError, CliResult, Ctx, LoginFlags, TransportArg};
use crate::config::{self, Config, ServerConfig, Transport};
use mcp_auth_core::{AuthOptions, DpopMode};

pub(super) struct Target {
    pub(super) url: String,
    pub(super) transport: Transport,
    pub(super) server: Option<ServerConfig>,
}

pub(super) fn resolve_target(
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

pub(super) fn require_oauth(t: &Target) -> CliResult {
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

/// Core's options for a command that may log in; prints a warning for each escape hatch the
/// server's configuration turns on.
/// The private key of a `private_key_jwt` client is read from its file here.
pub(super) fn auth_options(ctx: &Ctx, t: &Target, flags: &LoginFlags) -> CliResult<AuthOptions> {
    let mut opts = build_auth_options(ctx, t, flags);
    for w in opts.escape_hatch_warnings() {
        out::errln!("{w}");
    }
    if let Some(server) = &t.server {
        let flow = server.flow.options().map_err(|e| {
            CliError::new(format!(
                "server `{}` ({}): {e}",
                server.name,
                server.source.display()
            ))
        })?;
        opts.grant = flow.grant;
        opts.client_key = flow.client_key;
        if flow.client_auth.is_some() {
            opts.client_auth_method = flow.client_auth;
        }
    }
    Ok(opts)
}

fn build_auth_options(ctx: &Ctx, t: &Target, flags: &LoginFlags) -> AuthOptions {
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
            .or_else(|| s.and_then(|s| s.client_secret.clone())),
        client_metadata_url: flags
            .client_metadata_url
            .clone()
            .or_else(|| s.and_then(|s| s.client_metadata_url.clone())),
        interactive: true,
        issuer: s.and_then(|s| s.issuer.clone()),
        send_resource: s.is_none_or(|s| s.send_resource),
        assume_pkce_s256: s.is_some_and(|s| s.assume_pkce_s256),
        dpop: s.map_or(DpopMode::Auto, |s| s.dpop),
        ..AuthOptions::default()
    }
}
