//! The listing indexes: what [`Client::list_runs`](crate::Client::list_runs),
//! [`Client::count_by_status`](crate::Client::count_by_status) and purges read instead of
//! every run record.
//!
//! Five databases:
//!
//! - `listed`: run -> [`Listed`] (status code, creation time, finish time, workflow): every
//!   run's entry, the one place that says which keys of the other four it has, so that a
//!   move deletes exactly those;
//! - `by_status`: status code (`u32`) ‖ run -> empty, runs of one status in id order;
//! - `by_workflow`: name length (`u32`) ‖ name ‖ run -> empty, runs of one workflow in id order;
//! - `finished`: finish time (ms) ‖ run -> empty, finished runs oldest first, for purges;
//! - `status_counts`: status code -> number of runs (`u64`), so counting reads no run.
//!
//! All big-endian. The status code is the status's stored discriminant (its variant index,
//! what postcard writes in the record), computed through serde ([`status_code`]), so a
//! status added to [`Status`] needs no change here. A quarantined run is filed under
//! [`Status::Corrupt`] (its record may be what is damaged), with its record's workflow and
//! creation time if it decodes.
//!
//! [`LmdbStore::put`] calls [`LmdbStore::track_listing`] for every record it writes: one read
//! of the run's entry (about 0.14 µs, measured by `listing_cost` below), and writes only when
//! the status (or a finished run's finish time) changed. An ordinary transition (running to
//! running, through `update_in`) skips even the read: its entry cannot change. Quarantine
//! moves a run to `Corrupt` ([`LmdbStore::list_as_corrupt`]), a purge removes every key of it
//! ([`LmdbStore::unlist`]). Directories of format 4 get them built on open
//! ([`Tables::open`]); the start-up check ([`super::consistency`]) compares them with the
//! records like the other indexes.

use std::collections::BTreeMap;
use std::ops::Bound;

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, RoTxn, RwTxn, WithoutTls};

use super::{FORMAT_KEY, LmdbStore, Meta, Runs, be_pair, be_u64, split_pair};
use crate::client::listing::{RunFilter, StatusCounts};
use crate::error::Error;
use crate::run::{RunId, RunStatus, Status};
use crate::store::RunRecord;

/// Number of LMDB databases opened here.
pub(super) const DATABASES: u32 = 5;

/// The format that added these indexes.
pub(super) const LISTED_FORMAT: u32 = 5;

/// The workflow of a run whose record does not decode.
const UNKNOWN_WORKFLOW: &str = "<unknown>";

type ByteDb = Database<'static, Bytes, Bytes>;

pub(super) struct Tables {
    pub(super) listed: ByteDb,
    pub(super) by_status: ByteDb,
    pub(super) by_workflow: ByteDb,
    pub(super) finished: ByteDb,
    pub(super) counts: ByteDb,
}

/// The stored discriminant of `status`: its variant index, as postcard writes it in a
/// record (a varint of the index, which decodes as a `u32`).
pub(crate) fn status_code(status: Status) -> u32 {
    let mut buf = [0u8; 8];
    postcard::to_slice(&status, &mut buf)
        .ok()
        .and_then(|bytes| postcard::from_bytes::<u32>(bytes).ok())
        .unwrap_or(u32::MAX)
}

/// The status stored as `code`; `None` for one this build does not know (a newer build's).
pub(crate) fn status_of(code: u32) -> Option<Status> {
    let mut buf = [0u8; 8];
    let bytes = postcard::to_slice(&code, &mut buf).ok()?;
    postcard::from_bytes::<Status>(bytes).ok()
}

/// A run's entry in `listed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Listed {
    pub code: u32,
    pub created_ms: u64,
    /// When it finished (its record's last update); `None` unless finished.
    pub finished_ms: Option<u64>,
    pub workflow: Vec<u8>,
}

