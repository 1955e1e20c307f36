//! Events sent into runs and the attempts of retrying steps on PostgreSQL (what they are and
//! why: [`crate::store::events`]; the same rules as `lmdb/events.rs`).
//!
//! - `events (run, name, seq)`: each run's queue of events per name, in send order.
//! - `event_waits (run, position)`: the sealed [`StoredWait`] of the wait in progress at that
//!   await, and the event bound to it once there is one.
//! - `attempts (run, position)`: how many attempts a retrying step made and when the next is
//!   due.
//!
//! A parked wait is a run with status waiting, out of `active`, with its deadline (if any) as
//! a sleep at the same position, so that the timer wakes it like any durable sleep. Every
//! write here first locks the run's row (`runs::must_get`), so two sends to one run, or a send
//! and the run's own wait, apply one after the other in any number of processes.

use super::error::{corrupt, encode_error};
use super::runs::{self, must_get};
use super::sql::Sql;
use super::{PgStore, big, rid, unbig};
use crate::error::Error;
use crate::history::HistoryRecord;
use crate::lifecycle;
use crate::run::{RunId, Status};
use crate::store::RunRecord;
use crate::store::events::{Awaited, EVENT_STEP, StoredAttempts, StoredWait};

/// The tables, as a migration of `schema.rs`.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE events (run bigint NOT NULL, name text NOT NULL, seq bigint NOT NULL,
    payload bytea NOT NULL, PRIMARY KEY (run, name, seq));
CREATE TABLE event_waits (run bigint NOT NULL, position bigint NOT NULL, wait bytea NOT NULL,
    PRIMARY KEY (run, position));
CREATE TABLE attempts (run bigint NOT NULL, position bigint NOT NULL, failed bigint NOT NULL,
    retry_at_ms bigint NOT NULL, PRIMARY KEY (run, position));
"#;

async fn wait_at(sql: Sql<'_, '_>, run: RunId, position: u64) -> Result<Option<StoredWait>, Error> {
    let row = sql
        .opt(
            "SELECT wait FROM event_waits WHERE run = $1 AND position = $2",
            &[&rid(run), &big(position)],
        )
        .await?;
    row.map(|row| {
        crate::codec::open_record(row.get(0)).map_err(|e| corrupt(run, "the event wait", e))
    })
    .transpose()
}

async fn put_wait(
    sql: Sql<'_, '_>,
    run: RunId,
    position: u64,
    wait: &StoredWait,
) -> Result<(), Error> {
    let bytes =
        crate::codec::seal_record(wait, 64).map_err(|e| encode_error("an event wait", e))?;
    sql.exec(
        "INSERT INTO event_waits (run, position, wait) VALUES ($1, $2, $3)
         ON CONFLICT (run, position) DO UPDATE SET wait = EXCLUDED.wait",
        &[&rid(run), &big(position), &bytes],
    )
    .await?;
    Ok(())
}

/// [`WriteOp::SendEvent`](crate::store::WriteOp::SendEvent): whether the send woke the run.
pub(super) async fn send(
    sql: Sql<'_, '_>,
    run: RunId,
    name: &str,
    payload: &[u8],
    now: u64,
) -> Result<bool, Error> {
    let mut record = must_get(sql, run).await?;
    if record.status.is_finished() {
        return Err(Error::EventToFinishedRun {
            run,
            status: record.status,
        });
    }
    // The run's row is locked: no other send to it numbers its event meanwhile.
    sql.exec(
        "INSERT INTO events (run, name, seq, payload) VALUES ($1, $2,
             (SELECT COALESCE(MAX(seq) + 1, 0) FROM events WHERE run = $1 AND name = $2), $3)",
        &[&rid(run), &name, &payload],
    )
    .await?;
    // Wakes the run if it is parked on this name (a paused run waits for its unpause).
    let position = record.transitions;
    if record.status != Status::Waiting || runs::quarantine_entry(sql, run).await?.is_some() {
        return Ok(false);
    }
    let parked = wait_at(sql, run, position)
        .await?
        .filter(|wait| wait.name == name && wait.delivered.is_none());
    let Some(wait) = parked else {
        return Ok(false);
    };
    lifecycle::go_on(&mut record, now);
    runs::put(sql, run, &record).await?;
    runs::set_active(sql, run).await?;
    if let Some(deadline) = wait.deadline_ms {
        sql.exec(
            "DELETE FROM wakeups WHERE wake_ms = $1 AND run = $2",
            &[&big(deadline), &rid(run)],
        )
        .await?;
    }
    // For the runtime's watcher, in whichever process runs the workflow: with no owner, so
    // that the first worker to look claims it (the worker that parked it may hold a live
    // lease on it, renewed by its heartbeat, and would otherwise keep it from every other).
    sql.exec(
        "UPDATE runs SET owner = NULL, lease_until_ms = NULL WHERE id = $1",
        &[&rid(run)],
    )
    .await?;
    super::handover::hand_over(sql, run, position).await?;
    Ok(true)
}

/// The run may go on from its await: runnable again, and active.
async fn going_on(
    sql: Sql<'_, '_>,
    run: RunId,
    record: &mut RunRecord,
    now: u64,
) -> Result<(), Error> {
    let status = lifecycle::runnable(record);
    if lifecycle::set_status(record, status, now) {
        runs::put(sql, run, record).await?;
    }
    runs::set_active(sql, run).await
}

