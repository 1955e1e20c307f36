//! The LMDB [`HitlStore`]: questions, the index of pending ones, and sessions.
//!
//! Five databases, opened next to the parent's:
//!
//! - `questions`: run ‖ position -> sealed postcard [`StoredQuestion`]. Answered questions stay, as
//!   the record of who decided what; they are never read again once the run moves on.
//! - `pending`: run ‖ position -> empty, for unanswered questions only, so that listing the
//!   pending questions reads only those (not every question ever asked);
//! - `sessions`: session id (UTF-8) -> sealed postcard `Vec<u64>` of its run ids, oldest first;
//! - `answered`: run -> position, for a run that waits at a question answered since (by a
//!   person or its deadline) and that no runtime has claimed yet: what the answer watcher
//!   ([`crate::runtime::answer_watcher`]) polls, so that it reads the answers, not every waiting run;
//! - `deadlines`: deadline (big-endian milliseconds) ‖ run -> position, for a waiting run
//!   whose unanswered question has a timeout, in deadline order.
//!
//! A run waiting for an answer is out of the `active` index (like a sleeping run), so that
//! start-up does not read it: it costs disk, not memory, until it is answered or due.
//!
//! A child module of [`crate::store::lmdb`] so that it shares the environment, the record helpers and
//! the run id counter without widening their visibility.

use heed::types::{Bytes, Str};
use heed::{CommitOrAbort, Database, Env, RoTxn, RwTxn, WithoutTls};

use super::{FORMAT_KEY, LmdbStore, Meta, Runs, be_pair, be_u64, key, split_pair};
use crate::error::Error;
use crate::lifecycle;
use crate::question::Answer;
use crate::run::{RunId, Status};
use crate::store::RunRecord;
use crate::store::hitl::{Asked, Claim, DueAnswers, HitlStore, StoredQuestion};

/// How many named databases this module adds to the environment.
pub(super) const DATABASES: u32 = 5;

/// The format that added the `answered` and `deadlines` indexes.
const ANSWER_INDEX_FORMAT: u32 = 3;

type ByteDb<'e> = Database<'e, Bytes, Bytes>;

/// The databases of this module.
pub(super) struct Tables {
    pub(super) questions: ByteDb<'static>,
    pub(super) pending: ByteDb<'static>,
    sessions: Database<'static, Str, Bytes>,
    pub(super) waiting: WaitIndexes<'static>,
}

impl Tables {
    /// Opens (creating if needed) the databases, in their own write transaction, and builds
    /// the answer indexes of a directory whose format predates them.
    pub(super) fn open(
        env: &Env<WithoutTls>,
        runs: Runs,
        meta: Meta,
        active: ByteDb<'static>,
    ) -> Result<Tables, Error> {
        if super::read_only::is_read_only(env) {
            use super::read_only::open_existing;
            return Ok(Tables {
                questions: open_existing(env, "questions")?,
                pending: open_existing(env, "pending")?,
                sessions: open_existing(env, "sessions")?,
                waiting: WaitIndexes {
                    answered: open_existing(env, "answered")?,
                    deadlines: open_existing(env, "deadlines")?,
                    active,
                },
            });
        }
        let wtxn = env.write_txn()?;
        let (questions, pending, sessions, answered, deadlines) = env
            .create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, Error> {
                let questions: ByteDb<'_> = opener.create_database(wtxn, Some("questions"))?;
                let pending: ByteDb<'_> = opener.create_database(wtxn, Some("pending"))?;
                let sessions: Database<'_, Str, Bytes> =
                    opener.create_database(wtxn, Some("sessions"))?;
                let answered: ByteDb<'_> = opener.create_database(wtxn, Some("answered"))?;
                let deadlines: ByteDb<'_> = opener.create_database(wtxn, Some("deadlines"))?;
                if super::stored_format(meta, wtxn)? < ANSWER_INDEX_FORMAT {
                    let waiting = WaitIndexes {
                        answered,
                        deadlines,
                        active,
                    };
                    waiting.build(wtxn, runs, questions)?;
                    meta.put(wtxn, FORMAT_KEY, &ANSWER_INDEX_FORMAT.to_be_bytes())?;
                }
                Ok(CommitOrAbort::<_, ()>::Commit((
                    questions, pending, sessions, answered, deadlines,
                )))
            })?
            .unwrap_commit();
        Ok(Tables {
            questions,
            pending,
            sessions,
            waiting: WaitIndexes {
                answered,
                deadlines,
                active,
            },
        })
    }
}

