//! The write entry of the PostgreSQL backend: [`Store::write`](crate::store::Store::write)
//! applies a batch of [`WriteOp`]s in one transaction (one commit: the group committer's
//! batch), and the transitions of a run (checkpoint, completion, failure, sleep, branch
//! outputs, wake-up, reopen).
//!
//! The ops on the transition path go through `batch.rs` instead, with set-based statements
//! for a whole batch; this per-op path applies the others, and those ops of a batch that
//! meet something rare (a cancel or pause request, a quarantined run, a queued workflow).
//!
//! One op is one `async fn` here or in the file of its concept (`hitl.rs`, `cancel.rs`,
//! `quarantine.rs`, `handover.rs`, `unique.rs`, `workflows.rs`): a new [`WriteOp`] is one more
//! arm of [`apply`] and one more small function. Which status a write gives a run is decided by
//! [`crate::lifecycle`], as on LMDB.

use super::batch::Applied;
use super::leases::{self, Worker};
use super::pipeline::pipelined;
use super::runs::{self, must_get};
use super::sql::Sql;
use super::{PgStore, big, rid, unbig};
use crate::context::loop_items::LoopItems;
use crate::error::Error;
use crate::history::HistoryRecord;
use crate::lifecycle;
use crate::run::{RunId, Status};
use crate::store::{Outcome, StoredSleep, WriteError, WriteOp};

impl PgStore {
    /// [`Store::write`](crate::store::Store::write): every op in one transaction, the ops on
    /// the transition path with set-based statements (`batch.rs`). A statement of those that
    /// fails for a reason of its own cannot name its op: the batch is then written again op
    /// by op, which names it.
    pub(super) fn write_batch(
        &self,
        ops: &[&WriteOp],
        now_ms: u64,
    ) -> Result<Vec<Outcome>, WriteError> {
        let held = super::let_go::before(&self.worker, ops);
        let written = self.write_ops(ops, now_ms);
        match &written {
            Ok(outcomes) => super::let_go::after_commit(&self.worker, &held, ops, outcomes),
            Err(refused) => super::let_go::after_refusal(&self.worker, &held, refused),
        }
        written
    }

    /// [`write_batch`](Self::write_batch), the worker's held runs aside.
    fn write_ops(&self, ops: &[&WriteOp], now_ms: u64) -> Result<Vec<Outcome>, WriteError> {
        // Checkpoints of runs whose record this worker wrote last: one round trip.
        if let Some(written) = self.write_in_one_trip(ops, now_ms) {
            return written.map_err(|error| WriteError::Failed(Box::new(error)));
        }
        // Any of these ops may write a sleep or branch output at its run's position.
        self.known.not_bare(ops);
        match self.write_transaction(ops, now_ms, true) {
            Err(Unnamed(error)) => {
                tracing::debug!(%error, "batched statement failed: the batch is written op by op");
                self.write_transaction(ops, now_ms, false)
                    .map_err(|Unnamed(error)| WriteError::Failed(Box::new(error)))?
            }
            Ok(written) => written,
        }
    }

