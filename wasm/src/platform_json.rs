//! The platform's `JSON`, registered with core at start-up (`mcp_auth_core::json::Platform`):
//! this build links no JSON parser. Text is read by `JSON.parse` and walked into core's tree;
//! a tree is printed member by member in its own order, each string by `JSON.stringify`.
//!
//! The walk keeps core's rules (the same as serde_json's on the CLI): the text must be UTF-8,
//! numbers finite (`JSON.parse("1e400")` gives `Infinity`: refused), strings without lone
//! surrogates (`"\ud800"` parses in JS: refused), nesting at most `MAX_NESTING` deep. One
//! difference is the platform's own: a JS object lists integer-like keys (`"1"`, `"2"`) first,
//! in ascending order, so such members of a parsed object come before the others.

use js_sys::{Array, JsString};
use mcp_auth_core::json::{self, Json, Object, MAX_NESTING, MAX_SAFE};
use std::fmt::Write;
use wasm_bindgen::{JsCast, JsValue};

fn parse(text: &[u8]) -> Option<Json> {
    let text = std::str::from_utf8(text).ok()?;
    let value = js_sys::JSON::parse(text).ok()?;
    tree_of(&value, 0)
}

/// A value `JSON.parse` made, inside `depth` arrays or objects, as core's tree; `None` where
/// core's rules refuse it.
fn tree_of(value: &JsValue, depth: usize) -> Option<Json> {
    if value.is_null() {
        return Some(Json::Null);
    }
    if let Some(b) = value.as_bool() {
        return Some(Json::Bool(b));
    }
    if let Some(n) = value.as_f64() {
        return n.is_finite().then_some(Json::Number(n));
    }
    if value.is_string() {
        return string_of(value.unchecked_ref()).map(Json::String);
    }
    // `depth` containers enclose this one
    if depth >= MAX_NESTING {
        return None;
    }
    if Array::is_array(value) {
        let array: &Array = value.unchecked_ref();
        return array
            .iter()
            .map(|item| tree_of(&item, depth + 1))
            .collect::<Option<Vec<_>>>()
            .map(Json::Array);
    }
    let mut object = Object::new();
    for entry in js_sys::Object::entries(value.unchecked_ref()).iter() {
        let entry: Array = entry.unchecked_into();
        let key = string_of(entry.get(0).unchecked_ref())?;
        object.insert(key, tree_of(&entry.get(1), depth + 1)?);
    }
    Some(Json::Object(object))
}

/// A JS string as UTF-8; `None` when it holds a lone surrogate (not Unicode text).
fn string_of(s: &JsString) -> Option<String> {
    s.is_valid_utf16().then(|| String::from(s))
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
        // `-0` prints `0`, as natively
        Json::Number(n) if n.fract() == 0.0 && n.abs() <= MAX_SAFE => {
            let _ = write!(out, "{}", *n as i64);
        }
        Json::Number(n) => write_js(out, &JsValue::from_f64(*n)),
        Json::String(s) => write_js(out, &JsValue::from_str(s)),
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
                write_js(out, &JsValue::from_str(key));
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
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
