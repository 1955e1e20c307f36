//! Child workflows on PostgreSQL ([`Context::child`](crate::Context::child); the same rules as
//! `lmdb/children.rs`): the table `children (parent, position, slot) -> child`, written in the
//! transaction that stores the child's record, so a parent resumed after a crash finds the
//! child it started instead of starting a second one; indexed by child, so the write that
//! finishes a child finds its parent with one lookup.
//!
//! A parent waiting for its children is parked like a run waiting for an answer: waiting, out
//! of `active`. The write that finishes its last unfinished child at that await puts the
//! parent in `answered`, so the answer watcher of any worker claims and resumes it.
//!
//! Why the finishing write locks the parent's row: two children finishing at once in two
//! workers would otherwise each read the other as unfinished (neither commit is visible to the
//! other) and neither would wake the parent. With the parent's row locked, the second waits
//! for the first's commit and then reads it.

use std::future::Future;
use std::pin::Pin;

use super::leases::Worker;
use super::runs::{self, must_get};
use super::sql::Sql;
use super::{PgStore, big, rid, unbig};
use crate::error::Error;
use crate::lifecycle;
use crate::run::{RunId, Status};
use crate::store::RunRecord;
use crate::store::hitl::Claim;

/// The table, as a migration of `schema.rs`.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE children (parent bigint NOT NULL, position bigint NOT NULL, slot bigint NOT NULL,
    child bigint NOT NULL, PRIMARY KEY (parent, position, slot));
CREATE UNIQUE INDEX children_by_child ON children (child);
"#;

/// [`WriteOp::StartChild`](crate::store::WriteOp::StartChild): the child already started at
/// (`parent`, `position`, `slot`) and `false`, or a new run stored with `record`, recorded as
/// that child, and `true`, leased to this worker (the parent's runtime starts it).
pub(super) async fn start_child(
    sql: Sql<'_, '_>,
    worker: &Worker,
    parent: RunId,
    position: u64,
    slot: u32,
    record: &RunRecord,
) -> Result<(RunId, bool), Error> {
    // The parent must exist (a child of nobody would never be waited for), at the await that
    // starts the child (a stale task's start would add a child no await waits for); its row,
    // locked, also serializes two starts of one child.
    let at = must_get(sql, parent).await?.transitions;
    lifecycle::at_position(parent, at, position)?;
    let started = sql
        .opt(
            "SELECT c.child FROM children c JOIN runs r ON r.id = c.child
             WHERE c.parent = $1 AND c.position = $2 AND c.slot = $3",
            &[&rid(parent), &big(position), &i64::from(slot)],
        )
        .await?;
    if let Some(row) = started {
        return Ok((RunId(unbig(row.get(0))), false));
    }
    let child =
        super::writes::create_runs(sql, worker, std::slice::from_ref(record), false).await?;
    sql.exec(
        "INSERT INTO children (parent, position, slot, child) VALUES ($1, $2, $3, $4)
         ON CONFLICT (parent, position, slot) DO UPDATE SET child = EXCLUDED.child",
        &[&rid(parent), &big(position), &i64::from(slot), &rid(child)],
    )
    .await?;
    Ok((child, true))
}

/// Whether (`parent`, `position`) has children, and whether all of them have finished (a
/// purged child counts as finished: it is nothing to wait for).
async fn children_state(
    sql: Sql<'_, '_>,
    parent: RunId,
    position: u64,
) -> Result<Option<bool>, Error> {
    let rows = sql
        .rows(
            "SELECT c.child, r.record FROM children c LEFT JOIN runs r ON r.id = c.child
             WHERE c.parent = $1 AND c.position = $2",
            &[&rid(parent), &big(position)],
        )
        .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    for row in &rows {
        let child = RunId(unbig(row.get(0)));
        if let Some(bytes) = row.get::<_, Option<&[u8]>>(1)
            && !PgStore::decode(child, bytes)?.status.is_finished()
        {
            return Ok(Some(false));
        }
    }
    Ok(Some(true))
}

/// [`WriteOp::AwaitChildren`](crate::store::WriteOp::AwaitChildren): `false` (go on) if every
/// child at (`parent`, `position`) has finished, else the parent is parked and `true`.
pub(super) async fn await_children(
    sql: Sql<'_, '_>,
    parent: RunId,
    position: u64,
    now: u64,
) -> Result<bool, Error> {
    // Locked first: a child finishing meanwhile waits for this commit, then sees it parked.
    let mut record = must_get(sql, parent).await?;
    lifecycle::at_position(parent, record.transitions, position)?;
    if children_state(sql, parent, position).await? != Some(false) {
        return Ok(false);
    }
    lifecycle::wait(&mut record, now);
    runs::put(sql, parent, &record).await?;
    runs::unset_active(sql, parent).await?;
    Ok(true)
}

