//! What the runtime needs from durable storage, independent of the engine.
//!
//! The LMDB implementation lives in [`crate::store::lmdb`]; a PostgreSQL backend for many worker
//! processes would be a second implementation of [`Store`]. Every method is synchronous and
//! does its whole job in one transaction, so no transaction ever lives across an `.await`.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::history::HistoryRecord;
use crate::run::{RunId, RunStatus, Status};
use crate::state::StateWrites;

pub(crate) mod group_commit;
pub(crate) mod hitl;
pub(crate) mod lmdb;

/// Everything stored about one run. Encoded with postcard, in the envelope of `crate::codec`:
/// field order is part of the stored format, so changing it means bumping the format version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RunRecord {
    pub workflow: String,
    pub fingerprint: u64,
    pub status: Status,
    pub state_name: String,
    pub step: Option<String>,
    pub transitions: u64,
    // The byte fields go through `serde_bytes`: postcard writes a byte string as its length
    // and the bytes, exactly as it writes a sequence of `u8`, so the stored format is the
    // same, but one copy replaces a serializer call per byte (measured: per transition, about
    // ten instructions per byte of state, both when the record is written and when read).
    /// The workflow's input, sealed by `crate::codec` (postcard or JSON, with a checksum).
    #[serde(with = "serde_bytes")]
    pub input: Vec<u8>,
    /// The last committed state, sealed likewise; `None` until the first transition.
    #[serde(with = "serde_bytes")]
    pub state: Option<Vec<u8>>,
    /// The output of a completed run, sealed likewise (JSON when it round-trips).
    #[serde(with = "serde_bytes")]
    pub output: Option<Vec<u8>>,
    pub error: Option<String>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

