//! Group commit with few statements: the ops on the transition path of a batch
//! (checkpoints, completions, failures, sleeps, branch outputs, wake-ups, creations) applied
//! with set-based statements, so that a batch of hundreds of transitions costs a handful of
//! statements and four round trips (begin, lock and read, write, commit) instead of a few
//! awaited statements per op.
//!
//! `writes.rs` cuts a batch into segments ([`segment_len`]): consecutive ops of these kinds
//! in which no run is written twice (branch outputs of one run excepted), so that applying a
//! segment's writes table by table gives what applying its ops one by one would. A segment
//! is applied in two steps:
//!
//! 1. **Lock and read**, one round trip: the segment's runs are locked in id order (a fixed
//!    order, so two batches never deadlock on each other), then read with all that decides
//!    how their ops apply (lease owner and epoch, cancel or pause request, quarantine, kept
//!    original, queue slot, parent, wake-up and sleep). The read is a statement of its own,
//!    after the lock, so that it sees what a writer that held a lock before us committed.
//! 2. **Decide and write**: each op in order, by the rules of [`crate::lifecycle`] as on
//!    LMDB and in the per-op path: fencing first (an op of a run whose lease this worker lost
//!    is refused with [`Error::LeaseLost`], the whole batch rolled back, as per op), then the
//!    new record. The writes go as one statement per table (`unnest` of arrays), all sent
//!    together.
//!
//! What is rare stays on the per-op path (`writes.rs::apply`), and the segment stops before
//! it: a run with a cancel or pause request, a quarantined run, a missing or unreadable
//! record, a new run of a workflow with a queue. A statement that fails for another reason
//! than a deadlock cannot name its op: `writes.rs` then writes the whole batch again op by
//! op, which names it.

use std::collections::{HashMap, HashSet};

use tokio_postgres::Row;

use super::leases::{self, NOW_MS, Worker};
use super::one_trip::Stored;
use super::pipeline::pipelined;
use super::runs;
use super::sql::Sql;
use super::{PgStore, big, rid, unbig};
use crate::context::state::StateWrites;
use crate::error::Error;
use crate::history::HistoryRecord;
use crate::lifecycle;
use crate::run::{RunId, Status};
use crate::store::events::EVENT_STEP;
use crate::store::{Outcome, RunRecord, WriteOp};

/// How an op takes part in a segment: the existing run it writes (and whether it only adds a
/// branch output), or a creation of new runs.
enum Kind {
    Run { run: RunId, branch: bool },
    Create,
}

fn kind(op: &WriteOp) -> Option<Kind> {
    let own = |run: &RunId| {
        Some(Kind::Run {
            run: *run,
            branch: false,
        })
    };
    match op {
        WriteOp::CommitState { run, .. }
        | WriteOp::Complete { run, .. }
        | WriteOp::Fail { run, .. }
        | WriteOp::Suspend { run, .. }
        | WriteOp::Wake { run, .. } => own(run),
        WriteOp::CommitBranch { run, .. } => Some(Kind::Run {
            run: *run,
            branch: true,
        }),
        WriteOp::CreateRun { .. } | WriteOp::CreateRuns { .. } => Some(Kind::Create),
        _ => None,
    }
}

/// How many leading ops of `ops` form one segment: ops of the kinds applied here, none
/// writing a run that an earlier one of the segment writes (except two branch outputs of one
/// run, which write different rows). 0 when the first op takes the per-op path.
pub(super) fn segment_len(ops: &[&WriteOp]) -> usize {
    // Each run with whether all its ops so far are branch outputs.
    let mut seen: HashMap<RunId, bool> = HashMap::new();
    ops.iter()
        .take_while(|op| match kind(op) {
            None => false,
            Some(Kind::Create) => true,
            Some(Kind::Run { run, branch }) => match seen.insert(run, branch) {
                None => true,
                Some(earlier) => earlier && branch,
            },
        })
        .count()
}

/// What [`apply`] made of a segment.
pub(super) enum Applied {
    /// The outcomes of the segment's first ops, in order: all of them, or fewer when the op
    /// after them takes the per-op path (nothing of it or after it is written); and the
    /// records it stored.
    Done(Vec<Outcome>, Vec<Stored>),
    /// The op at `offset` in the segment is refused: the batch must be rolled back.
    Refused { offset: usize, error: Error },
}

/// A run of the segment as read under its lock.
struct Locked {
    record: Vec<u8>,
    owner: Option<String>,
    epoch: i64,
    request: bool,
    quarantined: bool,
    /// A migration kept its original (`originals.rs`), dropped at its next transition.
    migrated: bool,
    /// It holds a slot of its queue (`queues.rs`), freed when it finishes.
    in_queue: bool,
    /// It is a child run (`children.rs`): its end may let its parent go on.
    child: bool,
    /// The position of the wake-up its `Wake` op drops, if that wake-up is stored.
    wakeup: Option<u64>,
    /// Its sleep at that position ends at the wake-up's time.
    sleep_matches: bool,
}

