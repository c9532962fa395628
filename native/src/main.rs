fn main() {
    eprintln!("mcp-auth: the CLI arrives with its own issue");
    std::process::exit(2);
}
