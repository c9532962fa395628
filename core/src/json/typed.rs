//! Typed documents ↔ [`Json`]: [`FromJson`] and [`ToJson`], implemented for the member types
//! core's documents use and, through [`json_struct!`](crate::json_struct) and
//! [`json_enum!`](crate::json_enum), for the documents themselves (records, metadata, token
//! and registration responses).
//!
//! Hand-written rather than serde's derive (issue 11): every member is read through a few shared
//! functions, so the wasm build carries one small reader per document instead of a serde
//! visitor monomorphised per type. The rules are serde's for the same declarations:
//! - unknown members are ignored;
//! - an absent `Option` member is `None`, and so is `null`;
//! - a required member that is absent is an error; a member with a default takes it when
//!   absent (but `null` is not absent: it must have the member's type);
//! - an integer member accepts an integral number (a `u64` saturates beyond its range, so a
//!   far-future time read back from a record stays the largest time); a fraction or a
//!   negative number is refused;
//! - members are written in declaration order.
//!
//! Errors name the member's path and what was expected, never the document's value (a
//! server's string is shown only as an unknown enum value, printable and bounded).

use super::{Json, JsonError, Object};
use crate::sorted::{SortedMap, SortedSet};

/// A value read out of a JSON tree.
pub trait FromJson: Sized {
    fn from_json(value: &Json) -> Result<Self, JsonError>;

    /// What an absent member reads as; `None` when the member is required.
    fn absent() -> Option<Self> {
        None
    }
}

/// A value written as a JSON tree.
pub trait ToJson {
    fn to_json(&self) -> Json;
}

/// "expected `what`": the error of a value of the wrong type.
pub fn expected(what: &str) -> JsonError {
    JsonError(format!("expected {what}"))
}

/// An error inside member `key`, naming the path to it.
pub(super) fn within(key: &str, inner: JsonError) -> JsonError {
    JsonError(format!("member `{key}`: {}", inner.0))
}

pub(super) fn missing(key: &str) -> JsonError {
    JsonError(format!("missing member `{key}`"))
}

/// The object a document must be.
pub fn object(value: &Json) -> Result<&Object, JsonError> {
    value.as_object().ok_or_else(|| expected("an object"))
}

/// Reads member `key` (`T::absent()` when it is absent).
pub fn member<T: FromJson>(o: &Object, key: &str) -> Result<T, JsonError> {
    match o.get(key) {
        Some(v) => T::from_json(v).map_err(|e| within(key, e)),
        None => T::absent().ok_or_else(|| missing(key)),
    }
}

/// Reads member `key`, `default()` when it is absent.
pub fn member_or<T: FromJson>(o: &Object, key: &str, default: fn() -> T) -> Result<T, JsonError> {
    match o.get(key) {
        Some(v) => T::from_json(v).map_err(|e| within(key, e)),
        None => Ok(default()),
    }
}

/// A member's value, or its type's default after noting the first error: a document's reader
/// reads every member and then fails with the first error, so that it has no early return
/// for each member (each would drop the members read before it: most of a reader's code).
pub fn keep<T: Default>(read: Result<T, JsonError>, first: &mut Option<JsonError>) -> T {
    read.unwrap_or_else(|e| {
        first.get_or_insert(e);
        T::default()
    })
}

/// Appends member `key` (a document's writer: its keys are distinct by construction).
pub fn put(o: &mut Object, key: &str, value: Json) {
    o.0.push((key.to_owned(), value));
}

/// A string value that is not one of an enum's `names` (the value printable and bounded).
pub fn unknown_value(value: &str, names: &[&str]) -> JsonError {
    JsonError(format!(
        "unknown value `{}` (expected one of `{}`)",
        crate::text::printable(value, 60),
        crate::text::join(names, "`, `")
    ))
}

impl FromJson for Json {
    fn from_json(value: &Json) -> Result<Self, JsonError> {
        Ok(value.clone())
    }
}

impl ToJson for Json {
    fn to_json(&self) -> Json {
        self.clone()
    }
}

impl FromJson for String {
    fn from_json(value: &Json) -> Result<Self, JsonError> {
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| expected("a string"))
    }
}

impl ToJson for String {
    fn to_json(&self) -> Json {
        Json::String(self.clone())
    }
}

impl ToJson for str {
    fn to_json(&self) -> Json {
        Json::String(self.to_owned())
    }
}

impl FromJson for bool {
    fn from_json(value: &Json) -> Result<Self, JsonError> {
        value.as_bool().ok_or_else(|| expected("a boolean"))
    }
}

impl ToJson for bool {
    fn to_json(&self) -> Json {
        Json::Bool(*self)
    }
}

/// An integral, non-negative number (saturating at `u64::MAX`).
fn integer(value: &Json) -> Result<u64, JsonError> {
    match value.as_f64() {
        Some(n) if n.fract() == 0.0 && n >= 0.0 => Ok(n as u64),
        _ => Err(expected("a non-negative integer")),
    }
}

impl FromJson for u64 {
    fn from_json(value: &Json) -> Result<Self, JsonError> {
        integer(value)
    }
}

impl FromJson for u32 {
    fn from_json(value: &Json) -> Result<Self, JsonError> {
        u32::try_from(integer(value)?).map_err(|_| expected("a 32-bit integer"))
    }
}

impl ToJson for u64 {
    fn to_json(&self) -> Json {
        Json::from(*self)
    }
}

