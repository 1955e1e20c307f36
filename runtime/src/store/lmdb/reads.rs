//! The [`Store`] impl of the LMDB backend: its reads, each in one read transaction, and its
//! one write entry (applied in `writes.rs`).

use std::collections::BTreeMap;

use super::{LmdbStore, key, loop_items};
use crate::context::loop_items::LoopKey;
use crate::durability::Durability;
use crate::error::Error;
use crate::history::HistoryRecord;
use crate::run::{RunId, Status};
use crate::store::{Outcome, RunRecord, Store, StoredSleep, WriteError, WriteOp};

impl Store for LmdbStore {
    fn write(&self, ops: &[&WriteOp], now_ms: u64) -> Result<Vec<Outcome>, WriteError> {
        self.write_batch(ops, now_ms)
    }

    fn commits_block(&self) -> bool {
        self.durability != Durability::ProcessCrash
    }

    fn any_handed_over(&self) -> Result<bool, Error> {
        self.any_handed_over_impl()
    }

    fn parent_of(&self, run: RunId) -> Result<Option<(RunId, u64)>, Error> {
        let txn = self.env.read_txn()?;
        self.parent_in(&txn, run)
    }

    fn children_of(&self, parent: RunId) -> Result<Vec<RunId>, Error> {
        let txn = self.env.read_txn()?;
        self.children_of_in(&txn, parent)
    }

    fn quarantine_entry(
        &self,
        run: RunId,
    ) -> Result<Option<crate::quarantine::StoredEntry>, Error> {
        let txn = self.env.read_txn()?;
        self.quarantine_entry_in(&txn, run)
    }

    fn quarantined(&self) -> Result<Vec<(RunId, crate::quarantine::StoredEntry)>, Error> {
        self.quarantined_impl()
    }

    fn list_status(&self, status: Option<Status>) -> Result<Vec<crate::run::RunStatus>, Error> {
        self.list_status_impl(status)
    }

    fn run_status(&self, run: RunId) -> Result<crate::run::RunStatus, Error> {
        self.run_status_impl(run)
    }

    fn check_indexes(&self, now_ms: u64) -> Result<crate::quarantine::CheckReport, Error> {
        self.check_indexes_impl(now_ms)
    }

    fn list_runs(
        &self,
        filter: &crate::client::listing::RunFilter,
        after: Option<RunId>,
        limit: usize,
    ) -> Result<(Vec<crate::run::RunStatus>, Option<RunId>), Error> {
        self.list_runs_impl(filter, after, limit)
    }

    fn count_by_status(&self) -> Result<crate::client::listing::StatusCounts, Error> {
        self.count_by_status_impl()
    }

    fn last_tick(&self, schedule: &str) -> Result<Option<u64>, Error> {
        self.last_tick_impl(schedule)
    }

    fn queue_check(
        &self,
        now_ms: u64,
        runnable: &dyn Fn(&str) -> bool,
    ) -> Result<crate::queue::QueueCheck, Error> {
        self.queue_check_impl(now_ms, runnable)
    }

    fn queue_configs(&self) -> Result<Vec<crate::queue::QueueConfig>, Error> {
        self.queue_configs_impl()
    }

    fn workflows(&self) -> Result<Vec<crate::graph::StoredWorkflow>, Error> {
        self.workflows_impl()
    }

    fn migrated_original(
        &self,
        run: RunId,
    ) -> Result<Option<crate::store::MigratedOriginal>, Error> {
        self.migrated_original_impl(run)
    }

    fn workflow(&self, name: &str) -> Result<Option<crate::graph::StoredWorkflow>, Error> {
        self.workflow_impl(name)
    }

    fn progress(
        &self,
        run: RunId,
        history_from: u64,
    ) -> Result<Option<crate::store::ProgressRead>, Error> {
        self.progress_impl(run, history_from)
    }

    fn run_count(&self) -> Result<u64, Error> {
        let txn = self.env.read_txn()?;
        // `mdb_stat`: the count LMDB keeps in the tree's header, no scan.
        Ok(self.runs.len(&txn)?)
    }

