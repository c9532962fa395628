fn main() {
    // No panic reaches the user as a stack trace. A closed stdout (`mcp-auth status | head`)
    // ends the program quietly, the way a pipe is expected to.
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("unknown error");
        if msg.contains("Broken pipe") || msg.contains("failed printing to stdout") {
            std::process::exit(141);
        }
        eprintln!("mcp-auth: internal error: {msg}\nThis is a bug in mcp-auth; please report it.");
    }));
    std::process::exit(mcp_auth::cli::main_entry());
}
