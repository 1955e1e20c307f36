//! Run records and what most writes share: reading a record (locked for the transaction),
//! writing it back with the columns that list it, allocating run ids, and the key-value state
//! and history that a transition appends.

use super::error::{corrupt, encode_error};
use super::sql::Sql;
use super::{PgStore, big, rid, unbig};
use crate::context::state::StateWrites;
use crate::error::Error;
use crate::history::HistoryRecord;
use crate::run::{RunId, Status};
use crate::store::RunRecord;
use crate::store::lmdb::listing::status_code;

/// The stored code of `status` (as LMDB's listing stores it).
pub(super) fn code(status: Status) -> i32 {
    i32::try_from(status_code(status)).unwrap_or(i32::MAX)
}

impl PgStore {
    pub(super) fn decode(run: RunId, bytes: &[u8]) -> Result<RunRecord, Error> {
        crate::codec::open_record(bytes).map_err(|e| corrupt(run, "run record", e))
    }
}

/// The run's record, if stored.
pub(super) async fn get(sql: Sql<'_, '_>, run: RunId) -> Result<Option<RunRecord>, Error> {
    let row = sql
        .opt("SELECT record FROM runs WHERE id = $1", &[&rid(run)])
        .await?;
    row.map(|row| PgStore::decode(run, row.get(0))).transpose()
}

/// The run's record, locked until the transaction ends, so that two writers of one run (a
/// worker's commit, a client's answer or cancel) apply one after the other.
pub(super) async fn get_locked(sql: Sql<'_, '_>, run: RunId) -> Result<Option<RunRecord>, Error> {
    let row = sql
        .opt(
            "SELECT record FROM runs WHERE id = $1 FOR UPDATE",
            &[&rid(run)],
        )
        .await?;
    row.map(|row| PgStore::decode(run, row.get(0))).transpose()
}

/// [`get_locked`], or [`Error::UnknownRun`].
pub(super) async fn must_get(sql: Sql<'_, '_>, run: RunId) -> Result<RunRecord, Error> {
    get_locked(sql, run).await?.ok_or(Error::UnknownRun { run })
}

/// `record` sealed without its input, which is stored once in `inputs` (`inputs.rs`).
pub(super) fn seal(record: &RunRecord) -> Result<Vec<u8>, Error> {
    crate::store::stored_record::seal(record, false).map_err(|e| Error::Encode {
        workflow: record.workflow.clone(),
        what: "run record",
        reason: e.to_string(),
    })
}

pub(super) fn finished_ms(record: &RunRecord) -> Option<i64> {
    record
        .status
        .is_finished()
        .then_some(big(record.updated_at_ms))
}

/// Writes `record` with its listing columns (a quarantined run stays listed as corrupt) and
/// moves its entry of the active index by its status.
pub(super) async fn put(sql: Sql<'_, '_>, run: RunId, record: &RunRecord) -> Result<(), Error> {
    sql.exec(
        "UPDATE runs SET record = $2, workflow = $3, finished_ms = $5,
             status = CASE WHEN EXISTS (SELECT 1 FROM quarantine q WHERE q.run = $1)
                           THEN status ELSE $4 END
         WHERE id = $1",
        &[
            &rid(run),
            &seal(record)?,
            &record.workflow,
            &code(record.status),
            &finished_ms(record),
        ],
    )
    .await?;
    if !record.input.is_empty() {
        // A record stored before the `inputs` table, with its input inline: moved there once.
        super::inputs::put(sql, run, &record.input).await?;
    }
    if record.status.is_finished() {
        super::queues::leave(sql, run).await?;
        super::children::child_finished(sql, run).await?;
        // A migrated run's original is kept until its next transition (`originals.rs`).
        super::originals::drop_original(sql, run).await?;
    }
    track_status(sql, run, record.status).await
}

/// Stores a new run (queued, if its workflow is in a queue).
pub(super) async fn insert(sql: Sql<'_, '_>, run: RunId, record: &RunRecord) -> Result<(), Error> {
    let queued = super::queues::enqueue(sql, run, record, 0).await?;
    let record = queued.as_ref().unwrap_or(record);
    sql.exec(
        "INSERT INTO runs (id, record, workflow, status, created_ms, finished_ms)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &rid(run),
            &seal(record)?,
            &record.workflow,
            &code(record.status),
            &big(record.created_at_ms),
            &finished_ms(record),
        ],
    )
    .await?;
    super::inputs::put(sql, run, &record.input).await?;
    track_status(sql, run, record.status).await
}

