//! The wasm build's [`Url`]: the platform's WHATWG `URL` parses, core keeps what it answered.
//!
//! Browsers, workers and Node ≥ 18 implement the URL Standard, as the `url` crate does for
//! native builds; the shell registers a [`UrlParser`] that runs `new URL(input, base)` and
//! returns its getters ([`Parts`]). Nothing here parses a URL: the parts are read off the
//! platform's answer, and the query and fragment are found in its serialisation, where `?`
//! and `#` only ever stand as delimiters (every component before them percent-encodes both).
//!
//! One check is added: some platforms (Chromium) copy an ASCII host's punycode (`xn--`) labels
//! through unvalidated, while UTS #46 only accepts such a label when its Unicode form is
//! valid. Each `xn--` label is decoded (table-free) and the Unicode host given to the
//! platform, which must encode it back to the same host.
//!
//! Natively, core's `Url` is `url::Url`; this module is compiled there for its tests, which
//! use the `url` crate as the platform.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

/// What the platform's `URL` made of an input: its getters, unchanged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parts {
    pub href: String,
    /// With its `:` (`"https:"`).
    pub protocol: String,
    /// `[…]` around an IPv6 address.
    pub hostname: String,
    /// Empty for the scheme's default port or none.
    pub port: String,
    pub pathname: String,
    /// `"null"` for an opaque origin.
    pub origin: String,
}

/// `(input, base)` → the getters of `new URL(input, base)`, or `None` when the platform
/// refuses the URL.
pub type UrlParser = fn(&str, Option<&str>) -> Option<Parts>;

/// The platform's `application/x-www-form-urlencoded` serializer and parser (the URL
/// Standard's, as `URLSearchParams` has them): `pairs` → text, and a query → its pairs.
#[derive(Clone, Copy)]
pub struct FormCodec {
    pub serialize: fn(&[(&str, &str)]) -> String,
    pub parse: fn(&str) -> Vec<(String, String)>,
}

/// The platform's URL parser and form codec, registered together (one `OnceLock`).
static PLATFORM: OnceLock<(UrlParser, FormCodec)> = OnceLock::new();

/// Registers the platform's URL parser and form codec for the rest of the process (the wasm
/// shell does it at start-up). Returns false, changing nothing, when they are registered.
pub fn set_platform(parser: UrlParser, codec: FormCodec) -> bool {
    PLATFORM.set((parser, codec)).is_ok()
}

fn parser() -> Option<UrlParser> {
    PLATFORM.get().map(|p| p.0)
}

/// [`FormCodec::serialize`]; empty before a codec is registered (no URL parses then either,
/// so no request or authorization URL is made). Only the wasm build calls it.
#[cfg_attr(
    not(all(target_arch = "wasm32", target_os = "unknown")),
    allow(dead_code)
)]
pub(crate) fn form_serialize(pairs: &[(&str, &str)]) -> String {
    PLATFORM
        .get()
        .map_or_else(String::new, |p| (p.1.serialize)(pairs))
}

/// [`FormCodec::parse`]; no pairs before a codec is registered. Only the wasm build calls it.
#[cfg_attr(
    not(all(target_arch = "wasm32", target_os = "unknown")),
    allow(dead_code)
)]
pub(crate) fn form_parse(query: &str) -> Vec<(String, String)> {
    PLATFORM.get().map_or_else(Vec::new, |p| (p.1.parse)(query))
}

/// Why a URL was refused. The platform says only that it refused one, so the reason is
/// `url`'s for the two cases that can be told from outside, and a general one otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// No scheme: a relative reference where an absolute URL was needed.
    RelativeUrlWithoutBase,
    /// A host IDNA refuses.
    IdnaError,
    /// Anything else the URL Standard refuses (a bad port, host or IP address).
    Invalid,
    /// No parser was registered.
    NoParser,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseError::RelativeUrlWithoutBase => "relative URL without a base",
            ParseError::IdnaError => "invalid international domain name",
            ParseError::Invalid => "not a valid URL by the URL Standard",
            ParseError::NoParser => "no URL parser is registered",
        })
    }
}

impl std::error::Error for ParseError {}

/// A URL's host, as `url::Host` has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host<S> {
    Domain(S),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum HostKind {
    None,
    Domain,
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
}

/// A URL the platform parsed: the subset of `url::Url`'s API core uses, with its meaning.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Url {
    href: String,
    scheme: String,
    hostname: String,
    host: HostKind,
    port: Option<u16>,
    path: String,
    /// `None` for an opaque origin.
    origin: Option<String>,
}

/// A URL's origin; two opaque origins are never the same one (as with `url::Origin`).
#[derive(Clone, Debug)]
pub struct Origin(Option<String>);

impl Origin {
    /// `scheme://host[:port]`, or `null` for an opaque origin.
    pub fn ascii_serialization(&self) -> String {
        self.0.clone().unwrap_or_else(|| "null".to_string())
    }
}

