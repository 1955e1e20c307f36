//! Sample values of a state enum that, together, hold every variant of every enum reachable
//! from it: what serde-reflection needs to trace enums nested in a state.
//!
//! serde-reflection traces a type by deserializing it from a tracing deserializer. It walks
//! every variant of the type it is asked about, but an enum met *inside* it (a user's
//! `enum Status` in a field, in a `Vec`, in a struct) is seen one variant per pass and only
//! in passes that reach it; it must be traced again by its own type, which the runtime cannot
//! name (the state enum's type parameters are inferred in the generated body). Its documented
//! way around that is to trace sample *values* first (`Tracer::trace_value`), which records
//! the variants they hold. This module makes those samples without any user value: it
//! deserializes the state enum from [`Sampler`], a deserializer of default values that picks,
//! at each enum it meets, a variant not sampled yet, or one leading to an enum that still has
//! variants not sampled. One value per pass, until every enum met is covered.
//!
//! What it cannot build fails with the place and what the type asked for: a type that needs a
//! self-describing format (`deserialize_any`: `serde_json::Value`, untagged and internally
//! tagged enums, `flatten`), or one whose `Deserialize` refuses the default values.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

/// At most this many values are built for one state enum (each covers at least one variant).
const MAX_SAMPLES: usize = 4096;
/// Nesting deeper than this is a recursive type the sampler found no way out of.
const MAX_DEPTH: usize = 64;

/// Values of a state enum that hold every variant of every enum reachable from it.
pub(crate) struct Sampled<S> {
    pub values: Vec<S>,
    /// Enums whose first variant holds the enum itself (`enum List { Cons(Box<List>), Nil }`,
    /// or through other types): serde-reflection's deserializing trace takes the first variant
    /// of an enum it meets again and would never end on them.
    pub first_variant_recurses: Vec<&'static str>,
}

/// Values of `S` that hold every variant of every enum reachable from `S` (`S` included), or
/// why they cannot be built (naming the place).
pub(crate) fn samples<S: DeserializeOwned>() -> Result<Sampled<S>, String> {
    let mut explorer = Explorer::default();
    let mut values = Vec::new();
    loop {
        explorer.progress = false;
        let value = S::deserialize(Sampler {
            explorer: &mut explorer,
        })
        .map_err(|e| e.message)?;
        // A pass that held only variants sampled before means the rest cannot be reached.
        let done = !explorer.progress || explorer.all_sampled() || values.len() >= MAX_SAMPLES;
        if explorer.progress {
            values.push(value);
        }
        if done {
            let first_variant_recurses = explorer
                .enums
                .iter()
                .filter(|(name, seen)| seen.reaches[0].contains(*name))
                .map(|(name, _)| *name)
                .collect();
            return Ok(Sampled {
                values,
                first_variant_recurses,
            });
        }
    }
}

/// What the passes so far have seen.
#[derive(Default)]
struct Explorer {
    enums: BTreeMap<&'static str, EnumSeen>,
    /// The named containers being built, outermost first, each with the variant chosen for an
    /// enum; a container met again inside itself is a recursion, cut short.
    stack: Vec<(&'static str, Option<usize>)>,
    /// Where the value being built is, for errors: `Fetch`, `shape`, `[0]`...
    path: Vec<String>,
    /// Whether this pass sampled a variant not sampled before.
    progress: bool,
}

/// One enum met while sampling.
struct EnumSeen {
    variants: &'static [&'static str],
    sampled: Vec<bool>,
    /// For each variant, the enums met inside it (in any pass that chose it).
    reaches: Vec<BTreeSet<&'static str>>,
}

impl Explorer {
    fn all_sampled(&self) -> bool {
        self.enums.values().all(|e| e.sampled.iter().all(|s| *s))
    }

    fn unfinished(&self, name: &str) -> bool {
        self.enums
            .get(name)
            .is_some_and(|e| e.sampled.iter().any(|s| !*s))
    }

    /// Whether the value being built is inside a container met again inside itself: its
    /// sequences and options are then left empty, so that the recursion ends.
    fn in_recursion(&self) -> bool {
        let mut seen = BTreeSet::new();
        self.stack.iter().any(|(name, _)| !seen.insert(*name))
    }