/// The indexes a run waiting for an answer moves between.
#[derive(Clone, Copy)]
pub(super) struct WaitIndexes<'e> {
    pub(super) answered: ByteDb<'e>,
    pub(super) deadlines: ByteDb<'e>,
    /// The parent's active-run index, which a waiting run leaves.
    active: ByteDb<'e>,
}

impl WaitIndexes<'_> {
    /// Moves the runs of an older directory that wait for an answer out of the active index
    /// and into the answer indexes.
    fn build(&self, wtxn: &mut RwTxn<'_>, runs: Runs, questions: ByteDb<'_>) -> Result<(), Error> {
        let mut active = Vec::new();
        for entry in self.active.iter(wtxn)? {
            let (k, _) = entry?;
            active.extend(be_u64(k).map(RunId));
        }
        let mut moved = 0usize;
        for run in active {
            let Some(Ok(record)) = runs.get(wtxn, &run.0)?.map(|b| LmdbStore::decode(run, b))
            else {
                continue; // left active: start-up reports it
            };
            if record.status != Status::Waiting {
                continue;
            }
            let position = record.transitions;
            let question = questions.get(wtxn, &key(run, &[&position.to_be_bytes()]))?;
            if let Some(Ok(question)) = question.map(crate::codec::open_record::<StoredQuestion>) {
                self.index_waiting(wtxn, run, position, &question)?;
                moved += 1;
            }
        }
        tracing::info!(moved, "built the answer indexes of an older data directory");
        Ok(())
    }

    /// Indexes `run`, waiting at `position` on `question`: out of the active runs, and in
    /// `answered` (leaving `deadlines`) or `deadlines` as its question says.
    fn index_waiting(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        position: u64,
        question: &StoredQuestion,
    ) -> Result<(), Error> {
        self.active.delete(txn, &run.0.to_be_bytes())?;
        let deadline = question.deadline_ms.map(|ms| deadline_key(ms, run));
        if question.answer.is_some() {
            self.answered
                .put(txn, &run.0.to_be_bytes(), &position.to_be_bytes())?;
            if let Some(deadline) = deadline {
                self.deadlines.delete(txn, &deadline)?;
            }
        } else if let Some(deadline) = deadline {
            self.deadlines
                .put(txn, &deadline, &position.to_be_bytes())?;
        }
        Ok(())
    }

    /// Drops `run`'s entries in the answer indexes and makes it active again: it goes on.
    fn index_going_on(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        question: &StoredQuestion,
    ) -> Result<(), Error> {
        self.answered.delete(txn, &run.0.to_be_bytes())?;
        if let Some(deadline) = question.deadline_ms {
            self.deadlines.delete(txn, &deadline_key(deadline, run))?;
        }
        self.active.put(txn, &run.0.to_be_bytes(), &[])?;
        Ok(())
    }
}

pub(super) fn deadline_key(deadline_ms: u64, run: RunId) -> [u8; 16] {
    be_pair(deadline_ms, run.0)
}

fn corrupt(run: RunId, what: &str, e: impl std::fmt::Display) -> Error {
    Error::CorruptState {
        run,
        workflow: "<unknown>".to_owned(),
        reason: format!("{what} does not decode: {e}"),
    }
}

fn encode<T: serde::Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, Error> {
    crate::codec::seal_record(value, 64).map_err(|e| Error::Encode {
        workflow: String::new(),
        what,
        reason: e.to_string(),
    })
}

impl LmdbStore {
    pub(super) fn question_at(
        &self,
        txn: &RoTxn<'_>,
        run: RunId,
        position: u64,
    ) -> Result<Option<StoredQuestion>, Error> {
        let k = key(run, &[&position.to_be_bytes()]);
        match self.hitl.questions.get(txn, &k)? {
            Some(bytes) => crate::codec::open_record(bytes)
                .map(Some)
                .map_err(|e| corrupt(run, "question", e)),
            None => Ok(None),
        }
    }

    /// Stores `question` at `position` and keeps the pending index in step with its answer.
    fn put_question(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        position: u64,
        question: &StoredQuestion,
    ) -> Result<(), Error> {
        let k = key(run, &[&position.to_be_bytes()]);
        self.hitl
            .questions
            .put(txn, &k, &encode("question", question)?)?;
        if question.answer.is_some() {
            self.hitl.pending.delete(txn, &k)?;
        } else {
            self.hitl.pending.put(txn, &k, &[])?;
        }
        Ok(())
    }

