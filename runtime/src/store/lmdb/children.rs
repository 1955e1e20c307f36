//! Child workflows in the LMDB backend: which runs a parent started, at which await, and how
//! a child's end wakes its parent (see [`Context::child`](crate::Context::child)).
//!
//! - `children`: parent ‖ position ‖ slot (`u32`, the branch index inside `parallel`, else 0)
//!   -> the child's big-endian run id. Written in the same transaction as the child's record
//!   ([`WriteOp::StartChild`](crate::store::WriteOp::StartChild)), so a parent resumed after a
//!   crash finds the child it started instead of starting a second one.
//! - `parents`: child -> parent ‖ position, so that the write that finishes a child (completed,
//!   failed, cancelled: every such write goes through `put`) finds the parent with one lookup.
//!
//! A parent waiting for its children is parked like a run waiting for an answer: marked
//! waiting, out of the active index, no task anywhere. The write that finishes its last
//! unfinished child at that await puts the parent in the `answered` index of [`super::hitl`],
//! so the answer watcher of any runtime, in any process, claims and resumes it: the same
//! wake-up path answers use, with no table of its own to poll. A claim of a parent whose
//! children are not all finished (a stale entry) leaves it waiting.
//!
//! Both tables are created at open and read as empty in an older directory (no format bump);
//! a read-only open of such a directory has none.

use heed::{Env, RoTxn, RwTxn, WithoutTls};

use super::{LmdbStore, be_u64, delete_prefix, key, split_pair};
use crate::error::Error;
use crate::lifecycle;
use crate::run::{RunId, Status};
use crate::store::RunRecord;
use crate::store::hitl::Claim;

/// Number of LMDB databases opened here.
pub(super) const DATABASES: u32 = 2;

const CHILDREN: &str = "children";
const PARENTS: &str = "parents";

use super::table_pair::Db;

pub(super) struct Tables {
    /// `None` only in a read-only open of a directory from before the tables.
    tables: Option<(Db, Db)>,
}

impl Tables {
    /// Opens (creating if needed) the tables, in their own write transaction.
    pub(super) fn open(env: &Env<WithoutTls>) -> Result<Tables, Error> {
        Ok(Tables {
            tables: Some(super::table_pair::create(env, CHILDREN, PARENTS)?),
        })
    }

    /// Opens the tables of a directory opened read-only, if it has them.
    pub(super) fn open_existing(env: &Env<WithoutTls>) -> Result<Tables, Error> {
        Ok(Tables {
            tables: super::table_pair::open_existing(env, CHILDREN, PARENTS)?,
        })
    }

    fn writable(&self) -> Result<(Db, Db), Error> {
        self.tables.ok_or_else(|| {
            Error::from(std::io::Error::other(
                "the child-workflow tables are missing from a store opened for writing",
            ))
        })
    }
}

/// `parent ‖ position ‖ slot`.
fn child_key(parent: RunId, position: u64, slot: u32) -> Vec<u8> {
    key(parent, &[&position.to_be_bytes(), &slot.to_be_bytes()])
}

impl LmdbStore {
    /// [`WriteOp::StartChild`](crate::store::WriteOp::StartChild) inside `txn`: the child
    /// already started at (`parent`, `position`, `slot`) and `false`, or a new run stored with
    /// `record`, recorded as that child, and `true`.
    pub(super) fn start_child_in(
        &self,
        txn: &mut RwTxn<'_>,
        parent: RunId,
        position: u64,
        slot: u32,
        record: &RunRecord,
    ) -> Result<(RunId, bool), Error> {
        let (children, parents) = self.children.writable()?;
        // The parent must exist (a child of nobody would never be waited for), at the await
        // that starts the child (a stale task's start would add a child no await waits for).
        let at = self
            .get(txn, parent)?
            .ok_or(Error::UnknownRun { run: parent })?
            .transitions;
        lifecycle::at_position(parent, at, position)?;
        let at = child_key(parent, position, slot);
        if let Some(child) = children.get(txn, &at)?.and_then(be_u64).map(RunId)
            && self.runs.get(txn, &child.0)?.is_some()
        {
            return Ok((child, false));
        }
        let child = self.create_run_in(txn, record)?;
        children.put(txn, &at, &child.0.to_be_bytes())?;
        let up = super::be_pair(parent.0, position);
        parents.put(txn, &child.0.to_be_bytes(), &up)?;
        Ok((child, true))
    }

