//! The one way core parses a URL that came from outside (the user, a server, a callback).
//!
//! Native builds parse with the `url` crate (WHATWG URL, Unicode IDNA included). The wasm
//! build links no URL parser of its own: browsers and Node ship the same standard as `URL`,
//! and the shell registers it at start-up (`platform_url/web.rs`; issue 11: `url` and its
//! IDNA code were about 45 KB of the package). Both give core the same [`Url`] API for the
//! little it uses (scheme, host, port, path, query, fragment, origin, join), so the rest of
//! core is written once.

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use url::{Host, ParseError, Url};

// Compiled on every target: its tests run natively, and the wasm shell's host build (a
// check of its rlib) registers a parser there too, which native core never calls.
pub mod web;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub use web::{Host, ParseError, Url};

/// Parses an absolute URL.
pub(crate) fn parse(input: &str) -> Result<Url, ParseError> {
    Url::parse(input)
}

/// Resolves `input` against `base` (a relative reference or an absolute URL).
pub(crate) fn join(base: &Url, input: &str) -> Result<Url, ParseError> {
    base.join(input)
}

/// `pairs` as an `application/x-www-form-urlencoded` query appended to `url`'s own (the
/// query `url`'s `query_pairs_mut` would write).
pub(crate) fn append_query_pairs<'a>(
    url: &mut Url,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    let mut query = form_urlencoded::Serializer::new(url.query().unwrap_or_default().to_string());
    for (k, v) in pairs {
        query.append_pair(k, v);
    }
    url.set_query(Some(&query.finish()));
}
