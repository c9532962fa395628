//! Criterion benchmarks of core's pure functions: what every login, token and MCP request
//! costs in CPU before any network. `cargo bench -p mcp-auth-benches`; results in
//! BENCHMARKS.md.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use mcp_auth_benches::{sse_body, token_record_json};
use mcp_auth_core::oauth::{authorization_url, parse_token_response, AuthorizationParams};
use mcp_auth_core::records::check_record;
use mcp_auth_core::{pkce, resource_uri, www_authenticate, HttpResponse};

fn login_request(c: &mut Criterion) {
    c.bench_function(
        "pkce verifier + S256 challenge + state + authorization URL",
        |b| {
            b.iter(|| {
                let verifier = pkce::new_verifier().expect("random bytes");
                let challenge = pkce::challenge_s256(&verifier);
                let state = pkce::new_state().expect("random bytes");
                authorization_url(&AuthorizationParams {
                    authorization_endpoint: "https://auth.example.com/authorize",
                    client_id: "https://app.example.com/client.json",
                    redirect_uri: "http://localhost:3030/callback",
                    state: &state,
                    code_challenge: &challenge,
                    resource: Some("https://mcp.example.com/mcp"),
                    scope: Some("mcp:tools mcp:resources offline_access"),
                    extra: &[],
                })
                .expect("a valid URL")
            })
        },
    );
    c.bench_function("resource_uri of a server URL", |b| {
        b.iter(|| resource_uri(black_box("HTTPS://MCP.Example.com:443/mcp/#frag")).expect("valid"))
    });
}

fn server_answers(c: &mut Criterion) {
    let header = r#"Bearer realm="mcp", error="insufficient_scope", scope="mcp:tools mcp:admin", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", error_description="needs admin""#;
    c.bench_function("WWW-Authenticate Bearer challenge", |b| {
        b.iter(|| www_authenticate::bearer([black_box(header)]).expect("a challenge"))
    });
    let token = HttpResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"access_token":"at-0123456789abcdef","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-0123456789abcdef","scope":"mcp:tools"}"#.to_vec(),
    };
    c.bench_function("token response", |b| {
        b.iter(|| {
            parse_token_response(black_box(&token), 1_700_000_000, Some("mcp:tools"))
                .expect("valid")
        })
    });
    let record = token_record_json("https://mcp.example.com");
    // through core's decoder (the version check and the typed parse every read takes)
    c.bench_function("stored token record decode", |b| {
        b.iter(|| check_record(black_box("tokens:id|res"), black_box(&record)).expect("valid"))
    });
    let body = sse_body(64, 16 * 1024);
    let mut group = c.benchmark_group("SSE");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("1 MiB of events in 4 KiB chunks", |b| {
        b.iter(|| {
            let mut parser = mcp_auth_core::mcp::sse::SseParser::new();
            let mut n = 0;
            for chunk in body.chunks(4096) {
                n += parser.feed(chunk).expect("within the bound").len();
            }
            n
        })
    });
    group.finish();
    // a hostile server's answer: one flat object of 50,000 members (about 600 KB) where the
    // reader expects a few; each member must cost no scan of the ones before it
    let wide = format!(
        "{{{}}}",
        (0..50_000)
            .map(|i| format!("\"member-{i}\":0"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut group = c.benchmark_group("JSON");
    group.sample_size(10);
    group.bench_function("an object of 50,000 members", |b| {
        b.iter(|| mcp_auth_core::json::parse(black_box(wide.as_bytes())).expect("JSON"))
    });
    group.finish();
    // a server's 50,000 tools joining the session's cache: one sort of their names
    let tools: Vec<(String, u32)> = (0..50_000u32)
        .map(|i| {
            (
                format!("tool-{}", i.wrapping_mul(2_654_435_761) % 50_000),
                i,
            )
        })
        .collect();
    let mut group = c.benchmark_group("sorted");
    group.sample_size(10);
    group.bench_function("50,000 keys into a SortedMap", |b| {
        b.iter(|| {
            let mut map = mcp_auth_core::sorted::SortedMap::new();
            map.extend(black_box(tools.clone()));
            map
        })
    });
    group.finish();
}

criterion_group!(benches, login_request, server_answers);
criterion_main!(benches);
