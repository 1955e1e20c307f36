//! Type erasure of registered workflows.
//!
//! The runtime keeps workflows of different types in one map and resumes runs from bytes, so
//! each registered [`Workflow`] is wrapped in an [`Entry`] that speaks stored bytes (the
//! envelope of [`crate::codec`]) and JSON values; only the typed client methods see the
//! workflow's own types.

use std::any::TypeId;
use std::marker::PhantomData;
use std::sync::OnceLock;

use crate::context::Context;
use crate::error::Error;
use crate::layout::StateLayout;
use crate::run::RunId;
use crate::supervise::Abort;
use crate::workflow::{BoxFuture, Start, Workflow};

/// Where a type-erased driver begins.
pub(crate) enum ErasedStart {
    /// Stored bytes of the input.
    New(Vec<u8>),
    /// Stored bytes of the last committed state.
    Resume(Vec<u8>),
}

/// A registered workflow, seen through bytes.
pub(crate) trait Entry: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn fingerprint(&self) -> u64;
    /// The `version` of `#[workflow(version = N)]` (see [`Workflow::VERSION`]).
    fn version(&self) -> u32;
    /// The layout's fingerprint under the first scheme (see [`Workflow::LEGACY_FINGERPRINT`]).
    fn legacy_fingerprint(&self) -> Option<u64>;
    /// The description of the state enum, once the runtime has traced it at start (see
    /// [`crate::layout`]).
    fn layout(&self) -> Option<&StateLayout>;
    /// Keeps the description traced at start (the first one given).
    fn set_layout(&self, layout: StateLayout);
    /// What new runs are stored under: the macro's fingerprint mixed with the traced
    /// description, so that a change of an inferred type changes it too.
    fn layout_id(&self) -> u64 {
        self.layout().map_or(self.fingerprint(), |layout| {
            layout.layout_id(self.fingerprint())
        })
    }
    /// Whether a run stored with `fingerprint` has this layout: its layout id, or the macro's
    /// fingerprint alone (runs stored before descriptions, or by a build that could not trace
    /// them: nothing more is known of them), or the first scheme's.
    fn has_layout(&self, fingerprint: u64) -> bool {
        fingerprint == self.layout_id()
            || fingerprint == self.fingerprint()
            || Some(fingerprint) == self.legacy_fingerprint()
    }
    /// The workflow's state graph, stored at start for tools without the code.
    fn graph(&self) -> &'static crate::StateGraph;
    /// The `TypeId` of the workflow, to refuse a typed call with another type of the same name.
    fn workflow_type(&self) -> TypeId;
    /// Stored bytes of the input given as JSON (the input type's own, or an object keyed
    /// by parameter name: see [`crate::client::json_input`]).
    fn input_from_json(&self, input: serde_json::Value) -> Result<Vec<u8>, Error>;
    /// The events the workflow waits for, with their payload types (see
    /// [`Workflow::events`]).
    fn event_types(&self) -> Vec<crate::context::event::EventType>;
    /// The output given as stored bytes, as JSON.
    fn output_to_json(&self, run: RunId, output: &[u8]) -> Result<serde_json::Value, Error>;
    /// Drives a run; `Ok` carries the stored bytes of the output.
    fn drive<'a>(
        &self,
        ctx: &'a mut Context,
        start: ErasedStart,
    ) -> BoxFuture<'a, Result<Vec<u8>, String>>;
}

pub(crate) struct WorkflowEntry<W> {
    /// The description traced at start, with its layout id computed once: the id hashes the
    /// whole description, and every run created and every `wait` asks for it.
    layout: OnceLock<(StateLayout, u64)>,
    workflow: PhantomData<W>,
}

impl<W: Workflow> WorkflowEntry<W> {
    pub fn new() -> Self {
        WorkflowEntry {
            layout: OnceLock::new(),
            workflow: PhantomData,
        }
    }
}

pub(crate) fn encode_input<W: Workflow>(input: &W::Input) -> Result<Vec<u8>, Error> {
    crate::codec::encode(input).map_err(|e| e.into_error(W::NAME, "input"))
}

pub(crate) fn decode_output<W: Workflow>(run: RunId, output: &[u8]) -> Result<W::Output, Error> {
    crate::codec::decode(output).map_err(|e| Error::CorruptState {
        run,
        workflow: W::NAME.to_owned(),
        reason: format!("output does not decode: {e}"),
    })
}

impl<W: Workflow> Entry for WorkflowEntry<W> {
    fn name(&self) -> &'static str {
        W::NAME
    }

    fn fingerprint(&self) -> u64 {
        W::FINGERPRINT
    }

    fn legacy_fingerprint(&self) -> Option<u64> {
        W::LEGACY_FINGERPRINT
    }

    fn version(&self) -> u32 {
        W::VERSION
    }

    fn workflow_type(&self) -> TypeId {
        TypeId::of::<W>()
    }

    fn layout(&self) -> Option<&StateLayout> {
        self.layout.get().map(|(layout, _)| layout)
    }

    fn set_layout(&self, layout: StateLayout) {
        let id = layout.layout_id(W::FINGERPRINT);
        let _ = self.layout.set((layout, id));
    }

    fn layout_id(&self) -> u64 {
        self.layout.get().map_or(W::FINGERPRINT, |&(_, id)| id)
    }

    fn graph(&self) -> &'static crate::StateGraph {
        W::graph()
    }

    fn input_from_json(&self, input: serde_json::Value) -> Result<Vec<u8>, Error> {
        let input: W::Input = crate::client::json_input::decode(W::NAME, W::PARAMETERS, input)?;
        encode_input::<W>(&input)
    }

    fn event_types(&self) -> Vec<crate::context::event::EventType> {
        W::events()
    }

    fn output_to_json(&self, run: RunId, output: &[u8]) -> Result<serde_json::Value, Error> {
        if let Some(json) = crate::client::stored_json(run, W::NAME, output)? {
            return Ok(json);
        }
        let output = decode_output::<W>(run, output)?;
        serde_json::to_value(output).map_err(|e| Error::Encode {
            workflow: W::NAME.to_owned(),
            what: "output as JSON",
            reason: e.to_string(),
        })
    }

    fn drive<'a>(
        &self,
        ctx: &'a mut Context,
        start: ErasedStart,
    ) -> BoxFuture<'a, Result<Vec<u8>, String>> {
        Box::pin(async move {
            let start = match start {
                ErasedStart::Resume(state) => Start::Resume(state),
                ErasedStart::New(input) => match crate::codec::decode(&input) {
                    Ok(input) => Start::New(input),
                    Err(e) => {
                        let abort = ctx.corrupt(format!("input does not decode: {e}"));
                        return ctx.abort(abort).await;
                    }
                },
            };
            let output = W::drive(ctx, start).await?;
            match crate::codec::encode_output(&output) {
                Ok(bytes) => Ok(bytes),
                Err(e) => {
                    let error = e.into_error(W::NAME, "output");
                    ctx.abort(Abort::Error(error)).await
                }
            }
        })
    }
}
