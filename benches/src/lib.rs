//! Inputs shared by the benchmarks in `benches/` (see BENCHMARKS.md at the repository root).
//! The criterion benchmarks of core live in `benches/core.rs`; whole-process timings are
//! `process.py`, the wasm build's figures `wasm.mjs`.

/// A stored token record as the CLI writes it (record version 2), for decode benchmarks.
pub fn token_record_json(identity: &str) -> String {
    serde_json::json!({
        "version": 2,
        "identity": identity,
        "resource": format!("{identity}/mcp"),
        "issuer": identity,
        "client_id": "bench-client",
        "access_token": "at-0123456789abcdef0123456789abcdef",
        "token_type": "Bearer",
        "refresh_token": "rt-0123456789abcdef0123456789abcdef",
        "expires_at": 4_102_444_800u64,
        "scope": "mcp:tools mcp:resources",
        "obtained_at": 1_700_000_000u64,
        "token_endpoint": format!("{identity}/token"),
        "revocation_endpoint": format!("{identity}/revoke"),
        "send_resource": true
    })
    .to_string()
}

/// An MCP answer framed as Server-Sent Events: `events` message events of `payload` bytes of
/// JSON each, after a priming event.
pub fn sse_body(events: usize, payload: usize) -> Vec<u8> {
    let text = "x".repeat(payload);
    let mut out = String::from("id: 0\nretry: 1000\ndata:\n\n");
    for i in 0..events {
        let message = serde_json::json!({"jsonrpc": "2.0", "method": "notifications/message",
            "params": {"level": "info", "data": text}});
        out.push_str(&format!(
            "id: {}\nevent: message\ndata: {message}\n\n",
            i + 1
        ));
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_record_fixture_decodes_as_a_token_record() {
        let record: mcp_auth_core::TokenRecord = mcp_auth_core::json::from_slice(
            super::token_record_json("https://a.example").as_bytes(),
        )
        .unwrap();
        assert_eq!(record.resource, "https://a.example/mcp");
    }

    #[test]
    fn the_sse_fixture_parses_into_its_events() {
        let events = mcp_auth_core::mcp::sse::parse_body(&super::sse_body(3, 10)).unwrap();
        assert_eq!(events.iter().filter(|e| !e.data.is_empty()).count(), 3);
    }
}
