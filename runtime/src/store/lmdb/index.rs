//! The indexes that keep parked runs on disk: start-up and the timer read these instead of
//! every run record, so memory and start time do not grow with the number of parked runs.
//!
//! - `wakeups`: wake-up time (big-endian milliseconds) ‖ run -> position of the sleep, one
//!   entry per run in a durable sleep, in wake-up order. Written in the transaction that
//!   commits the sleep ([`LmdbStore::index_sleep`]) and deleted in the one that wakes the run
//!   ([`Store::wake_due`](crate::store::Store::wake_due)); the timer task
//!   ([`crate::runtime::timers`]) keeps only the next few entries in memory.
//! - `active`: run -> empty, for every unfinished run that is not in a durable sleep
//!   (pending, running, or waiting for a person's answer): the runs start-up must resume or
//!   watch. [`LmdbStore::put`] keeps it in step with the status it writes (pending: added;
//!   finished or paused: removed); a durable sleep removes the run and every way out of one
//!   adds it back.
//!
//! Directories written before these indexes (format 1) get them built on open, in the
//! transaction that bumps the format.

use std::ops::Bound;

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, RwTxn, WithoutTls};

use super::{ByRun, FORMAT_KEY, LmdbStore, Meta, Runs, be_pair, be_u64, key, split_pair};
use crate::error::Error;
use crate::run::{RunId, Status};
use crate::store::RunRecord;

/// The oldest on-disk layout this build opens; older ones are brought up to date on open.
pub(super) const OLDEST_FORMAT: u32 = 1;

/// The format that added these indexes.
const INDEXED_FORMAT: u32 = 2;

/// Number of LMDB databases opened here.
pub(super) const DATABASES: u32 = 2;

/// A wake-up: time in milliseconds since the Unix epoch, then the run.
pub(crate) type Wakeup = (u64, RunId);

pub(super) struct Tables {
    pub(super) wakeups: Database<'static, Bytes, Bytes>,
    /// Also kept by [`super::hitl`]: a run waiting for an answer is not active.
    pub(super) active: Database<'static, Bytes, Bytes>,
}

pub(super) fn wakeup_key((wake_ms, run): Wakeup) -> [u8; 16] {
    be_pair(wake_ms, run.0)
}

impl Tables {
    /// Opens (creating if needed) the indexes, building them from `runs` and `sleeps` if the
    /// directory's format predates them.
    pub(super) fn open(
        env: &Env<WithoutTls>,
        runs: Runs,
        meta: Meta,
        sleeps: ByRun,
    ) -> Result<Tables, Error> {
        if super::read_only::is_read_only(env) {
            return Ok(Tables {
                wakeups: super::read_only::open_existing(env, "wakeups")?,
                active: super::read_only::open_existing(env, "active")?,
            });
        }
        let wtxn = env.write_txn()?;
        let tables = env
            .create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, Error> {
                let wakeups: Database<'_, Bytes, Bytes> =
                    opener.create_database(wtxn, Some("wakeups"))?;
                let active: Database<'_, Bytes, Bytes> =
                    opener.create_database(wtxn, Some("active"))?;
                if super::stored_format(meta, wtxn)? < INDEXED_FORMAT {
                    build(wtxn, runs, sleeps, wakeups, active)?;
                    meta.put(wtxn, FORMAT_KEY, &INDEXED_FORMAT.to_be_bytes())?;
                }
                Ok(CommitOrAbort::<_, ()>::Commit((wakeups, active)))
            })?
            .unwrap_commit();
        let (wakeups, active) = tables;
        Ok(Tables { wakeups, active })
    }
}

/// Fills both indexes from the run records and stored sleeps of an older directory.
fn build(
    wtxn: &mut RwTxn<'_>,
    runs: Runs,
    sleeps: ByRun,
    wakeups: Database<'_, Bytes, Bytes>,
    active: Database<'_, Bytes, Bytes>,
) -> Result<(), Error> {
    let mut found = Vec::new();
    for entry in runs.iter(wtxn)? {
        let (id, bytes) = entry?;
        let run = RunId(id);
        match LmdbStore::decode(run, bytes) {
            Ok(record) if !record.status.is_finished() => found.push((run, record)),
            Ok(_) => {}
            Err(e) => tracing::error!(%run, error = %e, "skipping unreadable run record"),
        }
    }
    let mut sleeping = 0usize;
    for (run, record) in &found {
        let position = record.transitions.to_be_bytes();
        let sleep = sleeps.get(wtxn, &key(*run, &[&position]))?;
        match sleep.and_then(|v| v.get(..8)).and_then(be_u64) {
            Some(wake_ms) if record.status == Status::Waiting => {
                wakeups.put(wtxn, &wakeup_key((wake_ms, *run)), &position)?;
                sleeping += 1;
            }
            _ => active.put(wtxn, &run.0.to_be_bytes(), &[])?,
        }
    }
    tracing::info!(
        unfinished = found.len(),
        sleeping,
        "built the wake-up and active-run indexes of an older data directory"
    );
    Ok(())
}

