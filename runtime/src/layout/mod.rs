//! Structural descriptions of stored states: what a workflow's state enum holds, field by
//! field, with every type spelled out, traced from its serde implementation with
//! `serde-reflection` when a runtime registers the workflow.
//!
//! The macro's fingerprint covers the types written in the code; types that rustc infers
//! (`let papers = ctx.task(fetch, topic).await?` holds whatever `fetch` returns) are invisible
//! to it. The generated state enum has every field with its real type, so tracing it (see
//! [`probe`]) describes them all. A runtime stores the description with the workflow's
//! registered version ([`StoredWorkflow::layout`](crate::StoredWorkflow::layout)), and runs are
//! stored under a *layout id* that mixes the macro's fingerprint with the description: an
//! inferred type that changes gives new runs another id, and a run stored under an old id is
//! compared state by state with the current description before anything is decoded
//! ([`check`]).
//!
//! Enums held in a state, at any depth, are described with every variant: serde-reflection
//! sees them one variant per pass, so they are traced from sample values that hold them all
//! ([`sample`]). Types that have no fixed layout (`serde_json::Value`, internally, adjacently
//! tagged and untagged enums, `flatten`: anything read with `deserialize_any` or reading a name
//! on its own) make the description *untraced*: it names them and where they are, and the
//! run's layout falls back to the macro's fingerprint alone. A report of a changed field
//! points at where inside it the descriptions first differ ([`pinpoint`]).

pub(crate) mod check;
pub(crate) mod compare;
pub(crate) mod migrate;
mod pinpoint;
pub(crate) mod probe;
pub(crate) mod render;
mod sample;
#[cfg(test)]
mod tests;

pub use compare::{Difference, LayoutChange};
pub use migrate::StoredState;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_reflection::{
    ContainerFormat, Format, Registry, Samples, Tracer, TracerConfig, VariantFormat,
};

/// The description of a workflow's state enum, as a runtime computed it at registration and
/// stored with the workflow's version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateLayout {
    /// The traced description, if tracing succeeded.
    #[serde(default)]
    traced: Option<Traced>,
    /// Why tracing failed, and the fields it could not follow.
    #[serde(default)]
    untraced: Option<Untraced>,
}

/// A traced description: the name of the state enum and serde-reflection's registry of every
/// named type it reaches (itself included), as serde-reflection's JSON. Kept as text because
/// serde-reflection's types are not `Send`; parsed again only to compare or to migrate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Traced {
    root: String,
    registry: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Untraced {
    reason: String,
    /// `field` of `State` for each field whose type could not be followed.
    fields: Vec<String>,
}

/// A traced description, parsed.
pub(crate) struct Parsed {
    pub root: String,
    pub registry: Registry,
}

impl StateLayout {
    /// Traces `S` (a generated state enum) through its `Deserialize` implementation.
    ///
    /// serde-reflection covers every variant of the type it traces (the states), but an enum
    /// held inside a state (a user's `enum Status` with several variants, at any depth) is
    /// seen one variant per pass, and only in passes that reach it. When that happens, `S`
    /// is traced again from sample values that hold every variant of every such enum
    /// ([`sample`]), serde-reflection's documented way (`trace_value` before `trace_type`).
    /// What still cannot be traced is named and the description is untraced, never silently
    /// partial.
    pub(crate) fn trace<S: Serialize + DeserializeOwned>() -> StateLayout {
        let sampled = sample::samples::<S>();
        if let Ok(sampled) = &sampled
            && !sampled.first_variant_recurses.is_empty()
        {
            // serde-reflection's own trace would recurse until the stack overflows.
            return Self::trace_from_samples(&sampled.values, false);
        }
        let mut tracer = Tracer::new(TracerConfig::default());
        let root = match tracer.trace_simple_type::<S>() {
            Ok((Format::TypeName(root), _)) => root,
            Ok((other, _)) => {
                return StateLayout::untraced(format!("not a state enum: {other:?}"), Vec::new());
            }
            Err(e) => {
                let mut fields = unknown_fields(&tracer.registry_unchecked());
                // The sampler says what the type asked for (`any valid JSON value`).
                if let Err(why) = sampled {
                    fields.push(why);
                }
                return StateLayout::untraced(e.to_string(), fields);
            }
        };
        match (tracer.registry(), sampled) {
            (Ok(registry), _) => StateLayout::from_registry(root, &registry),
            (Err(serde_reflection::Error::MissingVariants(_)), Ok(sampled)) => {
                Self::trace_from_samples(&sampled.values, true)
            }
            (Err(serde_reflection::Error::MissingVariants(names)), Err(why)) => {
                missing_variants(&root, names, Some(why))
            }
            (Err(e), _) => StateLayout::untraced(e.to_string(), Vec::new()),
        }
    }

    /// Traces a state enum from sample values holding every variant of every enum it
    /// reaches, then, if `deserialize`, through its `Deserialize` implementation too (which
    /// checks that the two agree).
    fn trace_from_samples<S: Serialize + DeserializeOwned>(
        values: &[S],
        deserialize: bool,
    ) -> StateLayout {
        let mut tracer = Tracer::new(TracerConfig::default());
        let mut samples = Samples::new();
        let mut root = None;
        for value in values {
            match tracer.trace_value(&mut samples, value) {
                Ok((Format::TypeName(name), _)) => root = Some(name),
                Ok((other, _)) => {
                    return StateLayout::untraced(
                        format!("not a state enum: {other:?}"),
                        Vec::new(),
                    );
                }
                Err(e) => return StateLayout::untraced(e.to_string(), Vec::new()),
            }
        }
        let Some(root) = root else {
            return StateLayout::untraced("no state to sample".to_owned(), Vec::new());
        };
        if deserialize && let Err(e) = tracer.trace_simple_type::<S>() {
            return StateLayout::untraced(e.to_string(), Vec::new());
        }
        match tracer.registry() {
            Ok(registry) => StateLayout::from_registry(root, &registry),
            Err(serde_reflection::Error::MissingVariants(names)) => {
                missing_variants(&root, names, None)
            }
            Err(e) => StateLayout::untraced(e.to_string(), Vec::new()),
        }
    }