    /// One transaction of the batch: `Err` when a set-based statement failed for a reason
    /// of its own (with `batched` only).
    fn write_transaction(
        &self,
        ops: &[&WriteOp],
        now_ms: u64,
        batched: bool,
    ) -> Result<Result<Vec<Outcome>, WriteError>, Unnamed> {
        let failed = |e: Error| WriteError::Failed(Box::new(e));
        let written = self.driver.commit_transaction(ops, |mut client| {
            leases::in_transaction(async move {
                let tx = client.transaction().await.map_err(super::error::pg_error)?;
                let sql = Sql::Tx(&tx);
                let worker = &*self.worker;
                let mut outcomes = Vec::with_capacity(ops.len());
                let mut stored = Vec::new();
                let mut index = 0;
                while index < ops.len() {
                    let segment = if batched {
                        super::batch::segment_len(&ops[index..])
                    } else {
                        0
                    };
                    if segment > 0 {
                        let segment = &ops[index..index + segment];
                        match super::batch::apply(sql, worker, segment, now_ms).await {
                            Ok(Applied::Done(done, records)) => {
                                let whole = done.len() == segment.len();
                                index += done.len();
                                outcomes.extend(done);
                                stored.extend(records);
                                if whole {
                                    continue;
                                }
                            }
                            // Dropping `tx` rolls it back: nothing of the batch is written.
                            Ok(Applied::Refused { offset, error }) => {
                                let refused = super::lost_leases::refusal(
                                    sql,
                                    worker,
                                    ops,
                                    index + offset,
                                    error,
                                )
                                .await;
                                return Ok(Step::Refused(refused));
                            }
                            Err(error) if super::error::is_retryable(&error) => {
                                return Err(error);
                            }
                            Err(error) => return Ok(Step::Unnamed(error)),
                        }
                    }
                    // The op at `index` on the per-op path.
                    let op = ops[index];
                    match super::cancel::apply_with_requests(sql, worker, op, now_ms).await {
                        Ok(outcome) => outcomes.push(outcome),
                        // A deadlock or serialization failure is the transaction's, not
                        // the op's: the whole batch runs again (`run_transaction`).
                        Err(error) if super::error::is_retryable(&error) => {
                            return Err(error);
                        }
                        Err(error) => {
                            let refused =
                                super::lost_leases::refusal(sql, worker, ops, index, error).await;
                            return Ok(Step::Refused(refused));
                        }
                    }
                    index += 1;
                }
                let (runs, timers) = super::notify::changes(ops, worker.runs_here);
                if runs {
                    super::notify::notify(sql, &self.channel, crate::store::Change::Runs).await?;
                }
                if timers {
                    super::notify::notify(sql, &self.channel, crate::store::Change::Timers).await?;
                }
                tx.commit().await.map_err(super::error::pg_error)?;
                leases::commit_taken(worker);
                Ok(Step::Written(outcomes, stored))
            })
        });
        match written {
            Ok(Step::Written(outcomes, stored)) => {
                self.known.learn(stored);
                self.known.learn_taken(&self.worker, &outcomes);
                Ok(Ok(outcomes))
            }
            Ok(Step::Refused(refused)) => Ok(Err(refused)),
            Ok(Step::Unnamed(error)) => Err(Unnamed(error)),
            Err(error) => Ok(Err(failed(error))),
        }
    }
}

/// How a batch's transaction ended, short of a failure of the transaction itself.
enum Step {
    /// Written, with the records `batch.rs` stored (for `one_trip::Known`).
    Written(Vec<Outcome>, Vec<super::one_trip::Stored>),
    /// An op was refused: nothing written.
    Refused(WriteError),
    /// A set-based statement failed, not naming its op: nothing written.
    Unnamed(Error),
}

/// A set-based statement failed, not naming its op.
struct Unnamed(Error);