    /// Records that enum `name` is met: every enum variant being built reaches it.
    fn met(&mut self, name: &'static str, variants: &'static [&'static str]) -> Result<(), Error> {
        if let Some(seen) = self.enums.get(name)
            && seen.variants != variants
        {
            // serde-reflection keys types by name: it could not tell them apart either.
            return Err(self.error(format_args!(
                "two enums are named `{name}` (variants {} and {}): rename one for serde \
                 (`#[serde(rename = \"...\")]`)",
                seen.variants.join(" | "),
                variants.join(" | ")
            )));
        }
        for (outer, variant) in &self.stack {
            if let (Some(variant), Some(seen)) = (variant, self.enums.get_mut(outer)) {
                seen.reaches[*variant].insert(name);
            }
        }
        self.enums.entry(name).or_insert_with(|| EnumSeen {
            variants,
            sampled: vec![false; variants.len()],
            reaches: vec![BTreeSet::new(); variants.len()],
        });
        Ok(())
    }

    /// The variant to build for enum `name`: one not sampled yet; else one leading to an enum
    /// with variants not sampled yet; else any. Never, after the first, one that leads back
    /// into an enum being built, so that recursive types end (an enum met inside itself has
    /// its outer copy on the stack, so only the outermost may take a recursive variant).
    fn choose(&mut self, name: &'static str) -> usize {
        let building: BTreeSet<&str> = self.stack.iter().map(|(n, _)| *n).collect();
        let seen = &self.enums[name];
        if let Some(fresh) = seen.sampled.iter().position(|s| !*s) {
            self.enums.get_mut(name).expect("met").sampled[fresh] = true;
            self.progress = true;
            return fresh;
        }
        let leads_back = |i: usize| seen.reaches[i].iter().any(|n| building.contains(n));
        (0..seen.variants.len())
            .find(|&i| !leads_back(i) && seen.reaches[i].iter().any(|n| self.unfinished(n)))
            .or_else(|| (0..seen.variants.len()).find(|&i| !leads_back(i)))
            .unwrap_or(0)
    }

    fn enter(&mut self, name: &'static str, variant: Option<usize>) -> Result<(), Error> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.error(format_args!(
                "`{name}` nests itself with no way out that the tracer found"
            )));
        }
        self.stack.push((name, variant));
        Ok(())
    }

    /// An error about the value being built, saying where it is.
    fn error(&self, what: impl fmt::Display) -> Error {
        let message = if self.path.is_empty() {
            what.to_string()
        } else {
            format!("at `{}`: {what}", self.path.join("."))
        };
        Error {
            message,
            placed: true,
        }
    }

    /// `error`, saying where it happened if it does not yet (an error a `Deserialize`
    /// implementation raised, like `expected a nonzero u32`).
    fn place(&self, error: Error) -> Error {
        if error.placed {
            error
        } else {
            self.error(error.message)
        }
    }
}

/// Why a sample could not be built.
#[derive(Debug)]
struct Error {
    message: String,
    /// Whether `message` says where (see [`Explorer::place`]).
    placed: bool,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error {
            message: msg.to_string(),
            placed: false,
        }
    }
}

/// What a visitor expects, for an error about a type that needs a self-describing format.
struct Expecting<'v, V>(&'v V);

impl<'de, V: Visitor<'de>> fmt::Display for Expecting<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }
}

/// A deserializer of default values (zero, `false`, `""`, one element per sequence) that
/// chooses the variant of each enum it meets (see [`Explorer::choose`]).
struct Sampler<'x> {
    explorer: &'x mut Explorer,
}

macro_rules! defaults {
    ($($method:ident => $visit:ident($($value:expr)?);)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.$visit($($value)?)
        })*
    };
}

