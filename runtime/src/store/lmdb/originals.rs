//! The `migrated` table of the LMDB backend: for each run moved to a newer layout by
//! [`WriteOp::MigrateRun`](crate::store::WriteOp::MigrateRun), its original layout id, state
//! name and state bytes, kept until the run's next transition (the commit drops it), so that a
//! migrated run that cannot go on can be put back by hand.
//!
//! Keys are the run id (big-endian); values the [`MigratedOriginal`] sealed by
//! [`crate::codec::seal_record`]. The database is opened with the `workflows` table (see
//! `workflows.rs`), so that a directory written before it gets it, empty, on open, with no
//! format bump; a read-only open of such a directory reads it as empty. The store keeps the
//! set of runs it may hold an original of ([`Table`]), so that a transition of a run never
//! migrated does not delete from it.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

use heed::{Env, RwTxn, WithoutTls};

use super::LmdbStore;
use super::table_pair::{self, Db};
use crate::error::Error;
use crate::run::RunId;
use crate::store::MigratedOriginal;

/// The table's name in the environment.
const NAME: &str = "migrated";

/// The table, and the runs it may hold an original of.
pub(super) struct Table {
    /// `None` only in a read-only open of a directory from before the table.
    db: Option<Db>,
    /// The runs that may have an original kept: those found at open and those migrated
    /// since. Every `CommitState`, `Complete` and `Fail` drops the run's original; this lets
    /// the many runs never migrated skip that delete. Only the runtime that migrates runs
    /// commits their transitions (one per directory), so its set sees every migration made
    /// after it opened. A run leaves the set only when the delete finds nothing: if the
    /// transaction that did delete the original is aborted, the next transition deletes again.
    may_hold: Mutex<BTreeSet<u64>>,
}

impl Table {
    /// Opens (creating if needed) the table, in its own write transaction.
    pub(super) fn open(env: &Env<WithoutTls>) -> Result<Table, Error> {
        let [db] = table_pair::create_all(env, [NAME])?;
        Table::with(env, Some(db))
    }

    /// Opens the table of a directory opened read-only, if it has one.
    pub(super) fn open_existing(env: &Env<WithoutTls>) -> Result<Table, Error> {
        let db = table_pair::open_all_existing(env, [NAME])?.map(|[db]| db);
        Table::with(env, db)
    }

    /// The table `db`, with the runs it holds now (few: an original lives until the run's
    /// next transition).
    fn with(env: &Env<WithoutTls>, db: Option<Db>) -> Result<Table, Error> {
        let mut may_hold = BTreeSet::new();
        if let Some(db) = db {
            let rtxn = env.read_txn()?;
            for entry in db.iter(&rtxn)? {
                let (key, _) = entry?;
                if let Ok(run) = <[u8; 8]>::try_from(key) {
                    may_hold.insert(u64::from_be_bytes(run));
                }
            }
        }
        Ok(Table {
            db,
            may_hold: Mutex::new(may_hold),
        })
    }

    fn held(&self) -> std::sync::MutexGuard<'_, BTreeSet<u64>> {
        self.may_hold.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

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
        let Some(db) = self.workflows.migrated.db else {
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
        self.workflows.migrated.held().insert(run.0);
        record.fingerprint = fingerprint;
        if let Some((name, bytes)) = state {
            record.state_name = name.clone();
            record.state = Some(bytes.clone());
        }
        self.put_record(txn, run, &record)
    }

    /// Drops the original kept by a migration of `run`, if any (at its next transition):
    /// nothing to do, and no delete, for a run that was not migrated.
    pub(super) fn drop_migrated_original(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
    ) -> Result<(), Error> {
        let table = &self.workflows.migrated;
        let Some(db) = table.db else {
            return Ok(());
        };
        if !table.held().contains(&run.0) {
            return Ok(());
        }
        if !db.delete(txn, &run.0.to_be_bytes())? {
            // Dropped by an earlier transition whose commit went through.
            table.held().remove(&run.0);
        }
        Ok(())
    }

    /// Drops the original of `run`, if any, whether or not this process saw it migrated (a
    /// purge may come from a client process that opened before the migration).
    pub(super) fn purge_migrated_original(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
    ) -> Result<(), Error> {
        if let Some(db) = self.workflows.migrated.db {
            db.delete(txn, &run.0.to_be_bytes())?;
            self.workflows.migrated.held().remove(&run.0);
        }
        Ok(())
    }

    /// [`Store::migrated_original`](crate::store::Store::migrated_original).
    pub(super) fn migrated_original_impl(
        &self,
        run: RunId,
    ) -> Result<Option<MigratedOriginal>, Error> {
        let Some(db) = self.workflows.migrated.db else {
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
