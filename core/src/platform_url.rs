//! The one way core parses a URL that came from outside (the user, a server, a callback).
//!
//! Native builds parse with `url` alone, Unicode IDNA included. The wasm build links `url`
//! with the ASCII-only IDNA backend (`idna_adapter` 1.0.0, ~47 KB gzip smaller): there the
//! shell registers the platform's WHATWG `URL` (browsers and Node ship one, with the same
//! IDNA rules `url` implements) and core hands it the inputs that need IDNA — non-ASCII ones,
//! and ASCII ones with a punycode (`xn--`) label, which only Unicode tables can validate —
//! then parses the platform's ASCII serialisation. Everything else goes to `url` directly.
//!
//! Punycode labels get one more check, because some platforms (Chromium) copy ASCII labels
//! through unvalidated: each `xn--` label is decoded (table-free) and the Unicode host given to
//! the platform, which must encode it back to the same labels — UTS #46's rule that an `xn--`
//! label is only valid when its Unicode form is, with the platform's tables.

use std::sync::OnceLock;
use url::{ParseError, Url};

/// `(input, base)` → the WHATWG serialisation of `new URL(input, base)` (its `href`), or
/// `None` when the platform refuses the URL.
pub type UrlNormaliser = fn(&str, Option<&str>) -> Option<String>;

static NORMALISER: OnceLock<UrlNormaliser> = OnceLock::new();

/// Registers the platform's URL parser for the rest of the process (the wasm shell does it
/// at start-up). Returns false, changing nothing, when one is already registered.
pub fn set_normaliser(normaliser: UrlNormaliser) -> bool {
    NORMALISER.set(normaliser).is_ok()
}

/// Parses an absolute URL.
pub(crate) fn parse(input: &str) -> Result<Url, ParseError> {
    parse_with(NORMALISER.get().copied(), input)
}

/// Resolves `input` against `base` (a relative reference or an absolute URL).
pub(crate) fn join(base: &Url, input: &str) -> Result<Url, ParseError> {
    join_with(NORMALISER.get().copied(), base, input)
}

/// Whether `url`'s own IDNA could differ from full UTS #46 processing on this input.
fn needs_idna(input: &str) -> bool {
    !input.is_ascii()
        || input
            .as_bytes()
            .windows(4)
            .any(|w| w.eq_ignore_ascii_case(b"xn--"))
}

fn parse_with(normaliser: Option<UrlNormaliser>, input: &str) -> Result<Url, ParseError> {
    match normaliser {
        Some(normalise) if needs_idna(input) => match normalise(input, None) {
            Some(href) => checked(normalise, Url::parse(&href)),
            None => Err(refused(Url::parse(input))),
        },
        _ => Url::parse(input),
    }
}

fn join_with(
    normaliser: Option<UrlNormaliser>,
    base: &Url,
    input: &str,
) -> Result<Url, ParseError> {
    match normaliser {
        Some(normalise) if needs_idna(input) => match normalise(input, Some(base.as_str())) {
            Some(href) => checked(normalise, Url::parse(&href)),
            None => Err(refused(base.join(input))),
        },
        _ => base.join(input),
    }
}

/// The platform's answer, refused when a punycode label in its host does not survive the
/// round trip through Unicode (see the module docs).
fn checked(normalise: UrlNormaliser, url: Result<Url, ParseError>) -> Result<Url, ParseError> {
    let url = url?;
    let Some(host) = url.domain() else {
        return Ok(url);
    };
    let is_punycode = |l: &str| l.len() >= 4 && l[..4].eq_ignore_ascii_case("xn--");
    if !host.split('.').any(is_punycode) {
        return Ok(url);
    }
    let mut unicode = Vec::new();
    for label in host.split('.') {
        if is_punycode(label) {
            unicode
                .push(idna::punycode::decode_to_string(&label[4..]).ok_or(ParseError::IdnaError)?);
        } else {
            unicode.push(label.to_string());
        }
    }
    let again = normalise(&format!("http://{}/", unicode.join(".")), None)
        .and_then(|href| Url::parse(&href).ok());
    match again {
        Some(u) if u.domain() == Some(host) => Ok(url),
        _ => Err(ParseError::IdnaError),
    }
}

