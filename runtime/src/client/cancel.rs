//! Stopping runs from outside: [`Client::cancel`], [`Client::pause`] and
//! [`Client::unpause`], from the process that runs the workflow or from any other one
//! ([`Client::open`], a client-only runtime). The rules are in [`crate::lifecycle`]; how a
//! request reaches a run whose task is live, maybe in another process, is in the store (for
//! LMDB, `store/lmdb/cancel.rs`).

use super::Client;
use crate::error::Error;
use crate::run::RunId;
use crate::store::{Outcome, WriteOp};

impl Client {
    /// Cancels `run`, durably: once this returns, the run never starts another step, and
    /// [`wait`](Self::wait) and [`result`](Self::result) return [`Error::Cancelled`].
    ///
    /// - A pending, sleeping, waiting-for-a-person or paused run is
    ///   [`Status::Cancelled`](crate::Status::Cancelled) when this returns, out of every
    ///   index (active runs, wake-ups, answered questions, deadlines, pending questions,
    ///   hand-overs) in the same write: no runtime resumes it, its wake-up or a late answer
    ///   does nothing, and it is no longer listed by
    ///   [`pending_questions`](Self::pending_questions).
    /// - A running run (its task live in some runtime, maybe in another process) is asked to
    ///   stop, and the request is committed: the step in flight is not interrupted (cairn
    ///   cannot stop a step running in another process, and a step interrupted halfway is
    ///   worse than one that ends), but its result is dropped: the run's next commit (its new
    ///   state, a sleep, a question or its end) is not written, the run is marked cancelled
    ///   instead, and its task stops. So it ends cancelled within one transition, with the
    ///   state it had before that step. If its process dies first, the next runtime start
    ///   cancels it before resuming anything, so the step is not run again.
    ///
    /// The workflow's code does not see an error: its future is dropped at the `.await` that
    /// would have committed (so values it holds are dropped, their `Drop` runs), and nothing
    /// of it runs after. Cleanup that must happen (release a reservation, say) is for the
    /// caller to start after this returns (another workflow, given the run's
    /// [`state`](Self::state)), or for the workflow to do in steps that check a flag of its
    /// own before each step.
    ///
    /// Idempotent: cancelling a cancelled run is `Ok`. [`Error::NotCancellable`] (naming its
    /// status) for a run that has completed or failed; [`Error::UnknownRun`] for a run that
    /// does not exist. A cancelled run keeps its history and key-value state until purged
    /// ([`purge_run`](Self::purge_run)).
    pub async fn cancel(&self, run: RunId) -> Result<(), Error> {
        self.shared.commit(WriteOp::Cancel { run }).await?.done()?;
        tracing::info!(%run, "run cancel committed");
        // A cancelled child wakes its parent (it gets `Error::ChildCancelled`).
        self.shared.answers.notify();
        self.shared.notify();
        Ok(())
    }

    /// Pauses `run`, durably: it holds ([`Status::Paused`](crate::Status::Paused)), stored,
    /// with no task in any process, until [`unpause`](Self::unpause). A runtime restart
    /// (a crash too) keeps it paused: it is in none of the indexes a runtime resumes from.
    ///
    /// - A running run finishes the step in flight and commits its result, as it would
    ///   have; that commit then holds it, and its task stops. If its process dies first, the
    ///   next runtime start pauses it before resuming anything; the step then runs again
    ///   after unpause (a step in flight at a crash always does).
    /// - A pending run is paused at once (a first step already in flight commits, then
    ///   holds).
    /// - A sleeping run is paused at once. Its wake-up time is kept and takes effect after
    ///   unpause: unpaused after it, the run goes on at once; before it, it sleeps again until
    ///   then.
    /// - A run waiting for a person is paused at once. Its question stays listed by
    ///   [`pending_questions`](Self::pending_questions) and can be answered while paused; the
    ///   answer (or the default taken at its deadline) is kept and takes effect after unpause.
    ///
    /// Idempotent: pausing a paused run is `Ok`. [`Error::NotPausable`] for a finished run,
    /// [`Error::UnknownRun`] for a run that does not exist.
    pub async fn pause(&self, run: RunId) -> Result<(), Error> {
        self.shared.commit(WriteOp::Pause { run }).await?.done()?;
        tracing::info!(%run, "run pause committed");
        self.shared.notify();
        Ok(())
    }

    /// Lets a paused run go on from its last committed state: here, or, from a process that
    /// runs no workflow, handed over to the runtime that runs them, which picks it up within
    /// its poll interval. A pause asked of a running run and not applied yet is withdrawn.
    /// [`Error::NotPaused`] for a run that is neither paused nor asked to pause.
    pub async fn unpause(&self, run: RunId) -> Result<(), Error> {
        match self.shared.commit(WriteOp::Unpause { run }).await? {
            Outcome::Record(record) => {
                tracing::info!(%run, workflow = record.workflow, "run unpaused");
                self.continue_run(run, *record).await
            }
            other => {
                other.done()?;
                tracing::info!(%run, "pause request withdrawn");
                Ok(())
            }
        }
    }
}
