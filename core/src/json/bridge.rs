//! serde's data model over core's tree: a `Deserializer` reading a [`Json`] and a
//! `Serializer` building one, so that core's typed documents (token responses, metadata,
//! records) keep their `#[derive(Deserialize, Serialize)]` while the text itself is read and
//! written by the platform (`JSON.parse`/`JSON.stringify` in the wasm build, serde_json
//! natively).
//!
//! Numbers: an integral value visits as `u64`/`i64` (saturating beyond their range, so a
//! far-future `u64::MAX` time read back from a record stays the largest time), any other as
//! `f64`. Errors carry serde's usual texts; a number is named "number" (never its digits, which
//! would link float formatting into the wasm build).

use super::{Json, JsonError, Object};
use serde::de::{self, DeserializeSeed, IntoDeserializer, Unexpected, Visitor};
use serde::ser::{self, Serialize};
use std::fmt;

/// Names what was found; a number without its value (see the module text), a string as
/// printable text of at most 60 characters.
fn found(unexp: &Unexpected<'_>) -> String {
    match unexp {
        Unexpected::Bool(b) => format!("boolean `{b}`"),
        Unexpected::Unsigned(_) | Unexpected::Signed(_) | Unexpected::Float(_) => "number".into(),
        // the document's own text, made safe to show and bounded (not `{:?}`: its escaping
        // would link Unicode tables into the wasm build)
        Unexpected::Str(s) => format!("string \"{}\"", crate::text::printable(s, 60)),
        Unexpected::Unit | Unexpected::Option => "null".into(),
        Unexpected::Seq => "array".into(),
        Unexpected::Map => "object".into(),
        Unexpected::Char(c) => format!("character `{c}`"),
        Unexpected::Other(o) => (*o).into(),
        _ => "a value of another kind".into(),
    }
}

impl de::Error for JsonError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        JsonError(msg.to_string())
    }
    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        JsonError(format!("invalid type: {}, expected {exp}", found(&unexp)))
    }
    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        JsonError(format!("invalid value: {}, expected {exp}", found(&unexp)))
    }
    // serde's texts, with the document's own string made printable and bounded
    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        unknown("variant", variant, expected)
    }
    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        unknown("field", field, expected)
    }
}

fn unknown(what: &str, name: &str, expected: &[&str]) -> JsonError {
    let name = crate::text::printable(name, 60);
    let names = |list: &[&str]| {
        list.iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    JsonError(match expected {
        [] => format!("unknown {what} `{name}`, there are no {what}s"),
        [one] => format!("unknown {what} `{name}`, expected `{one}`"),
        [a, b] => format!("unknown {what} `{name}`, expected `{a}` or `{b}`"),
        list => format!("unknown {what} `{name}`, expected one of {}", names(list)),
    })
}

impl ser::Error for JsonError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        JsonError(msg.to_string())
    }
}

/// Reads a typed value out of a tree.
pub fn from_json<T: de::DeserializeOwned>(value: &Json) -> Result<T, JsonError> {
    T::deserialize(value)
}

/// Builds the tree of a typed value (a non-finite float becomes `null`, as in `JSON.stringify`).
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<Json, JsonError> {
    value.serialize(TreeWriter)
}

fn unexpected(value: &Json) -> Unexpected<'_> {
    match value {
        Json::Null => Unexpected::Unit,
        Json::Bool(b) => Unexpected::Bool(*b),
        Json::Number(n) => Unexpected::Float(*n),
        Json::String(s) => Unexpected::Str(s),
        Json::Array(_) => Unexpected::Seq,
        Json::Object(_) => Unexpected::Map,
    }
}

