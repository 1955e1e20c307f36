//! The LMDB [`HitlStore`]: questions, the index of pending ones, and sessions.
//!
//! Three databases, opened next to the parent's:
//!
//! - `questions`: run ‖ position -> postcard [`StoredQuestion`]. Answered questions stay, as
//!   the record of who decided what; they are never read again once the run moves on.
//! - `pending`: run ‖ position -> empty, for unanswered questions only, so that listing the
//!   pending questions reads only those (not every question ever asked);
//! - `sessions`: session id (UTF-8) -> postcard `Vec<u64>` of its run ids, oldest first.
//!
//! A child module of [`crate::lmdb`] so that it shares the environment, the record helpers and
//! the run id counter without widening their visibility.

use heed::types::{Bytes, Str};
use heed::{CommitOrAbort, Database, Env, RoTxn, RwTxn, WithoutTls};

use super::{LmdbStore, key};
use crate::error::Error;
use crate::hitl_store::{Asked, Claim, HitlStore, StoredQuestion};
use crate::question::Answer;
use crate::run::{RunId, Status};
use crate::store::RunRecord;

/// How many named databases this module adds to the environment.
pub(super) const DATABASES: u32 = 3;

/// The databases of this module.
pub(super) struct Tables {
    questions: Database<'static, Bytes, Bytes>,
    pending: Database<'static, Bytes, Bytes>,
    sessions: Database<'static, Str, Bytes>,
}

impl Tables {
    /// Opens (creating if needed) the databases, in their own write transaction.
    pub(super) fn open(env: &Env<WithoutTls>) -> Result<Tables, Error> {
        let wtxn = env.write_txn()?;
        let tables = env
            .create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, Error> {
                let questions: Database<'_, Bytes, Bytes> =
                    opener.create_database(wtxn, Some("questions"))?;
                let pending: Database<'_, Bytes, Bytes> =
                    opener.create_database(wtxn, Some("pending"))?;
                let sessions: Database<'_, Str, Bytes> =
                    opener.create_database(wtxn, Some("sessions"))?;
                Ok(CommitOrAbort::<_, ()>::Commit((
                    questions, pending, sessions,
                )))
            })?
            .unwrap_commit();
        let (questions, pending, sessions) = tables;
        Ok(Tables {
            questions,
            pending,
            sessions,
        })
    }
}

fn corrupt(run: RunId, what: &str, e: impl std::fmt::Display) -> Error {
    Error::CorruptState {
        run,
        workflow: "<unknown>".to_owned(),
        reason: format!("{what} does not decode: {e}"),
    }
}

fn encode<T: serde::Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, Error> {
    postcard::to_stdvec(value).map_err(|e| Error::Encode {
        workflow: String::new(),
        what,
        reason: e.to_string(),
    })
}

