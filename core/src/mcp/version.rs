//! The protocol revisions this client speaks, and which era each belongs to.

use std::fmt;
use std::str::FromStr;

/// The newest revision, tried first.
pub const LATEST: &str = "2026-07-28";

/// Every revision this client speaks, newest first.
pub const VERSIONS: [&str; 5] = [
    "2026-07-28",
    "2025-11-25",
    "2025-06-18",
    "2025-03-26",
    "2024-11-05",
];

/// [`VERSIONS`] as error messages list them (one string, not a `join` at run time).
pub const VERSIONS_LISTED: &str = "2026-07-28, 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05";

/// How a revision is spoken over HTTP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Era {
    /// 2026-07-28 and later: stateless, request metadata on every request. (Also the
    /// default, which only stands in while a record that fails to read is read.)
    #[default]
    Modern,
    /// 2025-03-26 to 2025-11-25: Streamable HTTP with `initialize` and a session id.
    Legacy,
    /// 2024-11-05: an event stream from GET plus POSTs to the endpoint it names.
    HttpSse,
}

crate::json_enum!(Era {
    Modern = "modern",
    Legacy = "legacy",
    HttpSse = "http_sse",
});

impl Era {
    /// The era of a revision this client speaks; `None` for any other string.
    pub fn of(version: &str) -> Option<Era> {
        match version {
            "2026-07-28" => Some(Era::Modern),
            "2025-11-25" | "2025-06-18" | "2025-03-26" => Some(Era::Legacy),
            "2024-11-05" => Some(Era::HttpSse),
            _ => None,
        }
    }
}

/// Which revision to speak: chosen per the spec (`auto`) or forced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    /// Try the newest revision and fall back as the server's answers say.
    #[default]
    Auto,
    /// Speak exactly this revision (one of [`VERSIONS`]); no fallback.
    Fixed(&'static str),
}

impl Protocol {
    pub fn as_str(&self) -> &'static str {
        match self {
            Protocol::Auto => "auto",
            Protocol::Fixed(v) => v,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Protocol {
    type Err = Box<crate::Error>;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "auto" {
            return Ok(Protocol::Auto);
        }
        VERSIONS
            .iter()
            .find(|v| **v == s)
            .map(|v| Protocol::Fixed(v))
            .ok_or_else(|| {
                crate::Error::Invalid(format!(
                    "unknown protocol `{}`: use auto or one of {}",
                    crate::mcp::headers::printable(s, 40),
                    VERSIONS_LISTED
                ))
                .boxed()
            })
    }
}

/// The newest revision this client speaks among those a server lists.
pub fn newest_mutual(supported: &[&str]) -> Option<&'static str> {
    VERSIONS.iter().copied().find(|v| supported.contains(v))
}

/// `version` when this client speaks it (as the `'static` name).
pub(crate) fn spoken(version: &str) -> Option<&'static str> {
    newest_mutual(&[version])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listed_versions_are_versions() {
        assert_eq!(VERSIONS_LISTED, VERSIONS.join(", "));
    }

    #[test]
    fn eras_and_choices() {
        assert_eq!(Era::of(LATEST), Some(Era::Modern));
        assert_eq!(Era::of("2025-03-26"), Some(Era::Legacy));
        assert_eq!(Era::of("2024-11-05"), Some(Era::HttpSse));
        assert_eq!(Era::of("2099-01-01"), None);
        assert_eq!("auto".parse::<Protocol>().unwrap(), Protocol::Auto);
        assert_eq!(
            "2025-06-18".parse::<Protocol>().unwrap(),
            Protocol::Fixed("2025-06-18")
        );
        let e = "2025-13-01".parse::<Protocol>().unwrap_err();
        assert!(e.to_string().contains("2026-07-28"), "{e}");
        assert_eq!(
            newest_mutual(&["2025-06-18", "2025-11-25", "x"]),
            Some("2025-11-25")
        );
        assert_eq!(newest_mutual(&["1900-01-01"]), None);
    }
}
