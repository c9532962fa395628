//! Identity, canonical resource URI, and the https-or-loopback rule.

use crate::error::{Error, Result};
use url::{Host as UrlHost, Url};

/// Parses a URL that core will talk to: http(s) only, with a host.
pub fn parse_http_url(input: &str) -> Result<Url> {
    let url = Url::parse(input.trim()).map_err(|e| Error::invalid_url(input, e))?;
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(Error::invalid_url(
                input,
                format!("scheme `{other}` is not http or https"),
            ))
        }
    }
    if url.host().is_none() {
        return Err(Error::invalid_url(input, "it has no host"));
    }
    Ok(url)
}

/// True for `localhost`, `*.localhost`, 127.0.0.0/8 and `[::1]`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(UrlHost::Domain(d)) => {
            let d = d.trim_end_matches('.');
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
        Some(UrlHost::Ipv4(ip)) => ip.is_loopback(),
        Some(UrlHost::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Every endpoint must be https, except on loopback hosts.
pub fn require_secure(url: &Url) -> Result<()> {
    if url.scheme() == "https" || (url.scheme() == "http" && is_loopback(url)) {
        Ok(())
    } else {
        Err(Error::InsecureUrl {
            url: url.to_string(),
        })
    }
}

/// Parses and checks an endpoint URL in one go.
pub fn secure_url(input: &str) -> Result<Url> {
    let url = parse_http_url(input)?;
    require_secure(&url)?;
    Ok(url)
}

/// The identity tokens and client registrations are stored under: the origin of the server
/// URL (lower-case scheme and host, default port dropped, no path, query, fragment or
/// userinfo). Several servers on one origin share it.
pub fn identity(server_url: &str) -> Result<String> {
    let url = parse_http_url(server_url)?;
    Ok(url.origin().ascii_serialization())
}

/// The canonical resource URI (RFC 8707, MCP) for the `resource` parameter: the server URL
/// with lower-case scheme and host, no default port, no fragment, no userinfo, and without a
/// trailing slash.
pub fn resource_uri(server_url: &str) -> Result<String> {
    let mut url = parse_http_url(server_url)?;
    url.set_fragment(None);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let path = url.path().trim_end_matches('/').to_string();
    let mut out = url.origin().ascii_serialization();
    out.push_str(&path);
    if let Some(q) = url.query() {
        if path.is_empty() {
            out.push('/');
        }
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

/// Whether protected resource metadata naming `advertised` may speak for `requested`:
/// the same origin, and the advertised path equal to or a whole-segment prefix of the
/// requested path.
pub fn resource_covers(advertised: &str, requested: &str) -> bool {
    let (Ok(a), Ok(r)) = (resource_uri(advertised), resource_uri(requested)) else {
        return false;
    };
    if a == r {
        return true;
    }
    let (Ok(au), Ok(ru)) = (Url::parse(&a), Url::parse(&r)) else {
        return false;
    };
    if au.origin() != ru.origin() || au.query().is_some() {
        return false;
    }
    let ap = au.path().trim_end_matches('/');
    let rp = ru.path();
    ap.is_empty() || rp == ap || rp.starts_with(&format!("{ap}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for u in [
            "http://localhost:1/",
            "http://127.0.0.5/",
            "http://[::1]:9/",
            "http://a.localhost/",
        ] {
            assert!(is_loopback(&Url::parse(u).unwrap()), "{u}");
        }
        for u in [
            "http://example.com/",
            "http://10.0.0.1/",
            "http://localhost.example.com/",
        ] {
            assert!(!is_loopback(&Url::parse(u).unwrap()), "{u}");
        }
    }

    #[test]
    fn resource_cover_rules() {
        assert!(resource_covers("https://a.com/mcp", "https://A.com/mcp/"));
        assert!(resource_covers("https://a.com", "https://a.com/mcp"));
        assert!(resource_covers("https://a.com/x", "https://a.com/x/mcp"));
        assert!(!resource_covers("https://a.com/x", "https://a.com/xy"));
        assert!(!resource_covers(
            "https://evil.com/mcp",
            "https://a.com/mcp"
        ));
        assert!(!resource_covers(
            "https://a.com/mcp/deeper",
            "https://a.com/mcp"
        ));
    }
}
