//! Cancel and pause (the rules are in [`crate::lifecycle`]): the table of requests that a
//! running run's next commit meets, and the writes that stop a run now.
//!
//! A commit of a run's own task ([`WriteOp::CommitState`], `Suspend`, `Ask`, `Complete`,
//! `Fail`) first reads the run's request in the same transaction, as on LMDB, so that a
//! cancel given from any process stops the run at its next commit.

use super::leases::{self, NOW_MS, Worker};
use super::runs::{self, must_get};
use super::sql::Sql;
use super::{big, rid};
use crate::error::Error;
use crate::lifecycle::{self, AtCommit, Request, Stop};
use crate::run::{RunId, Status};
use crate::store::own_commit::own_commit;
use crate::store::{Outcome, WriteOp};

/// Applies `op`, after the run's request if it is a commit of a run's own task.
pub(super) async fn apply_with_requests(
    sql: Sql<'_, '_>,
    worker: &Worker,
    op: &WriteOp,
    now: u64,
) -> Result<Outcome, Error> {
    if let WriteOp::CommitBranch { run, .. } = op {
        leases::fence(sql, worker, *run).await?;
    }
    let Some((run, ends)) = own_commit(op) else {
        return super::writes::apply(sql, worker, op, now).await;
    };
    // A commit of the run's own task: only by the worker that holds its lease. Both reads
    // are sent together (pipelined).
    let ((), request) =
        super::pipeline::pipelined!(leases::fence(sql, worker, run), request(sql, run))?;
    match lifecycle::at_commit(request, ends) {
        AtCommit::Proceed => {
            let outcome = super::writes::apply(sql, worker, op, now).await?;
            if request.is_some() {
                delete_request(sql, run).await?;
            }
            Ok(outcome)
        }
        AtCommit::Cancel => {
            cancel_now(sql, run, now).await?;
            tracing::info!(%run, "run cancelled at its commit; the commit is dropped");
            Ok(Outcome::Stopped {
                run,
                status: Status::Cancelled,
            })
        }
        AtCommit::Hold => {
            super::writes::apply(sql, worker, op, now).await?;
            hold_now(sql, run, now).await?;
            delete_request(sql, run).await?;
            tracing::info!(%run, "run paused after its commit");
            Ok(Outcome::Stopped {
                run,
                status: Status::Paused,
            })
        }
    }
}

async fn request(sql: Sql<'_, '_>, run: RunId) -> Result<Option<Request>, Error> {
    let row = sql
        .opt("SELECT request FROM requests WHERE run = $1", &[&rid(run)])
        .await?;
    Ok(row.map(|row| {
        let byte = u8::try_from(row.get::<_, i16>(0)).ok();
        Request::from_byte(byte.as_ref())
    }))
}

async fn put_request(sql: Sql<'_, '_>, run: RunId, request: Request) -> Result<(), Error> {
    sql.exec(
        "INSERT INTO requests (run, request) VALUES ($1, $2)
         ON CONFLICT (run) DO UPDATE SET request = EXCLUDED.request",
        &[&rid(run), &i16::from(request.to_byte())],
    )
    .await?;
    Ok(())
}

pub(super) async fn delete_request(sql: Sql<'_, '_>, run: RunId) -> Result<(), Error> {
    sql.exec("DELETE FROM requests WHERE run = $1", &[&rid(run)])
        .await?;
    Ok(())
}

pub(super) async fn cancel(sql: Sql<'_, '_>, run: RunId, now: u64) -> Result<(), Error> {
    let record = must_get(sql, run).await?;
    let request = request(sql, run).await?;
    match lifecycle::cancel(run, &record)? {
        Stop::Already => {}
        Stop::Now => {
            cancel_now(sql, run, now).await?;
            if record.status == Status::Pending || request.is_some() {
                put_request(sql, run, Request::Cancel).await?;
            }
        }
        Stop::AtNextCommit => put_request(sql, run, Request::Cancel).await?,
    }
    Ok(())
}

pub(super) async fn pause(sql: Sql<'_, '_>, run: RunId, now: u64) -> Result<(), Error> {
    let record = must_get(sql, run).await?;
    let request = request(sql, run).await?;
    match lifecycle::pause(run, &record)? {
        Stop::Already => {}
        Stop::Now => {
            hold_now(sql, run, now).await?;
            if record.status == Status::Pending {
                put_request(sql, run, Request::Pause).await?;
            }
        }
        Stop::AtNextCommit if request == Some(Request::Cancel) => {}
        Stop::AtNextCommit => put_request(sql, run, Request::Pause).await?,
    }
    Ok(())
}

