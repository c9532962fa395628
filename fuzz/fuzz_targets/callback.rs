//! Callback validation: the input is the URL the browser came back to.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mcp_auth_core::oauth::{is_callback_for, query_param, validate_callback};

const STATE: &str = "S1";
const ISSUER: &str = "https://auth.example.com";

fuzz_target!(|data: &[u8]| {
    let Ok(url) = std::str::from_utf8(data) else {
        return;
    };
    for required in [false, true] {
        if let Ok(code) = validate_callback(url, STATE, ISSUER, required) {
            // a code is only accepted with the exact state
            assert_eq!(query_param(url.trim(), "state").as_deref(), Some(STATE));
            assert!(!code.secret().is_empty());
        }
    }
    let _ = query_param(url, "code");
    let _ = is_callback_for(url, "https://auth.example.com/authorize?state=S1");
});
