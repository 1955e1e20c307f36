//! The handle a workflow body receives: runs steps and commits states.
//!
//! `step`, `task`, `step_fn`, `sleep`, `parallel`, `state` and `idempotency_key` are what users
//! call; `__checkpoint` and `__decode_state` are what the generated driver calls between steps.
//! Runtime failures (storage, encoding) never return: they put the error in the run's
//! [`AbortSlot`] and park, and the runtime's supervisor ends the run, so the generated code
//! never has to fit them into the user's error type. Bad arguments do return, as
//! [`Error`]s, which `?` turns into the user's error type when it has a `From<cairn::Error>`.
//!
//! The context knows the run's *position*: its number of committed transitions. The generated
//! code awaits exactly one future between two commits, so the position names the await in
//! progress, the same after a crash and different in the next loop iteration. Idempotency keys,
//! durable sleeps and `parallel` branch outputs are keyed by it.

pub(crate) mod ask;
pub(crate) mod child;
pub mod event;
pub(crate) mod loop_items;
mod macro_support;
pub mod parallel;
mod sleep;
pub(crate) mod state;
pub(crate) mod step_span;
pub mod task;

use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use tracing::Instrument;

use crate::clock::to_ms;
use crate::context::parallel::{Branches, Parallel};
use crate::context::state::{State, StateWrites};
use crate::context::step_span::{StepOutcome, StepSpan};
use crate::context::task::{Once, Task, Unguarded};
use crate::error::Error;
use crate::history::{HistoryOutcome, HistoryRecord};
use crate::run::RunId;
use crate::runtime::Shared;
use crate::supervise::{Abort, AbortSlot};

/// The context of one run, passed to the workflow fn as `ctx: &mut Context`.
///
/// Steps take `&mut self` so that the context can keep per-segment bookkeeping (the step's
/// name, start time and attempts for the history, the buffered state writes).
///
/// # One step per `.await`
///
/// What is committed is the workflow's state after each `.await` written in the
/// `#[workflow]` fn. An `async fn` helper that takes `&mut Context` is awaited as one
/// `.await` of the workflow, so the steps inside it are not committed one by one. A helper may
/// run one step (a step in flight at a crash runs again anyway); a second step started before
/// the workflow's `.await` returns is refused before it runs, and the run fails with
/// [`Error::StepInsideAwait`], which names both steps and the state the `.await` started from:
///
/// ```ignore
/// async fn two_steps(ctx: &mut Context, x: u64) -> Result<u64, String> {
///     let a = ctx.task(double, x).await?;     // runs
///     let b = ctx.task(bump, a).await?;       // refused: `double` is not committed yet
///     Ok(b)
/// }
/// #[workflow]
/// async fn flow(ctx: &mut Context, x: u64) -> Result<u64, String> {
///     let b = two_steps(ctx, x).await?;       // one `.await`: one commit
///     Ok(b)
/// }
/// ```
///
/// Without the refusal, a failure of `bump` followed by a resume would run the completed
/// `double` again. Write the steps in the workflow itself, each with its own `.await`
/// (`let a = ctx.task(double, x).await?; let b = ctx.task(bump, a).await?;`), and keep in
/// helpers the plain code between steps; or make the helper a workflow of its own.
pub struct Context {
    run: RunId,
    workflow: &'static str,
    pub(crate) shared: Arc<Shared>,
    pub(crate) slot: AbortSlot,
    /// Committed transitions so far: names the await in progress.
    position: u64,
    /// State writes to commit with the next transition.
    pub(crate) writes: StateWrites,
    /// What happened since the last commit, for its history record.
    pub(crate) segment: Segment,
    /// Items of loops entered since the last commit, written with the next one.
    pub(crate) loops: crate::context::loop_items::PendingLoops,
    /// The state the await in progress started from, to name it in errors: known for a new
    /// run and after a commit, not for a resumed run before its first commit here.
    after_state: Option<&'static str>,
    /// The position this context started the run at: a retrying step there may be one a
    /// crash interrupted, whose stored attempts it continues (see `task.rs`).
    pub(crate) first_position: u64,
}

/// Bookkeeping of the segment since the last commit.
#[derive(Debug)]
pub(crate) struct Segment {
    pub started_at: SystemTime,
    pub step: Option<&'static str>,
    pub attempts: u32,
    pub errors: Vec<String>,
    /// The `tracing` span of the step in progress (see [`step_span`]).
    pub span: Option<StepSpan>,
}

