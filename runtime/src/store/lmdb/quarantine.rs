//! The `quarantine` table (run -> sealed [`StoredEntry`]) and the ways out of it: release
//! (resume), fail, purge. See [`crate::quarantine`] for why a table and not a status.

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, RoTxn, RwTxn, WithoutTls};

use super::retention::TimeKeyed;
use super::{LmdbStore, be_u64};
use crate::error::Error;
use crate::lifecycle;
use crate::quarantine::{StoredEntry, listed_status};
use crate::run::{RunId, RunStatus, Status};
use crate::store::RunRecord;

/// Number of LMDB databases opened here.
pub(super) const DATABASES: u32 = 1;

pub(super) struct Table {
    /// `None` only in a directory opened read-only that was written before the table.
    quarantine: Option<Database<'static, Bytes, Bytes>>,
}

impl Table {
    /// The table, to write: a store without it is read-only, whose writes are refused first.
    pub(super) fn db(&self) -> Result<Database<'static, Bytes, Bytes>, Error> {
        self.quarantine.ok_or(Error::ReadOnly {
            path: std::path::PathBuf::new(),
        })
    }
}

impl Table {
    /// Opens (creating if needed) the table, in its own write transaction; read-only, an
    /// older directory without it has nothing quarantined.
    pub(super) fn open(env: &Env<WithoutTls>, read_only: bool) -> Result<Table, Error> {
        if read_only {
            let rtxn = env.read_txn()?;
            let quarantine = env
                .open_databases_and_commit(rtxn, |opener, rtxn| -> Result<_, Error> {
                    let db: Option<Database<'_, Bytes, Bytes>> =
                        opener.open_database(rtxn, Some("quarantine"))?;
                    Ok(CommitOrAbort::<_, ()>::Commit(db))
                })?
                .unwrap_commit();
            // A directory written before the table has nothing quarantined.
            return Ok(Table { quarantine });
        }
        let wtxn = env.write_txn()?;
        let quarantine = env
            .create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, Error> {
                let db: Database<'_, Bytes, Bytes> =
                    opener.create_database(wtxn, Some("quarantine"))?;
                Ok(CommitOrAbort::<_, ()>::Commit(db))
            })?
            .unwrap_commit();
        Ok(Table {
            quarantine: Some(quarantine),
        })
    }
}

/// The entry of a damaged quarantine value: the run stays quarantined, saying so.
fn unreadable_entry(e: impl std::fmt::Display) -> StoredEntry {
    StoredEntry {
        reason: format!("quarantine entry does not decode: {e}"),
        since_ms: 0,
    }
}

impl LmdbStore {
    pub(super) fn quarantine_entry_in(
        &self,
        txn: &RoTxn<'_>,
        run: RunId,
    ) -> Result<Option<StoredEntry>, Error> {
        let Some(db) = self.quarantine.quarantine else {
            return Ok(None);
        };
        Ok(db
            .get(txn, &run.0.to_be_bytes())?
            .map(|bytes| crate::codec::open_record(bytes).unwrap_or_else(unreadable_entry)))
    }

