//! `ctx.child(workflow, input)`: starts another registered workflow as a run of its own and
//! suspends the parent until that run has finished, then returns its output.
//!
//! Works like `wait_for_user`. At position n (the await in progress), the first poll commits
//! the child's run together with the parent's record of it, keyed by (parent, n), in one write
//! ([`WriteOp::StartChild`]); a parent resumed after a crash reaches the same call at the same
//! n and finds the child it started, never a second one. A second write
//! ([`WriteOp::AwaitChildren`]) marks the parent waiting unless the child has finished, and the
//! parent's task ends: it holds no task and no memory while the child runs. The write that
//! finishes the child wakes the parent through the answer watcher's index (see
//! `store/lmdb/children.rs`), from whichever process ran the child; the parent is resumed from
//! its last committed state, reaches the same call again, and reads the child's outcome from
//! the store.
//!
//! Inside `ctx.parallel`, [`child`](crate::child) makes a branch of the same kind (see
//! `parallel.rs`): one child per branch, keyed by (parent, n, branch index).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::context::Context;
use crate::error::Error;
use crate::registry::{Entry, ErasedStart, decode_output, encode_input};
use crate::run::{RunId, Status};
use crate::runtime::Shared;
use crate::store::{Outcome, RunRecord, WriteOp};
use crate::supervise::{Abort, AbortSlot};
use crate::workflow::Workflow;

impl Context {
    /// Starts `workflow` with `input` as a run of its own (a *child* of this run) and returns
    /// its output once it has completed, however long it takes: this run waits meanwhile
    /// (status [`Waiting`](crate::Status::Waiting), no task, no memory) and is resumed when
    /// the child finishes, in this process or another.
    ///
    /// Durable like a step: after a crash the parent finds the child it started (it never
    /// starts a second one) and waits for it again. [`Client::cancel`](crate::Client::cancel)
    /// of the parent cancels its unfinished children.
    ///
    /// ```ignore
    /// let receipt = ctx.child(charge_card, (order_id, amount)).await?;
    /// ```
    ///
    /// [`Error::UnknownWorkflow`] if `workflow` is not registered with the runtime (nothing
    /// is started); [`Error::ChildFailed`] if the child failed, with its message;
    /// [`Error::ChildCancelled`] if it was cancelled.
    pub async fn child<W: Workflow>(
        &mut self,
        workflow: W,
        input: W::Input,
    ) -> Result<W::Output, Error> {
        let _ = workflow;
        let entry = self.shared.typed_entry::<W>()?.clone();
        let input = encode_input::<W>(&input)?;
        self.await_child(entry, input, |child, output| {
            decode_output::<W>(child, output)
        })
        .await
    }

    /// [`child`](Self::child) by the workflow's registered name, with the input and the
    /// output as JSON (the input as [`Client::start_json`](crate::Client::start_json) takes
    /// it: the input type's own JSON, or an object keyed by parameter name), for workflows
    /// chosen at run time. [`Error::UnknownWorkflow`] for a name not registered here,
    /// [`Error::MalformedInput`] or [`Error::InputKeys`] for an input that does not fit, both
    /// before anything is started.
    pub async fn child_json(
        &mut self,
        workflow: &str,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        let entry = self.shared.entry(workflow)?.clone();
        let input = entry.input_from_json(input)?;
        let decoder = entry.clone();
        self.await_child(entry, input, move |child, output| {
            decoder.output_to_json(child, output)
        })
        .await
    }

    /// Starts (or finds) the child of this await, parks the run until it has finished, and
    /// returns its outcome, its output decoded by `decode`.
    async fn await_child<T>(
        &mut self,
        entry: Arc<dyn Entry>,
        input: Vec<u8>,
        decode: impl FnOnce(RunId, &[u8]) -> Result<T, Error>,
    ) -> Result<T, Error> {
        if let Err(refused) = self.begin_step(entry.name()) {
            return self.abort(refused).await;
        }
        let (run, position) = (self.run_id(), self.position());
        let child = match start_child(&self.shared, (run, position, 0), entry, input).await {
            Ok(child) => child,
            Err(error) => return self.abort(Abort::Error(error)).await,
        };
        let parked = self
            .shared
            .commit(WriteOp::AwaitChildren {
                parent: run,
                position,
            })
            .await
            .and_then(Outcome::parked);
        match parked {
            Ok(false) => {}
            Ok(true) => {
                tracing::debug!(%run, %child, workflow = self.workflow(), position, "run waits for its child");
                // Drops the driver: the answer watcher resumes the run from its last
                // committed state once the child has finished.
                return self.abort(Abort::AwaitAnswer { deadline: None }).await;
            }
            Err(error) => return self.abort(Abort::Error(error)).await,
        }
        match child_outcome(&self.shared, run, child, |output| decode(child, output)) {
            Ok(Some(outcome)) => outcome,
            Ok(None) => {
                let error = std::io::Error::other(format!(
                    "child run {child} has not finished although its parent {run} was let go on"
                ));
                self.abort(Abort::Error(error.into())).await
            }
            Err(error) => self.abort(Abort::Error(error)).await,
        }
    }
}

