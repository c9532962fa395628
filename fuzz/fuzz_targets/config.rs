//! The native config loader: the input is written to a config file (fast-agent YAML or
//! `mcp.json`, by the first byte) in a private temporary folder and loaded; `${VAR}`
//! substitution is also run on it with a fixed environment.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mcp_auth::config::{substitute_with, Config};
use std::path::PathBuf;
use std::sync::OnceLock;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("mcp-auth-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("temp folder");
        d
    })
}

fn lookup(name: &str) -> Option<String> {
    match name {
        "HOME" => Some("/home/u".into()),
        "TOKEN" => Some("${TOKEN}".into()),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if let Ok(out) = substitute_with(text, lookup) {
        // text without `$` comes back unchanged
        if !text.contains('$') {
            assert_eq!(out, text);
        }
    }
    let name = if first & 1 == 0 {
        "fastagent.config.yaml"
    } else {
        "mcp.json"
    };
    let path = dir().join(name);
    std::fs::write(&path, text).expect("write the config");
    if let Err(e) = Config::load(Some(&path)) {
        let _ = e.to_string();
    }
});
