//! The write entry of the LMDB backend: [`Store::write`](crate::store::Store::write) applies a
//! batch of [`WriteOp`]s in one LMDB write transaction (one commit, one fsync with full
//! durability), and each op's effect inside it.
//!
//! Which status a write gives a run is decided by [`crate::lifecycle`]; this file moves the
//! bytes: records, key-value state, history, sleeps, branch outputs, loop items and the
//! indexes that go with them. The writes of questions and sessions are in [`super::hitl`],
//! of quarantine in [`super::quarantine`], of hand-overs in [`super::handover`], of cancel and pause in [`super::cancel`].

use heed::RwTxn;

use super::checkpoint::Checkpoint;
use super::index::wakeup_key;
use super::listing::count_deltas::Gathering;
use super::{LmdbStore, be_u64, delete_prefix, key, key_at, loop_items};
use crate::error::Error;
use crate::history::HistoryRecord;
use crate::lifecycle;
use crate::run::RunId;
use crate::store::stored_record::Hints;
use crate::store::write_op::TakenRun;
use crate::store::{Outcome, RunRecord, StoredSleep, WriteError, WriteOp};

impl LmdbStore {
    /// [`Store::write`](crate::store::Store::write): every op in one transaction.
    pub(super) fn write_batch(
        &self,
        ops: &[&WriteOp],
        now_ms: u64,
    ) -> Result<Vec<Outcome>, WriteError> {
        // With the write map, the disk the batch may need is reserved first (see `reserve`).
        let reserve = ops.iter().map(|op| op.reserve_bytes()).sum();
        let mut txn = self
            .write_txn_for(reserve)
            .map_err(|e| WriteError::Failed(Box::new(e)))?;
        let mut outcomes = Vec::with_capacity(ops.len());
        // The batch's status-count moves are summed and written once, below.
        let counts = Gathering::begin();
        for (index, op) in ops.iter().enumerate() {
            match self.apply_with_requests(&mut txn, op, now_ms) {
                Ok(outcome) => outcomes.push(outcome),
                // Dropping `txn` on the way out aborts it: nothing of the batch is written.
                // A put can write too (LMDB spills dirty pages of a large transaction to the
                // file), so a full disk met here is reported as such.
                Err(error) => {
                    let error = self.write_error(error, reserve);
                    return Err(WriteError::Refused {
                        index,
                        error: Box::new(error),
                        also: Vec::new(),
                    });
                }
            }
        }
        for (code, delta) in counts.finish() {
            self.write_count(&mut txn, code, delta)
                .map_err(|e| WriteError::Failed(Box::new(self.write_error(e, reserve))))?;
        }
        txn.commit()
            .map_err(|e| WriteError::Failed(Box::new(self.write_error(Error::from(e), reserve))))?;
        Ok(outcomes)
    }

