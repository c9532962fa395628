//! Configuration: fast-agent's `fastagent.config.yaml` (plus the `*.secrets.yaml` beside it,
//! deep-merged, with `${VAR}` / `${VAR:default}` substituted) and the `mcpServers` JSON of
//! `.mcp.json` / `mcp.json`. Errors name the file, the line and what is wrong.

use crate::limits::{FileLimits, RawLimits};
use crate::redis_store::RedisUrl;
use crate::store::Persist;
use mcp_auth_core::{ClientSecret, DpopMode};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub const YAML_NAMES: [&str; 3] = [
    "fastagent.config.yaml",
    "fast-agent.yaml",
    "fast-agent.config.yaml",
];
pub const JSON_NAMES: [&str; 2] = [".mcp.json", "mcp.json"];

pub const DEFAULT_REDIRECT_PORT: u16 = 3030;
pub const DEFAULT_REDIRECT_PATH: &str = "/callback";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Stdio,
    Sse,
    #[serde(
        alias = "streamable-http",
        alias = "streamable_http",
        alias = "streamableHttp"
    )]
    Http,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Stdio => "stdio",
            Transport::Sse => "sse",
            Transport::Http => "http",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A configuration problem, already in words (file, line, what is wrong).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

#[derive(Deserialize, Default)]
struct RawRoot {
    #[serde(default)]
    mcp: Option<RawMcp>,
    /// The HTTP bounds (see `limits`).
    #[serde(rename = "mcp-auth", default)]
    limits: Option<RawLimits>,
}

#[derive(Deserialize, Default)]
struct RawMcp {
    #[serde(default)]
    servers: Option<BTreeMap<String, RawServer>>,
}

#[derive(Deserialize, Default, Clone)]
struct RawServer {
    #[serde(default)]
    transport: Option<Transport>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    auth: Option<RawAuth>,
}

#[derive(Deserialize, Default, Clone)]
struct RawAuth {
    #[serde(default)]
    oauth: Option<bool>,
    #[serde(default)]
    redirect_port: Option<u16>,
    #[serde(default)]
    redirect_path: Option<String>,
    #[serde(default)]
    persist: Option<Persist>,
    /// `persist: redis`: where the shared store is (may hold a password).
    #[serde(default)]
    redis_url: Option<RedisUrl>,
    /// `persist: redis`: what every key starts with (default `mcp-auth:`).
    #[serde(default)]
    redis_prefix: Option<String>,
    #[serde(default)]
    scope: Option<ScopeValue>,
    #[serde(default)]
    client_metadata_url: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    /// The issuer a pre-registered client belongs to.
    #[serde(default)]
    issuer: Option<String>,
    /// Escape hatch: `false` stops sending the RFC 8707 `resource` parameter.
    #[serde(default)]
    send_resource: Option<bool>,
    /// Escape hatch: `true` takes PKCE S256 as supported when the metadata does not say.
    #[serde(default)]
    assume_pkce_s256: Option<bool>,
    /// The grants without a browser (see `flow_config`).
    #[serde(flatten)]
    flow: crate::flow_config::RawFlow,
    /// DPoP-bound tokens: `auto` (default), `required` or `off`.
    #[serde(default)]
    dpop: Option<String>,
    /// Keys mcp-auth does not know (other tools' settings, or typos): warned about.
    #[serde(flatten)]
    other: BTreeMap<String, serde_norway::Value>,
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum ScopeValue {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct RawJsonRoot {
    #[serde(rename = "mcpServers", default)]
    mcp_servers: BTreeMap<String, RawJsonServer>,
    #[serde(rename = "mcp-auth", default)]
    limits: Option<RawLimits>,
}

#[derive(Deserialize)]
struct RawJsonServer {
    #[serde(rename = "type", alias = "transport", default)]
    kind: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    auth: Option<RawAuth>,
}

/// One configured MCP server, with every default applied.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub name: String,
    pub transport: Transport,
    pub url: Option<String>,
    /// Authenticated by a configured `Authorization` header instead of OAuth.
    pub header_auth: bool,
    pub oauth: bool,
    pub redirect_port: u16,
    pub redirect_path: String,
    pub persist: Option<Persist>,
    /// `auth.redis_url` (Debug shows it without the password).
    pub redis_url: Option<RedisUrl>,
    /// `auth.redis_prefix`.
    pub redis_prefix: Option<String>,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<ClientSecret>,
    pub client_metadata_url: Option<String>,
    /// The issuer a pre-registered client belongs to (`auth.issuer`).
    pub issuer: Option<String>,
    /// `auth.send_resource` (default true).
    pub send_resource: bool,
    /// `auth.assume_pkce_s256` (default false).
    pub assume_pkce_s256: bool,
    /// How tokens are obtained (`auth.grant` and what it needs).
    pub flow: crate::flow_config::FlowConfig,
    /// `auth.dpop` (default auto).
    pub dpop: DpopMode,
    /// The file that defined it.
    pub source: PathBuf,
}

impl ServerConfig {
    pub fn redirect_uri(&self) -> String {
        redirect_uri(self.redirect_port, &self.redirect_path)
    }
}

pub fn redirect_uri(port: u16, path: &str) -> String {
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    format!("http://localhost:{port}{path}")
}

/// Everything configured, and where it came from.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub files: Vec<PathBuf>,
    /// Things that are not errors but look wrong (unknown `auth` keys).
    pub warnings: Vec<String>,
    pub servers: BTreeMap<String, ServerConfig>,
    /// The `mcp-auth:` section's HTTP bounds (the YAML file's, else the JSON file's).
    pub limits: FileLimits,
}