    /// The children started at (`parent`, `position`), by slot.
    fn children_at(
        &self,
        txn: &RoTxn<'_>,
        parent: RunId,
        position: u64,
    ) -> Result<Vec<RunId>, Error> {
        let Some((children, _)) = self.children.tables else {
            return Ok(Vec::new());
        };
        let prefix = key(parent, &[&position.to_be_bytes()]);
        let mut found = Vec::new();
        for entry in children.prefix_iter(txn, &prefix)? {
            let (_, v) = entry?;
            found.extend(be_u64(v).map(RunId));
        }
        Ok(found)
    }

    /// Whether (`parent`, `position`) has children, and whether all of them have finished
    /// (a purged child counts as finished: it is nothing to wait for).
    fn children_state(
        &self,
        txn: &RoTxn<'_>,
        parent: RunId,
        position: u64,
    ) -> Result<Option<bool>, Error> {
        let children = self.children_at(txn, parent, position)?;
        if children.is_empty() {
            return Ok(None);
        }
        for child in children {
            if let Some(record) = self.get(txn, child)?
                && !record.status.is_finished()
            {
                return Ok(Some(false));
            }
        }
        Ok(Some(true))
    }

    /// [`WriteOp::AwaitChildren`](crate::store::WriteOp::AwaitChildren) inside `txn`: `false`
    /// (go on) if every child at (`parent`, `position`) has finished, else the parent is
    /// parked (waiting, out of the active index) and `true`.
    pub(super) fn await_children_in(
        &self,
        txn: &mut RwTxn<'_>,
        parent: RunId,
        position: u64,
        now: u64,
    ) -> Result<bool, Error> {
        let mut record = self
            .get(txn, parent)?
            .ok_or(Error::UnknownRun { run: parent })?;
        lifecycle::at_position(parent, record.transitions, position)?;
        if self.children_state(txn, parent, position)? != Some(false) {
            return Ok(false);
        }
        lifecycle::wait(&mut record, now);
        self.put(txn, parent, &record)?;
        self.index.active.delete(txn, &parent.0.to_be_bytes())?;
        Ok(true)
    }

    /// Whether `run` was started as a child of another run.
    pub(super) fn is_child_in(&self, txn: &RwTxn<'_>, run: RunId) -> Result<bool, Error> {
        let Some((_, parents)) = self.children.tables else {
            return Ok(false);
        };
        Ok(parents.get(txn, &run.0.to_be_bytes())?.is_some())
    }

    /// Called by `put` for every record written finished: if `run` is a child whose parent
    /// waits at the await that started it, and it was the last unfinished child there, the
    /// parent is put in the `answered` index for a runtime's answer watcher to claim.
    pub(super) fn child_finished_in(&self, txn: &mut RwTxn<'_>, run: RunId) -> Result<(), Error> {
        let Some((_, parents)) = self.children.tables else {
            return Ok(());
        };
        let Some((parent, position)) = parents.get(txn, &run.0.to_be_bytes())?.and_then(split_pair)
        else {
            return Ok(());
        };
        let parent = RunId(parent);
        let Some(record) = self.get(txn, parent)? else {
            return Ok(());
        };
        if record.status != Status::Waiting || record.transitions != position {
            // Running (it finds the output when it gets to the await), paused or finished.
            return Ok(());
        }
        if self.children_state(txn, parent, position)? == Some(true) {
            self.hitl.waiting.answered.put(
                txn,
                &parent.0.to_be_bytes(),
                &position.to_be_bytes(),
            )?;
        }
        Ok(())
    }