/// [`WriteOp::AwaitEvent`](crate::store::WriteOp::AwaitEvent).
pub(super) async fn await_event(
    sql: Sql<'_, '_>,
    run: RunId,
    position: u64,
    asked: &StoredWait,
    now: u64,
) -> Result<Awaited, Error> {
    let mut record = must_get(sql, run).await?;
    lifecycle::at_position(run, record.transitions, position)?;
    let stored = wait_at(sql, run, position).await?;
    let is_stored = stored.is_some();
    let mut wait = stored.unwrap_or_else(|| asked.clone());
    let started_ms = wait.started_ms;
    if let Some(payload) = wait.delivered.clone() {
        going_on(sql, run, &mut record, now).await?;
        return Ok(Awaited::Received {
            payload,
            started_ms,
        });
    }
    // Taken off the queue and bound to this await in one write.
    let first = sql
        .opt(
            "DELETE FROM events WHERE (run, name, seq) = (
                 SELECT run, name, seq FROM events WHERE run = $1 AND name = $2
                 ORDER BY seq LIMIT 1)
             RETURNING payload",
            &[&rid(run), &wait.name],
        )
        .await?;
    if let Some(row) = first {
        let payload: Vec<u8> = row.get(0);
        wait.delivered = Some(payload.clone());
        put_wait(sql, run, position, &wait).await?;
        going_on(sql, run, &mut record, now).await?;
        return Ok(Awaited::Received {
            payload,
            started_ms,
        });
    }
    if wait.deadline_ms.is_some_and(|deadline| deadline <= now) {
        going_on(sql, run, &mut record, now).await?;
        return Ok(Awaited::TimedOut { started_ms });
    }
    if !is_stored {
        put_wait(sql, run, position, &wait).await?;
    }
    lifecycle::wait(&mut record, now);
    runs::put(sql, run, &record).await?;
    runs::unset_active(sql, run).await?;
    if let Some(deadline) = wait.deadline_ms {
        // The deadline as a durable sleep at this position: the timer wakes the run then.
        sql.exec(
            "INSERT INTO sleeps (run, position, wake_ms, started_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (run, position) DO UPDATE
                 SET wake_ms = EXCLUDED.wake_ms, started_ms = EXCLUDED.started_ms",
            &[&rid(run), &big(position), &big(deadline), &big(started_ms)],
        )
        .await?;
        sql.exec(
            "INSERT INTO wakeups (wake_ms, run, position) VALUES ($1, $2, $3)
             ON CONFLICT (wake_ms, run) DO UPDATE SET position = EXCLUDED.position",
            &[&big(deadline), &rid(run), &big(position)],
        )
        .await?;
    }
    Ok(Awaited::Waiting {
        deadline_ms: wait.deadline_ms,
    })
}

/// [`WriteOp::RecordAttempts`](crate::store::WriteOp::RecordAttempts).
pub(super) async fn record_attempts(
    sql: Sql<'_, '_>,
    run: RunId,
    position: u64,
    attempts: StoredAttempts,
) -> Result<(), Error> {
    let at = must_get(sql, run).await?.transitions;
    lifecycle::at_position(run, at, position)?;
    sql.exec(
        "INSERT INTO attempts (run, position, failed, retry_at_ms) VALUES ($1, $2, $3, $4)
         ON CONFLICT (run, position) DO UPDATE
             SET failed = EXCLUDED.failed, retry_at_ms = EXCLUDED.retry_at_ms",
        &[
            &rid(run),
            &big(position),
            &i64::from(attempts.failed),
            &big(attempts.retry_at_ms),
        ],
    )
    .await?;
    Ok(())
}

/// Drops the attempts stored at `position` of `run` (a failed run reopened: its step gets its
/// attempts afresh).
pub(super) async fn forget_attempts(
    sql: Sql<'_, '_>,
    run: RunId,
    position: u64,
) -> Result<(), Error> {
    sql.exec(
        "DELETE FROM attempts WHERE run = $1 AND position = $2",
        &[&rid(run), &big(position)],
    )
    .await?;
    Ok(())
}

/// What the commit that ends the await at `position` drops: its event wait if it was one
/// (see [`EVENT_STEP`]), its step's attempts if it made several; `history` is the commit's
/// record of the await, so that a commit after any other await costs no statement here.
pub(super) async fn end_await(
    sql: Sql<'_, '_>,
    run: RunId,
    position: u64,
    history: &HistoryRecord,
) -> Result<(), Error> {
    if history.step.as_deref() == Some(EVENT_STEP) {
        sql.exec(
            "DELETE FROM event_waits WHERE run = $1 AND position = $2",
            &[&rid(run), &big(position)],
        )
        .await?;
    }
    if history.attempts > 1 {
        forget_attempts(sql, run, position).await?;
    }
    Ok(())
}

/// Deletes every event, wait and attempt count of `run` (purged).
pub(super) async fn delete_of(sql: Sql<'_, '_>, run: RunId) -> Result<(), Error> {
    for statement in [
        "DELETE FROM events WHERE run = $1",
        "DELETE FROM event_waits WHERE run = $1",
        "DELETE FROM attempts WHERE run = $1",
    ] {
        sql.exec(statement, &[&rid(run)]).await?;
    }
    Ok(())
}

impl PgStore {
    /// [`Store::attempts_at`](crate::store::Store::attempts_at).
    pub(super) fn attempts_at_impl(
        &self,
        run: RunId,
        position: u64,
    ) -> Result<Option<StoredAttempts>, Error> {
        self.driver.run(|client| async move {
            let row = Sql::Conn(&client)
                .opt(
                    "SELECT failed, retry_at_ms FROM attempts WHERE run = $1 AND position = $2",
                    &[&rid(run), &big(position)],
                )
                .await?;
            row.map(|row| {
                let failed = u32::try_from(row.get::<_, i64>(0))
                    .map_err(|e| corrupt(run, "the attempts of a retrying step", e))?;
                Ok(StoredAttempts {
                    failed,
                    retry_at_ms: unbig(row.get(1)),
                })
            })
            .transpose()
        })
    }
}
