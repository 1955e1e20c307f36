//! The `inputs` table of the LMDB backend: each run's input, sealed by [`crate::codec`],
//! written once when the run is created and deleted with the run, so that no commit rewrites
//! it (the run record holds an empty input instead, see [`crate::store::stored_record`]).
//!
//! Keys are the run id (big-endian). The table is opened with the `workflows` table (see
//! `workflows.rs`), so that a directory written before it gets it, empty, on open, with no
//! format bump; there, records still carry their input inline, and the first write of such a
//! record moves the input here. A read-only open of an older directory reads the table as
//! empty, and the inputs inline.

use heed::{RoTxn, RwTxn};

use super::LmdbStore;
use crate::error::Error;
use crate::run::RunId;

/// The table's name in the environment.
pub(super) const NAME: &str = "inputs";

impl LmdbStore {
    /// Stores `input` as `run`'s; `false` (nothing written) without the table, where the
    /// caller keeps the input inline in the record instead.
    pub(super) fn put_input_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        input: &[u8],
    ) -> Result<bool, Error> {
        match self.workflows.inputs {
            Some(db) => {
                db.put(txn, &run.0.to_be_bytes(), input)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Deletes `run`'s input (purged).
    pub(super) fn delete_input_in(&self, txn: &mut RwTxn<'_>, run: RunId) -> Result<(), Error> {
        if let Some(db) = self.workflows.inputs {
            db.delete(txn, &run.0.to_be_bytes())?;
        }
        Ok(())
    }

    /// `run`'s input inside `txn`: from the table, else inline in its record (an older
    /// directory's); `None` for an unknown run.
    pub(super) fn input_in(&self, txn: &RoTxn<'_>, run: RunId) -> Result<Option<Vec<u8>>, Error> {
        if let Some(db) = self.workflows.inputs
            && let Some(input) = db.get(txn, &run.0.to_be_bytes())?
        {
            return Ok(Some(input.to_vec()));
        }
        Ok(self.get(txn, run)?.map(|record| record.input))
    }

    /// [`Store::input`](crate::store::Store::input).
    pub(super) fn input_impl(&self, run: RunId) -> Result<Option<Vec<u8>>, Error> {
        let txn = self.env.read_txn()?;
        self.input_in(&txn, run)
    }
}

#[cfg(test)]
mod tests {
    use super::super::key_at;
    use super::super::test_support::Commit;
    use super::*;
    use crate::context::state::StateWrites;
    use crate::history::HistoryRecord;
    use crate::store::{RunRecord, Store, WriteOp};

    fn history(state: &str) -> HistoryRecord {
        HistoryRecord::committed_for_test(state)
    }

    fn commit(store: &LmdbStore, run: RunId, state: &str) -> u64 {
        store
            .commit_state(Commit {
                run,
                state_name: "Next",
                step: Some("s"),
                state: state.as_bytes(),
                writes: &StateWrites::default(),
                history: &history(state),
            })
            .unwrap()
    }

    fn stored_record_len(store: &LmdbStore, run: RunId) -> usize {
        let txn = store.env.read_txn().unwrap();
        store.runs.get(&txn, &run.0).unwrap().unwrap().len()
    }

    /// A 100 KB input is written once, at creation: the record that every commit rewrites
    /// stays the size of its state, the input reads back whole, and purging the run deletes
    /// it.
    #[test]
    fn the_input_is_written_once_and_purged_with_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let store = LmdbStore::open(dir.path(), 1 << 26).unwrap();
        let input = vec![5u8; 100_000];
        let run = store
            .create_run(&RunRecord::new("w", 7, input.clone(), 0))
            .unwrap();
        assert!(stored_record_len(&store, run) < 200);
        for (i, state) in ["a", "b", "c"].into_iter().enumerate() {
            assert_eq!(commit(&store, run, state), i as u64 + 1);
            assert!(stored_record_len(&store, run) < 200);
        }
        assert_eq!(store.input(run).unwrap(), Some(input));
        assert!(store.load(run).unwrap().unwrap().input.is_empty());
        let states: Vec<String> = store
            .history(run)
            .unwrap()
            .into_iter()
            .map(|h| h.state)
            .collect();
        assert_eq!(states, ["a", "b", "c"]);
        store
            .complete(run, b"out", &StateWrites::default(), &history("end"))
            .unwrap();
        store.apply_one(WriteOp::Purge { run }).unwrap();
        assert_eq!(store.input(run).unwrap(), None);
        let txn = store.env.read_txn().unwrap();
        let inputs = store.workflows.inputs.unwrap();
        assert_eq!(inputs.len(&txn).unwrap(), 0);
    }

    /// A record as builds before the `inputs` table stored it (input inline, no hints), with
    /// two history entries: its input reads back, the first commit moves the input to the
    /// table, and the history goes on after the entries already there.
    #[test]
    fn an_older_record_with_its_input_inline_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
        let run = RunId(1);
        let mut record = RunRecord::new("w", 7, b"older input".to_vec(), 0);
        record.transitions = 2;
        record.state = Some(b"b".to_vec());
        store
            .in_txn(|txn| {
                let older = crate::codec::seal_record(&record, 0).unwrap();
                store.runs.put(txn, &run.0, &older)?;
                for (seq, state) in ["a", "b"].into_iter().enumerate() {
                    let bytes = crate::codec::seal_record(&history(state), 0).unwrap();
                    store.history.put(txn, &key_at(run, seq as u64), &bytes)?;
                }
                Ok(())
            })
            .unwrap();
        assert_eq!(store.input(run).unwrap(), Some(b"older input".to_vec()));
        assert_eq!(commit(&store, run, "c"), 3);
        assert_eq!(commit(&store, run, "d"), 4);
        assert!(store.load(run).unwrap().unwrap().input.is_empty());
        assert_eq!(store.input(run).unwrap(), Some(b"older input".to_vec()));
        let states: Vec<String> = store
            .history(run)
            .unwrap()
            .into_iter()
            .map(|h| h.state)
            .collect();
        assert_eq!(states, ["a", "b", "c", "d"]);
    }
}
