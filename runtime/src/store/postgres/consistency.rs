//! The start-up check of the indexes on PostgreSQL
//! ([`Store::check_indexes`](crate::store::Store::check_indexes)): the tables the runtime
//! reads instead of the run records (`active`, `wakeups`, `answered`, `deadlines`) checked
//! against the runs, and repaired.
//!
//! No constraint of the schema ties these tables to the runs: each write keeps them in step
//! in its transaction, so a store written only by cairn never disagrees. What can still make
//! them disagree is outside a transaction's reach: a bug of some version, a hand edit, a
//! partial restore. A missing `active` row leaves a run never claimed by any worker, a
//! missing wake-up leaves a sleeping run never woken, silently. So, as on LMDB
//! (`lmdb/consistency.rs`), the entries each run must have are derived and compared:
//!
//! - removed: an entry of a run that does not exist, is quarantined, or whose listed status
//!   cannot have it (an `active` row of a run that is neither pending, running nor waiting;
//!   a wake-up, answer or deadline entry of a run that is not waiting), and a wake-up whose
//!   sleep is not stored;
//! - written back: the `active` row of every pending or running run not quarantined, and the
//!   wake-up of every waiting run whose sleep at its position is stored (the position read
//!   from the record of those runs only);
//! - counted again: the counts by status (`status_counts.rs`), if they differ from the runs'
//!   (triggers disabled for a while, say), and each run's guard counters (`run_guards.rs`),
//!   if they differ from the rare tables' rows.
//!
//! What LMDB checks and this does not: the answered and deadline entries of a waiting run are
//! not derived from its question (they are removed when stale, never written back), and
//! records are not decoded one by one (no quarantine here: a record that does not decode is
//! quarantined when a worker reads it, as on LMDB above `startup_check_limit`).
//!
//! Each step is one statement, in its own snapshot: in a store that agrees with itself no
//! statement changes anything, whatever other workers commit meanwhile (each of their
//! transactions changes a run and its entries together), so the check is safe while they
//! run. Its cost: one pass over `runs` (by its status index) and over each of the four tables,
//! one more over `runs` to compare the counts, and one over `runs` and the five rare tables to
//! compare the guard counters.

use super::runs::code;
use super::sql::Sql;
use super::{PgStore, unbig};
use crate::error::Error;
use crate::quarantine::CheckReport;
use crate::run::{RunId, Status};

/// The index tables whose entries may be stale, each with what else makes an entry stale
/// beyond [`stale_entries`]'s rule (a wake-up must match its sleep).
const STALE: [(&str, &str); 4] = [
    ("active", ""),
    (
        "wakeups",
        "OR NOT EXISTS (SELECT 1 FROM sleeps s
                        WHERE s.run = x.run AND s.position = x.position
                          AND s.wake_ms = x.wake_ms)",
    ),
    ("answered", ""),
    ("deadlines", ""),
];

/// Deletes the entries of `table` whose run cannot have them: missing, quarantined, or not in
/// one of the statuses `$1` (those a run with such an entry may have); or `also`.
fn stale_entries(table: &str, also: &str) -> String {
    format!(
        "DELETE FROM {table} x WHERE NOT EXISTS
             (SELECT 1 FROM runs r WHERE r.id = x.run AND r.status = ANY($1))
           OR EXISTS (SELECT 1 FROM quarantine q WHERE q.run = x.run)
           {also}"
    )
}

/// Pending and running runs without their `active` row.
const MISSING_ACTIVE: &str = "INSERT INTO active (run)
     SELECT r.id FROM runs r
     WHERE r.status = ANY($1)
       AND NOT EXISTS (SELECT 1 FROM active a WHERE a.run = r.id)
       AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.run = r.id)
     ON CONFLICT DO NOTHING
     RETURNING run";

