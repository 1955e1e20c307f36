//! Every write the runtime makes to its store, as plain data: a [`WriteOp`] and the
//! [`Outcome`] it produces.
//!
//! Writes are data, not methods, so that one entry of the [`Store`](super::Store) trait,
//! [`write`](super::Store::write), applies a whole batch of them atomically (the group
//! committer's, see [`super::group_commit`]), and so that a backend implements each write once,
//! inside its own transaction type. The rules that decide what a write does to a run (which
//! status it moves to, when a question's default answer is taken) are in
//! [`crate::lifecycle`], shared by every backend.

use crate::context::loop_items::LoopItems;
use crate::context::state::StateWrites;
use crate::error::Error;
use crate::history::HistoryRecord;
use crate::question::Answer;
use crate::run::RunId;
use crate::store::events::{Awaited, StoredAttempts, StoredWait};
use crate::store::hitl::{Asked, Claim, StoredQuestion};
use crate::store::{RunRecord, StoredSleep};

/// One write, owned, so that it can cross to the committer's helper thread.
///
/// "Position" is a run's number of committed transitions (see [`Store`](super::Store)).
#[derive(Debug)]
pub(crate) enum WriteOp {
    /// Stores a new run: [`Outcome::Created`] with its id.
    CreateRun { record: RunRecord },
    /// Several new runs, all or none (`Client::start_many`), with consecutive ids:
    /// [`Outcome::Created`] with the first one. With `hand_over` (a client-only process) each
    /// run is also handed over to the running runtime, in the same write.
    CreateRuns {
        records: Vec<RunRecord>,
        hand_over: bool,
    },
    /// `Client::start_unique`: the run `key` is bound to in `record`'s workflow
    /// ([`Outcome::Existing`]), or else a new run stored with `record` and bound to `key`
    /// ([`Outcome::Created`]), looked up and created in this one write so that two callers
    /// never both create. With `hand_over` (a client-only process) a new run is also handed
    /// over to the running runtime, in the same write.
    CreateUnique {
        key: String,
        record: RunRecord,
        hand_over: bool,
    },
    /// A tick of the schedule `schedule` at `tick_ms` (see `crate::schedule`): if the
    /// schedule's last handled tick is at or after it, nothing is written and the outcome is
    /// the tick's run ([`Outcome::Existing`]) or [`Outcome::Done`] if it started none; else
    /// the tick becomes the last handled and, with a `record`, a run is started as a unique
    /// start keyed by the schedule and the tick ([`Outcome::Created`]; handed over with
    /// `hand_over`), all in this one write, so that a tick starts one run whoever handles it.
    /// Without a `record` the tick is only marked handled (a skipped tick, or the first time
    /// a schedule is seen: ticks before it are not its).
    ScheduleTick {
        schedule: String,
        tick_ms: u64,
        record: Option<RunRecord>,
        hand_over: bool,
    },
    /// `Client::start_with_priority`: a new run, as [`WriteOp::CreateRun`], whose place in
    /// its workflow's queue (if it has one, see [`crate::queue`]) is by `priority`, higher
    /// first, then start order: [`Outcome::Created`]. With `hand_over` (a client-only
    /// process) the run is handed over in the same write.
    CreateWithPriority {
        record: RunRecord,
        priority: u32,
        hand_over: bool,
    },
    /// At a runtime's start: the queues and the workflows in each become exactly `queues`
    /// ([`Limits`](crate::Limits)): [`Outcome::Done`]. Every run created after it of a
    /// workflow in a queue is stored [`Queued`](crate::Status::Queued) in its queue, in the
    /// write that creates it (whatever op creates it); a run that finishes leaves its queue
    /// in the write that finishes it.
    RegisterQueues {
        queues: Vec<crate::queue::QueueConfig>,
    },
    /// Admits queued runs of the workflows named in `workflows` (those the runtime can run),
    /// up to `limit`, in each queue's order while its cap and its rate limit allow, counted
    /// in this write: each becomes [`Pending`](crate::Status::Pending) and active, and holds
    /// a slot of its queue until it finishes. [`Outcome::Admitted`] with the runs, for the
    /// caller to start.
    PumpQueues {
        workflows: Vec<String>,
        limit: usize,
    },
    /// Creates a run in `session`, starting with a copy of the durable key-value state of the
    /// session's previous run, which must have finished ([`Error::SessionBusy`] otherwise):
    /// [`Outcome::Created`].
    CreateInSession { session: String, record: RunRecord },
    /// Drops the wake-up `(wake_ms, run)` and, if it is the sleep the run waits in, marks the
    /// run running again: [`Outcome::Woken`] (false for a wake-up left behind by a sleep that
    /// ended otherwise).
    Wake { run: RunId, wake_ms: u64 },
    /// A transition: replaces the run's state, bumps its transition count, marks it running,
    /// applies `writes` to its key-value state, appends `history` (numbered by the store),
    /// stores the items of loops entered in the segment that ends, and drops the bookkeeping
    /// of the await that completed (its sleep, its branch outputs): [`Outcome::Transitions`]
    /// with the new count.
    ///
    /// `position` is the committing task's position (the count before this transition): the
    /// commit is refused with [`Error::MovedOn`] if the stored run is elsewhere
    /// ([`lifecycle::at_position`](crate::lifecycle::at_position)). On PostgreSQL this stops
    /// a task that outlived its lease once its worker owns the run again (a double fault, which
    /// the lease's fence lets through); on LMDB (one runtime per directory, one task per run)
    /// it never happens, and the check costs an integer compare.
    CommitState {
        run: RunId,
        position: u64,
        state_name: &'static str,
        step: Option<&'static str>,
        /// The new state, sealed by `crate::codec`.
        state: Vec<u8>,
        writes: StateWrites,
        history: HistoryRecord,
        items: Vec<LoopItems>,
    },
    /// Marks the run completed with its sealed output, applying `writes` and appending
    /// `history`; drops its loop items. `position`: the committing task's, as in
    /// [`WriteOp::CommitState`].
    Complete {
        run: RunId,
        position: u64,
        output: Vec<u8>,
        writes: StateWrites,
        history: HistoryRecord,
    },
    /// Marks the run failed with a message, appending `history` if given. Buffered state
    /// writes are not applied: a resumed run re-runs the segment that made them.
    /// `position`: the failing task's, as in [`WriteOp::CommitState`].
    Fail {
        run: RunId,
        position: u64,
        message: String,
        history: Option<HistoryRecord>,
    },
    /// Stores the sleep at `position`, indexes its wake-up and marks the run waiting.
    /// [`Error::MovedOn`] if the stored run is not at `position` (the rule is
    /// [`lifecycle::suspend`](crate::lifecycle::suspend)).
    Suspend {
        run: RunId,
        position: u64,
        sleep: StoredSleep,
    },
    /// Stores the sealed output of branch `index` of the `parallel` call at `position`.
    CommitBranch {
        run: RunId,
        position: u64,
        index: u32,
        output: Vec<u8>,
    },
    /// At `position` of `run`: the stored question's answer if it has one (or its default,
    /// committed, if its deadline has passed), else stores `question` if none is stored yet
    /// and marks the run waiting: [`Outcome::Asked`]. [`Error::MovedOn`] if the stored run
    /// is not at `position` (the rule is [`lifecycle::at_position`](crate::lifecycle::at_position)):
    /// a question stored there could never be answered (an answer goes to the question at
    /// the run's position), and the waiting status would hide the run from every worker.
    Ask {
        run: RunId,
        position: u64,
        question: StoredQuestion,
    },
    /// Checks `answer` against the question `run` waits on and commits it:
    /// [`Outcome::Answered`] with the answer in canonical form. [`Error::NotWaiting`],
    /// [`Error::AlreadyAnswered`] and [`Error::InvalidAnswer`] change nothing.
    Answer { run: RunId, answer: Answer },
    /// Marks a waiting run whose question is answered (or past its deadline, whose default is
    /// then committed), or whose children at its position have all finished, running, so that
    /// exactly one runtime resumes it: [`Outcome::Claim`].
    Claim { run: RunId },
    /// Marks a failed run running (or pending) again: [`Outcome::Record`] with its record;
    /// [`Error::NotResumable`] if it has not failed. A run of a workflow in a queue is queued
    /// again instead (its slot was freed when it failed).
    Reopen { run: RunId },
    /// Leaves `run`, stored at `position` by a process that runs no workflow, for the runtime
    /// that runs them to pick up.
    HandOver { run: RunId, position: u64 },
    /// Takes (removes and returns) up to `limit` runs handed over, with their positions:
    /// [`Outcome::HandedOver`] (see [`TakenRun`]).
    TakeHandedOver { limit: usize },
    /// Quarantines `run` with `reason` (see [`crate::quarantine`]): marked, and out of every
    /// index the runtime reads.
    Quarantine { run: RunId, reason: String },
    /// Takes a quarantined run out of quarantine, marked running (or pending) and active:
    /// [`Outcome::Record`]; [`Error::CorruptState`] if its record still does not decode.
    Release { run: RunId },
    /// Fails a quarantined run with `message`.
    FailQuarantined { run: RunId, message: String },
    /// Deletes every entry of a quarantined or finished run.
    Purge { run: RunId },
    /// `Client::cancel` (the rule is [`lifecycle::cancel`](crate::lifecycle::cancel)): a
    /// pending, waiting or paused run is cancelled in this write, out of every index (active,
    /// wake-up, answered, deadline, pending question, hand-over); a running one gets a cancel
    /// request, which its next commit applies. [`Error::NotCancellable`] for a run that has
    /// completed or failed; nothing to do for one already cancelled.
    Cancel { run: RunId },
    /// `Client::pause` (the rule is [`lifecycle::pause`](crate::lifecycle::pause)): a pending
    /// or waiting run is held in this write, out of the active, wake-up, answered and
    /// deadline indexes (its sleep and question are kept, and a pending question can still
    /// be answered); a running one gets a pause request, which its next commit applies.
    Pause { run: RunId },
    /// `Client::unpause`: a paused run is marked runnable and active again:
    /// [`Outcome::Record`] with its record, for the caller to resume it; a pause request not
    /// applied yet is withdrawn: [`Outcome::Done`]. [`Error::NotPaused`] otherwise.
    Unpause { run: RunId },
    /// At a runtime's start, before any run is resumed, while no run has a task anywhere:
    /// applies every stored cancel or pause request at once (their runs' tasks died with the
    /// process that ran them) and empties the table of requests.
    SettleRequests,
    /// Deletes every entry of up to `limit` finished runs that `filter` selects, oldest
    /// finish first (unfinished runs are never touched): [`Outcome::Purged`] with how many.
    PurgeFinished {
        filter: crate::client::listing::RunFilter,
        limit: usize,
    },
    /// `Context::child`: the child `parent` started at `position` (`slot`: the branch index
    /// inside `parallel`, else 0) ([`Outcome::Existing`]), or else a new run stored with
    /// `record` and recorded as that child ([`Outcome::Created`]), looked up and created in
    /// this one write, so that a parent resumed after a crash never starts a second child.
    StartChild {
        parent: RunId,
        position: u64,
        slot: u32,
        record: RunRecord,
    },
    /// `Context::child` once its children are started: if every child at (`parent`,
    /// `position`) has finished, nothing ([`Outcome::Parked`] false); else the parent is
    /// marked waiting, out of the active index ([`Outcome::Parked`] true), and the write that
    /// finishes its last child there wakes it through the answer watcher's index.
    AwaitChildren { parent: RunId, position: u64 },
    /// Stores each workflow a runtime registers (its state graph and fingerprint), stamped
    /// with the write's time, for tools without the user's code; a current version makes the
    /// other stored versions of its name not current: [`Outcome::Done`].
    RegisterWorkflows {
        workflows: Vec<crate::graph::StoredWorkflow>,
    },
    /// `Client::send`: appends the sealed `payload` to `run`'s queue of events named `name`
    /// and, if the run is parked waiting for that name, makes it runnable and hands it over
    /// (see [`crate::store::events`]): [`Outcome::Woken`] with whether it did.
    /// [`Error::UnknownRun`], and [`Error::EventToFinishedRun`] for a run that has finished,
    /// write nothing.
    SendEvent {
        run: RunId,
        name: String,
        payload: Vec<u8>,
    },
    /// `Context::wait_for_event` at `position`: the event bound there, else the first queued
    /// event of `wait.name` (taken off the queue and bound there), else, past the stored
    /// deadline, none; else stores `wait` if no wait is stored yet and parks the run:
    /// [`Outcome::Awaited`]. [`Error::MovedOn`] if the stored run is not at `position` (the
    /// rule is [`lifecycle::at_position`](crate::lifecycle::at_position)): an event bound
    /// there would be lost to the run, and a wait stored there would never be met.
    AwaitEvent {
        run: RunId,
        position: u64,
        wait: StoredWait,
    },
    /// A failed attempt of the retrying step at `position` is to be retried: stores how many
    /// attempts were made and when the next is due, so that a resumed run continues there.
    RecordAttempts {
        run: RunId,
        position: u64,
        attempts: StoredAttempts,
    },
    /// Moves `run`, stored under layout `from`, to layout `fingerprint` (see
    /// [`crate::layout::check`]): its record takes `fingerprint` and, if given, the migrated
    /// state (its name and sealed bytes), in place of the stored one; its status, position and
    /// everything else are unchanged. The original layout and state are kept next to it until
    /// the run's next [`WriteOp::CommitState`], [`WriteOp::Complete`] or [`WriteOp::Fail`] (see
    /// [`Store::migrated_original`](super::Store::migrated_original)), so that a migration
    /// is undone by hand if the migrated run cannot go on. [`Error::IncompatibleState`] if
    /// the run is no longer stored under `from` (another process moved it): [`Outcome::Done`].
    MigrateRun {
        run: RunId,
        from: u64,
        fingerprint: u64,
        state: Option<(String, Vec<u8>)>,
    },
}