const LOCK: &str = "SELECT id FROM runs WHERE id = ANY($1) ORDER BY id FOR UPDATE";

const READ: &str = "SELECT r.id, r.record, r.owner, r.epoch,
        EXISTS (SELECT 1 FROM requests q WHERE q.run = r.id),
        EXISTS (SELECT 1 FROM quarantine q WHERE q.run = r.id),
        EXISTS (SELECT 1 FROM migrated m WHERE m.run = r.id),
        EXISTS (SELECT 1 FROM queue_runs q WHERE q.run = r.id),
        EXISTS (SELECT 1 FROM children c WHERE c.child = r.id),
        w.position,
        EXISTS (SELECT 1 FROM sleeps s
                WHERE s.run = r.id AND s.position = w.position AND s.wake_ms = u.wake_ms)
    FROM unnest($1::bigint[], $2::bigint[]) AS u(id, wake_ms)
    JOIN runs r ON r.id = u.id
    LEFT JOIN wakeups w ON w.wake_ms = u.wake_ms AND w.run = u.id";

const QUEUED_WORKFLOWS: &str =
    "SELECT DISTINCT workflow FROM queue_members WHERE workflow = ANY($1)";

/// Applies the segment `ops` (see [`segment_len`]) inside the batch's transaction.
pub(super) async fn apply(
    sql: Sql<'_, '_>,
    worker: &Worker,
    ops: &[&WriteOp],
    now: u64,
) -> Result<Applied, Error> {
    let (locked, queued) = read(sql, ops).await?;
    let mut writes = Writes::default();
    let mut outcomes = Vec::with_capacity(ops.len());
    for (offset, op) in ops.iter().enumerate() {
        match decide(&mut writes, worker, &locked, &queued, op, now) {
            Ok(Some(outcome)) => outcomes.push(outcome),
            Ok(None) => break,
            Err(error) => return Ok(Applied::Refused { offset, error }),
        }
    }
    let first = writes.send(sql, worker).await?;
    for child in &writes.finished_children {
        super::children::child_finished(sql, *child).await?;
    }
    let outcomes = outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Pending::Ready(outcome) => outcome,
            Pending::Created { ordinal } => Outcome::Created(RunId(unbig(first) + ordinal)),
        })
        .collect();
    let mut stored = writes.stored;
    for &at in &writes.created {
        stored[at].run = RunId(unbig(first) + stored[at].run.0);
    }
    if !worker.runs_here {
        // A client-only process never commits a checkpoint.
        stored.clear();
    }
    Ok(Applied::Done(outcomes, stored))
}

/// Step 1: locks the segment's runs and reads them; the workflows of its new runs that have
/// a queue.
async fn read(
    sql: Sql<'_, '_>,
    ops: &[&WriteOp],
) -> Result<(HashMap<RunId, Locked>, HashSet<String>), Error> {
    let mut ids: Vec<i64> = Vec::with_capacity(ops.len());
    let mut wake_ms: Vec<Option<i64>> = Vec::with_capacity(ops.len());
    let mut listed = HashSet::with_capacity(ops.len());
    let mut workflows: Vec<&str> = Vec::new();
    for op in ops {
        match op {
            WriteOp::CreateRun { record } => workflows.push(&record.workflow),
            WriteOp::CreateRuns { records, .. } => {
                workflows.extend(records.iter().map(|r| r.workflow.as_str()));
            }
            _ => {
                if let Some(Kind::Run { run, .. }) = kind(op)
                    && listed.insert(run)
                {
                    ids.push(rid(run));
                    wake_ms.push(match op {
                        WriteOp::Wake { wake_ms, .. } => Some(big(*wake_ms)),
                        _ => None,
                    });
                }
            }
        }
    }
    workflows.sort_unstable();
    workflows.dedup();
    // Prepared first (at once, once cached), then sent together in this order.
    let (lock, read, queues) = (
        sql.prepare(LOCK).await?,
        sql.prepare(READ).await?,
        sql.prepare(QUEUED_WORKFLOWS).await?,
    );
    let none = || async { Ok::<Vec<Row>, Error>(Vec::new()) };
    // The lock is where a deadlock shows: its error is the one reported, not the `25P02`
    // of the reads sent with it (`pipeline.rs`).
    let (_, rows, queued) = pipelined!(
        async {
            if ids.is_empty() {
                return none().await;
            }
            sql.rows_of(&lock, &[&ids]).await
        },
        async {
            if ids.is_empty() {
                return none().await;
            }
            sql.rows_of(&read, &[&ids, &wake_ms]).await
        },
        async {
            if workflows.is_empty() {
                return none().await;
            }
            sql.rows_of(&queues, &[&workflows]).await
        },
    )?;
    let locked = rows
        .into_iter()
        .map(|row| {
            let run = RunId(unbig(row.get(0)));
            let locked = Locked {
                record: row.get(1),
                owner: row.get(2),
                epoch: row.get(3),
                request: row.get(4),
                quarantined: row.get(5),
                migrated: row.get(6),
                in_queue: row.get(7),
                child: row.get(8),
                wakeup: row.get::<_, Option<i64>>(9).map(unbig),
                sleep_matches: row.get(10),
            };
            (run, locked)
        })
        .collect();
    let queued = queued.into_iter().map(|row| row.get(0)).collect();
    Ok((locked, queued))
}

