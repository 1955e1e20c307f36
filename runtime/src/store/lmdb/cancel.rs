//! Cancel, pause and unpause in the LMDB backend, and the `requests` table through which they
//! reach a run whose task is live (maybe in another process).
//!
//! `requests`: run (big-endian) -> one byte, a [`Request`] (cancel or pause) for a run that
//! was running when it was asked. The run's record is not touched (its layout is the stored
//! format); instead every commit of a run's own task (a new state, a sleep, a question, its
//! end) first reads this table, one lookup in a table that is empty but for runs being
//! stopped, and applies the rule of [`lifecycle::at_commit`]:
//!
//! - cancel: the commit is dropped, the run marked cancelled and taken out of every index,
//!   the entry deleted, and the commit answers [`Outcome::Stopped`] so that the task stops;
//! - pause: the commit is written, then the run is held (paused, out of the indexes the
//!   runtime reads), the entry deleted, [`Outcome::Stopped`] again.
//!
//! A run stopped at once (pending, waiting, paused) is marked in the same write. A pending run
//! may still have a task whose first step is in flight, so it also gets the request, which
//! that task's first commit meets. Entries whose task died with its process are applied at
//! the next runtime start ([`WriteOp::SettleRequests`](crate::store::WriteOp::SettleRequests)),
//! and a purge deletes the entry of the run it deletes.

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, RwTxn, WithoutTls};

use super::hitl::deadline_key;
use super::index::wakeup_key;
use super::{LmdbStore, be_u64, key, loop_items};
use crate::error::Error;
use crate::lifecycle::{self, AtCommit, Request, Stop};
use crate::run::{RunId, Status};
use crate::store::own_commit::own_commit;
use crate::store::{Outcome, RunRecord, WriteOp};

/// Number of LMDB databases opened here.
pub(super) const DATABASES: u32 = 1;

pub(super) struct Table {
    /// `None` only in a directory opened read-only that was written before the table: it has
    /// no request, and nothing can be written to it.
    requests: Option<Database<'static, Bytes, Bytes>>,
}

impl Table {
    /// Opens (creating if needed) the table, in its own write transaction.
    pub(super) fn open(env: &Env<WithoutTls>, read_only: bool) -> Result<Table, Error> {
        if read_only {
            let rtxn = env.read_txn()?;
            let requests = env
                .open_databases_and_commit(rtxn, |opener, rtxn| -> Result<_, Error> {
                    let db: Option<Database<'_, Bytes, Bytes>> =
                        opener.open_database(rtxn, Some("requests"))?;
                    Ok(CommitOrAbort::<_, ()>::Commit(db))
                })?
                .unwrap_commit();
            return Ok(Table { requests });
        }
        let wtxn = env.write_txn()?;
        let requests = env
            .create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, Error> {
                let db: Database<'_, Bytes, Bytes> =
                    opener.create_database(wtxn, Some("requests"))?;
                Ok(CommitOrAbort::<_, ()>::Commit(db))
            })?
            .unwrap_commit();
        Ok(Table {
            requests: Some(requests),
        })
    }

    /// The table, to write: a store without it is read-only, whose writes are refused first.
    fn db(&self) -> Result<Database<'static, Bytes, Bytes>, Error> {
        self.requests.ok_or(Error::ReadOnly {
            path: std::path::PathBuf::new(),
        })
    }
}

impl LmdbStore {
    /// Applies `op` inside `txn`, after the run's request if it is a commit of a run's own
    /// task (see the module doc).
    pub(super) fn apply_with_requests(
        &self,
        txn: &mut RwTxn<'_>,
        op: &WriteOp,
        now: u64,
    ) -> Result<Outcome, Error> {
        let Some((run, ends)) = own_commit(op) else {
            return self.apply(txn, op, now);
        };
        let request = self.request_in(txn, run)?;
        match lifecycle::at_commit(request, ends) {
            AtCommit::Proceed => {
                let outcome = self.apply(txn, op, now)?;
                if request.is_some() {
                    self.requests.db()?.delete(txn, &run.0.to_be_bytes())?;
                }
                Ok(outcome)
            }
            AtCommit::Cancel => {
                self.cancel_now_in(txn, run, now)?;
                tracing::info!(%run, "run cancelled at its commit; the commit is dropped");
                Ok(Outcome::Stopped {
                    run,
                    status: Status::Cancelled,
                })
            }
            AtCommit::Hold => {
                self.apply(txn, op, now)?;
                self.hold_now_in(txn, run, now)?;
                self.requests.db()?.delete(txn, &run.0.to_be_bytes())?;
                tracing::info!(%run, "run paused after its commit");
                Ok(Outcome::Stopped {
                    run,
                    status: Status::Paused,
                })
            }
        }
    }