impl Listed {
    /// The entry a run with `record` (`None`: unreadable) must have; `quarantined` files it
    /// under [`Status::Corrupt`].
    pub(super) fn of(record: Option<&RunRecord>, quarantined: bool) -> Listed {
        let status = match record {
            Some(record) if !quarantined => record.status,
            _ => Status::Corrupt,
        };
        Listed {
            code: status_code(status),
            created_ms: record.map_or(0, |r| r.created_at_ms),
            finished_ms: record
                .filter(|_| status.is_finished())
                .map(|r| r.updated_at_ms),
            workflow: record
                .map_or(UNKNOWN_WORKFLOW, |r| r.workflow.as_str())
                .as_bytes()
                .to_vec(),
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(21 + self.workflow.len());
        out.extend_from_slice(&self.code.to_be_bytes());
        out.extend_from_slice(&self.created_ms.to_be_bytes());
        match self.finished_ms {
            Some(t) => {
                out.push(1);
                out.extend_from_slice(&t.to_be_bytes());
            }
            None => out.extend_from_slice(&[0; 9]),
        }
        out.extend_from_slice(&self.workflow);
        out
    }

    /// `None` for bytes of another layout (damage): the start-up check rewrites the entry.
    fn decode(bytes: &[u8]) -> Option<Listed> {
        let code = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?);
        let created_ms = be_u64(bytes.get(4..12)?)?;
        let finished_ms = match bytes.get(12)? {
            0 => None,
            1 => Some(be_u64(bytes.get(13..21)?)?),
            _ => return None,
        };
        Some(Listed {
            code,
            created_ms,
            finished_ms,
            workflow: bytes.get(21..)?.to_vec(),
        })
    }
}

fn status_key(code: u32, run: RunId) -> [u8; 12] {
    let mut key = [0; 12];
    key[..4].copy_from_slice(&code.to_be_bytes());
    key[4..].copy_from_slice(&run.0.to_be_bytes());
    key
}

fn workflow_prefix(workflow: &[u8]) -> Vec<u8> {
    let len = u32::try_from(workflow.len()).unwrap_or(u32::MAX);
    let mut key = len.to_be_bytes().to_vec();
    key.extend_from_slice(workflow);
    key
}

fn workflow_key(workflow: &[u8], run: RunId) -> Vec<u8> {
    let mut key = workflow_prefix(workflow);
    key.extend_from_slice(&run.0.to_be_bytes());
    key
}

/// The run id at the end of an index key.
fn run_of(key: &[u8]) -> Option<RunId> {
    key.len()
        .checked_sub(8)
        .and_then(|at| be_u64(&key[at..]))
        .map(RunId)
}

/// Every entry each table must hold, derived from the runs (the build of an older
/// directory, and the start-up check).
#[derive(Default)]
pub(super) struct Expected {
    pub listed: BTreeMap<Vec<u8>, Vec<u8>>,
    pub by_status: BTreeMap<Vec<u8>, Vec<u8>>,
    pub by_workflow: BTreeMap<Vec<u8>, Vec<u8>>,
    pub finished: BTreeMap<Vec<u8>, Vec<u8>>,
    counts: BTreeMap<u32, u64>,
}