/// Applies one op inside the transaction (after the run's cancel or pause request, see
/// `cancel.rs`).
pub(super) async fn apply(
    sql: Sql<'_, '_>,
    worker: &Worker,
    op: &WriteOp,
    now: u64,
) -> Result<Outcome, Error> {
    Ok(match op {
        WriteOp::CreateRun { record } => {
            let run = runs::create(sql, record).await?;
            leases::take(sql, worker, run).await?;
            Outcome::Created(run)
        }
        WriteOp::CreateRuns { records, hand_over } => {
            Outcome::Created(create_runs(sql, worker, records, *hand_over).await?)
        }
        WriteOp::CreateUnique {
            key,
            record,
            hand_over,
        } => match super::unique::create_unique(sql, worker, key, record, *hand_over).await? {
            (run, true) => Outcome::Created(run),
            (run, false) => Outcome::Existing(run),
        },
        WriteOp::CreateInSession { session, record } => {
            let run = super::hitl::create_in_session(sql, session, record).await?;
            leases::take(sql, worker, run).await?;
            Outcome::Created(run)
        }
        WriteOp::Wake { run, wake_ms } => {
            let woken = wake(sql, *run, *wake_ms, now).await?;
            if woken {
                leases::take(sql, worker, *run).await?;
            }
            Outcome::Woken(woken)
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
            let mut record = must_get(sql, *run).await?;
            lifecycle::at_position(*run, record.transitions, *position)?;
            lifecycle::checkpoint(&mut record, state_name, *step, state, now);
            // Independent statements, sent together: the driver pipelines them on the
            // connection, one round trip instead of one each.
            let items = async {
                for loop_items in items {
                    put_items(sql, *run, loop_items).await?;
                }
                Ok::<_, Error>(())
            };
            pipelined!(
                runs::put(sql, *run, &record),
                runs::apply_writes(sql, *run, writes),
                runs::append_history(sql, *run, record.transitions, history),
                end_await(sql, *run, record.transitions - 1),
                super::events::end_await(sql, *run, record.transitions - 1, history),
                // A migrated run's original is kept until this, its next transition.
                super::originals::drop_original(sql, *run),
                items,
            )?;
            Outcome::Transitions(record.transitions)
        }
        WriteOp::Complete {
            run,
            position,
            output,
            writes,
            history,
        } => {
            let mut record = must_get(sql, *run).await?;
            lifecycle::at_position(*run, record.transitions, *position)?;
            lifecycle::complete(&mut record, output, now);
            let id = rid(*run);
            let (.., child) = pipelined!(
                runs::put(sql, *run, &record),
                runs::apply_writes(sql, *run, writes),
                runs::append_history(sql, *run, record.transitions, history),
                async {
                    sql.exec("DELETE FROM loop_items WHERE run = $1", &[&id])
                        .await
                },
                super::children::is_child(sql, *run),
            )?;
            Outcome::ended_run(child)
        }
        WriteOp::Fail {
            run,
            position,
            message,
            history,
        } => {
            let ((), child) = pipelined!(
                fail(sql, *run, Some(*position), message, history.as_ref(), now),
                super::children::is_child(sql, *run),
            )?;
            Outcome::ended_run(child)
        }
        WriteOp::Suspend {
            run,
            position,
            sleep,
        } => {
            suspend(sql, *run, *position, *sleep, now).await?;
            Outcome::Done
        }
        WriteOp::CommitBranch {
            run,
            position,
            index,
            output,
        } => {
            let at = must_get(sql, *run).await?.transitions;
            lifecycle::at_position(*run, at, *position)?;
            sql.exec(
                "INSERT INTO branches (run, position, idx, output) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (run, position, idx) DO UPDATE SET output = EXCLUDED.output",
                &[&rid(*run), &big(*position), &i64::from(*index), output],
            )
            .await?;
            Outcome::Done
        }
        WriteOp::Ask {
            run,
            position,
            question,
        } => Outcome::Asked(super::hitl::ask(sql, *run, *position, question, now).await?),
        WriteOp::Answer { run, answer } => {
            Outcome::Answered(super::hitl::answer(sql, *run, answer, now).await?)
        }
        WriteOp::Claim { run } => {
            let claim = super::hitl::claim(sql, *run, now).await?;
            if let crate::store::hitl::Claim::Claimed(_) = claim {
                leases::take(sql, worker, *run).await?;
            }
            Outcome::Claim(claim)
        }
        WriteOp::Reopen { run } => {
            let record = super::queues::reopen(sql, *run, now).await?;
            // A run queued again is taken by the worker whose queue admits it.
            if record.status != Status::Queued {
                leases::take(sql, worker, *run).await?;
            }
            Outcome::Record(Box::new(record))
        }
        WriteOp::HandOver { run, position } => {
            super::handover::hand_over(sql, *run, *position).await?;
            Outcome::Done
        }
        WriteOp::TakeHandedOver { limit } => {
            Outcome::HandedOver(super::handover::take(sql, worker, *limit).await?)
        }
        WriteOp::Quarantine { run, reason } => {
            super::quarantine::quarantine(sql, *run, reason, now).await?;
            Outcome::Done
        }
        WriteOp::Release { run } => {
            let record = super::quarantine::release(sql, *run, now).await?;
            leases::take(sql, worker, *run).await?;
            Outcome::Record(Box::new(record))
        }
        WriteOp::FailQuarantined { run, message } => {
            super::quarantine::fail_quarantined(sql, *run, message, now).await?;
            Outcome::Done
        }
        WriteOp::Purge { run } => {
            super::quarantine::purge(sql, *run).await?;
            super::originals::drop_original(sql, *run).await?;
            Outcome::Done
        }
        WriteOp::MigrateRun {
            run,
            from,
            fingerprint,
            state,
        } => {
            super::originals::migrate_run(sql, *run, *from, *fingerprint, state.as_ref()).await?;
            Outcome::Done
        }
        WriteOp::Cancel { run } => {
            super::cancel::cancel(sql, *run, now).await?;
            Outcome::Done
        }
        WriteOp::Pause { run } => {
            super::cancel::pause(sql, *run, now).await?;
            Outcome::Done
        }
        WriteOp::Unpause { run } => {
            let outcome = super::cancel::unpause(sql, *run, now).await?;
            if let Outcome::Record(_) = outcome {
                leases::take(sql, worker, *run).await?;
            }
            outcome
        }
        WriteOp::SettleRequests => {
            super::cancel::settle_requests(sql, worker, now).await?;
            Outcome::Done
        }
        WriteOp::PurgeFinished { filter, limit } => {
            Outcome::Purged(super::quarantine::purge_finished(sql, filter, *limit).await?)
        }
        WriteOp::RegisterWorkflows { workflows } => {
            super::workflows::register(sql, workflows, now).await?;
            Outcome::Done
        }
        WriteOp::SendEvent { run, name, payload } => {
            Outcome::Woken(super::events::send(sql, *run, name, payload, now).await?)
        }
        WriteOp::AwaitEvent {
            run,
            position,
            wait,
        } => Outcome::Awaited(super::events::await_event(sql, *run, *position, wait, now).await?),
        WriteOp::RecordAttempts {
            run,
            position,
            attempts,
        } => {
            super::events::record_attempts(sql, *run, *position, *attempts).await?;
            Outcome::Done
        }
        WriteOp::StartChild {
            parent,
            position,
            slot,
            record,
        } => match super::children::start_child(sql, worker, *parent, *position, *slot, record)
            .await?
        {
            (run, true) => Outcome::Created(run),
            (run, false) => Outcome::Existing(run),
        },
        WriteOp::AwaitChildren { parent, position } => {
            Outcome::Parked(super::children::await_children(sql, *parent, *position, now).await?)
        }
        WriteOp::ScheduleTick {
            schedule,
            tick_ms,
            record,
            hand_over,
        } => {
            super::schedules::tick(sql, worker, schedule, *tick_ms, record.as_ref(), *hand_over)
                .await?
        }
        WriteOp::CreateWithPriority {
            record,
            priority,
            hand_over,
        } => Outcome::Created(
            super::queues::create_with_priority(sql, worker, record, *priority, *hand_over).await?,
        ),
        WriteOp::RegisterQueues { queues } => {
            super::queues::register(sql, queues).await?;
            Outcome::Done
        }
        WriteOp::PumpQueues { workflows, limit } => {
            Outcome::Admitted(super::queues::pump(sql, worker, workflows, *limit, now).await?)
        }
    })
}

