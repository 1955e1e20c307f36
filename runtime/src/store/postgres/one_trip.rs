//! Transitions in one round trip: a batch (up to [`MOST_OPS`]) of checkpoints and
//! completions (`WriteOp::CommitState`, `WriteOp::Complete`) of runs whose stored record this
//! worker wrote last is applied by one statement in autocommit mode (no `BEGIN`, no
//! separate read, no `COMMIT`): one round trip and one WAL flush, as a raw `UPDATE` costs.
//!
//! The worker keeps the last record it committed for each run it runs ([`Known`]), so it
//! can build the new record without reading the stored one. The statement is guarded so
//! that it writes only what the usual path (`batch.rs`) would have written:
//!
//! - **Fencing**: each run's row must still have this worker as its owner at the epoch the
//!   worker holds (`leases::held_epoch`), exactly the check of `batch.rs::fence`. A worker
//!   whose lease was taken writes nothing here.
//! - **The committing task is where the run is stored**: its position is the known record's
//!   (checked before the statement is built; the next guard makes the known record the
//!   stored one). A task that outlived its lease, of a worker that owns the run again, is
//!   not (`lifecycle::at_position`): its commit goes the usual way, which refuses it.
//! - **The stored record is the one the worker wrote last** (`record = $old`, byte for
//!   byte): any other writer of the record (an event, a migration, a reopen, another
//!   worker) makes the guess stale.
//! - **Nothing rare is pending**: no cancel or pause request, no quarantine, no kept
//!   original; and for a completion, no queue slot to free and no parent to tell (those go
//!   through `batch.rs` or the per-op path, as before). Both are counters on the run's row
//!   (`run_guards.rs`), so the guard reads no other table.
//!
//! These are evaluated by the `UPDATE` on the newest version of each row (PostgreSQL
//! re-checks an `UPDATE`'s condition on the row a concurrent transaction committed, once
//! its lock is free), so a take-over that commits while this statement waits is seen.
//!
//! When a guard fails for any run of the batch, nothing of the batch may be written (the
//! group committer expects a batch to be written whole or not at all): the statement then
//! ends with a division by zero, which rolls back the whole statement, and the batch goes the
//! usual way, which decides each op exactly (a lost lease is refused with
//! [`Error::LeaseLost`] there). In a large batch, one run whose guard fails sends the whole
//! batch that way once (its runs are known again from that commit on). That error, and a
//! deadlock or serialization failure (the server refused the statement as a whole, in
//! autocommit, so nothing of it is written), mean "not taken": any other error is returned
//! as the batch's, since the statement may have committed before its answer was lost, and
//! writing the batch again would commit its transitions twice.
//!
//! The statement holds only the sub-statements the batch needs ([`Needs`]): the server
//! plans it at each of its first executions on a connection (five custom plans) until it
//! settles on a generic plan, and each sub-statement adds to that planning and to its
//! execution.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use tokio_postgres::error::SqlState;

use super::leases::{self, NOW_MS, Worker};
use super::sql::Sql;
use super::{PgStore, big, rid, runs};
use crate::error::Error;
use crate::lifecycle;
use crate::run::RunId;
use crate::store::events::EVENT_STEP;
use crate::store::{Outcome, RunRecord, WriteOp};

/// Larger batches take the usual path. The statement's cost grows with its rows, as the
/// usual path's does, but it saves that path's lock pass (a `FOR UPDATE` that writes a lock
/// marker into each row), its read, and three round trips.
const MOST_OPS: usize = 8_192;

/// At most this many runs' records are kept; past it the whole map is dropped (a run not
/// known takes the usual path once, and is known again after).
const KNOWN_LIMIT: usize = 65_536;

/// The last record this worker committed for each run it runs (see [`KnownRun`]).
#[derive(Default)]
pub(super) struct Known {
    records: Mutex<HashMap<RunId, KnownRun>>,
}

/// What this worker knows of one run it runs.
struct KnownRun {
    /// The record it committed last.
    record: RunRecord,
    /// The sealed bytes stored for it (what the guard compares).
    sealed: Vec<u8>,
    /// The run's position is bare at this epoch (see `bare_position.rs`).
    bare_at: Option<i64>,
}

/// A record a committed transaction stored (`learn` it once the commit is acknowledged).
pub(super) struct Stored {
    pub run: RunId,
    pub record: RunRecord,
    pub sealed: Vec<u8>,
    /// The epoch at which the one statement moved the run to a position nothing else was
    /// written at yet (see `bare_position.rs`); `None` when not known.
    pub bare_at: Option<i64>,
}