/// An op's outcome, or where its new runs' ids will be once allocated.
enum Pending {
    Ready(Outcome),
    /// The first of its runs is the `ordinal`-th (from 0) new run of the segment.
    Created {
        ordinal: u64,
    },
}

/// Step 2 for one op: its writes added to `writes` and its outcome; `None` if it takes the
/// per-op path (nothing of it added); an error refuses it.
fn decide(
    writes: &mut Writes,
    worker: &Worker,
    locked: &HashMap<RunId, Locked>,
    queued: &HashSet<String>,
    op: &WriteOp,
    now: u64,
) -> Result<Option<Pending>, Error> {
    let ready = |outcome| Ok(Some(Pending::Ready(outcome)));
    match op {
        WriteOp::CreateRun { record } => {
            if queued.contains(&record.workflow) {
                return Ok(None);
            }
            let ordinal = writes.create(record, false)?;
            Ok(Some(Pending::Created { ordinal }))
        }
        WriteOp::CreateRuns { records, hand_over } => {
            if records.is_empty() || records.iter().any(|r| queued.contains(&r.workflow)) {
                return Ok(None);
            }
            let mut first = None;
            for record in records {
                let ordinal = writes.create(record, *hand_over)?;
                first.get_or_insert(ordinal);
            }
            Ok(first.map(|ordinal| Pending::Created { ordinal }))
        }
        WriteOp::CommitBranch {
            run,
            position,
            index,
            output,
        } => {
            let Some((row, record)) = usable_record(locked, *run) else {
                return Ok(None);
            };
            if released(worker, row) {
                return Ok(None);
            }
            fence(worker, *run, row)?;
            lifecycle::at_position(*run, record.transitions, *position)?;
            writes.branch(*run, *position, *index, output);
            ready(Outcome::Done)
        }
        WriteOp::Wake { run, wake_ms } => {
            let Some((row, mut record)) = usable_record(locked, *run) else {
                return Ok(None);
            };
            writes.wakeups_dropped.push((big(*wake_ms), rid(*run)));
            let current = record.status == Status::Waiting
                && row.wakeup == Some(record.transitions)
                && row.sleep_matches;
            if current {
                lifecycle::go_on(&mut record, now);
                writes.put(*run, &record, true)?;
                writes.activated.push(rid(*run));
            }
            ready(Outcome::Woken(current))
        }
        // A commit of the run's own task.
        WriteOp::CommitState { run, .. }
        | WriteOp::Complete { run, .. }
        | WriteOp::Fail { run, .. }
        | WriteOp::Suspend { run, .. } => {
            let Some(row) = usable(locked, *run) else {
                return Ok(None);
            };
            if released(worker, row) {
                return Ok(None);
            }
            fence(worker, *run, row)?;
            // A cancel or pause meets the commit on the per-op path (`cancel.rs`).
            if row.request {
                return Ok(None);
            }
            let Ok(mut record) = PgStore::decode(*run, &row.record) else {
                return Ok(None);
            };
            own_commit(writes, row, &mut record, op, now)
                .map(|outcome| Some(Pending::Ready(outcome)))
        }
        _ => Ok(None),
    }
}

/// The locked row of `run`, unless something rare sends its op the per-op path.
fn usable(locked: &HashMap<RunId, Locked>, run: RunId) -> Option<&Locked> {
    locked.get(&run).filter(|row| !row.quarantined)
}

fn usable_record(locked: &HashMap<RunId, Locked>, run: RunId) -> Option<(&Locked, RunRecord)> {
    let row = usable(locked, run)?;
    let record = PgStore::decode(run, &row.record).ok()?;
    Some((row, record))
}

