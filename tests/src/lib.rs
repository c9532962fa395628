//! `mcp-auth-testkit`: a spec-faithful OAuth 2.1 authorization server and MCP resource server
//! for testing MCP clients, usable in-process from Rust tests or as a standalone binary.
//!
//! ```no_run
//! use mcp_auth_testkit::{Scenario, TestServer};
//! let server = TestServer::start(Scenario::Default);
//! println!("{}", server.mcp_url());
//! ```

// Handlers return ready `Response`s as their error type; boxing them buys nothing here.
#![allow(clippy::result_large_err)]

mod browse;
mod mcp;
mod oauth;
mod scenario;
mod server;
mod state;
mod statics;
mod util;

pub use browse::{browse, browse_and_deliver};
pub use scenario::{Scenario, UnknownScenario};
pub use server::{Options, TestServer};
pub use state::{AuthMethod, LoggedRequest, StaticClient, CODEX_ACCOUNT_ID, CODEX_CLIENT_ID};
pub use util::s256 as pkce_s256;
