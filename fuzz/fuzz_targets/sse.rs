//! The event-stream parser: the same bytes split into two chunks at a fuzzed point give the
//! same events, retry and last id as in one piece.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mcp_auth_core::mcp::sse::SseParser;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let at = u16::from_le_bytes([data[0], data[1]]) as usize;
    let body = &data[2..];
    let at = if body.is_empty() {
        0
    } else {
        at % (body.len() + 1)
    };
    // a small limit so the fuzzer also reaches the bound
    for limit in [64, 1 << 20] {
        let mut whole = SseParser::with_limit(limit);
        let one = whole.feed(body);
        let mut split = SseParser::with_limit(limit);
        let two = split.feed(&body[..at]).and_then(|mut first| {
            first.extend(split.feed(&body[at..])?);
            Ok(first)
        });
        match (&one, &two) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a, b, "split at {at}");
                assert_eq!(whole.retry(), split.retry());
                assert_eq!(whole.last_event_id(), split.last_event_id());
            }
            (Err(_), _) | (_, Err(_)) => {
                // the bound counts a buffered line; a split may hit it at a different point
                // but a body that fits unsplit must fit split
                if limit > body.len() {
                    assert_eq!(one.is_ok(), two.is_ok(), "split at {at}");
                }
            }
        }
        // feeding byte by byte also agrees
        if one.is_ok() && body.len() <= 256 {
            let mut bytes = SseParser::with_limit(limit);
            let mut events = Vec::new();
            for b in body {
                match bytes.feed(std::slice::from_ref(b)) {
                    Ok(e) => events.extend(e),
                    Err(_) => return,
                }
            }
            assert_eq!(one.as_ref().ok(), Some(&events));
        }
    }
});