    /// [`WriteOp::Ask`](crate::store::WriteOp::Ask) inside `txn`.
    pub(super) fn ask_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        position: u64,
        question: &StoredQuestion,
        now_ms: u64,
    ) -> Result<Asked, Error> {
        let mut record = self.get(txn, run)?.ok_or(Error::UnknownRun { run })?;
        lifecycle::at_position(run, record.transitions, position)?;
        let mut stored = match self.question_at(txn, run, position)? {
            Some(stored) => stored,
            None => {
                let stored = question.clone();
                self.put_question(txn, run, position, &stored)?;
                stored
            }
        };
        if lifecycle::expire(&mut stored, now_ms) {
            self.put_question(txn, run, position, &stored)?;
        }
        Ok(match stored.answer.clone() {
            Some(answer) => {
                // Whoever resumed the run goes on with it; no other runtime may claim it.
                let status = lifecycle::runnable(&record);
                if lifecycle::set_status(&mut record, status, now_ms) {
                    self.put(txn, run, &record)?;
                }
                self.hitl.waiting.index_going_on(txn, run, &stored)?;
                Asked::Answered {
                    answer,
                    asked_at_ms: stored.asked_at_ms,
                }
            }
            None => {
                if lifecycle::set_status(&mut record, Status::Waiting, now_ms) {
                    self.put(txn, run, &record)?;
                }
                self.hitl
                    .waiting
                    .index_waiting(txn, run, position, &stored)?;
                Asked::Waiting {
                    deadline_ms: stored.deadline_ms,
                }
            }
        })
    }

    /// [`WriteOp::Answer`](crate::store::WriteOp::Answer) inside `txn`.
    pub(super) fn answer_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        answer: &Answer,
        now_ms: u64,
    ) -> Result<Answer, Error> {
        let record = self.get(txn, run)?.ok_or(Error::UnknownRun { run })?;
        let position = record.transitions;
        let mut stored = if record.status.is_finished() {
            None
        } else {
            self.question_at(txn, run, position)?
        };
        let answer = lifecycle::answer(run, &record, stored.as_mut(), answer, now_ms)?;
        if let Some(stored) = &stored {
            self.put_question(txn, run, position, stored)?;
            if record.status == Status::Waiting {
                // For the answer watcher of whichever runtime runs the workflow.
                self.hitl
                    .waiting
                    .index_waiting(txn, run, position, stored)?;
            }
        }
        Ok(answer)
    }

    /// [`WriteOp::Claim`](crate::store::WriteOp::Claim) inside `txn`.
    pub(super) fn claim_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        now_ms: u64,
    ) -> Result<Claim, Error> {
        let quarantined = self.quarantine_entry_in(txn, run)?.is_some();
        if !quarantined
            && let Some(record) = self.get(txn, run)?
            && record.status == Status::Waiting
            && let Some(claim) = self.claim_parent_in(txn, run, record, now_ms)?
        {
            // Parked on its children (see `children.rs`), not on a question.
            return Ok(claim);
        }
        let question = match self.get(txn, run)? {
            // Left alone until it is resumed, failed or purged.
            Some(_) if quarantined => None,
            Some(record) if record.status == Status::Waiting => {
                let position = record.transitions;
                self.question_at(txn, run, position)?
                    .map(|stored| (record, position, stored))
            }
            _ => None,
        };
        let Some((mut record, position, mut stored)) = question else {
            // Not waiting for an answer (any more): an index entry left for it is stale.
            self.hitl
                .waiting
                .answered
                .delete(txn, &run.0.to_be_bytes())?;
            return Ok(Claim::Gone);
        };
        if lifecycle::expire(&mut stored, now_ms) {
            self.put_question(txn, run, position, &stored)?;
        }
        if stored.answer.is_none() {
            return Ok(Claim::Waiting);
        }
        lifecycle::go_on(&mut record, now_ms);
        self.put(txn, run, &record)?;
        self.hitl.waiting.index_going_on(txn, run, &stored)?;
        Ok(Claim::Claimed(Box::new(record)))
    }

    /// [`WriteOp::CreateInSession`](crate::store::WriteOp::CreateInSession) inside `txn`.
    pub(super) fn create_in_session_in(
        &self,
        txn: &mut RwTxn<'_>,
        session: &str,
        record: &RunRecord,
    ) -> Result<RunId, Error> {
        let mut runs: Vec<u64> = match self.hitl.sessions.get(txn, session)? {
            Some(bytes) => crate::codec::open_record(bytes).map_err(|e| Error::CorruptState {
                run: RunId(0),
                workflow: record.workflow.clone(),
                reason: format!("session `{session}` does not decode: {e}"),
            })?,
            None => Vec::new(),
        };
        let previous = runs.last().copied().map(RunId);
        if let Some(previous) = previous
            && let Some(last) = self.get(txn, previous)?
            && !last.status.is_finished()
        {
            return Err(Error::SessionBusy {
                session: session.to_owned(),
                run: previous,
            });
        }
        let run = self.allocate_run(txn)?;
        let queued = self.enqueue_in(txn, run, record, 0)?;
        self.put(txn, run, queued.as_ref().unwrap_or(record))?;
        if let Some(previous) = previous {
            // The previous run has finished, so its state is final: the new run starts from it.
            let prefix = key(previous, &[]);
            let copied: Vec<(Vec<u8>, Vec<u8>)> = self
                .state
                .prefix_iter(txn, &prefix)?
                .map(|entry| entry.map(|(k, v)| (k[prefix.len()..].to_vec(), v.to_vec())))
                .collect::<Result<_, _>>()?;
            for (name, value) in copied {
                self.state.put(txn, &key(run, &[&name]), &value)?;
            }
        }
        runs.push(run.0);
        self.hitl
            .sessions
            .put(txn, session, &encode("session", &runs)?)?;
        Ok(run)
    }
}