    /// The claim of a run parked on its children ([`WriteOp::Claim`](crate::store::WriteOp::Claim)
    /// from the answer watcher): `None` if `record` is not waiting on children, else claimed
    /// (running, active again) when all have finished, or left waiting (its stale `answered`
    /// entry dropped) when not.
    pub(super) fn claim_parent_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        mut record: RunRecord,
        now: u64,
    ) -> Result<Option<Claim>, Error> {
        let position = record.transitions;
        let Some(all_finished) = self.children_state(txn, run, position)? else {
            return Ok(None);
        };
        self.hitl
            .waiting
            .answered
            .delete(txn, &run.0.to_be_bytes())?;
        if !all_finished {
            return Ok(Some(Claim::Waiting));
        }
        lifecycle::go_on(&mut record, now);
        self.put(txn, run, &record)?;
        self.set_active(txn, run)?;
        Ok(Some(Claim::Claimed(Box::new(record))))
    }

    /// Whether a run found waiting at start-up waits on children, and for the `answered`
    /// index whether they have all finished (the start-up check, `consistency.rs`).
    pub(super) fn waits_on_children(
        &self,
        txn: &RoTxn<'_>,
        run: RunId,
        position: u64,
    ) -> Result<Option<bool>, Error> {
        self.children_state(txn, run, position)
    }

    /// Cancels every unfinished child `parent` started (a cancel of the parent; a running
    /// child gets a request its next commit meets, and cancels its own children then).
    pub(super) fn cancel_children_in(
        &self,
        txn: &mut RwTxn<'_>,
        parent: RunId,
        now: u64,
    ) -> Result<(), Error> {
        let Some((children, _)) = self.children.tables else {
            return Ok(());
        };
        let mut found = Vec::new();
        for entry in children.prefix_iter(txn, &key(parent, &[]))? {
            let (_, v) = entry?;
            found.extend(be_u64(v).map(RunId));
        }
        for child in found {
            match self.get(txn, child)? {
                Some(record) if !record.status.is_finished() => {
                    self.cancel_in(txn, child, now)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The parent of `run` and the position of the await that started it, if `run` is a child.
    pub(super) fn parent_in(
        &self,
        txn: &RoTxn<'_>,
        run: RunId,
    ) -> Result<Option<(RunId, u64)>, Error> {
        let Some((_, parents)) = self.children.tables else {
            return Ok(None);
        };
        Ok(parents
            .get(txn, &run.0.to_be_bytes())?
            .and_then(split_pair)
            .map(|(parent, position)| (RunId(parent), position)))
    }

    /// Every child `parent` started, in the order of the awaits that started them.
    pub(super) fn children_of_in(
        &self,
        txn: &RoTxn<'_>,
        parent: RunId,
    ) -> Result<Vec<RunId>, Error> {
        let Some((children, _)) = self.children.tables else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        for entry in children.prefix_iter(txn, &key(parent, &[]))? {
            let (_, v) = entry?;
            found.extend(be_u64(v).map(RunId));
        }
        Ok(found)
    }

    /// Drops `run`'s entries in both tables, when it is purged: its link to its parent and its
    /// own list of children (the children themselves are runs of their own, kept).
    pub(super) fn forget_children_in(&self, txn: &mut RwTxn<'_>, run: RunId) -> Result<(), Error> {
        let Some((children, parents)) = self.children.tables else {
            return Ok(());
        };
        delete_prefix(children, txn, &key(run, &[]))?;
        parents.delete(txn, &run.0.to_be_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, WriteOp};

    fn record(workflow: &str) -> RunRecord {
        RunRecord::new(workflow, 7, vec![1], 1_000)
    }

    fn start_child(store: &LmdbStore, parent: RunId, slot: u32) -> (RunId, bool) {
        let op = WriteOp::StartChild {
            parent,
            position: 0,
            slot,
            record: record("kid"),
        };
        store.apply_one(op).unwrap().unique().unwrap()
    }

    fn park(store: &LmdbStore, parent: RunId) -> bool {
        let op = WriteOp::AwaitChildren {
            parent,
            position: 0,
        };
        store.apply_one(op).unwrap().parked().unwrap()
    }

    fn status(store: &LmdbStore, run: RunId) -> Status {
        store.load(run).unwrap().unwrap().status
    }

    fn answered(store: &LmdbStore, run: RunId) -> bool {
        let txn = store.env.read_txn().unwrap();
        let k = run.0.to_be_bytes();
        store.hitl.waiting.answered.get(&txn, &k).unwrap().is_some()
    }

    fn fail(store: &LmdbStore, run: RunId) {
        let op = WriteOp::Fail {
            run,
            position: 0,
            message: "boom".to_owned(),
            history: None,
        };
        store.apply_one(op).unwrap().done().unwrap();
    }

    #[test]
    fn the_last_child_to_finish_queues_its_parked_parent_for_a_claim() {
        let dir = tempfile::tempdir().unwrap();
        let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
        let parent = store.create_run(&record("parent")).unwrap();
        let (a, created) = start_child(&store, parent, 0);
        assert!(created);
        assert_eq!(start_child(&store, parent, 0), (a, false));
        let (b, _) = start_child(&store, parent, 1);
        assert_eq!(store.children_of(parent).unwrap(), [a, b]);
        assert_eq!(store.parent_of(b).unwrap(), Some((parent, 0)));
        assert!(park(&store, parent));
        assert_eq!(status(&store, parent), Status::Waiting);
        // Start-up finds the parked parent as it is: not active, not answered.
        store.check_indexes(2_000).unwrap();
        let active = |store: &LmdbStore| {
            let (runs, _) = store.active_after(None, 10).unwrap();
            runs.into_iter().map(|(run, _)| run).collect::<Vec<_>>()
        };
        assert_eq!(active(&store), [a, b]);

        fail(&store, a);
        assert!(!answered(&store, parent), "b has not finished");
        let claim = store.apply_one(WriteOp::Claim { run: parent }).unwrap();
        assert!(matches!(claim.claim().unwrap(), Claim::Waiting));
        fail(&store, b);
        assert!(answered(&store, parent));
        store.check_indexes(3_000).unwrap();
        assert!(answered(&store, parent), "the start-up check keeps it");
        let claim = store.apply_one(WriteOp::Claim { run: parent }).unwrap();
        assert!(matches!(claim.claim().unwrap(), Claim::Claimed(_)));
        assert!(!answered(&store, parent));
        assert_eq!(status(&store, parent), Status::Pending);
        // Every child has finished: the parent goes on without parking.
        assert!(!park(&store, parent));
    }

    #[test]
    fn a_cancel_of_the_parent_reaches_every_unfinished_descendant() {
        let dir = tempfile::tempdir().unwrap();
        let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
        let parent = store.create_run(&record("parent")).unwrap();
        let (child, _) = start_child(&store, parent, 0);
        let (done, _) = start_child(&store, parent, 1);
        fail(&store, done);
        let grandchild = {
            let op = WriteOp::StartChild {
                parent: child,
                position: 0,
                slot: 0,
                record: record("grandkid"),
            };
            store.apply_one(op).unwrap().created().unwrap()
        };
        assert!(park(&store, child));
        assert!(park(&store, parent));
        store
            .apply_one(WriteOp::Cancel { run: parent })
            .unwrap()
            .done()
            .unwrap();
        assert_eq!(status(&store, parent), Status::Cancelled);
        assert_eq!(status(&store, child), Status::Cancelled);
        assert_eq!(status(&store, grandchild), Status::Cancelled);
        assert_eq!(
            status(&store, done),
            Status::Failed,
            "a finished child is left alone"
        );
        assert!(!answered(&store, parent));
        // A purge forgets the parent's links, not the children.
        store.apply_one(WriteOp::Purge { run: parent }).unwrap();
        assert!(store.children_of(parent).unwrap().is_empty());
        assert_eq!(status(&store, child), Status::Cancelled);
    }
}