/// A run taken by [`WriteOp::TakeHandedOver`]: the position it was handed over at, and its
/// record when the store read it while taking it. PostgreSQL's take is a claim that reads each
/// record under its row lock (and skips quarantined runs), so the runtime starts the run from
/// that record instead of reading it again, one round trip per run; LMDB's hand-over table holds
/// positions only.
#[derive(Debug)]
pub(crate) struct TakenRun {
    pub run: RunId,
    pub position: u64,
    pub record: Option<Box<RunRecord>>,
    /// The run's input (kept apart from its record), when the take read it too: PostgreSQL
    /// reads those of the runs it took that have not started, in one statement, for the
    /// same reason.
    pub input: Option<Vec<u8>>,
}

/// What one [`WriteOp`] produced; which variant each op gives is in its doc.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Written; nothing to report.
    Done,
    /// The run's transition count after a [`WriteOp::CommitState`].
    Transitions(u64),
    /// The id of the (first) run created.
    Created(RunId),
    /// The run a [`WriteOp::CreateUnique`]'s key was bound to already.
    Existing(RunId),
    /// Whether a [`WriteOp::Wake`] woke the run.
    Woken(bool),
    Asked(Asked),
    Answered(Answer),
    Claim(Claim),
    /// The run's record after the write.
    Record(Box<RunRecord>),
    HandedOver(Vec<TakenRun>),
    /// A [`WriteOp::Complete`] or [`WriteOp::Fail`] of a child run (one `Context::child`
    /// started): its end may let its parent go on, so the runtime tells its answer watcher
    /// at once (`runtime/child_wake.rs`). The end of any other run is [`Outcome::Done`].
    ChildEnded,
    /// A commit of the run's own task met a cancel or a pause: the run is now `status`
    /// ([`Status::Cancelled`](crate::Status::Cancelled), the commit dropped, or
    /// [`Status::Paused`](crate::Status::Paused), the commit written), and its task stops.
    /// Every accessor turns it into [`Error::Cancelled`] or [`Error::Paused`].
    Stopped {
        run: RunId,
        status: crate::run::Status,
    },
    /// How many runs a [`WriteOp::PurgeFinished`] deleted.
    Purged(u64),
    /// The runs a [`WriteOp::PumpQueues`] admitted.
    Admitted(Vec<RunId>),
    /// Whether a [`WriteOp::AwaitChildren`] parked the parent.
    Parked(bool),
    /// What a [`WriteOp::AwaitEvent`] found.
    Awaited(Awaited),
}