impl Known {
    /// Keeps the records a transaction just committed (a finished run's is dropped: it has
    /// no next checkpoint).
    pub(super) fn learn(&self, stored: Vec<Stored>) {
        if stored.is_empty() {
            return;
        }
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        if records.len() + stored.len() > KNOWN_LIMIT {
            records.clear();
        }
        for Stored {
            run,
            record,
            sealed,
            bare_at,
        } in stored
        {
            if record.status.is_finished() {
                records.remove(&run);
            } else {
                records.insert(
                    run,
                    KnownRun {
                        record,
                        sealed,
                        bare_at,
                    },
                );
            }
        }
    }

    /// Keeps the records of the runs a committed take of handed-over runs claimed
    /// ([`WriteOp::TakeHandedOver`]), so that their first transition is one round trip too.
    /// Their stored bytes are sealed again from the record read: should they differ (a record
    /// an older version wrote), the guard fails once and that batch goes the usual way.
    pub(super) fn learn_taken(&self, worker: &Worker, outcomes: &[Outcome]) {
        let mut stored = Vec::new();
        for outcome in outcomes {
            let Outcome::HandedOver(taken) = outcome else {
                continue;
            };
            for taken in taken {
                let Some(record) = &taken.record else {
                    continue;
                };
                // An input still inline must be moved by the usual path (see `load_and_learn`).
                if !record.input.is_empty() || leases::held_epoch(worker, taken.run).is_none() {
                    continue;
                }
                if let Ok(sealed) = runs::seal(record) {
                    stored.push(Stored::new(taken.run, record, &sealed));
                }
            }
        }
        self.learn(stored);
    }

    /// Forgets that the position of each run an op of `ops` names is bare: called before
    /// those ops are written by any other way than the one statement (see
    /// `bare_position.rs`).
    pub(super) fn not_bare(&self, ops: &[&WriteOp]) {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        for op in ops {
            if let Some(run) = super::bare_position::named_run(op)
                && let Some(known) = records.get_mut(&run)
            {
                known.bare_at = None;
            }
        }
    }

    fn forget(&self, runs: &[RunId]) {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        for run in runs {
            records.remove(run);
        }
    }
}

impl Stored {
    /// `record`, stored as `sealed` for `run`. Kept without its input, as a read of the
    /// stored record gives it: a write moves an input still inline to `inputs`
    /// (`batch.rs::Writes::put`), and `runs::seal` leaves it out.
    pub(super) fn new(run: RunId, record: &RunRecord, sealed: &[u8]) -> Stored {
        let mut record = record.clone();
        record.input = Vec::new();
        Stored {
            run,
            record,
            sealed: sealed.to_vec(),
            bare_at: None,
        }
    }
}

/// One checkpoint or completion of the batch, its new record built from the known one.
struct Checkpoint {
    run: RunId,
    epoch: i64,
    old: Vec<u8>,
    record: RunRecord,
    sealed: Vec<u8>,
    history: Vec<u8>,
    /// The position of the await a checkpoint ended (none for a completion).
    ended: Option<i64>,
    /// That await was a wait for an event; it was retried.
    event: bool,
    attempts: bool,
    /// Nothing but the record can be stored at the position this checkpoint ends (see
    /// `bare_position.rs`): no sleep or branch output to drop.
    bare: bool,
    /// The run's listed status or finish time changes.
    moves: bool,
}

/// What a batch needs of [`transitions`] beyond the `runs` and history rows: the statement
/// leaves out the sub-statements no op of the batch needs, which the server would otherwise
/// plan and run for nothing at every execution.
#[derive(Clone, Copy)]
struct Needs {
    /// Some checkpoint ended a wait for an event.
    event: bool,
    /// Some checkpoint ended a step that was tried more than once.
    attempts: bool,
    /// Some op completes its run.
    completion: bool,
    /// Some checkpoint ends a position that may hold a sleep or branch outputs.
    side: bool,
    /// Some op changes its run's listed status (a first transition, a completion): the
    /// `status` and `finished_ms` columns are written, and the count trigger on `status`
    /// looks at the row. Otherwise the `UPDATE` leaves them out.
    moves: bool,
}

impl Needs {
    fn of(checkpoints: &[Checkpoint]) -> Needs {
        Needs {
            event: checkpoints.iter().any(|c| c.event),
            attempts: checkpoints.iter().any(|c| c.attempts),
            completion: checkpoints.iter().any(|c| c.ended.is_none()),
            side: checkpoints.iter().any(|c| c.ended.is_some() && !c.bare),
            moves: checkpoints.iter().any(|c| c.moves),
        }
    }

