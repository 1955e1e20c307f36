//! The contract between `#[workflow]`-generated code and the runtime.
//!
//! The macro turns a workflow fn into a state enum and a driver; the runtime only ever sees the
//! driver through [`Workflow::drive`], with inputs, states and outputs as serde values. Items
//! here other than [`Workflow`] are reached through `cairn::__private` and are not public API.

use std::future::Future;
use std::pin::Pin;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Context;

/// A durable workflow, implemented by `#[workflow]` on a unit struct named after the fn.
///
/// The generated `drive` commits the state after every transition with
/// `Context::__checkpoint`, so a restarted runtime continues from the last committed state
/// instead of replaying the run.
pub trait Workflow: Copy + Send + Sync + 'static {
    /// Input of a run: the workflow fn's parameters after the context (one type, or a tuple when
    /// several, `()` when none).
    type Input: Serialize + DeserializeOwned + Send + 'static;
    /// What a completed run returns (the `Ok` type of the workflow fn).
    type Output: Serialize + DeserializeOwned + Send + 'static;
    /// Stable name used to start runs by name and stored with every run.
    const NAME: &'static str;
    /// Names of the workflow fn's parameters after the context, in order, so that a JSON
    /// input can be an object keyed by them (see
    /// [`Client::start_json`](crate::Client::start_json)). `#[workflow]` generates it (a
    /// parameter that is a pattern rather than a name is named by its position: `"0"`,
    /// `"1"`, ...); hand-written workflows have none and take only the input type's own JSON.
    const PARAMETERS: &'static [&'static str] = &[];
    /// Hash of the state layout; stored with every run; a mismatch on resume is
    /// [`Error::IncompatibleState`](crate::Error::IncompatibleState).
    const FINGERPRINT: u64;
    /// The same layout's fingerprint under cairn's first scheme (which hashed the types as
    /// rustc's token printer wrote them): runs stored by builds of cairn that used it carry it,
    /// and are recognised as this layout. `#[workflow]` generates it.
    #[doc(hidden)]
    const LEGACY_FINGERPRINT: Option<u64> = None;
    /// The events the workflow waits for with `ctx.wait_for_event::<T>("name")`, by name and
    /// payload type, so that a send can check a payload's type before storing it.
    /// `#[workflow]` generates it; hand-written workflows have none (their payloads are
    /// checked when delivered).
    #[doc(hidden)]
    fn events() -> Vec<crate::context::event::EventType> {
        Vec::new()
    }
    /// The `N` of `#[workflow(version = N)]`, 0 when not written. Part of the fingerprint;
    /// stored with each registered version so that a run stored under another `version` is
    /// never adopted by this one, even when its state is stored the same way (see
    /// [`RuntimeBuilder::migrate`](crate::RuntimeBuilder::migrate)): bumping it says that old
    /// runs must not go on with this code.
    const VERSION: u32 = 0;
    /// Runs the state machine from `start` to the end. `Ok(output)` completes the run,
    /// `Err(message)` fails it.
    ///
    /// At start, the runtime polls it once with `Start::Resume` and empty bytes to describe
    /// the state enum (see [`StateLayout`](crate::StateLayout)): the generated driver answers
    /// from its decode of the stored state, before any step. A driver written by hand must not
    /// start a step before decoding a resumed state; it is described as untraced.
    fn drive<'a>(
        ctx: &'a mut Context,
        start: Start<Self::Input>,
    ) -> BoxFuture<'a, Result<Self::Output, String>>;

    /// The workflow's state machine as data, for diagrams (see [`StateGraph::to_mermaid`](crate::StateGraph::to_mermaid)).
    /// `#[workflow]` generates it; hand-written workflows get an empty graph.
    fn graph() -> &'static crate::StateGraph {
        &crate::StateGraph::EMPTY
    }
}

/// The future returned by [`Workflow::drive`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a driver begins.
#[derive(Debug)]
pub enum Start<I> {
    /// A new run with its input.
    New(I),
    /// A resumed run with the stored bytes of its last committed state, to be decoded with
    /// `Context::__decode_state`.
    Resume(Vec<u8>),
}

/// Turns the workflow fn's return type into the run's outcome.
#[diagnostic::on_unimplemented(
    message = "a workflow returns `Result<T, E>`, not `{Self}`",
    label = "the run's outcome: `Ok(T)` is stored as its output, `Err(E)` fails it",
    note = "E must implement `Display` (its message is stored); T must implement `Serialize` and `Deserialize`"
)]
pub trait WorkflowResult {
    /// The run's output.
    type Output;
    /// `Ok` completes the run, `Err` fails it with the message.
    fn into_outcome(self) -> Result<Self::Output, String>;
}

impl<T, E: std::fmt::Display> WorkflowResult for Result<T, E> {
    type Output = T;

    fn into_outcome(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

/// Implemented by the generated state enum, so that a checkpoint can record where the run is.
pub trait StateInfo {
    /// Name of the variant, e.g. `"FetchPapers"` (shown as the run's current state).
    fn state_name(&self) -> &'static str;
    /// Name of the step whose completion led to this state, e.g. `Some("fetch_papers")`; `None`
    /// for start and join states.
    fn step_name(&self) -> Option<&'static str>;
}
