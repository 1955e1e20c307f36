//! What the runtime needs from durable storage, independent of the engine.
//!
//! The LMDB implementation lives in [`crate::lmdb`]; a PostgreSQL backend for many worker
//! processes would be a second implementation of [`Store`]. Every method is synchronous and
//! does its whole job in one transaction, so no transaction ever lives across an `.await`.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::run::{RunId, RunStatus, Status};

/// Everything stored about one run. Encoded with postcard: field order is part of the stored
/// format, so changing it means bumping the format version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RunRecord {
    pub workflow: String,
    pub fingerprint: u64,
    pub status: Status,
    pub state_name: String,
    pub step: Option<String>,
    pub transitions: u64,
    /// Postcard bytes of the workflow's input.
    pub input: Vec<u8>,
    /// Postcard bytes of the last committed state; `None` until the first transition.
    pub state: Option<Vec<u8>>,
    /// Postcard bytes of the output of a completed run.
    pub output: Option<Vec<u8>>,
    pub error: Option<String>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

impl RunRecord {
    /// A run that has not made any transition yet.
    pub fn new(workflow: &str, fingerprint: u64, input: Vec<u8>) -> RunRecord {
        let now = now_ms();
        RunRecord {
            workflow: workflow.to_owned(),
            fingerprint,
            status: Status::Pending,
            state_name: "Start".to_owned(),
            step: None,
            transitions: 0,
            input,
            state: None,
            output: None,
            error: None,
            created_at_ms: now,
            updated_at_ms: now,
        }
    }

    pub fn to_status(&self, id: RunId) -> RunStatus {
        RunStatus {
            id,
            workflow: self.workflow.clone(),
            status: self.status,
            state: self.state_name.clone(),
            step: self.step.clone(),
            transitions: self.transitions,
            error: self.error.clone(),
        }
    }
}

/// Milliseconds since the Unix epoch; a clock before 1970 reads as 0 rather than failing a
/// commit over a timestamp.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Durable storage of runs. Each method is atomic and durable when it returns.
pub(crate) trait Store: Send + Sync + 'static {
    /// Stores a new run and allocates its id.
    fn create_run(&self, record: &RunRecord) -> Result<RunId, Error>;
    /// Replaces the run's state, bumps its transition count and marks it running; returns the
    /// new transition count.
    fn commit_state(
        &self,
        run: RunId,
        state_name: &str,
        step: Option<&str>,
        state: &[u8],
    ) -> Result<u64, Error>;
    /// Marks the run completed with its output.
    fn complete(&self, run: RunId, output: &[u8]) -> Result<(), Error>;
    /// Marks the run failed with a message.
    fn fail(&self, run: RunId, message: &str) -> Result<(), Error>;
    /// The run's record, if it exists.
    fn load(&self, run: RunId) -> Result<Option<RunRecord>, Error>;
    /// Every run that is pending or running, in id order.
    fn unfinished(&self) -> Result<Vec<(RunId, RunRecord)>, Error>;
    /// Every run, or those with the given status, in id order.
    fn list(&self, status: Option<Status>) -> Result<Vec<(RunId, RunRecord)>, Error>;
}
