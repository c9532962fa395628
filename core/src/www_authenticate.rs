//! `WWW-Authenticate` parsing by RFC 9110 §11.6.1: several challenges in one header,
//! auth-params with token or quoted-string values (with `\` escapes), and token68.

use crate::sorted::SortedMap;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Challenge {
    /// The auth-scheme, lower-cased.
    pub scheme: String,
    pub token68: Option<String>,
    /// Parameters by lower-cased name (the first occurrence wins).
    pub params: SortedMap<String>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// What the MCP client needs out of a Bearer challenge.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BearerChallenge {
    pub resource_metadata: Option<String>,
    pub scope: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn is_token68_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-._~+/".contains(&c)
}

struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }
    fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.pos += 1;
        }
    }
    fn token(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        // tchars are ASCII, so this slice is valid UTF-8.
        std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("")
    }
    /// A token68 that stands alone (followed by the end or a comma), else None and no move.
    fn token68(&mut self) -> Option<String> {
        let start = self.pos;
        let mut p = self.pos;
        while self.s.get(p).copied().is_some_and(is_token68_char) {
            p += 1;
        }
        if p == start {
            return None;
        }
        while self.s.get(p) == Some(&b'=') {
            p += 1;
        }
        let mut q = p;
        while matches!(self.s.get(q), Some(b' ' | b'\t')) {
            q += 1;
        }
        if q == self.s.len() || self.s[q] == b',' {
            self.pos = p;
            return Some(crate::text::lossy(&self.s[start..p]));
        }
        None
    }
    fn quoted(&mut self) -> Option<String> {
        // at the opening quote
        self.pos += 1;
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                b'"' => return Some(crate::text::lossy(&out)),
                b'\\' => {
                    if let Some(n) = self.peek() {
                        out.push(n);
                        self.pos += 1;
                    }
                }
                _ => out.push(c),
            }
        }
        None // unterminated
    }
}

/// Parses one or more `WWW-Authenticate` header values into challenges. Malformed input
/// ends parsing; what was read before it is kept. Never panics.
pub fn parse_challenges<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Challenge> {
    let mut out = Vec::new();
    for value in values {
        parse_into(value, &mut out);
    }
    out
}

/// The most parameters kept of one challenge (real ones have a handful); later ones, in
/// header order, are ignored.
pub const MAX_PARAMS: usize = 32;

fn parse_into(value: &str, out: &mut Vec<Challenge>) {
    let mut c = Cursor {
        s: value.as_bytes(),
        pos: 0,
    };
    loop {
        c.skip_ws_and_commas();
        if c.peek().is_none() {
            return;
        }
        let scheme = c.token();
        if scheme.is_empty() {
            return;
        }
        let mut ch = Challenge {
            scheme: scheme.to_ascii_lowercase(),
            ..Default::default()
        };
        c.skip_ws();
        if let Some(t) = c.token68() {
            ch.token68 = Some(t);
            out.push(ch);
            continue;
        }
        // auth-params, comma separated, until a token that is not followed by '='
        loop {
            c.skip_ws_and_commas();
            let save = c.pos;
            let name = c.token();
            if name.is_empty() {
                if c.peek().is_some() {
                    out.push(ch);
                    return; // garbage
                }
                break;
            }
            c.skip_ws();
            if c.peek() != Some(b'=') {
                c.pos = save; // the next challenge's scheme
                break;
            }
            c.pos += 1;
            c.skip_ws();
            let val = if c.peek() == Some(b'"') {
                match c.quoted() {
                    Some(v) => v,
                    None => {
                        out.push(ch);
                        return;
                    }
                }
            } else {
                c.token().to_string()
            };
            // a server's header is hostile: past the cap its parameters are read, not kept
            // (each kept one costs a sorted insert)
            if ch.params.len() < MAX_PARAMS {
                ch.params.or_insert(name.to_ascii_lowercase(), val);
            }
        }
        out.push(ch);
    }
}

