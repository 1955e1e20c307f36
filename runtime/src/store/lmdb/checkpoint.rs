//! The LMDB write of a committed transition ([`WriteOp::CommitState`]), the commit every
//! step pays: the run's record is rewritten from its stored bytes
//! ([`Checkpointed`]: the kept fields borrowed, not decoded into a
//! [`RunRecord`](crate::store::RunRecord) and encoded
//! again), the rest of the commit's writes move its hints on, then the hints are appended and
//! the record sealed and put; a run's first transition (pending to running) also moves its
//! listing entry. A record that path is not for (a run neither running nor pending, an older
//! directory's record with its input inline) goes through the general read, change and write
//! of [`update_in`](LmdbStore::update_in), with the same run rule
//! ([`lifecycle::checkpoint`]).
//!
//! [`WriteOp::CommitState`]: crate::store::WriteOp::CommitState

use heed::RwTxn;

use super::LmdbStore;
use super::listing::Listed;
use crate::context::state::StateWrites;
use crate::error::Error;
use crate::history::HistoryRecord;
use crate::lifecycle;
use crate::run::RunId;
use crate::store::stored_record::Checkpointed;

/// What a [`WriteOp::CommitState`](crate::store::WriteOp::CommitState) commits, borrowed.
pub(super) struct Checkpoint<'a> {
    /// The committing task's position ([`lifecycle::at_position`]).
    pub position: u64,
    pub state_name: &'a str,
    pub step: Option<&'a str>,
    pub state: &'a [u8],
    pub writes: &'a StateWrites,
    pub history: &'a HistoryRecord,
}

impl LmdbStore {
    /// Commits `checkpoint` to `run` inside `txn`; returns the run's transition count after
    /// it. [`Error::UnknownRun`] for a run not stored, [`Error::CorruptState`] for a record
    /// that does not read.
    pub(super) fn commit_state_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        checkpoint: &Checkpoint<'_>,
        now: u64,
    ) -> Result<u64, Error> {
        let stored = self
            .runs
            .get(txn, &run.0)?
            .ok_or(Error::UnknownRun { run })?;
        let patched = Checkpointed::of(
            stored,
            checkpoint.state_name,
            checkpoint.step,
            checkpoint.state,
            now,
        )
        .map_err(|reason| Self::corrupt_record(run, &reason))?;
        let Some(mut record) = patched else {
            let record = self.update_in(
                txn,
                run,
                |record| {
                    lifecycle::at_position(run, record.transitions, checkpoint.position)?;
                    lifecycle::checkpoint(
                        record,
                        checkpoint.state_name,
                        checkpoint.step,
                        checkpoint.state,
                        now,
                    );
                    Ok(())
                },
                |txn, record| {
                    let transitions = record.transitions;
                    self.after_checkpoint(txn, run, transitions, &mut record.hints, checkpoint)
                },
            )?;
            return Ok(record.transitions);
        };
        // The patched record is one transition past the stored one.
        lifecycle::at_position(run, record.transitions - 1, checkpoint.position)?;
        self.after_checkpoint(txn, run, record.transitions, &mut record.hints, checkpoint)?;
        let transitions = record.transitions;
        let started = record.started.take();
        let bytes = record.seal().map_err(|e| Error::Encode {
            workflow: String::new(),
            what: "run record",
            reason: e.to_string(),
        })?;
        self.runs.put(txn, &run.0, &bytes)?;
        // Running before and after: no index or listing entry changes (see `update_in`).
        // Pending before (the run's first transition): its listing entry moves to running;
        // the active index keeps it, as `put` would.
        if let Some(started) = started {
            self.track_listed(txn, run, Listed::running(started))?;
        }
        Ok(transitions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::Status;
    use crate::store::{RunRecord, Store};

    /// On a real store, every transition of a new run is patched, the first (pending to
    /// running) also moving its listing entry as the general way does; what is read back is
    /// what the run rules say, history and listing included, and the start-up check finds
    /// the indexes as the writes left them.
    #[test]
    fn transitions_read_back_whichever_path_wrote_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
        let run = store
            .create_run(&RunRecord::new("w", 7, vec![1], 5))
            .unwrap();
        for (n, state) in [[1u8], [2], [3]].iter().enumerate() {
            assert_eq!(store.step_for_test(run, state), n as u64 + 1);
        }
        let record = store.load(run).unwrap().unwrap();
        assert_eq!(record.status, Status::Running);
        assert_eq!(record.transitions, 3);
        assert_eq!(record.state.as_deref(), Some(&[3][..]));
        assert_eq!(store.input(run).unwrap(), Some(vec![1]));
        assert_eq!(record.hints.history_len, Some(3));
        assert_eq!(store.history(run).unwrap().len(), 3);
        let running = crate::client::listing::RunFilter::new().status(Status::Running);
        let (listed, _) = store.list_runs(&running, None, 10).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].id, listed[0].status), (run, Status::Running));
        let counts: Vec<_> = store.count_by_status().unwrap().iter().collect();
        assert_eq!(counts, vec![(Status::Running, 1)]);

        let report = store.check_indexes(0).unwrap();
        assert_eq!((report.removed, report.reindexed), (0, 0), "{report:?}");
    }
}
