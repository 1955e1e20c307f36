//! A new directory gets every table in its first write transaction, so that opening it costs
//! one commit (one data flush and one meta flush with full durability) instead of one per
//! feature's tables.
//!
//! Each feature opens its own tables in a write transaction of its own (`index`, `hitl`,
//! `listing`, ...): LMDB commits a transaction that created a table like any other, with two
//! device flushes under full durability, while one that found its tables already there
//! changed nothing and commits without writing or flushing (`mdb_txn_commit` returns early for
//! a transaction with no dirty page). Opening a new directory used to make 18 such commits
//! (measured with `strace`: 18 `fdatasync`s, 7-132 ms with full durability on the shared
//! benchmark disk). Creating them all up front makes the later opens find them.
//!
//! Only for a directory that had no format number yet (a new one): an older directory is
//! migrated by the features' own opens, which may build a table's contents in the
//! transaction that creates it. A name missing from [`TABLES`] costs one commit more, never
//! correctness; `tests::a_new_directory_is_created_in_one_commit` catches it.

use heed::types::Bytes;
use heed::{Database, DatabaseOpener, RwTxn, WithoutTls};

use crate::error::Error;

/// Every named table a writable open creates, besides `runs` and `meta`, which `env.rs`
/// creates itself.
pub(super) const TABLES: &[&str] = &[
    // env.rs
    "state",
    "history",
    "sleeps",
    "branches",
    // index.rs
    "wakeups",
    "active",
    // hitl.rs
    "questions",
    "pending",
    "sessions",
    "answered",
    "deadlines",
    // loop_items.rs
    "loop_items",
    // handover.rs
    "handed_over",
    // quarantine.rs
    "quarantine",
    // cancel.rs
    "requests",
    // listing.rs
    "listed",
    "by_status",
    "by_workflow",
    "finished",
    "status_counts",
    // workflows.rs, originals.rs
    "workflows",
    "migrated",
    // inputs.rs
    "inputs",
    // unique.rs
    "unique_keys",
    "unique_runs",
    // schedules.rs
    "schedule_ticks",
    // queues.rs
    "queues",
    "queue_runs",
    // children.rs
    "children",
    "parents",
    // events.rs
    "events",
    "event_waits",
    "attempts",
];

/// Creates every table of [`TABLES`] in `wtxn`, the first write transaction of a new
/// directory.
pub(super) fn create_tables<'e>(
    opener: &DatabaseOpener<'e, WithoutTls>,
    wtxn: &mut RwTxn<'e>,
) -> Result<(), Error> {
    for name in TABLES {
        let _: Database<'_, Bytes, Bytes> = opener.create_database(wtxn, Some(name))?;
    }
    Ok(())
}
