//! The compile-time checks of a step's result held across the next `.await`: the same probes
//! as [`storable`](crate::storable), with messages about steps. A step that returns a borrow
//! (`&'static str`) is told to return an owned value; a `Result` kept after its `.await` is
//! told how to handle its error in place, or to store the error as text.

use crate::storable::{NotSerializable, Reference, Storable};

/// Required of a stored step result's probe: it is not a reference.
#[diagnostic::on_unimplemented(
    message = "the result of this step is stored in the workflow's state, but it borrows (`{T}`)",
    label = "a borrowed step result kept after the step",
    note = "a stored state outlives every borrow: make the step return an owned value (a `String`, not a `&'static str`; a `Vec`, not a slice), or call `.to_owned()` on the result in the statement of the `.await`"
)]
pub trait StepResultNotReference<T: ?Sized> {}
impl<T: ?Sized> StepResultNotReference<T> for Storable {}
impl<T: ?Sized> StepResultNotReference<T> for NotSerializable {}

/// Required of a stored step result's probe: its type can be serialized.
#[diagnostic::on_unimplemented(
    message = "the result of this step is stored in the workflow's state, but `{T}` does not implement `Serialize` and `DeserializeOwned`",
    label = "kept after the step, so stored",
    note = "a `Result` kept after its `.await` is stored with its error; handle the error in the statement of the `.await` (`.await?`, `.await.map_err(..)?`, `.await.context(..)?`, or a `match` whose arms have no `.await`), or store the error as text: `.await.map_err(|e| e.to_string())`",
    note = "for another type, derive `serde::Serialize` and `serde::Deserialize`, or keep only what can be stored"
)]
pub trait StepResultSerializable<T: ?Sized> {}
impl<T: ?Sized> StepResultSerializable<T> for Storable {}
impl<T: ?Sized> StepResultSerializable<T> for Reference {}

/// Fails to compile, with a message about the step, unless its result can be stored.
pub fn check_step_result<T, K>(_value: &T, _kind: K)
where
    T: ?Sized,
    K: StepResultNotReference<T> + StepResultSerializable<T>,
{
}