impl PartialEq for Origin {
    fn eq(&self, other: &Self) -> bool {
        matches!((&self.0, &other.0), (Some(a), Some(b)) if a == b)
    }
}

/// The URL Standard's special schemes, whose hosts are domains or IP addresses.
fn is_special(scheme: &str) -> bool {
    matches!(scheme, "http" | "https" | "ws" | "wss" | "ftp" | "file")
}

/// A query or fragment for the platform's parser to percent-encode as the URL Standard's
/// setters would: tabs and newlines dropped (as both drop them), and the trailing C0 controls
/// and spaces that are left encoded here, as the parser would strip them from the end of its
/// input where the setters encode them (every percent-encode set holds them). `#` in a query
/// is encoded here too, where the parser would take it to start the fragment.
fn for_reparse(s: &str, query: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\t' | '\n' | '\r' => {}
            '#' if query => out.push_str("%23"),
            c => out.push(c),
        }
    }
    let kept = crate::text::rfind_byte(&out, |b| b > b' ').map_or(0, |at| at + 1);
    let tail = out.split_off(kept);
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in tail.bytes() {
        out.push('%');
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// The URL Standard's forbidden domain code points, and anything not ASCII: a special URL's
/// domain never holds one. Chromium escapes some instead of refusing the URL (`mcp%20example.com`
/// for a space), which the standard and the native build refuse.
fn forbidden_in_domain(b: u8) -> bool {
    !b.is_ascii() || b <= b' ' || b == 0x7f || b"#%/:<>?@[\\]^|".contains(&b)
}

/// A special URL's host as the platform serialised it, when it is an IPv4 address: the URL
/// Standard writes one as four decimal numbers of 0 to 255 without leading zeros (every other
/// IPv4 form an input may use, `0x7f.1` or `127.1`, it has already turned into that). Read
/// here rather than by `std`'s `Ipv4Addr` parser, which the wasm build would otherwise link
/// with its IPv6 parser for this alone (−968 B gzip net); both accept exactly the same
/// strings (tested).
fn ipv4_of(host: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut n = 0;
    for part in host.split('.') {
        let slot = octets.get_mut(n)?;
        if part.len() > 3 || (part.len() > 1 && part.starts_with('0')) {
            return None;
        }
        *slot = u8::try_from(crate::text::decimal(part)?).ok()?;
        n += 1;
    }
    (n == 4).then_some(Ipv4Addr::from(octets))
}

/// An IPv6 host (without its brackets) as the platform serialised it: the URL Standard
/// writes eight hexadecimal pieces with the longest run of zeros as `::`, never an embedded
/// IPv4 dotted quad. This reads any form of one to four hex digits a piece with at most one
/// `::`, as `std`'s `Ipv6Addr` parser does, and refuses the dotted form (so a platform that
/// wrote one makes the URL refused, not misread).
fn ipv6_of(text: &str) -> Option<Ipv6Addr> {
    let mut pieces = [0u16; 8];
    match text.as_bytes().windows(2).position(|w| w == b"::") {
        None if read_pieces(text, &mut pieces)? == 8 => {}
        None => return None,
        Some(at) => {
            // the pieces after `::` end the address; the zeros it stands for fill the gap
            let mut tail = [0u16; 8];
            let n = read_pieces(text.get(..at)?, &mut pieces)?;
            let m = read_pieces(text.get(at + 2..)?, &mut tail)?;
            if n + m > 7 {
                return None;
            }
            pieces[8 - m..].copy_from_slice(&tail[..m]);
        }
    }
    Some(Ipv6Addr::from(pieces))
}

/// Reads `:`-separated pieces of one to four hex digits into `out`; how many there were.
fn read_pieces(part: &str, out: &mut [u16; 8]) -> Option<usize> {
    if part.is_empty() {
        return Some(0);
    }
    let mut n = 0;
    for piece in part.split(':') {
        let slot = out.get_mut(n)?;
        if !(1..=4).contains(&piece.len()) {
            return None;
        }
        *slot = piece
            .chars()
            .try_fold(0u16, |v, c| Some(v << 4 | c.to_digit(16)? as u16))?;
        n += 1;
    }
    Some(n)
}

impl Url {
    /// Parses an absolute URL with the registered parser.
    pub fn parse(input: &str) -> Result<Url, ParseError> {
        parse_with(parser(), input, None)
    }

    /// Resolves `input` against this URL.
    pub fn join(&self, input: &str) -> Result<Url, ParseError> {
        parse_with(parser(), input, Some(&self.href))
    }

    pub fn as_str(&self) -> &str {
        &self.href
    }

    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    pub fn host(&self) -> Option<Host<&str>> {
        match self.host {
            HostKind::None => None,
            HostKind::Domain => Some(Host::Domain(&self.hostname)),
            HostKind::Ipv4(ip) => Some(Host::Ipv4(ip)),
            HostKind::Ipv6(ip) => Some(Host::Ipv6(ip)),
        }
    }

    /// The host as serialised (`[…]` around IPv6).
    pub fn host_str(&self) -> Option<&str> {
        (self.host != HostKind::None).then_some(self.hostname.as_str())
    }

    pub fn domain(&self) -> Option<&str> {
        (self.host == HostKind::Domain).then_some(self.hostname.as_str())
    }

    /// The port, `None` when it is the scheme's default or absent.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn origin(&self) -> Origin {
        Origin(self.origin.clone())
    }

    /// The serialisation cut at its delimiters: what stands before the query, the query
    /// without its `?`, the fragment without its `#` (`Some("")` for a bare `?` or `#`). Cut
    /// with `split_once`, not by index, so that the build links no `str` slicing panic (with
    /// the `char` and range `Debug` code its message needs).
    fn pieces(&self) -> (&str, Option<&str>, Option<&str>) {
        let (before_hash, fragment) = match self.href.split_once('#') {
            Some((b, f)) => (b, Some(f)),
            None => (self.href.as_str(), None),
        };
        match before_hash.split_once('?') {
            Some((b, q)) => (b, Some(q), fragment),
            None => (before_hash, None, fragment),
        }
    }

    /// The query without its `?` (`Some("")` for a bare `?`).
    pub fn query(&self) -> Option<&str> {
        self.pieces().1
    }

    /// The fragment without its `#` (`Some("")` for a bare `#`).
    pub fn fragment(&self) -> Option<&str> {
        self.pieces().2
    }

    /// The query's name/value pairs, `application/x-www-form-urlencoded` decoded.
    pub fn query_pairs(&self) -> form_urlencoded::Parse<'_> {
        form_urlencoded::parse(self.query().unwrap_or_default().as_bytes())
    }

    /// Replaces the query (percent-encoded as the URL Standard's setter does, tabs and
    /// newlines dropped) or removes it with its `?`. The host, port and path stay as they are.
    /// The platform's parser encodes it (`for_reparse`): the wasm build carries no
    /// percent-encode sets of its own.
    pub fn set_query(&mut self, query: Option<&str>) {
        let (before, _, fragment) = self.pieces();
        let mut href = before.to_string();
        if let Some(q) = query {
            href.push('?');
            href.push_str(&for_reparse(q, true));
        }
        if let Some(f) = fragment {
            href.push('#');
            href.push_str(f);
        }
        self.reparse(href);
    }

    /// Replaces the fragment (percent-encoded as the setter does, tabs and newlines dropped)
    /// or removes it with its `#`.
    pub fn set_fragment(&mut self, fragment: Option<&str>) {
        let mut href = self.pieces().0.to_string();
        if let Some(q) = self.query() {
            href.push('?');
            href.push_str(q);
        }
        if let Some(f) = fragment {
            href.push('#');
            href.push_str(&for_reparse(f, false));
        }
        self.reparse(href);
    }

    /// This URL with `href` in place of its serialisation, which differs from it only in the
    /// query or fragment: parsed by the platform, which encodes them as its setters would
    /// (and, with neither left, strips an opaque path's trailing spaces, as they do).
    /// Were the platform to refuse it (it does not refuse what it serialised itself, with
    /// an encoded query or fragment), `href` is kept as it is.
    fn reparse(&mut self, href: String) {
        match parse_with(parser(), &href, None) {
            Ok(url) => *self = url,
            Err(_) => self.href = href,
        }
    }

    /// A URL from the platform's getters, refused when they do not hold together.
    fn from_parts(p: Parts) -> Result<Url, ParseError> {
        let scheme = p.protocol.strip_suffix(':').ok_or(ParseError::Invalid)?;
        let host = match p.hostname.strip_prefix('[') {
            _ if p.hostname.is_empty() => HostKind::None,
            Some(inner) => {
                let ip = inner.strip_suffix(']').and_then(ipv6_of);
                HostKind::Ipv6(ip.ok_or(ParseError::Invalid)?)
            }
            None if is_special(scheme) => match ipv4_of(&p.hostname) {
                Some(ip) => HostKind::Ipv4(ip),
                None if crate::text::find_byte(&p.hostname, forbidden_in_domain).is_some() => {
                    return Err(ParseError::Invalid)
                }
                None => HostKind::Domain,
            },
            None => HostKind::Domain,
        };
        let port = match p.port.as_str() {
            "" => None,
            s => Some(
                crate::text::decimal(s)
                    .and_then(|p| u16::try_from(p).ok())
                    .ok_or(ParseError::Invalid)?,
            ),
        };
        Ok(Url {
            scheme: scheme.to_string(),
            host,
            port,
            origin: (p.origin != "null").then_some(p.origin),
            href: p.href,
            hostname: p.hostname,
            path: p.pathname,
        })
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.href)
    }
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Url").field(&self.href).finish()
    }
}

