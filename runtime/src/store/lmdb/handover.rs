//! Runs handed over by client-only processes to the runtime that runs the workflows.
//!
//! A client-only process ([`RuntimeBuilder::client_only`](crate::RuntimeBuilder::client_only))
//! stores a new run, or reopens a failed one, but runs nothing, and LMDB cannot notify another
//! process. So it also writes an entry here, `run -> position` (big-endian; the run's
//! committed transitions when it was handed over). A running runtime's watcher
//! ([`crate::runtime::answer_watcher`]) reads the first entries at every poll, with the answer indexes: one
//! read transaction on an empty table while nothing is handed over. Entries found are taken
//! (deleted in one write transaction) and each run is started unless it is live in that
//! runtime already or has moved on since it was handed over
//! ([`Shared::start_handed_over`](crate::runtime::Shared::start_handed_over)). Runs a runtime
//! starts itself never get an entry, so the poller never starts them a second time.
//!
//! A directory written before this table simply gets it, empty, on open: runs stored by an
//! older client are in the active index, which start-up reads.

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, WithoutTls};

use super::{LmdbStore, be_u64};
use crate::error::Error;
use crate::run::RunId;

/// Number of LMDB databases opened here.
pub(super) const DATABASES: u32 = 1;

pub(super) struct Table {
    pub(super) handed_over: Database<'static, Bytes, Bytes>,
}

impl Table {
    /// Opens (creating if needed) the table, in its own write transaction.
    pub(super) fn open(env: &Env<WithoutTls>) -> Result<Table, Error> {
        let wtxn = env.write_txn()?;
        let handed_over = env
            .create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, Error> {
                let db: Database<'_, Bytes, Bytes> =
                    opener.create_database(wtxn, Some("handed_over"))?;
                Ok(CommitOrAbort::<_, ()>::Commit(db))
            })?
            .unwrap_commit();
        Ok(Table { handed_over })
    }

    /// Opens the existing table of a directory opened read-only (see [`super::read_only`]).
    pub(super) fn open_existing(env: &Env<WithoutTls>) -> Result<Table, Error> {
        Ok(Table {
            handed_over: super::read_only::open_existing(env, "handed_over")?,
        })
    }
}

impl LmdbStore {
    /// [`WriteOp::HandOver`](crate::store::WriteOp::HandOver) inside `txn` (runs started in a
    /// batch are handed over in the transaction that stores them).
    pub(crate) fn hand_over_in(
        &self,
        txn: &mut heed::RwTxn<'_>,
        run: RunId,
        position: u64,
    ) -> Result<(), Error> {
        let table = self.handover.handed_over;
        table.put(txn, &run.0.to_be_bytes(), &position.to_be_bytes())?;
        Ok(())
    }

    /// Whether any run is handed over: the poll's usual case, none, costs a read only.
    pub(super) fn any_handed_over_impl(&self) -> Result<bool, Error> {
        let txn = self.env.read_txn()?;
        Ok(self.handover.handed_over.first(&txn)?.is_some())
    }

    /// [`WriteOp::TakeHandedOver`](crate::store::WriteOp::TakeHandedOver) inside `txn`.
    pub(super) fn take_handed_over_in(
        &self,
        txn: &mut heed::RwTxn<'_>,
        limit: usize,
    ) -> Result<Vec<(RunId, u64)>, Error> {
        let table = self.handover.handed_over;
        let mut taken = Vec::new();
        // Every key looked at is deleted, a damaged one too: left in place, `limit` of them
        // at the front of the table would hide every good entry behind them for good.
        let mut seen = Vec::new();
        for entry in table.iter(txn)?.take(limit) {
            let (run, position) = entry?;
            match (be_u64(run), be_u64(position)) {
                (Some(id), Some(position)) => taken.push((RunId(id), position)),
                _ => tracing::warn!(key = ?run, "damaged hand-over entry dropped"),
            }
            seen.push(run.to_vec());
        }
        for key in &seen {
            table.delete(txn, key)?;
        }
        Ok(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Damaged entries at the front of the table are dropped as they are met, so a good
    /// entry behind them is taken by a later poll instead of never.
    #[test]
    fn damaged_entries_do_not_hide_good_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
        let table = store.handover.handed_over;
        store
            .in_txn(|txn| {
                // Shorter than a run id: they sort before every real key.
                table.put(txn, &[0], &[1])?;
                table.put(txn, &[0, 0], &[1])?;
                Ok(())
            })
            .unwrap();
        store.hand_over(RunId(5), 3).unwrap();
        assert_eq!(store.take_handed_over(2).unwrap(), vec![]);
        assert_eq!(store.take_handed_over(2).unwrap(), vec![(RunId(5), 3)]);
        assert_eq!(store.take_handed_over(2).unwrap(), vec![]);
    }
}
