//! MCP answers: a session is driven through a fuzzed sequence of server responses (each:
//! a status byte, a content-type byte, a two-byte length, the body). The answer readers see
//! every response too.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mcp_auth_core::mcp::answer::{answer_to, http_error, messages, modern_error};
use mcp_auth_core::mcp::sse::parse_body;
use mcp_auth_core::mcp::{Protocol, Session, Step, VERSIONS};
use mcp_auth_core::HttpResponse;

const STATUSES: [u16; 8] = [200, 202, 400, 401, 404, 405, 406, 500];
const TYPES: [Option<&str>; 4] = [
    Some("application/json"),
    Some("text/event-stream"),
    Some("Text/Event-Stream; charset=utf-8"),
    None,
];

fn responses(mut data: &[u8]) -> Vec<HttpResponse> {
    let mut out = Vec::new();
    while data.len() >= 4 && out.len() < 8 {
        let status = STATUSES[data[0] as usize % STATUSES.len()];
        let ctype = TYPES[data[1] as usize % TYPES.len()];
        let len = u16::from_le_bytes([data[2], data[3]]) as usize;
        let rest = &data[4..];
        let len = len.min(rest.len());
        let mut headers = Vec::new();
        if let Some(c) = ctype {
            headers.push(("content-type".to_string(), c.to_string()));
        }
        if data[1] & 0x80 != 0 {
            headers.push(("mcp-session-id".to_string(), "s-1".to_string()));
        }
        out.push(HttpResponse {
            status,
            headers,
            body: rest[..len].to_vec(),
        });
        data = &rest[len..];
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let protocol = match first as usize % (VERSIONS.len() + 1) {
        0 => Protocol::Auto,
        n => Protocol::Fixed(VERSIONS[n - 1]),
    };
    let resps = responses(rest);
    for resp in &resps {
        if let Ok(msgs) = messages(resp) {
            let _ = answer_to(msgs, 1);
        }
        let _ = modern_error(resp);
        let _ = http_error("tools/list", resp).to_string();
    }
    let mut session = Session::new("https://mcp.example.com/mcp", protocol);
    let Ok(mut step) = session.start("tools/list", None) else {
        return;
    };
    for resp in resps {
        let next = match step {
            Step::Send(_) => session.on_response(resp),
            Step::OpenStream(_) => {
                let ctype = resp
                    .headers
                    .iter()
                    .find(|(k, _)| k == "content-type")
                    .map(|(_, v)| v.as_str());
                match session.on_stream_open(resp.status, ctype) {
                    Ok(Step::ReadStream) => read(&mut session, &resp.body),
                    other => other,
                }
            }
            Step::ReadStream => read(&mut session, &resp.body),
            Step::Done(_) => return,
        };
        step = match next {
            Ok(s) => s,
            Err(e) => {
                let _ = e.to_string();
                match session.start("tools/list", None) {
                    Ok(s) => s,
                    Err(_) => return,
                }
            }
        };
    }
    let _ = session.close();
});

fn read(session: &mut Session, body: &[u8]) -> mcp_auth_core::Result<Step> {
    let Ok(events) = parse_body(body) else {
        return Ok(Step::ReadStream);
    };
    for event in events {
        if let Some(step) = session.on_event(event)? {
            return Ok(step);
        }
    }
    Ok(Step::ReadStream)
}
