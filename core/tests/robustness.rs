//! Input from outside the process never panics the parsers: a deterministic stream of
//! random and mutated inputs through every function that reads untrusted text.

use mcp_auth_core::host::HttpResponse;
use mcp_auth_core::metadata::{AuthServerMetadata, ProtectedResourceMetadata};
use mcp_auth_core::oauth::{parse_registration_response, parse_token_response, validate_callback};
use mcp_auth_core::www_authenticate::{bearer, parse_challenges};
use mcp_auth_core::{identity, mcp, resource_uri};

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const SEEDS: &[&str] = &[
    r#"Bearer resource_metadata="https://a.example/prm", scope="a b", error="insufficient_scope""#,
    r#"Basic realm="x", Bearer error=invalid_token, Negotiate abc=="#,
    "http://localhost:3030/callback?code=abc&state=S&iss=https%3A%2F%2Fas.example",
    "https://user:pw@Example.COM:443/a/b/?q=1#f",
    r#"{"access_token":"a","token_type":"Bearer","expires_in":3600,"refresh_token":"r","scope":"x"}"#,
    r#"{"issuer":"https://as","authorization_endpoint":"https://as/a","token_endpoint":"https://as/t","code_challenge_methods_supported":["S256"]}"#,
    r#"{"resource":"https://rs/mcp","authorization_servers":["https://as"]}"#,
    r#"{"client_id":"c","client_secret":"s","token_endpoint_auth_method":"client_secret_post"}"#,
    "event: message\ndata: {\"id\":1}\n\n",
    "\u{feff}id: 0\r\ndata:\r\n\r\n: c\rretry: 10\revent: endpoint\rdata: /m?s=1\r\r",
    r#"{"type":"object","properties":{"a":{"type":"string","x-mcp-header":"A"},"b":{"properties":{"c":{"type":"integer","x-mcp-header":"C"}}}}}"#,
    r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32022,"message":"x","data":{"supported":["2025-11-25","2026-07-28"]}}}"#,
    r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","resultType":"complete","tools":[]}}"#,
];
const PIECES: &[&str] = &[
    "\"",
    "\\",
    ",",
    "=",
    " ",
    "\t",
    "%",
    "%zz",
    "&",
    "?",
    "#",
    "[",
    "]",
    "::",
    "\u{0}",
    "\u{e9}",
    "\u{1F600}",
    "{",
    "}",
    "null",
    "-1",
    "1e309",
    "\n",
    "\r\n",
    "data:",
    "Bearer",
    "==",
    "state=",
    "iss=",
    "code=",
    "\r",
    "id:",
    "retry:",
    "event:",
    ":",
    "x-mcp-header",
    "=?base64?",
];

fn mutate(rng: &mut Rng, seed: &str) -> String {
    let mut chars: Vec<char> = seed.chars().collect();
    for _ in 0..(rng.next() % 6) {
        let at = if chars.is_empty() {
            0
        } else {
            (rng.next() % (chars.len() as u64 + 1)) as usize
        };
        match rng.next() % 3 {
            0 => {
                let piece: Vec<char> = rng.pick(PIECES).chars().collect();
                chars.splice(at..at, piece);
            }
            1 if at < chars.len() => {
                let end = (at + 1 + (rng.next() % 8) as usize).min(chars.len());
                chars.drain(at..end);
            }
            _ => chars.truncate(at),
        }
    }
    chars.into_iter().collect()
}

#[test]
fn parsers_never_panic_on_mutated_input() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let seed = rng.pick(SEEDS);
        let input = mutate(&mut rng, seed);
        let _ = parse_challenges([input.as_str()]);
        let _ = bearer([input.as_str(), "Bearer"]);
        let _ = validate_callback(
            &input,
            "S",
            "https://as.example",
            rng.next().is_multiple_of(2),
        );
        let _ = identity(&input);
        let _ = resource_uri(&input);
        let resp = HttpResponse {
            status: [200u16, 201, 400, 500][(rng.next() % 4) as usize],
            headers: vec![(
                "content-type".into(),
                rng.pick(&["application/json", "text/event-stream"]).into(),
            )],
            body: input.clone().into_bytes(),
        };
        let _ = parse_token_response(&resp, u64::MAX - (rng.next() % 10), Some("x"));
        let _ =
            parse_registration_response(&resp, "https://as", "http://localhost:3030/callback", 0);
        let _ = mcp::answer::messages(&resp);
        if let Ok(m) = AuthServerMetadata::parse(input.as_bytes(), "u") {
            let _ = m.validate("https://as", false, "https://rs/mcp");
        }
        if let Ok(p) = ProtectedResourceMetadata::parse(input.as_bytes(), "u") {
            let _ = p.check_resource("https://rs/mcp", "u");
        }
    }
}