impl LmdbStore {
    /// Records that `run` sleeps at `position` until `wake_ms`: in the wake-up index, out of
    /// the active runs. In the transaction that commits the sleep.
    pub(crate) fn index_sleep(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        position: u64,
        wake_ms: u64,
    ) -> Result<(), Error> {
        let index = &self.index;
        index
            .wakeups
            .put(txn, &wakeup_key((wake_ms, run)), &position.to_be_bytes())?;
        index.active.delete(txn, &run.0.to_be_bytes())?;
        Ok(())
    }

    /// Keeps `run` in the active index, for the start-up of the next runtime.
    pub(crate) fn set_active(&self, txn: &mut RwTxn<'_>, run: RunId) -> Result<(), Error> {
        self.index.active.put(txn, &run.0.to_be_bytes(), &[])?;
        Ok(())
    }

    /// The active index entry for a record just written with its status (see the module
    /// doc): pending runs are added, finished ones removed, the others keep what they have.
    pub(crate) fn track_status(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        status: Status,
    ) -> Result<(), Error> {
        match status {
            Status::Pending => self.set_active(txn, run),
            Status::Completed
            | Status::Failed
            | Status::Cancelled
            | Status::Paused
            | Status::Queued => {
                self.index.active.delete(txn, &run.0.to_be_bytes())?;
                Ok(())
            }
            Status::Running | Status::Waiting | Status::Corrupt => Ok(()),
        }
    }

    /// [`Store::wakeups_after`](crate::store::Store::wakeups_after).
    pub(crate) fn wakeups_after_impl(
        &self,
        after: Option<Wakeup>,
        limit: usize,
    ) -> Result<Vec<Wakeup>, Error> {
        let txn = self.env.read_txn()?;
        let start = after.map(wakeup_key);
        let range = (
            start
                .as_ref()
                .map_or(Bound::Unbounded, |k| Bound::Excluded(&k[..])),
            Bound::Unbounded,
        );
        let mut out = Vec::with_capacity(limit.min(1024));
        for entry in self.index.wakeups.range(&txn, &range)? {
            if out.len() >= limit {
                break;
            }
            let (k, _) = entry?;
            if let Some((wake_ms, run)) = split_pair(k) {
                out.push((wake_ms, RunId(run)));
            }
        }
        Ok(out)
    }

    /// [`Store::sleeping`](crate::store::Store::sleeping).
    pub(crate) fn sleeping_impl(&self) -> Result<u64, Error> {
        let txn = self.env.read_txn()?;
        Ok(self.index.wakeups.len(&txn)?)
    }

    /// [`Store::active_after`](crate::store::Store::active_after).
    #[allow(clippy::type_complexity)]
    pub(crate) fn active_after_impl(
        &self,
        after: Option<RunId>,
        limit: usize,
    ) -> Result<(Vec<(RunId, RunRecord)>, Option<RunId>), Error> {
        let txn = self.env.read_txn()?;
        let start = after.map(|run| run.0.to_be_bytes());
        let range = (
            start
                .as_ref()
                .map_or(Bound::Unbounded, |k| Bound::Excluded(&k[..])),
            Bound::Unbounded,
        );
        let mut out = Vec::new();
        let (mut read, mut last) = (0, None);
        for entry in self.index.active.range(&txn, &range)? {
            if read >= limit {
                break;
            }
            read += 1;
            let (k, _) = entry?;
            let Some(run) = be_u64(k).map(RunId) else {
                continue;
            };
            last = Some(run);
            match self.get(&txn, run) {
                Ok(Some(record)) if !record.status.is_finished() => out.push((run, record)),
                Ok(_) => {}
                // One unreadable record must not hide every other run.
                Err(e) => tracing::error!(%run, error = %e, "skipping unreadable run record"),
            }
        }
        Ok((out, if read >= limit { last } else { None }))
    }

