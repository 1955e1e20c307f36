//! [`Store::progress`](crate::store::Store::progress) on LMDB: a run's record, its newest
//! history records and its key-value state in one read transaction, so that a watcher never
//! sees a state from one commit beside a history or values from another.

use std::collections::BTreeMap;

use super::{LmdbStore, key, key_at};
use crate::error::Error;
use crate::run::RunId;
use crate::store::ProgressRead;

impl LmdbStore {
    pub(super) fn progress_impl(
        &self,
        run: RunId,
        history_from: u64,
    ) -> Result<Option<ProgressRead>, Error> {
        let txn = self.env.read_txn()?;
        let Some(record) = self.get(&txn, run)? else {
            return Ok(None);
        };
        // History keys are `run ‖ sequence`: the records not seen yet are one range from
        // `history_from` to the end of the run's prefix, read without the older ones.
        let mut history = Vec::new();
        let start = key_at(run, history_from);
        let end = run.0.checked_add(1).map(|next| key_at(RunId(next), 0));
        let range = (
            std::ops::Bound::Included(&start[..]),
            end.as_ref().map_or(std::ops::Bound::Unbounded, |end| {
                std::ops::Bound::Excluded(&end[..])
            }),
        );
        for entry in self.history.range(&txn, &range)? {
            let (_, bytes) = entry?;
            history.push(
                crate::codec::open_record(bytes).map_err(|e| Error::CorruptState {
                    run,
                    workflow: record.workflow.clone(),
                    reason: format!("history record does not decode: {e}"),
                })?,
            );
        }
        let prefix = key(run, &[]);
        let mut state = BTreeMap::new();
        for entry in self.state.prefix_iter(&txn, &prefix)? {
            let (k, v) = entry?;
            // Keys are written from `&str`, so they are UTF-8.
            let name = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            state.insert(name, v.to_vec());
        }
        Ok(Some(ProgressRead {
            record,
            history,
            state,
        }))
    }
}