impl ToJson for u32 {
    fn to_json(&self) -> Json {
        Json::from(*self)
    }
}

impl<T: FromJson> FromJson for Option<T> {
    fn from_json(value: &Json) -> Result<Self, JsonError> {
        match value {
            Json::Null => Ok(None),
            v => T::from_json(v).map(Some),
        }
    }
    fn absent() -> Option<Self> {
        Some(None)
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn to_json(&self) -> Json {
        self.as_ref().map_or(Json::Null, T::to_json)
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(value: &Json) -> Result<Self, JsonError> {
        let items = value.as_array().ok_or_else(|| expected("an array"))?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(T::from_json(item)?);
        }
        Ok(out)
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn to_json(&self) -> Json {
        let mut items = Vec::with_capacity(self.len());
        for item in self {
            items.push(item.to_json());
        }
        Json::Array(items)
    }
}

/// An array of strings, each kept once.
impl FromJson for SortedSet {
    fn from_json(value: &Json) -> Result<Self, JsonError> {
        let mut set = SortedSet::new();
        for s in Vec::<String>::from_json(value)? {
            set.insert(s);
        }
        Ok(set)
    }
}

/// An array of the members, in order.
impl ToJson for SortedSet {
    fn to_json(&self) -> Json {
        let mut items = Vec::with_capacity(self.len());
        for s in self.iter() {
            items.push(Json::from(s.as_str()));
        }
        Json::Array(items)
    }
}

/// An object with the map's keys in order.
impl<V: ToJson> ToJson for SortedMap<V> {
    fn to_json(&self) -> Json {
        let mut o = Object::new();
        for (k, v) in self.iter() {
            put(&mut o, k, v.to_json());
        }
        Json::Object(o)
    }
}

/// [`FromJson`] and [`ToJson`] for a struct, member by member, in declaration order. Each
/// member's type implements `Default`: a failed member's default stands in while the rest are
/// read, and the read then fails with the first member's error ([`keep`]).
///
/// ```ignore
/// json_struct!(TokenRecord {
///     version = default_version,   // absent: default_version()
///     identity,                    // required (an `Option` may be absent or null: None)
///     refresh_token: opt,          // an `Option`: not written when None
///     api_key as "OPENAI_API_KEY", // the member's name differs from the field's
/// });
/// ```
#[macro_export]
#[doc(hidden)]
macro_rules! json_struct {
    ($ty:ident { $($field:ident $(as $key:literal)? $(: $mode:ident)? $(= $default:expr)?),* $(,)? }) => {
        impl $crate::json::FromJson for $ty {
            fn from_json(
                value: &$crate::json::Json,
            ) -> ::std::result::Result<Self, $crate::json::JsonError> {
                let _o = $crate::json::typed::object(value)?;
                let mut _first = None;
                let read = Self {
                    $($field: $crate::json::typed::keep(
                        $crate::json_struct!(@read _o, $crate::json_struct!(@key $field $($key)?) $(, $default)?),
                        &mut _first,
                    ),)*
                };
                match _first {
                    None => Ok(read),
                    Some(e) => Err(e),
                }
            }
        }

        impl $crate::json::ToJson for $ty {
            fn to_json(&self) -> $crate::json::Json {
                let mut _o = $crate::json::Object::new();
                $($crate::json_struct!(@write _o, self.$field, $crate::json_struct!(@key $field $($key)?) $(, $mode)?);)*
                $crate::json::Json::Object(_o)
            }
        }
    };
    (@key $field:ident) => { stringify!($field) };
    (@key $field:ident $key:literal) => { $key };
    (@read $o:ident, $key:expr) => { $crate::json::typed::member($o, $key) };
    (@read $o:ident, $key:expr, $default:expr) => { $crate::json::typed::member_or($o, $key, $default) };
    (@write $o:ident, $value:expr, $key:expr) => {
        $crate::json::typed::put(&mut $o, $key, $crate::json::ToJson::to_json(&$value))
    };
    (@write $o:ident, $value:expr, $key:expr, opt) => {
        if let Some(v) = &$value {
            $crate::json::typed::put(&mut $o, $key, $crate::json::ToJson::to_json(v))
        }
    };
}

/// The names of an enum of unit variants, written once: `as_str` and `from_name` for the
/// enum, and [`FromJson`] and [`ToJson`] writing it as its name:
/// `json_enum!(Era { Modern = "modern", Legacy = "legacy" })`.
#[macro_export]
#[doc(hidden)]
macro_rules! json_enum {
    ($ty:ident { $($variant:ident = $name:literal),* $(,)? }) => {
        impl $ty {
            /// The variant's name (as written in JSON and in configuration).
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name,)* }
            }

            /// The variant with exactly this name.
            pub fn from_name(name: &str) -> ::std::option::Option<Self> {
                match name {
                    $($name => Some($ty::$variant),)*
                    _ => None,
                }
            }
        }

        impl $crate::json::FromJson for $ty {
            fn from_json(
                value: &$crate::json::Json,
            ) -> ::std::result::Result<Self, $crate::json::JsonError> {
                let name = value
                    .as_str()
                    .ok_or_else(|| $crate::json::typed::expected("a string"))?;
                Self::from_name(name)
                    .ok_or_else(|| $crate::json::typed::unknown_value(name, &[$($name),*]))
            }
        }

        impl $crate::json::ToJson for $ty {
            fn to_json(&self) -> $crate::json::Json {
                $crate::json::Json::from(self.as_str())
            }
        }
    };
}