    fn index(self) -> usize {
        usize::from(self.event)
            | (usize::from(self.attempts) << 1)
            | (usize::from(self.completion) << 2)
            | (usize::from(self.side) << 3)
            | (usize::from(self.moves) << 4)
    }
}

/// [`transitions`] for each [`Needs::index`].
static TRANSITIONS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    (0..32)
        .map(|i| {
            transitions(Needs {
                event: i & 1 != 0,
                attempts: i & 2 != 0,
                completion: i & 4 != 0,
                side: i & 8 != 0,
                moves: i & 16 != 0,
            })
        })
        .collect()
});

/// The statement of the most usual batch: checkpoints of running runs, each ending a bare
/// position.
pub(super) fn usual_checkpoints_statement() -> &'static str {
    &TRANSITIONS[Needs {
        event: false,
        attempts: false,
        completion: false,
        side: false,
        moves: false,
    }
    .index()]
}

/// The whole batch in one statement (see the module doc). Each run's row is updated under
/// the guards and renews its lease as `batch.rs` does; its history appended. A checkpoint
/// drops the sleep and branch outputs of the await it ended (a dropped sleep makes the run
/// active again and drops its wake-up, as in `batch.rs`), unless every position the batch
/// ends is bare (`bare_position.rs`), and its event wait and attempts at that position; a
/// completion drops the run's loop items and its `active` row. Sub-statements that `needs`
/// says no op of the batch needs are left out.
///
/// The guards on the run's row alone (its owner, no rare rows) are one `COALESCE`d condition,
/// which the planner cannot estimate from statistics, rather than two filters, which it can.
/// On a `runs` table not analyzed yet (a new schema's first minute, until autovacuum looks),
/// it took each filter to keep 0.5% of the rows, so both together one row of `runs`, and often
/// chose to read `runs` once and the batch's arrays again for every row it kept: a batch of
/// 64 checkpoints on 1,000 runs took 3-13 ms instead of ~0.5 ms, quadratic in the batch. As
/// one condition it counts for half of the rows: the plan reads each run by its key or
/// hashes the batch (`tests/postgres_batch_plan.rs`). On an analyzed table of 200,000 runs
/// both forms read each run by its key (batches of 64 and 900 tried).
fn transitions(needs: Needs) -> String {
    let mut sql = format!(
        "WITH u AS (
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[],
                              $5::integer[], $6::bigint[], $7::bytea[], $8::bigint[],
                              $9::boolean[], $10::boolean[])
             AS u(id, epoch, old, record, status, finished_ms, history, ended, event,
                  attempts)),
     up AS (
         UPDATE runs r SET record = u.record,{listed} lease_until_ms = {NOW_MS} + $12
         FROM u
         WHERE r.id = u.id AND r.epoch = u.epoch AND r.record = u.old
           -- One condition, not two filters (see `transitions`).
           AND COALESCE(r.owner = $11::text AND r.rare_rows = 0, false){completion_guard}
         -- What the other sub-statements need of each run written (no join with `u`).
         RETURNING u.id, u.history, u.ended, u.event, u.attempts, u.finished_ms),
     hist AS (
         INSERT INTO history (run, seq, record)
         SELECT d.id,
                (SELECT COALESCE(MAX(seq) + 1, 0) FROM history h WHERE h.run = d.id),
                d.history
         FROM up d)",
        listed = if needs.moves {
            " status = u.status, finished_ms = u.finished_ms,"
        } else {
            ""
        },
        completion_guard = if needs.completion {
            "
           AND (u.finished_ms IS NULL OR r.end_ties = 0)"
        } else {
            ""
        }
    );
    if needs.side {
        sql.push_str(
            ",
     slept AS (
         DELETE FROM sleeps s USING up d
         WHERE s.run = d.id AND s.position = d.ended RETURNING s.run, s.wake_ms),
     woke AS (INSERT INTO active (run) SELECT run FROM slept ON CONFLICT DO NOTHING),
     unwoken AS (
         DELETE FROM wakeups w USING slept s WHERE w.wake_ms = s.wake_ms AND w.run = s.run),
     outputs AS (
         DELETE FROM branches b USING up d WHERE b.run = d.id AND b.position = d.ended)",
        );
    }
    if needs.event {
        sql.push_str(
            ",
     waits AS (
         DELETE FROM event_waits e USING up d
         WHERE d.event AND e.run = d.id AND e.position = d.ended)",
        );
    }
    if needs.attempts {
        sql.push_str(
            ",
     tries AS (
         DELETE FROM attempts a USING up d
         WHERE d.attempts AND a.run = d.id AND a.position = d.ended)",
        );
    }
    if needs.completion {
        sql.push_str(
            ",
     items AS (
         DELETE FROM loop_items i USING up d
         WHERE d.finished_ms IS NOT NULL AND i.run = d.id),
     idle AS (
         DELETE FROM active a USING up d WHERE d.finished_ms IS NOT NULL AND a.run = d.id)",
        );
    }
    sql.push_str(
        "
     -- Every run's guard held, or a division by zero undoes the whole statement.
     SELECT 1 / (count(*) = cardinality($1::bigint[]))::integer FROM up",
    );
    sql
}

