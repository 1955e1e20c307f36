//! The rules of a run's life, in one place for every backend: which status each write moves a
//! run to, what may be reopened or released, when a question's default answer is taken and
//! which answer is accepted.
//!
//! A backend reads the record (and question) in its transaction, calls the rule here, and
//! writes the result; it never decides a status itself. Times come from the write, which the
//! group committer stamps with the runtime's [`Clock`](crate::Clock), so that a test clock
//! governs them too.

use crate::error::Error;
use crate::question::Answer;
use crate::run::{RunId, Status};
use crate::store::RunRecord;
use crate::store::hitl::StoredQuestion;

/// The status a run goes back to when it may run again (it stops sleeping or waiting, it is
/// reopened or released): pending if it has not made a transition yet, else running.
pub(crate) fn runnable(record: &RunRecord) -> Status {
    if record.transitions == 0 {
        Status::Pending
    } else {
        Status::Running
    }
}

/// A transition committed: the run is running, in `state_name`, after `step`, with `state`.
/// LMDB writes the same fields straight from a running or pending run's stored bytes
/// (`store::stored_record::Checkpointed`); a test there holds the two together.
pub(crate) fn checkpoint(
    record: &mut RunRecord,
    state_name: &str,
    step: Option<&str>,
    state: &[u8],
    now_ms: u64,
) {
    record.status = Status::Running;
    state_name.clone_into(&mut record.state_name);
    record.step = step.map(str::to_owned);
    record.transitions += 1;
    record.state = Some(state.to_vec());
    record.updated_at_ms = now_ms;
}

/// The run completed with its sealed `output`.
pub(crate) fn complete(record: &mut RunRecord, output: &[u8], now_ms: u64) {
    record.status = Status::Completed;
    record.output = Some(output.to_vec());
    record.updated_at_ms = now_ms;
}

/// The run failed with `message`.
pub(crate) fn fail(record: &mut RunRecord, message: &str, now_ms: u64) {
    record.status = Status::Failed;
    record.error = Some(message.to_owned());
    record.updated_at_ms = now_ms;
}

/// A new run of a limited workflow waits in its queue.
pub(crate) fn queue(record: &mut RunRecord) {
    record.status = Status::Queued;
}

/// A queued run is admitted: it may start.
pub(crate) fn admit(record: &mut RunRecord, now_ms: u64) {
    go_on(record, now_ms);
}

/// The run waits (in a durable sleep, or for an answer).
pub(crate) fn wait(record: &mut RunRecord, now_ms: u64) {
    set_status(record, Status::Waiting, now_ms);
}

/// A commit of a run's own task made at `position` (a new state, a sleep, a question, its
/// end) applies only to the run stored at `position`: [`Error::MovedOn`] otherwise, nothing
/// written. The stored run is elsewhere when another task committed it further while this
/// one ran, or when this one started from a stale record: on PostgreSQL, a task of a worker
/// stopped past its lease whose worker owns the run again after another worker's progress
/// (the lease's fence passes: the epoch is this worker's again). Written, its new state would
/// replace that progress, and the steps committed since would run again.
///
/// `stored` is the stored run's position (its `transitions`).
pub(crate) fn at_position(run: RunId, stored: u64, position: u64) -> Result<(), Error> {
    if stored != position {
        return Err(Error::MovedOn {
            run,
            position,
            stored,
        });
    }
    Ok(())
}

/// A durable sleep committed at `position`: the run waits. [`Error::MovedOn`] if the stored
/// run is not at `position` ([`at_position`]): a sleep stored there would never be woken (a
/// wake-up only wakes the sleep at the run's position), and the waiting status would hide the
/// run from every worker.
pub(crate) fn suspend(
    run: RunId,
    record: &mut RunRecord,
    position: u64,
    now_ms: u64,
) -> Result<(), Error> {
    at_position(run, record.transitions, position)?;
    wait(record, now_ms);
    Ok(())
}

/// The run may run again (see [`runnable`]).
pub(crate) fn go_on(record: &mut RunRecord, now_ms: u64) {
    let status = runnable(record);
    set_status(record, status, now_ms);
}

/// Sets `status`; returns whether it changed (so a backend writes the record only then).
pub(crate) fn set_status(record: &mut RunRecord, status: Status, now_ms: u64) -> bool {
    if record.status == status {
        return false;
    }
    record.status = status;
    record.updated_at_ms = now_ms;
    true
}

/// `Client::resume` of a failed run: it runs again from its last committed state.
/// [`Error::NotResumable`] for a run that has not failed.
pub(crate) fn reopen(run: RunId, record: &mut RunRecord, now_ms: u64) -> Result<(), Error> {
    if record.status != Status::Failed {
        return Err(Error::NotResumable {
            run,
            status: record.status,
        });
    }
    record.error = None;
    go_on(record, now_ms);
    Ok(())
}

/// A quarantined run released: a finished one stays finished (it was quarantined for a
/// damaged index entry); any other runs again, its sleep or question stored again by the run
/// itself when it gets there. Returns whether the record changed.
pub(crate) fn release(record: &mut RunRecord, now_ms: u64) -> bool {
    if record.status.is_finished() {
        return false;
    }
    record.error = None;
    go_on(record, now_ms);
    record.updated_at_ms = now_ms;
    true
}

/// Takes the default answer of `question` if its deadline has passed at `now_ms`; returns
/// whether it did (the question must then be written back).
pub(crate) fn expire(question: &mut StoredQuestion, now_ms: u64) -> bool {
    let due = question.answer.is_none() && question.deadline_ms.is_some_and(|d| d <= now_ms);
    if due && let Some(default) = question.question.default_answer() {
        question.answer = Some(default.clone());
        question.answered_at_ms = Some(now_ms);
        question.timed_out = true;
        return true;
    }
    false
}

