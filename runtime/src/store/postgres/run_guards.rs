//! Two counters on each `runs` row that say whether something rare names the run, kept by
//! triggers, so that the one statement (`one_trip.rs`) guards each row with a column of the
//! row itself instead of looking in five other tables:
//!
//! - `rare_rows`: the rows of `requests` (a cancel or pause), `quarantine` and `migrated` (a
//!   kept original) naming the run. A checkpoint of a run with any goes the usual way.
//! - `end_ties`: the rows of `queue_runs` (a queue slot) and `children` (the run as a child)
//!   naming the run: what the end of the run must free or tell. A completion of a run with
//!   any goes the usual way.
//!
//! Each `NOT EXISTS` guard of the one statement opened its table and index at every
//! execution; the counters cost nothing on the transition path. They are written only when
//! those rare tables are: by a constraint trigger deferred to the commit of the transaction
//! that wrote them, when the run's row exists whichever order that transaction wrote in (a
//! child's `children` row and its run are written together). An increment or decrement
//! waits for the row's lock and applies to its newest version, so concurrent writers never
//! lose a count, and a one statement waiting for that lock re-checks its guard on the row
//! the writer committed. Every writer of those tables is counted, whatever build it is: the
//! triggers are the schema's.
//!
//! The migration fills the counters from the rows present, with those tables locked against
//! writers until it commits. A counter too low would let the one statement write past a
//! cancel or a parent to tell; the start-up check ([`check`]) counts again where they
//! disagree with the tables (triggers disabled for a while, say, or a hand edit).

use super::sql::Sql;
use crate::error::Error;

/// What each run's counters should be, for the runs that any rare table names.
const EXPECTED: &str = "expected AS (
     SELECT run, sum(rare)::integer AS rare, sum(ties)::integer AS ties
     FROM (SELECT run, 1 AS rare, 0 AS ties FROM requests
           UNION ALL SELECT run, 1, 0 FROM quarantine
           UNION ALL SELECT run, 1, 0 FROM migrated
           UNION ALL SELECT run, 0, 1 FROM queue_runs
           UNION ALL SELECT child, 0, 1 FROM children) rows
     GROUP BY run)";

/// The runs whose counters disagree with the tables, with what they should be.
fn disagreeing() -> String {
    format!(
        "WITH {EXPECTED}
         SELECT r.id, COALESCE(e.rare, 0) AS rare, COALESCE(e.ties, 0) AS ties
         FROM runs r LEFT JOIN expected e ON e.run = r.id
         WHERE r.rare_rows <> COALESCE(e.rare, 0) OR r.end_ties <> COALESCE(e.ties, 0)"
    )
}

/// Counts again the counters that disagree with the tables; how many runs it corrected.
///
/// The first look takes no lock: a transaction writes a rare row and its counter together
/// (the trigger runs at its commit), so one snapshot sees both or neither, and a store that
/// agrees with itself is left alone. Runs that disagree are corrected with the rare tables
/// locked against writers, from a snapshot taken after the lock.
pub(super) async fn check(client: &mut deadpool_postgres::Object) -> Result<usize, Error> {
    let query = format!("SELECT count(*) FROM ({}) wrong", disagreeing());
    let wrong: i64 = Sql::Conn(client).one(&query, &[]).await?.get(0);
    if wrong == 0 {
        return Ok(0);
    }
    let tx = client.transaction().await.map_err(super::error::pg_error)?;
    tx.batch_execute(
        "LOCK TABLE requests, quarantine, migrated, queue_runs, children
             IN SHARE ROW EXCLUSIVE MODE",
    )
    .await
    .map_err(super::error::pg_error)?;
    let corrected = tx
        .query(
            &format!(
                "WITH wrong AS ({})
                 UPDATE runs r SET rare_rows = w.rare, end_ties = w.ties
                 FROM wrong w WHERE r.id = w.id
                 RETURNING r.id",
                disagreeing()
            ),
            &[],
        )
        .await
        .map_err(super::error::pg_error)?;
    tx.commit().await.map_err(super::error::pg_error)?;
    for row in &corrected {
        let run = crate::run::RunId(super::unbig(row.get(0)));
        tracing::warn!(%run, "the run's guard counters disagreed with its rows: counted again");
    }
    Ok(corrected.len())
}

pub(super) const MIGRATION: &str = r#"
LOCK TABLE requests, quarantine, migrated, queue_runs, children IN SHARE ROW EXCLUSIVE MODE;
ALTER TABLE runs ADD COLUMN rare_rows integer NOT NULL DEFAULT 0,
    ADD COLUMN end_ties integer NOT NULL DEFAULT 0;
CREATE FUNCTION rare_rows_counted() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE runs SET rare_rows = rare_rows - 1 WHERE id = OLD.run;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE runs SET rare_rows = rare_rows + 1 WHERE id = NEW.run;
    END IF;
    RETURN NULL;
END $$;
CREATE FUNCTION queue_slot_counted() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE runs SET end_ties = end_ties - 1 WHERE id = OLD.run;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE runs SET end_ties = end_ties + 1 WHERE id = NEW.run;
    END IF;
    RETURN NULL;
END $$;
CREATE FUNCTION parent_counted() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE runs SET end_ties = end_ties - 1 WHERE id = OLD.child;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE runs SET end_ties = end_ties + 1 WHERE id = NEW.child;
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER requests_counted AFTER INSERT OR DELETE OR UPDATE OF run ON requests
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION rare_rows_counted();
CREATE CONSTRAINT TRIGGER quarantine_counted AFTER INSERT OR DELETE OR UPDATE OF run
    ON quarantine DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION rare_rows_counted();
CREATE CONSTRAINT TRIGGER migrated_counted AFTER INSERT OR DELETE OR UPDATE OF run ON migrated
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION rare_rows_counted();
CREATE CONSTRAINT TRIGGER queue_runs_counted AFTER INSERT OR DELETE OR UPDATE OF run
    ON queue_runs DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION queue_slot_counted();
CREATE CONSTRAINT TRIGGER children_counted AFTER INSERT OR DELETE OR UPDATE OF child
    ON children DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION parent_counted();
UPDATE runs r SET rare_rows = c.n
FROM (SELECT run, count(*)::integer AS n
      FROM (SELECT run FROM requests UNION ALL SELECT run FROM quarantine
            UNION ALL SELECT run FROM migrated) rare
      GROUP BY run) c
WHERE r.id = c.run;
UPDATE runs r SET end_ties = c.n
FROM (SELECT run, count(*)::integer AS n
      FROM (SELECT run FROM queue_runs UNION ALL SELECT child FROM children) ties
      GROUP BY run) c
WHERE r.id = c.run;
"#;
