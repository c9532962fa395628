//! A client secret given to `login` without putting it on the command line: from standard
//! input (`--client-secret-stdin`) or `MCP_AUTH_CLIENT_SECRET`; the flag still works but warns.

mod common;

use common::CliEnv;
use mcp_auth_testkit::{Scenario, TestServer};

const WARNING: &str = "--client-secret is visible to other users";

/// Logs in as the testkit's confidential `basic-client`, then asks the server who we are.
async fn login_as_basic_client(
    server: &TestServer,
    extra: &[&str],
    env_secret: Option<&str>,
    stdin: Option<&str>,
) -> (common::Run, String) {
    let mut env = CliEnv::new();
    if let Some(secret) = env_secret {
        env.extra_env
            .push(("MCP_AUTH_CLIENT_SECRET".into(), secret.into()));
    }
    let url = server.mcp_url();
    let mut args = vec!["login", url.as_str(), "--client-id", "basic-client"];
    args.extend_from_slice(extra);
    let (run, _) = env.run_with_browser_and_stdin(&args, stdin).await;
    let whoami = if run.code == 0 {
        env.run(&["probe", &url, "--call", "whoami", "--json"])
            .ok()
            .json()["call"]
            .to_string()
    } else {
        String::new()
    };
    (run, whoami)
}

#[tokio::test(flavor = "multi_thread")]
async fn client_secret_from_stdin_logs_in_without_a_warning() {
    let server = TestServer::start(Scenario::Preregistered);
    let (run, whoami) = login_as_basic_client(
        &server,
        &["--client-secret-stdin"],
        None,
        Some("basic-secret\n"),
    )
    .await;
    let run = run.ok();
    assert!(whoami.contains("basic-client"), "{whoami}");
    assert!(!run.stderr.contains(WARNING), "{}", run.stderr);
    assert!(!run.stderr.contains("basic-secret") && !run.stdout.contains("basic-secret"));
}

#[tokio::test(flavor = "multi_thread")]
async fn client_secret_from_the_environment_logs_in() {
    let server = TestServer::start(Scenario::Preregistered);
    let (run, whoami) = login_as_basic_client(&server, &[], Some("basic-secret"), None).await;
    let run = run.ok();
    assert!(whoami.contains("basic-client"), "{whoami}");
    assert!(!run.stderr.contains(WARNING), "{}", run.stderr);

    // and it is really what is sent: a wrong one is refused by the server
    let (run, _) = login_as_basic_client(&server, &[], Some("not-the-secret"), None).await;
    let run = run.failed();
    assert!(run.stderr.contains("invalid_client"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn client_secret_flag_still_works_but_warns() {
    let server = TestServer::start(Scenario::Preregistered);
    let (run, whoami) =
        login_as_basic_client(&server, &["--client-secret", "basic-secret"], None, None).await;
    let run = run.ok();
    assert!(whoami.contains("basic-client"), "{whoami}");
    assert!(
        run.stderr.contains(WARNING)
            && run.stderr.contains("--client-secret-stdin")
            && run.stderr.contains("MCP_AUTH_CLIENT_SECRET"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("basic-secret"), "{}", run.stderr);
}

#[test]
fn client_secret_stdin_without_input_fails_clearly() {
    let env = CliEnv::new();
    let run = env
        .run(&[
            "login",
            "https://mcp.example.com/mcp",
            "--client-id",
            "x",
            "--client-secret-stdin",
        ])
        .failed();
    assert!(
        run.stderr.contains("--client-secret-stdin") && run.stderr.contains("no secret"),
        "{}",
        run.stderr
    );
    let both = env
        .run(&[
            "login",
            "https://mcp.example.com/mcp",
            "--client-secret",
            "s",
            "--client-secret-stdin",
        ])
        .failed();
    assert!(
        both.stderr.contains("cannot be used with"),
        "{}",
        both.stderr
    );
}
