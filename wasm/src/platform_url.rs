//! The platform's WHATWG `URL`, registered with core at start-up as its URL parser: this
//! build links no URL parser of its own (`mcp_auth_core::platform_url`). Browsers, workers and
//! Node ≥ 18 all have a global `URL`, implementing the standard the CLI's `url` crate does.

use mcp_auth_core::platform_url::web::{set_parser, Parts};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = URL)]
    type WhatwgUrl;

    #[wasm_bindgen(constructor, js_class = "URL", catch)]
    fn new(input: &str) -> Result<WhatwgUrl, JsValue>;

    #[wasm_bindgen(constructor, js_class = "URL", catch)]
    fn new_with_base(input: &str, base: &str) -> Result<WhatwgUrl, JsValue>;
}

/// `new URL(input, base)`'s getters, or `None` when `URL` throws (an invalid URL or host).
fn parse(input: &str, base: Option<&str>) -> Option<Parts> {
    let url = match base {
        Some(base) => WhatwgUrl::new_with_base(input, base),
        None => WhatwgUrl::new(input),
    }
    .ok()?;
    // the getters are read through the shell's one property reader: a typed getter would
    // be one more import each (all six are strings on a `URL`)
    let part = |name| crate::js::get(&url, name).as_string().unwrap_or_default();
    Some(Parts {
        href: part("href"),
        protocol: part("protocol"),
        hostname: part("hostname"),
        port: part("port"),
        pathname: part("pathname"),
        origin: part("origin"),
    })
}

/// Called once from the module's start function.
pub(crate) fn register() {
    // false only when already registered: nothing to do then.
    let _ = set_parser(parse);
}