#[test]
fn far_future_expiry_saturates() {
    let resp = HttpResponse {
        status: 200,
        headers: vec![],
        body: br#"{"access_token":"a","token_type":"Bearer","expires_in":60}"#.to_vec(),
    };
    assert_eq!(
        parse_token_response(&resp, u64::MAX - 1, None)
            .unwrap()
            .expires_at,
        Some(u64::MAX)
    );
}

#[test]
/// The SSE parser gives the same events however the bytes are chunked; the MCP answer
/// readers, header encoders and the session never panic on mutated server input.
fn mcp_parsers_and_the_session_on_mutated_input() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for _ in 0..20_000 {
        let seed = rng.pick(SEEDS);
        let input = mutate(&mut rng, seed);
        let bytes = input.as_bytes();
        let whole = mcp::sse::parse_body(bytes).expect("small input fits");
        let mut p = mcp::sse::SseParser::new();
        let mut pieces = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = 1 + (rng.next() % 7) as usize;
            let (a, b) = rest.split_at(n.min(rest.len()));
            pieces.extend(p.feed(a).expect("small input fits"));
            rest = b;
        }
        assert_eq!(pieces, whole, "{input:?}");
        let _ = mcp::headers::encode_value(&input);
        if let Ok(v) = mcp_auth_core::json::parse(input.as_bytes()) {
            if let Ok(hs) = mcp::headers::param_headers(&v) {
                let _ = mcp::headers::param_values(&hs, &v);
            }
        }
        for (status, ctype) in [
            (200u16, "application/json"),
            (200, "text/event-stream"),
            (400, "application/json"),
            (404, "text/plain"),
        ] {
            let resp = HttpResponse {
                status,
                headers: vec![
                    ("content-type".into(), ctype.into()),
                    ("mcp-session-id".into(), input.chars().take(20).collect()),
                ],
                body: input.clone().into_bytes(),
            };
            let _ = mcp::answer::messages(&resp);
            let _ = mcp::answer::modern_error(&resp);
            for protocol in [mcp::Protocol::Auto, mcp::Protocol::Fixed("2025-11-25")] {
                let mut s = mcp::Session::new("http://127.0.0.1:1/mcp", protocol);
                let _ = s.start(
                    "tools/call",
                    Some(
                        mcp_auth_core::json::Object::new()
                            .with("name", input.as_str())
                            .into(),
                    ),
                );
                let _ = s.on_response(resp.clone());
            }
        }
        let mut s = mcp::Session::new("http://127.0.0.1:1/sse", mcp::Protocol::Fixed("2024-11-05"));
        let _ = s.start("tools/list", None);
        let _ = s.on_stream_open(200, Some("text/event-stream"));
        for e in whole {
            let _ = s.on_event(e);
        }
    }
}

/// Found by `fuzz/run.sh sse`: whether the buffer bound was hit depended on where the stream
/// was split into chunks (a line that arrived whole was not counted against the bound, one
/// buffered across two chunks was). The same bytes must give the same answer in any chunking.
#[test]
fn the_sse_bound_does_not_depend_on_chunking() {
    use mcp_auth_core::mcp::sse::SseParser;
    // the crashing input: two bytes of split point, then the stream
    let input: &[u8] = &[
        0xbd, 0x72, 0x99, 0x74, 0x1, 0x0, 0x0, 0x0, 0xa, 0x64, 0x61, 0x74, 0x61, 0x3a, 0x32, 0x2c,
        0x22, 0x64, 0xef, 0xbf, 0xbd, 0xe2, 0x6c, 0x88, 0xc8, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88,
        0x88, 0x88, 0x0, 0x51, 0x74, 0x22, 0x32, 0x3a, 0x7b, 0x7d, 0x3a, 0x20, 0x0, 0x61, 0x8,
        0x6a, 0x61, 0x74, 0x61, 0x3a, 0x20, 0x3a, 0x6d, 0x20, 0x20, 0x20, 0x37, 0xa, 0x65, 0x76,
        0x65, 0x6e, 0x74, 0xa,
    ];
    let body = &input[2..];
    let whole = SseParser::with_limit(64).feed(body);
    for at in 0..=body.len() {
        let mut p = SseParser::with_limit(64);
        let split = p.feed(&body[..at]).and_then(|mut events| {
            events.extend(p.feed(&body[at..])?);
            Ok(events)
        });
        assert_eq!(whole.is_ok(), split.is_ok(), "split at {at}");
        if let (Ok(a), Ok(b)) = (&whole, &split) {
            assert_eq!(a, b, "split at {at}");
        }
    }
    // and a plain case: 50 bytes of data, then a 20-byte line, bound 64
    let stream = format!("data: {}\nevent: {}\n", "d".repeat(50), "e".repeat(13));
    let whole = SseParser::with_limit(64).feed(stream.as_bytes());
    let mut p = SseParser::with_limit(64);
    let (a, b) = stream.as_bytes().split_at(60);
    let split = p.feed(a).and_then(|_| p.feed(b));
    assert!(whole.is_err());
    assert!(split.is_err());
}
