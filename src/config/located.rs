//! `Located<T, S>`: a config entry read with where its parser saw it and each of its keys, and
//! the keys its type does not have. The one place that reads the parsers' spanned types.
//!
//! Errors found after parsing (a role's unknown profile, a bad glob) point at the entry or at
//! one of its keys, so every entry records those positions while it is read, in any style:
//! block or flow YAML, TOML tables or inline tables.

use schemars::JsonSchema;
use serde::de::{DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// Where a parser saw something: toml reports byte offsets, serde-saphyr lines and columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pos {
    Offset(usize),
    LineColumn(usize, usize),
}

/// A parser's own spanned wrapper, behind one function so that the raw types serve both.
pub trait Spans {
    /// Reads a `T` and where it starts.
    fn spanned<'de, D, T>(deserializer: D) -> Result<(T, Pos), D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>;
}

/// TOML, read with `toml::Spanned`.
#[derive(Debug)]
pub enum Toml {}

/// YAML, read with `serde_saphyr::Spanned`.
#[derive(Debug)]
pub enum Yaml {}

impl Spans for Toml {
    fn spanned<'de, D, T>(deserializer: D) -> Result<(T, Pos), D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        let spanned = toml::Spanned::<T>::deserialize(deserializer)?;
        let start = spanned.span().start;
        Ok((spanned.into_inner(), Pos::Offset(start)))
    }
}

impl Spans for Yaml {
    fn spanned<'de, D, T>(deserializer: D) -> Result<(T, Pos), D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        let spanned = serde_saphyr::Spanned::<T>::deserialize(deserializer)?;
        let at = spanned.referenced;
        // Line 0 is serde-saphyr's "unknown", which only buffered values get.
        let number = |n: u64| usize::try_from(n).unwrap_or(usize::MAX).max(1);
        Ok((
            spanned.value,
            Pos::LineColumn(number(at.line()), number(at.column())),
        ))
    }
}

/// A value read from a map (a struct or a map type), with where it and each of its keys are.
///
/// Keys that `T`, a struct, does not have are kept in `extra` with their values instead of
/// reaching `T`: a role's name-template placeholders, and a misspelt key everywhere else,
/// reported with its position and a suggestion from `fields`. This is what
/// `#[serde(flatten)]` would do, without buffering the entry, which loses every position in it.
#[derive(Debug)]
pub struct Located<T, S> {
    pub value: T,
    /// Where the entry starts.
    pub at: Pos,
    /// Each key of the entry that `T` read.
    pub keys: Vec<(Cow<'static, str>, Pos)>,
    pub extra: Vec<(String, Pos, serde_json::Value)>,
    /// The keys `T` accepts, as serde's derive lists them; empty for a map type.
    pub fields: &'static [&'static str],
    format: PhantomData<fn() -> S>,
}

impl<T: Default, S> Default for Located<T, S> {
    fn default() -> Self {
        Located {
            value: T::default(),
            at: Pos::Offset(0),
            keys: Vec::new(),
            extra: Vec::new(),
            fields: &[],
            format: PhantomData,
        }
    }
}

impl<'de, T: Deserialize<'de>, S: Spans> Deserialize<'de> for Located<T, S> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (recorded, at) = S::spanned::<D, Recorded<T, S>>(deserializer)?;
        let Recorded { value, record, .. } = recorded;
        Ok(Located {
            value,
            at,
            keys: record.keys,
            extra: record.extra,
            fields: record.fields,
            format: PhantomData,
        })
    }
}

/// The schema of `T`: positions are not part of the file.
impl<T: JsonSchema, S> JsonSchema for Located<T, S> {
    fn is_referenceable() -> bool {
        T::is_referenceable()
    }

    fn schema_name() -> String {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        T::json_schema(generator)
    }
}

#[derive(Default)]
struct Record {
    keys: Vec<(Cow<'static, str>, Pos)>,
    extra: Vec<(String, Pos, serde_json::Value)>,
    fields: &'static [&'static str],
}

/// `T` and its record, read inside the parser's spanned wrapper.
struct Recorded<T, S> {
    value: T,
    record: Record,
    format: PhantomData<fn() -> S>,
}

impl<'de, T: Deserialize<'de>, S: Spans> Deserialize<'de> for Recorded<T, S> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RecordVisitor::<T, S>(PhantomData))
    }
}

struct RecordVisitor<T, S>(PhantomData<fn() -> (T, S)>);

impl<'de, T: Deserialize<'de>, S: Spans> Visitor<'de> for RecordVisitor<T, S> {
    type Value = Recorded<T, S>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let mut record = Record::default();
        let value = T::deserialize(Entries::<A, S> {
            map,
            record: &mut record,
            format: PhantomData,
        })?;
        Ok(Recorded {
            value,
            record,
            format: PhantomData,
        })
    }
}

/// The parser's map as `T` sees it: a deserializer that learns `T`'s fields, and a map access
/// that records each key and keeps back the keys `T` does not have.
struct Entries<'r, A, S> {
    map: A,
    record: &'r mut Record,
    format: PhantomData<fn() -> S>,
}

impl<'de, A: MapAccess<'de>, S: Spans> Deserializer<'de> for Entries<'_, A, S> {
    type Error = A::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_map(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.record.fields = fields;
        visitor.visit_map(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

impl<'de, A: MapAccess<'de>, S: Spans> MapAccess<'de> for Entries<'_, A, S> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        mut seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            let key = KeySeed::<K, S> {
                seed,
                fields: self.record.fields,
                format: PhantomData,
            };
            match self.map.next_key_seed(key)? {
                None => return Ok(None),
                Some(Key::Read { value, name, at }) => {
                    self.record.keys.push((name, at));
                    return Ok(Some(value));
                }
                Some(Key::Extra {
                    name,
                    at,
                    seed: unused,
                }) => {
                    let value = self.map.next_value()?;
                    self.record.extra.push((name, at, value));
                    seed = unused;
                }
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

/// Reads a key with its position, and hands it to `T`'s seed when `T` has it. The seed runs
/// inside the parser's own key access, so the parser places any error it raises at the key.
struct KeySeed<K, S> {
    seed: K,
    fields: &'static [&'static str],
    format: PhantomData<fn() -> S>,
}

/// A key `T` read (`value` is what its seed made of it), or one it does not have, with the seed
/// handed back for the next key.
enum Key<V, K> {
    Read {
        value: V,
        name: Cow<'static, str>,
        at: Pos,
    },
    Extra {
        name: String,
        at: Pos,
        seed: K,
    },
}

impl<'de, K: DeserializeSeed<'de>, S: Spans> DeserializeSeed<'de> for KeySeed<K, S> {
    type Value = Key<K::Value, K>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let (name, at) = S::spanned::<D, String>(deserializer)?;
        let name = match self.fields.iter().find(|field| **field == name) {
            Some(field) => Cow::Borrowed(*field),
            None if self.fields.is_empty() => Cow::Owned(name),
            None => {
                return Ok(Key::Extra {
                    name,
                    at,
                    seed: self.seed,
                })
            }
        };
        let value = self
            .seed
            .deserialize(IntoDeserializer::<D::Error>::into_deserializer(
                name.as_ref(),
            ))?;
        Ok(Key::Read { value, name, at })
    }
}