impl RunRecord {
    /// About the postcard size of the record: its variable parts plus the fixed fields
    /// (varints, at most ~40 bytes), so that encoding it allocates once.
    pub(crate) fn encoded_len_hint(&self) -> usize {
        let len = |bytes: Option<&[u8]>| bytes.map_or(0, <[u8]>::len);
        48 + self.workflow.len()
            + self.state_name.len()
            + len(self.step.as_deref().map(str::as_bytes))
            + self.input.len()
            + len(self.state.as_deref())
            + len(self.output.as_deref())
            + len(self.error.as_deref().map(str::as_bytes))
    }

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
///
/// "Position" is a run's number of committed transitions: between two commits the generated
/// code awaits exactly one future, so (run, position) names the await in progress. Sleeps and
/// `parallel` branches key their durable bookkeeping by it.
// The synchronous writes are the reference semantics of each `WriteOp` and what unit tests
// call; the runtime itself writes through `submit`, to share commits.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) trait Store: crate::store::hitl::HitlStore + Send + Sync + 'static {
    /// A random id of this data directory, made when it was created; part of idempotency keys,
    /// so that two directories (whose run ids both start at 1) never hand out the same key.
    fn instance_id(&self) -> u64;
    /// Leaves `run`, stored at `position` by a process that runs no workflow, for the runtime
    /// that runs them to pick up while it runs (see `lmdb/handover.rs`).
    fn hand_over(&self, run: RunId, position: u64) -> Result<(), Error>;
    /// Takes (removes and returns) up to `limit` runs handed over, with their positions then.
    fn take_handed_over(&self, limit: usize) -> Result<Vec<(RunId, u64)>, Error>;
    /// Stores a new run and allocates its id.
    fn create_run(&self, record: &RunRecord) -> Result<RunId, Error>;
    /// In one transaction: replaces the run's state, bumps its transition count, marks it
    /// running, applies `writes` to its key-value state, appends `history` (numbered here) and
    /// drops the bookkeeping of the await that completed. Returns the new transition count.
    fn commit_state(&self, commit: Commit<'_>) -> Result<u64, Error>;
    /// Marks the run completed with its output, applying `writes` and appending `history`.
    fn complete(
        &self,
        run: RunId,
        output: &[u8],
        writes: &StateWrites,
        history: &HistoryRecord,
    ) -> Result<(), Error>;
    /// Marks the run failed with a message, appending `history` if given. Buffered state
    /// writes are not applied: a resumed run re-runs the segment that made them.
    fn fail(&self, run: RunId, message: &str, history: Option<&HistoryRecord>)
    -> Result<(), Error>;
    /// Marks a failed run running again and returns its record, or
    /// [`Error::NotResumable`] if it has not failed.
    fn reopen(&self, run: RunId) -> Result<RunRecord, Error>;
    /// The run's record, if it exists.
    fn load(&self, run: RunId) -> Result<Option<RunRecord>, Error>;
    /// Every run that is pending, running or waiting, in id order.
    fn unfinished(&self) -> Result<Vec<(RunId, RunRecord)>, Error>;
    /// The unfinished runs that are not in a durable sleep (what start-up resumes or
    /// watches) among the next `limit` entries of their index after `after`, in id order,
    /// and the last entry read if more may follow: start-up reads them a batch at a time,
    /// and never reads the records of sleeping runs.
    #[allow(clippy::type_complexity)]
    fn active_after(
        &self,
        after: Option<RunId>,
        limit: usize,
    ) -> Result<(Vec<(RunId, RunRecord)>, Option<RunId>), Error>;
    /// Up to `limit` stored wake-ups (milliseconds since the Unix epoch, run) in wake-up
    /// order after `after`; the timer task reads these a window at a time.
    fn wakeups_after(
        &self,
        after: Option<(u64, RunId)>,
        limit: usize,
    ) -> Result<Vec<(u64, RunId)>, Error>;
    /// How many runs are in a durable sleep (entries of the wake-up index).
    fn sleeping(&self) -> Result<u64, Error>;
    /// In one transaction: drops the wake-up `(wake_ms, run)` and, if it is the sleep the run
    /// is waiting in, marks the run running again and returns its record; `None` for a
    /// wake-up left behind by a sleep that ended otherwise.
    fn wake_due(&self, run: RunId, wake_ms: u64) -> Result<Option<RunRecord>, Error>;
    /// Every run, or those with the given status, in id order.
    fn list(&self, status: Option<Status>) -> Result<Vec<(RunId, RunRecord)>, Error>;

    /// Stores the sleep at `position` and marks the run waiting.
    fn suspend(&self, run: RunId, position: u64, sleep: StoredSleep) -> Result<(), Error>;
    /// The stored sleep at `position`, if any.
    fn wake_at(&self, run: RunId, position: u64) -> Result<Option<StoredSleep>, Error>;

    /// Stores the output of branch `index` of the `parallel` call at `position`.
    fn commit_branch(
        &self,
        run: RunId,
        position: u64,
        index: u32,
        output: &[u8],
    ) -> Result<(), Error>;
    /// The stored outputs of the branches of the `parallel` call at `position`.
    fn branches(&self, run: RunId, position: u64) -> Result<Vec<(u32, Vec<u8>)>, Error>;

    /// One value of the run's key-value state.
    fn state_get(&self, run: RunId, key: &str) -> Result<Option<Vec<u8>>, Error>;
    /// The run's whole key-value state.
    fn state_all(&self, run: RunId) -> Result<BTreeMap<String, Vec<u8>>, Error>;
    /// The run's history, oldest first.
    fn history(&self, run: RunId) -> Result<Vec<HistoryRecord>, Error>;

    /// Queues a write for the next group commit (see [`crate::store::group_commit`]); the receiver
    /// yields its outcome (the new transition count of a checkpoint, else 0) once the commit
    /// that holds it is durable.
    fn submit(
        &self,
        op: crate::store::group_commit::WriteOp,
    ) -> tokio::sync::oneshot::Receiver<Result<u64, Error>>;
    /// Quarantines `run` with `reason` (see [`crate::quarantine`]): marked, and out of every
    /// index the runtime reads.
    fn quarantine(&self, run: RunId, reason: &str) -> Result<(), Error>;
    /// The quarantine entry of `run`, if it is quarantined.
    fn quarantine_entry(&self, run: RunId)
    -> Result<Option<crate::quarantine::StoredEntry>, Error>;
    /// Every quarantined run, in id order.
    fn quarantined(&self) -> Result<Vec<(RunId, crate::quarantine::StoredEntry)>, Error>;
    /// Takes a quarantined run out of quarantine, marked running (or pending) and active;
    /// [`Error::CorruptState`] if its record still does not decode (it stays quarantined).
    fn release(&self, run: RunId) -> Result<RunRecord, Error>;
    /// Fails a quarantined run with `message`.
    fn fail_quarantined(&self, run: RunId, message: &str) -> Result<(), Error>;
    /// Deletes every entry of a quarantined or finished run.
    fn purge_run(&self, run: RunId) -> Result<(), Error>;
    /// Every run, or those with `status`, as listed to users: quarantined runs and records
    /// that do not decode as [`Status::Corrupt`], never dropped.
    fn list_status(&self, status: Option<Status>) -> Result<Vec<RunStatus>, Error>;
    /// The progress of one run, [`Status::Corrupt`] if quarantined or undecodable.
    fn run_status(&self, run: RunId) -> Result<RunStatus, Error>;
    /// Checks the indexes against the run records at start-up and repairs them, quarantining
    /// what cannot be derived (see `lmdb/consistency.rs`).
    fn check_indexes(&self) -> Result<crate::quarantine::CheckReport, Error>;
    /// How many runs are stored (records, whatever their state), without reading them.
    fn run_count(&self) -> Result<u64, Error>;
    /// Item `index` of the stored loop `key` (see [`crate::loop_items`]).
    fn loop_item(
        &self,
        run: RunId,
        key: crate::loop_items::LoopKey,
        index: u64,
    ) -> Result<Option<Vec<u8>>, Error>;
}

/// A durable sleep: when it began (for the history) and when it ends, in milliseconds since
/// the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StoredSleep {
    pub started_ms: u64,
    pub wake_ms: u64,
}

/// One transition to commit.
pub(crate) struct Commit<'a> {
    pub run: RunId,
    pub state_name: &'a str,
    pub step: Option<&'a str>,
    /// The new state, sealed by `crate::codec`.
    pub state: &'a [u8],
    pub writes: &'a StateWrites,
    pub history: &'a HistoryRecord,
}