    /// Applies one op inside `txn` (through [`Self::apply_with_requests`], `cancel.rs`).
    pub(super) fn apply(
        &self,
        txn: &mut RwTxn<'_>,
        op: &WriteOp,
        now: u64,
    ) -> Result<Outcome, Error> {
        Ok(match op {
            WriteOp::CreateRun { record } => Outcome::Created(self.create_run_in(txn, record)?),
            WriteOp::CreateRuns { records, hand_over } => {
                Outcome::Created(self.create_runs_in(txn, records, *hand_over)?)
            }
            WriteOp::CreateUnique {
                key,
                record,
                hand_over,
            } => match self.create_unique_in(txn, key, record, *hand_over)? {
                (run, true) => Outcome::Created(run),
                (run, false) => Outcome::Existing(run),
            },
            WriteOp::ScheduleTick {
                schedule,
                tick_ms,
                record,
                hand_over,
            } => self.schedule_tick_in(txn, schedule, *tick_ms, record.as_ref(), *hand_over)?,
            WriteOp::CreateWithPriority {
                record,
                priority,
                hand_over,
            } => Outcome::Created(self.create_prioritized_in(txn, record, *priority, *hand_over)?),
            WriteOp::RegisterQueues { queues } => {
                self.register_queues_in(txn, queues)?;
                Outcome::Done
            }
            WriteOp::PumpQueues { workflows, limit } => {
                Outcome::Admitted(self.pump_queues_in(txn, now, workflows, *limit)?)
            }
            WriteOp::CreateInSession { session, record } => {
                Outcome::Created(self.create_in_session_in(txn, session, record)?)
            }
            WriteOp::Wake { run, wake_ms } => {
                Outcome::Woken(self.wake_due_in(txn, *run, *wake_ms, now)?.is_some())
            }
            WriteOp::CommitState {
                run,
                position,
                state_name,
                step,
                state,
                writes,
                history,
                items,
            } => {
                let checkpoint = Checkpoint {
                    position: *position,
                    state_name,
                    step: *step,
                    state,
                    writes,
                    history,
                };
                let transitions = self.commit_state_in(txn, *run, &checkpoint, now)?;
                for loop_items in items {
                    loop_items::put(self.loop_items, txn, *run, loop_items)?;
                }
                Outcome::Transitions(transitions)
            }
            WriteOp::Complete {
                run,
                position,
                output,
                writes,
                history,
            } => {
                self.update_in(
                    txn,
                    *run,
                    |record| {
                        lifecycle::at_position(*run, record.transitions, *position)?;
                        lifecycle::complete(record, output, now);
                        Ok(())
                    },
                    |txn, record| {
                        self.apply_writes(txn, *run, writes)?;
                        self.append_history(
                            txn,
                            *run,
                            record.transitions,
                            &mut record.hints,
                            history,
                        )?;
                        self.drop_migrated_original_of(txn, *run, record)
                    },
                )?;
                loop_items::delete_run(self.loop_items, txn, *run)?;
                Outcome::ended_run(self.is_child_in(txn, *run)?)
            }
            WriteOp::Fail {
                run,
                position,
                message,
                history,
            } => {
                self.fail_in(txn, *run, Some(*position), message, history.as_ref(), now)?;
                Outcome::ended_run(self.is_child_in(txn, *run)?)
            }
            WriteOp::Suspend {
                run,
                position,
                sleep,
            } => {
                self.suspend_in(txn, *run, *position, *sleep, now)?;
                Outcome::Done
            }
            WriteOp::CommitBranch {
                run,
                position,
                index,
                output,
            } => {
                self.commit_branch_in(txn, *run, *position, *index, output)?;
                Outcome::Done
            }
            WriteOp::Ask {
                run,
                position,
                question,
            } => Outcome::Asked(self.ask_in(txn, *run, *position, question, now)?),
            WriteOp::Answer { run, answer } => {
                Outcome::Answered(self.answer_in(txn, *run, answer, now)?)
            }
            WriteOp::Claim { run } => Outcome::Claim(self.claim_in(txn, *run, now)?),
            WriteOp::Reopen { run } => {
                let mut record = self.update_in(
                    txn,
                    *run,
                    |record| lifecycle::reopen(*run, record, now),
                    |txn, record| {
                        self.set_active(txn, *run)?;
                        // The failed step gets its attempts afresh.
                        self.forget_attempts_in(txn, *run, record.transitions)
                    },
                )?;
                // Its slot was freed when it failed: a run of a queue waits for one again.
                if let Some(queued) = self.enqueue_in(txn, *run, &record, 0)? {
                    self.put(txn, *run, &queued)?;
                    record = queued;
                }
                Outcome::Record(Box::new(record))
            }
            WriteOp::HandOver { run, position } => {
                self.hand_over_in(txn, *run, *position)?;
                Outcome::Done
            }
            WriteOp::TakeHandedOver { limit } => {
                let taken = self.take_handed_over_in(txn, *limit)?;
                let taken = taken.into_iter().map(|(run, position)| TakenRun {
                    input: None,
                    run,
                    position,
                    record: None,
                });
                Outcome::HandedOver(taken.collect())
            }
            WriteOp::Quarantine { run, reason } => {
                self.quarantine_in(txn, *run, reason, now)?;
                Outcome::Done
            }
            WriteOp::Release { run } => Outcome::Record(Box::new(self.release_in(txn, *run, now)?)),
            WriteOp::FailQuarantined { run, message } => {
                self.fail_quarantined_in(txn, *run, message, now)?;
                Outcome::Done
            }
            WriteOp::Purge { run } => {
                self.purge_in(txn, *run)?;
                // Whatever the record's hints say: a quarantined run's record may not decode.
                self.drop_migrated_original(txn, *run)?;
                Outcome::Done
            }
            WriteOp::Cancel { run } => {
                self.cancel_in(txn, *run, now)?;
                Outcome::Done
            }
            WriteOp::Pause { run } => {
                self.pause_in(txn, *run, now)?;
                Outcome::Done
            }
            WriteOp::Unpause { run } => self.unpause_in(txn, *run, now)?,
            WriteOp::SettleRequests => {
                self.settle_requests_in(txn, now)?;
                Outcome::Done
            }
            WriteOp::PurgeFinished { filter, limit } => {
                Outcome::Purged(self.purge_finished_in(txn, filter, *limit)?)
            }
            WriteOp::StartChild {
                parent,
                position,
                slot,
                record,
            } => match self.start_child_in(txn, *parent, *position, *slot, record)? {
                (run, true) => Outcome::Created(run),
                (run, false) => Outcome::Existing(run),
            },
            WriteOp::AwaitChildren { parent, position } => {
                Outcome::Parked(self.await_children_in(txn, *parent, *position, now)?)
            }
            WriteOp::RegisterWorkflows { workflows } => {
                self.register_workflows_in(txn, workflows, now)?;
                Outcome::Done
            }
            WriteOp::SendEvent { run, name, payload } => {
                Outcome::Woken(self.send_event_in(txn, *run, name, payload, now)?)
            }
            WriteOp::AwaitEvent {
                run,
                position,
                wait,
            } => Outcome::Awaited(self.await_event_in(txn, *run, *position, wait, now)?),
            WriteOp::RecordAttempts {
                run,
                position,
                attempts,
            } => {
                self.record_attempts_in(txn, *run, *position, *attempts)?;
                Outcome::Done
            }
            WriteOp::MigrateRun {
                run,
                from,
                fingerprint,
                state,
            } => {
                self.migrate_run_in(txn, *run, *from, *fingerprint, state.as_ref())?;
                Outcome::Done
            }
        })
    }

