//! Core's own JSON tree: every document core reads or writes is meant to go through [`Json`]
//! (issue 11: the wasm build takes JSON text from the platform's `JSON.parse`/`JSON.stringify`
//! instead of linking serde_json).
//!
//! Rules, the same on every platform:
//! - numbers are `f64` (what `JSON.parse` gives); an integer read ([`Json::as_u64`],
//!   [`Json::as_i64`]) accepts only integral values within ±(2^53 - 1), so an integer the browser
//!   would round is refused on the CLI too (a typed document's `u64` member saturates instead,
//!   see [`typed`]: a far-future time read back stays the largest time);
//! - objects keep document order; a duplicate key keeps the last value, at the place of the
//!   first occurrence (`JSON.parse` keeps the last value);
//! - `__proto__` is a plain key;
//! - arrays and objects nest at most [`MAX_NESTING`] deep;
//! - integral numbers within ±(2^53 - 1) print without a fraction (`1`, not `1.0`); `-0` prints `0`.
//!
//! Text ↔ tree is never hand-written: natively it goes through serde_json (serde's data model,
//! its nesting limit), in the wasm build through the platform's `JSON.parse`/`JSON.stringify`
//! ([`Platform`]). Typed documents go text → tree → struct on every platform ([`from_slice`],
//! [`to_string`], [`FromJson`] and [`ToJson`]).

pub mod typed;

use std::fmt;
pub use typed::{FromJson, ToJson};

/// The largest integer every platform represents exactly and unambiguously (2^53 - 1, JS's
/// `Number.MAX_SAFE_INTEGER`): 2^53 + 1 parses to 2^53, so 2^53 itself is refused.
pub const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// The deepest nesting of arrays and objects a document may have (serde_json's limit; the
/// wasm shell applies the same to what `JSON.parse` gives).
pub const MAX_NESTING: usize = 127;

/// An object: members in document order, keys unique.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Object(Vec<(String, Json)>);

/// A JSON value.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Json {
    #[default]
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Object),
}

/// A member missing or of the wrong type; names the path to the member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError(pub String);

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JsonError {}

impl Object {
    pub fn new() -> Self {
        Object(Vec::new())
    }

    /// Sets `key`: replaces the value in place when present, else appends.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Json>) {
        self.set(key.into(), value.into());
    }

    /// [`Object::insert`] after the conversions (once, not per argument type).
    fn set(&mut self, key: String, value: Json) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// An object of members whose keys are already distinct (a platform parser's object, or
    /// one deduplicated by its reader); unlike repeated [`Object::insert`], no scan per member.
    pub fn from_distinct(members: Vec<(String, Json)>) -> Self {
        Object(members)
    }

    /// Builder form of [`Object::insert`] (every caller names the key as a literal).
    pub fn with(self, key: &str, value: impl Into<Json>) -> Self {
        self.with_json(key, value.into())
    }

    /// [`Object::with`] after the value's conversion: out of line, one copy for every call.
    #[inline(never)]
    fn with_json(mut self, key: &str, value: Json) -> Self {
        self.set(key.to_string(), value);
        self
    }

    pub fn get(&self, key: &str) -> Option<&Json> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    pub fn remove(&mut self, key: &str) -> Option<Json> {
        let at = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(at).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Json)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Puts the members in the byte order of their keys (the order serde_json's map wrote,
    /// which signed and sent bytes keep). Through `sorted::by_key`, which sorts with core's one
    /// sort (`sorted::sort_strings`): a sort of the members would be another instance.
    pub fn sort_keys(&mut self) {
        self.0 = crate::sorted::by_key(std::mem::take(&mut self.0));
    }

    /// Required string member.
    pub fn str(&self, key: &str) -> Result<&str, JsonError> {
        self.get(key)
            .ok_or_else(|| missing(key))?
            .as_str()
            .ok_or_else(|| wrong(key, "a string"))
    }

    /// Optional string member (absent or null → `None`).
    pub fn opt_str(&self, key: &str) -> Result<Option<&str>, JsonError> {
        match self.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(v) => v.as_str().map(Some).ok_or_else(|| wrong(key, "a string")),
        }
    }

    /// Required non-negative integer member (≤ 2^53 - 1).
    pub fn u64(&self, key: &str) -> Result<u64, JsonError> {
        self.get(key)
            .ok_or_else(|| missing(key))?
            .as_u64()
            .ok_or_else(|| wrong(key, "a non-negative integer"))
    }

    /// Optional non-negative integer member (absent or null → `None`).
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>, JsonError> {
        match self.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| wrong(key, "a non-negative integer")),
        }
    }

    /// Optional boolean member (absent or null → `None`).
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, JsonError> {
        match self.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(v) => v.as_bool().map(Some).ok_or_else(|| wrong(key, "a boolean")),
        }
    }

    /// Optional array of strings (absent or null → empty).
    pub fn strs(&self, key: &str) -> Result<Vec<&str>, JsonError> {
        match self.get(key) {
            None | Some(Json::Null) => Ok(Vec::new()),
            Some(Json::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(
                        item.as_str()
                            .ok_or_else(|| wrong(key, "an array of strings"))?,
                    );
                }
                Ok(out)
            }
            Some(_) => Err(wrong(key, "an array of strings")),
        }
    }

    /// Required object member.
    pub fn object(&self, key: &str) -> Result<&Object, JsonError> {
        self.get(key)
            .ok_or_else(|| missing(key))?
            .as_object()
            .ok_or_else(|| wrong(key, "an object"))
    }
}

