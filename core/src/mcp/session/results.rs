//! What the session keeps from results: the tool parameters mirrored into headers (and the
//! tools left out for invalid annotations), and the server's info.

use super::{Session, State, Step};
use crate::error::Result;
use crate::json::{Json, Object};
use crate::mcp::headers::{self, printable};
use serde_json::Value;

impl Session {
    /// Post-processing of a result: `tools/list` remembers which tool parameters go into
    /// headers and leaves out tools whose annotations are invalid; the server's info is
    /// remembered from any modern result's `_meta` (2026-07-28 servers identify themselves
    /// on every result, not only on `server/discover`).
    pub(super) fn finish(&mut self, method: &str, mut result: Value) -> Result<Step> {
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
                if let Some(tools) = result.get_mut("tools").and_then(Value::as_array_mut) {
                    let mut warnings = Vec::new();
                    let cache = &mut self.tools;
                    tools.retain(|t| {
                        let name = t.get("name").and_then(Value::as_str).unwrap_or("");
                        let schema = t.get("inputSchema").map(tree).unwrap_or_default();
                        match headers::param_headers(&schema) {
                            Ok(hs) => {
                                cache.insert(name.to_string(), hs);
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
                    self.warnings.extend(warnings);
                }
            }
            _ => {}
        }
        Ok(Step::Done(result))
    }
}

/// Core's tree of a `serde_json::Value`, for the header checks while the session itself
/// still holds `Value`s (issue 11: goes away when the session moves to `Json`).
pub(super) fn tree(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => n.as_f64().map_or(Json::Null, Json::Number),
        Value::String(s) => Json::String(s.clone()),
        Value::Array(a) => Json::Array(a.iter().map(tree).collect()),
        Value::Object(m) => Json::Object(m.iter().map(|(k, v)| (k, tree(v))).collect::<Object>()),
    }
}
