//! Shorthands for the unit tests of the LMDB backend: each write as a method, applied through
//! [`Store::write`] in a batch of its own, as the runtime's group committer would.

use heed::RwTxn;
use heed::types::Bytes;

use super::{LmdbStore, be_u64};
use crate::context::state::StateWrites;
use crate::error::Error;
use crate::history::HistoryRecord;
use crate::question::Answer;
use crate::run::{RunId, Status};
use crate::store::hitl::{Asked, Claim, StoredQuestion};
use crate::store::{Outcome, RunRecord, Store, StoredSleep, WriteOp};

/// One transition to commit, borrowed, as the tests write them.
pub(crate) struct Commit<'a> {
    pub run: RunId,
    pub state_name: &'static str,
    pub step: Option<&'static str>,
    /// The new state, sealed by `crate::codec`.
    pub state: &'a [u8],
    pub writes: &'a StateWrites,
    pub history: &'a HistoryRecord,
}

impl LmdbStore {
    /// Runs `f` in a write transaction of its own and commits it.
    pub(crate) fn in_txn<T>(
        &self,
        f: impl FnOnce(&mut RwTxn<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut txn = self.write_txn()?;
        let out = f(&mut txn)?;
        txn.commit()?;
        Ok(out)
    }

    /// Applies `op` in a batch of its own, stamped with the system clock.
    pub(crate) fn apply_one(&self, op: WriteOp) -> Result<Outcome, Error> {
        let now = crate::clock::to_ms(std::time::SystemTime::now());
        crate::store::group_commit::write_one(self, &op, now)
    }

    /// The stored position of `run` (0 if it is not stored): the position a commit of its
    /// task is made at.
    pub(crate) fn position_of(&self, run: RunId) -> u64 {
        self.load(run)
            .ok()
            .flatten()
            .map_or(0, |record| record.transitions)
    }

    pub(crate) fn create_run(&self, record: &RunRecord) -> Result<RunId, Error> {
        let record = record.clone();
        self.apply_one(WriteOp::CreateRun { record })?.created()
    }

    /// A checkpoint to state `Next` after step `s`, with no state keys: the transition
    /// count after it.
    pub(crate) fn step_for_test(&self, run: RunId, state: &[u8]) -> u64 {
        let commit = Commit {
            run,
            state_name: "Next",
            step: Some("s"),
            state,
            writes: &StateWrites::default(),
            history: &HistoryRecord::committed_for_test("Next"),
        };
        self.commit_state(commit).unwrap()
    }

    /// A checkpoint ([`WriteOp::CommitState`] without loop items).
    pub(crate) fn commit_state(&self, commit: Commit<'_>) -> Result<u64, Error> {
        self.apply_one(WriteOp::CommitState {
            run: commit.run,
            position: self.position_of(commit.run),
            state_name: commit.state_name,
            step: commit.step,
            state: commit.state.to_vec(),
            writes: commit.writes.clone(),
            history: commit.history.clone(),
            items: Vec::new(),
        })?
        .transitions()
    }

    pub(crate) fn complete(
        &self,
        run: RunId,
        output: &[u8],
        writes: &StateWrites,
        history: &HistoryRecord,
    ) -> Result<(), Error> {
        self.apply_one(WriteOp::Complete {
            run,
            position: self.position_of(run),
            output: output.to_vec(),
            writes: writes.clone(),
            history: history.clone(),
        })?
        .done()
    }

    pub(crate) fn fail(
        &self,
        run: RunId,
        message: &str,
        history: Option<&HistoryRecord>,
    ) -> Result<(), Error> {
        self.apply_one(WriteOp::Fail {
            run,
            position: self.position_of(run),
            message: message.to_owned(),
            history: history.cloned(),
        })?
        .done()
    }

    pub(crate) fn suspend(
        &self,
        run: RunId,
        position: u64,
        sleep: StoredSleep,
    ) -> Result<(), Error> {
        self.apply_one(WriteOp::Suspend {
            run,
            position,
            sleep,
        })?
        .done()
    }

    /// The record of the run woken, `None` for a wake-up left behind.
    pub(crate) fn wake_due(&self, run: RunId, wake_ms: u64) -> Result<Option<RunRecord>, Error> {
        if self.apply_one(WriteOp::Wake { run, wake_ms })?.woken()? {
            self.load(run)
        } else {
            Ok(None)
        }
    }

    /// Every run, or those with `status`, in id order.
    pub(crate) fn list(&self, status: Option<Status>) -> Result<Vec<(RunId, RunRecord)>, Error> {
        self.scan(|s| status.is_none_or(|wanted| s == wanted))
    }

    /// Every run that is pending, running or waiting, in id order.
    pub(crate) fn unfinished(&self) -> Result<Vec<(RunId, RunRecord)>, Error> {
        self.scan(|status| !status.is_finished())
    }

    fn scan(&self, keep: impl Fn(Status) -> bool) -> Result<Vec<(RunId, RunRecord)>, Error> {
        let txn = self.env.read_txn()?;
        let mut out = Vec::new();
        // Keys read as bytes: one damaged key must not fail the listing of every run.
        for entry in self.runs.remap_key_type::<Bytes>().iter(&txn)? {
            let (key, bytes) = entry?;
            let Some(run) = be_u64(key).map(RunId) else {
                continue;
            };
            // One unreadable record must not hide every other run.
            if let Ok(record) = Self::decode(run, bytes)
                && keep(record.status)
            {
                out.push((run, record));
            }
        }
        Ok(out)
    }

    pub(crate) fn commit_branch(
        &self,
        run: RunId,
        position: u64,
        index: u32,
        output: &[u8],
    ) -> Result<(), Error> {
        self.apply_one(WriteOp::CommitBranch {
            run,
            position,
            index,
            output: output.to_vec(),
        })?
        .done()
    }

    pub(crate) fn reopen(&self, run: RunId) -> Result<RunRecord, Error> {
        self.apply_one(WriteOp::Reopen { run })?.record()
    }

    pub(crate) fn hand_over(&self, run: RunId, position: u64) -> Result<(), Error> {
        self.apply_one(WriteOp::HandOver { run, position })?.done()
    }

    pub(crate) fn take_handed_over(&self, limit: usize) -> Result<Vec<(RunId, u64)>, Error> {
        let taken = self
            .apply_one(WriteOp::TakeHandedOver { limit })?
            .handed_over()?;
        Ok(taken.into_iter().map(|t| (t.run, t.position)).collect())
    }

    pub(crate) fn ask(
        &self,
        run: RunId,
        position: u64,
        question: &StoredQuestion,
        now_ms: u64,
    ) -> Result<Asked, Error> {
        let op = WriteOp::Ask {
            run,
            position,
            question: question.clone(),
        };
        crate::store::group_commit::write_one(self, &op, now_ms)?.asked()
    }

    pub(crate) fn answer(&self, run: RunId, answer: &Answer, now_ms: u64) -> Result<Answer, Error> {
        let op = WriteOp::Answer {
            run,
            answer: answer.clone(),
        };
        crate::store::group_commit::write_one(self, &op, now_ms)?.answered()
    }

    pub(crate) fn claim(&self, run: RunId, now_ms: u64) -> Result<Claim, Error> {
        let op = WriteOp::Claim { run };
        crate::store::group_commit::write_one(self, &op, now_ms)?.claim()
    }

    pub(crate) fn create_in_session(
        &self,
        session: &str,
        record: &RunRecord,
    ) -> Result<RunId, Error> {
        self.apply_one(WriteOp::CreateInSession {
            session: session.to_owned(),
            record: record.clone(),
        })?
        .created()
    }
}
