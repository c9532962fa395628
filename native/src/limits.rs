//! The HTTP bounds a config file may set, in a top-level `mcp-auth:` section (YAML) or
//! `"mcp-auth"` object (JSON):
//!
//! ```yaml
//! mcp-auth:
//!   http_timeout: 10     # seconds (fractions allowed) one HTTP request may take
//!   max_body: 2097152    # bytes a response body may have, for every response
//! ```
//!
//! The environment (`MCP_AUTH_HTTP_TIMEOUT`, `MCP_AUTH_MAX_BODY`) wins over the file. Values are
//! checked while the file is parsed, so a bad one is reported with its file, line and column
//! like any other config error. The bounds apply to the whole process: the CLI hands them
//! over once it has read its config ([`use_from_file`]) and every HTTP client built after
//! that ([`crate::http::HttpClient::new`]) applies them.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The section's name.
pub const SECTION: &str = "mcp-auth";

/// The section as written.
#[derive(Deserialize, Default, Clone, Copy, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    #[serde(default)]
    http_timeout: Option<Seconds>,
    #[serde(default)]
    max_body: Option<Bytes>,
}

/// A positive, finite number of seconds.
#[derive(Deserialize, Clone, Copy, Debug)]
#[serde(try_from = "f64")]
struct Seconds(f64);

impl TryFrom<f64> for Seconds {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if v.is_finite() && v > 0.0 {
            Ok(Seconds(v))
        } else {
            Err(format!(
                "`http_timeout: {v}` is not a positive number of seconds"
            ))
        }
    }
}

/// A positive number of bytes.
#[derive(Deserialize, Clone, Copy, Debug)]
#[serde(try_from = "u64")]
struct Bytes(u64);

impl TryFrom<u64> for Bytes {
    type Error = String;
    fn try_from(v: u64) -> Result<Self, String> {
        if v > 0 {
            Ok(Bytes(v))
        } else {
            Err("`max_body: 0` would refuse every response; give a positive number of bytes".into())
        }
    }
}

/// The bounds one config file set, and which file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileLimits {
    pub http_timeout: Option<f64>,
    pub max_body: Option<usize>,
    pub source: Option<PathBuf>,
}

impl FileLimits {
    pub fn from_raw(raw: Option<RawLimits>, path: &Path) -> FileLimits {
        let Some(raw) = raw else {
            return FileLimits::default();
        };
        FileLimits {
            http_timeout: raw.http_timeout.map(|s| s.0),
            max_body: raw
                .max_body
                .map(|b| usize::try_from(b.0).unwrap_or(usize::MAX)),
            source: Some(path.to_path_buf()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.http_timeout.is_none() && self.max_body.is_none()
    }
}

static FROM_FILE: Mutex<Option<FileLimits>> = Mutex::new(None);

/// Makes `limits` the bounds of every HTTP client built from now on (unless the
/// environment sets its own).
pub fn use_from_file(limits: FileLimits) {
    if let Ok(mut slot) = FROM_FILE.lock() {
        *slot = Some(limits);
    }
}

/// The bounds the config file set, if any.
pub fn from_file() -> FileLimits {
    FROM_FILE
        .lock()
        .ok()
        .and_then(|slot| slot.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Root {
        #[serde(rename = "mcp-auth")]
        limits: Option<RawLimits>,
    }

    fn yaml(text: &str) -> Result<FileLimits, String> {
        serde_norway::from_str::<Root>(text)
            .map(|r| FileLimits::from_raw(r.limits, Path::new("f.yaml")))
            .map_err(|e| {
                let at = e.location().map(|l| (l.line(), l.column()));
                format!("{at:?} {e}")
            })
    }

    #[test]
    fn values_are_read_and_checked_with_their_position() {
        let got = yaml("mcp-auth:\n  http_timeout: 2.5\n  max_body: 4096\n").expect("valid");
        assert_eq!(got.http_timeout, Some(2.5));
        assert_eq!(got.max_body, Some(4096));
        assert_eq!(got.source.as_deref(), Some(Path::new("f.yaml")));
        assert!(yaml("other: 1\n").expect("no section").is_empty());
        let bad = yaml("mcp-auth:\n  max_body: 0\n").expect_err("zero");
        assert!(bad.starts_with("Some((2, "), "{bad}");
        assert!(bad.contains("max_body"), "{bad}");
        let bad = yaml("mcp-auth:\n  http_timeout: -1\n").expect_err("negative");
        assert!(
            bad.starts_with("Some((2, ") && bad.contains("http_timeout"),
            "{bad}"
        );
        let bad = yaml("mcp-auth:\n  max_body: lots\n").expect_err("a word");
        assert!(bad.starts_with("Some((2, "), "{bad}");
        let bad = yaml("mcp-auth:\n  max_bdy: 1\n").expect_err("a typo");
        assert!(bad.contains("max_bdy"), "{bad}");
    }
}