impl PgStore {
    /// [`Store::load`](crate::store::Store::load); the record is kept in [`Known`] if this
    /// worker holds the run (a run it claimed loads its record before its first
    /// transition).
    pub(super) fn load_and_learn(&self, run: RunId) -> Result<Option<RunRecord>, Error> {
        let row = self.driver.run(|client| async move {
            Sql::Conn(&client)
                .opt("SELECT record FROM runs WHERE id = $1", &[&rid(run)])
                .await
        })?;
        let Some(row) = row else {
            return Ok(None);
        };
        let sealed: &[u8] = row.get(0);
        let record = PgStore::decode(run, sealed)?;
        let worker = &*self.worker;
        // A record of an older schema still carrying its input inline is not known: the
        // one statement writes records without an input, so that first write must take the
        // usual path, which moves the input to `inputs` (`batch.rs::Writes::put`).
        if worker.runs_here && leases::held_epoch(worker, run).is_some() && record.input.is_empty()
        {
            self.known.learn(vec![Stored::new(run, &record, sealed)]);
        }
        Ok(Some(record))
    }

    /// Writes `ops` in one round trip if they are all checkpoints or completions of known
    /// runs (see the module doc): `None` when this path does not take them (nothing written).
    pub(super) fn write_in_one_trip(
        &self,
        ops: &[&WriteOp],
        now_ms: u64,
    ) -> Option<Result<Vec<Outcome>, Error>> {
        let worker = &*self.worker;
        let checkpoints = match checkpoints(&self.known, worker, ops, now_ms) {
            Ok(Some(checkpoints)) => checkpoints,
            Ok(None) => return None,
            Err(error) => return Some(Err(error)),
        };
        let runs: Vec<RunId> = checkpoints.iter().map(|c| c.run).collect();
        let needs = Needs::of(&checkpoints);
        let written = self.driver.commit_transaction(ops, |client| {
            let checkpoints = &checkpoints;
            async move {
                let statement = client
                    .prepare_cached(&TRANSITIONS[needs.index()])
                    .await
                    .map_err(super::error::pg_error)?;
                // In id order, as `batch.rs` locks them: two statements that update some
                // of the same rows take their locks in one order.
                let mut sorted: Vec<&Checkpoint> = checkpoints.iter().collect();
                sorted.sort_unstable_by_key(|c| c.run);
                let checkpoints = &sorted;
                let ids: Vec<i64> = checkpoints.iter().map(|c| rid(c.run)).collect();
                let epochs: Vec<i64> = checkpoints.iter().map(|c| c.epoch).collect();
                let olds: Vec<&[u8]> = checkpoints.iter().map(|c| c.old.as_slice()).collect();
                let records: Vec<&[u8]> = checkpoints.iter().map(|c| c.sealed.as_slice()).collect();
                let statuses: Vec<i32> = checkpoints
                    .iter()
                    .map(|c| runs::code(c.record.status))
                    .collect();
                let finished: Vec<Option<i64>> = checkpoints
                    .iter()
                    .map(|c| runs::finished_ms(&c.record))
                    .collect();
                let histories: Vec<&[u8]> =
                    checkpoints.iter().map(|c| c.history.as_slice()).collect();
                let ended: Vec<Option<i64>> = checkpoints.iter().map(|c| c.ended).collect();
                let events: Vec<bool> = checkpoints.iter().map(|c| c.event).collect();
                let attempts: Vec<bool> = checkpoints.iter().map(|c| c.attempts).collect();
                let lease = worker.lease_ms();
                match client
                    .query_one(
                        &statement,
                        &[
                            &ids, &epochs, &olds, &records, &statuses, &finished, &histories,
                            &ended, &events, &attempts, &worker.id, &lease,
                        ],
                    )
                    .await
                {
                    Ok(_) => Ok(true),
                    // A guard failed: nothing written (see the module doc).
                    Err(error) if error.code() == Some(&SqlState::DIVISION_BY_ZERO) => Ok(false),
                    // The server refused the statement as a whole (it ran in autocommit, so
                    // nothing of it is written); the usual path locks its runs in id order
                    // and runs again after a deadlock.
                    Err(error)
                        if error.code() == Some(&SqlState::T_R_DEADLOCK_DETECTED)
                            || error.code() == Some(&SqlState::T_R_SERIALIZATION_FAILURE) =>
                    {
                        Ok(false)
                    }
                    Err(error) => Err(super::error::pg_error(error)),
                }
            }
        });
        match written {
            Ok(true) => {
                let outcomes = checkpoints
                    .iter()
                    .map(|c| match c.ended {
                        Some(_) => Outcome::Transitions(c.record.transitions),
                        None => Outcome::Done,
                    })
                    .collect();
                self.known.learn(
                    checkpoints
                        .into_iter()
                        .map(|c| Stored {
                            run: c.run,
                            record: c.record,
                            sealed: c.sealed,
                            // A checkpoint moved the run to a position it never was at:
                            // nothing is stored there yet.
                            bare_at: c.ended.map(|_| c.epoch),
                        })
                        .collect(),
                );
                Some(Ok(outcomes))
            }
            Ok(false) => {
                tracing::debug!(
                    runs = runs.len(),
                    "one-trip checkpoint not taken: the batch goes the usual way"
                );
                self.known.forget(&runs);
                None
            }
            Err(error) => {
                self.known.forget(&runs);
                Some(Err(error))
            }
        }
    }
}