impl Outcome {
    /// An outcome of the wrong kind is a bug in a backend; it is reported as an error rather
    /// than a panic on a run's task.
    fn mismatch(self, expected: &str) -> Error {
        if let Outcome::Stopped { run, status } = self {
            return match status {
                crate::run::Status::Paused => Error::Paused { run },
                _ => Error::Cancelled { run },
            };
        }
        Error::from(std::io::Error::other(format!(
            "the store answered a write with {self:?} where {expected} was expected"
        )))
    }

    pub(crate) fn transitions(self) -> Result<u64, Error> {
        match self {
            Outcome::Transitions(count) => Ok(count),
            other => Err(other.mismatch("a transition count")),
        }
    }

    pub(crate) fn created(self) -> Result<RunId, Error> {
        match self {
            Outcome::Created(run) => Ok(run),
            other => Err(other.mismatch("a run id")),
        }
    }

    /// A [`WriteOp::CreateUnique`]'s run, and whether this write created it.
    pub(crate) fn unique(self) -> Result<(RunId, bool), Error> {
        match self {
            Outcome::Created(run) => Ok((run, true)),
            Outcome::Existing(run) => Ok((run, false)),
            other => Err(other.mismatch("a run id")),
        }
    }

    /// A [`WriteOp::ScheduleTick`]'s run and whether this write created it; `None` for a
    /// tick handled without a run.
    pub(crate) fn tick(self) -> Result<Option<(RunId, bool)>, Error> {
        match self {
            Outcome::Created(run) => Ok(Some((run, true))),
            Outcome::Existing(run) => Ok(Some((run, false))),
            Outcome::Done => Ok(None),
            other => Err(other.mismatch("a tick's run")),
        }
    }

