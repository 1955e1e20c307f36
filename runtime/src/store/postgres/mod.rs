//! The PostgreSQL [`Store`](crate::store::Store): many worker processes, on one host or many,
//! sharing the runs of one database (feature `postgres`).
//!
//! Layout (every table in the schema the user names, [`PostgresOptions::schema`]; created and
//! migrated by `schema.rs`): `runs` holds each run's sealed [`RunRecord`] (postcard in the
//! envelope of [`crate::codec`], as LMDB stores it) next to the columns that list it (status,
//! workflow, creation and finish times); `kv`, `history`, `sleeps`, `branches`, `loop_items`
//! and `questions` are keyed by run first, like LMDB's tables; `active`, `wakeups`,
//! `answered`, `deadlines`, `handed_over`, `requests` and `quarantine` are the same indexes
//! and tables LMDB keeps, so that both backends follow one set of run rules
//! ([`crate::lifecycle`]) write for write.
//!
//! The [`Store`](crate::store::Store) trait is synchronous; the driver (`tokio-postgres` with
//! a `deadpool-postgres` pool) is async. `connect.rs` runs it on a small tokio runtime the
//! store owns and blocks the calling thread on each answer. One [`Store::write`] is one
//! transaction on one connection: the group committer's batch, so concurrent transitions of
//! a worker share one commit (and one WAL flush).
//!
//! Files: `options.rs` how a runtime or client opens it, `connect.rs` the pool and the bridge
//! from sync calls to the driver, `sql.rs` prepared statements on a connection or in a
//! transaction, `schema.rs` the tables and their migration, `error.rs` the driver's errors as
//! cairn's, `runs.rs` records and what every write shares, `reads.rs` the reads, `writes.rs`
//! the write entry and the transitions, `pipeline.rs` statements sent together and the error
//! that caused their failure, `batch.rs` the transitions of a batch in set-based
//! statements, `one_trip.rs` the usual transitions in one statement, `bare_position.rs`
//! which of them may leave out dropping a sleep and branch outputs, `hitl.rs` questions and sessions, `cancel.rs` cancel
//! and pause, `quarantine.rs` quarantined runs and purges, `listing.rs` listing and counting, `status_counts.rs` the counts by status, `run_guards.rs` the counters the one statement
//! guards on,
//! `workflows.rs` state graphs, `unique.rs` unique keys, `handover.rs` runs handed over by
//! client-only processes, `leases.rs` which worker runs which run (leases, heartbeat,
//! take-over, fencing), `let_go.rs` and `held_sweep.rs` how it forgets the runs it has no
//! more use for, `lost_leases.rs` every lost lease of a refused batch at once,
//! `notify.rs` `LISTEN/NOTIFY`, `events.rs` events and step attempts,
//! `children.rs` child workflows, `consistency.rs` the start-up check of the index tables,
//! `schedules.rs` schedule ticks, `queues.rs` queues with
//! limits.
//!
//! [`Store::write`]: crate::store::Store::write
//! [`RunRecord`]: crate::store::RunRecord

mod bare_position;
mod batch;
mod cancel;
mod children;
mod committing;
mod connect;
mod consistency;
mod error;
mod events;
mod handover;
mod held_sweep;
mod hitl;
mod inputs;
mod leases;
mod let_go;
mod listing;
mod lost_leases;
mod notify;
mod one_trip;
pub(crate) mod options;
mod originals;
mod pipeline;
mod quarantine;
mod queues;
mod reads;
mod run_guards;
mod runs;
mod schedules;
mod schema;
mod sql;
mod status_counts;
mod unique;
mod workflows;
mod writes;

pub use options::PostgresOptions;

/// Statements whose plans `tests/postgres_batch_plan.rs` asks the server for. Not public API.
#[doc(hidden)]
pub mod planned {
    /// The group committer's statement for a batch of checkpoints of running runs.
    pub fn usual_checkpoints() -> &'static str {
        super::one_trip::usual_checkpoints_statement()
    }

    /// A worker's claim of the runs after an id (`$1`); its other parameters are those of
    /// `leases::claim_statement`.
    pub fn claim() -> String {
        super::leases::claim_statement("a.run > $1", "SKIP LOCKED")
    }
}

use crate::run::RunId;

/// Runs stored in one schema of a PostgreSQL database.
pub(crate) struct PgStore {
    driver: connect::Driver,
    /// This process as a worker: its id and the leases it holds.
    worker: std::sync::Arc<leases::Worker>,
    /// The schema's notification channel (`notify.rs`).
    channel: String,
    /// What the listener calls, once the runtime registered it.
    waker: notify::Waker,
    /// The schema's instance id (see [`Store::instance_id`](crate::store::Store::instance_id)),
    /// made when the schema was created.
    instance: u64,
    /// The last record this worker committed for each run it runs (`one_trip.rs`).
    known: one_trip::Known,
}

/// A `u64` (run id, position, milliseconds) as PostgreSQL's `bigint`. Run ids, positions and
/// times stay far below `i64::MAX`; a larger value (a sleep "forever") is kept at the top of
/// the range, where it still sorts last.
pub(super) fn big(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A stored `bigint` back as a `u64` (negative values are never written).
pub(super) fn unbig(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A run id as stored.
pub(super) fn rid(run: RunId) -> i64 {
    big(run.0)
}

/// A fingerprint as stored: its 64 bits reinterpreted (only compared for equality).
pub(super) fn fingerprint(value: u64) -> i64 {
    i64::from_ne_bytes(value.to_ne_bytes())
}