/// New runs with consecutive ids (the first returned), each handed over too with
/// `hand_over` (a client-only process), in the same transaction.
pub(super) async fn create_runs(
    sql: Sql<'_, '_>,
    worker: &Worker,
    records: &[crate::store::RunRecord],
    hand_over: bool,
) -> Result<RunId, Error> {
    let count = u64::try_from(records.len()).unwrap_or(u64::MAX);
    let first = runs::allocate(sql, count).await?;
    for (run, record) in (first.0..).map(RunId).zip(records) {
        runs::insert(sql, run, record).await?;
        leases::take(sql, worker, run).await?;
        if hand_over {
            super::handover::hand_over(sql, run, 0).await?;
        }
    }
    Ok(first)
}

/// The end of the await at `position`: its sleep (whose time had passed when it was
/// committed, else the timer woke the run: the run went on, so it is active again) and its
/// branch outputs.
async fn end_await(sql: Sql<'_, '_>, run: RunId, position: u64) -> Result<(), Error> {
    let (run, position) = (rid(run), big(position));
    pipelined!(
        async {
            sql.exec(
                "WITH slept AS (DELETE FROM sleeps WHERE run = $1 AND position = $2 RETURNING run)
                 INSERT INTO active (run) SELECT run FROM slept ON CONFLICT DO NOTHING",
                &[&run, &position],
            )
            .await
        },
        async {
            sql.exec(
                "DELETE FROM branches WHERE run = $1 AND position = $2",
                &[&run, &position],
            )
            .await
        },
    )?;
    Ok(())
}