    fn request_in(&self, txn: &heed::RoTxn<'_>, run: RunId) -> Result<Option<Request>, Error> {
        let Some(db) = self.requests.requests else {
            return Ok(None);
        };
        Ok(db
            .get(txn, &run.0.to_be_bytes())?
            .map(|byte| Request::from_byte(byte.first())))
    }

    fn put_request(&self, txn: &mut RwTxn<'_>, run: RunId, request: Request) -> Result<(), Error> {
        let db = self.requests.db()?;
        db.put(txn, &run.0.to_be_bytes(), &[request.to_byte()])?;
        Ok(())
    }

    /// [`WriteOp::Cancel`].
    pub(super) fn cancel_in(&self, txn: &mut RwTxn<'_>, run: RunId, now: u64) -> Result<(), Error> {
        let record = self.get(txn, run)?.ok_or(Error::UnknownRun { run })?;
        let request = self.request_in(txn, run)?;
        match lifecycle::cancel(run, &record)? {
            Stop::Already => {}
            Stop::Now => {
                self.cancel_now_in(txn, run, now)?;
                // A task may be in its first step (pending), or hold a paused run that was
                // pending (its pause request is there): its next commit must find the cancel.
                if record.status == Status::Pending || request.is_some() {
                    self.put_request(txn, run, Request::Cancel)?;
                }
            }
            Stop::AtNextCommit => self.put_request(txn, run, Request::Cancel)?,
        }
        Ok(())
    }

    /// [`WriteOp::Pause`].
    pub(super) fn pause_in(&self, txn: &mut RwTxn<'_>, run: RunId, now: u64) -> Result<(), Error> {
        let record = self.get(txn, run)?.ok_or(Error::UnknownRun { run })?;
        let request = self.request_in(txn, run)?;
        match lifecycle::pause(run, &record)? {
            Stop::Already => {}
            Stop::Now => {
                self.hold_now_in(txn, run, now)?;
                // A task may be in its first step: its commit is written, then held.
                if record.status == Status::Pending {
                    self.put_request(txn, run, Request::Pause)?;
                }
            }
            // A pause never replaces a cancel.
            Stop::AtNextCommit if request == Some(Request::Cancel) => {}
            Stop::AtNextCommit => self.put_request(txn, run, Request::Pause)?,
        }
        Ok(())
    }

