//! The LMDB [`Store`], through heed.
//!
//! Layout: database `runs` maps a big-endian `u64` run id (so ids sort numerically) to a
//! postcard [`RunRecord`]; database `meta` holds the next run id and the format version. Every
//! method opens, uses and commits its own transaction with LMDB's default durability (fsync on
//! commit).

use std::path::Path;

use heed::byteorder::BigEndian;
use heed::types::{Bytes, Str, U64};
use heed::{
    CommitOrAbort, Database, Env, EnvClosingEvent, EnvOpenOptions, RoTxn, RwTxn, WithoutTls,
};

use crate::error::Error;
use crate::run::{RunId, Status};
use crate::store::{RunRecord, Store, now_ms};

/// Version of the on-disk layout; bump it when [`RunRecord`] or the key layout changes.
pub(crate) const FORMAT_VERSION: u32 = 1;

const FORMAT_KEY: &str = "format_version";
const NEXT_RUN_KEY: &str = "next_run_id";

type Runs = Database<'static, U64<BigEndian>, Bytes>;
type Meta = Database<'static, Str, Bytes>;

/// Runs stored in one LMDB environment.
pub(crate) struct LmdbStore {
    /// Without thread-local reader slots: store calls run on whichever tokio or blocking-pool
    /// thread is at hand, and a slot per such thread would exhaust LMDB's reader table.
    env: Env<WithoutTls>,
    runs: Runs,
    meta: Meta,
}

impl LmdbStore {
    /// Opens (creating if needed) the environment in `dir` and checks its format version.
    pub fn open(dir: &Path, map_size: usize) -> Result<LmdbStore, Error> {
        std::fs::create_dir_all(dir)?;
        let mut options = EnvOpenOptions::new().read_txn_without_tls();
        options.map_size(map_size).max_dbs(2);
        // SAFETY: the memory map is only unsound if the files are modified behind LMDB's back.
        // The runtime opens the environment with its lock file (no `NO_LOCK`), never truncates
        // or writes the files itself, and heed refuses a second open of the same path in this
        // process, so every access goes through LMDB's own locking.
        let env = unsafe { options.open(dir)? };
        let wtxn = env.write_txn()?;
        let (runs, meta) = env
            .create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, Error> {
                let runs: Database<'_, U64<BigEndian>, Bytes> =
                    opener.create_database(wtxn, Some("runs"))?;
                let meta: Database<'_, Str, Bytes> = opener.create_database(wtxn, Some("meta"))?;
                check_format(meta, wtxn)?;
                Ok(CommitOrAbort::<_, ()>::Commit((runs, meta)))
            })?
            .unwrap_commit();
        Ok(LmdbStore { env, runs, meta })
    }

    /// An event that fires once the last handle on the environment is dropped, so that the
    /// same path can be opened again.
    pub fn closing_event(&self) -> EnvClosingEvent {
        self.env.clone().prepare_for_closing()
    }

    fn decode(run: RunId, bytes: &[u8]) -> Result<RunRecord, Error> {
        postcard::from_bytes(bytes).map_err(|e| Error::CorruptState {
            run,
            workflow: "<unknown>".to_owned(),
            reason: format!("run record does not decode: {e}"),
        })
    }

    fn get(&self, txn: &RoTxn<'_>, run: RunId) -> Result<Option<RunRecord>, Error> {
        match self.runs.get(txn, &run.0)? {
            Some(bytes) => Self::decode(run, bytes).map(Some),
            None => Ok(None),
        }
    }

    fn put(&self, txn: &mut RwTxn<'_>, run: RunId, record: &RunRecord) -> Result<(), Error> {
        let bytes = postcard::to_stdvec(record).map_err(|e| Error::Encode {
            workflow: record.workflow.clone(),
            what: "run record",
            reason: e.to_string(),
        })?;
        self.runs.put(txn, &run.0, &bytes)?;
        Ok(())
    }

    /// Reads, changes and writes back one record in a single write transaction.
    fn update(&self, run: RunId, change: impl FnOnce(&mut RunRecord)) -> Result<RunRecord, Error> {
        let mut txn = self.env.write_txn()?;
        let mut record = self.get(&txn, run)?.ok_or(Error::UnknownRun { run })?;
        change(&mut record);
        record.updated_at_ms = now_ms();
        self.put(&mut txn, run, &record)?;
        txn.commit()?;
        Ok(record)
    }

    fn scan(&self, keep: impl Fn(Status) -> bool) -> Result<Vec<(RunId, RunRecord)>, Error> {
        let txn = self.env.read_txn()?;
        let mut out = Vec::new();
        for entry in self.runs.iter(&txn)? {
            let (id, bytes) = entry?;
            let run = RunId(id);
            // One unreadable record must not hide every other run.
            match Self::decode(run, bytes) {
                Ok(record) if keep(record.status) => out.push((run, record)),
                Ok(_) => {}
                Err(e) => tracing::error!(%run, error = %e, "skipping unreadable run record"),
            }
        }
        Ok(out)
    }
}

