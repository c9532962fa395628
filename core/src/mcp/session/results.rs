//! What the session keeps from results: the tool parameters mirrored into headers (and the
//! tools left out for invalid annotations), and the server's info.

use super::{Session, State, Step};
use crate::error::Result;
use crate::json::Json;
use crate::mcp::headers::{self, printable};

impl Session {
    /// Post-processing of a result: `tools/list` remembers which tool parameters go into
    /// headers and leaves out tools whose annotations are invalid; the server's info is
    /// remembered from any modern result's `_meta` (2026-07-28 servers identify themselves
    /// on every result, not only on `server/discover`).
    pub(super) fn finish(&mut self, method: &str, mut result: Json) -> Result<Step> {
        self.pending = None;
        if let Some(info) = result
            .get("_meta")
            .and_then(|m| m.get("io.modelcontextprotocol/serverInfo"))
            .filter(|i| i.is_object())
        {
            self.server_info = Some(info.clone());
        }
        match method {
            "tools/list" if matches!(self.state, State::Modern(_)) => {
                if let Some(tools) = result.get_mut("tools").and_then(Json::as_array_mut) {
                    let mut warnings = Vec::new();
                    // the server's order, added at once (a later tool of the same name wins)
                    let mut found = Vec::new();
                    tools.retain(|t| {
                        let name = t.get("name").and_then(Json::as_str).unwrap_or("");
                        let schema = t.get("inputSchema").unwrap_or(&Json::Null);
                        match headers::param_headers(schema) {
                            Ok(hs) => {
                                found.push((name.to_string(), hs));
                                true
                            }
                            Err(why) => {
                                warnings.push(format!(
                                    "left out tool `{}`: {why}",
                                    printable(name, 60)
                                ));
                                false
                            }
                        }
                    });
                    self.tools.extend(found);
                    self.warnings.extend(warnings);
                }
            }
            _ => {}
        }
        Ok(Step::Done(result))
    }
}
