//! Concurrent steps: `ctx.parallel(branches)`, with each branch's output committed as soon as
//! the branch completes.
//!
//! Branches are [`Branch`]es made with [`step`], which do not borrow the context (joining
//! futures that each hold `&mut ctx` cannot compile). A tuple of branches gives a tuple of
//! outputs; a `Vec` gives a `Vec`. Every branch returns `Result<T, E>`; its `Ok` value is
//! stored under (run, position, branch index) the moment it completes, in its own small write
//! transaction. When the run resumes at the same position (after a crash, a halt or a failed
//! branch and `Client::resume`), the stored outputs are read back and only the other branches
//! run. The commit after the `parallel` await deletes them.
//!
//! Branches are polled in place on the run's task (they may borrow the workflow's locals), by a
//! small combinator that starts at most `limit` of them at once and polls the active ones
//! whenever it is woken: O(active) per wake-up, which is fine for fan-outs of thousands.

use std::collections::{BTreeMap, VecDeque};
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::Poll;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::Context;
use crate::error::Error;
use crate::run::RunId;
use crate::runtime::{BranchCommit, Flow};
use crate::store::{Outcome, WriteOp};
use crate::supervise::Abort;
use crate::workflow::BoxFuture;

/// One branch of a [`Context::parallel`] call: a named step that does not borrow the context.
#[must_use = "a branch does nothing until it is passed to `ctx.parallel`"]
#[derive(Debug)]
pub struct Branch<F> {
    name: String,
    fut: F,
}

impl<F> Branch<F> {
    /// The branch's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A branch named `name` that runs `fut`, for [`Context::parallel`].
pub fn step<F>(name: impl Into<String>, fut: F) -> Branch<F>
where
    F: Future,
{
    Branch {
        name: name.into(),
        fut,
    }
}

/// The output of one branch as stored: the bytes of its `Ok` value (see [`crate::codec`]),
/// or its error.
type Erased<'a, E> = (String, BoxFuture<'a, Result<Vec<u8>, E>>);

/// A set of branches: a tuple of [`Branch`]es or a `Vec` of them. Implemented by the runtime;
/// not meant to be implemented elsewhere.
pub trait Branches: Send {
    /// The error type shared by every branch.
    type Error;
    /// What the call returns on success: the `Ok` values, shaped like the branches.
    type Output;
    /// Per-branch outcomes, shaped like the branches.
    type Settled;
    #[doc(hidden)]
    fn __erase<'a>(self, workflow: &'static str) -> Vec<Erased<'a, Self::Error>>
    where
        Self: 'a;
    #[doc(hidden)]
    fn __assemble(outputs: Vec<Vec<u8>>) -> Result<Self::Output, String>;
    #[doc(hidden)]
    fn __assemble_settled(
        outcomes: Vec<Result<Vec<u8>, Self::Error>>,
    ) -> Result<Self::Settled, String>;
}

fn erase<'a, F, T, E>(workflow: &'static str, branch: Branch<F>) -> Erased<'a, E>
where
    F: Future<Output = Result<T, E>> + Send + 'a,
    T: Serialize + DeserializeOwned,
    E: From<Error>,
{
    let name = branch.name;
    let branch_name = name.clone();
    let fut = branch.fut;
    (
        name,
        Box::pin(async move {
            let value = fut.await?;
            crate::codec::encode(&value).map_err(|e| {
                E::from(e.into_error(
                    workflow,
                    format_args!("the output of parallel branch `{branch_name}`"),
                ))
            })
        }),
    )
}

impl<F, T, E> Branches for Vec<Branch<F>>
where
    F: Future<Output = Result<T, E>> + Send,
    T: Serialize + DeserializeOwned,
    E: From<Error>,
{
    type Error = E;
    type Output = Vec<T>;
    type Settled = Vec<Result<T, E>>;

    fn __erase<'a>(self, workflow: &'static str) -> Vec<Erased<'a, E>>
    where
        Self: 'a,
    {
        self.into_iter()
            .map(|branch| erase(workflow, branch))
            .collect()
    }

    fn __assemble(outputs: Vec<Vec<u8>>) -> Result<Vec<T>, String> {
        outputs
            .iter()
            .map(|bytes| crate::codec::decode(bytes))
            .collect()
    }

    fn __assemble_settled(outcomes: Vec<Result<Vec<u8>, E>>) -> Result<Vec<Result<T, E>>, String> {
        outcomes
            .into_iter()
            .map(|outcome| match outcome {
                Ok(bytes) => crate::codec::decode(&bytes).map(Ok),
                Err(error) => Ok(Err(error)),
            })
            .collect()
    }
}

macro_rules! tuple_branches {
    ($($F:ident $T:ident $i:tt),+) => {
        impl<E, $($F, $T),+> Branches for ($(Branch<$F>,)+)
        where
            E: From<Error>,
            $($F: Future<Output = Result<$T, E>> + Send, $T: Serialize + DeserializeOwned,)+
        {
            type Error = E;
            type Output = ($($T,)+);
            type Settled = ($(Result<$T, E>,)+);

            fn __erase<'a>(self, workflow: &'static str) -> Vec<Erased<'a, E>>
            where
                Self: 'a,
            {
                vec![$(erase(workflow, self.$i)),+]
            }

            fn __assemble(outputs: Vec<Vec<u8>>) -> Result<Self::Output, String> {
                Ok(($(crate::codec::decode::<$T>(
                    outputs.get($i).ok_or_else(missing_branch)?,
                )?,)+))
            }

            fn __assemble_settled(
                outcomes: Vec<Result<Vec<u8>, E>>,
            ) -> Result<Self::Settled, String> {
                let mut outcomes = outcomes.into_iter();
                Ok(($(
                    match outcomes.next().ok_or_else(missing_branch)? {
                        Ok(bytes) => Ok(crate::codec::decode::<$T>(&bytes)?),
                        Err(error) => Err(error),
                    },
                )+))
            }
        }
    };
}

tuple_branches!(F0 T0 0);
tuple_branches!(F0 T0 0, F1 T1 1);
tuple_branches!(F0 T0 0, F1 T1 1, F2 T2 2);
tuple_branches!(F0 T0 0, F1 T1 1, F2 T2 2, F3 T3 3);
tuple_branches!(F0 T0 0, F1 T1 1, F2 T2 2, F3 T3 3, F4 T4 4);
tuple_branches!(F0 T0 0, F1 T1 1, F2 T2 2, F3 T3 3, F4 T4 4, F5 T5 5);
tuple_branches!(F0 T0 0, F1 T1 1, F2 T2 2, F3 T3 3, F4 T4 4, F5 T5 5, F6 T6 6);
tuple_branches!(F0 T0 0, F1 T1 1, F2 T2 2, F3 T3 3, F4 T4 4, F5 T5 5, F6 T6 6, F7 T7 7);

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
    for (index, (name, fut)) in branches.into_iter().enumerate() {
        match stored.remove(&index) {
            Some(bytes) => outcomes.push(Some(Ok(bytes))),
            None => {
                outcomes.push(None);
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
    let settled = Settle {
        queue,
        active: Vec::new(),
        limit,
        outcomes,
    }
    .await;
    Ok(settled)
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
}

// Never pin-projected: the branch futures are boxed.
impl<E> Unpin for Settle<'_, E> {}

impl<E> Future for Settle<'_, E> {
    type Output = Vec<Result<Vec<u8>, E>>;

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
        Poll::Ready(outcomes)
    }
}
