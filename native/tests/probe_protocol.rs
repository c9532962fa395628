//! `mcp-auth probe` against testkit servers of each MCP era, over real HTTP on 127.0.0.1:
//! modern-only (2026-07-28), legacy-only (`initialize`), dual, and a server whose SSE
//! answers start with a priming event; the revision spoken is printed, remembered for the
//! next run, and can be forced with `--protocol`.

mod common;

use common::CliEnv;
use mcp_auth_testkit::{LineEnd, Options, Protocol, Scenario, TestServer};

fn start(protocol: Protocol, priming_event: Option<LineEnd>) -> TestServer {
    TestServer::start_with(Options {
        scenario: Scenario::Default,
        protocol,
        priming_event,
        ..Options::default()
    })
    .expect("the testkit starts")
}

fn tool_names(v: &serde_json::Value) -> Vec<String> {
    v["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect()
}

/// Logs in through probe (one authorization), checks the tools and the revision; then a
/// second probe, with the server's log cleared, must start from the remembered revision.
async fn probe_era(protocol: Protocol, priming: Option<LineEnd>, expected: &str, posts: usize) {
    let server = start(protocol, priming);
    let env = CliEnv::new();
    let mcp = server.mcp_url();
    let (run, logins) = env.run_with_browser(&["probe", &mcp, "--json"]).await;
    let v = run.ok().json();
    assert_eq!(logins, 1, "{protocol:?}");
    assert_eq!(v["protocolVersion"], expected, "{protocol:?}: {v}");
    let names = tool_names(&v);
    for t in ["echo", "whoami", "write_note"] {
        assert!(names.iter().any(|n| n == t), "{protocol:?}: {names:?}");
    }

    server.clear_log();
    let human = env
        .run(&[
            "probe",
            &mcp,
            "--call",
            "echo",
            "--args",
            r#"{"text":"era-check"}"#,
        ])
        .ok();
    assert!(
        human.stdout.contains(&format!("(protocol {expected})")),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("era-check"), "{}", human.stdout);
    // every era names the server (modern results carry it in `_meta`)
    assert!(
        human.stdout.contains("Connected to mcp-auth-testkit"),
        "{protocol:?}: {}",
        human.stdout
    );
    assert_eq!(
        server.count("POST", "/mcp"),
        posts,
        "{protocol:?}: the second run starts from the remembered revision: {:?}",
        server.request_lines()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modern_only_server() {
    // tools/list + tools/call, one POST each
    probe_era(Protocol::Modern, None, "2026-07-28", 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_only_server() {
    // initialize + notifications/initialized + tools/list + tools/call (then a DELETE)
    probe_era(Protocol::Legacy, None, "2025-11-25", 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dual_era_server_is_spoken_to_in_the_modern_revision() {
    probe_era(Protocol::Dual, None, "2026-07-28", 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_answers_with_priming_events() {
    probe_era(Protocol::Legacy, Some(LineEnd::CrLf), "2025-11-25", 4).await;
    probe_era(Protocol::Modern, Some(LineEnd::Lf), "2026-07-28", 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_revision() {
    let server = start(Protocol::Dual, None);
    let env = CliEnv::new();
    let mcp = server.mcp_url();
    let (run, _) = env
        .run_with_browser(&["probe", &mcp, "--protocol", "2025-06-18", "--json"])
        .await;
    let v = run.ok().json();
    assert_eq!(v["protocolVersion"], "2025-06-18", "{v}");

    // a legacy-only server does not speak 2026-07-28: a clear error, no fallback
    let legacy = start(Protocol::Legacy, None);
    let env = CliEnv::new();
    let (run, _) = env
        .run_with_browser(&["probe", &legacy.mcp_url(), "--protocol", "2026-07-28"])
        .await;
    let run = run.failed();
    assert!(
        run.stderr.contains("tools/list") && run.stderr.contains("`auto`"),
        "{}",
        run.stderr
    );
    assert_eq!(legacy.count("DELETE", "/mcp"), 0);

    let bad = env
        .run(&["probe", &mcp, "--protocol", "2024-01-01"])
        .failed();
    assert!(bad.stderr.contains("auto"), "{}", bad.stderr);
}

/// An HTTP+SSE server whose `endpoint` names another origin, or plain http off loopback:
/// the session refuses it, and the other origin never sees a request (they carry the token).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_sse_endpoints_are_refused() {
    for scenario in [Scenario::SseCrossOrigin, Scenario::SsePlainHttp] {
        let server = TestServer::start(scenario);
        let env = CliEnv::new();
        let (run, _) = env
            .run_with_browser(&["probe", &server.sse_url(), "--transport", "sse"])
            .await;
        let run = run.failed();
        assert!(
            run.stderr.contains("refusing to send it requests"),
            "{scenario:?}: {}",
            run.stderr
        );
        if let Some(other) = server.second_origin() {
            assert!(server.requests_at(&other).is_empty(), "{scenario:?}");
        }
        assert_eq!(server.count("POST", "/messages"), 0, "{scenario:?}");
    }
}
