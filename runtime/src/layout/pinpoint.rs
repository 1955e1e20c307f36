//! Where inside a field's type two descriptions first differ: `jobs[].status::Running`, with
//! that variant as it was stored and as it is now, so that a change deep inside a long type
//! (an enum in a struct in a `Vec`) can be read without comparing two spelled-out types by eye.
//!
//! The path reads like the value: `.field` of a struct or a variant, `[]` the elements of a
//! sequence, `?` the value of an `Option`, `.key` and `.value` those of a map, `.0` a tuple's
//! part, `::Variant` a variant of an enum.

use serde_reflection::{ContainerFormat, Format, Named, Registry, VariantFormat};

use super::Parsed;
use super::compare::{Difference, LayoutChange};
use super::render::{ty, variant};

/// Fills in [`LayoutChange::first_difference`] for each change of a field's type, when the
/// difference lies deeper than the field itself.
pub(crate) fn refine(changes: &mut [LayoutChange], old: Option<Parsed>, new: Option<Parsed>) {
    let (Some(old), Some(new)) = (old, new) else {
        return;
    };
    for change in changes.iter_mut() {
        let (Some(field), Some(_), Some(_)) = (&change.field, &change.old, &change.new) else {
            continue;
        };
        let (Some(o), Some(n)) = (
            field_format(&old, &change.state, field),
            field_format(&new, &change.state, field),
        ) else {
            continue;
        };
        change.first_difference = first_difference(
            &Side {
                format: o,
                registry: &old.registry,
            },
            &Side {
                format: n,
                registry: &new.registry,
            },
            field.clone(),
            &mut Vec::new(),
        )
        .filter(|d| d.path != *field);
    }
}

/// The format of field `field` of state `state`.
fn field_format(parsed: &Parsed, state: &str, field: &str) -> Option<Format> {
    let Some(ContainerFormat::Enum(variants)) = parsed.registry.get(&parsed.root) else {
        return None;
    };
    let variant = variants.values().find(|v| v.name == state)?;
    match &variant.value {
        VariantFormat::Struct(fields) => fields
            .iter()
            .find(|f| f.name == field)
            .map(|f| f.value.clone()),
        VariantFormat::NewType(format) if field == "0" => Some((**format).clone()),
        VariantFormat::Tuple(formats) => field
            .parse::<usize>()
            .ok()
            .and_then(|i| formats.get(i).cloned()),
        _ => None,
    }
}

/// A format with the registry its names refer to.
struct Side<'r> {
    format: Format,
    registry: &'r Registry,
}

impl Side<'_> {
    fn with(&self, format: &Format) -> Self {
        Side {
            format: format.clone(),
            registry: self.registry,
        }
    }

    fn spelled(&self) -> String {
        ty(&self.format, self.registry, &mut Vec::new())
    }
}

/// The first place, from `path` down, where `old` and `new` differ. `seen` holds the named
/// types being compared, so that a recursive type is followed once.
fn first_difference(
    old: &Side<'_>,
    new: &Side<'_>,
    path: String,
    seen: &mut Vec<String>,
) -> Option<Difference> {
    if let (Format::TypeName(a), Format::TypeName(b)) = (&old.format, &new.format)
        && a == b
        && seen.contains(a)
    {
        // A type met again inside itself: it differs where its outer copy does, which the
        // walk of that copy finds.
        return None;
    }
    let (old_text, new_text) = (old.spelled(), new.spelled());
    if old_text == new_text {
        return None;
    }
    let here = || Difference {
        path: path.clone(),
        old: old_text.clone(),
        new: new_text.clone(),
    };
    let deeper = match (&old.format, &new.format) {
        (Format::Option(a), Format::Option(b)) => {
            first_difference(&old.with(a), &new.with(b), format!("{path}?"), seen)
        }
        (Format::Seq(a), Format::Seq(b)) => {
            first_difference(&old.with(a), &new.with(b), format!("{path}[]"), seen)
        }
        (Format::Map { key: k1, value: v1 }, Format::Map { key: k2, value: v2 }) => {
            first_difference(&old.with(k1), &new.with(k2), format!("{path}.key"), seen).or_else(
                || first_difference(&old.with(v1), &new.with(v2), format!("{path}.value"), seen),
            )
        }
        (Format::Tuple(a), Format::Tuple(b)) if a.len() == b.len() => {
            parts(old, new, a, b, &path, seen)
        }
        (Format::TypeName(a), Format::TypeName(b)) if a == b => {
            seen.push(a.clone());
            let found = containers(old, new, a, &path, seen);
            seen.pop();
            found
        }
        _ => None,
    };
    Some(deeper.unwrap_or_else(here))
}

