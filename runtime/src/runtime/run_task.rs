//! The task of one live run: polls the workflow's driver, then commits its outcome (output,
//! failure, quarantine), or hands the run to the timers or the answer watcher when it
//! suspends.
//!
//! The task runs inside a `tracing` span `run` (fields `run`, `workflow`, `position` where
//! the task began; on close `outcome` and `transitions`), entered whenever the task is polled,
//! so every step's span (`context/step_span.rs`) and every event of the run is its child. A
//! run that sleeps, waits for an answer or is resumed after a restart has one such span per
//! task: a span cannot outlive the process, while a run can.

use std::sync::Arc;

use tracing::Instrument;

use super::Shared;
use crate::context::Context;
use crate::context::step_span::StepOutcome;
use crate::error::Error;
use crate::history::HistoryOutcome;
use crate::registry::{Entry, ErasedStart};
use crate::run::RunId;
use crate::store::WriteOp;
use crate::supervise::{Abort, AbortSlot, Outcome, Supervised, lock};

/// Commits the failure of `run`, with its history record; whether `run` is a child.
async fn fail(shared: &Shared, ctx: &Context, run: RunId, message: String) -> Result<bool, Error> {
    let history = ctx.history(
        "Failed",
        HistoryOutcome::Failed {
            message: message.clone(),
        },
    );
    shared
        .commit(WriteOp::Fail {
            run,
            position: ctx.position(),
            message,
            history: Some(history),
        })
        .await?
        .ended()
}

/// Resumes `run` if a wake-up or an answer claimed it (marked it running in the store) while
/// its previous task, which suspended it at `position`, was still finishing: that claim's
/// spawn found the task live and did nothing. Called once the task's handle is gone, so one
/// of the two spawns starts it.
///
/// Only at `position` ([`Shared::resume_at`]): a run found running further on was started by
/// the claim's spawn after all, and that task ended without finishing the run (halted, or
/// stopped on an error). Resuming it here would undo that stop: a halt (a crash, as tests and
/// hooks use it) would go on in the same runtime. This call can come that late on a loaded
/// machine: the timer's wake-up, the new task and its first commit all fit between the old
/// task's handle going and this call.
pub(super) fn resume_if_claimed(shared: &Arc<Shared>, run: RunId, position: u64) {
    match shared.resume_at(run, position) {
        Ok(_) | Err(Error::ShutDown) => {}
        Err(error) => tracing::error!(%run, %error, "could not resume a claimed run"),
    }
}

/// Body of a run's task, in the run's span.
pub(super) async fn drive(
    shared: Arc<Shared>,
    run: RunId,
    entry: Arc<dyn Entry>,
    start: ErasedStart,
    position: u64,
) {
    let span = tracing::info_span!(
        "run",
        run = run.0,
        workflow = entry.name(),
        position,
        outcome = tracing::field::Empty,
        transitions = tracing::field::Empty,
    );
    drive_in_span(shared, run, entry, start, position, span.clone())
        .instrument(span)
        .await;
}

