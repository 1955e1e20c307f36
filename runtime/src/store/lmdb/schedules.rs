//! The `schedule_ticks` table of the LMDB backend: for each schedule (by name), the last tick
//! handled, as big-endian milliseconds since the Unix epoch. Behind
//! [`WriteOp::ScheduleTick`](crate::store::WriteOp::ScheduleTick), which reads and moves it
//! in the same write transaction that starts the tick's run, so that a tick is handled once
//! whoever handles it: a restart racing the tick, a client-only process and a runtime, or
//! (on a shared backend) several workers.
//!
//! A tick's run is also a unique start (`unique.rs`), keyed by the schedule and the tick's
//! time, so the run of a tick handled already is found again by its key.
//!
//! A directory written before this table gets it, empty, on open (every schedule then starts
//! afresh); a read-only open of such a directory reads it as empty.

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, RwTxn, WithoutTls};

use super::{LmdbStore, be_u64};
use crate::error::Error;
use crate::store::{Outcome, RunRecord};

/// Number of LMDB databases opened here.
pub(super) const DATABASES: u32 = 1;

const NAME: &str = "schedule_ticks";

type Db = Database<'static, Bytes, Bytes>;

pub(super) struct Table {
    /// `None` only in a read-only open of a directory from before the table.
    ticks: Option<Db>,
}

impl Table {
    /// Opens (creating if needed) the table, in its own write transaction.
    pub(super) fn open(env: &Env<WithoutTls>) -> Result<Table, Error> {
        let wtxn = env.write_txn()?;
        let db = env
            .create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, Error> {
                let db: Database<'_, Bytes, Bytes> = opener.create_database(wtxn, Some(NAME))?;
                Ok(CommitOrAbort::<_, ()>::Commit(db))
            })?
            .unwrap_commit();
        Ok(Table { ticks: Some(db) })
    }

    /// Opens the table of a directory opened read-only, if it has one.
    pub(super) fn open_existing(env: &Env<WithoutTls>) -> Result<Table, Error> {
        let rtxn = env.read_txn()?;
        let db = env
            .open_databases_and_commit(rtxn, |opener, rtxn| -> Result<_, Error> {
                let db: Option<Database<'_, Bytes, Bytes>> =
                    opener.open_database(rtxn, Some(NAME))?;
                Ok(CommitOrAbort::<_, ()>::Commit(db))
            })?
            .unwrap_commit();
        Ok(Table { ticks: db })
    }

    fn writable(&self) -> Result<Db, Error> {
        self.ticks.ok_or_else(|| {
            Error::from(std::io::Error::other(
                "the schedule table is missing from a store opened for writing",
            ))
        })
    }
}

/// The unique key a tick's run is started with: per workflow, like every unique key, and
/// spelled so that a user's own keys (`Client::start_unique`) are unlikely to meet it.
pub(crate) fn tick_key(schedule: &str, tick_ms: u64) -> String {
    format!("cairn-schedule:{schedule}@{tick_ms}")
}

impl LmdbStore {
    /// [`Store::last_tick`](crate::store::Store::last_tick).
    pub(super) fn last_tick_impl(&self, schedule: &str) -> Result<Option<u64>, Error> {
        let Some(db) = self.schedules.ticks else {
            return Ok(None);
        };
        let txn = self.env.read_txn()?;
        Ok(db.get(&txn, schedule.as_bytes())?.and_then(be_u64))
    }

    /// [`WriteOp::ScheduleTick`](crate::store::WriteOp::ScheduleTick) inside `txn`.
    pub(super) fn schedule_tick_in(
        &self,
        txn: &mut RwTxn<'_>,
        schedule: &str,
        tick_ms: u64,
        record: Option<&RunRecord>,
        hand_over: bool,
    ) -> Result<Outcome, Error> {
        let db = self.schedules.writable()?;
        let last = db.get(txn, schedule.as_bytes())?.and_then(be_u64);
        if last.is_some_and(|last| last >= tick_ms) {
            // Handled already (by a restart, another process, another worker): its run, if
            // it started one, is bound to the tick's key.
            return Ok(match record {
                Some(record) => self
                    .unique_run_in(txn, &record.workflow, &tick_key(schedule, tick_ms))?
                    .map_or(Outcome::Done, Outcome::Existing),
                None => Outcome::Done,
            });
        }
        db.put(txn, schedule.as_bytes(), &tick_ms.to_be_bytes())?;
        let Some(record) = record else {
            return Ok(Outcome::Done);
        };
        let key = tick_key(schedule, tick_ms);
        Ok(match self.create_unique_in(txn, &key, record, hand_over)? {
            (run, true) => Outcome::Created(run),
            (run, false) => Outcome::Existing(run),
        })
    }
}