    /// [`WriteOp::Wake`](crate::store::WriteOp::Wake) inside `txn`: the record of the run
    /// woken, `None` for a wake-up left behind by a sleep that ended otherwise.
    pub(crate) fn wake_due_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        wake_ms: u64,
        now_ms: u64,
    ) -> Result<Option<RunRecord>, Error> {
        let k = wakeup_key((wake_ms, run));
        let position = self.index.wakeups.get(txn, &k)?.and_then(be_u64);
        self.index.wakeups.delete(txn, &k)?;
        if self.quarantine_entry_in(txn, run)?.is_some() {
            // Left alone until it is resumed, failed or purged.
            return Ok(None);
        }
        let Some(mut record) = self.get(txn, run)? else {
            return Ok(None);
        };
        let sleep = self
            .sleeps
            .get(txn, &key(run, &[&record.transitions.to_be_bytes()]))?
            .and_then(|v| v.get(..8).and_then(be_u64));
        let current = record.status == Status::Waiting
            && position == Some(record.transitions)
            && sleep == Some(wake_ms);
        if !current {
            // Left behind by a sleep that ended otherwise (the run went on, or finished).
            return Ok(None);
        }
        crate::lifecycle::go_on(&mut record, now_ms);
        self.put(txn, run, &record)?;
        self.set_active(txn, run)?;
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, StoredSleep};

    fn history() -> crate::history::HistoryRecord {
        crate::history::HistoryRecord::completed_for_test("Done")
    }

    fn indexes(store: &LmdbStore) -> (Vec<RunId>, Vec<Wakeup>) {
        let (active, more) = store.active_after(None, 100).unwrap();
        assert_eq!(more, None);
        let wakeups = store.wakeups_after(None, 100).unwrap();
        (active.into_iter().map(|(run, _)| run).collect(), wakeups)
    }

    /// A sleep already due when its commit returns is not suspended: the task goes on and
    /// commits its next step with no wake-up in between (`Context::sleep_until`). That step
    /// puts the run back among the active runs and drops its wake-up, so that a crash after
    /// it leaves a run the next start resumes, not one that only the start-up check finds.
    #[test]
    fn a_step_committed_after_a_sleep_that_ended_in_its_task_makes_the_run_active_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
        let run = store
            .create_run(&RunRecord::new("w", 7, vec![], 0))
            .unwrap();
        assert_eq!(store.step_for_test(run, &[1]), 1);
        let sleep = StoredSleep {
            started_ms: 1,
            wake_ms: 2,
        };
        store.suspend(run, 1, sleep).unwrap();
        assert_eq!(indexes(&store), (vec![], vec![(2, run)]));
        assert_eq!(store.step_for_test(run, &[2]), 2);
        assert_eq!(store.load(run).unwrap().unwrap().status, Status::Running);
        assert_eq!(indexes(&store), (vec![run], vec![]));
        assert_eq!(store.check_indexes(0).unwrap().removed, 0);
    }

    #[test]
    fn the_indexes_follow_sleeps_and_are_built_for_an_older_directory() {
        let dir = tempfile::tempdir().unwrap();
        let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
        let new = |_| {
            store
                .create_run(&RunRecord::new("w", 7, vec![], 0))
                .unwrap()
        };
        let [asleep, pending, done, woken]: [RunId; 4] = std::array::from_fn(new);
        let sleep = |wake_ms| StoredSleep {
            started_ms: 1,
            wake_ms,
        };
        store.suspend(asleep, 0, sleep(500)).unwrap();
        store.suspend(woken, 0, sleep(300)).unwrap();
        let writes = crate::context::state::StateWrites::default();
        store.complete(done, &[], &writes, &history()).unwrap();
        // Sleeping runs are out of the active index, in the wake-up one.
        assert_eq!(
            indexes(&store),
            (vec![pending], vec![(300, woken), (500, asleep)])
        );
        assert_eq!(store.sleeping().unwrap(), 2);
        // A wake-up that is not the run's current sleep is dropped without waking it.
        assert_eq!(store.wake_due(asleep, 499).unwrap(), None);
        assert_eq!(store.load(asleep).unwrap().unwrap().status, Status::Waiting);
        let record = store.wake_due(woken, 300).unwrap().unwrap();
        assert_eq!(record.status, Status::Pending);
        assert_eq!(indexes(&store), (vec![pending, woken], vec![(500, asleep)]));
        // Read a batch at a time, with where to go on from.
        let runs = |(batch, more): (Vec<(RunId, RunRecord)>, _)| {
            (batch.into_iter().map(|(r, _)| r).collect::<Vec<_>>(), more)
        };
        let first = runs(store.active_after(None, 1).unwrap());
        assert_eq!(first, (vec![pending], Some(pending)));
        let second = runs(store.active_after(Some(pending), 1).unwrap());
        assert_eq!(second, (vec![woken], Some(woken)));
        assert_eq!(
            runs(store.active_after(Some(woken), 1).unwrap()),
            (vec![], None)
        );
        assert_eq!(
            store.wakeups_after(Some((300, woken)), 1).unwrap(),
            vec![(500, asleep)]
        );
        assert!(
            store
                .wakeups_after(Some((500, asleep)), 1)
                .unwrap()
                .is_empty()
        );

        // Format 1 had no indexes: empty them, mark the directory format 1 and reopen.
        let mut txn = store.env.write_txn().unwrap();
        store.index.wakeups.clear(&mut txn).unwrap();
        store.index.active.clear(&mut txn).unwrap();
        store
            .meta
            .put(&mut txn, FORMAT_KEY, &1u32.to_be_bytes())
            .unwrap();
        // Its values are this build's, already sealed.
        super::super::migrate::mark_sealed(store.meta, &mut txn);
        txn.commit().unwrap();
        let closed = store.closing_event();
        drop(store);
        closed.wait();
        let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
        assert_eq!(indexes(&store), (vec![pending, woken], vec![(500, asleep)]));
        let txn = store.env.read_txn().unwrap();
        let format = store.meta.get(&txn, FORMAT_KEY).unwrap().unwrap();
        assert_eq!(format, super::super::FORMAT_VERSION.to_be_bytes());
    }
}
