//! Configuration as the CLI sees it: fastagent.config.yaml with its secrets file and
//! `${VAR:default}`, `.mcp.json`, identity sharing between servers, `--json`, and the error
//! messages for bad input.

mod common;

use common::CliEnv;
use mcp_auth_testkit::{Scenario, TestServer};

fn server_row<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    status["servers"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("server {name} not in {status}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_from_yaml_with_secrets_and_env_share_an_identity() {
    let server = TestServer::start(Scenario::Default);
    let mut env = CliEnv::new();
    env.extra_env
        .push(("TESTKIT_BASE".into(), server.base_url()));
    env.write_config(
        "fastagent.config.yaml",
        r#"
mcp:
  servers:
    alpha:
      url: "${TESTKIT_BASE}/mcp"
      auth:
        scope: [mcp:read]
    beta:
      transport: sse
      url: "${TESTKIT_BASE:http://wrong.example}/sse"
    defaulted:
      url: "${UNSET_FOR_MCP_AUTH_TEST:https://fallback.example.com}/mcp"
    local:
      command: npx
      args: [some-server]
    headered:
      url: https://api.example.com/mcp
      headers:
        Authorization: "Bearer ${UNSET_KEY_FOR_TEST:abc}"
    off:
      url: https://off.example.com/mcp
"#,
    );
    env.write_config(
        "fastagent.secrets.yaml",
        "mcp:\n  servers:\n    off:\n      auth:\n        oauth: false\n",
    );
    // run from a subfolder: the config is found in a parent
    let sub = env.work().join("deeper").join("still");
    std::fs::create_dir_all(&sub).expect("mkdir");

    let st = env.run(&["status", "--json"]).ok().json();
    assert!(
        !env.path().join("state").join("mcp-auth").exists(),
        "status is read-only: it created the state folder"
    );
    let files = st["config_files"].to_string();
    assert!(files.contains("fastagent.config.yaml") && files.contains("fastagent.secrets.yaml"));
    assert!(
        st["servers"]
            .as_array()
            .expect("servers")
            .iter()
            .all(|s| s["name"] != "local"),
        "stdio servers are not listed"
    );
    assert_eq!(server_row(&st, "headered")["oauth"], "header");
    assert_eq!(
        server_row(&st, "off")["oauth"],
        "off",
        "merged from the secrets file"
    );
    assert_eq!(
        server_row(&st, "off")["url"],
        "https://off.example.com/mcp",
        "the merge keeps the main file's keys"
    );
    assert_eq!(
        server_row(&st, "defaulted")["identity"],
        "https://fallback.example.com"
    );
    assert_eq!(server_row(&st, "beta")["transport"], "sse");
    assert_eq!(server_row(&st, "alpha")["token"], "✗");

    // log in to alpha by name; beta shares its identity but is another resource (/sse):
    // alpha's token is not sent there, so beta needs its own login
    let (run, n) = env.run_with_browser(&["login", "alpha"]).await;
    run.ok();
    assert_eq!(n, 1);
    let st = env.run(&["status", "--json"]).ok().json();
    let alpha = server_row(&st, "alpha");
    let beta = server_row(&st, "beta");
    assert_eq!(alpha["identity"], server.base_url().as_str());
    assert_eq!(alpha["identity"], beta["identity"]);
    assert_eq!(alpha["token"], "✓");
    assert_eq!(beta["token"], "✗");
    let refused = env.run(&["token", "beta"]).failed();
    assert!(
        refused.stderr.contains("mcp-auth login beta") && refused.stdout.trim().is_empty(),
        "{}",
        refused.stderr
    );
    let (run, n) = env.run_with_browser(&["login", "beta"]).await;
    run.ok();
    assert_eq!(n, 1);
    let st = env.run(&["status", "--json"]).ok().json();
    assert_eq!(server_row(&st, "beta")["token"], "✓");
    let one = env.run(&["status", "beta"]).ok();
    assert!(
        one.stdout.contains("Servers:  alpha, beta"),
        "{}",
        one.stdout
    );
    assert!(one
        .stdout
        .contains(&format!("Identity: {}", server.base_url())));
    let tok_beta = env.run(&["token", "beta"]).ok();
    let tok_alpha = env.run(&["token", "alpha"]).ok();
    assert!(!tok_beta.stdout.trim().is_empty());
    assert_ne!(
        tok_alpha.stdout.trim(),
        tok_beta.stdout.trim(),
        "each resource has its own token"
    );

    // servers that do not use OAuth say so
    let stdio = env.run(&["login", "local"]).failed();
    assert!(
        stdio.stderr.contains("STDIO servers do not use OAuth"),
        "{}",
        stdio.stderr
    );
    let off = env.run(&["login", "off"]).failed();
    assert!(off.stderr.contains("auth.oauth: false"), "{}", off.stderr);
    let hdr = env.run(&["token", "headered"]).failed();
    assert!(
        hdr.stderr.contains("Authorization header"),
        "{}",
        hdr.stderr
    );
    let unknown = env.run(&["login", "nope"]).failed();
    assert!(
        unknown
            .stderr
            .contains("`nope` is neither a configured server nor a URL")
            && unknown.stderr.contains("alpha, beta"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn bad_yaml_names_the_file_line_and_problem() {
    let env = CliEnv::new();
    let path = env.write_config(
        "fastagent.config.yaml",
        "mcp:\n  servers:\n    x:\n      transport: htp\n      url: https://a.example/mcp\n",
    );
    let run = env.run(&["status"]).failed();
    assert!(
        run.stderr.contains(&path.display().to_string()),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("line 4"), "{}", run.stderr);
    assert!(
        run.stderr.contains("unknown variant `htp`"),
        "{}",
        run.stderr
    );

    let env = CliEnv::new();
    env.write_config(
        "fastagent.config.yaml",
        "mcp:\n  servers:\n    x:\n      url: [unclosed\n",
    );
    let run = env.run(&["status"]).failed();
    assert!(run.stderr.contains("line "), "{}", run.stderr);

    let env = CliEnv::new();
    env.write_config(
        "fastagent.config.yaml",
        "mcp:\n  servers:\n    x:\n      url: https://a.example/mcp\n      auth:\n        persist: vault\n",
    );
    let run = env.run(&["status"]).failed();
    assert!(
        run.stderr.contains("line 6") && run.stderr.contains("vault"),
        "{}",
        run.stderr
    );

    let env = CliEnv::new();
    env.write_config(
        "fastagent.config.yaml",
        "mcp:\n  servers:\n    x:\n      url: https://a.example/mcp\n      auth:\n        scopes: a\n",
    );
    let run = env.run(&["status"]).ok();
    assert!(
        run.stderr.contains("unknown key `auth.scopes` ignored"),
        "a typo is pointed out: {}",
        run.stderr
    );

    let env = CliEnv::new();
    env.write_config(
        "fastagent.config.yaml",
        "mcp:\n  servers:\n    x:\n      transport: http\n",
    );
    let run = env.run(&["status"]).failed();
    assert!(
        run.stderr
            .contains("server `x` uses transport http but has no url"),
        "{}",
        run.stderr
    );

    let env = CliEnv::new();
    let path = env.write_config(
        "fastagent.config.yaml",
        "# ${IN_A_COMMENT_IS_FINE}\nmcp:\n  servers:\n    x:\n      url: https://a.example/mcp\n      auth:\n        client_secret: ${MCP_AUTH_TEST_SURELY_UNSET_VAR}\n",
    );
    let run = env.run(&["status"]).failed();
    assert!(
        run.stderr.contains(&path.display().to_string())
            && run.stderr.contains("line 7")
            && run
                .stderr
                .contains("environment variable `MCP_AUTH_TEST_SURELY_UNSET_VAR` is not set"),
        "an unset variable is named: {}",
        run.stderr
    );
}

#[test]
fn mcp_json_servers_are_read() {
    let env = CliEnv::new();
    env.write_config(
        ".mcp.json",
        r#"{"mcpServers": {
            "remote": {"type": "http", "url": "https://remote.example.com/mcp"},
            "legacy": {"type": "sse", "url": "https://remote.example.com/sse"},
            "tool": {"command": "uvx", "args": ["thing"]}
        }}"#,
    );
    let st = env.run(&["status", "--json"]).ok().json();
    assert_eq!(server_row(&st, "remote")["transport"], "http");
    assert_eq!(server_row(&st, "legacy")["transport"], "sse");
    assert_eq!(
        server_row(&st, "remote")["identity"],
        server_row(&st, "legacy")["identity"]
    );
    let stdio = env.run(&["token", "tool"]).failed();
    assert!(stdio.stderr.contains("STDIO servers do not use OAuth"));

    let env = CliEnv::new();
    let p = env.write_config(
        "broken.json",
        "{\"mcpServers\": {\n  \"a\": {\"url\": 5}\n}}",
    );
    let run = env
        .run(&["status", "-c", &p.display().to_string()])
        .failed();
    assert!(run.stderr.contains("line 2"), "{}", run.stderr);
}

#[test]
fn bad_input_gets_a_clear_error_and_no_panic() {
    let env = CliEnv::new();
    let r = env.run(&["token", "ftp://x.example"]).failed();
    assert!(r.stderr.contains("not an http(s) URL"), "{}", r.stderr);
    let r = env.run(&["login", "http://example.com/mcp"]).failed();
    assert!(r.stderr.contains("refusing plain http://"), "{}", r.stderr);
    let r = env
        .run(&["status", "-c", "/nonexistent/fastagent.config.yaml"])
        .failed();
    assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
    let r = env.run(&["clear"]).failed();
    assert!(r.stderr.contains("--all"), "{}", r.stderr);
    let r = env
        .run(&[
            "probe",
            "https://a.example/mcp",
            "--call",
            "x",
            "--args",
            "{nope",
        ])
        .failed();
    assert!(
        r.stderr.contains("--args is not valid JSON"),
        "{}",
        r.stderr
    );
    let mut env2 = CliEnv::new();
    env2.store = Some("vault");
    let r = env2.run(&["status"]).failed();
    assert!(r.stderr.contains("MCP_AUTH_STORE"), "{}", r.stderr);
    let r = env.run(&["token", "https://a.example/mcp"]).failed();
    assert!(r.stderr.contains("mcp-auth login"), "{}", r.stderr);
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let env = CliEnv::new();
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = env
        .command(&["status"])
        .stdout(writer)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("internal error"), "{stderr}");
    assert_eq!(out.status.code(), Some(141));
}
