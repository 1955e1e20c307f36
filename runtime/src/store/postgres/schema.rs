//! The tables cairn owns in the user's schema, created and migrated at open.
//!
//! Every open (runtime or client) runs [`migrate`] in one transaction that first takes a
//! transaction-scoped advisory lock named after the schema, so that ten workers starting at
//! once on an empty database create it once: the first one creates, the others wait for its
//! commit, then find the version up to date. The version is a row of `meta`; each entry of
//! [`MIGRATIONS`] brings the schema from its index to the next version, and a schema newer
//! than this build is refused with [`Error::UnsupportedFormat`].

use super::connect::PgResult;
use crate::error::Error;

/// The schema version this build writes.
pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The DDL of each version, in order: `MIGRATIONS[n]` goes from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE runs (
    id bigint PRIMARY KEY,
    -- The sealed `RunRecord` (postcard in cairn's envelope, with its checksum).
    record bytea NOT NULL,
    workflow text NOT NULL,
    -- The status code it is listed under (`Corrupt` while quarantined).
    status integer NOT NULL,
    created_ms bigint NOT NULL,
    finished_ms bigint
);
CREATE INDEX runs_by_status ON runs (status, id);
CREATE INDEX runs_by_workflow ON runs (workflow, id);
CREATE INDEX runs_by_finish ON runs (finished_ms, id) WHERE finished_ms IS NOT NULL;
CREATE TABLE kv (run bigint NOT NULL, key text NOT NULL, value bytea NOT NULL,
    PRIMARY KEY (run, key));
CREATE TABLE history (run bigint NOT NULL, seq bigint NOT NULL, record bytea NOT NULL,
    PRIMARY KEY (run, seq));
CREATE TABLE sleeps (run bigint NOT NULL, position bigint NOT NULL, wake_ms bigint NOT NULL,
    started_ms bigint NOT NULL, PRIMARY KEY (run, position));
CREATE TABLE branches (run bigint NOT NULL, position bigint NOT NULL, idx bigint NOT NULL,
    output bytea NOT NULL, PRIMARY KEY (run, position, idx));
CREATE TABLE loop_items (run bigint NOT NULL, position bigint NOT NULL, seq bigint NOT NULL,
    idx bigint NOT NULL, item bytea NOT NULL, PRIMARY KEY (run, position, seq, idx));
CREATE TABLE active (run bigint PRIMARY KEY);
CREATE TABLE wakeups (wake_ms bigint NOT NULL, run bigint NOT NULL, position bigint NOT NULL,
    PRIMARY KEY (wake_ms, run));
CREATE INDEX wakeups_by_run ON wakeups (run);
CREATE TABLE questions (run bigint NOT NULL, position bigint NOT NULL, question bytea NOT NULL,
    pending boolean NOT NULL, PRIMARY KEY (run, position));
CREATE INDEX questions_pending ON questions (run, position) WHERE pending;
CREATE TABLE answered (run bigint PRIMARY KEY, position bigint NOT NULL);
CREATE TABLE deadlines (deadline_ms bigint NOT NULL, run bigint NOT NULL,
    position bigint NOT NULL, PRIMARY KEY (deadline_ms, run));
CREATE INDEX deadlines_by_run ON deadlines (run);
CREATE TABLE sessions (session text NOT NULL, run bigint NOT NULL, PRIMARY KEY (session, run));
CREATE TABLE handed_over (run bigint PRIMARY KEY, position bigint NOT NULL);
CREATE TABLE quarantine (run bigint PRIMARY KEY, entry bytea NOT NULL);
CREATE TABLE requests (run bigint PRIMARY KEY, request smallint NOT NULL);
CREATE TABLE workflows (name text NOT NULL, fingerprint bigint NOT NULL, graph bytea NOT NULL,
    PRIMARY KEY (name, fingerprint));
CREATE TABLE unique_keys (workflow text NOT NULL, key text NOT NULL, run bigint NOT NULL,
    PRIMARY KEY (workflow, key));
CREATE INDEX unique_keys_by_run ON unique_keys (run);
"#,
    r#"
-- Leases (`leases.rs`): the worker that runs the run, the epoch it took it at, and until
-- when (the server's clock, in milliseconds) its lease lasts without a heartbeat.
ALTER TABLE runs ADD COLUMN owner text, ADD COLUMN epoch bigint NOT NULL DEFAULT 0,
    ADD COLUMN lease_until_ms bigint;
CREATE INDEX runs_by_owner ON runs (owner) WHERE owner IS NOT NULL AND finished_ms IS NULL;
"#,
    super::events::MIGRATION,
    super::children::MIGRATION,
    super::schedules::MIGRATION,
    super::queues::MIGRATION,
    super::originals::MIGRATION,
    super::inputs::MIGRATION,
    r#"
-- Room on each page of `runs` for the next version of its rows: a checkpoint changes no
-- indexed column, so its update stays on the row's page without new index entries (a HOT
-- update) as long as the page has room, instead of one new entry in each of the table's
-- five indexes per transition. Applies to pages written from now on.
ALTER TABLE runs SET (fillfactor = 50);
"#,
    super::status_counts::MIGRATION,
    super::run_guards::MIGRATION,
    r#"
-- No index on `owner`: no statement looks runs up by their owner (the heartbeat renews the
-- leases of a list of run ids, by key), and the index made every update that sets an owner
-- (a claim, a take-over, a run released for another worker) a non-HOT one, with a new entry
-- in each of the table's indexes. Measured on 1,000 runs-like rows with cairn's indexes:
-- claiming them took 5.7-6.0 ms with the index, 1.1-1.4 ms without.
DROP INDEX IF EXISTS runs_by_owner;
"#,
];

