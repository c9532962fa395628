//! Identity, canonical resource URI, and the https-or-loopback rule.

use crate::error::{Error, Result};
use crate::platform_url;
use crate::platform_url::{Host as UrlHost, Url};

/// Parses a URL that core will talk to: http(s) only, with a host.
pub fn parse_http_url(input: &str) -> Result<Url> {
    let url = platform_url::parse(input.trim_ascii()).map_err(|e| Error::invalid_url(input, e))?;
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(
                Error::invalid_url(input, format!("scheme `{other}` is not http or https")).boxed(),
            )
        }
    }
    if url.host().is_none() {
        return Err(Error::invalid_url(input, "it has no host").boxed());
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
            url: url.as_str().to_string(),
        }
        .boxed())
    }
}

/// True when a request to `url` would land on the user's own machine: loopback names and
/// addresses, the unspecified addresses (`0.0.0.0`, `[::]`, which connect to this host) and
/// their IPv4-mapped IPv6 forms. Names that only resolve to such an address (public DNS
/// pointing at 127.0.0.1) are not caught here: core does no DNS.
pub fn reaches_this_machine(url: &Url) -> bool {
    match url.host() {
        Some(UrlHost::Ipv4(ip)) => ip.is_loopback() || ip.is_unspecified(),
        Some(UrlHost::Ipv6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || ip
                    .to_ipv4_mapped()
                    .is_some_and(|v4| v4.is_loopback() || v4.is_unspecified())
        }
        _ => is_loopback(url),
    }
}

/// A URL a server supplied (a `resource_metadata` URL, `authorization_servers`, an
/// authorization server endpoint): https or loopback http like every endpoint, and, unless
/// the server the user gave is itself on this machine, not on this machine at all, in
/// either scheme. A remote server must not be able to make the client GET or POST to
/// local services (blind SSRF/CSRF against whatever listens on 127.0.0.1).
pub fn discovered_url(input: &str, server: &Url) -> Result<Url> {
    let url = secure_url(input)?;
    if reaches_this_machine(&url) && !reaches_this_machine(server) {
        return Err(Error::LocalTarget {
            url: url.as_str().to_string(),
            server: server.origin().ascii_serialization(),
        }
        .boxed());
    }
    Ok(url)
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
    // the origin carries no userinfo, and the fragment is left out below
    let url = parse_http_url(server_url)?;
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
    let (Ok(au), Ok(ru)) = (platform_url::parse(&a), platform_url::parse(&r)) else {
        return false;
    };
    if au.origin() != ru.origin() || au.query().is_some() {
        return false;
    }
    let ap = au.path().trim_end_matches('/');
    let rp = ru.path();
    ap.is_empty() || rp == ap || rp.starts_with(&format!("{ap}/"))
}

/// The items whose resource covers `url`, most specific (longest resource) first: the token
/// core uses for a URL is the first of these that is stored.
pub fn covering_first<T>(items: Vec<T>, resource_of: impl Fn(&T) -> &str, url: &str) -> Vec<T> {
    let (mut covering, mut lens) = (Vec::new(), Vec::new());
    for item in items {
        let resource = resource_of(&item);
        if resource_covers(resource, url) {
            lens.push(resource.len());
            covering.push(Some(item));
        }
    }
    let mut out = Vec::with_capacity(covering.len());
    for i in longest_first(lens) {
        if let Some(item) = covering.get_mut(i).and_then(Option::take) {
            out.push(item);
        }
    }
    out
}

/// The positions of `lens` from the longest to the shortest, equal lengths in their order.
/// Each position is inserted after those at least as long (a binary search): no sort of its
/// own, which the wasm build would link as one more instance. The items are a user's stored
/// tokens for one server, so the moves an insertion costs stay small.
fn longest_first(lens: Vec<usize>) -> Vec<usize> {
    let mut order: Vec<usize> = Vec::with_capacity(lens.len());
    for (i, len) in lens.iter().enumerate() {
        let at = order.partition_point(|&j| lens[j] >= *len);
        order.insert(at, i);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A URL's surrounding whitespace is ASCII whitespace, as the URL Standard strips (with
    /// the other C0 controls): a non-ASCII space is part of the input, as `new URL()` has it.
    #[test]
    fn urls_are_trimmed_of_ascii_whitespace_only() {
        let url = parse_http_url(" \thttps://Example.com/mcp\r\n").unwrap();
        assert_eq!(url.as_str(), "https://example.com/mcp");
        for u in [
            "\u{a0}https://example.com/mcp",
            "\u{3000}https://example.com/mcp",
        ] {
            let e = parse_http_url(u).unwrap_err();
            assert_eq!(e.code(), "invalid_url", "{u:?}");
        }
    }

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
    fn discovered_urls_stay_off_this_machine_for_remote_servers() {
        let remote = Url::parse("https://mcp.example.com/mcp").unwrap();
        let local = Url::parse("http://127.0.0.1:8001/mcp").unwrap();
        for u in [
            "http://127.0.0.1:6379/",
            "http://localhost:9000/x",
            "https://localhost/x",
            "https://127.0.0.2/x",
            "https://[::1]/x",
            "https://0.0.0.0:8080/",
            "https://[::]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://app.localhost/x",
        ] {
            let e = discovered_url(u, &remote).unwrap_err();
            assert_eq!(e.code(), "local_target", "{u}");
            assert!(discovered_url(u, &local).is_ok(), "{u}");
        }
        assert!(discovered_url("https://auth.example.com/x", &remote).is_ok());
        assert!(discovered_url("http://localhost:9000/x", &local).is_ok());
        assert!(discovered_url("https://auth.example.com/x", &local).is_ok());
        assert_eq!(
            discovered_url("http://auth.example.com/x", &remote)
                .unwrap_err()
                .code(),
            "insecure_url"
        );
    }

    #[test]
    fn equally_specific_resources_keep_their_order() {
        let items = vec![
            ("b", "https://a.com/x"),
            ("z", "https://a.com"),
            ("a", "https://a.com/x"),
            ("c", "https://a.com/x/mcp"),
            ("y", "https://a.com"),
        ];
        let keys: Vec<&str> = covering_first(items, |(_, r)| r, "https://a.com/x/mcp")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["c", "b", "a", "z", "y"]);
    }

    #[test]
    fn longest_first_is_a_stable_sort_by_length_descending() {
        let mut seed = 7u64;
        for n in [0, 1, 2, 5, 40, 300] {
            let lens: Vec<usize> = (0..n)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (seed >> 59) as usize
                })
                .collect();
            let mut want: Vec<usize> = (0..n).collect();
            want.sort_by_key(|&i| std::cmp::Reverse(lens[i]));
            assert_eq!(longest_first(lens.clone()), want, "{lens:?}");
        }
    }

    #[test]
    fn the_most_specific_covering_resource_comes_first() {
        let items = vec![
            "https://a.com",
            "https://a.com/x/mcp",
            "https://a.com/x",
            "https://a.com/y",
        ];
        assert_eq!(
            covering_first(items, |r| r, "https://a.com/x/mcp"),
            ["https://a.com/x/mcp", "https://a.com/x", "https://a.com"]
        );
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
