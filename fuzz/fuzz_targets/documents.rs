//! Documents from servers: resource and authorization server metadata, token, registration
//! and error responses. The first byte picks the HTTP status; the rest is the body.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mcp_auth_core::metadata::{AuthServerMetadata, ProtectedResourceMetadata};
use mcp_auth_core::oauth::{endpoint_error, parse_registration_response, parse_token_response};
use mcp_auth_core::HttpResponse;

const STATUSES: [u16; 6] = [200, 201, 400, 401, 500, 302];
const NOW: u64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let resp = HttpResponse {
        status: STATUSES[first as usize % STATUSES.len()],
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_vec(),
    };
    if let Ok(prm) = ProtectedResourceMetadata::parse(body, "https://mcp.example.com/prm") {
        let _ = prm.check_resource("https://mcp.example.com/mcp", "https://mcp.example.com/prm");
    }
    if let Ok(asm) = AuthServerMetadata::parse(body, "https://auth.example.com/meta") {
        for assume in [false, true] {
            let _ = asm.validate(
                "https://auth.example.com",
                assume,
                "https://mcp.example.com/mcp",
            );
            let _ = asm.validate("http://127.0.0.1:9", assume, "http://127.0.0.1:8/mcp");
        }
        let _ = asm.supports_scope("files:read");
    }
    for scope in [None, Some("files:read")] {
        if let Ok(grant) = parse_token_response(&resp, NOW, scope) {
            assert!(resp.is_success());
            assert!(!grant.access_token.secret().is_empty());
            assert!(grant.token_type.eq_ignore_ascii_case("bearer"));
            if let Some(at) = grant.expires_at {
                assert!(at >= NOW);
            }
        }
    }
    let _ = parse_registration_response(
        &resp,
        "https://auth.example.com",
        "http://127.0.0.1:3030/callback",
        NOW,
    );
    let _ = endpoint_error(&resp);
});
