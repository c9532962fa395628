//! MCP itself, as far as a client that authorizes needs it: the messages, the event-stream
//! parser, and one sans-IO [`Session`] per server that speaks every revision a server may
//! answer in (modern 2026-07-28, the `initialize`-based 2025-11-25 / 2025-06-18 / 2025-03-26,
//! and the 2024-11-05 HTTP+SSE transport). Hosts carry the bytes; nothing here does I/O
//! except the async driver in [`driver`], which goes through the host like the rest of core.
//!
//! Rooms: [`version`] (revisions and the `Protocol` choice), [`headers`] (request metadata
//! headers and their encoding), [`request`] (building requests), [`answer`] (reading
//! responses), [`sse`] (the event-stream parser), [`session`] (the state machine),
//! [`record`] (the remembered revision per server), [`driver`] (the async driver).

pub mod answer;
pub mod driver;
pub mod headers;
pub mod record;
pub mod request;
pub mod session;
pub mod sse;
pub mod version;

pub use driver::{McpClient, McpConnection};
pub use request::{discover_request, ACCEPT};
pub use session::{Chosen, Session, Step};
pub use version::{Era, Protocol, LATEST, VERSIONS};
