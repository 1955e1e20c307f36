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
//! the status (or a finished run's finish time) changed; the counts a batch of the group
//! committer moves are summed and written once at its end ([`count_deltas`]). An ordinary transition (running to
//! running, through `update_in`) skips even the read: its entry cannot change. Quarantine
//! moves a run to `Corrupt` ([`LmdbStore::list_as_corrupt`]), a purge removes every key of it
//! ([`LmdbStore::unlist`]). Directories of format 4 get them built on open
//! ([`Tables::open`]); the start-up check ([`super::consistency`]) compares them with the
//! records like the other indexes.

use std::ops::Bound;

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, RoTxn, RwTxn, WithoutTls};

use super::{FORMAT_KEY, LmdbStore, Meta, Runs, be_pair, be_u64, split_pair};
use crate::client::listing::{RunFilter, StatusCounts};
use crate::error::Error;
use crate::run::{RunId, RunStatus, Status};
use crate::store::RunRecord;
use crate::store::stored_record::Started;

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

    /// The entry of a run that has just left [`Status::Pending`] for [`Status::Running`]
    /// (see `checkpoint.rs`): what [`Listed::of`] gives for its record.
    pub(super) fn running(started: Started) -> Listed {
        Listed {
            code: status_code(Status::Running),
            created_ms: started.created_at_ms,
            finished_ms: None,
            workflow: started.workflow.into_bytes(),
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
        let code = status_code(record.status);
        let finished_ms = record.status.is_finished().then_some(record.updated_at_ms);
        self.track(txn, run, code, finished_ms, || {
            Listed::of(Some(record), false)
        })
    }

    /// [`track_listing`](Self::track_listing) for a run whose entry is to be `new` (built
    /// from what the caller has rather than from a whole record).
    pub(super) fn track_listed(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        new: Listed,
    ) -> Result<(), Error> {
        let (code, finished_ms) = (new.code, new.finished_ms);
        self.track(txn, run, code, finished_ms, || new)
    }

    /// Moves `run`'s entry to the one `new` builds, unless its status code and finish time
    /// are already `code` and `finished_ms`, or it is quarantined.
    fn track(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        code: u32,
        finished_ms: Option<u64>,
        new: impl FnOnce() -> Listed,
    ) -> Result<(), Error> {
        let old = self.listed_in(txn, run)?;
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
        self.move_listing(txn, run, old, Some(new()))
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

    /// Moves the count of `code` by `delta`: summed for the end of the batch if one is being
    /// applied on this thread ([`count_deltas`]), else written now.
    fn add_count(&self, txn: &mut RwTxn<'_>, code: u32, delta: i64) -> Result<(), Error> {
        if count_deltas::gather(code, delta) {
            return Ok(());
        }
        self.write_count(txn, code, delta)
    }

    /// Writes the count of `code` moved by `delta` (never below zero; deleted at zero).
    pub(super) fn write_count(
        &self,
        txn: &mut RwTxn<'_>,
        code: u32,
        delta: i64,
    ) -> Result<(), Error> {
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

/// The status counts of a batch, written once at its end.
pub(super) mod count_deltas;
mod expected;
#[cfg(test)]
mod tests;

pub(super) use expected::Expected;
use expected::derive;