impl Config {
    /// Loads from `-c PATH` (a file or a folder), else the nearest folder, from the current
    /// one upwards, that holds a known config file. No config at all is not an error.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        match explicit {
            Some(p) if p.is_dir() => load_dir(p),
            Some(p) if p.is_file() => load_file(p),
            Some(p) => Err(ConfigError(format!(
                "config file {} does not exist",
                p.display()
            ))),
            None => {
                let cwd = std::env::current_dir()
                    .map_err(|e| ConfigError(format!("cannot read the current folder: {e}")))?;
                for dir in cwd.ancestors() {
                    if YAML_NAMES
                        .iter()
                        .chain(JSON_NAMES.iter())
                        .any(|n| dir.join(n).is_file())
                    {
                        return load_dir(dir);
                    }
                }
                Ok(Config::default())
            }
        }
    }

    pub fn server(&self, name: &str) -> Option<&ServerConfig> {
        self.servers.get(name)
    }

    pub fn describe_files(&self) -> String {
        if self.files.is_empty() {
            "no config file found (looked for fastagent.config.yaml, fast-agent.yaml, fast-agent.config.yaml, .mcp.json, mcp.json from the current folder upwards)".into()
        } else {
            self.files
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}

fn load_dir(dir: &Path) -> Result<Config, ConfigError> {
    let mut config = Config::default();
    if let Some(yaml) = YAML_NAMES.iter().map(|n| dir.join(n)).find(|p| p.is_file()) {
        config = load_yaml(&yaml)?;
    }
    for json in JSON_NAMES
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.is_file())
    {
        let extra = load_json(&json)?;
        config.files.extend(extra.files);
        config.warnings.extend(extra.warnings);
        if config.limits.is_empty() {
            config.limits = extra.limits;
        }
        for (name, server) in extra.servers {
            config.servers.entry(name).or_insert(server);
        }
    }
    Ok(config)
}

fn load_file(path: &Path) -> Result<Config, ConfigError> {
    if path.extension().is_some_and(|e| e == "json") {
        load_json(path)
    } else {
        load_yaml(path)
    }
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))
}

/// The secrets file beside a config file.
fn secrets_path(config: &Path) -> Option<PathBuf> {
    let dir = config.parent()?;
    let name = config.file_name()?.to_string_lossy().into_owned();
    let mut candidates = Vec::new();
    if let Some(stem) = name.strip_suffix(".config.yaml") {
        candidates.push(format!("{stem}.secrets.yaml"));
    }
    if let Some(stem) = name.strip_suffix(".yaml") {
        candidates.push(format!("{stem}.secrets.yaml"));
    }
    candidates.push("fastagent.secrets.yaml".into());
    candidates.push("fast-agent.secrets.yaml".into());
    candidates
        .into_iter()
        .map(|c| dir.join(c))
        .find(|p| p.is_file())
}

fn yaml_error(path: &Path, e: serde_norway::Error) -> ConfigError {
    let mut msg = format!("invalid config {}", path.display());
    if let Some(loc) = e.location() {
        msg.push_str(&format!(" line {} column {}", loc.line(), loc.column()));
    }
    // serde_norway repeats the location at the end; keep the message itself
    let text = e.to_string();
    let text = match text.rfind(" at line ") {
        Some(i) if e.location().is_some() => text[..i].to_string(),
        _ => text,
    };
    msg.push_str(": ");
    msg.push_str(&text);
    ConfigError(msg)
}

/// Parses one YAML file after substitution, checking its shape (so errors carry a line).
fn parse_yaml(path: &Path) -> Result<serde_norway::Value, ConfigError> {
    let text = substitute_env(path, &read(path)?)?;
    serde_norway::from_str::<RawRoot>(&text).map_err(|e| yaml_error(path, e))?;
    let value: serde_norway::Value =
        serde_norway::from_str(&text).map_err(|e| yaml_error(path, e))?;
    Ok(match value {
        serde_norway::Value::Null => serde_norway::Value::Mapping(Default::default()),
        v => v,
    })
}

