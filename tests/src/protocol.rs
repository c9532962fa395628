//! Which MCP era the resource server speaks, and how it frames SSE answers.

use std::fmt;
use std::str::FromStr;

/// The modern (stateless, per-request `_meta`) revision.
pub const MODERN_VERSION: &str = "2026-07-28";
/// Modern revisions the server accepts.
pub const MODERN_VERSIONS: [&str; 1] = [MODERN_VERSION];
/// Legacy (`initialize` + session) revisions the Streamable HTTP endpoint accepts.
pub const LEGACY_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];

/// The MCP era(s) served at the MCP endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// 2026-07-28 only: stateless, header/`_meta` checks, `server/discover`, no sessions.
    Modern,
    /// 2025-11-25 / 2025-06-18 / 2025-03-26 only: `initialize`, `Mcp-Session-Id`, DELETE.
    Legacy,
    /// Both: a request with modern `_meta` is served statelessly, `initialize` opens a
    /// legacy session.
    #[default]
    Dual,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Modern, Protocol::Legacy, Protocol::Dual];

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Modern => "modern",
            Protocol::Legacy => "legacy",
            Protocol::Dual => "dual",
        }
    }

    pub fn serves_modern(self) -> bool {
        self != Protocol::Legacy
    }

    pub fn serves_legacy(self) -> bool {
        self != Protocol::Modern
    }

    /// Every protocol version the MCP endpoint accepts, newest first.
    pub fn supported_versions(self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.serves_modern() {
            v.extend(MODERN_VERSIONS);
        }
        if self.serves_legacy() {
            v.extend(LEGACY_VERSIONS);
        }
        v
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Protocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Protocol::ALL
            .iter()
            .copied()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown protocol `{s}`; expected modern, legacy or dual"))
    }
}

/// Line ends of SSE answers that start with a priming event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LineEnd {
    #[default]
    Lf,
    CrLf,
}

impl LineEnd {
    pub fn name(self) -> &'static str {
        match self {
            LineEnd::Lf => "lf",
            LineEnd::CrLf => "crlf",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LineEnd::Lf => "\n",
            LineEnd::CrLf => "\r\n",
        }
    }
}

impl fmt::Display for LineEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LineEnd {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "lf" => Ok(LineEnd::Lf),
            "crlf" => Ok(LineEnd::CrLf),
            other => Err(format!("unknown line end `{other}`; expected lf or crlf")),
        }
    }
}
