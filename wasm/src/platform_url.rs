//! The platform's WHATWG `URL`, registered with core at start-up: this build's `url` has no
//! Unicode IDNA tables (`idna_adapter` 1.0.0, see Cargo.toml), so core asks `URL` for the
//! ASCII serialisation of inputs that need IDNA (`mcp_auth_core::platform_url`). Browsers,
//! workers and Node ≥ 18 all have a global `URL`.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = URL)]
    type WhatwgUrl;

    #[wasm_bindgen(constructor, js_class = "URL", catch)]
    fn new(input: &str) -> Result<WhatwgUrl, JsValue>;

    #[wasm_bindgen(constructor, js_class = "URL", catch)]
    fn new_with_base(input: &str, base: &str) -> Result<WhatwgUrl, JsValue>;

    #[wasm_bindgen(method, getter)]
    fn href(this: &WhatwgUrl) -> String;
}

/// `new URL(input, base).href`, or `None` when `URL` throws (an invalid URL or host).
fn normalise(input: &str, base: Option<&str>) -> Option<String> {
    let url = match base {
        Some(base) => WhatwgUrl::new_with_base(input, base),
        None => WhatwgUrl::new(input),
    };
    url.ok().map(|u| u.href())
}

/// Called once from the module's start function.
pub(crate) fn register() {
    // false only when already registered: nothing to do then.
    let _ = mcp_auth_core::platform_url::set_normaliser(normalise);
}