/// The platform refused the URL: `url`'s own reason when it has one (a syntax error reads as
/// natively), else the IDNA error native builds report for such a host.
fn refused(own: Result<Url, ParseError>) -> ParseError {
    own.err().unwrap_or(ParseError::IdnaError)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stands in for a platform: knows one IDNA name, refuses everything else non-ASCII, and
    /// (like Chromium) copies ASCII URLs through unvalidated.
    fn platform(input: &str, base: Option<&str>) -> Option<String> {
        let _ = base;
        if input.is_ascii() {
            return Url::parse(input).ok().map(String::from);
        }
        input
            .contains("bücher.example")
            .then(|| input.replace("bücher.example", "xn--bcher-kva.example"))
    }

    #[test]
    fn ascii_input_without_punycode_never_reaches_the_platform() {
        for s in [
            "https://example.com/mcp",
            "http://127.0.0.1:8/x?q=1",
            "not a url",
        ] {
            assert!(!needs_idna(s), "{s}");
            assert_eq!(parse_with(Some(platform), s), Url::parse(s), "{s}");
        }
    }

    #[test]
    fn unicode_and_punycode_inputs_go_to_the_platform() {
        assert!(needs_idna("https://bücher.example/"));
        assert!(needs_idna("https://XN--bcher-kva.example/"));
        let u = parse_with(Some(platform), "https://bücher.example/mcp").unwrap();
        assert_eq!(u.as_str(), "https://xn--bcher-kva.example/mcp");
        // refused by the platform: an invalid-URL error even where `url` alone would accept
        assert_eq!(
            parse_with(Some(platform), "https://xn--a.example/"),
            Err(ParseError::IdnaError)
        );
        // and `url`'s own reason when it has one, as natively
        assert_eq!(
            parse_with(Some(platform), "/bücher/mcp"),
            Err(ParseError::RelativeUrlWithoutBase)
        );
    }

    #[test]
    fn punycode_labels_must_survive_the_round_trip_through_the_platform() {
        let ok = parse_with(Some(platform), "https://XN--bcher-kva.example/mcp").unwrap();
        assert_eq!(ok.as_str(), "https://xn--bcher-kva.example/mcp");
        // well-formed punycode of U+0080 (the fake platform, like IDNA, refuses it in Unicode)
        assert_eq!(
            parse_with(Some(platform), "https://xn--a.example/"),
            Err(ParseError::IdnaError)
        );
        // punycode of "ü": valid IDNA, but this fake platform refuses it in Unicode
        assert_eq!(
            parse_with(Some(platform), "https://a.xn--tda.example/"),
            Err(ParseError::IdnaError)
        );
    }

    #[test]
    fn joins_that_need_idna_go_through_the_platform() {
        let base = Url::parse("https://example.com/sse").unwrap();
        let ascii = join_with(Some(platform), &base, "/messages?x=1").unwrap();
        assert_eq!(ascii.as_str(), "https://example.com/messages?x=1");
        let idna = join_with(Some(platform), &base, "https://bücher.example/m").unwrap();
        assert_eq!(idna.as_str(), "https://xn--bcher-kva.example/m");
        // the platform refuses this one (it only knows bücher.example): an error
        assert_eq!(
            join_with(Some(platform), &base, "/ü"),
            Err(ParseError::IdnaError)
        );
    }

    #[test]
    fn without_a_platform_url_does_everything() {
        let u = parse_with(None, "https://bücher.example/mcp").unwrap();
        assert_eq!(u.host_str(), Some("xn--bcher-kva.example"));
    }
}
