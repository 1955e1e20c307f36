//! The `migrated` table of the LMDB backend: for each run moved to a newer layout by
//! [`WriteOp::MigrateRun`](crate::store::WriteOp::MigrateRun), its original layout id, state
//! name and state bytes, kept until the run's next transition (the commit drops it), so that a
//! migrated run that cannot go on can be put back by hand.
//!
//! Keys are the run id (big-endian); values the [`MigratedOriginal`] sealed by
//! [`migration::migrate`], which also decides what a migration checks and changes (shared with
//! the PostgreSQL backend). The database is opened with the `workflows` table (see
//! `workflows.rs`), so that a directory written before it gets it, empty, on open, with no
//! format bump; a read-only open of such a directory reads it as empty.

use heed::RwTxn;

use super::LmdbStore;
use crate::error::Error;
use crate::run::RunId;
use crate::store::{MigratedOriginal, RunRecord, migration};

/// The table's name in the environment.
pub(super) const NAME: &str = "migrated";

impl LmdbStore {
    /// [`WriteOp::MigrateRun`](crate::store::WriteOp::MigrateRun) inside `txn`.
    pub(super) fn migrate_run_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        from: u64,
        fingerprint: u64,
        state: Option<&(String, Vec<u8>)>,
    ) -> Result<(), Error> {
        let Some(db) = self.workflows.migrated else {
            return Err(Error::ReadOnly {
                path: self.dir.clone(),
            });
        };
        let mut record = self.get(txn, run)?.ok_or(Error::UnknownRun { run })?;
        let original = migration::migrate(run, &mut record, from, fingerprint, state)?;
        db.put(txn, &run.0.to_be_bytes(), &original)?;
        // The run's next transition drops the original (`drop_migrated_original_of`).
        record.hints.migrated = true;
        self.put_record(txn, run, &record)
    }

    /// [`drop_migrated_original`](Self::drop_migrated_original) if `record`'s hints say a
    /// migration may have kept one, clearing the hint (the caller writes `record` after).
    pub(super) fn drop_migrated_original_of(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        record: &mut RunRecord,
    ) -> Result<(), Error> {
        if record.hints.migrated {
            self.drop_migrated_original(txn, run)?;
            record.hints.migrated = false;
        }
        Ok(())
    }

    /// Drops the original kept by a migration of `run`, if any (at its next transition).
    pub(super) fn drop_migrated_original(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
    ) -> Result<(), Error> {
        if let Some(db) = self.workflows.migrated {
            db.delete(txn, &run.0.to_be_bytes())?;
        }
        Ok(())
    }

    /// [`Store::migrated_original`](crate::store::Store::migrated_original).
    pub(super) fn migrated_original_impl(
        &self,
        run: RunId,
    ) -> Result<Option<MigratedOriginal>, Error> {
        let Some(db) = self.workflows.migrated else {
            return Ok(None);
        };
        let txn = self.env.read_txn()?;
        db.get(&txn, &run.0.to_be_bytes())?
            .map(|sealed| migration::open_original(run, sealed))
            .transpose()
    }
}
