//! Starting a run with a priority in its workflow's queue (see `crate::queue`).

use crate::client::Client;
use crate::error::Error;
use crate::registry::encode_input;
use crate::run::RunId;
use crate::store::{RunRecord, WriteOp};
use crate::workflow::Workflow;

impl Client {
    /// Starts a run of `workflow`, as [`start`](Self::start) does, with a place in its
    /// workflow's queue by `priority`: queued runs with a higher priority are admitted
    /// first, runs of one priority in start order ([`start`](Self::start) gives priority 0).
    /// For a workflow registered without [`Limits`](crate::Limits) the priority changes
    /// nothing: its runs start at once.
    pub async fn start_with_priority<W: Workflow>(
        &self,
        workflow: W,
        input: W::Input,
        priority: u32,
    ) -> Result<RunId, Error> {
        let _ = workflow;
        let entry = self.shared.typed_entry::<W>()?.clone();
        let input = encode_input::<W>(&input)?;
        let record = RunRecord::new(
            entry.name(),
            entry.fingerprint(),
            input.clone(),
            self.shared.now_ms(),
        );
        let hand_over = self.shared.is_client_only();
        let op = WriteOp::CreateWithPriority {
            record,
            priority,
            hand_over,
        };
        let run = self.shared.commit(op).await?.created()?;
        tracing::info!(%run, workflow = entry.name(), priority, "run started");
        if !hand_over {
            self.shared.start_new(run, entry, input)?;
        }
        Ok(run)
    }
}