impl<'de> de::Deserializer<'de> for Sampler<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        Err(self.explorer.error(format_args!(
            "`{}` is read with deserialize_any (an internally tagged or untagged enum, \
             `#[serde(flatten)]`, `serde_json::Value`...): it has no fixed layout to trace",
            Expecting(&visitor)
        )))
    }

    defaults! {
        deserialize_bool => visit_bool(false);
        deserialize_i8 => visit_i8(0);
        deserialize_i16 => visit_i16(0);
        deserialize_i32 => visit_i32(0);
        deserialize_i64 => visit_i64(0);
        deserialize_i128 => visit_i128(0);
        deserialize_u8 => visit_u8(0);
        deserialize_u16 => visit_u16(0);
        deserialize_u32 => visit_u32(0);
        deserialize_u64 => visit_u64(0);
        deserialize_u128 => visit_u128(0);
        deserialize_f32 => visit_f32(0.0);
        deserialize_f64 => visit_f64(0.0);
        deserialize_char => visit_char('A');
        deserialize_str => visit_str("");
        deserialize_string => visit_string(String::new());
        deserialize_bytes => visit_bytes(&[]);
        deserialize_byte_buf => visit_byte_buf(Vec::new());
        deserialize_unit => visit_unit();
        deserialize_ignored_any => visit_unit();
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        Err(self.explorer.error(format_args!(
            "a `{}` is read on its own (an adjacently tagged enum, `#[serde(flatten)]`...): \
             serde-reflection cannot trace it",
            Expecting(&visitor)
        )))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.explorer.in_recursion() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.explorer.enter(name, None)?;
        let explorer = &mut *self.explorer;
        let value = visitor.visit_newtype_struct(Sampler {
            explorer: &mut *explorer,
        });
        explorer.stack.pop();
        value
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let len = usize::from(!self.explorer.in_recursion());
        visitor.visit_seq(Elements::indexed(self.explorer, len))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(Elements::indexed(self.explorer, len))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.explorer.enter(name, None)?;
        let explorer = &mut *self.explorer;
        let value = visitor.visit_seq(Elements::indexed(explorer, len));
        explorer.stack.pop();
        value
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let len = usize::from(!self.explorer.in_recursion());
        visitor.visit_map(Entries {
            explorer: self.explorer,
            left: len,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.explorer.enter(name, None)?;
        let explorer = &mut *self.explorer;
        let value = visitor.visit_seq(Elements::named(explorer, fields));
        explorer.stack.pop();
        value
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if variants.is_empty() {
            return Err(self
                .explorer
                .error(format_args!("enum `{name}` has no variant to sample")));
        }
        self.explorer.met(name, variants)?;
        let index = self.explorer.choose(name);
        self.explorer.enter(name, Some(index))?;
        let explorer = &mut *self.explorer;
        explorer.path.push(variants[index].to_owned());
        let value = visitor
            .visit_enum(Variant {
                explorer: &mut *explorer,
                index,
            })
            .map_err(|e| explorer.place(e));
        explorer.path.pop();
        explorer.stack.pop();
        value
    }

    fn is_human_readable(&self) -> bool {
        // postcard, the format states are stored in, is not.
        false
    }
}

/// The elements of a sequence, tuple or struct, built in order.
struct Elements<'x> {
    explorer: &'x mut Explorer,
    names: Option<&'static [&'static str]>,
    next: usize,
    len: usize,
}

impl<'x> Elements<'x> {
    fn indexed(explorer: &'x mut Explorer, len: usize) -> Self {
        Elements {
            explorer,
            names: None,
            next: 0,
            len,
        }
    }

    fn named(explorer: &'x mut Explorer, names: &'static [&'static str]) -> Self {
        Elements {
            explorer,
            names: Some(names),
            next: 0,
            len: names.len(),
        }
    }
}

impl<'de> de::SeqAccess<'de> for Elements<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if self.next == self.len {
            return Ok(None);
        }
        let step = match self.names {
            Some(names) => names[self.next].to_owned(),
            None => self.next.to_string(),
        };
        self.next += 1;
        self.explorer.path.push(step);
        let value = seed
            .deserialize(Sampler {
                explorer: &mut *self.explorer,
            })
            .map_err(|e| self.explorer.place(e));
        self.explorer.path.pop();
        value.map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.len - self.next)
    }
}

/// The entries of a map: one, unless inside a recursion.
struct Entries<'x> {
    explorer: &'x mut Explorer,
    left: usize,
}

impl<'de> de::MapAccess<'de> for Entries<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        self.explorer.path.push("key".to_owned());
        let key = seed
            .deserialize(Sampler {
                explorer: &mut *self.explorer,
            })
            .map_err(|e| self.explorer.place(e));
        self.explorer.path.pop();
        key.map(Some)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        self.explorer.path.push("value".to_owned());
        let value = seed
            .deserialize(Sampler {
                explorer: &mut *self.explorer,
            })
            .map_err(|e| self.explorer.place(e));
        self.explorer.path.pop();
        value
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

/// The variant chosen for an enum, given to its visitor by position.
struct Variant<'x> {
    explorer: &'x mut Explorer,
    index: usize,
}

impl<'de, 'x> de::EnumAccess<'de> for Variant<'x> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Self), Error> {
        let index = u32::try_from(self.index).map_err(de::Error::custom)?;
        let deserializer: de::value::U32Deserializer<Error> = index.into_deserializer();
        Ok((seed.deserialize(deserializer)?, self))
    }
}

impl<'de> de::VariantAccess<'de> for Variant<'_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(Sampler {
            explorer: self.explorer,
        })
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(Elements::indexed(self.explorer, len))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_seq(Elements::named(self.explorer, fields))
    }
}