impl<'de> de::Deserializer<'de> for &'de Json {
    type Error = JsonError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        match self {
            Json::Null => visitor.visit_unit(),
            Json::Bool(b) => visitor.visit_bool(*b),
            // `as` saturates: 1e30 visits as u64::MAX, -1e30 as i64::MIN.
            Json::Number(n) if n.fract() == 0.0 && *n >= 0.0 => visitor.visit_u64(*n as u64),
            Json::Number(n) if n.fract() == 0.0 => visitor.visit_i64(*n as i64),
            Json::Number(n) => visitor.visit_f64(*n),
            Json::String(s) => visitor.visit_borrowed_str(s),
            Json::Array(items) => {
                let mut seq = Items(items.iter());
                let value = visitor.visit_seq(&mut seq)?;
                match seq.0.len() {
                    0 => Ok(value),
                    _ => Err(de::Error::invalid_length(items.len(), &"fewer elements")),
                }
            }
            Json::Object(object) => visitor.visit_map(Members {
                members: object.0.iter(),
                value: None,
            }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        match self {
            Json::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, JsonError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, JsonError> {
        match self {
            Json::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            Json::Object(o) if o.len() == 1 => {
                let (name, value) = &o.0[0];
                visitor.visit_enum(Variant { name, value })
            }
            other => Err(de::Error::invalid_type(unexpected(other), &"an enum")),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

struct Items<'a>(std::slice::Iter<'a, Json>);

impl<'de> de::SeqAccess<'de> for Items<'de> {
    type Error = JsonError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, JsonError> {
        self.0.next().map(|item| seed.deserialize(item)).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Members<'a> {
    members: std::slice::Iter<'a, (String, Json)>,
    value: Option<&'a Json>,
}

impl<'de> de::MapAccess<'de> for Members<'de> {
    type Error = JsonError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, JsonError> {
        match self.members.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(de::value::BorrowedStrDeserializer::new(key))
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, JsonError> {
        match self.value.take() {
            Some(value) => seed.deserialize(value),
            None => Err(de::Error::custom("a value without its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.members.len())
    }
}

/// `{"Variant": value}`: an enum variant with data.
struct Variant<'a> {
    name: &'a str,
    value: &'a Json,
}

impl<'de> de::EnumAccess<'de> for Variant<'de> {
    type Error = JsonError;
    type Variant = &'de Json;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, &'de Json), JsonError> {
        let name = seed.deserialize(de::value::BorrowedStrDeserializer::new(self.name))?;
        Ok((name, self.value))
    }
}

impl<'de> de::VariantAccess<'de> for &'de Json {
    type Error = JsonError;

    fn unit_variant(self) -> Result<(), JsonError> {
        de::Deserialize::deserialize(self)
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, JsonError> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, JsonError> {
        de::Deserializer::deserialize_any(self, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, JsonError> {
        de::Deserializer::deserialize_any(self, visitor)
    }
}

/// The `Serializer` that builds a tree.
struct TreeWriter;

fn number(n: f64) -> Json {
    if n.is_finite() {
        Json::Number(n)
    } else {
        Json::Null
    }
}

/// Collects the elements of a sequence, tuple or tuple variant.
struct ItemsWriter {
    items: Vec<Json>,
    /// `Some(name)` for a tuple variant: `{"name": [..]}`.
    variant: Option<&'static str>,
}

/// Collects the members of a map, struct or struct variant.
struct MembersWriter {
    object: Object,
    key: Option<String>,
    /// `Some(name)` for a struct variant: `{"name": {..}}`.
    variant: Option<&'static str>,
}

fn wrap(variant: Option<&'static str>, value: Json) -> Json {
    match variant {
        Some(name) => Json::Object(Object::new().with(name, value)),
        None => value,
    }
}

impl ser::Serializer for TreeWriter {
    type Ok = Json;
    type Error = JsonError;
    type SerializeSeq = ItemsWriter;
    type SerializeTuple = ItemsWriter;
    type SerializeTupleStruct = ItemsWriter;
    type SerializeTupleVariant = ItemsWriter;
    type SerializeMap = MembersWriter;
    type SerializeStruct = MembersWriter;
    type SerializeStructVariant = MembersWriter;

    fn serialize_bool(self, v: bool) -> Result<Json, JsonError> {
        Ok(Json::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Json, JsonError> {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<Json, JsonError> {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<Json, JsonError> {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<Json, JsonError> {
        Ok(Json::Number(v as f64))
    }
    fn serialize_u8(self, v: u8) -> Result<Json, JsonError> {
        self.serialize_u64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<Json, JsonError> {
        self.serialize_u64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<Json, JsonError> {
        self.serialize_u64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<Json, JsonError> {
        Ok(Json::Number(v as f64))
    }
    fn serialize_f32(self, v: f32) -> Result<Json, JsonError> {
        Ok(number(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Json, JsonError> {
        Ok(number(v))
    }
    fn serialize_char(self, v: char) -> Result<Json, JsonError> {
        Ok(Json::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Json, JsonError> {
        Ok(Json::String(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Json, JsonError> {
        Ok(Json::Array(
            v.iter().map(|b| Json::from(u64::from(*b))).collect(),
        ))
    }
    fn serialize_none(self) -> Result<Json, JsonError> {
        Ok(Json::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Json, JsonError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Json, JsonError> {
        Ok(Json::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Json, JsonError> {
        Ok(Json::Null)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Json, JsonError> {
        Ok(Json::String(variant.to_owned()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Json, JsonError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Json, JsonError> {
        Ok(wrap(Some(variant), value.serialize(self)?))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<ItemsWriter, JsonError> {
        Ok(ItemsWriter {
            items: Vec::with_capacity(len.unwrap_or(0)),
            variant: None,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<ItemsWriter, JsonError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<ItemsWriter, JsonError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<ItemsWriter, JsonError> {
        Ok(ItemsWriter {
            items: Vec::with_capacity(len),
            variant: Some(variant),
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MembersWriter, JsonError> {
        Ok(MembersWriter {
            object: Object::new(),
            key: None,
            variant: None,
        })
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<MembersWriter, JsonError> {
        self.serialize_map(None)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<MembersWriter, JsonError> {
        Ok(MembersWriter {
            object: Object::new(),
            key: None,
            variant: Some(variant),
        })
    }
}

impl ItemsWriter {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), JsonError> {
        self.items.push(value.serialize(TreeWriter)?);
        Ok(())
    }
    fn finish(self) -> Result<Json, JsonError> {
        Ok(wrap(self.variant, Json::Array(self.items)))
    }
}

macro_rules! items_writer {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for ItemsWriter {
            type Ok = Json;
            type Error = JsonError;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), JsonError> {
                self.push(value)
            }
            fn end(self) -> Result<Json, JsonError> {
                self.finish()
            }
        }
    )*};
}

items_writer!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl MembersWriter {
    fn member<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), JsonError> {
        self.object.insert(key, value.serialize(TreeWriter)?);
        Ok(())
    }
    fn finish(self) -> Result<Json, JsonError> {
        Ok(wrap(self.variant, Json::Object(self.object)))
    }
}

impl ser::SerializeMap for MembersWriter {
    type Ok = Json;
    type Error = JsonError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), JsonError> {
        match key.serialize(TreeWriter)? {
            Json::String(key) => {
                self.key = Some(key);
                Ok(())
            }
            _ => Err(ser::Error::custom("key must be a string")),
        }
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), JsonError> {
        match self.key.take() {
            Some(key) => self.member(&key, value),
            None => Err(ser::Error::custom("a value without its key")),
        }
    }
    fn end(self) -> Result<Json, JsonError> {
        self.finish()
    }
}

macro_rules! fields_writer {
    ($($trait:ident),*) => {$(
        impl ser::$trait for MembersWriter {
            type Ok = Json;
            type Error = JsonError;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), JsonError> {
                self.member(key, value)
            }
            fn end(self) -> Result<Json, JsonError> {
                self.finish()
            }
        }
    )*};
}

fields_writer!(SerializeStruct, SerializeStructVariant);