pub(super) async fn unpause(sql: Sql<'_, '_>, run: RunId, now: u64) -> Result<Outcome, Error> {
    let mut record = must_get(sql, run).await?;
    let request = request(sql, run).await?;
    let was_paused = lifecycle::unpause(run, &mut record, request, now)?;
    if request == Some(Request::Pause) {
        delete_request(sql, run).await?;
    }
    if !was_paused {
        return Ok(Outcome::Done);
    }
    runs::put(sql, run, &record).await?;
    runs::set_active(sql, run).await?;
    Ok(Outcome::Record(Box::new(record)))
}

/// At a runtime's start: applies every stored request (their runs' tasks died with the
/// process that ran them) and empties the table.
pub(super) async fn settle_requests(
    sql: Sql<'_, '_>,
    worker: &Worker,
    now: u64,
) -> Result<(), Error> {
    // Only the requests of runs no other live worker holds: a run another worker runs meets
    // its request at its next commit there.
    let rows = sql
        .rows(
            &format!(
                "DELETE FROM requests q USING runs r
                 WHERE r.id = q.run
                   AND (r.owner IS NULL OR r.owner = $1 OR r.lease_until_ms < {NOW_MS})
                 RETURNING q.run, q.request"
            ),
            &[&worker.id],
        )
        .await?;
    // (Those rows are deleted before any cancel below: a cancel cancels the run's children
    // too, and a running child gets a request of its own, which its next commit meets.)
    for row in rows {
        let run = RunId(super::unbig(row.get(0)));
        let byte = u8::try_from(row.get::<_, i16>(1)).ok();
        let request = Request::from_byte(byte.as_ref());
        let Some(record) = runs::get_locked(sql, run).await? else {
            continue;
        };
        match (request, record.status) {
            (Request::Cancel, status) if !status.is_finished() => {
                cancel_now(sql, run, now).await?;
                tracing::info!(%run, "cancel requested while it ran: cancelled at start");
            }
            (Request::Pause, Status::Running | Status::Pending) => {
                hold_now(sql, run, now).await?;
                tracing::info!(%run, "pause requested while it ran: paused at start");
            }
            _ => {}
        }
    }
    sql.exec(
        "DELETE FROM requests q WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = q.run)",
        &[],
    )
    .await?;
    Ok(())
}

/// Cancels the run in this write: out of every index, its loop items and request dropped.
async fn cancel_now(sql: Sql<'_, '_>, run: RunId, now: u64) -> Result<(), Error> {
    let mut record = must_get(sql, run).await?;
    lifecycle::cancelled(&mut record, now);
    runs::put(sql, run, &record).await?;
    unindex_waiting(sql, run, record.transitions).await?;
    sql.exec(
        "UPDATE questions SET pending = false WHERE run = $1 AND position = $2",
        &[&rid(run), &big(record.transitions)],
    )
    .await?;
    sql.exec("DELETE FROM handed_over WHERE run = $1", &[&rid(run)])
        .await?;
    sql.exec("DELETE FROM loop_items WHERE run = $1", &[&rid(run)])
        .await?;
    delete_request(sql, run).await?;
    // Its children go with it (see `children.rs`).
    super::children::cancel_children(sql, run, now).await
}

/// Pauses the run in this write: out of the wake-up and answer indexes, its sleep and
/// question kept.
async fn hold_now(sql: Sql<'_, '_>, run: RunId, now: u64) -> Result<(), Error> {
    let mut record = must_get(sql, run).await?;
    lifecycle::hold(&mut record, now);
    runs::put(sql, run, &record).await?;
    unindex_waiting(sql, run, record.transitions).await
}

/// Takes the run out of the wake-up, answered and deadline indexes.
async fn unindex_waiting(sql: Sql<'_, '_>, run: RunId, position: u64) -> Result<(), Error> {
    sql.exec(
        "DELETE FROM wakeups WHERE run = $1
           AND wake_ms IN (SELECT wake_ms FROM sleeps WHERE run = $1 AND position = $2)",
        &[&rid(run), &big(position)],
    )
    .await?;
    sql.exec("DELETE FROM answered WHERE run = $1", &[&rid(run)])
        .await?;
    sql.exec(
        "DELETE FROM deadlines WHERE run = $1 AND position = $2",
        &[&rid(run), &big(position)],
    )
    .await?;
    Ok(())
}
