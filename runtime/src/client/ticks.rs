//! The write a scheduler makes at a tick, callable from a client: what the conformance
//! suite races from several processes to prove that a tick starts one run whoever handles it
//! (the guarantee two workers of a shared store rely on). Not for applications: schedules are
//! configured with [`RuntimeBuilder::schedule`](crate::RuntimeBuilder::schedule).

use std::time::SystemTime;

use crate::client::Client;
use crate::clock::to_ms;
use crate::error::Error;
use crate::registry::encode_input;
use crate::run::RunId;
use crate::store::{RunRecord, WriteOp};
use crate::workflow::Workflow;

impl Client {
    /// Handles the tick at `tick` of the schedule named `schedule` as a runtime's scheduler
    /// does: starts a run of `workflow` with `input` unless the schedule handled that tick (or
    /// a later one) already. Returns the tick's run, `None` if it was handled without one
    /// (skipped). For tests of the store's guarantee; not a stable API.
    #[doc(hidden)]
    pub async fn handle_tick<W: Workflow>(
        &self,
        workflow: W,
        schedule: &str,
        tick: SystemTime,
        input: W::Input,
    ) -> Result<Option<RunId>, Error> {
        let _ = workflow;
        let entry = self.shared.typed_entry::<W>()?.clone();
        let input = encode_input::<W>(&input)?;
        let now = self.shared.now_ms();
        let record = RunRecord::new(entry.name(), entry.fingerprint(), input.clone(), now);
        let hand_over = self.shared.is_client_only();
        let op = WriteOp::ScheduleTick {
            schedule: schedule.to_owned(),
            tick_ms: to_ms(tick),
            record: Some(record),
            hand_over,
        };
        let outcome = self.shared.commit(op).await?.tick()?;
        if let Some((run, true)) = outcome
            && !hand_over
        {
            self.shared.start_new(run, entry, input)?;
        }
        Ok(outcome.map(|(run, _)| run))
    }
}
