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
pub(crate) fn append_query_pairs(url: &mut Url, pairs: &[(&str, &str)]) {
    let mut query = url.query().unwrap_or_default().to_string();
    if !query.is_empty() && !pairs.is_empty() {
        query.push('&');
    }
    query.push_str(&form_serialize(pairs));
    url.set_query(Some(&query));
}

/// `pairs` in `application/x-www-form-urlencoded` syntax (the URL Standard's serializer: `+`
/// for a space, `%XX` for every byte but ASCII letters, digits and `*-._`). Natively by
/// `form_urlencoded`; the wasm build by the platform's `URLSearchParams`, which implements
/// the same standard (registered by the shell with the URL parser, `web::set_platform`).
pub(crate) fn form_serialize(pairs: &[(&str, &str)]) -> String {
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            out.append_pair(k, v);
        }
        out.finish()
    }
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    {
        web::form_serialize(pairs)
    }
}

/// The name/value pairs of `url`'s query, `application/x-www-form-urlencoded` decoded, as
/// [`form_serialize`] is done: `form_urlencoded` natively, `URLSearchParams` in the wasm build.
pub(crate) fn query_pairs(url: &Url) -> Vec<(String, String)> {
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    {
        form_parse(url.query().unwrap_or_default())
    }
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    {
        web::form_parse(url.query().unwrap_or_default())
    }
}

/// A query's `application/x-www-form-urlencoded` pairs, decoded by `form_urlencoded` (the
/// native build's codec; `web`'s tests register it as the platform's too).
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub(crate) fn form_parse(query: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        out.push((k.into_owned(), v.into_owned()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // The same cases and answers are asked of the wasm build, whose form codec is the
    // platform's `URLSearchParams` (wasm/tests/flow.test.mjs)
    #[test]
    fn the_form_codec_is_the_url_standards() {
        assert_eq!(
            form_serialize(&[("x y", "ä&=+/?#%*~!'()-._ 😀"), ("", "")]),
            "x+y=%C3%A4%26%3D%2B%2F%3F%23%25*%7E%21%27%28%29-._+%F0%9F%98%80&="
        );
        assert_eq!(form_serialize(&[]), "");
        let url = parse("https://h.example/p??a+b=c%20d+e&&=x&%zz=%e4&q=%F0%9F%98%80&k&a=1=2#f")
            .expect("a URL");
        let pairs = query_pairs(&url);
        let want = [
            ("?a b", "c d e"),
            ("", "x"),
            ("%zz", "\u{fffd}"),
            ("q", "😀"),
            ("k", ""),
            ("a", "1=2"),
        ];
        assert_eq!(pairs.len(), want.len(), "{pairs:?}");
        for ((k, v), (wk, wv)) in pairs.iter().zip(want) {
            assert_eq!((k.as_str(), v.as_str()), (wk, wv));
        }
        // appended to a query that has pairs already, with one `&` between
        let mut url = parse("https://h.example/a?x=1").expect("a URL");
        append_query_pairs(&mut url, &[("y", "2 3")]);
        assert_eq!(url.as_str(), "https://h.example/a?x=1&y=2+3");
        let mut url = parse("https://h.example/a").expect("a URL");
        append_query_pairs(&mut url, &[("y", "2")]);
        assert_eq!(url.as_str(), "https://h.example/a?y=2");
    }
}