fn load_yaml(path: &Path) -> Result<Config, ConfigError> {
    let mut files = vec![path.to_path_buf()];
    let mut value = parse_yaml(path)?;
    if let Some(secrets) = secrets_path(path) {
        let s = parse_yaml(&secrets)?;
        deep_merge(&mut value, s);
        files.push(secrets);
    }
    let root: RawRoot = serde_norway::from_value(value).map_err(|e| {
        ConfigError(format!(
            "invalid config {} (merged with its secrets file): {e}",
            path.display()
        ))
    })?;
    let mut servers = BTreeMap::new();
    let mut warnings = Vec::new();
    for (name, raw) in root.mcp.and_then(|m| m.servers).unwrap_or_default() {
        unknown_auth_keys(&mut warnings, path, &name, raw.auth.as_ref());
        let server = resolve(&name, raw, path)?;
        servers.insert(name, server);
    }
    Ok(Config {
        files,
        warnings,
        servers,
        limits: FileLimits::from_raw(root.limits, path),
    })
}

fn unknown_auth_keys(warnings: &mut Vec<String>, path: &Path, name: &str, auth: Option<&RawAuth>) {
    for key in auth.iter().flat_map(|a| a.other.keys()) {
        warnings.push(format!(
            "{}: server `{name}`: unknown key `auth.{key}` ignored (known: oauth, redirect_port, redirect_path, persist, redis_url, redis_prefix, scope, client_metadata_url, client_id, client_secret, issuer, send_resource, assume_pkce_s256, dpop, {})",
            path.display(),
            crate::flow_config::KEYS
        ));
    }
}

fn load_json(path: &Path) -> Result<Config, ConfigError> {
    let text = substitute_env(path, &read(path)?)?;
    let root: RawJsonRoot = serde_json::from_str(&text).map_err(|e| {
        ConfigError(format!(
            "invalid config {} line {} column {}: {e}",
            path.display(),
            e.line(),
            e.column()
        ))
    })?;
    // serde reads a struct from a JSON array too: `[]` would pass as an empty config
    if !serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|v| v.is_object()) {
        return Err(ConfigError(format!(
            "invalid config {}: not a JSON object (expected {{\"mcpServers\": {{...}}}})",
            path.display()
        )));
    }
    let mut servers = BTreeMap::new();
    let mut warnings = Vec::new();
    for (name, s) in root.mcp_servers {
        unknown_auth_keys(&mut warnings, path, &name, s.auth.as_ref());
        let transport = match s.kind.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("stdio") => Some(Transport::Stdio),
            Some("sse") => Some(Transport::Sse),
            Some("http" | "streamable-http" | "streamable_http" | "streamablehttp") => {
                Some(Transport::Http)
            }
            Some(other) => {
                return Err(ConfigError(format!(
                    "invalid config {}: server `{name}` has type `{other}`; use stdio, sse or http",
                    path.display()
                )))
            }
            None => None,
        };
        let raw = RawServer {
            transport,
            url: s.url,
            headers: s.headers,
            command: s.command,
            auth: s.auth,
        };
        servers.insert(name.clone(), resolve(&name, raw, path)?);
    }
    Ok(Config {
        files: vec![path.to_path_buf()],
        warnings,
        servers,
        limits: FileLimits::from_raw(root.limits, path),
    })
}

fn resolve(name: &str, raw: RawServer, path: &Path) -> Result<ServerConfig, ConfigError> {
    let transport = match (raw.transport, &raw.url, &raw.command) {
        (Some(t), _, _) => t,
        (None, Some(_), _) => Transport::Http,
        (None, None, Some(_)) => Transport::Stdio,
        (None, None, None) => {
            return Err(ConfigError(format!(
                "invalid config {}: server `{name}` has neither a url nor a command",
                path.display()
            )))
        }
    };
    if transport != Transport::Stdio {
        match &raw.url {
            None => {
                return Err(ConfigError(format!(
                    "invalid config {}: server `{name}` uses transport {transport} but has no url",
                    path.display()
                )))
            }
            Some(u) => {
                url::Url::parse(u).map_err(|e| {
                    ConfigError(format!(
                        "invalid config {}: server `{name}` has an invalid url `{u}`: {e}",
                        path.display()
                    ))
                })?;
            }
        }
    }
    let header_auth = raw
        .headers
        .as_ref()
        .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case("authorization")));
    let auth = raw.auth.unwrap_or_default();
    let oauth = transport != Transport::Stdio && auth.oauth.unwrap_or(!header_auth);
    let scope = match auth.scope {
        Some(ScopeValue::One(s)) => Some(s),
        Some(ScopeValue::Many(v)) => Some(v.join(" ")),
        None => None,
    }
    .filter(|s| !s.trim().is_empty());
    let flow = auth.flow.check(path).map_err(|e| {
        ConfigError(format!(
            "invalid config {}: server `{name}`: {e}",
            path.display()
        ))
    })?;
    let dpop = match auth.dpop.as_deref() {
        None => DpopMode::Auto,
        Some(v) => DpopMode::parse(v).ok_or_else(|| {
            ConfigError(format!(
                "invalid config {}: server `{name}`: `auth.dpop: {v}` is not one of auto, required, off",
                path.display()
            ))
        })?,
    };
    Ok(ServerConfig {
        name: name.to_string(),
        transport,
        url: raw.url,
        header_auth,
        oauth,
        redirect_port: auth.redirect_port.unwrap_or(DEFAULT_REDIRECT_PORT),
        redirect_path: auth
            .redirect_path
            .unwrap_or_else(|| DEFAULT_REDIRECT_PATH.into()),
        persist: auth.persist,
        redis_url: auth.redis_url,
        redis_prefix: auth.redis_prefix,
        scope,
        client_id: auth.client_id,
        client_secret: auth.client_secret.map(ClientSecret::new),
        client_metadata_url: auth.client_metadata_url,
        issuer: auth.issuer.filter(|s| !s.trim().is_empty()),
        send_resource: auth.send_resource.unwrap_or(true),
        assume_pkce_s256: auth.assume_pkce_s256.unwrap_or(false),
        flow,
        dpop,
        source: path.to_path_buf(),
    })
}