/// The Bearer challenge among the headers' challenges, else the DPoP one (RFC 9449 §7.1:
/// a server that wants DPoP-bound tokens challenges with that scheme, with the same
/// parameters), if any.
pub fn bearer<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<BearerChallenge> {
    bearer_of(&parse_challenges(values))
}

/// [`bearer`] of parsed challenges (not generic over where the header values come from).
fn bearer_of(all: &[Challenge]) -> Option<BearerChallenge> {
    let pick = |scheme: &str| all.iter().find(|c| c.scheme == scheme);
    pick("bearer")
        .or_else(|| pick("dpop"))
        .map(|c| BearerChallenge {
            resource_metadata: c.param("resource_metadata").map(str::to_string),
            scope: c.param("scope").map(str::to_string),
            error: c.param("error").map(str::to_string),
            error_description: c.param("error_description").map(str::to_string),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_challenges_and_token68() {
        let ch = parse_challenges([
            r#"Basic YWxhZGRpbjpvcGVuc2VzYW1l==, Bearer realm="a, b", scope="x y", Newauth"#,
        ]);
        assert_eq!(ch.len(), 3);
        assert_eq!(ch[0].token68.as_deref(), Some("YWxhZGRpbjpvcGVuc2VzYW1l=="));
        assert_eq!(ch[1].param("realm"), Some("a, b"));
        assert_eq!(ch[1].param("SCOPE"), Some("x y"));
        assert_eq!(ch[2].scheme, "newauth");
    }

    #[test]
    fn a_dpop_challenge_is_taken_when_there_is_no_bearer_one() {
        // found by fuzz/www_authenticate: `dpop\xe0` (read as `dpop\u{fffd}`) is a DPoP
        // challenge without parameters; the fuzz target's check predated the DPoP fallback
        let found = bearer(["dpop\u{fffd}"]).expect("the DPoP challenge");
        assert_eq!(found.resource_metadata, None);
        assert_eq!(parse_challenges(["dpop\u{fffd}"])[0].scheme, "dpop");
        // a Bearer challenge wins over a DPoP one, in whatever order they come
        let both = bearer([r#"DPoP scope="a", Bearer scope="b""#]).expect("a challenge");
        assert_eq!(both.scope.as_deref(), Some("b"));
        assert!(bearer(["Basic realm=\"x\""]).is_none());
    }

    #[test]
    fn the_first_of_duplicate_parameters_wins() {
        let ch = parse_challenges([r#"Bearer scope="a", Realm=r, SCOPE=b, scope="c", realm=x"#]);
        assert_eq!(ch[0].param("scope"), Some("a"));
        assert_eq!(ch[0].param("realm"), Some("r"));
        assert_eq!(ch[0].param("error"), None);
        let names: Vec<&str> = ch[0].params.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["realm", "scope"],
            "lower-cased, once each, in order"
        );
    }

    #[test]
    fn a_challenge_keeps_at_most_max_params_parameters_in_header_order() {
        // descending names: each kept one would go to the front of the sorted parameters
        let many: Vec<String> = (0..20_000).rev().map(|i| format!("p{i:05}=v")).collect();
        let header = format!("Bearer {}, DPoP algs=\"ES256\"", many.join(", "));
        let ch = parse_challenges([header.as_str()]);
        assert_eq!(
            ch.len(),
            2,
            "the challenge after the long one is still read"
        );
        assert_eq!(ch[0].params.len(), MAX_PARAMS);
        assert_eq!(
            ch[0].param("p19999"),
            Some("v"),
            "the first in the header is kept"
        );
        assert_eq!(ch[0].param("p00000"), None, "the last is not");
        assert_eq!(ch[1].param("algs"), Some("ES256"));
    }

    #[test]
    fn garbage_never_panics() {
        for s in [
            "",
            ",,,",
            "Bearer =",
            "Bearer a=\"unterminated",
            "\u{e9}\u{e9} x=1",
            "Bearer a=b=c, ===",
        ] {
            let _ = parse_challenges([s]);
        }
    }
}
