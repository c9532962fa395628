//! Small helpers: randomness, PKCE, HTML escaping, form parsing.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};

/// A random URL-safe string carrying `bytes` bytes of entropy.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    if getrandom::fill(&mut buf).is_err() {
        // The OS RNG should never fail on a test machine; fall back to something unique.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut h = Sha256::new();
        h.update(nanos.to_le_bytes());
        h.update(std::process::id().to_le_bytes());
        buf = h.finalize().to_vec();
    }
    URL_SAFE_NO_PAD.encode(buf)
}

/// The PKCE S256 challenge for a verifier: BASE64URL-NO-PAD(SHA-256(verifier)).
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636 §4.1: 43..=128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
pub fn valid_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Escape text for HTML element content and quoted attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Parsed `application/x-www-form-urlencoded` parameters, remembering repeats.
#[derive(Debug, Default, Clone)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn parse(input: &str) -> Params {
        Params {
            pairs: url::form_urlencoded::parse(input.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    /// The value of `name`; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The first parameter that appears more than once (RFC 6749 §3.1: must not repeat).
    pub fn repeated(&self) -> Option<&str> {
        for (i, (k, _)) in self.pairs.iter().enumerate() {
            if self.pairs[..i].iter().any(|(p, _)| p == k) {
                return Some(k.as_str());
            }
        }
        None
    }
}

/// Decode an HTTP Basic `Authorization` header into form-urldecoded (id, secret),
/// per RFC 6749 §2.3.1. `None` if the header is not Basic; `Some(Err)` if malformed.
pub fn basic_credentials(header: &str) -> Option<Result<(String, String), String>> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = match STANDARD.decode(rest.trim()) {
        Ok(d) => d,
        Err(_) => return Some(Err("Basic credentials are not valid base64".into())),
    };
    let text = match String::from_utf8(decoded) {
        Ok(t) => t,
        Err(_) => return Some(Err("Basic credentials are not UTF-8".into())),
    };
    let Some((id, secret)) = text.split_once(':') else {
        return Some(Err("Basic credentials lack a ':'".into()));
    };
    let dec = |s: &str| -> String {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some(Ok((dec(id), dec(secret))))
}

/// Is this an `http` loopback URL (RFC 8252 §7.3)?
pub fn is_loopback_http(u: &url::Url) -> bool {
    u.scheme() == "http"
        && matches!(
            u.host(),
            Some(url::Host::Domain("localhost"))
                | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
                | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
        )
}

/// Does `requested` match the registered `registered` redirect URI? Exact string match,
/// except that for loopback http URIs the port may differ (RFC 8252 §7.3).
pub fn redirect_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(r), Ok(q)) = (url::Url::parse(registered), url::Url::parse(requested)) else {
        return false;
    };
    if !is_loopback_http(&r) || !is_loopback_http(&q) {
        return false;
    }
    r.scheme() == q.scheme()
        && r.host() == q.host()
        && r.path() == q.path()
        && r.query() == q.query()
        && q.fragment().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn loopback_port_may_differ() {
        assert!(redirect_matches(
            "http://127.0.0.1:3030/callback",
            "http://127.0.0.1:49152/callback"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1:3030/callback",
            "http://localhost:3030/callback"
        ));
        assert!(!redirect_matches(
            "https://app.example.com/cb",
            "https://app.example.com:444/cb"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1:3030/callback",
            "http://127.0.0.1:3030/other"
        ));
    }

    #[test]
    fn basic_is_form_decoded() {
        // "a b:c%3Ad" → id "a b", secret "c:d"
        let h = format!("Basic {}", STANDARD.encode("a+b:c%3Ad"));
        assert_eq!(
            basic_credentials(&h),
            Some(Ok(("a b".to_string(), "c:d".to_string())))
        );
        assert_eq!(basic_credentials("Bearer x"), None);
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            html_escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