impl Expected {
    pub(super) fn add(&mut self, run: RunId, listed: &Listed) {
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
    pub(super) fn quarantine(&mut self, run: RunId, record: Option<&RunRecord>) {
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

    pub(super) fn counts(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(code, n)| (code.to_be_bytes().to_vec(), n.to_be_bytes().to_vec()))
            .collect()
    }
}

impl Tables {
    /// Opens (creating if needed) the indexes, building them from the records if the
    /// directory's format predates them. After the quarantine table, which it reads.
    pub(super) fn open(
        env: &Env<WithoutTls>,
        runs: Runs,
        meta: Meta,
        quarantine: Option<ByteDb>,
    ) -> Result<Tables, Error> {
        if super::read_only::is_read_only(env) {
            use super::read_only::open_existing;
            return Ok(Tables {
                listed: open_existing(env, "listed")?,
                by_status: open_existing(env, "by_status")?,
                by_workflow: open_existing(env, "by_workflow")?,
                finished: open_existing(env, "finished")?,
                counts: open_existing(env, "status_counts")?,
            });
        }
        let wtxn = env.write_txn()?;
        let tables = env
            .create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, Error> {
                let mut open = |name: &str| -> Result<Database<'_, Bytes, Bytes>, Error> {
                    Ok(opener.create_database(wtxn, Some(name))?)
                };
                let listed = open("listed")?;
                let by_status = open("by_status")?;
                let by_workflow = open("by_workflow")?;
                let finished = open("finished")?;
                let counts = open("status_counts")?;
                if super::stored_format(meta, wtxn)? < LISTED_FORMAT {
                    let expected = derive(wtxn, runs, quarantine)?;
                    for (db, entries) in [
                        (listed, &expected.listed),
                        (by_status, &expected.by_status),
                        (by_workflow, &expected.by_workflow),
                        (finished, &expected.finished),
                        (counts, &expected.counts()),
                    ] {
                        db.clear(wtxn)?;
                        for (k, v) in entries {
                            db.put(wtxn, k, v)?;
                        }
                    }
                    tracing::info!(
                        runs = expected.listed.len(),
                        "built the listing indexes of an older data directory"
                    );
                    meta.put(wtxn, FORMAT_KEY, &LISTED_FORMAT.to_be_bytes())?;
                }
                Ok(CommitOrAbort::<_, ()>::Commit((
                    listed,
                    by_status,
                    by_workflow,
                    finished,
                    counts,
                )))
            })?
            .unwrap_commit();
        let (listed, by_status, by_workflow, finished, counts) = tables;
        Ok(Tables {
            listed,
            by_status,
            by_workflow,
            finished,
            counts,
        })
    }
}

