//! A traced description spelled out for people and compared as text: each state with its
//! position in the enum (postcard stores the variant by position), its fields in order, and
//! each field's type with every named type expanded (`Vec<Paper { title: String, year: u32 }>`).
//! Two states whose renderings are equal are stored the same way.

use std::fmt;

use serde_reflection::{ContainerFormat, Format, Named, Registry, VariantFormat};

use super::Parsed;

/// One state of a traced description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StateShape {
    /// Position of the variant in the enum.
    pub index: u32,
    pub name: String,
    /// Field names with their types, in order.
    pub fields: Vec<(String, String)>,
}

impl fmt::Display for StateShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (variant {}) {{", self.name, self.index)?;
        for (i, (name, ty)) in self.fields.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            write!(f, "{sep}{name}: {ty}")?;
        }
        f.write_str(" }")
    }
}

/// Every state of the description, in variant order.
pub(crate) fn states(parsed: &Parsed) -> Vec<StateShape> {
    let Some(ContainerFormat::Enum(variants)) = parsed.registry.get(&parsed.root) else {
        return Vec::new();
    };
    variants
        .iter()
        .map(|(&index, variant)| {
            let mut stack = vec![parsed.root.clone()];
            let fields = match &variant.value {
                VariantFormat::Struct(fields) => fields
                    .iter()
                    .map(|f| (f.name.clone(), ty(&f.value, &parsed.registry, &mut stack)))
                    .collect(),
                VariantFormat::NewType(format) => {
                    vec![("0".to_owned(), ty(format, &parsed.registry, &mut stack))]
                }
                VariantFormat::Tuple(formats) => formats
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (i.to_string(), ty(f, &parsed.registry, &mut stack)))
                    .collect(),
                VariantFormat::Unit | VariantFormat::Variable(_) => Vec::new(),
            };
            StateShape {
                index,
                name: variant.name.clone(),
                fields,
            }
        })
        .collect()
}

/// A type spelled out; a named type met again inside itself is written by name only.
pub(crate) fn ty(format: &Format, registry: &Registry, stack: &mut Vec<String>) -> String {
    match format {
        Format::Variable(_) => "?".to_owned(),
        Format::TypeName(name) => named(name, registry, stack),
        Format::Unit => "()".to_owned(),
        Format::Bool => "bool".to_owned(),
        Format::I8 => "i8".to_owned(),
        Format::I16 => "i16".to_owned(),
        Format::I32 => "i32".to_owned(),
        Format::I64 => "i64".to_owned(),
        Format::I128 => "i128".to_owned(),
        Format::U8 => "u8".to_owned(),
        Format::U16 => "u16".to_owned(),
        Format::U32 => "u32".to_owned(),
        Format::U64 => "u64".to_owned(),
        Format::U128 => "u128".to_owned(),
        Format::F32 => "f32".to_owned(),
        Format::F64 => "f64".to_owned(),
        Format::Char => "char".to_owned(),
        Format::Str => "String".to_owned(),
        Format::Bytes => "bytes".to_owned(),
        Format::Option(inner) => format!("Option<{}>", ty(inner, registry, stack)),
        Format::Seq(inner) => format!("Vec<{}>", ty(inner, registry, stack)),
        Format::Map { key, value } => format!(
            "Map<{}, {}>",
            ty(key, registry, stack),
            ty(value, registry, stack)
        ),
        Format::Tuple(formats) => format!("({})", types(formats, registry, stack)),
        Format::TupleArray { content, size } => {
            format!("[{}; {size}]", ty(content, registry, stack))
        }
    }
}

fn named(name: &str, registry: &Registry, stack: &mut Vec<String>) -> String {
    let Some(container) = registry.get(name) else {
        return format!("{name}?");
    };
    if stack.iter().any(|n| n == name) {
        return name.to_owned();
    }
    stack.push(name.to_owned());
    let out = match container {
        ContainerFormat::UnitStruct => name.to_owned(),
        ContainerFormat::NewTypeStruct(inner) => format!("{name}({})", ty(inner, registry, stack)),
        ContainerFormat::TupleStruct(formats) => {
            format!("{name}({})", types(formats, registry, stack))
        }
        ContainerFormat::Struct(named) => {
            format!("{name} {{ {} }}", fields(named, registry, stack))
        }
        ContainerFormat::Enum(variants) => {
            let variants = variants
                .values()
                .map(|v| variant(v, registry, stack))
                .collect::<Vec<_>>()
                .join(" | ");
            format!("enum {name} {{ {variants} }}")
        }
    };
    stack.pop();
    out
}

/// One variant of an enum spelled out: `Running { worker: u32 }`, `Done(String)`, `Queued`.
pub(crate) fn variant(
    variant: &Named<VariantFormat>,
    registry: &Registry,
    stack: &mut Vec<String>,
) -> String {
    match &variant.value {
        VariantFormat::Unit | VariantFormat::Variable(_) => variant.name.clone(),
        VariantFormat::NewType(inner) => {
            format!("{}({})", variant.name, ty(inner, registry, stack))
        }
        VariantFormat::Tuple(formats) => {
            format!("{}({})", variant.name, types(formats, registry, stack))
        }
        VariantFormat::Struct(named) => {
            format!("{} {{ {} }}", variant.name, fields(named, registry, stack))
        }
    }
}

/// Types spelled out, separated by commas: the fields of a tuple, a tuple struct or variant.
fn types(formats: &[Format], registry: &Registry, stack: &mut Vec<String>) -> String {
    formats
        .iter()
        .map(|f| ty(f, registry, stack))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Named fields spelled out as `name: type`, separated by commas: a struct's or a variant's.
fn fields(named: &[Named<Format>], registry: &Registry, stack: &mut Vec<String>) -> String {
    named
        .iter()
        .map(|f| format!("{}: {}", f.name, ty(&f.value, registry, stack)))
        .collect::<Vec<_>>()
        .join(", ")
}