use typed::missing;

fn wrong(key: &str, what: &str) -> JsonError {
    typed::within(key, typed::expected(what))
}

impl Json {
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.as_object()?.get(key)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// An integral number in `0..=2^53 - 1`.
    pub fn as_u64(&self) -> Option<u64> {
        let n = self.as_f64()?;
        (n.fract() == 0.0 && (0.0..=MAX_SAFE).contains(&n)).then_some(n as u64)
    }

    /// An integer within ±(2^53 − 1); such a number also prints without a fraction.
    pub fn as_i64(&self) -> Option<i64> {
        let n = self.as_f64()?;
        (n.fract() == 0.0 && (-MAX_SAFE..=MAX_SAFE).contains(&n)).then_some(n as i64)
    }

    pub fn as_array(&self) -> Option<&Vec<Json>> {
        match self {
            Json::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Json::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Json::String(_))
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        self.as_object_mut()?.get_mut(key)
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Object> {
        match self {
            Json::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Json>> {
        match self {
            Json::Array(a) => Some(a),
            _ => None,
        }
    }

    /// Moves the value out, leaving `null`.
    pub fn take(&mut self) -> Json {
        std::mem::take(self)
    }
}

/// Compact JSON text, as [`print()`].
impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print(self))
    }
}

impl IntoIterator for Object {
    type Item = (String, Json);
    type IntoIter = std::vec::IntoIter<(String, Json)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<K: Into<String>, V: Into<Json>> FromIterator<(K, V)> for Object {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut o = Object::new();
        for (k, v) in iter {
            o.insert(k, v);
        }
        o
    }
}

impl From<bool> for Json {
    fn from(b: bool) -> Self {
        Json::Bool(b)
    }
}

impl From<&str> for Json {
    fn from(s: &str) -> Self {
        Json::String(s.to_owned())
    }
}

impl From<String> for Json {
    fn from(s: String) -> Self {
        Json::String(s)
    }
}

impl From<f64> for Json {
    fn from(n: f64) -> Self {
        Json::Number(n)
    }
}

/// Numbers: integers beyond ±(2^53 − 1) are rounded, as everywhere in the tree.
macro_rules! number_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Json {
            fn from(n: $t) -> Self {
                Json::Number(n as f64)
            }
        }
    )*};
}

number_from!(u64, i64, u32, i32, usize);

impl From<&String> for Json {
    fn from(s: &String) -> Self {
        Json::String(s.clone())
    }
}