    fn from_registry(root: String, registry: &Registry) -> StateLayout {
        match serde_json::to_string(registry) {
            Ok(registry) => StateLayout {
                traced: Some(Traced { root, registry }),
                untraced: None,
            },
            Err(e) => StateLayout::untraced(e.to_string(), Vec::new()),
        }
    }

    pub(crate) fn untraced(reason: String, fields: Vec<String>) -> StateLayout {
        StateLayout {
            traced: None,
            untraced: Some(Untraced { reason, fields }),
        }
    }

    /// Whether every type of every state was traced.
    pub fn is_traced(&self) -> bool {
        self.traced.is_some()
    }

    /// For an untraced description: why, naming the fields whose types could not be followed
    /// (the runs of such a workflow are told apart by the macro's fingerprint alone, which does
    /// not see inferred types).
    pub fn untraced_reason(&self) -> Option<String> {
        self.untraced.as_ref().map(|u| {
            if u.fields.is_empty() {
                format!("types not traced ({})", u.reason)
            } else {
                format!("types not traced ({}): {}", u.reason, u.fields.join(", "))
            }
        })
    }

    /// The stored states' names with their fields and types spelled out (named types
    /// expanded), one line per state, in variant order: what a person compares.
    pub fn describe(&self) -> Vec<String> {
        match self.parsed() {
            Some(parsed) => render::states(&parsed)
                .into_iter()
                .map(|state| state.to_string())
                .collect(),
            None => self.untraced_reason().into_iter().collect(),
        }
    }

    /// About the size of the stored description, for the disk reserved before a write.
    pub(crate) fn len_hint(&self) -> usize {
        64 + self
            .traced
            .as_ref()
            .map_or(0, |t| t.root.len() + t.registry.len())
            + self.untraced.as_ref().map_or(0, |u| {
                u.reason.len() + u.fields.iter().map(String::len).sum::<usize>()
            })
    }

    /// The layout id of runs stored with this description and the macro's `fingerprint`: the
    /// fingerprint itself when untraced.
    pub(crate) fn layout_id(&self, fingerprint: u64) -> u64 {
        match &self.traced {
            Some(traced) => {
                let mut hash = fnv1a(0xcbf2_9ce4_8422_2325, &fingerprint.to_le_bytes());
                hash = fnv1a(hash, b"cairn-description-1");
                hash = fnv1a(hash, traced.root.as_bytes());
                fnv1a(hash, traced.registry.as_bytes())
            }
            None => fingerprint,
        }
    }

    pub(crate) fn parsed(&self) -> Option<Parsed> {
        let traced = self.traced.as_ref()?;
        let registry = serde_json::from_str(&traced.registry).ok()?;
        Some(Parsed {
            root: traced.root.clone(),
            registry,
        })
    }
}

/// An untraced description naming the enums whose variants were not all seen.
fn missing_variants(root: &str, names: Vec<String>, why: Option<String>) -> StateLayout {
    let mut fields: Vec<String> = names
        .into_iter()
        .filter(|n| n != root)
        .map(|n| format!("enum `{n}`"))
        .collect();
    fields.extend(why);
    StateLayout::untraced(
        "an enum held in a state could not be traced variant by variant".to_owned(),
        fields,
    )
}

/// `field` of `Container::Variant` for every field left unknown by a failed trace.
fn unknown_fields(registry: &Registry) -> Vec<String> {
    let mut out = Vec::new();
    for (name, container) in registry {
        match container {
            ContainerFormat::Struct(fields) => {
                for field in fields.iter().filter(|f| unknown(&f.value)) {
                    out.push(format!("`{}` of `{name}`", field.name));
                }
            }
            ContainerFormat::Enum(variants) => {
                for variant in variants.values() {
                    let fields = match &variant.value {
                        VariantFormat::Struct(fields) => fields,
                        VariantFormat::Variable(v) => match &*v.borrow() {
                            Some(VariantFormat::Struct(fields)) => {
                                for field in fields.iter().filter(|f| unknown(&f.value)) {
                                    out.push(format!(
                                        "`{}` of `{name}::{}`",
                                        field.name, variant.name
                                    ));
                                }
                                continue;
                            }
                            _ => continue,
                        },
                        _ => continue,
                    };
                    for field in fields.iter().filter(|f| unknown(&f.value)) {
                        out.push(format!("`{}` of `{name}::{}`", field.name, variant.name));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn unknown(format: &Format) -> bool {
    match format {
        Format::Variable(v) => match &*v.borrow() {
            None => true,
            Some(inner) => unknown(inner),
        },
        Format::Option(f) | Format::Seq(f) => unknown(f),
        Format::Map { key, value } => unknown(key) || unknown(value),
        Format::Tuple(fs) => fs.iter().any(unknown),
        Format::TupleArray { content, .. } => unknown(content),
        _ => false,
    }
}

fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
