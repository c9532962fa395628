fn main() {
    // No panic reaches the user as a stack trace. (A closed stdout is no panic: every print
    // goes through `cli::out`, which ends the command quietly on a `BrokenPipe` write error.)
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("unknown error");
        mcp_auth::cli::out::stderr_line(format_args!(
            "mcp-auth: internal error: {msg}\nThis is a bug in mcp-auth; please report it."
        ));
    }));
    std::process::exit(mcp_auth::cli::main_entry());
}
