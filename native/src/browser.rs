//! Opening the authorization URL: `$BROWSER` when set (split on whitespace into a command and
//! its arguments; `%s` stands for the URL, else the URL is appended), else the OS default.

use std::process::{Command, Stdio};

/// Opens `url`; the error says why it could not.
pub fn open(url: &str) -> Result<(), String> {
    match std::env::var("BROWSER") {
        Ok(b) if !b.trim().is_empty() => run_browser_command(&b, url),
        _ => webbrowser::open(url).map_err(|e| format!("cannot open a browser: {e}")),
    }
}

fn run_browser_command(spec: &str, url: &str) -> Result<(), String> {
    let mut parts = spec.split_whitespace();
    let program = parts.next().ok_or_else(|| "BROWSER is empty".to_string())?;
    let mut args: Vec<String> = parts.map(str::to_string).collect();
    if args.iter().any(|a| a.contains("%s")) {
        for a in &mut args {
            *a = a.replace("%s", url);
        }
    } else {
        args.push(url.to_string());
    }
    let mut child = Command::new(program)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run BROWSER `{program}`: {e}"))?;
    // reap it whenever it ends
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}
