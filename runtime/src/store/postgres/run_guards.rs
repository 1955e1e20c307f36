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
//! writers until it commits.

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
