//! What the runtime needs from durable storage, independent of the engine.
//!
//! The LMDB implementation lives in [`crate::store::lmdb`]; a PostgreSQL backend for many worker
//! processes would be a second implementation of [`Store`]. Every method is synchronous and
//! does its whole job in one transaction, so no transaction ever lives across an `.await`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::history::HistoryRecord;
use crate::run::{RunId, RunStatus, Status};

pub(crate) mod events;
pub(crate) mod group_commit;
pub(crate) mod hitl;
pub(crate) mod lmdb;
/// What a migration of a run checks and produces, for every backend.
pub(crate) mod migration;
/// Which writes are commits of a run's own task, for every backend.
pub(crate) mod own_commit;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
/// How a run record is stored: without its input, with the LMDB backend's hints after it.
pub(crate) mod stored_record;
pub(crate) mod write_op;

pub(crate) use stored_record::Hints;

pub(crate) use write_op::{Outcome, WriteError, WriteOp};

/// A backend opened for a runtime or a client.
pub(crate) struct Opened {
    pub store: Arc<dyn Store>,
    /// Where the store is, for logs (a directory, a database name).
    pub description: String,
    /// Run on a blocking thread at shutdown, once the runtime dropped its handle on the store:
    /// waits until the backend has released what it holds, so that the same store can be
    /// opened again in this process.
    pub on_closed: Box<dyn FnOnce() + Send>,
}

/// What a migration replaced in a run's record (see [`WriteOp::MigrateRun`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MigratedOriginal {
    pub fingerprint: u64,
    pub state_name: String,
    #[serde(with = "serde_bytes")]
    pub state: Option<Vec<u8>>,
}

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
    /// What the LMDB backend knows of the run's other entries; not one of the record's
    /// fields (stored after them, see [`stored_record`]).
    #[serde(skip)]
    pub hints: Hints,
}

impl RunRecord {
    /// About the postcard size of the record as stored: its variable parts but the input
    /// (stored apart, see [`stored_record`]) plus the fixed fields (varints, at most ~40
    /// bytes), so that encoding it allocates once.
    pub(crate) fn encoded_len_hint(&self) -> usize {
        let len = |bytes: Option<&[u8]>| bytes.map_or(0, <[u8]>::len);
        48 + self.workflow.len()
            + self.state_name.len()
            + len(self.step.as_deref().map(str::as_bytes))
            + len(self.state.as_deref())
            + len(self.output.as_deref())
            + len(self.error.as_deref().map(str::as_bytes))
    }

    /// A run that has not made any transition yet, created at `now` (milliseconds since the
    /// Unix epoch, from the runtime's clock).
    pub fn new(workflow: &str, fingerprint: u64, input: Vec<u8>, now: u64) -> RunRecord {
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
            hints: Hints::NEW,
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
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.updated_at_ms,
        }
    }
}

