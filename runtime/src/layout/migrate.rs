//! Migrations: moving a run stored by an older layout to the current one.
//!
//! The old state is read without the old code: its stored description (traced when the old
//! build registered the workflow) drives a self-describing decode of its postcard bytes into
//! JSON ([`StoredState`]). The user's function maps it to a state of the current layout, given
//! the same way; it is encoded through the current description and checked to decode as the
//! current state enum (by the driver itself, see [`super::probe`]) before it is committed,
//! in one write that keeps the original (see
//! [`WriteOp::MigrateRun`](crate::store::WriteOp::MigrateRun)).

use std::sync::Arc;

use serde::de::DeserializeSeed;
use serde_json::{Map, Value};
use serde_reflection::Format;
use serde_reflection::json_converter::{
    DeserializationContext, EmptyEnvironment, SerializationContext,
};

use super::Parsed;
use crate::codec::Format as Encoding;

/// A stored state seen without its code: the name of its state (variant of the state enum)
/// and its fields as JSON, each field's value in serde's JSON form (a struct as an object, an
/// enum as `{"Variant": ...}`, `Option` as `null` or the value). What a migration function
/// receives, and returns for the current layout.
///
/// ```
/// # use cairn_runtime::StoredState;
/// # use serde_json::json;
/// // `papers` became a list of objects with a `year`.
/// let migrate = |mut old: StoredState| -> Result<StoredState, String> {
///     if let Some(papers) = old.fields.get_mut("papers") {
///         for paper in papers.as_array_mut().into_iter().flatten() {
///             paper["year"] = json!(0);
///         }
///     }
///     Ok(old)
/// };
/// # let _ = migrate;
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct StoredState {
    /// The state's name, e.g. `"FetchPapers"`.
    pub state: String,
    /// Its fields by name.
    pub fields: Map<String, Value>,
    /// The layout id the run was stored under (what
    /// [`Error::IncompatibleState`](crate::Error::IncompatibleState) calls `stored`).
    pub layout: u64,
}

impl StoredState {
    /// A state of the current layout named `state` with no field yet (add them to `fields`).
    pub fn new(state: impl Into<String>) -> StoredState {
        StoredState {
            state: state.into(),
            fields: Map::new(),
            layout: 0,
        }
    }

    /// This state with field `name` set to `value`.
    pub fn with(mut self, name: &str, value: Value) -> StoredState {
        self.fields.insert(name.to_owned(), value);
        self
    }
}

/// A migration function as the runtime keeps it.
pub(crate) type MigrateFn = Arc<dyn Fn(StoredState) -> Result<StoredState, String> + Send + Sync>;

/// Reads the sealed state `bytes` as JSON through the description `old`.
pub(crate) fn read(old: &Parsed, bytes: &[u8], layout: u64) -> Result<StoredState, String> {
    let (encoding, payload) = crate::codec::open(bytes)?;
    let json = match encoding {
        Encoding::Json => serde_json::from_slice(payload).map_err(|e| e.to_string())?,
        Encoding::Postcard => {
            let context = DeserializationContext {
                format: Format::TypeName(old.root.clone()),
                registry: &old.registry,
                environment: &EmptyEnvironment,
            };
            let mut deserializer = postcard::Deserializer::from_bytes(payload);
            context
                .deserialize(&mut deserializer)
                .map_err(|e| format!("the stored state does not decode by its description: {e}"))?
        }
    };
    let Value::Object(variant) = json else {
        return Err(format!(
            "the stored state is not a state of the enum: {json}"
        ));
    };
    let mut entries = variant.into_iter();
    match (entries.next(), entries.next()) {
        (Some((state, Value::Object(fields))), None) => Ok(StoredState {
            state,
            fields,
            layout,
        }),
        (Some((state, Value::Null)), None) => Ok(StoredState {
            state,
            fields: Map::new(),
            layout,
        }),
        _ => Err("the stored state is not a state with named fields".to_owned()),
    }
}

/// The sealed encodings of `state` under the description `new` to try, best first: postcard
/// (how the code stores it), then JSON (for states the code stores as JSON).
pub(crate) fn encodings(new: &Parsed, state: &StoredState) -> Result<Vec<Vec<u8>>, String> {
    let mut variant = Map::new();
    variant.insert(state.state.clone(), Value::Object(state.fields.clone()));
    let value = Value::Object(variant);
    let format = Format::TypeName(new.root.clone());
    let context = SerializationContext {
        value: &value,
        format: &format,
        registry: &new.registry,
        environment: &EmptyEnvironment,
    };
    let mut out = Vec::new();
    let postcard = postcard::to_allocvec(&context);
    if let Ok(bytes) = &postcard {
        out.push(crate::codec::seal(Encoding::Postcard, bytes));
    }
    let json = serde_json::to_vec(&value).map_err(|e| e.to_string())?;
    out.push(crate::codec::seal(Encoding::Json, &json));
    if let Err(e) = postcard {
        // Kept to explain a failure if the JSON form does not decode either.
        tracing::debug!(
            state = state.state,
            "migrated state not encodable as postcard: {e}"
        );
    }
    Ok(out)
}