/// The entries of every run of an older directory: one pass over the records.
fn derive(txn: &RoTxn<'_>, runs: Runs, quarantine: Option<ByteDb>) -> Result<Expected, Error> {
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

impl LmdbStore {
    fn listed_in(&self, txn: &RoTxn<'_>, run: RunId) -> Result<Option<Listed>, Error> {
        Ok(self
            .listing
            .listed
            .get(txn, &run.0.to_be_bytes())?
            .and_then(Listed::decode))
    }

    /// Files `run` under the status `record` has (see the module doc), unless it is
    /// quarantined, which keeps it under [`Status::Corrupt`]. Called by [`LmdbStore::put`].
    pub(super) fn track_listing(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        record: &RunRecord,
    ) -> Result<(), Error> {
        let old = self.listed_in(txn, run)?;
        let code = status_code(record.status);
        let finished_ms = record.status.is_finished().then_some(record.updated_at_ms);
        if let Some(old) = &old {
            if old.code == code && old.finished_ms == finished_ms {
                return Ok(());
            }
            if old.code == status_code(Status::Corrupt)
                && self.quarantine_entry_in(txn, run)?.is_some()
            {
                return Ok(());
            }
        }
        let new = Listed::of(Some(record), false);
        self.move_listing(txn, run, old, Some(new))
    }

    /// Files `run` under [`Status::Corrupt`]: it is being quarantined.
    pub(super) fn list_as_corrupt(&self, txn: &mut RwTxn<'_>, run: RunId) -> Result<(), Error> {
        let old = self.listed_in(txn, run)?;
        let record = self.get(txn, run).ok().flatten();
        let new = Listed::of(record.as_ref(), true);
        self.move_listing(txn, run, old, Some(new))
    }

    /// Removes every listing entry of `run` (it is being purged).
    pub(super) fn unlist(&self, txn: &mut RwTxn<'_>, run: RunId) -> Result<(), Error> {
        let old = self.listed_in(txn, run)?;
        self.move_listing(txn, run, old, None)
    }

    /// Deletes the keys of `old` and writes those of `new`, keeping the counts.
    fn move_listing(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        old: Option<Listed>,
        new: Option<Listed>,
    ) -> Result<(), Error> {
        let t = &self.listing;
        if let Some(old) = &old {
            t.by_status.delete(txn, &status_key(old.code, run))?;
            self.add_count(txn, old.code, -1)?;
            if let Some(f) = old.finished_ms {
                t.finished.delete(txn, &be_pair(f, run.0))?;
            }
            if new.as_ref().is_none_or(|new| new.workflow != old.workflow) {
                t.by_workflow
                    .delete(txn, &workflow_key(&old.workflow, run))?;
            }
        }
        let id = run.0.to_be_bytes();
        match &new {
            Some(new) => {
                t.by_status.put(txn, &status_key(new.code, run), &[])?;
                self.add_count(txn, new.code, 1)?;
                if let Some(f) = new.finished_ms {
                    t.finished.put(txn, &be_pair(f, run.0), &[])?;
                }
                if old.as_ref().is_none_or(|old| old.workflow != new.workflow) {
                    t.by_workflow
                        .put(txn, &workflow_key(&new.workflow, run), &[])?;
                }
                t.listed.put(txn, &id, &new.encode())?;
            }
            None => {
                t.listed.delete(txn, &id)?;
            }
        }
        Ok(())
    }

    fn add_count(&self, txn: &mut RwTxn<'_>, code: u32, delta: i64) -> Result<(), Error> {
        let key = code.to_be_bytes();
        let count = self.listing.counts.get(txn, &key)?.and_then(be_u64);
        let count = count.unwrap_or(0).saturating_add_signed(delta);
        if count == 0 {
            self.listing.counts.delete(txn, &key)?;
        } else {
            self.listing.counts.put(txn, &key, &count.to_be_bytes())?;
        }
        Ok(())
    }

    /// [`Store::count_by_status`](crate::store::Store::count_by_status).
    pub(crate) fn count_by_status_impl(&self) -> Result<StatusCounts, Error> {
        let txn = self.env.read_txn()?;
        let mut counts = StatusCounts::default();
        for entry in self.listing.counts.iter(&txn)? {
            let (k, v) = entry?;
            let code = <[u8; 4]>::try_from(k).ok().map(u32::from_be_bytes);
            if let (Some(code), Some(count)) = (code, be_u64(v))
                && let Some(status) = status_of(code)
            {
                counts.counts.insert(code, (status, count));
            }
        }
        Ok(counts)
    }

    /// The runs `filter` selects after `after`, in id order, reading at most what it takes
    /// to fill `limit`: from the index of its status, else of its workflow, else every
    /// entry of `listed`; the other bounds are checked on each run's `listed` entry, and
    /// only the runs returned have their records read. Returns them and the last id looked
    /// at if more may follow.
    pub(crate) fn list_runs_impl(
        &self,
        filter: &RunFilter,
        after: Option<RunId>,
        limit: usize,
    ) -> Result<(Vec<RunStatus>, Option<RunId>), Error> {
        let txn = self.env.read_txn()?;
        let after_id = after.map_or(0, |r| r.0);
        // The index to walk: a prefix, and where in it to start.
        let (db, prefix) = match (filter.status, &filter.workflow) {
            (Some(status), _) => (
                self.listing.by_status,
                status_code(status).to_be_bytes().to_vec(),
            ),
            (None, Some(name)) => (self.listing.by_workflow, workflow_prefix(name.as_bytes())),
            (None, None) => (self.listing.listed, Vec::new()),
        };
        let mut start = prefix.clone();
        start.extend_from_slice(&after_id.to_be_bytes());
        let end = super::successor(&prefix);
        let range = (
            match after {
                Some(_) => Bound::Excluded(&start[..]),
                // LMDB refuses an empty key, even as a bound.
                None if prefix.is_empty() => Bound::Unbounded,
                None => Bound::Included(&prefix[..]),
            },
            end.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
        );
        let mut runs = Vec::new();
        let mut last = None;
        for entry in db.range(&txn, &range)? {
            if runs.len() >= limit {
                // One more entry exists: there is a next page.
                return Ok((runs, last));
            }
            let (k, _) = entry?;
            let Some(run) = run_of(k) else { continue };
            last = Some(run);
            let Some(listed) = self.listed_in(&txn, run)? else {
                continue; // a stale entry: dropped by the start-up check
            };
            let status_ok = filter.status.is_none_or(|s| status_code(s) == listed.code);
            if status_ok && filter.admits(&listed.workflow, listed.created_ms, listed.finished_ms) {
                match self.run_status_in(&txn, run) {
                    Ok(status) => runs.push(status),
                    Err(Error::UnknownRun { .. }) => {} // a stale entry, as above
                    Err(e) => return Err(e),
                }
            }
        }
        Ok((runs, None))
    }

    /// Up to `limit` finished runs that `filter` selects, oldest finish first, from the
    /// `finished` index: what one batch of a purge deletes.
    pub(super) fn purgeable_in(
        &self,
        txn: &RoTxn<'_>,
        filter: &RunFilter,
        limit: usize,
    ) -> Result<Vec<RunId>, Error> {
        let from = filter.finished.0.map(|t| be_pair(t, 0));
        let to = filter.finished.1.map(|t| be_pair(t, 0));
        let range = (
            from.as_ref()
                .map_or(Bound::Unbounded, |k| Bound::Included(&k[..])),
            to.as_ref()
                .map_or(Bound::Unbounded, |k| Bound::Excluded(&k[..])),
        );
        let mut out = Vec::new();
        for entry in self.listing.finished.range(txn, &range)? {
            if out.len() >= limit {
                break;
            }
            let (k, _) = entry?;
            let Some((_, id)) = split_pair(k) else {
                continue;
            };
            let run = RunId(id);
            let Some(listed) = self.listed_in(txn, run)? else {
                continue;
            };
            let status_ok = filter.status.is_none_or(|s| status_code(s) == listed.code);
            let finished = status_of(listed.code).is_some_and(Status::is_finished);
            if finished
                && status_ok
                && filter.admits(&listed.workflow, listed.created_ms, listed.finished_ms)
            {
                out.push(run);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::state::StateWrites;
    use crate::store::{Store, StoredSleep, WriteOp};

    fn history() -> crate::history::HistoryRecord {
        crate::history::HistoryRecord {
            number: 0,
            state: "Done".to_owned(),
            step: None,
            started_at_ms: 1,
            ended_at_ms: 2,
            attempts: 1,
            attempt_errors: Vec::new(),
            outcome: crate::history::HistoryOutcome::Completed,
        }
    }

    fn ids(store: &LmdbStore, filter: &RunFilter) -> Vec<u64> {
        let (runs, more) = store.list_runs(filter, None, 100).unwrap();
        assert_eq!(more, None);
        runs.iter().map(|r| r.id.0).collect()
    }

    fn counts(store: &LmdbStore) -> Vec<(Status, u64)> {
        store.count_by_status().unwrap().iter().collect()
    }

    /// Everything in the five tables, to compare before and after a rebuild.
    fn dump(store: &LmdbStore) -> Vec<Vec<(Vec<u8>, Vec<u8>)>> {
        let txn = store.env.read_txn().unwrap();
        let t = &store.listing;
        [t.listed, t.by_status, t.by_workflow, t.finished, t.counts]
            .iter()
            .map(|db| {
                db.iter(&txn)
                    .unwrap()
                    .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn every_status_change_moves_the_run_and_the_check_and_an_older_directory_agree() {
        let dir = tempfile::tempdir().unwrap();
        let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
        let new = |workflow, created| {
            store
                .create_run(&RunRecord::new(workflow, 7, vec![], created))
                .unwrap()
        };
        let (a, b, c, d) = (new("w1", 10), new("w2", 20), new("w1", 30), new("w1", 40));
        assert_eq!(counts(&store), vec![(Status::Pending, 4)]);
        let writes = StateWrites::default();
        let complete = WriteOp::Complete {
            run: a,
            output: vec![],
            writes: writes.clone(),
            history: history(),
        };
        crate::store::group_commit::write_one(&store, &complete, 1_000).unwrap();
        store.fail(b, "boom", None).unwrap();
        let sleep = StoredSleep {
            started_ms: 1,
            wake_ms: 500,
        };
        store.suspend(c, 0, sleep).unwrap();
        assert_eq!(
            counts(&store),
            vec![
                (Status::Pending, 1),
                (Status::Completed, 1),
                (Status::Failed, 1),
                (Status::Waiting, 1)
            ]
        );
        assert_eq!(
            ids(&store, &RunFilter::new().status(Status::Completed)),
            [a.0]
        );
        assert_eq!(
            ids(&store, &RunFilter::new().workflow("w1")),
            [a.0, c.0, d.0]
        );
        let w1_pending = RunFilter::new().workflow("w1").status(Status::Pending);
        assert_eq!(ids(&store, &w1_pending), [d.0]);
        let t = |ms| std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
        let created = RunFilter::new().created_since(t(20)).created_before(t(40));
        assert_eq!(ids(&store, &created), [b.0, c.0]);
        let finished = RunFilter::new().finished_before(t(1_001));
        assert_eq!(ids(&store, &finished), [a.0]);
        // A page at a time: the cursor is the last id looked at.
        let (page, next) = store.list_runs(&RunFilter::new(), None, 2).unwrap();
        assert_eq!((page.len(), next), (2, Some(b)));
        let (page, next) = store.list_runs(&RunFilter::new(), next, 2).unwrap();
        assert_eq!((page[0].id, page[1].id, next), (c, d, None));

        // Quarantined: filed as corrupt, whatever its record says; released: back.
        let quarantine = WriteOp::Quarantine {
            run: c,
            reason: "damaged".to_owned(),
        };
        store.apply_one(quarantine).unwrap();
        assert_eq!(
            ids(&store, &RunFilter::new().status(Status::Waiting)),
            Vec::<u64>::new()
        );
        let (corrupt, _) = store
            .list_runs(&RunFilter::new().status(Status::Corrupt), None, 10)
            .unwrap();
        assert_eq!((corrupt[0].id, corrupt[0].status), (c, Status::Corrupt));
        let reopened = store.reopen(b).unwrap();
        assert_eq!(reopened.status, Status::Pending);
        assert_eq!(
            ids(&store, &RunFilter::new().status(Status::Pending)),
            [b.0, d.0]
        );
        // The check finds them as the writes left them (it drops the quarantined run's
        // wake-up, which is none of these tables).
        let before = dump(&store);
        store.check_indexes(0).unwrap();
        assert_eq!(dump(&store), before);
        store.apply_one(WriteOp::Release { run: c }).unwrap();
        assert_eq!(
            ids(&store, &RunFilter::new().status(Status::Running)),
            Vec::<u64>::new()
        );
        assert_eq!(
            ids(&store, &RunFilter::new().status(Status::Pending)),
            [b.0, c.0, d.0]
        );
        let expected = dump(&store);

        // Damaged: the start-up check rebuilds them.
        let mut txn = store.write_txn().unwrap();
        for db in [store.listing.by_status, store.listing.counts] {
            db.clear(&mut txn).unwrap();
        }
        store
            .listing
            .by_workflow
            .put(&mut txn, &workflow_key(b"w9", RunId(77)), &[])
            .unwrap();
        txn.commit().unwrap();
        let report = store.check_indexes(0).unwrap();
        assert!(report.reindexed > 0 && report.removed == 1, "{report:?}");
        assert_eq!(dump(&store), expected);

        // A format 4 directory (before these indexes) gets them built on open.
        let mut txn = store.write_txn().unwrap();
        let t = &store.listing;
        for db in [t.listed, t.by_status, t.by_workflow, t.finished, t.counts] {
            db.clear(&mut txn).unwrap();
        }
        store
            .meta
            .put(&mut txn, FORMAT_KEY, &4u32.to_be_bytes())
            .unwrap();
        txn.commit().unwrap();
        let closed = store.closing_event();
        drop(store);
        closed.wait();
        let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
        assert_eq!(dump(&store), expected);
        let txn = store.env.read_txn().unwrap();
        let format = store.meta.get(&txn, FORMAT_KEY).unwrap().unwrap();
        assert_eq!(format, LISTED_FORMAT.to_be_bytes());
    }

    /// What the listing indexes add to an ordinary transition (running to running: one
    /// lookup of the run's entry), next to a whole transition committed alone:
    /// `cargo test -p cairn-runtime --release --lib listing_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement"]
    fn listing_cost() {
        let dir = tempfile::tempdir().unwrap();
        let durability = crate::durability::Durability::ProcessCrash;
        let store = LmdbStore::open_with(dir.path(), 1 << 30, durability, false, true).unwrap();
        let n = 20_000u64;
        let mut runs = Vec::new();
        for _ in 0..n {
            let run = store
                .create_run(&RunRecord::new("w", 7, vec![0; 32], 0))
                .unwrap();
            runs.push(run);
        }
        let commit = |run: RunId| WriteOp::CommitState {
            run,
            state_name: "Next",
            step: Some("s"),
            state: vec![1; 200],
            writes: StateWrites::default(),
            history: history(),
            items: Vec::new(),
        };
        for &run in &runs {
            crate::store::group_commit::write_one(&store, &commit(run), 1).unwrap();
        }
        for round in 0..3 {
            let started = std::time::Instant::now();
            for &run in &runs {
                crate::store::group_commit::write_one(&store, &commit(run), 1).unwrap();
            }
            let transition = started.elapsed() / n as u32;
            let records: Vec<RunRecord> = runs
                .iter()
                .map(|&r| store.load(r).unwrap().unwrap())
                .collect();
            let mut txn = store.write_txn().unwrap();
            let started = std::time::Instant::now();
            for (&run, record) in runs.iter().zip(&records) {
                store.track_listing(&mut txn, run, record).unwrap();
            }
            let tracking = started.elapsed() / n as u32;
            drop(txn);
            println!(
                "round {round}: a transition committed alone (process-crash) {transition:?}; \
                 the listing lookup a status write adds {tracking:?} (skipped by a transition)"
            );
        }
    }

    #[test]
    fn status_codes_are_the_stored_discriminants() {
        for (n, status) in [
            Status::Pending,
            Status::Running,
            Status::Completed,
            Status::Failed,
            Status::Waiting,
            Status::Corrupt,
        ]
        .into_iter()
        .enumerate()
        {
            assert_eq!(status_code(status), u32::try_from(n).unwrap());
            assert_eq!(status_of(status_code(status)), Some(status));
        }
        assert_eq!(status_of(1_000), None);
    }

    #[test]
    fn an_entry_round_trips() {
        let listed = Listed {
            code: 3,
            created_ms: 5,
            finished_ms: Some(9),
            workflow: b"w".to_vec(),
        };
        assert_eq!(Listed::decode(&listed.encode()), Some(listed));
        let unfinished = Listed {
            finished_ms: None,
            ..Listed::of(None, true)
        };
        assert_eq!(Listed::decode(&unfinished.encode()), Some(unfinished));
    }
}