impl HitlStore for LmdbStore {
    fn due_answers(&self, now_ms: u64, limit: usize) -> Result<DueAnswers, Error> {
        let txn = self.env.read_txn()?;
        let mut due = DueAnswers::default();
        for entry in self.hitl.waiting.answered.iter(&txn)?.take(limit) {
            let (k, _) = entry?;
            due.runs.extend(be_u64(k).map(RunId));
        }
        for entry in self.hitl.waiting.deadlines.iter(&txn)? {
            let (k, _) = entry?;
            let Some((deadline, run)) = split_pair(k) else {
                continue;
            };
            if deadline > now_ms || due.runs.len() >= 2 * limit {
                due.next_deadline_ms = Some(deadline);
                break;
            }
            if self.quarantine_entry_in(&txn, RunId(run))?.is_some() {
                continue; // its entry is dropped by the next start-up check
            }
            due.runs.push(RunId(run));
        }
        Ok(due)
    }

    fn waiting_for_answers(&self) -> Result<u64, Error> {
        let txn = self.env.read_txn()?;
        Ok(self.hitl.pending.len(&txn)?)
    }

    fn pending_questions(&self) -> Result<Vec<(RunId, u64, StoredQuestion)>, Error> {
        let txn = self.env.read_txn()?;
        let mut out = Vec::new();
        for entry in self.hitl.pending.iter(&txn)? {
            let (k, _) = entry?;
            let Some((run, position)) = split_pair(k) else {
                continue;
            };
            let run = RunId(run);
            if self.quarantine_entry_in(&txn, run)?.is_some() {
                continue;
            }
            // One undecodable run must not hide every other run's question: it is skipped
            // here and quarantined by the next start-up check.
            let skip = |e: Error| tracing::error!(%run, error = %e, "skipping a question that cannot be read");
            // Only the question the run is at: one left by a run that moved on is not pending.
            let at = match self.get(&txn, run) {
                Ok(record) => record.is_some_and(|record| {
                    !record.status.is_finished() && record.transitions == position
                }),
                Err(e) => {
                    skip(e);
                    continue;
                }
            };
            if !at {
                continue;
            }
            match self.question_at(&txn, run, position) {
                Ok(Some(question)) => out.push((run, position, question)),
                Ok(None) => {}
                Err(e) => skip(e),
            }
        }
        Ok(out)
    }

    fn current_question(&self, run: RunId) -> Result<Option<(u64, StoredQuestion)>, Error> {
        let txn = self.env.read_txn()?;
        let Some(record) = self.get(&txn, run)? else {
            return Err(Error::UnknownRun { run });
        };
        let position = record.transitions;
        Ok(self
            .question_at(&txn, run, position)?
            .map(|question| (position, question)))
    }

    fn session_runs(&self, session: &str) -> Result<Vec<RunId>, Error> {
        let txn = self.env.read_txn()?;
        match self.hitl.sessions.get(&txn, session)? {
            Some(bytes) => crate::codec::open_record::<Vec<u64>>(bytes)
                .map(|runs| runs.into_iter().map(RunId).collect())
                .map_err(|e| Error::CorruptState {
                    run: RunId(0),
                    workflow: "<unknown>".to_owned(),
                    reason: format!("session `{session}` does not decode: {e}"),
                }),
            None => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests;
