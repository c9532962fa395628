//! Small helpers over `js_sys::Reflect` and JSON, and typed views of the global object and
//! of the few calls web-sys binds without `catch` (a duck-typed `fetch` response may lack them).

use js_sys::Reflect;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `AbortSignal.timeout(ms)`; an error where the environment lacks it.
    #[wasm_bindgen(catch, js_namespace = AbortSignal, js_name = timeout)]
    pub(crate) fn abort_timeout(ms: u32) -> Result<web_sys::AbortSignal, JsValue>;

    // A response body and its reader. web-sys binds these calls without `catch`, but a
    // `fetch` passed in the options may answer with a look-alike that lacks them.
    /// A response body (`ReadableStream`).
    pub(crate) type Stream;
    #[wasm_bindgen(catch, method, js_name = getReader)]
    pub(crate) fn reader(this: &Stream) -> Result<Reader, JsValue>;
    #[wasm_bindgen(catch, method)]
    pub(crate) fn cancel(this: &Stream) -> Result<JsValue, JsValue>;
    /// Its `ReadableStreamDefaultReader`.
    pub(crate) type Reader;
    #[wasm_bindgen(catch, method)]
    pub(crate) fn read(this: &Reader) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, method)]
    pub(crate) fn cancel(this: &Reader) -> Result<JsValue, JsValue>;

    /// A `Uint8Array`, for [`bytes`].
    type Bytes;
    #[wasm_bindgen(method, js_name = subarray)]
    fn copied(this: &Bytes) -> Vec<u8>;

    /// `Array.from(iterable)`; an error where the iteration throws.
    #[wasm_bindgen(catch, js_namespace = Array, js_name = from)]
    fn array_from(iterable: &JsValue) -> Result<js_sys::Array, JsValue>;
}

/// The global object (its properties are read with [`get`]: a typed getter is one more
/// import each).
pub(crate) fn global() -> JsValue {
    js_sys::global().into()
}

pub(crate) fn get(target: &JsValue, name: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

pub(crate) fn set(target: &JsValue, name: &str, value: &JsValue) {
    // Only fails on frozen objects or proxies, which we never build.
    let _ = Reflect::set(target, &JsValue::from_str(name), value);
}

/// The `[name, value]` string pairs of a JS iterable (a `Headers`, `URLSearchParams`, a
/// `Map`'s entries); any other item is skipped.
pub(crate) fn string_pairs(iterable: &JsValue) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(items) = items(iterable) {
        for pair in items.iter() {
            let pair: js_sys::Array = pair.unchecked_into();
            if let (Some(n), Some(v)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                out.push((n, v));
            }
        }
    }
    out
}

/// A copy of a `Uint8Array`'s bytes: its `subarray()` (a view) copied in by wasm-bindgen's
/// glue, where js-sys's `to_vec` asks the array's length twice and links a panic (with its
/// `Debug` formatting) for a mismatch.
pub(crate) fn bytes(array: &js_sys::Uint8Array) -> Vec<u8> {
    array.unchecked_ref::<Bytes>().copied()
}

/// The items of a JS iterable, `None` when `value` is not one (its `Symbol.iterator` is not a
/// function) or its iteration throws. Collected by `Array.from` (one import, where
/// `js_sys::try_iter` links an iterator protocol of its own).
pub(crate) fn items(value: &JsValue) -> Option<js_sys::Array> {
    let iterator = Reflect::get(value, &js_sys::Symbol::iterator()).ok()?;
    if !iterator.is_function() {
        return None;
    }
    array_from(value).ok()
}

/// An optional string property: `undefined`/`null` is `None`, anything but a string an error.
pub(crate) fn opt_str(target: &JsValue, name: &str) -> Result<Option<String>, JsValue> {
    let v = get(target, name);
    if v.is_null_or_undefined() {
        return Ok(None);
    }
    v.as_string()
        .map(Some)
        .ok_or_else(|| crate::coded_error(&format!("option `{name}` must be a string"), "invalid"))
}

pub(crate) fn opt_bool(target: &JsValue, name: &str) -> Result<Option<bool>, JsValue> {
    let v = get(target, name);
    if v.is_null_or_undefined() {
        return Ok(None);
    }
    v.as_bool()
        .map(Some)
        .ok_or_else(|| crate::coded_error(&format!("option `{name}` must be a boolean"), "invalid"))
}

/// A plain JS object (not a `Map`) from a value core writes as JSON.
pub(crate) fn to_js_object<T: mcp_auth_core::json::ToJson + ?Sized>(
    value: &T,
) -> Result<JsValue, JsValue> {
    js_sys::JSON::parse(&mcp_auth_core::json::to_string(value))
}

/// A readable message from a thrown JS value (an `Error`'s message and its `cause`).
pub(crate) fn message_of(err: &JsValue) -> String {
    if let Some(s) = err.as_string() {
        return s;
    }
    let message = get(err, "message").as_string();
    let cause = get(err, "cause");
    let cause = if cause.is_null_or_undefined() {
        None
    } else {
        get(&cause, "message")
            .as_string()
            .or_else(|| get(&cause, "code").as_string())
            .or_else(|| cause.as_string())
    };
    match (message, cause) {
        (Some(m), Some(c)) => format!("{m} ({c})"),
        (Some(m), None) => m,
        (None, _) => js_sys::JSON::stringify(err)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_else(|| "an unknown JavaScript error".into()),
    }
}
