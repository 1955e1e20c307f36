//! `ctx.wait_for_user`: asks a person and suspends the run until the answer is committed.
//!
//! Works like a durable sleep. At position n (the await in progress), the first poll commits
//! the question keyed by (run, n) and marks the run waiting, in one write transaction, then
//! ends the run's task: the run holds no task and no memory until an answer is committed
//! (from any process) or the question's deadline passes. The runtime then resumes the run from
//! its last committed state; it reaches the same call at the same n, finds the answer, and
//! returns it, and the generated code commits the state after the await.

use crate::clock::{from_ms, to_ms};
use crate::context::Context;
use crate::error::Error;
use crate::question::{Answer, Question};
use crate::store::WriteOp;
use crate::store::hitl::{Asked, StoredQuestion};
use crate::supervise::Abort;

impl Context {
    /// Asks a person `question` and returns their answer, however long it takes: the run is
    /// suspended (status [`Waiting`](crate::Status::Waiting), no task, no memory) until
    /// [`Client::answer`](crate::Client::answer) commits an answer, from this process or
    /// another, or the question's timeout takes its default answer.
    ///
    /// ```ignore
    /// let answer = ctx.wait_for_user(Question::approval("Deploy v2 to prod?")).await?;
    /// if answer.is_approved() { ctx.task(deploy, plan).await?; }
    /// ```
    ///
    /// [`Error::InvalidArgument`] if the question makes no sense (a choice without options,
    /// an option id given twice, a default answer that does not fit).
    pub async fn wait_for_user(&mut self, question: Question) -> Result<Answer, Error> {
        question.check().map_err(|reason| Error::InvalidArgument {
            call: "Context::wait_for_user",
            reason,
        })?;
        if let Err(refused) = self.begin_step("wait_for_user") {
            return self.abort(refused).await;
        }
        let now = self.shared.clock.now();
        let deadline_ms = question.timeout_ms().map(|t| to_ms(now).saturating_add(t));
        let stored = StoredQuestion {
            workflow: self.workflow().to_owned(),
            question,
            asked_at_ms: to_ms(now),
            deadline_ms,
            answer: None,
            answered_at_ms: None,
            timed_out: false,
        };
        let (run, position) = (self.run_id(), self.position());
        let asked = self
            .shared
            .commit(WriteOp::Ask {
                run,
                position,
                question: stored,
            })
            .await
            .and_then(crate::store::Outcome::asked);
        match asked {
            Ok(Asked::Answered {
                answer,
                asked_at_ms,
            }) => {
                // The wait began when the question was first asked, maybe days ago.
                self.segment.started_at = from_ms(asked_at_ms);
                tracing::debug!(%run, workflow = self.workflow(), position, %answer, "answer received");
                Ok(answer)
            }
            Ok(Asked::Waiting { deadline_ms }) => {
                tracing::debug!(%run, workflow = self.workflow(), position, "run waits for an answer");
                // Drops the driver: the runtime resumes the run from its last committed
                // state once the answer is committed.
                self.abort(Abort::AwaitAnswer {
                    deadline: deadline_ms.map(from_ms),
                })
                .await
            }
            Err(error) => self.abort(Abort::Error(error)).await,
        }
    }
}