    /// The outcome of a [`WriteOp::Complete`] or [`WriteOp::Fail`] that ended a run, a
    /// child or not.
    pub(crate) fn ended_run(child: bool) -> Outcome {
        if child {
            Outcome::ChildEnded
        } else {
            Outcome::Done
        }
    }

    /// Whether the run a [`WriteOp::Complete`] or [`WriteOp::Fail`] ended was a child.
    pub(crate) fn ended(self) -> Result<bool, Error> {
        match self {
            Outcome::Done => Ok(false),
            Outcome::ChildEnded => Ok(true),
            other => Err(other.mismatch("a run's end")),
        }
    }

    pub(crate) fn woken(self) -> Result<bool, Error> {
        match self {
            Outcome::Woken(woken) => Ok(woken),
            other => Err(other.mismatch("a wake-up")),
        }
    }

    pub(crate) fn asked(self) -> Result<Asked, Error> {
        match self {
            Outcome::Asked(asked) => Ok(asked),
            other => Err(other.mismatch("a question")),
        }
    }

    pub(crate) fn answered(self) -> Result<Answer, Error> {
        match self {
            Outcome::Answered(answer) => Ok(answer),
            other => Err(other.mismatch("an answer")),
        }
    }

    pub(crate) fn claim(self) -> Result<Claim, Error> {
        match self {
            Outcome::Claim(claim) => Ok(claim),
            other => Err(other.mismatch("a claim")),
        }
    }

