//! Reading an assertion where the configuration says it is — a file (a Kubernetes projected
//! service account token, a CI job's OIDC token), an environment variable, or a command's
//! output — afresh on every use, since platforms rotate these tokens. Errors say what went
//! wrong without the assertion.

use mcp_auth_core::{Assertion, AssertionSource};
use std::io::Read;
use std::time::Duration;

/// The most an assertion may be (JWTs are a few KiB).
pub const MAX_ASSERTION: usize = 64 * 1024;
/// How long an assertion command may run.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn read(source: &AssertionSource) -> Result<Assertion, String> {
    let text = match source {
        AssertionSource::Value(v) => return Ok(v.clone()),
        AssertionSource::File(path) => read_file(path)?,
        AssertionSource::Env(name) => match std::env::var(name) {
            Ok(v) => v,
            Err(std::env::VarError::NotPresent) => return Err("it is not set".into()),
            Err(std::env::VarError::NotUnicode(_)) => return Err("it is not valid UTF-8".into()),
        },
        AssertionSource::Command(command) => run(command).await?,
    };
    let text = text.trim();
    if text.len() > MAX_ASSERTION {
        return Err(format!(
            "it is larger than {} KiB, which is no token",
            MAX_ASSERTION / 1024
        ));
    }
    Ok(Assertion::new(text))
}

fn read_file(path: &str) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut text = String::new();
    file.take(MAX_ASSERTION as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    Ok(text)
}

async fn run(command: &str) -> Result<String, String> {
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("it could not be started ({e})"))?;
    let output = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| format!("it ran longer than {} s", COMMAND_TIMEOUT.as_secs()))?
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(format!(
            "it failed ({}){}",
            output.status,
            if first.is_empty() {
                String::new()
            } else {
                format!(": {}", mcp_auth_core::text::printable(first, 200))
            }
        ));
    }
    String::from_utf8(output.stdout).map_err(|_| "its output is not UTF-8".to_string())
}