/// Checks `answer` from a person against the question `run` waits on, at its current
/// position, and records it in `question`; returns the answer in canonical form.
/// `question` is `None` if the run has no question there.
pub(crate) fn answer(
    run: RunId,
    record: &RunRecord,
    question: Option<&mut StoredQuestion>,
    answer: &Answer,
    now_ms: u64,
) -> Result<Answer, Error> {
    let not_waiting = || Error::NotWaiting {
        run,
        status: record.status,
    };
    if record.status.is_finished() {
        return Err(not_waiting());
    }
    let question = question.ok_or_else(not_waiting)?;
    if question.answer.is_some() {
        return Err(Error::AlreadyAnswered { run });
    }
    let answer = question
        .question
        .check_answer(answer)
        .map_err(|reason| Error::InvalidAnswer { run, reason })?;
    question.answer = Some(answer.clone());
    question.answered_at_ms = Some(now_ms);
    Ok(answer)
}

/// What a cancel or a pause asks of a run that is running: stored apart from its record (in
/// a small table of requests keyed by run), and applied by the run's next commit. A cancel
/// replaces a pause; a pause never replaces a cancel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    Cancel,
    Pause,
}

impl Request {
    /// The stored form: one byte.
    pub(crate) fn to_byte(self) -> u8 {
        match self {
            Request::Cancel => 1,
            Request::Pause => 2,
        }
    }

    /// A byte not written by [`to_byte`](Self::to_byte) reads as a cancel: a damaged request
    /// stops the run rather than letting it run on unasked.
    pub(crate) fn from_byte(byte: Option<&u8>) -> Request {
        match byte {
            Some(2) => Request::Pause,
            _ => Request::Cancel,
        }
    }
}

/// What `Client::cancel` or `Client::pause` does to a run, by its status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// It is in that state already: nothing to do (both operations are idempotent).
    Already,
    /// It has no step in flight that would commit (waiting, paused), or it may have one
    /// that has committed nothing yet (pending): stopped in this write.
    Now,
    /// It is running, its task live in some runtime (maybe in another process): a
    /// [`Request`] is stored, and its next commit applies it.
    AtNextCommit,
}

/// `Client::cancel`: [`Error::NotCancellable`] for a run that has completed or failed.
pub(crate) fn cancel(run: RunId, record: &RunRecord) -> Result<Stop, Error> {
    match record.status {
        Status::Cancelled => Ok(Stop::Already),
        Status::Running => Ok(Stop::AtNextCommit),
        Status::Pending | Status::Waiting | Status::Paused | Status::Queued => Ok(Stop::Now),
        status @ (Status::Completed | Status::Failed | Status::Corrupt) => {
            Err(Error::NotCancellable { run, status })
        }
    }
}

/// `Client::pause`: [`Error::NotPausable`] for a finished run.
pub(crate) fn pause(run: RunId, record: &RunRecord) -> Result<Stop, Error> {
    match record.status {
        Status::Paused => Ok(Stop::Already),
        Status::Running => Ok(Stop::AtNextCommit),
        Status::Pending | Status::Waiting => Ok(Stop::Now),
        // A queued run holds nothing yet; cancel it instead, or let it start.
        status @ (Status::Completed
        | Status::Failed
        | Status::Cancelled
        | Status::Corrupt
        | Status::Queued) => Err(Error::NotPausable { run, status }),
    }
}

/// `Client::unpause`: a paused run may run again (see [`runnable`]); returns whether it was
/// paused (else a pause was only requested, and withdrawing it is all there is to do).
/// [`Error::NotPaused`] for a run neither paused nor asked to pause.
pub(crate) fn unpause(
    run: RunId,
    record: &mut RunRecord,
    request: Option<Request>,
    now_ms: u64,
) -> Result<bool, Error> {
    match (record.status, request) {
        (Status::Paused, _) => {
            go_on(record, now_ms);
            Ok(true)
        }
        (status, Some(Request::Pause)) if !status.is_finished() => Ok(false),
        (status, _) => Err(Error::NotPaused { run, status }),
    }
}

/// What a commit of a run's own task (a new state, a sleep, a question, its end) does, given
/// the run's stored [`Request`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AtCommit {
    /// No request: the commit is written as asked.
    Proceed,
    /// Cancelled: the commit is dropped (its step's result with it) and the run is marked
    /// cancelled instead; the task stops.
    Cancel,
    /// Paused: the commit is written (the step's result is kept), then the run is held; the
    /// task stops. A commit that ends the run (completed, failed) just ends it.
    Hold,
}

/// The rule of [`AtCommit`] for a commit that ends the run (`ends`) or not.
pub(crate) fn at_commit(request: Option<Request>, ends: bool) -> AtCommit {
    match request {
        None => AtCommit::Proceed,
        Some(Request::Cancel) => AtCommit::Cancel,
        Some(Request::Pause) if ends => AtCommit::Proceed,
        Some(Request::Pause) => AtCommit::Hold,
    }
}

/// The run is cancelled: finished, with its output and error cleared.
pub(crate) fn cancelled(record: &mut RunRecord, now_ms: u64) {
    record.output = None;
    record.error = None;
    set_status(record, Status::Cancelled, now_ms);
}

/// The run is held until unpaused.
pub(crate) fn hold(record: &mut RunRecord, now_ms: u64) {
    set_status(record, Status::Paused, now_ms);
}