/// Whether the run's row has no owner (a send released it, see `events::send`): its commit
/// goes the per-op path, whose `leases::fence` takes the run back if the epoch is this
/// worker's.
fn released(worker: &Worker, row: &Locked) -> bool {
    worker.runs_here && row.owner.is_none()
}

/// `leases::fence` on the row read under its lock.
fn fence(worker: &Worker, run: RunId, row: &Locked) -> Result<(), Error> {
    if !worker.runs_here {
        return Ok(());
    }
    // A row without owner went the per-op path before this (`released`).
    let held = leases::held_epoch(worker, run);
    if leases::holds(worker, held, row.owner.as_deref(), row.epoch) {
        return Ok(());
    }
    tracing::warn!(
        %run,
        owner = row.owner.as_deref().unwrap_or("-"),
        epoch = row.epoch,
        held = ?held,
        "commit refused: the run's lease is held by another worker now"
    );
    Err(Error::LeaseLost { run })
}

/// A checkpoint, completion, failure or sleep, with no request pending: what `writes.rs`
/// writes for it, as rows of `writes`.
fn own_commit(
    writes: &mut Writes,
    row: &Locked,
    record: &mut RunRecord,
    op: &WriteOp,
    now: u64,
) -> Result<Outcome, Error> {
    Ok(match op {
        WriteOp::CommitState {
            run,
            position,
            state_name,
            step,
            state,
            writes: kv,
            history,
            items,
        } => {
            lifecycle::at_position(*run, record.transitions, *position)?;
            lifecycle::checkpoint(record, state_name, *step, state, now);
            writes.put(*run, record, false)?;
            writes.kv(*run, kv);
            writes.history(*run, record.transitions, history)?;
            // The end of the await at the previous position (`writes.rs::end_await`).
            let ended = (rid(*run), big(record.transitions - 1));
            writes.ended.push(ended);
            if history.step.as_deref() == Some(EVENT_STEP) {
                writes.event_waits_ended.push(ended);
            }
            if history.attempts > 1 {
                writes.attempts_ended.push(ended);
            }
            // A migrated run's original is kept until this, its next transition.
            if row.migrated {
                writes.originals_dropped.push(rid(*run));
            }
            for loop_items in items {
                let key = loop_items.key;
                for (index, item) in (0u64..).zip(&loop_items.items) {
                    writes.items.push((
                        rid(*run),
                        big(key.position()),
                        i64::from(key.seq()),
                        big(index),
                        item.clone(),
                    ));
                }
            }
            Outcome::Transitions(record.transitions)
        }
        WriteOp::Complete {
            run,
            position,
            output,
            writes: kv,
            history,
        } => {
            lifecycle::at_position(*run, record.transitions, *position)?;
            lifecycle::complete(record, output, now);
            writes.put(*run, record, false)?;
            writes.kv(*run, kv);
            writes.history(*run, record.transitions, history)?;
            writes.items_dropped.push(rid(*run));
            writes.finished(*run, row);
            Outcome::ended_run(row.child)
        }
        WriteOp::Fail {
            run,
            position,
            message,
            history,
        } => {
            lifecycle::at_position(*run, record.transitions, *position)?;
            lifecycle::fail(record, message, now);
            writes.put(*run, record, false)?;
            if let Some(history) = history {
                writes.history(*run, record.transitions, history)?;
            }
            writes.finished(*run, row);
            Outcome::ended_run(row.child)
        }
        WriteOp::Suspend {
            run,
            position,
            sleep,
        } => {
            lifecycle::suspend(*run, record, *position, now)?;
            writes.put(*run, record, false)?;
            writes.sleeps.push((
                rid(*run),
                big(*position),
                big(sleep.wake_ms),
                big(sleep.started_ms),
            ));
            writes
                .wakeups
                .push((big(sleep.wake_ms), rid(*run), big(*position)));
            writes.deactivated.push(rid(*run));
            Outcome::Done
        }
        _ => unreachable!("own_commit is only called with the run's own commits"),
    })
}

/// A history record as `runs::append_history` stores it, numbered `number`.
pub(super) fn seal_history(number: u64, record: &HistoryRecord) -> Result<Vec<u8>, Error> {
    let mut record = record.clone();
    record.number = number;
    let hint = 64 + record.state.len() + record.step.as_ref().map_or(0, String::len);
    crate::codec::seal_record(&record, hint)
        .map_err(|e| super::error::encode_error("history record", e))
}

