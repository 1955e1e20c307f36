//! Concurrent steps: `ctx.parallel(branches)`, with each branch's output committed as soon as
//! the branch completes.
//!
//! Branches are [`Branch`]es made with [`step`], which do not borrow the context (joining
//! futures that each hold `&mut ctx` cannot compile). A tuple of branches gives a tuple of
//! outputs; a `Vec` gives a `Vec`. Every branch returns `Result<T, E>`; its `Ok` value is
//! stored under (run, position, branch index) the moment it completes, in a write of its own
//! (group-committed with other runs' writes). When the run resumes at the same position (after a crash, a halt or a failed
//! branch and `Client::resume`), the stored outputs are read back and only the other branches
//! run. The commit after the `parallel` await deletes them.
//!
//! Branches are polled in place on the run's task (they may borrow the workflow's locals), by a
//! small combinator that starts at most `limit` of them at once and polls the active ones
//! whenever it is woken: O(active) per wake-up, which is fine for fan-outs of thousands.

use std::collections::{BTreeMap, VecDeque};
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::Context;
use crate::context::child::BranchEnv;
use crate::error::Error;
use crate::run::RunId;
use crate::runtime::{BranchCommit, Flow};
use crate::store::{Outcome, WriteOp};
use crate::supervise::Abort;
use crate::workflow::BoxFuture;

mod branches;

pub(crate) use branches::Erased;
pub use branches::{Branch, Branches, child, step};

/// A [`Context::parallel`] call being configured; await it for the outputs.
#[must_use = "a parallel call does nothing until it is awaited"]
pub struct Parallel<'c, B> {
    ctx: &'c mut Context,
    branches: B,
    limit: Option<usize>,
}

impl<B> std::fmt::Debug for Parallel<'_, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parallel")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl<'c, B: Branches + 'c> Parallel<'c, B> {
    pub(crate) fn new(ctx: &'c mut Context, branches: B) -> Self {
        Parallel {
            ctx,
            branches,
            limit: None,
        }
    }

    /// Runs at most `limit` branches at once (in branch order). A limit of 0 is
    /// [`Error::InvalidArgument`].
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Waits for every branch and returns each one's outcome instead of failing on the first
    /// error. Only the `Ok` outputs are stored: after a crash, the branches that failed run
    /// again. `Err` only for a bad argument (a zero limit).
    pub fn settled(self) -> BoxFuture<'c, Result<B::Settled, Error>>
    where
        B::Error: Send,
    {
        Box::pin(async move {
            let Parallel {
                ctx,
                branches,
                limit,
            } = self;
            let outcomes = run(ctx, branches.__erase(ctx.workflow()), limit).await?;
            let error = match B::__assemble_settled(outcomes) {
                Ok(settled) => return Ok(settled),
                Err(e) => undecodable(ctx, e),
            };
            ctx.abort(error).await
        })
    }
}

impl<'c, F, T, E> Parallel<'c, Vec<Branch<F>>>
where
    F: Future<Output = Result<T, E>> + Send + 'c,
    T: Serialize + DeserializeOwned + Send,
    E: From<Error> + Send + 'c,
{
    /// Like awaiting the call, but returns the outputs keyed by branch name, like a `gather`.
    /// Two branches with the same name are [`Error::DuplicateBranch`].
    pub fn named(self) -> BoxFuture<'c, Result<BTreeMap<String, T>, E>> {
        Box::pin(async move {
            let Parallel {
                ctx,
                branches,
                limit,
            } = self;
            let mut names = Vec::with_capacity(branches.len());
            for branch in &branches {
                if names.contains(&branch.name) {
                    return Err(E::from(Error::DuplicateBranch {
                        run: ctx.run_id(),
                        name: branch.name.clone(),
                    }));
                }
                names.push(branch.name.clone());
            }
            let outputs = Parallel {
                ctx,
                branches,
                limit,
            }
            .await?;
            Ok(names.into_iter().zip(outputs).collect())
        })
    }
}