/// The batch's transitions with their new records, if every op is one this path takes: a
/// checkpoint or completion of a run this worker holds and knows the record of, writing no
/// state keys and no loop items, each run once.
fn checkpoints(
    known: &Known,
    worker: &Worker,
    ops: &[&WriteOp],
    now: u64,
) -> Result<Option<Vec<Checkpoint>>, Error> {
    if !worker.runs_here || ops.is_empty() || ops.len() > MOST_OPS {
        return Ok(None);
    }
    let records = known.records.lock().unwrap_or_else(|p| p.into_inner());
    let mut seen = HashSet::with_capacity(ops.len());
    let mut checkpoints = Vec::with_capacity(ops.len());
    for op in ops {
        let (run, position, writes, history) = match op {
            WriteOp::CommitState {
                run,
                position,
                writes,
                history,
                items,
                ..
            } if items.is_empty() => (run, position, writes, history),
            WriteOp::Complete {
                run,
                position,
                writes,
                history,
                ..
            } => (run, position, writes, history),
            _ => return Ok(None),
        };
        if !writes.is_empty() || !seen.insert(*run) {
            return Ok(None);
        }
        let (Some(known), Some(epoch)) = (records.get(run), leases::held_epoch(worker, *run))
        else {
            return Ok(None);
        };
        let (record, old) = (&known.record, &known.sealed);
        // The task's position against the known record, which the statement's guard holds
        // to be the stored one: a task that is not where the run is stored (see
        // `lifecycle::at_position`) is refused by the usual path.
        if record.transitions != *position {
            return Ok(None);
        }
        let mut record = record.clone();
        let listed_before = (record.status, runs::finished_ms(&record));
        let ended = match op {
            WriteOp::CommitState {
                state_name,
                step,
                state,
                ..
            } => {
                lifecycle::checkpoint(&mut record, state_name, *step, state, now);
                Some(big(record.transitions - 1))
            }
            WriteOp::Complete { output, .. } => {
                lifecycle::complete(&mut record, output, now);
                None
            }
            _ => unreachable!("only checkpoints and completions get here"),
        };
        let moves = (record.status, runs::finished_ms(&record)) != listed_before;
        let sealed = runs::seal(&record)?;
        let history_bytes = super::batch::seal_history(record.transitions, history)?;
        checkpoints.push(Checkpoint {
            run: *run,
            epoch,
            old: old.clone(),
            record,
            sealed,
            history: history_bytes,
            ended,
            event: ended.is_some() && history.step.as_deref() == Some(EVENT_STEP),
            attempts: ended.is_some() && history.attempts > 1,
            bare: known.bare_at == Some(epoch),
            moves,
        });
    }
    Ok(Some(checkpoints))
}