/// Waiting runs with a stored sleep and no wake-up at its position: the candidates, whose
/// record tells whether the sleep is the one at the run's position.
const SLEEPS_WITHOUT_WAKEUP: &str = "SELECT r.id, r.record, s.position, s.wake_ms FROM runs r
     JOIN sleeps s ON s.run = r.id
     WHERE r.status = $1
       AND NOT EXISTS (SELECT 1 FROM wakeups w WHERE w.run = r.id AND w.position = s.position)
       AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.run = r.id)";

/// The wake-up of one candidate, written only if its run and sleep are still as read.
const WRITE_WAKEUP: &str = "INSERT INTO wakeups (wake_ms, run, position)
     SELECT $1, $2, $3
     WHERE EXISTS (SELECT 1 FROM runs r WHERE r.id = $2 AND r.status = $4 AND r.record = $5)
       AND EXISTS (SELECT 1 FROM sleeps s
                   WHERE s.run = $2 AND s.position = $3 AND s.wake_ms = $1)
     ON CONFLICT DO NOTHING";

impl PgStore {
    /// Checks the index tables against the runs and repairs them (see the module doc).
    pub(super) fn check_indexes_impl(&self) -> Result<CheckReport, Error> {
        let active: Vec<i32> = [Status::Pending, Status::Running, Status::Waiting]
            .into_iter()
            .map(code)
            .collect();
        let waiting = vec![code(Status::Waiting)];
        let runnable: Vec<i32> = [Status::Pending, Status::Running]
            .into_iter()
            .map(code)
            .collect();
        self.driver.run(|mut client| async move {
            let recounted = super::status_counts::check(&mut client).await?;
            let guards = super::run_guards::check(&mut client).await?;
            let sql = Sql::Conn(&client);
            let mut report = CheckReport {
                runs: count(
                    sql.one("SELECT count(*) FROM runs", &[])
                        .await?
                        .get::<_, i64>(0),
                ),
                reindexed: usize::from(recounted) + guards,
                ..CheckReport::default()
            };
            for (table, also) in STALE {
                let statuses = if table == "active" { &active } else { &waiting };
                let removed = count(sql.exec(&stale_entries(table, also), &[statuses]).await?);
                if removed > 0 {
                    tracing::warn!(table, removed, "removed index entries that match no run");
                    report.removed += removed;
                }
            }
            let written = sql.rows(MISSING_ACTIVE, &[&runnable]).await?;
            for row in &written {
                let run = RunId(unbig(row.get(0)));
                tracing::warn!(%run, "wrote back the active entry of a runnable run");
            }
            report.reindexed += written.len();
            report.reindexed += write_back_wakeups(sql, waiting[0]).await?;
            Ok(report)
        })
    }
}

/// Writes the missing wake-up of each waiting run whose stored sleep is the one at its
/// position; returns how many.
async fn write_back_wakeups(sql: Sql<'_, '_>, waiting: i32) -> Result<usize, Error> {
    let mut written = 0;
    for row in sql.rows(SLEEPS_WITHOUT_WAKEUP, &[&waiting]).await? {
        let run = RunId(unbig(row.get(0)));
        let bytes: Vec<u8> = row.get(1);
        let (position, wake_ms): (i64, i64) = (row.get(2), row.get(3));
        let record = match PgStore::decode(run, &bytes) {
            Ok(record) => record,
            Err(error) => {
                tracing::warn!(%run, %error, "a sleeping run's record does not decode");
                continue;
            }
        };
        if record.transitions != unbig(position) {
            continue; // a sleep the run has left: not its current one
        }
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
            [&wake_ms, &super::rid(run), &position, &waiting, &bytes];
        if sql.exec(WRITE_WAKEUP, &params).await? == 1 {
            tracing::warn!(%run, position, wake_ms, "wrote back the wake-up of a sleeping run");
            written += 1;
        }
    }
    Ok(written)
}

fn count<T: TryInto<usize>>(n: T) -> usize {
    n.try_into().unwrap_or(usize::MAX)
}