    /// [`WriteOp::Unpause`].
    pub(super) fn unpause_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        now: u64,
    ) -> Result<Outcome, Error> {
        let mut record = self.get(txn, run)?.ok_or(Error::UnknownRun { run })?;
        let request = self.request_in(txn, run)?;
        let was_paused = lifecycle::unpause(run, &mut record, request, now)?;
        if request == Some(Request::Pause) {
            self.requests.db()?.delete(txn, &run.0.to_be_bytes())?;
        }
        if !was_paused {
            return Ok(Outcome::Done);
        }
        self.put(txn, run, &record)?;
        self.set_active(txn, run)?;
        Ok(Outcome::Record(Box::new(record)))
    }

    /// [`WriteOp::SettleRequests`].
    pub(super) fn settle_requests_in(&self, txn: &mut RwTxn<'_>, now: u64) -> Result<(), Error> {
        let Some(db) = self.requests.requests else {
            return Ok(());
        };
        let mut found = Vec::new();
        let mut any = false;
        for entry in db.iter(txn)? {
            let (k, v) = entry?;
            any = true;
            if let Some(run) = be_u64(k) {
                found.push((RunId(run), Request::from_byte(v.first())));
            }
        }
        if !any {
            // Nothing to settle, the usual start: clearing an empty table would still dirty
            // it, and LMDB would commit (and flush) a transaction that changed nothing.
            return Ok(());
        }
        // Emptied first: a cancel below cancels the run's children too, and a running child
        // gets a request of its own, which its first commit after this start meets.
        db.clear(txn)?;
        for (run, request) in found {
            let Some(record) = self.get(txn, run)? else {
                continue;
            };
            match (request, record.status) {
                (Request::Cancel, status) if !status.is_finished() => {
                    self.cancel_now_in(txn, run, now)?;
                    tracing::info!(%run, "cancel requested while it ran: cancelled at start");
                }
                (Request::Pause, Status::Running | Status::Pending) => {
                    self.hold_now_in(txn, run, now)?;
                    tracing::info!(%run, "pause requested while it ran: paused at start");
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Marks `run` cancelled and takes it out of every index: active, wake-up, answered,
    /// deadline, pending question, hand-over, and its request. Its loop items, of use only
    /// to a run that goes on, are deleted; the rest (state, history, questions) stays until
    /// it is purged.
    fn cancel_now_in(&self, txn: &mut RwTxn<'_>, run: RunId, now: u64) -> Result<(), Error> {
        let mut record = self.get(txn, run)?.ok_or(Error::UnknownRun { run })?;
        lifecycle::cancelled(&mut record, now);
        self.put(txn, run, &record)?;
        self.unindex_waiting_in(txn, run, &record)?;
        let at = key(run, &[&record.transitions.to_be_bytes()]);
        self.hitl.pending.delete(txn, &at)?;
        self.handover
            .handed_over
            .delete(txn, &run.0.to_be_bytes())?;
        loop_items::delete_run(self.loop_items, txn, run)?;
        if let Some(db) = self.requests.requests {
            db.delete(txn, &run.0.to_be_bytes())?;
        }
        // Its children go with it (see `children.rs`).
        self.cancel_children_in(txn, run, now)
    }

    /// Marks `run` paused, out of the indexes a runtime reads (active, wake-up, answered,
    /// deadline). Its sleep and question are kept: unpaused, it runs from its last commit and
    /// meets them again (a sleep whose time has come ends at once; an answer given while it
    /// was paused is taken then), and its question stays listed for a person to answer.
    fn hold_now_in(&self, txn: &mut RwTxn<'_>, run: RunId, now: u64) -> Result<(), Error> {
        let mut record = self.get(txn, run)?.ok_or(Error::UnknownRun { run })?;
        lifecycle::hold(&mut record, now);
        self.put(txn, run, &record)?;
        self.unindex_waiting_in(txn, run, &record)
    }

    /// Drops `run`'s entries in the wake-up, answered and deadline indexes (the active one
    /// follows the status `put` writes).
    fn unindex_waiting_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        record: &RunRecord,
    ) -> Result<(), Error> {
        let position = record.transitions;
        let at = key(run, &[&position.to_be_bytes()]);
        let wake_ms = self
            .sleeps
            .get(txn, &at)?
            .and_then(|v| v.get(..8))
            .and_then(be_u64);
        if let Some(wake_ms) = wake_ms {
            self.index
                .wakeups
                .delete(txn, &wakeup_key((wake_ms, run)))?;
        }
        self.hitl
            .waiting
            .answered
            .delete(txn, &run.0.to_be_bytes())?;
        // A question that does not decode leaves its deadline entry to the start-up check,
        // which removes the entries of a run that is not waiting.
        if let Ok(Some(question)) = self.question_at(txn, run, position)
            && let Some(deadline) = question.deadline_ms
        {
            self.hitl
                .waiting
                .deadlines
                .delete(txn, &deadline_key(deadline, run))?;
        }
        Ok(())
    }

    /// Deletes `run`'s request, when the run is purged.
    pub(super) fn delete_request_in(&self, txn: &mut RwTxn<'_>, run: RunId) -> Result<(), Error> {
        if let Some(db) = self.requests.requests {
            db.delete(txn, &run.0.to_be_bytes())?;
        }
        Ok(())
    }
}