    /// Reads `run`'s record, lets `change` update it (the run rule), lets `more` write what
    /// goes with it (and update the record's hints), then writes the record; returns the
    /// record written.
    pub(super) fn update_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        change: impl FnOnce(&mut RunRecord) -> Result<(), Error>,
        more: impl FnOnce(&mut RwTxn<'_>, &mut RunRecord) -> Result<(), Error>,
    ) -> Result<RunRecord, Error> {
        let mut record = self.get(txn, run)?.ok_or(Error::UnknownRun { run })?;
        let before = record.status;
        change(&mut record)?;
        more(txn, &mut record)?;
        if before == record.status && !record.status.is_finished() {
            // An ordinary transition (running to running): its listing entry cannot change,
            // so its lookup is skipped (see `listing.rs`).
            self.put_record(txn, run, &record)?;
        } else {
            self.put(txn, run, &record)?;
        }
        Ok(record)
    }

    pub(super) fn create_run_in(
        &self,
        txn: &mut RwTxn<'_>,
        record: &RunRecord,
    ) -> Result<RunId, Error> {
        self.create_prioritized_in(txn, record, 0, false)
    }

    /// Stores `record` as a new run, queued by `priority` if its workflow is in a queue
    /// (`queues.rs`), and hands it over with `hand_over`.
    pub(super) fn create_prioritized_in(
        &self,
        txn: &mut RwTxn<'_>,
        record: &RunRecord,
        priority: u32,
        hand_over: bool,
    ) -> Result<RunId, Error> {
        let run = self.allocate_run(txn)?;
        let queued = self.enqueue_in(txn, run, record, priority)?;
        self.put(txn, run, queued.as_ref().unwrap_or(record))?;
        if hand_over {
            self.hand_over_in(txn, run, 0)?;
        }
        Ok(run)
    }

    /// Stores `records` as new runs with consecutive ids and returns the first id (`records`
    /// must not be empty). With `hand_over` (a client-only process), each run also gets its
    /// hand-over entry at position 0 in the same transaction, so a crash cannot leave a
    /// stored run that no running runtime was told of.
    pub(super) fn create_runs_in(
        &self,
        txn: &mut RwTxn<'_>,
        records: &[RunRecord],
        hand_over: bool,
    ) -> Result<RunId, Error> {
        let count = u64::try_from(records.len()).unwrap_or(u64::MAX);
        let first = self.allocate_runs(txn, count)?;
        for (run, record) in (first.0..).map(RunId).zip(records) {
            let queued = self.enqueue_in(txn, run, record, 0)?;
            self.put(txn, run, queued.as_ref().unwrap_or(record))?;
            if hand_over {
                self.hand_over_in(txn, run, 0)?;
            }
        }
        Ok(first)
    }