impl From<Url> for String {
    fn from(url: Url) -> String {
        url.href
    }
}

fn parse_with(
    parser: Option<UrlParser>,
    input: &str,
    base: Option<&str>,
) -> Result<Url, ParseError> {
    let parser = parser.ok_or(ParseError::NoParser)?;
    let Some(parts) = parser(input, base) else {
        return Err(refused(input, base));
    };
    let url = Url::from_parts(parts)?;
    punycode_checked(parser, url)
}

/// The reason for a refusal, as far as it can be told from outside (it only chooses the
/// message): no scheme and no base, as `url` says first; an IDNA error when the host part
/// needed IDNA; else the general one.
fn refused(input: &str, base: Option<&str>) -> ParseError {
    let (scheme, rest) = split_scheme(input);
    if scheme.is_none() && base.is_none() {
        return ParseError::RelativeUrlWithoutBase;
    }
    let rest = cut(rest, |b| b != b'/' && b != b'\\').1;
    let authority = cut(rest, |b| matches!(b, b'/' | b'\\' | b'?' | b'#')).0;
    if !ascii(authority) || has_punycode(authority) {
        ParseError::IdnaError
    } else {
        ParseError::Invalid
    }
}

/// `input`'s scheme, if it starts with one (an ASCII letter, then letters, digits, `+`, `-`
/// or `.`, then `:`; leading spaces and controls ignored), and the rest after the `:`.
fn split_scheme(input: &str) -> (Option<&str>, &str) {
    let trimmed = cut(input, |b| b > b' ').1;
    match trimmed.split_once(':') {
        Some((scheme, rest))
            if scheme
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic())
                && crate::text::find_byte(scheme, |b| {
                    !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
                })
                .is_none() =>
        {
            (Some(scheme), rest)
        }
        _ => (None, trimmed),
    }
}