/// Whether `run` was started as a child of another run.
pub(super) async fn is_child(sql: Sql<'_, '_>, run: RunId) -> Result<bool, Error> {
    let row = sql
        .one(
            "SELECT EXISTS (SELECT 1 FROM children WHERE child = $1)",
            &[&rid(run)],
        )
        .await?;
    Ok(row.get(0))
}

/// Called by `runs::put` for every record written finished: if `run` is a child whose parent
/// waits at the await that started it, and it was the last unfinished child there, the
/// parent goes in `answered` for a worker's answer watcher to claim.
pub(super) async fn child_finished(sql: Sql<'_, '_>, run: RunId) -> Result<(), Error> {
    let Some(row) = sql
        .opt(
            "SELECT parent, position FROM children WHERE child = $1",
            &[&rid(run)],
        )
        .await?
    else {
        return Ok(());
    };
    let (parent, position) = (RunId(unbig(row.get(0))), unbig(row.get(1)));
    let Some(record) = runs::get_locked(sql, parent).await? else {
        return Ok(());
    };
    if record.status != Status::Waiting || record.transitions != position {
        // Running (it finds the output when it gets to the await), paused or finished.
        return Ok(());
    }
    if children_state(sql, parent, position).await? == Some(true) {
        sql.exec(
            "INSERT INTO answered (run, position) VALUES ($1, $2)
             ON CONFLICT (run) DO UPDATE SET position = EXCLUDED.position",
            &[&rid(parent), &big(position)],
        )
        .await?;
    }
    Ok(())
}

/// The claim of a run parked on its children ([`WriteOp::Claim`](crate::store::WriteOp::Claim)
/// from the answer watcher): `None` if it is not a waiting run with children at its position
/// (then the claim is a question's), else claimed (running, active again) when all have
/// finished, or left waiting (its stale `answered` row dropped) when not.
pub(super) async fn claim_parent(
    sql: Sql<'_, '_>,
    run: RunId,
    now: u64,
) -> Result<Option<Claim>, Error> {
    if runs::quarantine_entry(sql, run).await?.is_some() {
        return Ok(None);
    }
    let Some(mut record) = runs::get_locked(sql, run).await? else {
        return Ok(None);
    };
    if record.status != Status::Waiting {
        return Ok(None);
    }
    let Some(all_finished) = children_state(sql, run, record.transitions).await? else {
        return Ok(None);
    };
    sql.exec("DELETE FROM answered WHERE run = $1", &[&rid(run)])
        .await?;
    if !all_finished {
        return Ok(Some(Claim::Waiting));
    }
    lifecycle::go_on(&mut record, now);
    runs::put(sql, run, &record).await?;
    runs::set_active(sql, run).await?;
    Ok(Some(Claim::Claimed(Box::new(record))))
}

/// Cancels every unfinished child `parent` started (a cancel of the parent; a running child
/// gets a request its next commit meets, and cancels its own children then). Boxed: a cancel
/// of a child cancels its own children in turn.
pub(super) fn cancel_children<'a>(
    sql: Sql<'a, 'a>,
    parent: RunId,
    now: u64,
) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
    Box::pin(async move {
        let rows = sql
            .rows(
                "SELECT child FROM children WHERE parent = $1 ORDER BY position, slot",
                &[&rid(parent)],
            )
            .await?;
        for row in rows {
            let child = RunId(unbig(row.get(0)));
            match runs::get_locked(sql, child).await? {
                Some(record) if !record.status.is_finished() => {
                    super::cancel::cancel(sql, child, now).await?;
                }
                _ => {}
            }
        }
        Ok(())
    })
}

/// Drops `run`'s list of children when it is purged (the children themselves are runs of
/// their own, kept). Its own row as a child stays, as on LMDB: its parent still counts it,
/// purged, as a finished child.
pub(super) async fn forget(sql: Sql<'_, '_>, run: RunId) -> Result<(), Error> {
    sql.exec("DELETE FROM children WHERE parent = $1", &[&rid(run)])
        .await?;
    Ok(())
}

impl PgStore {
    /// [`Store::parent_of`](crate::store::Store::parent_of).
    pub(super) fn parent_of_impl(&self, run: RunId) -> Result<Option<(RunId, u64)>, Error> {
        self.driver.run(|client| async move {
            let row = Sql::Conn(&client)
                .opt(
                    "SELECT parent, position FROM children WHERE child = $1",
                    &[&rid(run)],
                )
                .await?;
            Ok(row.map(|row| (RunId(unbig(row.get(0))), unbig(row.get(1)))))
        })
    }

    /// [`Store::children_of`](crate::store::Store::children_of).
    pub(super) fn children_of_impl(&self, parent: RunId) -> Result<Vec<RunId>, Error> {
        self.driver.run(|client| async move {
            let rows = Sql::Conn(&client)
                .rows(
                    "SELECT child FROM children WHERE parent = $1 ORDER BY position, slot",
                    &[&rid(parent)],
                )
                .await?;
            Ok(rows.iter().map(|row| RunId(unbig(row.get(0)))).collect())
        })
    }
}
