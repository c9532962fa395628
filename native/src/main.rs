fn main() {
    std::process::exit(mcp_auth::cli::main_entry());
}
