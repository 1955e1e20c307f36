//! Start-up of a runtime: the consistency check of the store's indexes, then every unfinished
//! run resumed from its last committed state (or scheduled, if it waits), a batch at a time,
//! without replaying anything.

use std::sync::Arc;

use super::Shared;
use crate::clock::Clock;
use crate::error::Error;
use crate::run::Status;
use crate::supervise::lock;

/// Unfinished runs read at a time by [`recover`].
const START_BATCH: usize = 1024;

/// Checks the indexes (if at most `startup_check_limit` runs are stored), resumes every
/// unfinished run of a registered workflow, then starts the timer and answer watcher; returns
/// how many were resumed.
pub(super) fn recover(
    shared: &Arc<Shared>,
    startup_check_limit: u64,
    clock: Arc<dyn Clock>,
) -> Result<usize, Error> {
    // Before anything reads the indexes (the timer and answer watcher too): a damaged or lost entry would leave a run never
    // resumed or never woken, and an undecodable run would fail at every restart.
    // Cancels and pauses asked of runs whose tasks died with their process: applied before
    // anything is resumed, so that such a run does not run its step again.
    settle_requests(shared)?;
    let stored = shared.store()?.run_count()?;
    let checked = if stored <= startup_check_limit {
        shared.store()?.check_indexes(shared.now_ms())?
    } else {
        tracing::info!(
            stored,
            limit = startup_check_limit,
            "start-up index check skipped: more runs stored than RuntimeBuilder::startup_check_limit"
        );
        crate::quarantine::CheckReport::default()
    };
    if checked.removed + checked.reindexed + checked.quarantined > 0 {
        tracing::warn!(
            runs = checked.runs,
            removed = checked.removed,
            reindexed = checked.reindexed,
            quarantined = checked.quarantined,
            "repaired the run indexes at start"
        );
    }
    let quarantined = shared.store()?.quarantined()?.len();
    if quarantined > 0 {
        tracing::warn!(
            quarantined,
            "runs in quarantine (stored data damaged): left alone; see Runtime::quarantined, then fail, resume or purge them"
        );
    }
    let mut resumed = 0usize;
    let mut after = None;
    loop {
        // A batch at a time: memory does not grow with the number of unfinished runs, and
        // runs in a durable sleep are not in this index at all (the timer reads theirs).
        let (batch, more) = shared.store()?.claim_active(after, START_BATCH)?;
        for (run, mut record) in batch {
            if !shared.registry.contains_key(record.workflow.as_str()) {
                tracing::debug!(%run, workflow = record.workflow, "leaving a run of an unregistered workflow alone");
                continue;
            }
            // A run of an older layout is migrated or adopted here, before anything decodes it.
            if let Err(error) = shared.entry_settled(run, &mut record) {
                // Reported, left untouched for a build that can read it; the others go on.
                tracing::error!(%run, workflow = record.workflow, "not resuming: {error}");
                lock(&shared.incompatible).push(error);
                continue;
            }
            if record.status == Status::Waiting {
                shared.schedule_stored(run, &record)?;
                continue;
            }
            if shared.resume_claimed(run, record)? {
                resumed += 1;
            }
        }
        match more {
            Some(last) => after = Some(last),
            None => break,
        }
    }
    // After the runs' tasks, so that their first steps are not queued behind the watchers'
    // first polls (each spawn from here wakes a worker: on two cores that delayed a resumed
    // run's first step by 40-80 µs). Nothing is missed meanwhile: a run that sleeps or asks
    // before they start leaves its wake-up or question in the store, which their first poll
    // reads, and a notification keeps its permit.
    crate::runtime::answer_watcher::Answers::start(shared, clock.clone());
    let timer = shared
        .handle
        .spawn(crate::runtime::timers::run(shared.clone(), clock));
    *lock(&shared.timer_task) = Some(timer);
    Ok(resumed)
}

/// Applies the cancel and pause requests left by runs that were running when their process
/// stopped (see [`WriteOp::SettleRequests`](crate::store::WriteOp::SettleRequests)). Written
/// straight to the store: nothing else of this runtime commits yet.
fn settle_requests(shared: &Shared) -> Result<(), Error> {
    let op = crate::store::WriteOp::SettleRequests;
    match shared.store()?.write(&[&op], shared.now_ms()) {
        Ok(_) => Ok(()),
        Err(
            crate::store::WriteError::Refused { error, .. }
            | crate::store::WriteError::Failed(error),
        ) => Err(*error),
    }
}
