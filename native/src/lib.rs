//! The native shell of mcp-auth: host capabilities over reqwest, the OS keyring or files,
//! the loopback callback server and the browser. No OAuth rule is written here.

pub mod http;
pub mod store;