fn check_format(meta: Database<'_, Str, Bytes>, wtxn: &mut RwTxn<'_>) -> Result<(), Error> {
    match meta.get(wtxn, FORMAT_KEY)? {
        None => {
            meta.put(wtxn, FORMAT_KEY, &FORMAT_VERSION.to_be_bytes())?;
            Ok(())
        }
        Some(bytes) => {
            let found = <[u8; 4]>::try_from(bytes).map_or(0, u32::from_be_bytes);
            if found == FORMAT_VERSION {
                Ok(())
            } else {
                Err(Error::UnsupportedFormat {
                    found,
                    expected: FORMAT_VERSION,
                })
            }
        }
    }
}

impl Store for LmdbStore {
    fn create_run(&self, record: &RunRecord) -> Result<RunId, Error> {
        let mut txn = self.env.write_txn()?;
        let next = match self.meta.get(&txn, NEXT_RUN_KEY)? {
            Some(bytes) => <[u8; 8]>::try_from(bytes).map_or(1, u64::from_be_bytes),
            None => 1,
        };
        let run = RunId(next);
        self.meta
            .put(&mut txn, NEXT_RUN_KEY, &(next + 1).to_be_bytes())?;
        self.put(&mut txn, run, record)?;
        txn.commit()?;
        Ok(run)
    }

    fn commit_state(
        &self,
        run: RunId,
        state_name: &str,
        step: Option<&str>,
        state: &[u8],
    ) -> Result<u64, Error> {
        let record = self.update(run, |record| {
            record.status = Status::Running;
            state_name.clone_into(&mut record.state_name);
            record.step = step.map(str::to_owned);
            record.transitions += 1;
            record.state = Some(state.to_vec());
        })?;
        Ok(record.transitions)
    }

    fn complete(&self, run: RunId, output: &[u8]) -> Result<(), Error> {
        self.update(run, |record| {
            record.status = Status::Completed;
            record.output = Some(output.to_vec());
        })?;
        Ok(())
    }

    fn fail(&self, run: RunId, message: &str) -> Result<(), Error> {
        self.update(run, |record| {
            record.status = Status::Failed;
            record.error = Some(message.to_owned());
        })?;
        Ok(())
    }

    fn load(&self, run: RunId) -> Result<Option<RunRecord>, Error> {
        let txn = self.env.read_txn()?;
        self.get(&txn, run)
    }

    fn unfinished(&self) -> Result<Vec<(RunId, RunRecord)>, Error> {
        self.scan(|status| !status.is_finished())
    }

    fn list(&self, status: Option<Status>) -> Result<Vec<(RunId, RunRecord)>, Error> {
        self.scan(|s| status.is_none_or(|wanted| wanted == s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_ids_increase() {
        let dir = tempfile::tempdir().unwrap();
        let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
        let a = store.create_run(&RunRecord::new("w", 7, vec![1])).unwrap();
        let b = store.create_run(&RunRecord::new("w", 7, vec![2])).unwrap();
        assert!(b > a);
        assert_eq!(store.commit_state(a, "Next", Some("s"), &[9]).unwrap(), 1);
        store.complete(a, &[4]).unwrap();
        let record = store.load(a).unwrap().unwrap();
        assert_eq!(record.status, Status::Completed);
        assert_eq!(record.state.as_deref(), Some(&[9][..]));
        assert_eq!(record.output.as_deref(), Some(&[4][..]));
        assert_eq!(store.unfinished().unwrap().len(), 1);
        assert_eq!(store.list(None).unwrap().len(), 2);
        assert!(matches!(
            store.fail(RunId(99), "x"),
            Err(Error::UnknownRun { run: RunId(99) })
        ));
    }

    #[test]
    fn a_newer_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
        let mut txn = store.env.write_txn().unwrap();
        store
            .meta
            .put(&mut txn, FORMAT_KEY, &(FORMAT_VERSION + 1).to_be_bytes())
            .unwrap();
        txn.commit().unwrap();
        let closed = store.closing_event();
        drop(store);
        closed.wait();
        assert!(matches!(
            LmdbStore::open(dir.path(), 1 << 24),
            Err(Error::UnsupportedFormat { found, .. }) if found == FORMAT_VERSION + 1
        ));
    }
}