    /// What a checkpoint writes besides the record, `transitions` being the run's count after
    /// it: key-value writes, the history record, the end of the await that completed (its
    /// sleep, branch outputs, event wait and step attempts, each deleted only if the record's
    /// `hints` say it may exist), and the original of a migration, kept until this, the run's
    /// next transition. Moves `hints` on; the caller writes the record after.
    pub(super) fn after_checkpoint(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        transitions: u64,
        hints: &mut Hints,
        checkpoint: &Checkpoint<'_>,
    ) -> Result<(), Error> {
        let history = checkpoint.history;
        self.apply_writes(txn, run, checkpoint.writes)?;
        self.append_history(txn, run, transitions, hints, history)?;
        self.end_await_in(txn, run, transitions - 1, history)?;
        let position = key_at(run, transitions - 1);
        if hints.sleep {
            self.end_sleep_in(txn, run, &position)?;
        }
        if hints.branches {
            delete_prefix(self.branches, txn, &position)?;
        }
        // The entries of the await that ended are gone; the next await has none yet.
        hints.sleep = false;
        hints.branches = false;
        if hints.migrated {
            self.drop_migrated_original(txn, run)?;
            hints.migrated = false;
        }
        Ok(())
    }

    /// Drops the sleep at `position` (a run key and position) that the checkpoint being
    /// written ended, if there is one. A run woken by its timer lost its wake-up then, and is
    /// active already. A sleep whose time had passed when it was committed is not suspended:
    /// its task goes on to this checkpoint, and the run leaves the wake-up index here and is
    /// active again (a wake-up left behind would wake nothing, but the start-up check after a
    /// crash would report it as damage).
    fn end_sleep_in(&self, txn: &mut RwTxn<'_>, run: RunId, position: &[u8]) -> Result<(), Error> {
        let Some(sleep) = self.sleeps.get(txn, position)? else {
            return Ok(());
        };
        if let Some(wake_ms) = sleep.get(..8).and_then(be_u64) {
            self.index
                .wakeups
                .delete(txn, &wakeup_key((wake_ms, run)))?;
        }
        self.sleeps.delete(txn, position)?;
        self.set_active(txn, run)
    }

    /// [`WriteOp::CommitBranch`]: the output of branch `index` of the `parallel` at
    /// `position`, with the record's hint that branch outputs exist set first (once per
    /// `parallel`).
    fn commit_branch_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        position: u64,
        index: u32,
        output: &[u8],
    ) -> Result<(), Error> {
        let mut record = self.get(txn, run)?.ok_or(Error::UnknownRun { run })?;
        lifecycle::at_position(run, record.transitions, position)?;
        if !record.hints.branches {
            record.hints.branches = true;
            self.put_record(txn, run, &record)?;
        }
        let k = key(run, &[&position.to_be_bytes(), &index.to_be_bytes()]);
        self.branches.put(txn, &k, output)?;
        Ok(())
    }

    /// Marks `run` failed; with `position`, a failure of the run's own task made there
    /// ([`lifecycle::at_position`]).
    pub(super) fn fail_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        position: Option<u64>,
        message: &str,
        history: Option<&HistoryRecord>,
        now: u64,
    ) -> Result<(), Error> {
        self.update_in(
            txn,
            run,
            |record| {
                if let Some(position) = position {
                    lifecycle::at_position(run, record.transitions, position)?;
                }
                lifecycle::fail(record, message, now);
                Ok(())
            },
            |txn, record| {
                if let Some(history) = history {
                    self.append_history(txn, run, record.transitions, &mut record.hints, history)?;
                }
                self.drop_migrated_original_of(txn, run, record)
            },
        )?;
        Ok(())
    }

    pub(super) fn suspend_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        position: u64,
        sleep: StoredSleep,
        now: u64,
    ) -> Result<(), Error> {
        self.update_in(
            txn,
            run,
            |record| lifecycle::suspend(run, record, position, now),
            |txn, record| {
                record.hints.sleep = true;
                let k = key(run, &[&position.to_be_bytes()]);
                let mut value = sleep.wake_ms.to_be_bytes().to_vec();
                value.extend_from_slice(&sleep.started_ms.to_be_bytes());
                self.sleeps.put(txn, &k, &value)?;
                self.index_sleep(txn, run, position, sleep.wake_ms)
            },
        )?;
        Ok(())
    }
}