/// `s` cut before its first byte that `stop` takes: one loop where `trim_start_matches` and
/// `split` link a searcher each. (A cut inside a character would give empty parts; the
/// predicates here take ASCII bytes or every byte above the space, so it falls between
/// characters.)
fn cut(s: &str, stop: fn(u8) -> bool) -> (&str, &str) {
    let at = crate::text::find_byte(s, stop).unwrap_or(s.len());
    (
        s.get(..at).unwrap_or_default(),
        s.get(at..).unwrap_or_default(),
    )
}

/// `s` is ASCII (a short loop: `str::is_ascii` links a word-at-a-time version for this).
fn ascii(s: &str) -> bool {
    crate::text::find_byte(s, |b| b >= 0x80).is_none()
}

fn has_punycode(s: &str) -> bool {
    s.as_bytes()
        .windows(4)
        .any(|w| w.eq_ignore_ascii_case(b"xn--"))
}

/// The longest punycode (after `xn--`) a label may have: UTS #46 implementations refuse
/// longer ones (ICU, and `idna` in the native build, after ICU-13727). It also bounds the
/// decoder's work, which grows with the square of a label's length.
const PUNYCODE_MAX: usize = 2000;

/// A label's part after its `xn--` (in any case), when it has one.
fn encoded(label: &str) -> Option<&str> {
    label
        .get(..4)?
        .eq_ignore_ascii_case("xn--")
        .then(|| label.get(4..))?
}

/// The platform's answer, refused when a punycode label of its host does not survive the
/// round trip through Unicode (see the module docs).
fn punycode_checked(parser: UrlParser, url: Url) -> Result<Url, ParseError> {
    // an opaque host (a non-special scheme's) gets no IDNA, natively either
    let Some(host) = url.domain().filter(|_| is_special(&url.scheme)) else {
        return Ok(url);
    };
    if !host.split('.').any(|l| encoded(l).is_some()) {
        return Ok(url);
    }
    let mut unicode = String::from("http://");
    for (i, label) in host.split('.').enumerate() {
        if i > 0 {
            unicode.push('.');
        }
        if let Some(encoded) = encoded(label) {
            if encoded.len() > PUNYCODE_MAX {
                return Err(ParseError::IdnaError);
            }
            unicode.push_str(&punycode_decode(encoded).ok_or(ParseError::IdnaError)?);
        } else {
            unicode.push_str(label);
        }
    }
    unicode.push('/');
    let again = parser(&unicode, None);
    match again {
        Some(p) if p.hostname == host => Ok(url),
        _ => Err(ParseError::IdnaError),
    }
}

