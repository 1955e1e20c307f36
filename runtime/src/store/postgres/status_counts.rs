//! How many runs have each status, kept as runs change, so that a count
//! ([`Store::count_by_status`](crate::store::Store::count_by_status): the CLI's `counts`, a
//! dashboard's poll) reads a few rows instead of every run.
//!
//! Counting `runs` by its status index costs a pass over every run: measured at 1,000,000
//! runs, all in memory and vacuumed (an index-only scan, no heap fetch), 240–460 ms per count
//! on a loaded two-core machine, against 4–17 ms (median 7) for a count of the kept counts
//! below, interleaved. Here triggers on `runs` keep the counts in the transaction
//! of every change: an insert or a delete adds its rows' counts by status (one statement per
//! statement, from its transition table), and an update that changes a run's listed status
//! moves one from the old status to the new (a row trigger whose `WHEN` skips the updates that
//! keep the status: checkpoints of a running run cost nothing more). Triggers, not code in
//! each write, so that no write path (batched, one-statement, per op, purges, quarantine) can
//! miss one, and a transaction rolled back takes its counts with it.
//!
//! **No hot row, no long chain.** A counter row per status updated by every change would be
//! one row lock all workers' commits queue on (and one more lock in the lock order of
//! `leases.rs`); and a row updated again and again in one transaction (a batch completing
//! hundreds of runs) makes each update walk the versions the transaction left: measured,
//! 10,000 status changes in one statement took 5.7 s with such counters against 0.4 s
//! without. So a trigger only appends: each change adds rows to `run_count_changes` (the
//! old status -1, the new +1; an insert or delete its counts by status), which no other
//! transaction touches. A count is the sum of `run_counts` and the changes; once the changes
//! pass [`FOLD_PAST`] rows, a count first folds them into `run_counts` ([`FOLD`]: deleted and
//! added in one statement, so that a concurrent count sees them before or after, never twice;
//! two folds at once each move the rows they deleted). Measured with this: the same 10,000
//! changes took 0.40–1.17 s against 0.24–0.53 s without the trigger (three runs each,
//! interleaved, on a loaded machine), about 10–60 µs per status change; a checkpoint that
//! keeps its run's status costs nothing more.

use super::sql::Sql;
use super::unbig;
use crate::client::listing::StatusCounts;
use crate::error::Error;
use crate::store::lmdb::listing::status_of;

/// The tables, the triggers, and the counts of the runs stored before it (under a lock that
/// waits for the writers in progress and holds new ones until the migration commits, so that
/// every run is counted exactly once: by the backfill or by a trigger).
pub(super) const MIGRATION: &str = r#"
CREATE TABLE run_counts (status integer PRIMARY KEY, n bigint NOT NULL);
CREATE TABLE run_count_changes (status integer NOT NULL, n bigint NOT NULL);
LOCK TABLE runs IN SHARE ROW EXCLUSIVE MODE;
CREATE FUNCTION run_counts_inserted() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO run_count_changes (status, n)
        SELECT status, count(*) FROM new_runs GROUP BY status;
    RETURN NULL;
END $$;
CREATE FUNCTION run_counts_deleted() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO run_count_changes (status, n)
        SELECT status, -count(*) FROM old_runs GROUP BY status;
    RETURN NULL;
END $$;
CREATE FUNCTION run_counts_moved() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO run_count_changes (status, n) VALUES (OLD.status, -1), (NEW.status, 1);
    RETURN NULL;
END $$;
CREATE TRIGGER runs_counted_insert AFTER INSERT ON runs REFERENCING NEW TABLE AS new_runs
    FOR EACH STATEMENT EXECUTE FUNCTION run_counts_inserted();
CREATE TRIGGER runs_counted_delete AFTER DELETE ON runs REFERENCING OLD TABLE AS old_runs
    FOR EACH STATEMENT EXECUTE FUNCTION run_counts_deleted();
