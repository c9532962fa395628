//! The native shell of mcp-auth: host capabilities over reqwest, the OS keyring or files,
//! the loopback callback server and the browser, and the `mcp-auth` commands. No OAuth rule
//! is written here: core decides, this crate does the I/O.

pub mod assertion;
pub mod browser;
pub mod callback;
pub mod cli;
pub mod config;
pub mod flow_config;
pub mod host;
pub mod http;
pub mod keyring_batch;
pub mod limits;
pub mod lock;
mod private_fs;
pub mod redis_lock;
pub mod redis_store;
pub mod store;
