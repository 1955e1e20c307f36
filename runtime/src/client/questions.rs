//! The questions of runs waiting for a person, from the client's side: listing them
//! ([`Client::pending_questions`]), reading one, and answering ([`Client::answer`]), from any
//! process. The runtime's side, which resumes answered runs, is
//! [`crate::runtime::answer_watcher`].

use std::path::Path;
use std::time::SystemTime;

use crate::client::Client;
use crate::clock::from_ms;
use crate::error::Error;
use crate::question::{Answer, Question};
use crate::run::RunId;
use crate::runtime::Runtime;
use crate::store::WriteOp;
use crate::store::hitl::StoredQuestion;

/// A question a run is waiting on, as listed by [`Client::pending_questions`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingQuestion {
    /// The waiting run.
    pub run: RunId,
    /// Its workflow.
    pub workflow: String,
    /// The question: text, input kind, options.
    pub question: Question,
    /// When it was asked.
    pub asked_at: SystemTime,
    /// When its default answer will be taken, if it has a timeout.
    pub deadline: Option<SystemTime>,
    /// The run's position (committed transitions) at the question.
    pub position: u64,
}

impl PendingQuestion {
    fn new(run: RunId, position: u64, stored: StoredQuestion) -> PendingQuestion {
        PendingQuestion {
            run,
            workflow: stored.workflow,
            question: stored.question,
            asked_at: from_ms(stored.asked_at_ms),
            deadline: stored.deadline_ms.map(from_ms),
            position,
        }
    }
}

impl Client {
    /// A client on the data directory `dir` that runs no workflow: it reads runs, waits for
    /// them and answers questions, for a process such as a CLI or a web handler next to the
    /// one that runs the workflows. Same as
    /// `Runtime::builder().path(dir).client_only().start()?.client()`; must be called inside a
    /// tokio runtime. The environment closes when the last clone is dropped.
    ///
    /// To start runs (typed or by name), register the workflows:
    /// `Runtime::builder().path(dir).register(w).client_only().start()?.client()`. Such runs
    /// are handed over to the runtime that runs the workflows, which starts them within its
    /// [`answer_poll_interval`](crate::RuntimeBuilder::answer_poll_interval) (or at its start
    /// if none runs). [`wait`](Client::wait) polls the store here (2 ms doubling to 100 ms),
    /// so it returns at most 100 ms after the other process finished the run.
    pub fn open(dir: impl AsRef<Path>) -> Result<Client, Error> {
        Ok(Runtime::builder()
            .path(dir.as_ref())
            .client_only()
            .start()?
            .client())
    }

    /// Every question a run is waiting on, in run order.
    pub fn pending_questions(&self) -> Result<Vec<PendingQuestion>, Error> {
        let pending = self.shared.store()?.pending_questions()?;
        Ok(pending
            .into_iter()
            .map(|(run, position, stored)| PendingQuestion::new(run, position, stored))
            .collect())
    }

    /// The question `run` is waiting on, or `None` if it waits on none.
    pub fn question(&self, run: RunId) -> Result<Option<PendingQuestion>, Error> {
        let current = self.shared.store()?.current_question(run)?;
        Ok(current
            .filter(|(_, stored)| stored.answer.is_none())
            .map(|(position, stored)| PendingQuestion::new(run, position, stored)))
    }

    /// Answers the question `run` is waiting on and returns the answer as committed (an
    /// option id of an approval becomes [`Answer::Approved`] or [`Answer::Rejected`]).
    ///
    /// The answer is checked and committed in one write transaction before anything else
    /// happens, so once this returns it survives any crash. A runtime that runs the workflow
    /// then resumes the run: this one at once, one in another process within its poll
    /// interval, one started later at its start. [`Error::NotWaiting`] if the run is at no
    /// question, [`Error::AlreadyAnswered`] for a second answer, [`Error::InvalidAnswer`] if it
    /// does not fit the question; these change nothing.
    pub async fn answer(&self, run: RunId, answer: Answer) -> Result<Answer, Error> {
        let answer = self
            .shared
            .commit(WriteOp::Answer { run, answer })
            .await?
            .answered()?;
        tracing::info!(%run, %answer, "question answered");
        self.shared.answers.notify();
        Ok(answer)
    }
}