/// The first difference between the parts of two tuples (of a type, a variant or a struct).
fn parts(
    old: &Side<'_>,
    new: &Side<'_>,
    a: &[Format],
    b: &[Format],
    path: &str,
    seen: &mut Vec<String>,
) -> Option<Difference> {
    a.iter().zip(b).enumerate().find_map(|(i, (x, y))| {
        first_difference(&old.with(x), &new.with(y), format!("{path}.{i}"), seen)
    })
}

/// The first difference between two lists of named fields, if their names and order agree.
fn fields(
    old: &Side<'_>,
    new: &Side<'_>,
    a: &[Named<Format>],
    b: &[Named<Format>],
    path: &str,
    seen: &mut Vec<String>,
) -> Option<Option<Difference>> {
    let same_names = a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.name == y.name);
    same_names.then(|| {
        a.iter().zip(b).find_map(|(x, y)| {
            first_difference(
                &old.with(&x.value),
                &new.with(&y.value),
                format!("{path}.{}", x.name),
                seen,
            )
        })
    })
}

/// The first difference inside named type `name`, as each side's registry describes it;
/// `None` when it differs as a whole (other fields, variants or kind).
fn containers(
    old: &Side<'_>,
    new: &Side<'_>,
    name: &str,
    path: &str,
    seen: &mut Vec<String>,
) -> Option<Difference> {
    match (old.registry.get(name)?, new.registry.get(name)?) {
        (ContainerFormat::Struct(a), ContainerFormat::Struct(b)) => {
            fields(old, new, a, b, path, seen).flatten()
        }
        (ContainerFormat::NewTypeStruct(a), ContainerFormat::NewTypeStruct(b)) => {
            first_difference(&old.with(a), &new.with(b), format!("{path}.0"), seen)
        }
        (ContainerFormat::TupleStruct(a), ContainerFormat::TupleStruct(b))
            if a.len() == b.len() =>
        {
            parts(old, new, a, b, path, seen)
        }
        (ContainerFormat::Enum(a), ContainerFormat::Enum(b)) => {
            let same_names = a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|((i, x), (j, y))| i == j && x.name == y.name);
            if !same_names {
                // Variants added, removed or moved: the enum's list of variants is the point.
                return None;
            }
            a.values().zip(b.values()).find_map(|(x, y)| {
                let at = format!("{path}::{}", x.name);
                let inner = match (&x.value, &y.value) {
                    (VariantFormat::NewType(p), VariantFormat::NewType(q)) => {
                        first_difference(&old.with(p), &new.with(q), at.clone(), seen)
                            .filter(|d| d.path != at)
                    }
                    (VariantFormat::Tuple(p), VariantFormat::Tuple(q)) if p.len() == q.len() => {
                        parts(old, new, p, q, &at, seen)
                    }
                    (VariantFormat::Struct(p), VariantFormat::Struct(q)) => {
                        fields(old, new, p, q, &at, seen).flatten()
                    }
                    _ => None,
                };
                let (old_text, new_text) = (
                    variant(x, old.registry, &mut Vec::new()),
                    variant(y, new.registry, &mut Vec::new()),
                );
                inner.or_else(|| {
                    (old_text != new_text).then(|| Difference {
                        path: at.clone(),
                        old: old_text,
                        new: new_text,
                    })
                })
            })
        }
        _ => None,
    }
}