/// Whether `name` is a plain lower-case SQL identifier, which needs no quoting anywhere
/// (`search_path`, `CREATE SCHEMA`, the advisory lock's name).
pub(super) fn valid_schema_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

/// Creates or brings up to date the tables of `schema` and returns its instance id.
pub(super) async fn migrate(
    client: &mut deadpool_postgres::Object,
    schema: &str,
) -> Result<u64, Error> {
    let tx = client.transaction().await.pg()?;
    // Serializes every opener of this schema until this transaction ends.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('cairn schema ' || $1::text))",
        &[&schema],
    )
    .await
    .pg()?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {schema}.meta (key text PRIMARY KEY, value bigint NOT NULL);"
    ))
    .await
    .pg()?;
    let found: i64 = tx
        .query_opt("SELECT value FROM meta WHERE key = 'schema_version'", &[])
        .await
        .pg()?
        .map_or(0, |row| row.get(0));
    if found > SCHEMA_VERSION {
        return Err(Error::UnsupportedFormat {
            found: u32::try_from(found).unwrap_or(u32::MAX),
            expected: SCHEMA_VERSION as u32,
        });
    }
    for (version, ddl) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        tx.batch_execute(ddl).await.pg()?;
        tracing::info!(schema, version = version + 1, "PostgreSQL schema migrated");
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', $1)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        &[&SCHEMA_VERSION],
    )
    .await
    .pg()?;
    // Run ids start at 1 and are never reused (see `runs.rs`).
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('next_run', 1) ON CONFLICT (key) DO NOTHING",
        &[],
    )
    .await
    .pg()?;
    // Random bits from the server, not a clock: only their difference between schemas counts.
    tx.execute(
        "INSERT INTO meta (key, value)
         VALUES ('instance_id', (random() * 9223372036854775807)::bigint)
         ON CONFLICT (key) DO NOTHING",
        &[],
    )
    .await
    .pg()?;
    let instance: i64 = tx
        .query_one("SELECT value FROM meta WHERE key = 'instance_id'", &[])
        .await
        .pg()?
        .get(0);
    tx.commit().await.pg()?;
    Ok(super::unbig(instance))
}