impl From<Vec<String>> for Json {
    fn from(a: Vec<String>) -> Self {
        let mut items = Vec::with_capacity(a.len());
        for s in a {
            items.push(Json::String(s));
        }
        Json::Array(items)
    }
}

impl From<&[&str]> for Json {
    fn from(a: &[&str]) -> Self {
        let mut items = Vec::with_capacity(a.len());
        for s in a {
            items.push(Json::from(*s));
        }
        Json::Array(items)
    }
}

impl From<Object> for Json {
    fn from(o: Object) -> Self {
        Json::Object(o)
    }
}

impl From<Vec<Json>> for Json {
    fn from(a: Vec<Json>) -> Self {
        Json::Array(a)
    }
}

impl<T: Into<Json>> From<Option<T>> for Json {
    fn from(v: Option<T>) -> Self {
        v.map_or(Json::Null, Into::into)
    }
}

/// Why JSON text could not be read (a fixed text, the same on every platform).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyntaxError;

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not valid JSON")
    }
}

impl std::error::Error for SyntaxError {}

/// The platform's JSON text reader and writer. The wasm shell registers `JSON.parse` and
/// `JSON.stringify` at start-up, so the wasm build links no JSON parser of its own; native
/// builds read and write through serde_json. Both must keep the rules at the top of this
/// module (finite numbers, UTF-8 strings without lone surrogates, nesting within
/// [`MAX_NESTING`], the last duplicate kept).
#[derive(Clone, Copy)]
pub struct Platform {
    /// Text → tree; `None` when the text is not JSON under the rules above.
    pub parse: fn(&[u8]) -> Option<Json>,
    /// Tree → compact text.
    pub print: fn(&Json) -> String,
}

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
static PLATFORM: std::sync::OnceLock<Platform> = std::sync::OnceLock::new();

/// Registers the platform's JSON for the rest of the process (the wasm shell, at start-up).
/// Returns false, changing nothing, when one is already registered.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub fn set_platform(platform: Platform) -> bool {
    PLATFORM.set(platform).is_ok()
}

/// Parses JSON text (natively through serde_json, in the wasm build through the platform).
pub fn parse(text: &[u8]) -> Result<Json, SyntaxError> {
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    return PLATFORM
        .get()
        .and_then(|p| (p.parse)(text))
        .ok_or(SyntaxError);
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    serde_json::from_slice(text).map_err(|_| SyntaxError)
}

/// Prints compact JSON text (natively through serde_json, in the wasm build through the
/// platform).
pub fn print(value: &Json) -> String {
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    return PLATFORM.get().map(|p| (p.print)(value)).unwrap_or_default();
    // Serialising a tree of strings, finite numbers and containers cannot fail.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    serde_json::to_string(value).unwrap_or_default()
}

