//! The runtime's side of schedules ([`RuntimeBuilder::schedule`](crate::RuntimeBuilder::schedule)):
//! at start, the ticks missed while no runtime ran, handled per the schedule's
//! [`MissedTicks`]; then one tokio task per schedule that sleeps on the runtime's [`Clock`]
//! until the next tick and starts its run.
//!
//! Every tick is handled by one write, [`WriteOp::ScheduleTick`], that checks and moves the
//! schedule's last handled tick and starts the tick's run as a unique start keyed by the
//! schedule and the tick, in one transaction: whoever else handles the same tick (a restart
//! racing it, another worker of a shared store) finds it handled and starts nothing. Tick
//! times are computed, not measured (`crate::schedule`), so every process agrees on them.

use std::sync::Arc;
use std::time::Duration;

use super::Shared;
use crate::clock::{Clock, from_ms};
use crate::error::Error;
use crate::registry::Entry;
use crate::schedule::{MissedTicks, Schedule};
use crate::store::{RunRecord, WriteError, WriteOp};

/// A schedule as configured with `RuntimeBuilder::schedule`.
pub(crate) struct Scheduled {
    /// The schedule's name: its own, else its workflow's.
    pub name: String,
    pub schedule: Schedule,
    pub entry: Arc<dyn Entry>,
    /// The sealed input every tick's run starts with; an input that cannot be stored fails
    /// `start`.
    pub input: Result<Vec<u8>, Error>,
}

/// Checks the schedules before anything is opened: names unique and valid, intervals
/// positive, inputs storable.
pub(super) fn check(scheduled: &[Scheduled]) -> Result<(), Error> {
    let mut names = std::collections::HashSet::new();
    for s in scheduled {
        s.schedule.check(&s.name)?;
        if let Err(error) = &s.input {
            return Err(error.clone());
        }
        if !names.insert(s.name.as_str()) {
            return Err(Error::DuplicateSchedule {
                name: s.name.clone(),
            });
        }
    }
    Ok(())
}

/// Handles each schedule's missed ticks, then starts its task. Called by `start` once the
/// stored runs are resumed.
pub(super) fn start(
    shared: &Arc<Shared>,
    scheduled: Vec<Scheduled>,
    clock: &Arc<dyn Clock>,
) -> Result<(), Error> {
    for s in scheduled {
        let last = catch_up(shared, &s)?;
        tracing::info!(
            schedule = s.name,
            workflow = s.entry.name(),
            when = s.schedule.describe(),
            "schedule started"
        );
        let task = shared
            .handle
            .spawn(run(shared.clone(), Arc::new(s), clock.clone(), last));
        crate::supervise::lock(&shared.schedule_tasks).push(task);
    }
    Ok(())
}

/// The ticks that came while no runtime ran this schedule: one run for the latest of them
/// ([`MissedTicks::RunOnce`]) or none ([`MissedTicks::Skip`]). A schedule the store has
/// never seen begins now: the ticks before it are not its. Returns the last tick handled.
fn catch_up(shared: &Arc<Shared>, s: &Scheduled) -> Result<u64, Error> {
    let now = shared.now_ms();
    let Some(last) = shared.store()?.last_tick(&s.name)? else {
        write_now(shared, tick_op(s, now, None))?;
        return Ok(now);
    };
    let Some(latest) = s.schedule.latest_in(last, now) else {
        return Ok(last);
    };
    let record = match s.schedule.missed {
        MissedTicks::RunOnce => Some(record(shared, s)?),
        MissedTicks::Skip => None,
    };
    let started = record.is_some();
    let outcome = write_now(shared, tick_op(s, latest, record))?.tick()?;
    tracing::info!(
        schedule = s.name,
        missed_until = latest,
        run = started,
        "missed ticks handled at start"
    );
    if let Some((run, true)) = outcome {
        shared.start_new(run, s.entry.clone(), record_input(s)?)?;
    }
    Ok(latest)
}

/// Body of a schedule's task: sleeps on the clock until the next tick after `last`, starts
/// its run, and so on until the runtime shuts down (and aborts it).
async fn run(shared: Arc<Shared>, s: Arc<Scheduled>, clock: Arc<dyn Clock>, mut last: u64) {
    loop {
        let Some(next) = s.schedule.next_after(last) else {
            tracing::info!(schedule = s.name, "the schedule has no tick to come");
            return;
        };
        clock.sleep_until(from_ms(next)).await;
        // Late (a suspended process, a busy machine): the ticks passed meanwhile share one run,
        // keyed by the latest.
        let tick = s.schedule.latest_in(last, shared.now_ms()).unwrap_or(next);
        match fire(&shared, &s, tick).await {
            Ok(()) => last = tick,
            Err(Error::ShutDown) => return,
            Err(error) => {
                // The tick stays unhandled: tried again (the same tick, or a later one if it
                // has passed by then) after a pause.
                tracing::error!(schedule = s.name, tick, %error, "could not start a scheduled run; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Handles `tick`: starts its run here, unless it was handled already.
async fn fire(shared: &Arc<Shared>, s: &Scheduled, tick: u64) -> Result<(), Error> {
    let op = tick_op(s, tick, Some(record(shared, s)?));
    match shared.commit(op).await?.tick()? {
        Some((run, true)) => {
            tracing::info!(%run, schedule = s.name, tick, "scheduled run started");
            shared.start_new(run, s.entry.clone(), record_input(s)?)
        }
        Some((run, false)) => {
            tracing::debug!(%run, schedule = s.name, tick, "tick handled already");
            Ok(())
        }
        None => Ok(()),
    }
}

fn record_input(s: &Scheduled) -> Result<Vec<u8>, Error> {
    s.input.clone()
}

fn record(shared: &Shared, s: &Scheduled) -> Result<RunRecord, Error> {
    Ok(RunRecord::new(
        s.entry.name(),
        s.entry.fingerprint(),
        record_input(s)?,
        shared.now_ms(),
    ))
}

fn tick_op(s: &Scheduled, tick_ms: u64, record: Option<RunRecord>) -> WriteOp {
    WriteOp::ScheduleTick {
        schedule: s.name.clone(),
        tick_ms,
        record,
        hand_over: false,
    }
}

/// Writes `op` straight to the store, at start, before this runtime's ticks go through the
/// group committer.
fn write_now(shared: &Shared, op: WriteOp) -> Result<crate::store::Outcome, Error> {
    match shared.store()?.write(&[&op], shared.now_ms()) {
        Ok(mut outcomes) => outcomes
            .pop()
            .ok_or_else(|| Error::from(std::io::Error::other("the store answered no outcome"))),
        Err(WriteError::Refused { error, .. } | WriteError::Failed(error)) => Err(*error),
    }
}