impl LmdbStore {
    fn question_at(
        &self,
        txn: &RoTxn<'_>,
        run: RunId,
        position: u64,
    ) -> Result<Option<StoredQuestion>, Error> {
        let k = key(run, &[&position.to_be_bytes()]);
        match self.hitl.questions.get(txn, &k)? {
            Some(bytes) => postcard::from_bytes(bytes)
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

    /// Takes the default answer of `question` if its deadline has passed at `now_ms`.
    fn expire(question: &mut StoredQuestion, now_ms: u64) -> bool {
        let due = question.answer.is_none() && question.deadline_ms.is_some_and(|d| d <= now_ms);
        if due && let Some(default) = question.question.default_answer() {
            question.answer = Some(default.clone());
            question.answered_at_ms = Some(now_ms);
            question.timed_out = true;
            return true;
        }
        false
    }

    fn set_status(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        record: &mut RunRecord,
        status: Status,
    ) -> Result<(), Error> {
        if record.status != status {
            record.status = status;
            record.updated_at_ms = crate::store::now_ms();
            self.put(txn, run, record)?;
        }
        Ok(())
    }
}

/// The status a run goes back to when it stops waiting.
fn running(record: &RunRecord) -> Status {
    if record.transitions == 0 {
        Status::Pending
    } else {
        Status::Running
    }
}

impl HitlStore for LmdbStore {
    fn ask(
        &self,
        run: RunId,
        position: u64,
        question: &StoredQuestion,
        now_ms: u64,
    ) -> Result<Asked, Error> {
        let mut txn = self.env.write_txn()?;
        let mut record = self.get(&txn, run)?.ok_or(Error::UnknownRun { run })?;
        let mut stored = match self.question_at(&txn, run, position)? {
            Some(stored) => stored,
            None => {
                let stored = question.clone();
                self.put_question(&mut txn, run, position, &stored)?;
                stored
            }
        };
        if Self::expire(&mut stored, now_ms) {
            self.put_question(&mut txn, run, position, &stored)?;
        }
        let asked = match stored.answer {
            Some(answer) => {
                // Whoever resumed the run goes on with it; no other runtime may claim it.
                let status = running(&record);
                self.set_status(&mut txn, run, &mut record, status)?;
                Asked::Answered {
                    answer,
                    asked_at_ms: stored.asked_at_ms,
                }
            }
            None => {
                self.set_status(&mut txn, run, &mut record, Status::Waiting)?;
                Asked::Waiting {
                    deadline_ms: stored.deadline_ms,
                }
            }
        };
        txn.commit()?;
        Ok(asked)
    }

    fn answer(&self, run: RunId, answer: &Answer, now_ms: u64) -> Result<Answer, Error> {
        let mut txn = self.env.write_txn()?;
        let record = self.get(&txn, run)?.ok_or(Error::UnknownRun { run })?;
        let not_waiting = || Error::NotWaiting {
            run,
            status: record.status,
        };
        if record.status.is_finished() {
            return Err(not_waiting());
        }
        let position = record.transitions;
        let mut stored = self
            .question_at(&txn, run, position)?
            .ok_or_else(not_waiting)?;
        if stored.answer.is_some() {
            return Err(Error::AlreadyAnswered { run });
        }
        let answer = stored
            .question
            .check_answer(answer)
            .map_err(|reason| Error::InvalidAnswer { run, reason })?;
        stored.answer = Some(answer.clone());
        stored.answered_at_ms = Some(now_ms);
        self.put_question(&mut txn, run, position, &stored)?;
        txn.commit()?;
        Ok(answer)
    }

    fn claim(&self, run: RunId, now_ms: u64) -> Result<Claim, Error> {
        let mut txn = self.env.write_txn()?;
        let Some(mut record) = self.get(&txn, run)? else {
            return Ok(Claim::Gone);
        };
        if record.status != Status::Waiting {
            return Ok(Claim::Gone);
        }
        let position = record.transitions;
        let Some(mut stored) = self.question_at(&txn, run, position)? else {
            return Ok(Claim::Gone);
        };
        if Self::expire(&mut stored, now_ms) {
            self.put_question(&mut txn, run, position, &stored)?;
        }
        if stored.answer.is_none() {
            return Ok(Claim::Waiting);
        }
        let status = running(&record);
        self.set_status(&mut txn, run, &mut record, status)?;
        txn.commit()?;
        Ok(Claim::Claimed(Box::new(record)))
    }

    fn claimable(&self, runs: &[RunId], now_ms: u64) -> Result<Vec<RunId>, Error> {
        let txn = self.env.read_txn()?;
        let mut out = Vec::new();
        for &run in runs {
            let Some(record) = self.get(&txn, run)? else {
                continue;
            };
            if record.status != Status::Waiting {
                // Gone: let the claim say so, so that the caller stops watching it.
                out.push(run);
                continue;
            }
            if let Some(mut stored) = self.question_at(&txn, run, record.transitions)?
                && (stored.answer.is_some() || Self::expire(&mut stored, now_ms))
            {
                out.push(run);
            }
        }
        Ok(out)
    }

    fn pending_questions(&self) -> Result<Vec<(RunId, u64, StoredQuestion)>, Error> {
        let txn = self.env.read_txn()?;
        let mut out = Vec::new();
        for entry in self.hitl.pending.iter(&txn)? {
            let (k, _) = entry?;
            let (Some(run), Some(position)) = (
                k.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()),
                k.get(8..16).and_then(|b| <[u8; 8]>::try_from(b).ok()),
            ) else {
                continue;
            };
            let (run, position) = (RunId(u64::from_be_bytes(run)), u64::from_be_bytes(position));
            // Only the question the run is at: one left by a run that moved on is not pending.
            let at = self.get(&txn, run)?.is_some_and(|record| {
                !record.status.is_finished() && record.transitions == position
            });
            if at && let Some(question) = self.question_at(&txn, run, position)? {
                out.push((run, position, question));
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

    fn create_in_session(&self, session: &str, record: &RunRecord) -> Result<RunId, Error> {
        let mut txn = self.env.write_txn()?;
        let mut runs: Vec<u64> = match self.hitl.sessions.get(&txn, session)? {
            Some(bytes) => postcard::from_bytes(bytes).map_err(|e| Error::CorruptState {
                run: RunId(0),
                workflow: record.workflow.clone(),
                reason: format!("session `{session}` does not decode: {e}"),
            })?,
            None => Vec::new(),
        };
        let previous = runs.last().copied().map(RunId);
        if let Some(previous) = previous
            && let Some(last) = self.get(&txn, previous)?
            && !last.status.is_finished()
        {
            return Err(Error::SessionBusy {
                session: session.to_owned(),
                run: previous,
            });
        }
        let run = self.allocate_run(&mut txn)?;
        self.put(&mut txn, run, record)?;
        if let Some(previous) = previous {
            // The previous run has finished, so its state is final: the new run starts from it.
            let prefix = key(previous, &[]);
            let copied: Vec<(Vec<u8>, Vec<u8>)> = self
                .state
                .prefix_iter(&txn, &prefix)?
                .map(|entry| entry.map(|(k, v)| (k[prefix.len()..].to_vec(), v.to_vec())))
                .collect::<Result<_, _>>()?;
            for (name, value) in copied {
                self.state.put(&mut txn, &key(run, &[&name]), &value)?;
            }
        }
        runs.push(run.0);
        self.hitl
            .sessions
            .put(&mut txn, session, &encode("session", &runs)?)?;
        txn.commit()?;
        Ok(run)
    }

    fn session_runs(&self, session: &str) -> Result<Vec<RunId>, Error> {
        let txn = self.env.read_txn()?;
        match self.hitl.sessions.get(&txn, session)? {
            Some(bytes) => postcard::from_bytes::<Vec<u64>>(bytes)
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
