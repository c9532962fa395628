//! The WWW-Authenticate parser: each input line is one header field value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mcp_auth_core::www_authenticate::{bearer, parse_challenges};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let values: Vec<&str> = text.split('\n').collect();
    let challenges = parse_challenges(values.iter().copied());
    let found = bearer(values.iter().copied());
    // a Bearer challenge is taken only when the parser saw one
    if found.is_some() {
        assert!(challenges
            .iter()
            .any(|c| c.scheme.eq_ignore_ascii_case("bearer")));
    }
});
