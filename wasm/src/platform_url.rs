//! The platform's WHATWG `URL`, registered with core at start-up as its URL parser: this
//! build links no URL parser of its own (`mcp_auth_core::platform_url`). Browsers, workers and
//! Node ≥ 18 all have a global `URL`, implementing the standard the CLI's `url` crate does.

use mcp_auth_core::platform_url::web::{set_platform, FormCodec, Parts};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = URL)]
    type WhatwgUrl;

    #[wasm_bindgen(constructor, js_class = "URL", catch)]
    fn new(input: &str) -> Result<WhatwgUrl, JsValue>;

    #[wasm_bindgen(constructor, js_class = "URL", catch)]
    fn new_with_base(input: &str, base: &str) -> Result<WhatwgUrl, JsValue>;

    // Typed getters (one import each), not the shell's `get`: a parse is on every token read,
    // and `get` makes each property name a new JavaScript string, which measured twice as
    // slow (3.2 → 6.2 µs a parse; `accessToken` 24.5 → 30.8 µs in Node).
    #[wasm_bindgen(method, getter)]
    fn href(this: &WhatwgUrl) -> String;
    #[wasm_bindgen(method, getter)]
    fn protocol(this: &WhatwgUrl) -> String;
    #[wasm_bindgen(method, getter)]
    fn hostname(this: &WhatwgUrl) -> String;
    #[wasm_bindgen(method, getter)]
    fn port(this: &WhatwgUrl) -> String;
    #[wasm_bindgen(method, getter)]
    fn pathname(this: &WhatwgUrl) -> String;
    #[wasm_bindgen(method, getter)]
    fn origin(this: &WhatwgUrl) -> String;

    /// `URLSearchParams`: the URL Standard's `application/x-www-form-urlencoded` serializer
    /// and parser (`form_urlencoded` is the same standard in the CLI).
    #[wasm_bindgen(js_name = URLSearchParams)]
    type SearchParams;

    #[wasm_bindgen(constructor, js_class = "URLSearchParams")]
    fn new() -> SearchParams;

    #[wasm_bindgen(constructor, js_class = "URLSearchParams")]
    fn parsed(query: &str) -> SearchParams;

    #[wasm_bindgen(method)]
    fn append(this: &SearchParams, name: &str, value: &str);

    #[wasm_bindgen(method, js_name = toString)]
    fn serialized(this: &SearchParams) -> String;
}

/// `new URL(input, base)`'s getters, or `None` when `URL` throws (an invalid URL or host).
fn parse(input: &str, base: Option<&str>) -> Option<Parts> {
    let url = match base {
        Some(base) => WhatwgUrl::new_with_base(input, base),
        None => WhatwgUrl::new(input),
    }
    .ok()?;
    Some(Parts {
        href: url.href(),
        protocol: url.protocol(),
        hostname: url.hostname(),
        port: url.port(),
        pathname: url.pathname(),
        origin: url.origin(),
    })
}

fn form_serialize(pairs: &[(&str, &str)]) -> String {
    let params = SearchParams::new();
    for (name, value) in pairs {
        params.append(name, value);
    }
    params.serialized()
}

fn form_parse(query: &str) -> Vec<(String, String)> {
    // `URLSearchParams` drops one leading `?` of its input, which in a query is data (the
    // query of `…/p??a=b` is `?a=b`, a pair named `?a`); a leading `&` only adds an empty
    // sequence, which the parser skips
    let mut input = String::with_capacity(query.len() + 1);
    input.push('&');
    input.push_str(query);
    crate::js::string_pairs(&SearchParams::parsed(&input))
}

/// Called once from the module's start function.
pub(crate) fn register() {
    // false only when already registered: nothing to do then.
    let _ = set_platform(
        parse,
        FormCodec {
            serialize: form_serialize,
            parse: form_parse,
        },
    );
}
