//! The file store as a user meets it: a state folder others can use, or a token file that is
//! a symbolic link, stops the command with what to do, and nothing is written through.
#![cfg(unix)]

mod common;

use common::CliEnv;
use std::os::unix::fs::PermissionsExt;

#[test]
fn a_group_writable_state_folder_is_refused_with_what_to_run() {
    let env = CliEnv::new();
    let folder = env.store_file().parent().expect("folder").to_path_buf();
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o770)).expect("chmod");
    let run = env.run(&["token", "https://mcp.example.com/mcp"]).failed();
    assert!(
        run.stderr
            .contains(&format!("run `chmod 700 {}`", folder.display())),
        "{}",
        run.stderr
    );
    assert!(!env.store_file().exists(), "nothing was written there");
}

#[test]
fn a_symlinked_token_file_is_refused_and_the_target_untouched() {
    let env = CliEnv::new();
    let folder = env.store_file().parent().expect("folder").to_path_buf();
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let attacker = env.path().join("attacker.json");
    std::fs::write(&attacker, "{}").expect("write");
    std::os::unix::fs::symlink(&attacker, env.store_file()).expect("symlink");
    let run = env.run(&["token", "https://mcp.example.com/mcp"]).failed();
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&attacker).expect("read"), "{}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_store_lock_stops_login_after_the_bound_and_names_the_holder() {
    use mcp_auth_testkit::{Scenario, TestServer};
    let server = TestServer::start(Scenario::Default);
    let mut env = CliEnv::new();
    env.extra_env
        .push(("MCP_AUTH_LOCK_TIMEOUT".into(), "0.3".into()));
    let folder = env.store_file().parent().expect("folder").to_path_buf();
    let mut lock_name = env.store_file().into_os_string();
    lock_name.push(".lock");
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let held = mcp_auth::lock::FileLock::acquire(std::path::Path::new(&lock_name), "test")
        .expect("hold the writer lock");
    let (run, _) = env.run_with_browser(&["login", &server.mcp_url()]).await;
    let run = run.failed();
    assert!(
        run.stderr.contains("token file writer lock")
            && run
                .stderr
                .contains(&format!("held by pid {}", std::process::id()))
            && run.stderr.contains("MCP_AUTH_LOCK_TIMEOUT"),
        "{}",
        run.stderr
    );
    drop(held);
}
