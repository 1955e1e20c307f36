//! Quarantined runs (see [`crate::quarantine`]) and the ways out, and deleting runs (a purge of
//! one quarantined or finished run, and of finished runs by policy).
//!
//! A quarantined run is listed as [`Status::Corrupt`] (its `status` column) and taken out of
//! the indexes the runtime reads, as on LMDB. The start-up check of LMDB's indexes has no
//! counterpart here: the database keeps its own tables consistent.

use super::error::encode_error;
use super::runs::{self, code, entry_of};
use super::sql::Sql;
use super::{PgStore, big, rid, unbig};
use crate::client::listing::RunFilter;
use crate::error::Error;
use crate::lifecycle;
use crate::quarantine::listed_status;
use crate::run::{RunId, RunStatus, Status};
use crate::store::RunRecord;

pub(super) async fn quarantine(
    sql: Sql<'_, '_>,
    run: RunId,
    reason: &str,
    now_ms: u64,
) -> Result<(), Error> {
    let entry = crate::quarantine::StoredEntry {
        reason: reason.to_owned(),
        since_ms: now_ms,
    };
    let bytes = crate::codec::seal_record(&entry, 32 + reason.len())
        .map_err(|e| encode_error("quarantine entry", e))?;
    sql.exec(
        "UPDATE runs SET status = $2 WHERE id = $1",
        &[&rid(run), &code(Status::Corrupt)],
    )
    .await?;
    sql.exec(
        "INSERT INTO quarantine (run, entry) VALUES ($1, $2)
         ON CONFLICT (run) DO UPDATE SET entry = EXCLUDED.entry",
        &[&rid(run), &bytes],
    )
    .await?;
    runs::unset_active(sql, run).await?;
    sql.exec("DELETE FROM answered WHERE run = $1", &[&rid(run)])
        .await?;
    Ok(())
}

async fn unquarantine(sql: Sql<'_, '_>, run: RunId) -> Result<bool, Error> {
    Ok(sql
        .exec("DELETE FROM quarantine WHERE run = $1", &[&rid(run)])
        .await?
        > 0)
}

pub(super) async fn release(sql: Sql<'_, '_>, run: RunId, now_ms: u64) -> Result<RunRecord, Error> {
    let record = runs::get_locked(sql, run).await;
    if runs::quarantine_entry(sql, run).await?.is_none() {
        let status = record?.map_or(Status::Pending, |r| r.status);
        return Err(Error::NotQuarantined { run, status });
    }
    let mut record = record?.ok_or(Error::UnknownRun { run })?;
    unquarantine(sql, run).await?;
    if lifecycle::release(&mut record, now_ms) {
        runs::put(sql, run, &record).await?;
        runs::set_active(sql, run).await?;
    } else {
        runs::put(sql, run, &record).await?;
    }
    Ok(record)
}

pub(super) async fn fail_quarantined(
    sql: Sql<'_, '_>,
    run: RunId,
    message: &str,
    now_ms: u64,
) -> Result<(), Error> {
    if runs::quarantine_entry(sql, run).await?.is_none() {
        let status = runs::must_get(sql, run).await?.status;
        return Err(Error::NotQuarantined { run, status });
    }
    unquarantine(sql, run).await?;
    super::writes::fail(sql, run, None, message, None, now_ms).await
}

pub(super) async fn purge(sql: Sql<'_, '_>, run: RunId) -> Result<(), Error> {
    let quarantined = runs::quarantine_entry(sql, run).await?.is_some();
    if !quarantined {
        let record = runs::must_get(sql, run).await?;
        if !record.status.is_finished() {
            return Err(Error::NotQuarantined {
                run,
                status: record.status,
            });
        }
    }
    delete_run(sql, run).await?;
    tracing::warn!(%run, quarantined, "run purged: every entry of it deleted");
    Ok(())
}

/// Deletes up to `limit` finished runs that `filter` selects, oldest finish first.
pub(super) async fn purge_finished(
    sql: Sql<'_, '_>,
    filter: &RunFilter,
    limit: usize,
) -> Result<u64, Error> {
    let finished: Vec<i32> = [Status::Completed, Status::Failed, Status::Cancelled]
        .into_iter()
        .filter(|s| filter.status.is_none_or(|wanted| wanted == *s))
        .map(code)
        .collect();
    let (from, to) = filter.finished;
    let (since, before) = filter.created;
    let rows = sql
        .rows(
            "SELECT id FROM runs
             WHERE finished_ms IS NOT NULL AND status = ANY($1)
               AND ($2::text IS NULL OR workflow = $2)
               AND ($3::bigint IS NULL OR finished_ms >= $3)
               AND ($4::bigint IS NULL OR finished_ms < $4)
               AND ($5::bigint IS NULL OR created_ms >= $5)
               AND ($6::bigint IS NULL OR created_ms < $6)
             ORDER BY finished_ms, id LIMIT $7 FOR UPDATE",
            &[
                &finished,
                &filter.workflow,
                &from.map(big),
                &to.map(big),
                &since.map(big),
                &before.map(big),
                &i64::try_from(limit).unwrap_or(i64::MAX),
            ],
        )
        .await?;
    for row in &rows {
        delete_run(sql, RunId(unbig(row.get(0)))).await?;
    }
    if !rows.is_empty() {
        tracing::debug!(purged = rows.len(), "finished runs purged");
    }
    Ok(rows.len() as u64)
}

/// Deletes every row of `run`, in every table.
async fn delete_run(sql: Sql<'_, '_>, run: RunId) -> Result<(), Error> {
    for statement in [
        "DELETE FROM runs WHERE id = $1",
        "DELETE FROM inputs WHERE run = $1",
        "DELETE FROM kv WHERE run = $1",
        "DELETE FROM history WHERE run = $1",
        "DELETE FROM sleeps WHERE run = $1",
        "DELETE FROM branches WHERE run = $1",
        "DELETE FROM loop_items WHERE run = $1",
        "DELETE FROM active WHERE run = $1",
        "DELETE FROM wakeups WHERE run = $1",
        "DELETE FROM questions WHERE run = $1",
        "DELETE FROM answered WHERE run = $1",
        "DELETE FROM deadlines WHERE run = $1",
        "DELETE FROM handed_over WHERE run = $1",
        "DELETE FROM quarantine WHERE run = $1",
        "DELETE FROM requests WHERE run = $1",
        "DELETE FROM unique_keys WHERE run = $1",
    ] {
        sql.exec(statement, &[&rid(run)]).await?;
    }
    super::events::delete_of(sql, run).await?;
    super::children::forget(sql, run).await?;
    super::queues::leave(sql, run).await?;
    Ok(())
}

/// A run as listed: its record's status, or [`Status::Corrupt`] with the reason if it is
/// quarantined or its record does not decode.
pub(super) fn listed(run: RunId, record: &[u8], quarantine: Option<&[u8]>) -> RunStatus {
    let reason = quarantine.map(|entry| entry_of(entry).reason);
    listed_status(run, PgStore::decode(run, record), reason)
}