/// Commits the child at (`parent`, `position`, `slot`), a run of `entry`'s workflow, or finds
/// the one committed before, and starts its task here if this write created it. A child found
/// is left alone: if it has not finished, it is live in some runtime, or resumed with the
/// other unfinished runs at the next start.
async fn start_child(
    shared: &Arc<Shared>,
    at: (RunId, u64, u32),
    entry: Arc<dyn Entry>,
    input: Vec<u8>,
) -> Result<RunId, Error> {
    let (parent, position, slot) = at;
    let workflow = entry.name();
    let record = RunRecord::new(
        workflow,
        entry.fingerprint(),
        input.clone(),
        shared.now_ms(),
    );
    let (child, created) = shared
        .commit(WriteOp::StartChild {
            parent,
            position,
            slot,
            record,
        })
        .await?
        .unique()?;
    if created {
        tracing::debug!(%parent, %child, workflow, position, slot, "child run started");
        shared.spawn(child, entry, ErasedStart::New(input), 0)?;
    }
    Ok(child)
}

/// The outcome of `child` as its parent sees it, read from the store, its output decoded by
/// `decode`: `None` while it has not finished; `Err` if it cannot be read (the parent's run
/// stops, as on any storage error).
fn child_outcome<T>(
    shared: &Shared,
    parent: RunId,
    child: RunId,
    decode: impl FnOnce(&[u8]) -> Result<T, Error>,
) -> Result<Option<Result<T, Error>>, Error> {
    let record = shared
        .store()?
        .load(child)?
        .ok_or(Error::UnknownRun { run: child })?;
    Ok(match record.status {
        Status::Completed => {
            let output = record
                .output
                .as_deref()
                .ok_or_else(|| Error::CorruptState {
                    run: child,
                    workflow: record.workflow.clone(),
                    reason: "a completed run without an output".to_owned(),
                })?;
            Some(Ok(decode(output)?))
        }
        Status::Failed => Some(Err(Error::ChildFailed {
            run: parent,
            child,
            workflow: record.workflow,
            message: record.error.unwrap_or_default(),
        })),
        Status::Cancelled => Some(Err(Error::ChildCancelled {
            run: parent,
            child,
            workflow: record.workflow,
        })),
        _ => None,
    })
}

/// What a child branch of `ctx.parallel` needs from the call, set by the call before the
/// branch is first polled (branches are built before the context is at hand).
// `pub` (hidden) only because the `Branches` trait's hidden method carries it.
#[doc(hidden)]
#[derive(Clone)]
pub struct BranchEnv {
    pub(crate) shared: Arc<Shared>,
    pub(crate) slot: AbortSlot,
    pub(crate) parent: RunId,
    pub(crate) position: u64,
    pub(crate) index: u32,
    /// How many branches of the call wait for an unfinished child: when every branch still
    /// running does, the call parks the run (see `parallel.rs`).
    pub(crate) parked: Arc<AtomicUsize>,
}

impl std::fmt::Debug for BranchEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BranchEnv")
            .field("parent", &self.parent)
            .field("position", &self.position)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// Where a child branch finds its [`BranchEnv`].
pub(crate) type EnvCell = Arc<OnceLock<BranchEnv>>;

/// The future of a child branch of `ctx.parallel` (see [`child`](crate::child)).
pub type ChildFuture<W> =
    crate::workflow::BoxFuture<'static, Result<<W as Workflow>::Output, Error>>;

/// Runs a child branch: starts (or finds) its child, keyed by the branch's index, and returns
/// the child's outcome if it has finished; else counts itself parked and never completes (the
/// call then parks the run, see `parallel.rs`).
pub(crate) fn child_branch<W: Workflow>(input: W::Input) -> (EnvCell, ChildFuture<W>) {
    let cell: EnvCell = Arc::new(OnceLock::new());
    let env = cell.clone();
    let fut = Box::pin(async move {
        let Some(env) = env.get().cloned() else {
            return Err(Error::InvalidArgument {
                call: "cairn::child",
                reason: "a child branch runs only inside `ctx.parallel`".to_owned(),
            });
        };
        let entry = env.shared.typed_entry::<W>()?.clone();
        let input = encode_input::<W>(&input)?;
        let at = (env.parent, env.position, env.index);
        let started = start_child(&env.shared, at, entry, input)
            .await
            .and_then(|child| {
                child_outcome(&env.shared, env.parent, child, |output| {
                    decode_output::<W>(child, output)
                })
            });
        match started {
            Ok(Some(outcome)) => outcome,
            Ok(None) => {
                env.parked.fetch_add(1, Ordering::SeqCst);
                std::future::pending().await
            }
            Err(error) => {
                env.slot.set(Abort::Error(error));
                std::future::pending().await
            }
        }
    });
    (cell, fut)
}
