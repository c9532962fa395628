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

mod admin;
mod browse;
mod canned;
mod dpop;
mod hostile;
mod mcp;
mod modern;
mod oauth;
mod protocol;
mod scenario;
mod server;
mod sse;
mod state;
mod statics;
mod util;

pub use browse::{browse, browse_and_deliver};
pub use canned::Canned;
pub use protocol::{LineEnd, Protocol, LEGACY_VERSIONS, MODERN_VERSION};
pub use scenario::{Scenario, SecondListener, UnknownScenario};
pub use server::{Options, TestServer};
pub use sse::PLAIN_HTTP_HOST;
pub use state::{AuthMethod, LoggedRequest, StaticClient, CODEX_ACCOUNT_ID, CODEX_CLIENT_ID};
pub use util::s256 as pkce_s256;