    fn loop_item(&self, run: RunId, key: LoopKey, index: u64) -> Result<Option<Vec<u8>>, Error> {
        let txn = self.env.read_txn()?;
        let k = loop_items::item_key(run, key, index);
        Ok(self.loop_items.get(&txn, &k)?.map(<[u8]>::to_vec))
    }

    fn instance_id(&self) -> u64 {
        self.instance
    }

    fn load(&self, run: RunId) -> Result<Option<RunRecord>, Error> {
        let txn = self.env.read_txn()?;
        self.get(&txn, run)
    }

    fn input(&self, run: RunId) -> Result<Option<Vec<u8>>, Error> {
        self.input_impl(run)
    }

    fn active_after(
        &self,
        after: Option<RunId>,
        limit: usize,
    ) -> Result<(Vec<(RunId, RunRecord)>, Option<RunId>), Error> {
        self.active_after_impl(after, limit)
    }

    fn wakeups_after(
        &self,
        after: Option<(u64, RunId)>,
        limit: usize,
    ) -> Result<Vec<(u64, RunId)>, Error> {
        self.wakeups_after_impl(after, limit)
    }

    fn sleeping(&self) -> Result<u64, Error> {
        self.sleeping_impl()
    }

    fn attempts_at(
        &self,
        run: RunId,
        position: u64,
    ) -> Result<Option<crate::store::events::StoredAttempts>, Error> {
        self.attempts_at_impl(run, position)
    }

    fn wake_at(&self, run: RunId, position: u64) -> Result<Option<StoredSleep>, Error> {
        let txn = self.env.read_txn()?;
        let k = key(run, &[&position.to_be_bytes()]);
        let Some(bytes) = self.sleeps.get(&txn, &k)? else {
            return Ok(None);
        };
        let half = |range: std::ops::Range<usize>| {
            bytes
                .get(range)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
        };
        match (half(0..8), half(8..16)) {
            (Some(wake_ms), Some(started_ms)) => Ok(Some(StoredSleep {
                started_ms,
                wake_ms,
            })),
            _ => Err(Error::CorruptState {
                run,
                workflow: "<unknown>".to_owned(),
                reason: format!("sleep at position {position} does not decode"),
            }),
        }
    }

    fn branches(&self, run: RunId, position: u64) -> Result<Vec<(u32, Vec<u8>)>, Error> {
        let txn = self.env.read_txn()?;
        let prefix = key(run, &[&position.to_be_bytes()]);
        let mut out = Vec::new();
        for entry in self.branches.prefix_iter(&txn, &prefix)? {
            let (k, v) = entry?;
            if let Ok(index) = <[u8; 4]>::try_from(&k[prefix.len()..]) {
                out.push((u32::from_be_bytes(index), v.to_vec()));
            }
        }
        Ok(out)
    }

    fn state_get(&self, run: RunId, name: &str) -> Result<Option<Vec<u8>>, Error> {
        let txn = self.env.read_txn()?;
        Ok(self
            .state
            .get(&txn, &key(run, &[name.as_bytes()]))?
            .map(<[u8]>::to_vec))
    }

    fn state_all(&self, run: RunId) -> Result<BTreeMap<String, Vec<u8>>, Error> {
        let txn = self.env.read_txn()?;
        let prefix = key(run, &[]);
        let mut out = BTreeMap::new();
        for entry in self.state.prefix_iter(&txn, &prefix)? {
            let (k, v) = entry?;
            // Keys are written from `&str`, so they are UTF-8.
            let name = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            out.insert(name, v.to_vec());
        }
        Ok(out)
    }

    fn history(&self, run: RunId) -> Result<Vec<HistoryRecord>, Error> {
        let txn = self.env.read_txn()?;
        let mut out = Vec::new();
        for entry in self.history.prefix_iter(&txn, &key(run, &[]))? {
            let (_, bytes) = entry?;
            let record = crate::codec::open_record(bytes).map_err(|e| Error::CorruptState {
                run,
                workflow: "<unknown>".to_owned(),
                reason: format!("history record does not decode: {e}"),
            })?;
            out.push(record);
        }
        Ok(out)
    }
}