    pub(crate) fn record(self) -> Result<RunRecord, Error> {
        match self {
            Outcome::Record(record) => Ok(*record),
            other => Err(other.mismatch("a run record")),
        }
    }

    pub(crate) fn handed_over(self) -> Result<Vec<TakenRun>, Error> {
        match self {
            Outcome::HandedOver(runs) => Ok(runs),
            other => Err(other.mismatch("handed-over runs")),
        }
    }

    pub(crate) fn admitted(self) -> Result<Vec<RunId>, Error> {
        match self {
            Outcome::Admitted(runs) => Ok(runs),
            other => Err(other.mismatch("admitted runs")),
        }
    }

    pub(crate) fn purged(self) -> Result<u64, Error> {
        match self {
            Outcome::Purged(count) => Ok(count),
            other => Err(other.mismatch("a number of runs purged")),
        }
    }

    pub(crate) fn parked(self) -> Result<bool, Error> {
        match self {
            Outcome::Parked(parked) => Ok(parked),
            other => Err(other.mismatch("whether the run was parked")),
        }
    }

    pub(crate) fn awaited(self) -> Result<Awaited, Error> {
        match self {
            Outcome::Awaited(awaited) => Ok(awaited),
            other => Err(other.mismatch("an event")),
        }
    }

    /// Written, and nothing to report (or the end of a child, to a caller that does not ask
    /// what ended; see [`ended`](Self::ended)).
    pub(crate) fn done(self) -> Result<(), Error> {
        match self {
            Outcome::Done | Outcome::ChildEnded => Ok(()),
            other => Err(other.mismatch("nothing")),
        }
    }
}

