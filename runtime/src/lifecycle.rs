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

/// The run waits (in a durable sleep, or for an answer).
pub(crate) fn wait(record: &mut RunRecord, now_ms: u64) {
    set_status(record, Status::Waiting, now_ms);
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
