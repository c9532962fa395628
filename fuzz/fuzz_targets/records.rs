//! The stored-record decoder: the first input line is the key kind, the rest the stored value
//! (a store is outside the process: a file, a keyring entry, localStorage).
#![no_main]
use libfuzzer_sys::fuzz_target;
use mcp_auth_core::records::check_record;

const KEYS: [&str; 7] = [
    "index",
    "tokens:default|https://mcp.example.com/mcp",
    "tokens:default",
    "client:default|https://auth.example.com",
    "discovery:https://mcp.example.com/mcp",
    "pending:S1",
    "protocol:https://mcp.example.com/mcp",
];

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let key = KEYS[first as usize % KEYS.len()];
    if let Err(e) = check_record(key, text) {
        // the message names the key and never panics to format
        let _ = e.to_string();
    }
});