/// Why a typed document could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The text is not JSON.
    Syntax,
    /// JSON, but not the expected shape (names the member).
    Type(String),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Syntax => fmt::Display::fmt(&SyntaxError, f),
            DecodeError::Type(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Reads a typed document from JSON text: [`parse()`], then [`from_json`]. The same path on
/// every platform, so a document reads the same in the CLI and the browser.
pub fn from_slice<T: FromJson>(text: &[u8]) -> Result<T, DecodeError> {
    let tree = parse(text).map_err(|_| DecodeError::Syntax)?;
    from_json(&tree).map_err(|e| DecodeError::Type(e.0))
}

/// Reads a typed value out of a tree.
pub fn from_json<T: FromJson>(value: &Json) -> Result<T, JsonError> {
    T::from_json(value)
}

/// Builds the tree of a typed value.
pub fn to_json<T: ToJson + ?Sized>(value: &T) -> Json {
    value.to_json()
}

/// Writes a typed value as compact JSON text: [`to_json`], then [`print()`].
pub fn to_string<T: ToJson + ?Sized>(value: &T) -> String {
    print(&value.to_json())
}

/// Tests: a typed value from a serde_json value.
#[cfg(test)]
pub(crate) fn from_value<T: FromJson>(value: serde_json::Value) -> Result<T, DecodeError> {
    from_slice(value.to_string().as_bytes())
}

/// Tests: a typed value as a serde_json value.
#[cfg(test)]
pub(crate) fn to_value<T: ToJson + ?Sized>(value: &T) -> serde_json::Value {
    serde_json::from_str(&to_string(value)).unwrap_or_default()
}

/// serde's data model for the tree, for serde_json's text natively (the wasm build has no serde).
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod serde_impl {
    use super::{Json, Object};
    use serde::de::{self, MapAccess, SeqAccess, Visitor};
    use serde::ser::{SerializeMap, SerializeSeq};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::fmt;

    impl<'de> Deserialize<'de> for Json {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(JsonVisitor)
        }
    }

    struct JsonVisitor;

    impl<'de> Visitor<'de> for JsonVisitor {
        type Value = Json;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("JSON")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
            Ok(Json::Null)
        }
        fn visit_bool<E: de::Error>(self, b: bool) -> Result<Json, E> {
            Ok(Json::Bool(b))
        }
        fn visit_u64<E: de::Error>(self, n: u64) -> Result<Json, E> {
            Ok(Json::Number(n as f64))
        }
        fn visit_i64<E: de::Error>(self, n: i64) -> Result<Json, E> {
            Ok(Json::Number(n as f64))
        }
        fn visit_f64<E: de::Error>(self, n: f64) -> Result<Json, E> {
            // serde_json refuses 1e400 (JSON.parse gives Infinity): the shell refuses it too.
            Ok(Json::Number(n))
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Json, E> {
            Ok(Json::String(s.to_owned()))
        }
        fn visit_string<E: de::Error>(self, s: String) -> Result<Json, E> {
            Ok(Json::String(s))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element()? {
                items.push(item);
            }
            Ok(Json::Array(items))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
            // a hostile document may hold a million members: where each key went is looked up
            // in a hash map, not by a scan of the members so far
            let mut members: Vec<(String, Json)> = Vec::new();
            let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
            while let Some((k, v)) = map.next_entry::<String, Json>()? {
                match at.get(&k) {
                    Some(&i) => members[i].1 = v,
                    None => {
                        at.insert(k.clone(), members.len());
                        members.push((k, v));
                    }
                }
            }
            Ok(Json::Object(Object::from_distinct(members)))
        }
    }

    impl Serialize for Json {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self {
                Json::Null => s.serialize_unit(),
                Json::Bool(b) => s.serialize_bool(*b),
                Json::Number(n) => match self.as_i64() {
                    Some(i) => s.serialize_i64(i),
                    None => s.serialize_f64(*n),
                },
                Json::String(t) => s.serialize_str(t),
                Json::Array(items) => {
                    let mut seq = s.serialize_seq(Some(items.len()))?;
                    for item in items {
                        seq.serialize_element(item)?;
                    }
                    seq.end()
                }
                Json::Object(o) => {
                    let mut map = s.serialize_map(Some(o.len()))?;
                    for (k, v) in o.iter() {
                        map.serialize_entry(k, v)?;
                    }
                    map.end()
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_last_duplicate() {
        let j = parse(br#"{"b":1,"a":2,"b":3,"__proto__":{"x":null}}"#).unwrap();
        assert_eq!(print(&j), r#"{"b":3,"a":2,"__proto__":{"x":null}}"#);
        assert!(j.get("__proto__").unwrap().get("x").unwrap().is_null());
    }

    #[test]
    fn many_members_with_duplicates_keep_first_places_and_last_values() {
        let text = format!(
            "{{{}}}",
            (0..30_000)
                .map(|i| format!("\"k{}\":{i}", i % 1000))
                .collect::<Vec<_>>()
                .join(",")
        );
        let j = parse(text.as_bytes()).unwrap();
        let o = j.as_object().unwrap();
        assert_eq!(o.len(), 1000);
        assert_eq!(o.keys().next(), Some("k0"));
        assert_eq!(o.u64("k0"), Ok(29_000));
        assert_eq!(o.u64("k999"), Ok(29_999));
    }

    #[test]
    fn sort_keys_orders_members_by_the_bytes_of_their_keys() {
        let j = parse(r#"{"b":1,"B":2,"é":3,"a":{"z":0,"y":1},"":4,"ab":5}"#.as_bytes()).unwrap();
        let mut o = j.as_object().unwrap().clone();
        o.sort_keys();
        assert_eq!(
            print(&Json::Object(o)),
            r#"{"":4,"B":2,"a":{"z":0,"y":1},"ab":5,"b":1,"é":3}"#
        );
    }

    #[test]
    fn integers_within_2_pow_53() {
        let j = parse(br#"{"a":1.0,"b":-0,"c":9007199254740993,"d":3600,"e":1.5,"f":-2}"#).unwrap();
        let o = j.as_object().unwrap();
        assert_eq!(o.u64("a"), Ok(1));
        assert_eq!(o.u64("d"), Ok(3600));
        assert_eq!(j.get("b").unwrap().as_i64(), Some(0));
        assert!(o.u64("c").is_err(), "above 2^53 is rounded: refused");
        assert!(o.u64("e").is_err());
        assert!(o.u64("f").is_err());
        assert_eq!(j.get("f").unwrap().as_i64(), Some(-2));
        assert_eq!(
            print(&j),
            r#"{"a":1,"b":0,"c":9007199254740992.0,"d":3600,"e":1.5,"f":-2}"#
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(parse(b"1e400"), Err(SyntaxError));
        assert_eq!(parse(br#""\ud800""#), Err(SyntaxError));
        assert_eq!(parse(b"\"\xff\""), Err(SyntaxError));
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert_eq!(parse(deep.as_bytes()), Err(SyntaxError));
        // the nesting limit, which the wasm shell's walk of `JSON.parse` mirrors
        let nested = |n: usize| "[".repeat(n) + &"]".repeat(n);
        assert!(parse(nested(MAX_NESTING).as_bytes()).is_ok());
        assert_eq!(parse(nested(MAX_NESTING + 1).as_bytes()), Err(SyntaxError));
    }

    #[test]
    fn typed_member_errors_name_the_member() {
        let o = Object::new()
            .with("token_type", "Bearer")
            .with("expires_in", "soon")
            .with("scopes", vec![Json::from("a"), Json::from(1u64)]);
        assert_eq!(o.str("token_type"), Ok("Bearer"));
        assert_eq!(
            o.str("access_token").unwrap_err().to_string(),
            "missing member `access_token`"
        );
        assert_eq!(
            o.opt_u64("expires_in").unwrap_err().to_string(),
            "member `expires_in`: expected a non-negative integer"
        );
        assert!(o.strs("scopes").is_err());
        assert_eq!(o.opt_str("nope"), Ok(None));
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Kind {
        Plain,
        Tagged,
    }

    crate::json_enum!(Kind {
        Plain = "plain",
        Tagged = "tagged",
    });

    fn two() -> u32 {
        2
    }

    #[derive(Debug, PartialEq)]
    struct Doc {
        name: String,
        expires_at: u64,
        level: u32,
        note: Option<String>,
        hidden: Option<String>,
        scopes: Vec<String>,
        kinds: Vec<Kind>,
        extra: Json,
        renamed: bool,
    }

    crate::json_struct!(Doc {
        name,
        expires_at,
        level = two,
        note,
        hidden: opt,
        scopes = Default::default,
        kinds,
        extra,
        renamed as "Re-Named" = Default::default,
    });

    fn doc() -> Doc {
        Doc {
            name: "a".into(),
            expires_at: u64::MAX,
            level: 7,
            note: None,
            hidden: None,
            scopes: vec!["x".into()],
            kinds: vec![Kind::Plain, Kind::Tagged],
            extra: Object::new().with("z", 1u64).with("a", true).into(),
            renamed: true,
        }
    }

    #[test]
    fn typed_documents_round_trip_in_field_order() {
        let text = to_string(&doc());
        assert_eq!(
            text,
            r#"{"name":"a","expires_at":1.8446744073709552e+19,"level":7,"note":null,"scopes":["x"],"kinds":["plain","tagged"],"extra":{"z":1,"a":true},"Re-Named":true}"#
        );
        // u64::MAX is written rounded to 2^64 and read back saturated: the far future stays.
        assert_eq!(from_slice::<Doc>(text.as_bytes()), Ok(doc()));
        let mut some = doc();
        some.hidden = Some("h".into());
        assert!(to_string(&some).contains(r#""note":null,"hidden":"h","scopes""#));
        assert_eq!(from_slice::<Doc>(to_string(&some).as_bytes()), Ok(some));
    }

    #[test]
    fn absent_members_take_their_defaults_and_null_is_not_absent() {
        let min = br#"{"name":"a","expires_at":1,"kinds":[],"extra":null,"unknown":[1]}"#;
        let d = from_slice::<Doc>(min).unwrap();
        assert_eq!((d.level, d.note, d.hidden), (2, None, None));
        assert!(d.scopes.is_empty() && !d.renamed);
        assert_eq!(d.extra, Json::Null);
        let null_default = br#"{"name":"a","expires_at":1,"kinds":[],"extra":1,"scopes":null}"#;
        assert_eq!(
            from_slice::<Doc>(null_default).unwrap_err().to_string(),
            "member `scopes`: expected an array"
        );
        let null_option = br#"{"name":"a","expires_at":1,"kinds":[],"extra":1,"note":null}"#;
        assert_eq!(from_slice::<Doc>(null_option).unwrap().note, None);
    }

    #[test]
    fn typed_errors_name_the_member_never_the_number() {
        let missing = from_slice::<Doc>(br#"{"name":"a"}"#).unwrap_err();
        assert_eq!(missing.to_string(), "missing member `expires_at`");
        let mistyped = from_slice::<Doc>(br#"{"name":12.5}"#).unwrap_err();
        assert_eq!(
            mistyped,
            DecodeError::Type("member `name`: expected a string".into())
        );
        let base = r#""name":"a","kinds":[],"extra":1"#;
        for (value, why) in [
            ("-3", "expected a non-negative integer"),
            ("3.5", "expected a non-negative integer"),
            ("\"3\"", "expected a non-negative integer"),
        ] {
            let text = format!("{{{base},\"expires_at\":{value}}}");
            assert_eq!(
                from_slice::<Doc>(text.as_bytes()).unwrap_err().to_string(),
                format!("member `expires_at`: {why}")
            );
        }
        let big = format!("{{{base},\"expires_at\":1,\"level\":4294967296}}");
        assert_eq!(
            from_slice::<Doc>(big.as_bytes()).unwrap_err().to_string(),
            "member `level`: expected a 32-bit integer"
        );
        assert_eq!(from_slice::<u64>(b"{"), Err(DecodeError::Syntax));
        assert_eq!(
            from_slice::<Doc>(b"[1]").unwrap_err().to_string(),
            "expected an object"
        );
        assert_eq!(
            from_slice::<Kind>(br#""other""#).unwrap_err().to_string(),
            "unknown value `other` (expected one of `plain`, `tagged`)"
        );
        // a server's unknown value is shown printable and bounded
        let hostile = format!("\"\\u001b]8;;x\\u0007{}\"", "e".repeat(100));
        assert_eq!(
            from_slice::<Kind>(hostile.as_bytes())
                .unwrap_err()
                .to_string(),
            format!(
                "unknown value `{}…` (expected one of `plain`, `tagged`)",
                "e".repeat(60)
            )
        );
        let nested = format!("{{{base},\"expires_at\":1,\"kinds\":[\"plain\",7]}}");
        assert_eq!(
            from_slice::<Doc>(nested.as_bytes())
                .unwrap_err()
                .to_string(),
            "member `kinds`: expected a string"
        );
    }
}