impl<'c, B> IntoFuture for Parallel<'c, B>
where
    B: Branches + 'c,
    B::Error: From<Error> + Send,
{
    type Output = Result<B::Output, B::Error>;
    type IntoFuture = BoxFuture<'c, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let Parallel {
                ctx,
                branches,
                limit,
            } = self;
            let outcomes = run(ctx, branches.__erase(ctx.workflow()), limit).await?;
            let mut outputs = Vec::with_capacity(outcomes.len());
            for outcome in outcomes {
                // The first failing branch in branch order: deterministic whatever finished
                // first.
                outputs.push(outcome?);
            }
            let error = match B::__assemble(outputs) {
                Ok(output) => return Ok(output),
                Err(e) => undecodable(ctx, e),
            };
            ctx.abort(error).await
        })
    }
}

fn missing_branch() -> String {
    "a branch output is missing".to_owned()
}

fn undecodable(ctx: &Context, e: String) -> Abort {
    ctx.corrupt(format!(
        "a stored parallel branch output does not decode: {e}"
    ))
}

/// Runs the branches not already stored at this position, committing each output as it
/// completes, and returns every branch's outcome in branch order.
async fn run<'a, E: Send + 'a>(
    ctx: &mut Context,
    branches: Vec<Erased<'a, E>>,
    limit: Option<usize>,
) -> Result<Vec<Result<Vec<u8>, E>>, Error> {
    let run = ctx.run_id();
    let limit = match limit {
        Some(0) => {
            return Err(Error::InvalidArgument {
                call: "Parallel::limit",
                reason: "the concurrency limit must be at least 1".to_owned(),
            });
        }
        Some(limit) => limit,
        None => usize::MAX,
    };
    if let Err(refused) = ctx.begin_step("parallel") {
        return ctx.abort(refused).await;
    }
    let position = ctx.position();
    let stored = match ctx
        .shared
        .store()
        .and_then(|store| store.branches(run, position))
    {
        Ok(stored) => stored,
        Err(error) => return ctx.abort(Abort::Error(error)).await,
    };
    let mut stored: BTreeMap<usize, Vec<u8>> = stored
        .into_iter()
        .filter_map(|(i, bytes)| Some((usize::try_from(i).ok()?, bytes)))
        .collect();
    let total = branches.len();
    let mut outcomes: Vec<Option<Result<Vec<u8>, E>>> = Vec::with_capacity(total);
    let mut queue = VecDeque::new();
    let parked = Arc::new(AtomicUsize::new(0));
    for (index, (name, fut, child)) in branches.into_iter().enumerate() {
        match stored.remove(&index) {
            Some(bytes) => outcomes.push(Some(Ok(bytes))),
            None => {
                outcomes.push(None);
                if let Some(child) = child {
                    // More than 4 billion branches cannot be keyed: refused, not run.
                    let Ok(index) = u32::try_from(index) else {
                        let error = Error::InvalidArgument {
                            call: "cairn::child",
                            reason: "at most u32::MAX child branches per call".to_owned(),
                        };
                        return ctx.abort(Abort::Fail(error)).await;
                    };
                    let _ = child.set(BranchEnv {
                        shared: ctx.shared.clone(),
                        slot: ctx.slot.clone(),
                        parent: run,
                        position,
                        index,
                        parked: parked.clone(),
                    });
                }
                let commit = Committer {
                    ctx: &*ctx,
                    run,
                    position,
                    index,
                    name,
                };
                queue.push_back((index, commit.wrap(fut)));
            }
        }
    }
    tracing::debug!(%run, position, total, to_run = queue.len(), "parallel");
    // The branches are polled in the span of the `parallel` step (see `step_span.rs`).
    let span = ctx.step_span();
    let settled = tracing::Instrument::instrument(
        Settle {
            queue,
            active: Vec::new(),
            limit,
            outcomes,
            parked,
        },
        span,
    )
    .await;
    match settled {
        Some(settled) => Ok(settled),
        None => park(ctx, run, position).await,
    }
}

