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
use crate::registry::{ErasedStart, decode_output, encode_input};
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
        let input = check_child::<W>(&self.shared, &input)?;
        if let Err(refused) = self.begin_step(W::NAME) {
            return self.abort(refused).await;
        }
        let (run, position) = (self.run_id(), self.position());
        let child = match start_child::<W>(&self.shared, run, position, 0, input).await {
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
        match child_outcome::<W>(&self.shared, run, child) {
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

/// The checks made before a child is started, returned to the caller as typed errors:
/// `W` is registered here, and its input can be stored. The input's stored bytes.
fn check_child<W: Workflow>(shared: &Shared, input: &W::Input) -> Result<Vec<u8>, Error> {
    shared.typed_entry::<W>()?;
    encode_input::<W>(input)
}

/// Commits the child at (`parent`, `position`, `slot`), or finds the one committed before,
/// and starts its task here if this write created it. A child found is left alone: if it has
/// not finished, it is live in some runtime, or resumed with the other unfinished runs at the
/// next start.
async fn start_child<W: Workflow>(
    shared: &Arc<Shared>,
    parent: RunId,
    position: u64,
    slot: u32,
    input: Vec<u8>,
) -> Result<RunId, Error> {
    let entry = shared.typed_entry::<W>()?.clone();
    let record = RunRecord::new(W::NAME, W::FINGERPRINT, input.clone(), shared.now_ms());
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
        tracing::debug!(%parent, %child, workflow = W::NAME, position, slot, "child run started");
        shared.spawn(child, entry, ErasedStart::New(input), 0)?;
    }
    Ok(child)
}

/// The outcome of `child` as its parent sees it, read from the store: `None` while it has not
/// finished; `Err` if it cannot be read (the parent's run stops, as on any storage error).
fn child_outcome<W: Workflow>(
    shared: &Shared,
    parent: RunId,
    child: RunId,
) -> Result<Option<Result<W::Output, Error>>, Error> {
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
                    workflow: W::NAME.to_owned(),
                    reason: "a completed run without an output".to_owned(),
                })?;
            Some(Ok(decode_output::<W>(child, output)?))
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
        let input = check_child::<W>(&env.shared, &input)?;
        let started = start_child::<W>(&env.shared, env.parent, env.position, env.index, input)
            .await
            .and_then(|child| child_outcome::<W>(&env.shared, env.parent, child));
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
