//! The `migrated` table of the LMDB backend: for each run moved to a newer layout by
//! [`WriteOp::MigrateRun`](crate::store::WriteOp::MigrateRun), its original layout id, state
//! name and state bytes, kept until the run's next transition (the commit drops it), so that a
//! migrated run that cannot go on can be put back by hand.
//!
//! Keys are the run id (big-endian); values the [`MigratedOriginal`] sealed by
//! [`crate::codec::seal_record`]. The database is opened with the `workflows` table (see
//! `workflows.rs`), so that a directory written before it gets it, empty, on open, with no
//! format bump; a read-only open of such a directory reads it as empty.

use heed::RwTxn;

use super::LmdbStore;
use crate::error::Error;
use crate::run::RunId;
use crate::store::{MigratedOriginal, RunRecord};

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
        if record.fingerprint != from {
            return Err(Error::IncompatibleState {
                run,
                workflow: record.workflow,
                stored: record.fingerprint,
                expected: fingerprint,
                changes: Vec::new(),
                note: Some(format!(
                    "it was to be migrated from layout {from:#018x}, and is no longer stored under it"
                )),
            });
        }
        let original = MigratedOriginal {
            fingerprint: record.fingerprint,
            state_name: record.state_name.clone(),
            state: record.state.clone(),
        };
        let bytes = crate::codec::seal_record(&original, 64).map_err(|e| Error::Encode {
            workflow: record.workflow.clone(),
            what: "original of a migrated run",
            reason: e.to_string(),
        })?;
        db.put(txn, &run.0.to_be_bytes(), &bytes)?;
        record.fingerprint = fingerprint;
        record.hints.migrated = true;
        if let Some((name, bytes)) = state {
            record.state_name = name.clone();
            record.state = Some(bytes.clone());
        }
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
        match db.get(&txn, &run.0.to_be_bytes())? {
            Some(bytes) => {
                crate::codec::open_record(bytes)
                    .map(Some)
                    .map_err(|e| Error::CorruptState {
                        run,
                        workflow: "<unknown>".to_owned(),
                        reason: format!("the original of a migrated run does not decode: {e}"),
                    })
            }
            None => Ok(None),
        }
    }
}
