//! The unique-key tables of the LMDB backend, behind
//! [`Client::start_unique`](crate::Client::start_unique): at most one run per workflow and key.
//!
//! - `unique_keys`: `workflow ‖ 0x00 ‖ key` (UTF-8; a workflow name holds no NUL, so the split
//!   is unambiguous) -> the big-endian id of the run the key is bound to;
//! - `unique_runs`: big-endian run id -> its `unique_keys` key, so that purging a run frees
//!   its key with one lookup ([`LmdbStore::free_unique_key_in`]).
//!
//! The lookup and the creation are one op, [`WriteOp::CreateUnique`](crate::store::WriteOp::CreateUnique),
//! inside one write transaction; LMDB has one writer at a time across processes, so two
//! callers, in one process or two, cannot both find the key free. A key stays bound to its
//! run until the run is purged, whatever the run's status. A key whose run is gone without
//! the key (purged by a build from before these tables) is bound afresh.
//!
//! A directory written before these tables gets them, empty, on open; a read-only open of
//! such a directory has none (it writes nothing).

use heed::{Env, RwTxn, WithoutTls};

use super::{LmdbStore, be_u64};
use crate::error::Error;
use crate::run::RunId;
use crate::store::RunRecord;

/// Number of LMDB databases opened here.
pub(super) const DATABASES: u32 = 2;

const KEYS: &str = "unique_keys";
const RUNS: &str = "unique_runs";

use super::table_pair::Db;

pub(super) struct Tables {
    /// `None` only in a read-only open of a directory from before the tables.
    tables: Option<(Db, Db)>,
}

impl Tables {
    /// Opens (creating if needed) the tables, in their own write transaction.
    pub(super) fn open(env: &Env<WithoutTls>) -> Result<Tables, Error> {
        Ok(Tables {
            tables: Some(super::table_pair::create(env, KEYS, RUNS)?),
        })
    }

    /// Opens the tables of a directory opened read-only, if it has them.
    pub(super) fn open_existing(env: &Env<WithoutTls>) -> Result<Tables, Error> {
        Ok(Tables {
            tables: super::table_pair::open_existing(env, KEYS, RUNS)?,
        })
    }

    fn writable(&self) -> Result<(Db, Db), Error> {
        self.tables.ok_or_else(|| {
            Error::from(std::io::Error::other(
                "the unique-key tables are missing from a store opened for writing",
            ))
        })
    }
}

/// `workflow ‖ 0x00 ‖ key`.
fn unique_key(workflow: &str, key: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(workflow.len() + 1 + key.len());
    bytes.extend_from_slice(workflow.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(key.as_bytes());
    bytes
}

impl LmdbStore {
    /// [`WriteOp::CreateUnique`](crate::store::WriteOp::CreateUnique) inside `txn`: the run
    /// `key` is bound to in `record`'s workflow and `false`, or a new run stored with `record`,
    /// bound to `key` (and handed over with `hand_over`) and `true`.
    pub(super) fn create_unique_in(
        &self,
        txn: &mut RwTxn<'_>,
        key: &str,
        record: &RunRecord,
        hand_over: bool,
    ) -> Result<(RunId, bool), Error> {
        let (keys, runs) = self.unique.writable()?;
        let bound = unique_key(&record.workflow, key);
        if let Some(run) = keys.get(txn, &bound)?.and_then(be_u64).map(RunId)
            && self.runs.get(txn, &run.0)?.is_some()
        {
            return Ok((run, false));
        }
        let run = self.create_runs_in(txn, std::slice::from_ref(record), hand_over)?;
        keys.put(txn, &bound, &run.0.to_be_bytes())?;
        runs.put(txn, &run.0.to_be_bytes(), &bound)?;
        Ok((run, true))
    }

    /// The stored run `key` is bound to in `workflow`, if any (a schedule's tick handled
    /// already, see `schedules.rs`).
    pub(super) fn unique_run_in(
        &self,
        txn: &RwTxn<'_>,
        workflow: &str,
        key: &str,
    ) -> Result<Option<RunId>, Error> {
        let (keys, _) = self.unique.writable()?;
        let bound = unique_key(workflow, key);
        match keys.get(txn, &bound)?.and_then(be_u64).map(RunId) {
            Some(run) if self.runs.get(txn, &run.0)?.is_some() => Ok(Some(run)),
            _ => Ok(None),
        }
    }

    /// Unbinds the unique key of `run`, if it has one (a purge, see [`super::retention`]).
    pub(super) fn free_unique_key_in(&self, txn: &mut RwTxn<'_>, run: RunId) -> Result<(), Error> {
        let (keys, runs) = self.unique.writable()?;
        let id = run.0.to_be_bytes();
        let Some(bound) = runs.get(txn, &id)?.map(<[u8]>::to_vec) else {
            return Ok(());
        };
        // Only if still bound to this run: never unbind another run's key.
        if keys.get(txn, &bound)? == Some(&id[..]) {
            keys.delete(txn, &bound)?;
        }
        runs.delete(txn, &id)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::WriteOp;
    use crate::store::group_commit::write_one;

    fn create(store: &LmdbStore, workflow: &str, key: &str) -> (RunId, bool) {
        let op = WriteOp::CreateUnique {
            key: key.to_owned(),
            record: RunRecord::new(workflow, 7, vec![1], 1_000),
            hand_over: false,
        };
        write_one(store, &op, 1_000).unwrap().unique().unwrap()
    }

    fn entries(store: &LmdbStore) -> (usize, usize) {
        let (keys, runs) = store.unique.writable().unwrap();
        let txn = store.env.read_txn().unwrap();
        (
            keys.len(&txn).unwrap() as usize,
            runs.len(&txn).unwrap() as usize,
        )
    }

    #[test]
    fn a_purge_deletes_the_key_of_its_run_and_no_other() {
        let dir = tempfile::tempdir().unwrap();
        let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
        let (run, created) = create(&store, "w", "k");
        assert!(created);
        assert_eq!(create(&store, "w", "k"), (run, false));
        let (other, _) = create(&store, "v", "k");
        assert_eq!(entries(&store), (2, 2));
        let fail = WriteOp::Fail {
            run,
            position: 0,
            message: "boom".to_owned(),
            history: None,
        };
        write_one(&store, &fail, 2_000).unwrap();
        write_one(&store, &WriteOp::Purge { run }, 3_000).unwrap();
        assert_eq!(entries(&store), (1, 1));
        assert_eq!(create(&store, "v", "k"), (other, false));
        let (again, created) = create(&store, "w", "k");
        assert!(created && again != run);
    }
}
