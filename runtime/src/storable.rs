//! Compile-time probes behind the `#[workflow]` diagnostics for variables a state cannot hold.
//!
//! The generated code probes every stored variable in unreachable code after the driver loop,
//! where all types are inferred, spanned on the user's `let`. The probe relies on autoref
//! specialisation: method lookup for `(&&&Probe::of(&x)).kind()` tries `&&Probe<&U>` first (a
//! reference), then `&Probe<T>` with `T` serializable, then `Probe<T>`, so the probe itself
//! always compiles and returns a marker saying which case holds. The generated code then
//! requires the marker to implement a trait of its own whose
//! `#[diagnostic::on_unimplemented]` message names the variable: one clear error, instead of
//! serde's bounds failing deep inside generated code.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::Unstorable;

/// Stands for the type of a variable; only used at compile time.
pub struct Probe<T: ?Sized>(PhantomData<T>);

impl<T> Probe<T> {
    /// The probe of `value`'s type.
    pub fn of(_: &T) -> Self {
        Probe(PhantomData)
    }
}

/// The variable can be stored.
pub struct Storable;
/// The variable's type does not implement `Serialize` and `DeserializeOwned`.
pub struct NotSerializable;
/// The variable is a reference: a stored state outlives every borrow.
pub struct Reference;

/// First choice: `T` is a reference.
pub trait ProbeReference {
    /// Which case holds.
    fn kind(&self) -> Reference {
        Reference
    }
}
impl<T: ?Sized> ProbeReference for &&Probe<&T> {}
impl<T: ?Sized> ProbeReference for &&Probe<&mut T> {}

/// Second choice: `T` can be stored.
pub trait ProbeSerializable {
    /// Which case holds.
    fn kind(&self) -> Storable {
        Storable
    }
}
impl<T: Serialize + DeserializeOwned> ProbeSerializable for &Probe<T> {}

/// Last choice: anything else.
pub trait ProbeOther {
    /// Which case holds.
    fn kind(&self) -> NotSerializable {
        NotSerializable
    }
}
impl<T> ProbeOther for Probe<T> {}

/// Required of a stored variable's probe result: it is not a reference.
#[diagnostic::on_unimplemented(
    message = "this variable is held across an `.await`, so it is stored in the workflow's state, but it borrows (`{T}`)",
    label = "a reference held across an `.await`",
    note = "a stored state outlives every borrow; keep an owned value instead (`.to_owned()`, `.clone()`, an index) and borrow again after the `.await`"
)]
pub trait NotReference<T: ?Sized> {}
impl<T: ?Sized> NotReference<T> for Storable {}
impl<T: ?Sized> NotReference<T> for NotSerializable {}

/// Required of a stored variable's probe result: its type can be serialized.
#[diagnostic::on_unimplemented(
    message = "this variable is held across an `.await`, so it is stored in the workflow's state, but `{T}` does not implement `Serialize` and `DeserializeOwned`",
    label = "held across an `.await`",
    note = "derive `serde::Serialize` and `serde::Deserialize` for the type, or keep the value out of the state: compute it again after the `.await`, or store what it is made from"
)]
pub trait Serializable<T: ?Sized> {}
impl<T: ?Sized> Serializable<T> for Storable {}
impl<T: ?Sized> Serializable<T> for Reference {}

/// Fails to compile, with a message about `value`, unless it can be stored.
pub fn check_stored<T: ?Sized, K: NotReference<T> + Serializable<T>>(_value: &T, _kind: K) {}

/// How a state enum is encoded for storage.
///
/// The generated code never names this type: it declares `let codec = Default::default();`
/// and ties its type to `(&&Probe::of(&state)).codec()` in the unreachable checks, so the codec
/// is [`SerdeCodec`] when the state can be stored and [`NoCodec`] when it cannot. Calls
/// through it then never fail to compile on serde's bounds, and the only error the user
/// sees is the one [`check_stored`] reports on the variable.
pub trait Codec<S> {
    /// Encodes a state (see `codec.rs`: postcard, verified, or JSON).
    fn encode(state: &S) -> Result<Vec<u8>, Unstorable>;
    /// Decodes a state.
    fn decode(bytes: &[u8]) -> Result<S, String>;
    /// Describes the state's type, field by field (see `layout/`).
    fn describe() -> crate::layout::StateLayout;
}

/// Encodes states through the envelope of `codec.rs`.
pub struct SerdeCodec<S>(PhantomData<fn() -> S>);

impl<S> Default for SerdeCodec<S> {
    fn default() -> Self {
        SerdeCodec(PhantomData)
    }
}

impl<S: Serialize + DeserializeOwned> Codec<S> for SerdeCodec<S> {
    fn encode(state: &S) -> Result<Vec<u8>, Unstorable> {
        crate::codec::encode(state)
    }
    fn decode(bytes: &[u8]) -> Result<S, String> {
        crate::codec::decode(bytes)
    }
    fn describe() -> crate::layout::StateLayout {
        crate::layout::StateLayout::trace::<S>()
    }
}

/// Stands in for the codec of a state that cannot be stored; a build using it has already
/// failed on [`check_stored`], so it is never called.
#[derive(Default)]
pub struct NoCodec;

impl<S> Codec<S> for NoCodec {
    fn encode(_: &S) -> Result<Vec<u8>, Unstorable> {
        Err(Unstorable {
            rust_type: std::any::type_name::<S>(),
            path: None,
            reason: "this state cannot be stored".to_owned(),
        })
    }
    fn decode(_: &[u8]) -> Result<S, String> {
        Err("this state cannot be stored".to_owned())
    }
    fn describe() -> crate::layout::StateLayout {
        crate::layout::StateLayout::untraced("this state cannot be stored".to_owned(), Vec::new())
    }
}

/// First choice: the state can be stored.
pub trait ProbeCodec {
    /// The codec.
    type Codec;
    /// The codec of the probed state.
    fn codec(&self) -> Self::Codec;
}
impl<S: Serialize + DeserializeOwned> ProbeCodec for &Probe<S> {
    type Codec = SerdeCodec<S>;
    fn codec(&self) -> SerdeCodec<S> {
        SerdeCodec::default()
    }
}

/// Fallback: it cannot.
pub trait ProbeNoCodec {
    /// The codec.
    fn codec(&self) -> NoCodec {
        NoCodec
    }
}
impl<S> ProbeNoCodec for Probe<S> {}

/// Makes rustc infer that both values have the same type.
pub fn same_type<T>(_: &T, _: &T) {}