/// The active index follows the status as LMDB's does: a pending run is active, a finished or
/// paused one is not, and the other statuses leave it as the write that set them left it.
pub(super) async fn track_status(
    sql: Sql<'_, '_>,
    run: RunId,
    status: Status,
) -> Result<(), Error> {
    match status {
        Status::Pending => set_active(sql, run).await,
        Status::Completed
        | Status::Failed
        | Status::Cancelled
        | Status::Paused
        | Status::Queued => unset_active(sql, run).await,
        Status::Running | Status::Waiting | Status::Corrupt => Ok(()),
    }
}

pub(super) async fn set_active(sql: Sql<'_, '_>, run: RunId) -> Result<(), Error> {
    sql.exec(
        "INSERT INTO active (run) VALUES ($1) ON CONFLICT DO NOTHING",
        &[&rid(run)],
    )
    .await?;
    Ok(())
}

pub(super) async fn unset_active(sql: Sql<'_, '_>, run: RunId) -> Result<(), Error> {
    sql.exec("DELETE FROM active WHERE run = $1", &[&rid(run)])
        .await?;
    Ok(())
}

/// `count` (at least 1) consecutive new run ids: the first. The counter row is locked until
/// the transaction commits, so two writers never get the same ids, and a rolled-back
/// transaction gives its ids back unused (no run was stored under them).
pub(super) async fn allocate(sql: Sql<'_, '_>, count: u64) -> Result<RunId, Error> {
    let row = sql
        .one(
            "UPDATE meta SET value = GREATEST(value, (SELECT COALESCE(MAX(id), 0) + 1 FROM runs)) + $1
             WHERE key = 'next_run' RETURNING value - $1",
            &[&big(count)],
        )
        .await?;
    Ok(RunId(unbig(row.get(0))))
}

/// Stores `record` as a new run and returns its id.
pub(super) async fn create(sql: Sql<'_, '_>, record: &RunRecord) -> Result<RunId, Error> {
    let run = allocate(sql, 1).await?;
    insert(sql, run, record).await?;
    Ok(run)
}

/// Applies a transition's key-value writes.
pub(super) async fn apply_writes(
    sql: Sql<'_, '_>,
    run: RunId,
    writes: &StateWrites,
) -> Result<(), Error> {
    if writes.clear {
        sql.exec("DELETE FROM kv WHERE run = $1", &[&rid(run)])
            .await?;
    }
    for (name, value) in &writes.puts {
        match value {
            Some(value) => {
                sql.exec(
                    "INSERT INTO kv (run, key, value) VALUES ($1, $2, $3)
                     ON CONFLICT (run, key) DO UPDATE SET value = EXCLUDED.value",
                    &[&rid(run), name, value],
                )
                .await?;
            }
            None => {
                sql.exec(
                    "DELETE FROM kv WHERE run = $1 AND key = $2",
                    &[&rid(run), name],
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// Appends `record`, numbered `number`, after the run's last history entry.
pub(super) async fn append_history(
    sql: Sql<'_, '_>,
    run: RunId,
    number: u64,
    record: &HistoryRecord,
) -> Result<(), Error> {
    let mut record = record.clone();
    record.number = number;
    let hint = 64 + record.state.len() + record.step.as_ref().map_or(0, String::len);
    let bytes =
        crate::codec::seal_record(&record, hint).map_err(|e| encode_error("history record", e))?;
    sql.exec(
        "INSERT INTO history (run, seq, record)
         VALUES ($1, (SELECT COALESCE(MAX(seq) + 1, 0) FROM history WHERE run = $1), $2)",
        &[&rid(run), &bytes],
    )
    .await?;
    Ok(())
}

/// The quarantine entry of `run`, if it is quarantined (an entry that does not decode reads
/// as one that says so).
pub(super) async fn quarantine_entry(
    sql: Sql<'_, '_>,
    run: RunId,
) -> Result<Option<crate::quarantine::StoredEntry>, Error> {
    let row = sql
        .opt("SELECT entry FROM quarantine WHERE run = $1", &[&rid(run)])
        .await?;
    Ok(row.map(|row| entry_of(row.get(0))))
}

pub(super) fn entry_of(bytes: &[u8]) -> crate::quarantine::StoredEntry {
    crate::codec::open_record(bytes).unwrap_or_else(|e| crate::quarantine::StoredEntry {
        reason: format!("quarantine entry does not decode: {e}"),
        since_ms: 0,
    })
}