/// [`drive`], recording the run's outcome in `span`.
async fn drive_in_span(
    shared: Arc<Shared>,
    run: RunId,
    entry: Arc<dyn Entry>,
    start: ErasedStart,
    position: u64,
    span: tracing::Span,
) {
    let workflow = entry.name();
    tracing::debug!(%run, workflow, position, "run task started");
    let slot = AbortSlot::default();
    let mut ctx = Context::new(run, workflow, shared.clone(), slot.clone(), position);
    let outcome = Supervised::new(entry.drive(&mut ctx, start), slot, run, workflow).await;
    let mut suspended = None;
    let mut awaiting = None;
    let (step_outcome, run_outcome) = match &outcome {
        Outcome::Done(Ok(_)) => (StepOutcome::Committed, "completed"),
        Outcome::Done(Err(_)) | Outcome::Panicked(_) | Outcome::Aborted(Abort::Fail(_)) => {
            (StepOutcome::Failed, "failed")
        }
        Outcome::Aborted(Abort::Suspend { .. }) => (StepOutcome::Suspended, "sleeping"),
        Outcome::Aborted(Abort::AwaitAnswer { .. }) => (StepOutcome::Suspended, "waiting"),
        Outcome::Aborted(Abort::Halt) => (StepOutcome::Interrupted, "halted"),
        Outcome::Aborted(Abort::Error(_)) => (StepOutcome::Interrupted, "stopped"),
    };
    let recorded = match outcome {
        Outcome::Done(Ok(output)) => {
            tracing::info!(%run, workflow, "run completed");
            let writes = std::mem::take(&mut ctx.writes);
            let history = ctx.history("Completed", HistoryOutcome::Completed);
            shared
                .commit(WriteOp::Complete {
                    run,
                    position: ctx.position(),
                    output,
                    writes,
                    history,
                })
                .await
                .and_then(crate::store::Outcome::ended)
        }
        Outcome::Done(Err(message)) => {
            tracing::info!(%run, workflow, error = %message, "run failed");
            fail(&shared, &ctx, run, message).await
        }
        Outcome::Panicked(message) => {
            tracing::error!(%run, workflow, panic = %message, "run panicked");
            fail(&shared, &ctx, run, format!("panicked: {message}")).await
        }
        Outcome::Aborted(Abort::Halt) => {
            tracing::info!(%run, workflow, "run halted by the transition hook");
            Err(Error::Halted { run })
        }
        Outcome::Aborted(Abort::Suspend { wake_at }) => {
            suspended = Some(wake_at);
            Ok(false)
        }
        Outcome::Aborted(Abort::AwaitAnswer { deadline }) => {
            awaiting = Some(deadline);
            Ok(false)
        }
        Outcome::Aborted(Abort::Error(error)) => Err(error),
        Outcome::Aborted(Abort::Fail(error)) => {
            tracing::info!(%run, workflow, %error, "run failed");
            fail(&shared, &ctx, run, error.to_string()).await
        }
    };
    // Once the outcome is committed: a step is done when its result is durable.
    let (step_outcome, run_outcome) = match &recorded {
        Ok(_) => (step_outcome, run_outcome),
        Err(Error::Halted { .. }) => (StepOutcome::Interrupted, "halted"),
        Err(Error::Cancelled { .. }) => (StepOutcome::Interrupted, "cancelled"),
        Err(Error::Paused { .. }) => (StepOutcome::Interrupted, "paused"),
        Err(_) => (StepOutcome::Interrupted, "stopped"),
    };
    ctx.close_step(step_outcome);
    // The end's commit says whether the run was a child; a cancel, committed by a client,
    // does not, so that end asks the store.
    if matches!(recorded, Ok(true)) {
        super::child_wake::parent_may_go_on(&shared, run);
    } else if run_outcome == "cancelled" {
        super::child_wake::wake_parent(&shared, run);
    }
    span.record("outcome", run_outcome);
    span.record("transitions", ctx.position());
    let position = ctx.position();
    // Cancelled or paused from outside at a commit: the run's end (or hold) is committed,
    // and the task just stops (see `client/cancel.rs`).
    let recorded = match recorded {
        Err(Error::Cancelled { .. }) => {
            tracing::info!(%run, workflow, "run cancelled");
            Ok(false)
        }
        Err(Error::Paused { .. }) => {
            tracing::info!(%run, workflow, "run paused");
            Ok(false)
        }
        other => other,
    };
    if let Err(error) = &recorded
        && error.refused_for_good()
    {
        // Left unfinished, the run would re-run its step at every restart and be refused
        // again: it fails instead, with the error, and `Client::resume` takes it up once the
        // cause is fixed.
        tracing::error!(%run, workflow, %error, "commit refused for good: failing the run");
        if let Err(failed) = fail(&shared, &ctx, run, error.to_string()).await {
            tracing::error!(%run, workflow, error = %failed, "could not record the failure");
        }
    }
    if let Err(Error::CorruptState {
        run: of, reason, ..
    }) = &recorded
        && *of == run
    {
        // Left running, the run would fail the same way at every restart: it is quarantined
        // instead (committed), listed with the reason until it is failed, resumed or purged.
        tracing::error!(%run, workflow, reason, "stored data of the run is damaged: quarantined");
        let reason = reason.clone();
        if let Err(error) = shared.commit(WriteOp::Quarantine { run, reason }).await {
            tracing::error!(%run, workflow, %error, "could not quarantine the run");
        }
    }
    drop(ctx);
    // Refused as stale: the run went on without this task, and is resumed from its stored
    // position once this task's handle is gone (below).
    let mut moved_on_to = None;
    if let Err(error) = recorded {
        match error {
            Error::MovedOn { stored, .. } => {
                tracing::warn!(%run, workflow, %error, "commit refused as stale: going on from the stored state");
                moved_on_to = Some(stored);
            }
            Error::Halted { .. } => {}
            _ => tracing::error!(%run, workflow, %error, "run stopped"),
        }
        lock(&shared.aborted).insert(run, error);
    }
    if let Some(tasks) = lock(&shared.tasks).as_mut() {
        tasks.remove(&run);
    }
    if shared.queues.is_limited(workflow) {
        // It may have freed a slot of its queue (in the commit that finished it).
        shared.queues.notify();
    }
    // Only once the handle is gone: the timer may resume the run at once, with a new task.
    if let Some(wake_at) = suspended {
        shared.timers.schedule(run, wake_at);
    }
    if awaiting.is_some() {
        // Its deadline may come before the one the watcher sleeps towards.
        shared.answers.notify();
    }
    if suspended.is_some() || awaiting.is_some() {
        resume_if_claimed(&shared, run, position);
    }
    if let Some(stored) = moved_on_to {
        // The store let this task's commit through the lease's fence and refused it only for
        // its position: this worker holds the run (on PostgreSQL, its take-over poll claimed
        // it again while this task still ran, and started nothing beside a live task). Left
        // here, the run would wait with no task until that lease expired.
        resume_if_claimed(&shared, run, stored);
    }
    shared.notify();
}
