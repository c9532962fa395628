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
