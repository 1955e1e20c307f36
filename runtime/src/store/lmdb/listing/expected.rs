//! What the listing tables must hold, derived from the run records: used to build them for an
//! older directory and by the start-up check that compares them with the records.

use std::collections::BTreeMap;

use heed::RoTxn;
use heed::types::Bytes;

use super::super::{LmdbStore, Runs, be_pair, be_u64};
use super::*;
use crate::error::Error;
use crate::run::RunId;
use crate::store::RunRecord;

/// Every entry each table must hold, derived from the runs (the build of an older
/// directory, and the start-up check).
#[derive(Default)]
pub(in crate::store::lmdb) struct Expected {
    pub listed: BTreeMap<Vec<u8>, Vec<u8>>,
    pub by_status: BTreeMap<Vec<u8>, Vec<u8>>,
    pub by_workflow: BTreeMap<Vec<u8>, Vec<u8>>,
    pub finished: BTreeMap<Vec<u8>, Vec<u8>>,
    counts: BTreeMap<u32, u64>,
}

impl Expected {
    pub(in crate::store::lmdb) fn add(&mut self, run: RunId, listed: &Listed) {
        self.by_status
            .insert(status_key(listed.code, run).to_vec(), Vec::new());
        self.by_workflow
            .insert(workflow_key(&listed.workflow, run), Vec::new());
        if let Some(t) = listed.finished_ms {
            self.finished.insert(be_pair(t, run.0).to_vec(), Vec::new());
        }
        *self.counts.entry(listed.code).or_default() += 1;
        self.listed
            .insert(run.0.to_be_bytes().to_vec(), listed.encode());
    }

    /// Files `run` under [`Status::Corrupt`] instead of what [`add`](Self::add) gave it: the
    /// check found its sleep or question damaged after adding it.
    pub(in crate::store::lmdb) fn quarantine(&mut self, run: RunId, record: Option<&RunRecord>) {
        let id = run.0.to_be_bytes().to_vec();
        if let Some(old) = self.listed.remove(&id).as_deref().and_then(Listed::decode) {
            self.by_status.remove(&status_key(old.code, run)[..]);
            self.by_workflow.remove(&workflow_key(&old.workflow, run));
            if let Some(t) = old.finished_ms {
                self.finished.remove(&be_pair(t, run.0)[..]);
            }
            if let Some(count) = self.counts.get_mut(&old.code) {
                *count -= 1;
            }
        }
        self.add(run, &Listed::of(record, true));
    }

    pub(in crate::store::lmdb) fn counts(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(code, n)| (code.to_be_bytes().to_vec(), n.to_be_bytes().to_vec()))
            .collect()
    }
}

/// The entries of every run of an older directory: one pass over the records.
pub(super) fn derive(
    txn: &RoTxn<'_>,
    runs: Runs,
    quarantine: Option<ByteDb>,
) -> Result<Expected, Error> {
    let mut expected = Expected::default();
    for entry in runs.remap_key_type::<Bytes>().iter(txn)? {
        let (k, bytes) = entry?;
        let Some(run) = be_u64(k).map(RunId) else {
            continue; // not a run: left as it is, reported by the start-up check
        };
        let quarantined = match quarantine {
            Some(db) => db.get(txn, k)?.is_some(),
            None => false,
        };
        let record = LmdbStore::decode(run, bytes).ok();
        expected.add(run, &Listed::of(record.as_ref(), quarantined));
    }
    Ok(expected)
}
