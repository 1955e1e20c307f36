//! What the runtime needs from storage for people in the loop: questions, answers, sessions.
//!
//! The reads are a supertrait of [`Store`](crate::store::Store), so a backend implements both;
//! the writes (ask, answer, claim, create in a session) are [`WriteOp`](crate::store::WriteOp)s.
//! A question is keyed by (run, position) like a durable sleep: the await in progress. The
//! run's status and the question change together, so another process (a client answering, a
//! runtime claiming the answered run) always sees both or neither.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::question::{Answer, Question};
use crate::run::RunId;
use crate::store::RunRecord;

/// A question as committed with its run. Stored with postcard: append fields only (and bump
/// the format version).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredQuestion {
    pub workflow: String,
    pub question: Question,
    pub asked_at_ms: u64,
    /// When the default answer is taken, if the question has a timeout.
    pub deadline_ms: Option<u64>,
    pub answer: Option<Answer>,
    pub answered_at_ms: Option<u64>,
    /// Whether `answer` is the default, taken at the deadline.
    pub timed_out: bool,
}

/// What an [`Ask`](crate::store::WriteOp::Ask) found.
#[derive(Debug)]
pub(crate) enum Asked {
    /// The question is answered (maybe just now, by its timeout): the run goes on.
    Answered { answer: Answer, asked_at_ms: u64 },
    /// The question is committed and the run marked waiting.
    Waiting { deadline_ms: Option<u64> },
}

/// What a [`Claim`](crate::store::WriteOp::Claim) found.
#[derive(Debug)]
pub(crate) enum Claim {
    /// The run was waiting and its question is answered: it is now marked running, and the
    /// caller must resume it.
    Claimed(Box<RunRecord>),
    /// Still waiting for an answer.
    Waiting,
    /// Not waiting for an answer any more (finished, or claimed by someone else).
    Gone,
}

/// What the answer watcher must claim now, from [`HitlStore::due_answers`].
#[derive(Debug, Default)]
pub(crate) struct DueAnswers {
    /// Runs whose question was answered, or whose deadline has passed.
    pub runs: Vec<RunId>,
    /// The earliest deadline not yet due (or not read, past the limit), if any.
    pub next_deadline_ms: Option<u64>,
}

/// Reads of questions, answers and sessions.
pub(crate) trait HitlStore {
    /// The waiting runs a claim ([`WriteOp::Claim`](crate::store::WriteOp::Claim)) would take at `now_ms` (at most `limit`
    /// answered ones and as many past their deadline), read from the answer indexes in one
    /// read transaction: the cheap check a runtime polls with, whatever the number of waiting
    /// runs.
    fn due_answers(&self, now_ms: u64, limit: usize) -> Result<DueAnswers, Error>;

    /// How many questions wait for an answer.
    fn waiting_for_answers(&self) -> Result<u64, Error>;

    /// Every unanswered question of a waiting run, with the run and position, in run order.
    fn pending_questions(&self) -> Result<Vec<(RunId, u64, StoredQuestion)>, Error>;

    /// The question at `run`'s current position, if it has one.
    fn current_question(&self, run: RunId) -> Result<Option<(u64, StoredQuestion)>, Error>;

    /// The runs of `session`, oldest first (empty for an unknown session).
    fn session_runs(&self, session: &str) -> Result<Vec<RunId>, Error>;
}
