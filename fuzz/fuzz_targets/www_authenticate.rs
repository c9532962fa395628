//! The WWW-Authenticate parser: each input line is one header field value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mcp_auth_core::www_authenticate::{bearer, parse_challenges};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let values: Vec<&str> = text.split('\n').collect();
    let challenges = parse_challenges(values.iter().copied());
    let found = bearer(values.iter().copied());
    // a challenge is taken only when the parser saw a Bearer one, or else a DPoP one
    // (RFC 9449 §7.1; the first version of this check predates the DPoP fallback and
    // flagged `dpop\xe0`)
    if found.is_some() {
        assert!(challenges
            .iter()
            .any(|c| c.scheme.eq_ignore_ascii_case("bearer")
                || c.scheme.eq_ignore_ascii_case("dpop")));
    }
});