/// Durable storage of runs: what a backend implements.
///
/// # Contract
///
/// - **Reads** see every write whose [`write`](Self::write) has returned, in this process and
///   in any other process sharing the store; each read is consistent in itself (one snapshot).
/// - **[`write`](Self::write)** applies a batch of [`WriteOp`]s in order, atomically (all or
///   none) and durably (as the [`Durability`](crate::Durability) the store was opened with
///   promises) before it returns; a later op of a batch sees the earlier ones' effects. Each
///   op's effect, and which errors refuse it, is in its doc; the run rules are those of
///   [`crate::lifecycle`]. A refused op writes nothing of the batch
///   ([`WriteError::Refused`] names it). `now_ms` stamps every record the batch writes.
/// - "Position" is a run's number of committed transitions: between two commits the
///   generated code awaits exactly one future, so (run, position) names the await in
///   progress. Sleeps, `parallel` branches and questions are keyed by it.
/// - Child workflows ([`WriteOp::StartChild`], [`WriteOp::AwaitChildren`]): the store keeps
///   the child started at each (parent, position, slot) and each child's parent and position.
///   Every write that leaves a child finished (completed, failed, cancelled) while its parent
///   waits at that position with no unfinished child left there makes the parent due for
///   [`WriteOp::Claim`] (what the answer watcher polls); that claim marks it runnable. A
///   cancel that ends a run also cancels its unfinished children, recursively (a running one
///   gets a request). LMDB: `lmdb/children.rs`.
/// - Run ids are allocated by the store, increasing, never reused, never overwriting a run.
/// - Stored bytes are opaque to the store (sealed by `crate::codec`), except its own records,
///   which it encodes as it likes; damaged ones are reported as [`Error::CorruptState`],
///   never as a panic.
///
/// # Why reads are synchronous and writes are not
///
/// The runtime writes through [`group_commit`]: a write is submitted and its outcome awaited
/// on a oneshot, so an async backend (a database server) fits as it is, its commit running
/// on the committer's thread. Reads are plain synchronous calls: LMDB answers them from its
/// memory map in well under a microsecond, which an async signature would only slow down (a
/// boxed future per read) while turning synchronous public methods (`Client::status`,
/// `State::get`) async. No read is on the commit path of a running run; the ones a run makes
/// (its key-value state, loop items, the outputs of `parallel` branches, a sleep's wake-up
/// time) come at most once per await. A network backend serves them with one round trip on
/// the calling thread (inside `tokio::task::block_in_place` on a runtime worker), or from
/// what it caches of the runs it holds.
pub(crate) trait Store: crate::store::hitl::HitlStore + Send + Sync + 'static {
    /// Applies `ops` in one atomic, durable write (see the contract above): one
    /// [`Outcome`] per op, in order.
    fn write(&self, ops: &[&WriteOp], now_ms: u64) -> Result<Vec<Outcome>, WriteError>;
    /// Whether a write blocks its thread for long (an fsync, a network round trip), so that
    /// the group committer keeps it off threads that must not block.
    fn commits_block(&self) -> bool;
    /// Whether transactions of this store may run side by side (a database server's, on
    /// connections of their own), so that the group committer can commit an op that commits
    /// alone ([`WriteOp::commits_alone`]) beside its batch in progress. False for a store
    /// with one writer at a time (LMDB), where it would only wait for that batch.
    fn concurrent_transactions(&self) -> bool {
        false
    }

    /// A random id of this store, made when it was created; part of idempotency keys, so
    /// that two stores (whose run ids both start at 1) never hand out the same key.
    fn instance_id(&self) -> u64;
    /// The run's record, if it exists.
    fn load(&self, run: RunId) -> Result<Option<RunRecord>, Error>;
    /// The run's input (sealed), if the run exists. Stored apart from the record and written
    /// once, when the run is created: a record read back holds an empty input unless an
    /// older directory stored it inline, and the runtime reads the input here to start the
    /// run from it.
    fn input(&self, run: RunId) -> Result<Option<Vec<u8>>, Error>;
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
    /// Registers what to call when another process changes the store in a way this runtime
    /// would otherwise only see at its next poll (see [`Change`]). A backend without such
    /// notifications (LMDB: one runtime per directory) ignores it; the runtime's polls remain
    /// the fallback either way.
    fn set_waker(&self, waker: std::sync::Arc<dyn Fn(Change) + Send + Sync>) {
        let _ = waker;
    }
    /// Registers what tells which runs have a live task in this process. A store shared by
    /// many workers (PostgreSQL) renews the leases of those runs only: a run whose task
    /// stopped here without committing its end (a storage error, a lost lease) is then taken
    /// over once its lease ends, by another worker or this one's take-over poll, instead of
    /// staying held until this process restarts. A store one runtime owns ignores it.
    fn set_live_runs(&self, live: std::sync::Arc<dyn Fn() -> Vec<RunId> + Send + Sync>) {
        let _ = live;
    }

    /// The runs this process may resume at start, among the unfinished runs that are not in a
    /// durable sleep: what [`active_after`](Self::active_after) returns, for a store one runtime
    /// owns (LMDB: one runtime per directory). A store shared by many workers (PostgreSQL)
    /// claims them here instead, each for one worker (see `postgres/leases.rs`), and returns
    /// only those this worker took.
    #[allow(clippy::type_complexity)]
    fn claim_active(
        &self,
        after: Option<RunId>,
        limit: usize,
    ) -> Result<(Vec<(RunId, RunRecord)>, Option<RunId>), Error> {
        self.active_after(after, limit)
    }
    /// Up to `limit` stored wake-ups (milliseconds since the Unix epoch, run) in wake-up
    /// order after `after`; the timer task reads these a window at a time.
    fn wakeups_after(
        &self,
        after: Option<(u64, RunId)>,
        limit: usize,
    ) -> Result<Vec<(u64, RunId)>, Error>;
    /// How many runs are in a durable sleep (entries of the wake-up index).
    fn sleeping(&self) -> Result<u64, Error>;
    /// The stored sleep at `position`, if any.
    fn wake_at(&self, run: RunId, position: u64) -> Result<Option<StoredSleep>, Error>;
    /// The attempts stored by the retrying step at `position`
    /// ([`WriteOp::RecordAttempts`]), if any.
    fn attempts_at(
        &self,
        run: RunId,
        position: u64,
    ) -> Result<Option<events::StoredAttempts>, Error>;
    /// The stored outputs of the branches of the `parallel` call at `position`.
    fn branches(&self, run: RunId, position: u64) -> Result<Vec<(u32, Vec<u8>)>, Error>;
    /// Item `index` of the stored loop `key` (see [`crate::context::loop_items`]).
    fn loop_item(
        &self,
        run: RunId,
        key: crate::context::loop_items::LoopKey,
        index: u64,
    ) -> Result<Option<Vec<u8>>, Error>;
    /// One value of the run's key-value state.
    fn state_get(&self, run: RunId, key: &str) -> Result<Option<Vec<u8>>, Error>;
    /// The run's whole key-value state.
    fn state_all(&self, run: RunId) -> Result<BTreeMap<String, Vec<u8>>, Error>;
    /// The run's history, oldest first.
    fn history(&self, run: RunId) -> Result<Vec<HistoryRecord>, Error>;
    /// Whether any run is handed over ([`WriteOp::HandOver`]): the cheap check a runtime
    /// polls with before it takes them with a write.
    fn any_handed_over(&self) -> Result<bool, Error>;

    /// The quarantine entry of `run`, if it is quarantined.
    fn quarantine_entry(&self, run: RunId)
    -> Result<Option<crate::quarantine::StoredEntry>, Error>;
    /// Every quarantined run, in id order.
    fn quarantined(&self) -> Result<Vec<(RunId, crate::quarantine::StoredEntry)>, Error>;
    /// Every run, or those with `status`, as listed to users: quarantined runs and records
    /// that do not decode as [`Status::Corrupt`], never dropped.
    fn list_status(&self, status: Option<Status>) -> Result<Vec<RunStatus>, Error>;
    /// The progress of one run, [`Status::Corrupt`] if quarantined or undecodable.
    fn run_status(&self, run: RunId) -> Result<RunStatus, Error>;
    /// How many runs are stored (records, whatever their state), without reading them.
    fn run_count(&self) -> Result<u64, Error>;
    /// Up to `limit` runs that `filter` selects, with ids above `after`, in id order, as
    /// [`list_status`](Self::list_status) shows them; and the last id looked at if more may
    /// follow (the next call's `after`). Read from indexes: the cost is that of the entries
    /// of the filter's status (else workflow) from `after` on, plus the records returned,
    /// never a scan of every run.
    #[allow(clippy::type_complexity)]
    fn list_runs(
        &self,
        filter: &crate::client::listing::RunFilter,
        after: Option<RunId>,
        limit: usize,
    ) -> Result<(Vec<RunStatus>, Option<RunId>), Error>;
    /// How many runs have each status (quarantined ones as [`Status::Corrupt`]), from kept
    /// counts: no run is read.
    fn count_by_status(&self) -> Result<crate::client::listing::StatusCounts, Error>;

    /// Checks the store's indexes against the run records at start-up and repairs them in
    /// writes of its own, quarantining what cannot be derived (see `lmdb/consistency.rs`).
    /// The one write outside [`write`](Self::write): it fixes the store's own bookkeeping,
    /// before any run is resumed.
    fn check_indexes(&self, now_ms: u64) -> Result<crate::quarantine::CheckReport, Error>;

    /// The last tick the schedule named `schedule` handled ([`WriteOp::ScheduleTick`]), in
    /// milliseconds since the Unix epoch; `None` for a schedule never seen.
    fn last_tick(&self, schedule: &str) -> Result<Option<u64>, Error>;

    /// What a [`WriteOp::PumpQueues`] of the workflows `runnable` accepts would do at `now`,
    /// read without writing: the queue task's check before it writes.
    fn queue_check(
        &self,
        now_ms: u64,
        runnable: &dyn Fn(&str) -> bool,
    ) -> Result<crate::queue::QueueCheck, Error>;

    /// The queues and their members as the last [`WriteOp::RegisterQueues`] stored them, in
    /// any order; empty before any. Read at a runtime's start to skip a registration that
    /// would change nothing.
    fn queue_configs(&self) -> Result<Vec<crate::queue::QueueConfig>, Error>;

    /// Every workflow a runtime registered on this store
    /// ([`WriteOp::RegisterWorkflows`]), every stored version, by name then fingerprint.
    fn workflows(&self) -> Result<Vec<crate::graph::StoredWorkflow>, Error>;
    /// What a migration of `run` replaced ([`WriteOp::MigrateRun`]), until the run's next
    /// transition; `None` otherwise. A backend without migrations has none.
    fn migrated_original(&self, run: RunId) -> Result<Option<MigratedOriginal>, Error> {
        let _ = run;
        Ok(None)
    }
    /// The current version of the workflow named `name`, as last registered.
    fn workflow(&self, name: &str) -> Result<Option<crate::graph::StoredWorkflow>, Error>;
    /// The run's record, its history records from the `history_from`-th on (counting from 0)
    /// and its whole key-value state, all read in ONE snapshot, so that they agree; `None` for
    /// an unknown run. What `Client::watch` reads when a run has changed.
    fn progress(&self, run: RunId, history_from: u64) -> Result<Option<ProgressRead>, Error>;

    /// The run that started `run` as a child ([`WriteOp::StartChild`]) and the position of
    /// that await, if `run` is a child.
    fn parent_of(&self, run: RunId) -> Result<Option<(RunId, u64)>, Error>;
    /// Every child `parent` started, in the order of the awaits that started them.
    fn children_of(&self, parent: RunId) -> Result<Vec<RunId>, Error>;
}

/// What another process changed in a shared store, as a backend that can tell reports it
/// ([`Store::set_waker`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
// Only a shared backend (PostgreSQL, behind its feature) reports changes.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) enum Change {
    /// Runs wait for a worker (started or resumed by a client, left by a worker that died)
    /// or an answer was given: the answer watcher polls now.
    Runs,
    /// A durable sleep was committed elsewhere: the timer reads the wake-up index again.
    Timers,
}

/// A run's progress read in one snapshot ([`Store::progress`]).
#[derive(Debug)]
pub(crate) struct ProgressRead {
    pub record: RunRecord,
    /// The history records from the asked one on, oldest first.
    pub history: Vec<HistoryRecord>,
    /// The whole key-value state, sealed values as stored.
    pub state: BTreeMap<String, Vec<u8>>,
}

/// A durable sleep: when it began (for the history) and when it ends, in milliseconds since
/// the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StoredSleep {
    pub started_ms: u64,
    pub wake_ms: u64,
}