/// RFC 3492 (Punycode) decoding of a label's part after `xn--`; `None` when it is malformed
/// or overflows. Written here rather than taken from `idna` (`url`'s IDNA crate, which the
/// native build still uses): its decoder collects the insertions and sorts them, which links a
/// stable sort and `smallvec` into the wasm build for this one check, 4.2 KB gzip in all. It
/// answers as `idna::punycode::decode_to_string` does (tested against it).
fn punycode_decode(input: &str) -> Option<String> {
    const BASE: u32 = 36;
    const T_MIN: u32 = 1;
    const T_MAX: u32 = 26;
    // the basic code points stand before the last delimiter; one at the very start is not
    // a delimiter but the first digit (which fails: `-` is no digit)
    // (found by a byte loop: `rsplit_once` would link `memrchr` for this alone)
    let (basic, deltas) = match crate::text::rfind_byte(input, |b| b == b'-') {
        Some(at) if at > 0 => (input.get(..at)?, input.get(at + 1..)?),
        _ => ("", input),
    };
    if !ascii(basic) {
        return None;
    }
    let mut out = Vec::new();
    for c in basic.chars() {
        out.push(c);
    }
    let (mut n, mut i, mut bias) = (0x80u32, 0u32, 72u32);
    let mut digits = deltas.bytes();
    while digits.len() > 0 {
        // one generalized variable-length integer: the delta to add to i
        let before = i;
        let (mut weight, mut k) = (1u32, BASE);
        loop {
            let digit = match digits.next()? {
                b @ b'a'..=b'z' => b - b'a',
                b @ b'A'..=b'Z' => b - b'A',
                b @ b'0'..=b'9' => b - b'0' + 26,
                _ => return None,
            } as u32;
            i = i.checked_add(digit.checked_mul(weight)?)?;
            let t = k.saturating_sub(bias).clamp(T_MIN, T_MAX);
            if digit < t {
                break;
            }
            weight = weight.checked_mul(BASE - t)?;
            k += BASE;
        }
        let len = out.len() as u32 + 1;
        // bias adaptation (RFC 3492 §6.1)
        let mut delta = (i - before) / if before == 0 { 700 } else { 2 };
        delta += delta / len;
        k = 0;
        while delta > (BASE - T_MIN) * T_MAX / 2 {
            delta /= BASE - T_MIN;
            k += BASE;
        }
        bias = k + (BASE - T_MIN + 1) * delta / (delta + 38);
        n = n.checked_add(i / len)?;
        i %= len;
        out.insert(i as usize, char::from_u32(n)?);
        i += 1;
    }
    let mut decoded = String::with_capacity(out.len());
    for c in out {
        decoded.push(c);
    }
    Some(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The decoder answers as `idna`'s: RFC 3492's own samples, round trips of random
    /// Unicode labels through `idna`'s encoder, and strings of label characters (most of
    /// them malformed).
    #[test]
    fn punycode_decodes_as_idna_does() {
        // RFC 3492 §7.1 (A) Arabic, (B) Chinese, (L) Japanese, (S) plain ASCII
        for (encoded, decoded) in [
            ("egbpdaj6bu4bxfgehfvwxn", "ليهمابتكلموشعربي؟"),
            ("ihqwcrb4cv8a8dqg056pqjye", "他们为什么不说中文"),
            ("3B-ww4c5e180e575a65lsy2b", "3年B組金八先生"),
            ("-> $1.00 <--", "-> $1.00 <-"),
            ("bcher-kva", "bücher"),
        ] {
            assert_eq!(
                punycode_decode(encoded).as_deref(),
                Some(decoded),
                "{encoded}"
            );
        }
        let mut next = crate::test_host::numbers(0x9e37_79b9_7f4a_7c15_u64);
        let pool = [
            'a',
            'z',
            '0',
            '-',
            'é',
            'ü',
            'ß',
            'ー',
            '中',
            '文',
            '😀',
            '\u{10ffff}',
        ];
        for _ in 0..5_000 {
            let len = next() as usize % 12;
            let label: String = (0..len)
                .map(|_| pool[next() as usize % pool.len()])
                .collect();
            let encoded = idna::punycode::encode_str(&label).expect("encodable");
            assert_eq!(punycode_decode(&encoded), Some(label), "{encoded}");
            let len = next() as usize % 16;
            let chars = b"abkz09AZ--_.\xff";
            let text: String = (0..len)
                .map(|_| chars[next() as usize % chars.len()] as char)
                .collect();
            assert_eq!(
                punycode_decode(&text),
                idna::punycode::decode_to_string(&text),
                "{text:?}"
            );
        }
        // overflow, a surrogate, and non-ASCII before the delimiter
        for text in [
            "zzzzzzzzzzzzzzzz",
            "99999999999999",
            "a-zzzzzzzz",
            "é-abc",
            "-abc",
            "",
        ] {
            assert_eq!(
                punycode_decode(text),
                idna::punycode::decode_to_string(text),
                "{text}"
            );
        }
    }

    /// The `url` crate as the platform: it implements the same standard.
    fn platform(input: &str, base: Option<&str>) -> Option<Parts> {
        let url = match base {
            Some(b) => url::Url::parse(b).ok()?.join(input),
            None => url::Url::parse(input),
        }
        .ok()?;
        Some(Parts {
            href: url.as_str().to_string(),
            protocol: format!("{}:", url.scheme()),
            hostname: url.host_str().unwrap_or_default().to_string(),
            port: url.port().map(|p| p.to_string()).unwrap_or_default(),
            pathname: url.path().to_string(),
            origin: url.origin().ascii_serialization(),
        })
    }

    /// Like Chromium: copies ASCII (punycode) hosts through unvalidated, knows one Unicode
    /// name and refuses the rest.
    fn lenient(input: &str, base: Option<&str>) -> Option<Parts> {
        if input.is_ascii() {
            return platform(&input.replace("xn--", "ascii--"), base).map(|mut p| {
                p.href = p.href.replace("ascii--", "xn--");
                p.hostname = p.hostname.replace("ascii--", "xn--");
                p.origin = p.origin.replace("ascii--", "xn--");
                p
            });
        }
        input
            .contains("bücher.example")
            .then(|| platform(&input.replace("bücher", "xn--bcher-kva"), base))
            .flatten()
    }

    fn parse(input: &str) -> Result<Url, ParseError> {
        parse_with(Some(platform), input, None)
    }

    /// A platform's answer for `https://{hostname}{pathname}`, whatever it was asked.
    fn https_answer(hostname: &str, pathname: &str) -> Parts {
        Parts {
            href: format!("https://{hostname}{pathname}"),
            protocol: "https:".into(),
            hostname: hostname.into(),
            pathname: pathname.into(),
            origin: format!("https://{hostname}"),
            ..Parts::default()
        }
    }

    /// Every accessor agrees with `url`'s own, on URLs of every shape core meets.
    #[test]
    fn answers_as_the_url_crate_does() {
        // the setters and `join` parse through the registered parser: `url`'s (natively, only
        // this module's tests register one)
        let _ = set_platform(
            platform,
            FormCodec {
                serialize: crate::platform_url::form_serialize,
                parse: crate::platform_url::form_parse,
            },
        );
        let inputs = [
            "https://example.com",
            "https://Example.COM:443/a/b/?x=1&y=%20z#frag",
            "https://user:pw@example.com:8443/p?",
            "https://example.com/p#",
            "https://example.com/p?#",
            "http://127.0.0.1:8080/mcp",
            "http://[::1]:3000/x?a=b",
            "http://[::ffff:127.0.0.1]/",
            "http://0x7f.1/",
            "http://localhost./cb?code=a%2Bb&state=s+t",
            "https://bücher.example/mcp",
            "https://ex.com/a?q=it's a \"test\"#f g",
            "web+app://host/path?q#f",
            "custom:opaque/path?q",
            "mailto:someone@example.com",
            "custom:opaque path  ?q",
            "custom:opaque path  #f",
            "file:///etc/passwd",
            "blob:https://example.com/uuid",
            "ws://example.com:80/",
            "data:text/plain,hi#x",
            "foo:a ?x",
            "foo:a #x",
            "myapp://xn--a.example/cb?state=s&code=c",
        ];
        for input in inputs {
            let want = url::Url::parse(input).unwrap();
            let got = parse(input).unwrap();
            assert_eq!(got.as_str(), want.as_str(), "{input}");
            assert_eq!(got.to_string(), want.to_string(), "{input}");
            assert_eq!(got.scheme(), want.scheme(), "{input}");
            assert_eq!(got.host_str(), want.host_str(), "{input}");
            assert_eq!(got.domain(), want.domain(), "{input}");
            assert_eq!(got.port(), want.port(), "{input}");
            assert_eq!(got.path(), want.path(), "{input}");
            assert_eq!(got.query(), want.query(), "{input}");
            assert_eq!(got.fragment(), want.fragment(), "{input}");
            assert!(got.query_pairs().eq(want.query_pairs()), "{input}");
            assert_eq!(
                got.origin().ascii_serialization(),
                want.origin().ascii_serialization(),
                "{input}"
            );
            let host = match want.host() {
                None => None,
                Some(url::Host::Domain(d)) => Some(Host::Domain(d)),
                Some(url::Host::Ipv4(ip)) => Some(Host::Ipv4(ip)),
                Some(url::Host::Ipv6(ip)) => Some(Host::Ipv6(ip)),
            };
            assert_eq!(got.host(), host, "{input}");
            for q in [
                None,
                Some(""),
                Some("a=b&c=d"),
                Some("x y#'\"<>é"),
                Some("a\tb\nc\rd"),
                Some("#a##b#"),
                Some("trailing  "),
                Some("controls \u{1}\u{1f}\t \n"),
                Some(" "),
                Some("%2 %zz %41"),
            ] {
                let (mut g, mut w) = (got.clone(), want.clone());
                g.set_query(q);
                w.set_query(q);
                assert_eq!(g.as_str(), w.as_str(), "{input} set_query({q:?})");
                assert_eq!(g.query(), w.query(), "{input} set_query({q:?})");
                assert_eq!(g.path(), w.path(), "{input} set_query({q:?})");
            }
            for f in [
                None,
                Some(""),
                Some("a b`<é>"),
                Some("a\tb\nc\rd"),
                Some("#x#?y"),
                Some("trailing \u{1} \t"),
                Some(" "),
            ] {
                let (mut g, mut w) = (got.clone(), want.clone());
                g.set_fragment(f);
                w.set_fragment(f);
                assert_eq!(g.as_str(), w.as_str(), "{input} set_fragment({f:?})");
                assert_eq!(g.path(), w.path(), "{input} set_fragment({f:?})");
            }
            for rel in ["/m?x=1", "../up", "?q", "#f", "https://other.example/"] {
                let (g, w) = (got.join(rel), want.join(rel));
                if let (Ok(g), Ok(w)) = (&g, &w) {
                    assert_eq!(g.as_str(), w.as_str(), "{input} join {rel}");
                }
            }
        }
    }

    /// The host readers accept exactly what `std`'s parsers accept (the IPv6 reader: except
    /// the embedded dotted quad, which the platform never writes), on the platform's forms
    /// and on strings of the characters an address is made of.
    #[test]
    fn ip_hosts_read_as_std_reads_them() {
        let mut next = crate::test_host::numbers(0x2545_f491_4f6c_dd1d_u64);
        for _ in 0..20_000 {
            let r = next();
            // addresses as written: runs of zero pieces, so that `::` is everywhere
            let pieces: [u16; 8] = std::array::from_fn(|i| {
                if r >> (i + 32) & 1 == 0 {
                    0
                } else {
                    r as u16 >> i
                }
            });
            let v6 = Ipv6Addr::from(pieces);
            let full = pieces.map(|p| format!("{p:x}")).join(":");
            assert_eq!(ipv6_of(&full), Some(v6), "{full}");
            let shown = v6.to_string();
            if !shown.contains('.') {
                assert_eq!(ipv6_of(&shown), Some(v6), "{shown}");
            }
            let v4 = Ipv4Addr::from(r as u32 & if r >> 40 & 1 == 0 { 0xff00_ff0f } else { !0 });
            assert_eq!(ipv4_of(&v4.to_string()), Some(v4));
            // strings of address characters: the same answer as std's parsers
            let len = (r >> 56) as usize % 24;
            let text: String = (0..len)
                .map(|_| b"0123456789abcdefABCDEF::..+ "[next() as usize % 28] as char)
                .collect();
            assert_eq!(ipv4_of(&text), text.parse().ok(), "{text:?}");
            if !text.contains('.') {
                assert_eq!(ipv6_of(&text), text.parse().ok(), "{text:?}");
            }
            // dotted numbers near every rule: leading zeros, 255/256, signs, empty parts
            let parts = [
                "0", "00", "01", "7", "10", "99", "255", "256", "1000", "+1", "",
            ];
            let dotted: Vec<&str> = (0..3 + (r >> 60) % 3)
                .map(|_| parts[next() as usize % parts.len()])
                .collect();
            let dotted = dotted.join(".");
            assert_eq!(ipv4_of(&dotted), dotted.parse().ok(), "{dotted:?}");
        }
        for (text, want) in [
            ("1.2.3.4", Some("1.2.3.4")),
            ("255.255.255.255", Some("255.255.255.255")),
            ("256.1.1.1", None),
            ("01.1.1.1", None),
            ("1.2.3", None),
            ("1.2.3.4.5", None),
            ("1.2.3.+4", None),
            ("1..3.4", None),
        ] {
            assert_eq!(ipv4_of(text), want.map(|w| w.parse().unwrap()), "{text}");
        }
        for (text, want) in [
            ("::", Some("::")),
            ("::1", Some("::1")),
            ("1::", Some("1::")),
            ("1:2:3:4:5:6:7::", Some("1:2:3:4:5:6:7:0")),
            ("::ffff:7f00:1", Some("::ffff:127.0.0.1")),
            ("::ffff:127.0.0.1", None),
            ("1:2:3:4:5:6:7:8:9", None),
            ("1::2::3", None),
            (":::", None),
            ("1:2:3:4:5:6:7::8", None),
            ("12345::", None),
            ("+1::", None),
        ] {
            assert_eq!(ipv6_of(text), want.map(|w| w.parse().unwrap()), "{text}");
        }
    }

    #[test]
    fn origins_compare_as_url_origins_do() {
        let a = parse("https://example.com/a").unwrap();
        let b = parse("https://EXAMPLE.com:443/b?q").unwrap();
        let c = parse("https://example.com:8443/a").unwrap();
        assert_eq!(a.origin(), b.origin());
        assert_ne!(a.origin(), c.origin());
        // an opaque origin is not even the same as itself
        let opaque = parse("custom:thing").unwrap();
        assert_ne!(opaque.origin(), opaque.origin());
        assert_eq!(opaque.origin().ascii_serialization(), "null");
    }

    #[test]
    fn refusals_give_the_reason_url_would_where_one_can_be_told() {
        assert_eq!(parse("not a url"), Err(ParseError::RelativeUrlWithoutBase));
        assert_eq!(
            parse("/bücher/mcp"),
            Err(ParseError::RelativeUrlWithoutBase)
        );
        assert_eq!(parse("::::"), Err(ParseError::RelativeUrlWithoutBase));
        assert_eq!(parse("https://xn--a.example/"), Err(ParseError::IdnaError));
        assert_eq!(
            parse("https://a\u{200d}b.example/"),
            Err(ParseError::IdnaError)
        );
        assert_eq!(
            parse("https://example.com:65536/"),
            Err(ParseError::Invalid)
        );
        assert_eq!(parse("https://1.2.3.256/"), Err(ParseError::Invalid));
        assert_eq!(
            parse_with(None, "https://example.com/", None),
            Err(ParseError::NoParser)
        );
    }

    #[test]
    fn punycode_labels_must_survive_the_round_trip_through_the_platform() {
        let p = |s| parse_with(Some(lenient), s, None);
        let ok = p("https://XN--bcher-kva.example/mcp").unwrap();
        assert_eq!(ok.as_str(), "https://xn--bcher-kva.example/mcp");
        assert_eq!(
            p("https://bücher.example/mcp").unwrap().as_str(),
            "https://xn--bcher-kva.example/mcp"
        );
        // well-formed punycode of U+0080, which the lenient platform copies through
        assert!(lenient("https://xn--a.example/", None).is_some());
        assert_eq!(p("https://xn--a.example/"), Err(ParseError::IdnaError));
        // not punycode at all
        assert_eq!(p("https://xn--zz-.example/"), Err(ParseError::IdnaError));
        // punycode of "ü": valid IDNA, but this platform knows only bücher.example
        assert_eq!(p("https://a.xn--tda.example/"), Err(ParseError::IdnaError));
        // an opaque host (a custom scheme's callback) gets no IDNA, natively either
        assert_eq!(
            p("myapp://xn--a.example/cb?code=c").unwrap().as_str(),
            "myapp://xn--a.example/cb?code=c"
        );
        // punycode longer than UTS #46 takes is refused before it is decoded, as natively;
        // shorter, it is decoded and comes back the same
        for (n, accepted) in [(1_000, true), (2_100, false)] {
            let label = idna::punycode::encode_str(&"ü".repeat(n)).expect("encodable");
            assert_eq!(label.len() <= PUNYCODE_MAX, accepted, "{n}");
            let input = format!("https://xn--{label}.example/");
            assert_eq!(url::Url::parse(&input).is_ok(), accepted, "url, {n}");
            assert_eq!(parse(&input).is_ok(), accepted, "platform, {n}");
            // a platform that takes labels of any length, and encodes Unicode ones
            fn any_length(input: &str, _: Option<&str>) -> Option<Parts> {
                let host = input.split_once("://")?.1.split('/').next()?;
                let labels: Vec<String> = host
                    .split('.')
                    .map(|l| match l.is_ascii() {
                        true => Some(l.to_string()),
                        false => Some(format!("xn--{}", idna::punycode::encode_str(l)?)),
                    })
                    .collect::<Option<_>>()?;
                Some(https_answer(&labels.join("."), "/"))
            }
            let got = parse_with(Some(any_length), &input, None);
            assert_eq!(got.is_ok(), accepted, "any length, {n}");
        }
    }

    #[test]
    fn a_domain_with_a_forbidden_code_point_is_refused_whatever_the_platform_says() {
        // Chromium's answer for `https://mcp example.com/mcp`
        fn escaping(_: &str, _: Option<&str>) -> Option<Parts> {
            Some(https_answer("mcp%20example.com", "/mcp"))
        }
        assert_eq!(
            parse_with(Some(escaping), "https://mcp example.com/mcp", None),
            Err(ParseError::Invalid)
        );
        for b in [b'%', b' ', b'|', b'^', 0x7f, 0x01, 0xc3] {
            assert!(forbidden_in_domain(b), "{b}");
        }
        for b in b"az09-._~!$&'()*+,;=\"{}`" {
            assert!(!forbidden_in_domain(*b), "{b}");
        }
    }

    #[test]
    fn a_platform_that_contradicts_itself_is_refused() {
        fn odd(_: &str, _: Option<&str>) -> Option<Parts> {
            Some(https_answer("[zz]", "/"))
        }
        assert_eq!(
            parse_with(Some(odd), "https://x/", None),
            Err(ParseError::Invalid)
        );
    }
}
