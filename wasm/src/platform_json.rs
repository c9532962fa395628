//! The platform's `JSON`, registered with core at start-up (`mcp_auth_core::json::Platform`):
//! this build links no JSON parser. Text is read by `JSON.parse` and walked into core's tree;
//! a tree is printed member by member in its own order, each string that needs an escape by
//! `JSON.stringify`.
//!
//! The walk keeps core's rules (the same as serde_json's on the CLI): the text must be UTF-8,
//! numbers finite (`JSON.parse("1e400")` gives `Infinity`: refused), strings without lone
//! surrogates (`"\ud800"` parses in JS: refused), nesting at most `MAX_NESTING` deep. One
//! difference is the platform's own: a JS object lists integer-like keys (`"1"`, `"2"`) first,
//! in ascending order, so such members of a parsed object come before the others.

use js_sys::Array;
use mcp_auth_core::json::{self, Json, Object, MAX_NESTING};
use std::fmt::Write;
use wasm_bindgen::{JsCast, JsValue};

fn parse(text: &[u8]) -> Option<Json> {
    let utf8 = std::str::from_utf8(text).ok()?;
    let value = js_sys::JSON::parse(utf8).ok()?;
    tree_of(&value, 0, may_hold_surrogate_escape(text))
}

/// Whether the text may spell a surrogate code unit (`\uD800`–`\uDFFF`): UTF-8 text cannot
/// hold one otherwise, so without such an escape no string needs the (slow) lone-surrogate
/// check. Conservative: an escaped backslash before `ud…` also counts.
fn may_hold_surrogate_escape(text: &[u8]) -> bool {
    text.windows(3)
        .any(|w| w[0] == b'\\' && w[1] == b'u' && w[2].eq_ignore_ascii_case(&b'd'))
}

/// A value `JSON.parse` made, inside `depth` arrays or objects, as core's tree; `None` where
/// core's rules refuse it. Written for few calls into JS per value (each is a crossing): the
/// common kinds first, an object's keys and values as two arrays.
fn tree_of(value: &JsValue, depth: usize, surrogates: bool) -> Option<Json> {
    if let Some(s) = string_of(value, surrogates) {
        return s.map(Json::String);
    }
    if let Some(n) = value.as_f64() {
        return n.is_finite().then_some(Json::Number(n));
    }
    if let Some(b) = value.as_bool() {
        return Some(Json::Bool(b));
    }
    if value.is_null() {
        return Some(Json::Null);
    }
    // `depth` containers enclose this one
    if depth >= MAX_NESTING {
        return None;
    }
    if Array::is_array(value) {
        let array: &Array = value.unchecked_ref();
        let mut items = Vec::with_capacity(array.length() as usize);
        for item in array.iter() {
            items.push(tree_of(&item, depth + 1, surrogates)?);
        }
        return Some(Json::Array(items));
    }
    let target: &js_sys::Object = value.unchecked_ref();
    let (keys, values) = (js_sys::Object::keys(target), js_sys::Object::values(target));
    // a JS object's own keys are distinct: the members are taken as they come (a hostile
    // document's million members cost no scan each)
    let mut members = Vec::with_capacity(keys.length() as usize);
    for (key, item) in keys.iter().zip(values.iter()) {
        let key = string_of(&key, surrogates)??;
        members.push((key, tree_of(&item, depth + 1, surrogates)?));
    }
    Some(Json::Object(Object::from_distinct(members)))
}

/// `None` when `value` is not a string; else the string as UTF-8, or `Some(None)` when it holds
/// a lone surrogate (not Unicode text), which only a text with a surrogate escape can make
/// (`surrogates`). The conversion to UTF-8 writes U+FFFD for a lone surrogate, so a string
/// with none is whole; one with a U+FFFD is whole when it converts back to the same JS string.
fn string_of(value: &JsValue, surrogates: bool) -> Option<Option<String>> {
    let s = value.as_string()?;
    // U+FFFD's UTF-8 bytes, found without `str::contains`, which links a substring search
    let replaced = || s.as_bytes().windows(3).any(|w| w == "\u{fffd}".as_bytes());
    if surrogates && replaced() && JsValue::from_str(&s) != *value {
        return Some(None);
    }
    Some(Some(s))
}

fn print(value: &Json) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Json) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(true) => out.push_str("true"),
        Json::Bool(false) => out.push_str("false"),
        // the integers core prints without a fraction (`-0` as `0`), as natively
        Json::Number(n) => match value.as_i64() {
            Some(i) => {
                let _ = write!(out, "{i}");
            }
            None => write_js(out, &JsValue::from_f64(*n)),
        },
        Json::String(s) => write_string(out, s),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Json::Object(object) => {
            out.push('{');
            for (i, (key, item)) in object.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

/// A string as `JSON.stringify` writes it. One without `"`, `\` or a control character is
/// written as it is, quoted, which is exactly what `JSON.stringify` gives for it (a Rust
/// string holds no lone surrogate, the only other thing it escapes); any other goes to
/// `JSON.stringify`.
fn write_string(out: &mut String, s: &str) {
    if mcp_auth_core::text::find_byte(s, |b| b < 0x20 || b == b'"' || b == b'\\').is_some() {
        write_js(out, &JsValue::from_str(s));
    } else {
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}

/// `JSON.stringify` of a string or a finite number (a tree holds no other numbers).
fn write_js(out: &mut String, value: &JsValue) {
    match js_sys::JSON::stringify(value) {
        Ok(text) => out.push_str(&String::from(text)),
        Err(_) => out.push_str("null"),
    }
}

/// Called once from the module's start function.
pub(crate) fn register() {
    // false only when already registered: nothing to do then.
    let _ = json::set_platform(json::Platform { parse, print });
}