impl WriteOp {
    /// Whether the group committer gives this op a transaction of its own rather than a
    /// place in the batch of the requests queued with it. A take of handed-over runs (on
    /// PostgreSQL a claim that reads tens of records and their inputs) made the batch of
    /// transitions it landed in leave PostgreSQL's one-statement path (`postgres/one_trip.rs`
    /// takes batches of checkpoints and completions only): in the throughput benchmark, 30%
    /// of the transitions went the usual, slower way for that. On a store whose transactions
    /// run side by side, it commits beside the batch in progress (see
    /// [`Committer::submit`](crate::store::group_commit::Committer::submit)).
    pub(crate) fn commits_alone(&self) -> bool {
        matches!(self, WriteOp::TakeHandedOver { .. })
    }

    /// Payload bytes (inputs, states, loop items, outputs) the op writes, for the benchmarks'
    /// count of bytes per transition.
    pub(crate) fn payload_len(&self) -> u64 {
        let len = match self {
            WriteOp::CreateRun { record }
            | WriteOp::CreateWithPriority { record, .. }
            | WriteOp::CreateInSession { record, .. }
            | WriteOp::CreateUnique { record, .. }
            | WriteOp::StartChild { record, .. } => record.input.len(),
            WriteOp::ScheduleTick { record, .. } => record.as_ref().map_or(0, |r| r.input.len()),
            WriteOp::CreateRuns { records, .. } => records.iter().map(|r| r.input.len()).sum(),
            WriteOp::CommitState { state, items, .. } => {
                state.len() + items.iter().map(LoopItems::byte_len).sum::<usize>()
            }
            WriteOp::Complete { output, .. } | WriteOp::CommitBranch { output, .. } => output.len(),
            WriteOp::Fail { message, .. } | WriteOp::FailQuarantined { message, .. } => {
                message.len()
            }
            WriteOp::Suspend { .. } => 16,
            WriteOp::SendEvent { payload, .. } => payload.len(),
            WriteOp::RecordAttempts { .. } => 12,
            WriteOp::AwaitEvent { .. } => 0,
            WriteOp::Wake { .. }
            | WriteOp::Ask { .. }
            | WriteOp::Answer { .. }
            | WriteOp::Claim { .. }
            | WriteOp::Reopen { .. }
            | WriteOp::HandOver { .. }
            | WriteOp::TakeHandedOver { .. }
            | WriteOp::Quarantine { .. }
            | WriteOp::Release { .. }
            | WriteOp::Purge { .. }
            | WriteOp::Cancel { .. }
            | WriteOp::Pause { .. }
            | WriteOp::Unpause { .. }
            | WriteOp::SettleRequests
            | WriteOp::PurgeFinished { .. }
            | WriteOp::RegisterWorkflows { .. }
            | WriteOp::RegisterQueues { .. }
            | WriteOp::PumpQueues { .. }
            | WriteOp::AwaitChildren { .. } => 0,
            WriteOp::MigrateRun { state, .. } => state.as_ref().map_or(0, |(_, s)| s.len()),
        };
        u64::try_from(len).unwrap_or(u64::MAX)
    }
}

/// Why [`Store::write`](super::Store::write) wrote nothing. (The error is boxed: it is the rare
/// path, and the `Ok` side is returned at every commit.)
#[derive(Debug)]
pub(crate) enum WriteError {
    /// Op `index` of the batch failed (an unknown run, an invalid answer, a value the store
    /// cannot hold, a full disk met while writing it); nothing of the batch was written.
    /// `also`: other ops of the batch the store found refused too, for reasons that do not
    /// depend on the ops before them (PostgreSQL: the lost leases of a worker paused past
    /// them, `postgres/lost_leases.rs`), so that they fail with it rather than one more
    /// attempt of the batch each; usually empty.
    Refused {
        index: usize,
        error: Box<Error>,
        also: Vec<(usize, Box<Error>)>,
    },
    /// The write as a whole failed (disk full, I/O error, connection lost): nothing written.
    Failed(Box<Error>),
}