    /// Quarantines `run` with `reason` inside `txn`: the mark, and out of every index the
    /// runtime reads, so that no restart or timer touches it.
    pub(super) fn quarantine_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        reason: &str,
        now_ms: u64,
    ) -> Result<(), Error> {
        let entry = StoredEntry {
            reason: reason.to_owned(),
            since_ms: now_ms,
        };
        let bytes =
            crate::codec::seal_record(&entry, 32 + reason.len()).map_err(|e| Error::Encode {
                workflow: String::new(),
                what: "quarantine entry",
                reason: e.to_string(),
            })?;
        let id = run.0.to_be_bytes();
        self.list_as_corrupt(txn, run)?;
        self.quarantine.db()?.put(txn, &id, &bytes)?;
        self.index.active.delete(txn, &id)?;
        self.hitl.waiting.answered.delete(txn, &id)?;
        // Wake-ups and deadlines are keyed by time first: the start-up check
        // (`consistency.rs`) drops those of quarantined runs; the timer and the answer
        // watcher skip them meanwhile.
        Ok(())
    }

    /// Every quarantined run, in id order.
    pub(crate) fn quarantined_impl(&self) -> Result<Vec<(RunId, StoredEntry)>, Error> {
        let txn = self.env.read_txn()?;
        let mut out = Vec::new();
        let Some(db) = self.quarantine.quarantine else {
            return Ok(out);
        };
        for entry in db.iter(&txn)? {
            let (k, v) = entry?;
            let Some(run) = be_u64(k).map(RunId) else {
                continue; // dropped by the start-up check
            };
            out.push((
                run,
                crate::codec::open_record(v).unwrap_or_else(unreadable_entry),
            ));
        }
        Ok(out)
    }

    /// Takes `run` out of quarantine to run it again: in one transaction, the mark is removed
    /// and the run marked running (or pending) and active. A record that still does not
    /// decode is [`Error::CorruptState`], and the run stays quarantined (the caller records
    /// the new reason).
    pub(super) fn release_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        now_ms: u64,
    ) -> Result<RunRecord, Error> {
        let Some(_) = self.quarantine_entry_in(txn, run)? else {
            let status = self.get(txn, run)?.map_or(Status::Pending, |r| r.status);
            return Err(Error::NotQuarantined { run, status });
        };
        let mut record = self.get(txn, run)?.ok_or(Error::UnknownRun { run })?;
        // The mark goes first, so that the record's status files the run again (a
        // quarantined run stays listed as corrupt).
        self.quarantine.db()?.delete(txn, &run.0.to_be_bytes())?;
        if lifecycle::release(&mut record, now_ms) {
            self.put(txn, run, &record)?;
            self.set_active(txn, run)?;
        } else {
            self.track_listing(txn, run, &record)?;
        }
        Ok(record)
    }

    /// Fails a quarantined run with `message`: a failed run like any other from then on
    /// (resumable). Its record must decode: one that does not can only be repaired or purged.
    pub(super) fn fail_quarantined_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        message: &str,
        now_ms: u64,
    ) -> Result<(), Error> {
        if self.quarantine_entry_in(txn, run)?.is_none() {
            let status = self.get(txn, run)?.ok_or(Error::UnknownRun { run })?.status;
            return Err(Error::NotQuarantined { run, status });
        }
        // The mark goes first, as in `release_in`.
        self.quarantine.db()?.delete(txn, &run.0.to_be_bytes())?;
        self.fail_in(txn, run, None, message, None, now_ms)?;
        Ok(())
    }

    /// Deletes every entry of a quarantined or finished run, in one transaction: record,
    /// state, history, sleeps, branches, loop items, questions, the quarantine mark and its
    /// entries in every index. The time-keyed indexes (wake-ups, deadlines) are scanned for
    /// a quarantined run: its entries may be the damaged ones.
    pub(super) fn purge_in(&self, txn: &mut RwTxn<'_>, run: RunId) -> Result<(), Error> {
        let quarantined = self.quarantine_entry_in(txn, run)?.is_some();
        if !quarantined {
            let record = self.get(txn, run)?.ok_or(Error::UnknownRun { run })?;
            if !record.status.is_finished() {
                return Err(Error::NotQuarantined {
                    run,
                    status: record.status,
                });
            }
        }
        let time_keyed = if quarantined {
            TimeKeyed::Scan
        } else {
            TimeKeyed::FromRun
        };
        self.delete_run_in(txn, run, time_keyed)?;
        tracing::warn!(%run, quarantined, "run purged: every entry of it deleted");
        Ok(())
    }

    /// Every run, or those with `status`, as the client lists them: a quarantined run with
    /// [`Status::Corrupt`] and its reason as the error, a record that does not decode (found
    /// since the last start) likewise, never dropped.
    pub(crate) fn list_status_impl(&self, status: Option<Status>) -> Result<Vec<RunStatus>, Error> {
        let txn = self.env.read_txn()?;
        let mut quarantined = std::collections::BTreeMap::new();
        let entries = match self.quarantine.quarantine {
            Some(db) => Some(db.iter(&txn)?),
            None => None,
        };
        for entry in entries.into_iter().flatten() {
            let (k, v) = entry?;
            if let Some(run) = be_u64(k) {
                let entry = crate::codec::open_record(v).unwrap_or_else(unreadable_entry);
                quarantined.insert(run, entry.reason);
            }
        }
        let mut out = Vec::new();
        // Keys read as bytes: one damaged key must not fail the listing of every run.
        for entry in self.runs.remap_key_type::<Bytes>().iter(&txn)? {
            let (key, bytes) = entry?;
            let Some(id) = be_u64(key) else {
                tracing::error!(?key, "skipping a run key that is not a run id");
                continue;
            };
            let run = RunId(id);
            let decoded = Self::decode(run, bytes);
            let listed = listed_status(run, decoded, quarantined.get(&id).cloned());
            if status.is_none_or(|wanted| wanted == listed.status) {
                out.push(listed);
            }
        }
        Ok(out)
    }

    /// [`Client::status`](crate::Client::status): the record's, or [`Status::Corrupt`] for a
    /// quarantined run or one whose record does not decode.
    pub(crate) fn run_status_impl(&self, run: RunId) -> Result<RunStatus, Error> {
        let txn = self.env.read_txn()?;
        self.run_status_in(&txn, run)
    }

    /// [`run_status_impl`](Self::run_status_impl) inside `txn`.
    pub(super) fn run_status_in(&self, txn: &RoTxn<'_>, run: RunId) -> Result<RunStatus, Error> {
        let entry = self.quarantine_entry_in(txn, run)?;
        let Some(bytes) = self.runs.get(txn, &run.0)? else {
            return Err(Error::UnknownRun { run });
        };
        let decoded = Self::decode(run, bytes);
        Ok(listed_status(run, decoded, entry.map(|entry| entry.reason)))
    }
}
