//! The per-server escape hatches for authorization servers that break the rules: off by
//! default (the strict behaviour refuses), a warning on every use, shown in `status`.

mod common;

use common::CliEnv;
use mcp_auth_testkit::{Scenario, TestServer};

fn config(mcp: &str) -> String {
    format!(
        r#"
mcp:
  servers:
    strict:
      url: "{mcp}"
    lax:
      url: "{mcp}"
      auth:
        assume_pkce_s256: true
    noresource:
      url: "{mcp}"
      auth:
        send_resource: false
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assume_pkce_s256_is_off_by_default_and_warns_when_on() {
    // the authorization server supports PKCE but does not list code_challenge_methods_supported
    let server = TestServer::start(Scenario::NoPkceMetadata);
    let env = CliEnv::new();
    env.write_config("fastagent.config.yaml", &config(&server.mcp_url()));

    let strict = env.run(&["login", "strict"]).failed();
    assert!(strict.stderr.contains("PKCE"), "{}", strict.stderr);
    assert!(!strict.stderr.contains("warning:"), "{}", strict.stderr);
    assert_eq!(server.count("GET", "/authorize"), 0);

    let (run, n) = env.run_with_browser(&["login", "lax"]).await;
    let run = run.ok();
    assert_eq!(n, 1);
    assert!(
        run.stderr.contains("warning: PKCE S256 is assumed"),
        "{}",
        run.stderr
    );
    let st = env.run(&["status"]).ok();
    assert!(
        st.stdout
            .contains("lax: escape hatch on (assume_pkce_s256: true)"),
        "{}",
        st.stdout
    );
    assert!(!st.stdout.contains("strict: escape hatch"), "{}", st.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_resource_false_leaves_the_resource_parameter_out_and_warns() {
    let server = TestServer::start(Scenario::Default);
    let env = CliEnv::new();
    env.write_config("fastagent.config.yaml", &config(&server.mcp_url()));
    // the testkit's authorization server insists on `resource` (RFC 8707), so the login is
    // refused there; what matters is what the client sent and said
    let (run, n) = env.run_with_browser(&["login", "noresource"]).await;
    assert_eq!(n, 1);
    assert!(
        run.stderr
            .contains("warning: the RFC 8707 resource parameter is not sent"),
        "{}",
        run.stderr
    );
    let urls = std::fs::read_to_string(env.path().join("urls.txt")).expect("urls");
    let url = urls.lines().last().expect("an authorization URL");
    assert!(url.contains("code_challenge="), "{url}");
    assert!(!url.contains("resource="), "{url}");

    let (run, _) = env.run_with_browser(&["login", "strict"]).await;
    let run = run.ok();
    assert!(!run.stderr.contains("warning:"), "{}", run.stderr);
    let urls = std::fs::read_to_string(env.path().join("urls.txt")).expect("urls");
    assert!(urls.lines().last().expect("url").contains("resource="));
}