/// The rows a segment writes, table by table.
#[derive(Default)]
struct Writes {
    // `runs`: the new records, and whether this worker takes the run (a wake-up).
    put_ids: Vec<i64>,
    put_records: Vec<Vec<u8>>,
    put_workflows: Vec<String>,
    put_statuses: Vec<i32>,
    put_finished: Vec<Option<i64>>,
    put_take: Vec<bool>,
    /// The records put and created, for `one_trip::Known` once the batch commits.
    stored: Vec<Stored>,
    /// Which of `stored` are new runs, whose `run` is their ordinal until written.
    created: Vec<usize>,
    // `inputs`: a record stored before the table carries its input inline, moved there once.
    moved_input_runs: Vec<i64>,
    moved_inputs: Vec<Vec<u8>>,
    // New runs, ids allocated when written.
    new_records: Vec<Vec<u8>>,
    new_workflows: Vec<String>,
    new_statuses: Vec<i32>,
    new_created: Vec<i64>,
    new_finished: Vec<Option<i64>>,
    new_active: Vec<bool>,
    new_handed_over: Vec<bool>,
    /// Each new run's input, written once into `inputs` (`inputs.rs`).
    new_inputs: Vec<Vec<u8>>,
    // `kv`, in order: cleared runs, deleted keys, put keys.
    kv_cleared: Vec<i64>,
    kv_deleted: (Vec<i64>, Vec<String>),
    kv_put: (Vec<i64>, Vec<String>, Vec<Vec<u8>>),
    history: (Vec<i64>, Vec<Vec<u8>>),
    /// (run, position) of the awaits a checkpoint ended: their sleep and branch outputs go.
    ended: Vec<(i64, i64)>,
    event_waits_ended: Vec<(i64, i64)>,
    attempts_ended: Vec<(i64, i64)>,
    /// Loop items (run, position, seq, idx, item).
    items: Vec<(i64, i64, i64, i64, Vec<u8>)>,
    items_dropped: Vec<i64>,
    originals_dropped: Vec<i64>,
    queue_slots_freed: Vec<i64>,
    finished_children: Vec<RunId>,
    deactivated: Vec<i64>,
    activated: Vec<i64>,
    /// (run, position, wake_ms, started_ms).
    sleeps: Vec<(i64, i64, i64, i64)>,
    /// (wake_ms, run, position).
    wakeups: Vec<(i64, i64, i64)>,
    /// (wake_ms, run).
    wakeups_dropped: Vec<(i64, i64)>,
    /// (run, position, idx) to its index in `branch_outputs`: a later output of the same
    /// branch replaces the earlier one, as applied one after the other.
    branch_slots: HashMap<(i64, i64, i64), usize>,
    branch_outputs: Vec<((i64, i64, i64), Vec<u8>)>,
}

impl Writes {
    fn put(&mut self, run: RunId, record: &RunRecord, take: bool) -> Result<(), Error> {
        let sealed = runs::seal(record)?;
        self.stored.push(Stored::new(run, record, &sealed));
        self.put_ids.push(rid(run));
        self.put_records.push(sealed);
        self.put_workflows.push(record.workflow.clone());
        self.put_statuses.push(runs::code(record.status));
        self.put_finished.push(runs::finished_ms(record));
        self.put_take.push(take);
        if !record.input.is_empty() {
            self.moved_input_runs.push(rid(run));
            self.moved_inputs.push(record.input.clone());
        }
        Ok(())
    }

    /// A new run: its ordinal among the segment's new runs.
    fn create(&mut self, record: &RunRecord, hand_over: bool) -> Result<u64, Error> {
        let ordinal = self.new_records.len() as u64;
        let sealed = runs::seal(record)?;
        // Its id is known once written (`apply`).
        self.stored
            .push(Stored::new(RunId(ordinal), record, &sealed));
        self.created.push(self.stored.len() - 1);
        self.new_records.push(sealed);
        self.new_workflows.push(record.workflow.clone());
        self.new_statuses.push(runs::code(record.status));
        self.new_created.push(big(record.created_at_ms));
        self.new_finished.push(runs::finished_ms(record));
        // `runs::track_status`: a new pending run is active.
        self.new_active.push(record.status == Status::Pending);
        self.new_handed_over.push(hand_over);
        self.new_inputs.push(record.input.clone());
        Ok(ordinal)
    }

    fn kv(&mut self, run: RunId, writes: &StateWrites) {
        if writes.clear {
            self.kv_cleared.push(rid(run));
        }
        for (name, value) in &writes.puts {
            match value {
                Some(value) => {
                    self.kv_put.0.push(rid(run));
                    self.kv_put.1.push(name.clone());
                    self.kv_put.2.push(value.clone());
                }
                None => {
                    self.kv_deleted.0.push(rid(run));
                    self.kv_deleted.1.push(name.clone());
                }
            }
        }
    }

    /// `runs::append_history`.
    fn history(&mut self, run: RunId, number: u64, record: &HistoryRecord) -> Result<(), Error> {
        let bytes = seal_history(number, record)?;
        self.history.0.push(rid(run));
        self.history.1.push(bytes);
        Ok(())
    }