/// Stores the items of a loop entered in the segment that ends.
async fn put_items(sql: Sql<'_, '_>, run: RunId, items: &LoopItems) -> Result<(), Error> {
    let key = items.key;
    for (index, item) in (0u64..).zip(&items.items) {
        sql.exec(
            "INSERT INTO loop_items (run, position, seq, idx, item) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (run, position, seq, idx) DO UPDATE SET item = EXCLUDED.item",
            &[
                &rid(run),
                &big(key.position()),
                &i64::from(key.seq()),
                &big(index),
                item,
            ],
        )
        .await?;
    }
    Ok(())
}

/// Marks `run` failed; with `position`, a failure of the run's own task made there
/// ([`lifecycle::at_position`]).
pub(super) async fn fail(
    sql: Sql<'_, '_>,
    run: RunId,
    position: Option<u64>,
    message: &str,
    history: Option<&HistoryRecord>,
    now: u64,
) -> Result<(), Error> {
    let mut record = must_get(sql, run).await?;
    if let Some(position) = position {
        lifecycle::at_position(run, record.transitions, position)?;
    }
    lifecycle::fail(&mut record, message, now);
    runs::put(sql, run, &record).await?;
    if let Some(history) = history {
        runs::append_history(sql, run, record.transitions, history).await?;
    }
    Ok(())
}

async fn suspend(
    sql: Sql<'_, '_>,
    run: RunId,
    position: u64,
    sleep: StoredSleep,
    now: u64,
) -> Result<(), Error> {
    let mut record = must_get(sql, run).await?;
    lifecycle::suspend(run, &mut record, position, now)?;
    runs::put(sql, run, &record).await?;
    sql.exec(
        "INSERT INTO sleeps (run, position, wake_ms, started_ms) VALUES ($1, $2, $3, $4)
         ON CONFLICT (run, position) DO UPDATE
             SET wake_ms = EXCLUDED.wake_ms, started_ms = EXCLUDED.started_ms",
        &[
            &rid(run),
            &big(position),
            &big(sleep.wake_ms),
            &big(sleep.started_ms),
        ],
    )
    .await?;
    sql.exec(
        "INSERT INTO wakeups (wake_ms, run, position) VALUES ($1, $2, $3)
         ON CONFLICT (wake_ms, run) DO UPDATE SET position = EXCLUDED.position",
        &[&big(sleep.wake_ms), &rid(run), &big(position)],
    )
    .await?;
    runs::unset_active(sql, run).await
}

/// Drops the wake-up `(wake_ms, run)` and wakes the run if it still sleeps in that sleep.
async fn wake(sql: Sql<'_, '_>, run: RunId, wake_ms: u64, now: u64) -> Result<bool, Error> {
    let position: Option<u64> = sql
        .opt(
            "DELETE FROM wakeups WHERE wake_ms = $1 AND run = $2 RETURNING position",
            &[&big(wake_ms), &rid(run)],
        )
        .await?
        .map(|row| unbig(row.get(0)));
    if runs::quarantine_entry(sql, run).await?.is_some() {
        return Ok(false);
    }
    let Some(mut record) = runs::get_locked(sql, run).await? else {
        return Ok(false);
    };
    let sleep: Option<u64> = sql
        .opt(
            "SELECT wake_ms FROM sleeps WHERE run = $1 AND position = $2",
            &[&rid(run), &big(record.transitions)],
        )
        .await?
        .map(|row| unbig(row.get(0)));
    let current = record.status == Status::Waiting
        && position == Some(record.transitions)
        && sleep == Some(wake_ms);
    if !current {
        return Ok(false);
    }
    lifecycle::go_on(&mut record, now);
    runs::put(sql, run, &record).await?;
    runs::set_active(sql, run).await?;
    Ok(true)
}