/// Every branch still running waits for a child run: the run parks until its children at
/// this position have finished, and is then resumed from its last committed state (the
/// branches done by now are committed, and their children's outputs are read from the store).
/// If they all finished meanwhile, the task ends all the same and the run is resumed at once
/// (`run_task.rs`, `resume_if_claimed`).
async fn park<T>(ctx: &mut Context, run: RunId, position: u64) -> T {
    let parked = ctx
        .shared
        .commit(WriteOp::AwaitChildren {
            parent: run,
            position,
        })
        .await
        .and_then(Outcome::parked);
    match parked {
        Ok(parked) => {
            tracing::debug!(%run, position, parked, "parallel waits for its children");
            ctx.abort(Abort::AwaitAnswer { deadline: None }).await
        }
        Err(error) => ctx.abort(Abort::Error(error)).await,
    }
}

/// What a branch needs to commit its output without the context.
struct Committer<'c> {
    ctx: &'c Context,
    run: RunId,
    position: u64,
    index: usize,
    name: String,
}

impl<'c> Committer<'c> {
    fn wrap<'a, E: Send + 'a>(
        self,
        fut: BoxFuture<'a, Result<Vec<u8>, E>>,
    ) -> BoxFuture<'a, Result<Vec<u8>, E>> {
        let shared = self.ctx.shared.clone();
        let slot = self.ctx.slot.clone();
        let workflow = self.ctx.workflow();
        let Committer {
            run,
            position,
            index,
            name,
            ..
        } = self;
        Box::pin(async move {
            let bytes = fut.await?;
            let Ok(index32) = u32::try_from(index) else {
                // More than 4 billion branches: run them, but do not store the excess.
                return Ok(bytes);
            };
            let committed = shared
                .commit(WriteOp::CommitBranch {
                    run,
                    position,
                    index: index32,
                    output: bytes.clone(),
                })
                .await
                .and_then(Outcome::done);
            if let Err(error) = committed {
                slot.set(Abort::Error(error));
                return std::future::pending().await;
            }
            tracing::debug!(%run, position, index, branch = name, "branch committed");
            if let Some(hook) = &shared.branch_hook {
                let commit = BranchCommit {
                    run,
                    workflow,
                    position,
                    index,
                    name: &name,
                };
                if let Flow::Halt = hook(&commit) {
                    slot.set(Abort::Halt);
                    return std::future::pending().await;
                }
            }
            Ok(bytes)
        })
    }
}

/// A branch to run, with its index.
type Indexed<'a, E> = (usize, BoxFuture<'a, Result<Vec<u8>, E>>);

/// Polls queued branches, at most `limit` at once, until all have settled.
struct Settle<'a, E> {
    queue: VecDeque<Indexed<'a, E>>,
    active: Vec<Indexed<'a, E>>,
    limit: usize,
    outcomes: Vec<Option<Result<Vec<u8>, E>>>,
    /// How many active branches wait for a child run (they never complete in this task).
    parked: Arc<AtomicUsize>,
}

// Never pin-projected: the branch futures are boxed.
impl<E> Unpin for Settle<'_, E> {}

/// `None`: every branch still running waits for a child run (see [`park`]).
impl<E> Future for Settle<'_, E> {
    type Output = Option<Vec<Result<Vec<u8>, E>>>;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            while this.active.len() < this.limit {
                match this.queue.pop_front() {
                    Some(branch) => this.active.push(branch),
                    None => break,
                }
            }
            let mut finished = false;
            let mut i = 0;
            while i < this.active.len() {
                match this.active[i].1.as_mut().poll(cx) {
                    Poll::Ready(outcome) => {
                        let (index, _) = this.active.swap_remove(i);
                        this.outcomes[index] = Some(outcome);
                        finished = true;
                    }
                    Poll::Pending => i += 1,
                }
            }
            // A finished branch frees a place: start (and poll) the next ones now, so that
            // they register their wakers.
            if !finished || this.queue.is_empty() {
                break;
            }
        }
        if !this.active.is_empty() && this.parked.load(Ordering::SeqCst) == this.active.len() {
            return Poll::Ready(None);
        }
        if !this.active.is_empty() || !this.queue.is_empty() {
            return Poll::Pending;
        }
        let outcomes = std::mem::take(&mut this.outcomes)
            .into_iter()
            .map(|outcome| match outcome {
                Some(outcome) => outcome,
                None => unreachable!("every queued branch was polled to completion"),
            })
            .collect();
        Poll::Ready(Some(outcomes))
    }
}