    /// What `runs::put` does for a run that finished, and `track_status`.
    fn finished(&mut self, run: RunId, row: &Locked) {
        if row.in_queue {
            self.queue_slots_freed.push(rid(run));
        }
        if row.child {
            self.finished_children.push(run);
        }
        if row.migrated {
            self.originals_dropped.push(rid(run));
        }
        self.deactivated.push(rid(run));
    }

    fn branch(&mut self, run: RunId, position: u64, index: u32, output: &[u8]) {
        let key = (rid(run), big(position), i64::from(index));
        match self.branch_slots.get(&key) {
            Some(&slot) => self.branch_outputs[slot].1 = output.to_vec(),
            None => {
                self.branch_slots.insert(key, self.branch_outputs.len());
                self.branch_outputs.push((key, output.to_vec()));
            }
        }
    }

    /// Sends every write, one statement per table, together; the first id of the new runs
    /// (0 without any).
    async fn send(&self, sql: Sql<'_, '_>, worker: &Worker) -> Result<i64, Error> {
        let owner: Option<&str> = worker.runs_here.then_some(worker.id.as_str());
        let lease = worker.lease_ms();
        let count = big(self.new_records.len() as u64);
        let pairs = |rows: &[(i64, i64)]| -> (Vec<i64>, Vec<i64>) { rows.iter().copied().unzip() };
        let ended = pairs(&self.ended);
        let event_waits = pairs(&self.event_waits_ended);
        let attempts = pairs(&self.attempts_ended);
        let dropped = pairs(&self.wakeups_dropped);
        let mut items = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (run, position, seq, idx, item) in &self.items {
            items.0.push(*run);
            items.1.push(*position);
            items.2.push(*seq);
            items.3.push(*idx);
            items.4.push(item.as_slice());
        }
        let mut sleeps = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (run, position, wake, started) in &self.sleeps {
            sleeps.0.push(*run);
            sleeps.1.push(*position);
            sleeps.2.push(*wake);
            sleeps.3.push(*started);
        }
        let mut wakeups = (Vec::new(), Vec::new(), Vec::new());
        for (wake, run, position) in &self.wakeups {
            wakeups.0.push(*wake);
            wakeups.1.push(*run);
            wakeups.2.push(*position);
        }
        let mut branches = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for ((run, position, idx), output) in &self.branch_outputs {
            branches.0.push(*run);
            branches.1.push(*position);
            branches.2.push(*idx);
            branches.3.push(output.as_slice());
        }

        // Every statement, with its parameters, in the order they must apply (the kv
        // statements: clear, delete, put); those with no rows are left out.
        let create = format!(
            "WITH ids AS (
                 UPDATE meta SET value = GREATEST(value,
                     (SELECT COALESCE(MAX(id), 0) + 1 FROM runs)) + $1
                 WHERE key = 'next_run' RETURNING value - $1 AS first),
             new AS (
                 INSERT INTO runs (id, record, workflow, status, created_ms, finished_ms,
                                   owner, epoch, lease_until_ms)
                 SELECT ids.first + u.n - 1, u.record, u.workflow, u.status, u.created_ms,
                        u.finished_ms, $7::text,
                        CASE WHEN $7::text IS NULL THEN 0 ELSE 1 END,
                        CASE WHEN $7::text IS NULL THEN NULL ELSE {NOW_MS} + $8 END
                 FROM ids, unnest($2::bytea[], $3::text[], $4::integer[], $5::bigint[],
                                  $6::bigint[])
                      WITH ORDINALITY AS u(record, workflow, status, created_ms, finished_ms, n)
                 RETURNING id),
             act AS (
                 INSERT INTO active (run)
                 SELECT ids.first + u.n - 1 FROM ids, unnest($9::boolean[])
                     WITH ORDINALITY AS u(active, n)
                 WHERE u.active ON CONFLICT DO NOTHING),
             handed AS (
                 INSERT INTO handed_over (run, position)
                 SELECT ids.first + u.n - 1, 0 FROM ids, unnest($10::boolean[])
                     WITH ORDINALITY AS u(handed, n)
                 WHERE u.handed ON CONFLICT (run) DO UPDATE SET position = 0),
             inp AS (
                 INSERT INTO inputs (run, input)
                 SELECT ids.first + u.n - 1, u.input FROM ids, unnest($11::bytea[])
                     WITH ORDINALITY AS u(input, n))
             SELECT first, (SELECT count(*) FROM new) FROM ids"
        );
        let update = format!(
            "UPDATE runs r SET record = u.record, workflow = u.workflow,
                 finished_ms = u.finished_ms,
                 status = CASE WHEN EXISTS (SELECT 1 FROM quarantine q WHERE q.run = r.id)
                               THEN r.status ELSE u.status END,
                 owner = CASE WHEN u.take THEN $7::text ELSE r.owner END,
                 epoch = CASE WHEN u.take AND $7::text IS NOT NULL THEN r.epoch + 1
                              ELSE r.epoch END,
                 lease_until_ms = CASE WHEN $7::text IS NULL
                                       THEN CASE WHEN u.take THEN NULL ELSE r.lease_until_ms END
                                       -- A commit renews its own run's lease (see `leases::fence`):
                                       -- the heartbeat skips rows a commit holds.
                                       WHEN u.take OR r.owner = $7::text THEN {NOW_MS} + $8
                                       ELSE r.lease_until_ms END
             FROM unnest($1::bigint[], $2::bytea[], $3::text[], $4::integer[], $5::bigint[],
                         $6::boolean[]) AS u(id, record, workflow, status, finished_ms, take)
             WHERE r.id = u.id
             RETURNING r.id, r.epoch, u.take"
        );
        let new_rows = !self.new_records.is_empty();
        let statements: Vec<(bool, &str)> = vec![
            (new_rows, &create),
            (!self.put_ids.is_empty(), &update),
            (
                !self.moved_input_runs.is_empty(),
                "INSERT INTO inputs (run, input)
                 SELECT * FROM unnest($1::bigint[], $2::bytea[])
                 ON CONFLICT (run) DO UPDATE SET input = EXCLUDED.input",
            ),
            (
                !self.kv_cleared.is_empty(),
                "DELETE FROM kv WHERE run = ANY($1)",
            ),
            (
                !self.kv_deleted.0.is_empty(),
                "DELETE FROM kv k USING unnest($1::bigint[], $2::text[]) AS u(run, key)
                 WHERE k.run = u.run AND k.key = u.key",
            ),
            (
                !self.kv_put.0.is_empty(),
                "INSERT INTO kv (run, key, value)
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[])
                 ON CONFLICT (run, key) DO UPDATE SET value = EXCLUDED.value",
            ),
            (
                !self.history.0.is_empty(),
                "INSERT INTO history (run, seq, record)
                 SELECT u.run,
                        (SELECT COALESCE(MAX(seq) + 1, 0) FROM history h WHERE h.run = u.run),
                        u.record
                 FROM unnest($1::bigint[], $2::bytea[]) AS u(run, record)",
            ),
            (
                !ended.0.is_empty(),
                "WITH slept AS (
                     DELETE FROM sleeps s USING unnest($1::bigint[], $2::bigint[])
                         AS u(run, position)
                     WHERE s.run = u.run AND s.position = u.position
                     RETURNING s.run, s.wake_ms),
                 unwoken AS (
                     DELETE FROM wakeups w USING slept s
                     WHERE w.wake_ms = s.wake_ms AND w.run = s.run)
                 INSERT INTO active (run) SELECT run FROM slept ON CONFLICT DO NOTHING",
            ),
            (
                !ended.0.is_empty(),
                "DELETE FROM branches b USING unnest($1::bigint[], $2::bigint[])
                     AS u(run, position)
                 WHERE b.run = u.run AND b.position = u.position",
            ),
            (
                !event_waits.0.is_empty(),
                "DELETE FROM event_waits e USING unnest($1::bigint[], $2::bigint[])
                     AS u(run, position)
                 WHERE e.run = u.run AND e.position = u.position",
            ),
            (
                !attempts.0.is_empty(),
                "DELETE FROM attempts a USING unnest($1::bigint[], $2::bigint[])
                     AS u(run, position)
                 WHERE a.run = u.run AND a.position = u.position",
            ),
            (
                !items.0.is_empty(),
                "INSERT INTO loop_items (run, position, seq, idx, item)
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[],
                                      $5::bytea[])
                 ON CONFLICT (run, position, seq, idx) DO UPDATE SET item = EXCLUDED.item",
            ),
            (
                !self.items_dropped.is_empty(),
                "DELETE FROM loop_items WHERE run = ANY($1)",
            ),
            (
                !self.originals_dropped.is_empty(),
                "DELETE FROM migrated WHERE run = ANY($1)",
            ),
            (
                !self.queue_slots_freed.is_empty(),
                "DELETE FROM queue_runs WHERE run = ANY($1)",
            ),
            (
                !self.deactivated.is_empty(),
                "DELETE FROM active WHERE run = ANY($1)",
            ),
            (
                !self.activated.is_empty(),
                "INSERT INTO active (run) SELECT unnest($1::bigint[]) ON CONFLICT DO NOTHING",
            ),
            (
                !sleeps.0.is_empty(),
                "INSERT INTO sleeps (run, position, wake_ms, started_ms)
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[])
                 ON CONFLICT (run, position) DO UPDATE
                     SET wake_ms = EXCLUDED.wake_ms, started_ms = EXCLUDED.started_ms",
            ),
            (
                !wakeups.0.is_empty(),
                "INSERT INTO wakeups (wake_ms, run, position)
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[])
                 ON CONFLICT (wake_ms, run) DO UPDATE SET position = EXCLUDED.position",
            ),
            (
                !dropped.0.is_empty(),
                "DELETE FROM wakeups w USING unnest($1::bigint[], $2::bigint[])
                     AS u(wake_ms, run)
                 WHERE w.wake_ms = u.wake_ms AND w.run = u.run",
            ),
            (
                !branches.0.is_empty(),
                "INSERT INTO branches (run, position, idx, output)
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bytea[])
                 ON CONFLICT (run, position, idx) DO UPDATE SET output = EXCLUDED.output",
            ),
        ];
        let new_ids = (
            &count,
            &self.new_records,
            &self.new_workflows,
            &self.new_statuses,
            &self.new_created,
            &self.new_finished,
        );
        let params: Vec<Vec<&(dyn tokio_postgres::types::ToSql + Sync)>> = vec![
            vec![
                new_ids.0,
                new_ids.1,
                new_ids.2,
                new_ids.3,
                new_ids.4,
                new_ids.5,
                &owner,
                &lease,
                &self.new_active,
                &self.new_handed_over,
                &self.new_inputs,
            ],
            vec![
                &self.put_ids,
                &self.put_records,
                &self.put_workflows,
                &self.put_statuses,
                &self.put_finished,
                &self.put_take,
                &owner,
                &lease,
            ],
            vec![&self.moved_input_runs, &self.moved_inputs],
            vec![&self.kv_cleared],
            vec![&self.kv_deleted.0, &self.kv_deleted.1],
            vec![&self.kv_put.0, &self.kv_put.1, &self.kv_put.2],
            vec![&self.history.0, &self.history.1],
            vec![&ended.0, &ended.1],
            vec![&ended.0, &ended.1],
            vec![&event_waits.0, &event_waits.1],
            vec![&attempts.0, &attempts.1],
            vec![&items.0, &items.1, &items.2, &items.3, &items.4],
            vec![&self.items_dropped],
            vec![&self.originals_dropped],
            vec![&self.queue_slots_freed],
            vec![&self.deactivated],
            vec![&self.activated],
            vec![&sleeps.0, &sleeps.1, &sleeps.2, &sleeps.3],
            vec![&wakeups.0, &wakeups.1, &wakeups.2],
            vec![&dropped.0, &dropped.1],
            vec![&branches.0, &branches.1, &branches.2, &branches.3],
        ];
        let mut prepared = Vec::new();
        for ((needed, statement), params) in statements.iter().zip(&params) {
            if *needed {
                prepared.push((sql.prepare(statement).await?, params.as_slice()));
            }
        }
        // Sent in order at the first poll: one round trip for all.
        let answers = join_in_order(
            prepared
                .iter()
                .map(|(statement, params)| sql.rows_of(statement, params)),
        )
        .await?;
        let mut answers = answers.into_iter();
        let mut first = 0;
        if new_rows {
            let rows = answers.next().unwrap_or_default();
            if let Some(row) = rows.first() {
                first = row.get(0);
            }
            if worker.runs_here {
                // Each new run's lease, at epoch 1, held once the batch commits.
                for run in (unbig(first)..).take(self.new_records.len()) {
                    leases::taken(worker, RunId(run), 1);
                }
            }
        }
        if !self.put_ids.is_empty() {
            for row in answers.next().unwrap_or_default() {
                if row.get::<_, bool>(2) && worker.runs_here {
                    leases::taken(worker, RunId(unbig(row.get(0))), row.get(1));
                }
            }
        }
        Ok(first)
    }
}

/// Awaits every future, polling them in order (so that statements are sent in order), and
/// returns their outputs in order; the first error if any.
async fn join_in_order<T, F>(futures: impl Iterator<Item = F>) -> Result<Vec<T>, Error>
where
    F: std::future::Future<Output = Result<T, Error>>,
{
    let mut futures: Vec<_> = futures.map(Box::pin).collect();
    let mut outputs: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_some() {
                continue;
            }
            match future.as_mut().poll(cx) {
                std::task::Poll::Ready(Ok(value)) => *output = Some(value),
                std::task::Poll::Ready(Err(error)) => return std::task::Poll::Ready(Err(error)),
                std::task::Poll::Pending => pending = true,
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(Ok(()))
        }
    })
    .await?;
    Ok(outputs.into_iter().flatten().collect())
}