CREATE TRIGGER runs_counted_update AFTER UPDATE OF status ON runs FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION run_counts_moved();
INSERT INTO run_counts (status, n) SELECT status, count(*) FROM runs GROUP BY status;
"#;

/// Past this many rows of changes, a count first folds them into `run_counts`.
const FOLD_PAST: i64 = 1024;

/// The counts by status, and how many rows of changes they were summed from.
const COUNT: &str = "SELECT status, sum(n)::bigint, (SELECT count(*) FROM run_count_changes)
     FROM (SELECT status, n FROM run_counts
           UNION ALL SELECT status, n FROM run_count_changes) c
     GROUP BY status";

/// Moves the changes into `run_counts`.
const FOLD: &str = "WITH moved AS (DELETE FROM run_count_changes RETURNING status, n)
     INSERT INTO run_counts (status, n)
     SELECT status, sum(n) FROM moved GROUP BY status
     ON CONFLICT (status) DO UPDATE SET n = run_counts.n + EXCLUDED.n";

/// The kept counts, the changes folded first if there are many.
pub(super) async fn count(sql: Sql<'_, '_>) -> Result<StatusCounts, Error> {
    let mut rows = sql.rows(COUNT, &[]).await?;
    if rows
        .first()
        .is_some_and(|row| row.get::<_, i64>(2) > FOLD_PAST)
    {
        // A count is right without the fold: one that cannot write (a read-only role, a
        // standby) still answers.
        match sql.exec(FOLD, &[]).await {
            Ok(_) => rows = sql.rows(COUNT, &[]).await?,
            Err(error) => tracing::debug!(%error, "could not fold the run count changes"),
        }
    }
    let mut counts = StatusCounts::default();
    for row in rows {
        let code = u32::try_from(row.get::<_, i32>(0)).unwrap_or(u32::MAX);
        let n: i64 = row.get(1);
        if let Some(status) = status_of(code)
            && n > 0
        {
            counts.counts.insert(code, (status, unbig(n)));
        }
    }
    Ok(counts)
}

/// The statuses whose kept count differs from the runs, read in one snapshot: none while the
/// triggers stand (what the start-up check looks at, `consistency.rs`).
const DISAGREE: &str = "SELECT coalesce(r.status, c.status) FROM
         (SELECT status, count(*) AS n FROM runs GROUP BY status) r
     FULL JOIN (SELECT status, sum(n) AS n FROM (SELECT status, n FROM run_counts
                UNION ALL SELECT status, n FROM run_count_changes) k GROUP BY status) c
         ON c.status = r.status
     WHERE coalesce(r.n, 0) <> coalesce(c.n, 0)";

/// Checks the kept counts against the runs and, if they disagree (the triggers disabled for
/// a while, a hand edit, a partial restore), counts again under a lock that holds writers
/// off meanwhile. Returns whether they were counted again.
pub(super) async fn check(client: &mut deadpool_postgres::Object) -> Result<bool, Error> {
    let wrong = Sql::Conn(client).rows(DISAGREE, &[]).await?;
    if wrong.is_empty() {
        return Ok(false);
    }
    let statuses: Vec<String> = wrong
        .iter()
        .map(|row| {
            let code = u32::try_from(row.get::<_, i32>(0)).unwrap_or(u32::MAX);
            status_of(code).map_or_else(|| code.to_string(), |status| status.to_string())
        })
        .collect();
    tracing::warn!(
        ?statuses,
        "run counts disagree with the runs: counting them again"
    );
    let tx = client.transaction().await.map_err(super::error::pg_error)?;
    tx.batch_execute(
        "LOCK TABLE runs IN SHARE ROW EXCLUSIVE MODE;
         DELETE FROM run_count_changes;
         DELETE FROM run_counts;
         INSERT INTO run_counts (status, n) SELECT status, count(*) FROM runs GROUP BY status;",
    )
    .await
    .map_err(super::error::pg_error)?;
    tx.commit().await.map_err(super::error::pg_error)?;
    Ok(true)
}