impl Context {
    pub(crate) fn new(
        run: RunId,
        workflow: &'static str,
        shared: Arc<Shared>,
        slot: AbortSlot,
        position: u64,
    ) -> Context {
        let started_at = shared.clock.now();
        Context {
            run,
            workflow,
            shared,
            slot,
            position,
            writes: StateWrites::default(),
            segment: Segment {
                started_at,
                step: None,
                attempts: 0,
                errors: Vec::new(),
                span: None,
            },
            loops: crate::context::loop_items::PendingLoops::default(),
            after_state: (position == 0).then_some("Start"),
            first_position: position,
        }
    }

    /// The id of this run.
    pub fn run_id(&self) -> RunId {
        self.run
    }

    /// The name of this run's workflow.
    pub fn workflow(&self) -> &'static str {
        self.workflow
    }

    /// The run's position: how many transitions it has committed. The await in progress is
    /// the same at the same position, after a crash too.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// A key that names the await in progress: the same when a step re-runs after a crash (or
    /// is retried), different at every other await, loop iterations included. Pass it to an
    /// external service that deduplicates requests, so that an at-least-once step has an
    /// exactly-once effect. Unique across data directories, whose run ids both start at 1.
    ///
    /// Read it in the code before the step's `.await` (between two awaits the position does
    /// not change): `let key = ctx.idempotency_key(); ctx.task(charge, key, amount).await?`.
    pub fn idempotency_key(&self) -> String {
        format!(
            "{:016x}-{}-{}",
            self.shared.instance, self.run, self.position
        )
    }

    /// The idempotency key of branch `index` of the [`parallel`](Self::parallel) call at the
    /// await in progress.
    pub fn branch_key(&self, index: usize) -> String {
        format!("{}-{index}", self.idempotency_key())
    }

    /// The run's durable key-value state; writes become durable with the next transition.
    pub fn state(&mut self) -> State<'_> {
        State { ctx: self }
    }

    /// Records that step `name` starts now, for the history.
    ///
    /// Refuses a second step before the next commit: the generated code awaits one future
    /// between two commits, so two steps in one segment means an `.await` that is not itself
    /// a step (a helper `async fn` taking `&mut Context`) ran several; their results would be
    /// committed together, and after a failure or a crash the first would run again. The
    /// second is refused before it runs, with an error that names both and the fix.
    pub(crate) fn begin_step(&mut self, name: &'static str) -> Result<(), Abort> {
        if let Some(first) = self.segment.step {
            return Err(Abort::Fail(Error::StepInsideAwait {
                run: self.run,
                workflow: self.workflow.to_owned(),
                after: match self.after_state {
                    Some(state) => format!("after state `{state}`"),
                    None => format!("after transition {}", self.position),
                },
                first,
                second: name,
            }));
        }
        self.segment.step = Some(name);
        self.segment.span = Some(StepSpan::start(
            self.run,
            self.workflow,
            name,
            self.position,
        ));
        self.slot.set_step(name);
        self.segment.started_at = self.shared.clock.now();
        self.segment.attempts = 1;
        self.segment.errors.clear();
        Ok(())
    }

    /// The span of the step in progress (a disabled one between steps), to poll it in.
    pub(crate) fn step_span(&self) -> tracing::Span {
        self.segment
            .span
            .as_ref()
            .map_or_else(tracing::Span::none, |span| span.span().clone())
    }

    /// Closes the span of the step in progress, if any, with `outcome`.
    pub(crate) fn close_step(&mut self, outcome: StepOutcome) {
        if let Some(span) = self.segment.span.as_mut() {
            span.close(outcome);
        }
    }

    /// A future that ends the run with `abort` when polled, for the places that refuse a
    /// step before returning the step's future.
    pub(crate) fn refuse<T>(&self, abort: Abort) -> impl Future<Output = T> + Send + 'static {
        let slot = self.slot.clone();
        async move {
            slot.set(abort);
            std::future::pending().await
        }
    }

    /// Runs `fut` as a step named `name` and returns its output.
    ///
    /// The step's result becomes durable at the next checkpoint, which the generated code puts
    /// right after the `.await`; a step interrupted by a crash before that runs again.
    // The returned future captures the borrow of the context anyway (edition 2024 captures
    // every lifetime in scope); writing `+ '_` would also demand `F: '_` for no gain.
    pub fn step<F: Future + Send>(
        &mut self,
        name: &'static str,
        fut: F,
    ) -> impl Future<Output = F::Output> + Send {
        // The generated code awaits the step right away, so "called" is "started".
        let refused = self.begin_step(name).err().map(|abort| self.refuse(abort));
        let span = self.step_span();
        async move {
            match refused {
                Some(refused) => refused.await,
                None => fut.instrument(span).await,
            }
        }
    }

    /// A step made by calling `factory()`, once per attempt: the closure form of
    /// [`task`](Self::task), for steps that are not a single function call.
    /// `ctx.step_fn("fetch", || fetch(url.clone())).retry(policy).await?`.
    pub fn step_fn<F, Fut>(
        &mut self,
        name: &'static str,
        factory: F,
    ) -> Task<'_, Once<(), impl Fn(()) -> Fut>, Unguarded>
    where
        F: Fn() -> Fut,
        Fut: Future,
    {
        Task::new(self, name, Once::new((), move |()| factory()))
    }

    /// Runs several steps concurrently, committing each branch's output as soon as it
    /// completes: after a crash, only the branches that had not completed run again.
    ///
    /// `branches` is a tuple of [`step`](crate::step)s (of different output types; the result is
    /// the tuple of their outputs) or a `Vec` of them (of one type; the result is a `Vec`, empty
    /// for no branches). Inside `#[workflow]`, `ctx.task(f, a)` written among the branches
    /// (in the tuple, or in the closure that builds the `Vec`) is the branch `step("f", f(a))`.
    /// Every branch returns `Result<T, E>` with the same `E`; the call fails with the error of
    /// the first failing branch (in branch order) once all branches have settled. See
    /// [`Parallel`] for a concurrency limit, per-branch outcomes and results by name.
    ///
    /// ```ignore
    /// let (a, w) = ctx.parallel((ctx.task(search_arxiv, t1), ctx.task(search_wikipedia, t2))).await?;
    /// let (user, orders) = ctx.parallel((step("user", load_user(id)), step("orders", load_orders(id)))).await?;
    /// let pages = ctx.parallel(urls.into_iter().map(|u| step("fetch", fetch(u))).collect::<Vec<_>>()).limit(4).await?;
    /// ```
    pub fn parallel<'c, B: Branches + 'c>(&'c mut self, branches: B) -> Parallel<'c, B> {
        Parallel::new(self, branches)
    }

    /// Runs `f(arg)` as a step named after the function (the last segment of its path).
    ///
    /// Inside `#[workflow]`, the macro accepts `ctx.task(f, a, b, ...)` with any number of
    /// arguments and names the step after the path written at the call site, which stays the
    /// same when the function moves; this method is the fallback for a direct call.
    pub fn task<F, A, Fut>(&mut self, f: F, arg: A) -> Task<'_, Once<A, F>, Unguarded>
    where
        F: FnOnce(A) -> Fut,
        Fut: Future,
    {
        let name = short_name(std::any::type_name::<F>());
        Task::new(self, name, Once::new(arg, f))
    }

    /// The history record of the segment that ends now.
    pub(crate) fn history(&self, state: &str, outcome: HistoryOutcome) -> HistoryRecord {
        HistoryRecord {
            number: self.position,
            state: state.to_owned(),
            step: self.segment.step.map(str::to_owned),
            started_at_ms: to_ms(self.segment.started_at),
            ended_at_ms: to_ms(self.shared.clock.now()),
            attempts: self.segment.attempts,
            attempt_errors: self.segment.errors.clone(),
            outcome,
        }
    }

    /// Ends the run through the supervisor: records why, then never completes.
    pub(crate) async fn abort<T>(&self, abort: Abort) -> T {
        self.slot.set(abort);
        std::future::pending().await
    }

    pub(crate) fn corrupt(&self, reason: String) -> Abort {
        Abort::Error(Error::CorruptState {
            run: self.run,
            workflow: self.workflow.to_owned(),
            reason,
        })
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("run", &self.run)
            .field("workflow", &self.workflow)
            .finish_non_exhaustive()
    }
}

/// `crate::module::fetch_papers::<T>` -> `fetch_papers`.
fn short_name(type_name: &'static str) -> &'static str {
    let path = type_name.split('<').next().unwrap_or(type_name);
    let path = path.trim_end_matches("::");
    path.rsplit("::").next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::short_name;

    #[test]
    fn short_names() {
        assert_eq!(short_name("a::b::fetch"), "fetch");
        assert_eq!(short_name("fetch"), "fetch");
        assert_eq!(short_name("a::b::fetch<u32, c::D>"), "fetch");
        assert_eq!(short_name("a::b::fetch::<u32>"), "fetch");
        assert_eq!(short_name("a::b::{{closure}}"), "{{closure}}");
    }
}