/// Merges `over` into `base`: mappings key by key, anything else replaced.
fn deep_merge(base: &mut serde_norway::Value, over: serde_norway::Value) {
    match (base, over) {
        (serde_norway::Value::Mapping(b), serde_norway::Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => deep_merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Replaces `${VAR}` and `${VAR:default}` with the environment's value (or the default).
/// An unset variable without a default is an error naming the variable and its line
/// (full-line `#` comments are left alone).
pub fn substitute_env(path: &Path, text: &str) -> Result<String, ConfigError> {
    substitute_with(text, |name| std::env::var(name).ok()).map_err(|(name, line)| {
        ConfigError(format!(
            "invalid config {} line {line}: environment variable `{name}` is not set; set it, or write `${{{name}:default}}` to give a default",
            path.display()
        ))
    })
}

/// Substitutes line by line; on an unset variable without a default, returns its name and
/// the (1-based) line.
pub fn substitute_with(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, (String, usize)> {
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if line.trim_start().starts_with('#') {
            out.push_str(line);
            continue;
        }
        substitute_line(line, &lookup, &mut out).map_err(|name| (name, index + 1))?;
    }
    Ok(out)
}

fn substitute_line(
    line: &str,
    lookup: &impl Fn(&str) -> Option<String>,
    out: &mut String,
) -> Result<(), String> {
    let mut rest = line;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(());
        };
        let inner = &after[..end];
        let (name, default) = match inner.split_once(':') {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        match (valid, lookup(name), default) {
            (true, Some(v), _) => out.push_str(&v),
            (true, None, Some(d)) => out.push_str(d),
            (true, None, None) => return Err(name.to_string()),
            _ => out.push_str(&rest[start..start + 2 + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_uses_env_then_default_then_names_the_unset() {
        let look = |n: &str| (n == "SET").then(|| "value".to_string());
        let sub = |t: &str| substitute_with(t, look);
        assert_eq!(sub("a ${SET} b"), Ok("a value b".into()));
        assert_eq!(sub("${UNSET:dflt}"), Ok("dflt".into()));
        assert_eq!(sub("${SET:dflt}"), Ok("value".into()));
        assert_eq!(sub("a: 1\nb: ${UNSET}\n"), Err(("UNSET".into(), 2)));
        assert_eq!(
            sub("# ${UNSET} in a comment\n"),
            Ok("# ${UNSET} in a comment\n".into())
        );
        assert_eq!(sub("x ${UNCLOSED"), Ok("x ${UNCLOSED".into()));
        assert_eq!(sub("${not valid}"), Ok("${not valid}".into()));
        assert_eq!(sub("${UNSET:http://h:1/x}"), Ok("http://h:1/x".into()));
    }

    #[test]
    fn deep_merge_keeps_siblings() {
        let mut a: serde_norway::Value =
            serde_norway::from_str("mcp: {servers: {x: {url: 'http://a/mcp'}}}").expect("a");
        let b: serde_norway::Value =
            serde_norway::from_str("mcp: {servers: {x: {auth: {client_secret: s}}}}").expect("b");
        deep_merge(&mut a, b);
        assert_eq!(
            a["mcp"]["servers"]["x"]["url"].as_str(),
            Some("http://a/mcp")
        );
        assert_eq!(
            a["mcp"]["servers"]["x"]["auth"]["client_secret"].as_str(),
            Some("s")
        );
    }
}
