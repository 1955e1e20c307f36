//! The LMDB [`Store`], through heed.
//!
//! Layout: database `runs` maps a big-endian `u64` run id (so ids sort numerically) to a
//! postcard [`RunRecord`]; database `meta` holds the next run id, the format version and the
//! directory's instance id. Keyed by run id first (big-endian, so one run's entries are one
//! contiguous range):
//!
//! - `state`: run ‖ key (UTF-8) -> JSON value of the run's key-value state;
//! - `history`: run ‖ sequence number -> postcard [`HistoryRecord`];
//! - `sleeps`: run ‖ position -> wake-up time ‖ start time (big-endian milliseconds);
//! - `branches`: run ‖ position ‖ branch index (`u32`) -> output of a branch.
//!
//! Every value except sleeps and the indexes' is in the envelope of [`crate::codec`] (format
//! tag and CRC32C): records and history are sealed here, user values (the input, state and
//! output inside a record, branch outputs, loop items, key-value state) where they are
//! encoded.
//!
//! Plus the `wakeups` and `active` indexes of [`index`], so that parked runs cost disk only,
//! and the indexes of [`listing`] (by status, workflow, finish time; counts by status).
//!
//! Sleeps and branches belong to the await in progress; the commit that ends it deletes them.
//! Reads each open a read transaction; every write goes through [`Store::write`]
//! (`writes.rs`), one write transaction per batch of the group committer.
//!
//! Files: this one holds the store's handles and the run-record helpers every write uses;
//! `options.rs` and `open.rs` how a runtime opens it, `env.rs` the environment and format,
//! `migrate.rs` older formats, `keys.rs` key layout, `reads.rs` the [`Store`] impl,
//! `writes.rs` each write op, `index.rs` the active and wake-up indexes, `hitl.rs` questions
//! and sessions, `loop_items.rs` loop items, `handover.rs` runs handed over by clients,
//! `quarantine.rs` and `consistency.rs` damaged runs, `cancel.rs` cancel and pause requests,
//! `listing.rs` the indexes that list and count runs, `retention.rs` deleting runs (purges),
//! `workflows.rs` the registered workflows' state graphs, `unique.rs` unique keys,
//! `schedules.rs` the last tick of each schedule, `queues.rs` queues with limits,
//! `children.rs` child workflows, `events.rs` events and step attempts, `progress.rs` the read behind
//! `Client::watch`, `reserve.rs` and `file_check.rs` disk
//! space and damaged files, `read_only.rs` read-only opens, `dir_lock.rs` one runtime per
//! directory, `error.rs` heed's errors as cairn's.

use heed::byteorder::BigEndian;
use heed::types::{Bytes, Str, U64};
use heed::{Database, Env, RoTxn, RwTxn, WithoutTls};

use crate::context::state::StateWrites;
use crate::durability::Durability;
use crate::error::Error;
use crate::history::HistoryRecord;
use crate::run::RunId;
use crate::store::RunRecord;
use crate::store::stored_record::Hints;
use env::{last_run_id, stored_format};
use keys::*;
use loop_items::ItemsDb;

/// Cancel, pause and unpause, and the table of requests a running run's commit meets.
mod cancel;
/// A transition's record written from its stored bytes, not decoded and encoded whole.
mod checkpoint;
/// Child workflows: which runs a parent started, and how a child's end wakes its parent.
mod children;
/// The start-up check of the indexes against the runs.
mod consistency;
pub(crate) mod dir_lock;
mod env;
/// heed's errors as cairn's [`StorageError`](crate::error::StorageError).
mod error;
/// Events sent into runs, and the attempts of retrying steps.
mod events;
/// A look at the data file before LMDB maps it.
mod file_check;
/// Property tests of the decoders that read inside the store.
#[cfg(test)]
mod fuzz_tests;
/// Runs handed over by client-only processes.
mod handover;
/// Questions, answers and sessions (people in the loop).
mod hitl;
/// The wake-up and active-run indexes.
mod index;
/// Each run's input, written once.
mod inputs;
mod keys;
/// The indexes that list, count and purge runs without reading every record.
pub(crate) mod listing;
pub(crate) mod loop_items;
mod open;
pub(crate) mod options;
mod reads;
/// Purging finished runs in batches.
mod retention;
mod table_pair;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
mod writes;
#[cfg(test)]
use test_support::Commit;
/// Format 4: checksums on every value of an older directory.
mod migrate;
/// A new directory's tables, all created in its first transaction.
mod new_directory;
mod originals;
/// One consistent read of a run's progress, for `Client::watch`.
mod progress;
/// Quarantined runs, and the ways out.
mod quarantine;
/// Queues with limits: runs waiting and admitted (`Limits`).
mod queues;
/// Opening a directory this process may only read.
mod read_only;
/// Disk reserved ahead of the write map.
mod reserve;
/// The last tick each schedule handled (`RuntimeBuilder::schedule`).
pub(crate) mod schedules;
/// At most one run per workflow and unique key (`Client::start_unique`).
mod unique;
/// Each registered workflow's state graph, for tools without the user's code.
mod workflows;

/// Version of the on-disk layout; bump it when [`RunRecord`] or the key layout changes.
/// Format 2 added the indexes of [`index`], format 3 those of answered questions and question
/// deadlines ([`hitl`]), format 4 the envelope of [`crate::codec`] (format tag and checksum)
/// around every value ([`migrate`]), format 5 the listing indexes ([`listing`]); older
/// directories are brought up to date on open.
pub(crate) const FORMAT_VERSION: u32 = listing::LISTED_FORMAT;

const FORMAT_KEY: &str = "format_version";
const NEXT_RUN_KEY: &str = "next_run_id";
const INSTANCE_KEY: &str = "instance_id";

type Runs = Database<'static, U64<BigEndian>, Bytes>;
type Meta = Database<'static, Str, Bytes>;
/// A database keyed by byte strings that start with a big-endian run id.
type ByRun = Database<'static, Bytes, Bytes>;

/// Runs stored in one LMDB environment.
pub(crate) struct LmdbStore {
    /// Without thread-local reader slots: store calls run on whichever tokio or blocking-pool
    /// thread is at hand, and a slot per such thread would exhaust LMDB's reader table.
    env: Env<WithoutTls>,
    runs: Runs,
    meta: Meta,
    state: ByRun,
    history: ByRun,
    sleeps: ByRun,
    branches: ByRun,
    instance: u64,
    hitl: hitl::Tables,
    index: index::Tables,
    handover: handover::Table,
    quarantine: quarantine::Table,
    /// Cancel and pause requests of running runs (see [`cancel`]).
    requests: cancel::Table,
    listing: listing::Tables,
    /// The state graphs of registered workflows ([`workflows`]).
    workflows: workflows::Table,
    /// Unique keys and the runs they are bound to ([`unique`]).
    unique: unique::Tables,
    /// The last tick handled of each schedule ([`schedules`]).
    schedules: schedules::Table,
    /// Queues, their limits and their runs ([`queues`]).
    queues: queues::Tables,
    /// Children started by parent runs, and their parents ([`children`]).
    children: children::Tables,
    /// Events, event waits and attempts of retrying steps ([`events`]).
    events: events::Tables,
    /// Items of durable `for` loops, stored once (see [`crate::context::loop_items`]).
    pub(crate) loop_items: ItemsDb,
    /// Whether commits fsync ([`Durability::Full`]) or not.
    durability: Durability,
    /// Disk reserved ahead of LMDB's write map; `None` without the write map (LMDB `pwrite`s
    /// and reports a full disk itself) or where `fallocate` is missing.
    reserve: Option<reserve::Reserve>,
    /// Opened read-only ([`read_only`]): every write is refused.
    read_only: bool,
    /// The environment's directory, to tell a full disk from other write errors.
    dir: std::path::PathBuf,
}

impl LmdbStore {
    fn decode(run: RunId, bytes: &[u8]) -> Result<RunRecord, Error> {
        crate::store::stored_record::open(bytes).map_err(|e| Self::corrupt_record(run, &e))
    }

    /// [`Error::CorruptState`] for `run`'s record, which does not read for `reason`.
    fn corrupt_record(run: RunId, reason: &str) -> Error {
        Error::CorruptState {
            run,
            workflow: "<unknown>".to_owned(),
            reason: format!("run record does not decode: {reason}"),
        }
    }

    fn get(&self, txn: &RoTxn<'_>, run: RunId) -> Result<Option<RunRecord>, Error> {
        match self.runs.get(txn, &run.0)? {
            Some(bytes) => Self::decode(run, bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Writes `record` and moves the run's index entries to its status.
    /// A run that finishes leaves its queue here, in the same write (see `queues.rs`).
    fn put(&self, txn: &mut RwTxn<'_>, run: RunId, record: &RunRecord) -> Result<(), Error> {
        self.put_record(txn, run, record)?;
        self.track_listing(txn, run, record)?;
        if record.status.is_finished() {
            self.leave_queue_in(txn, run)?;
            // A child's end may be what its parked parent waits for.
            self.child_finished_in(txn, run)?;
        }
        Ok(())
    }

    /// [`put`](Self::put) without the listing indexes, for a record whose status has not
    /// changed and is not finished (whose listing entry is then the same).
    ///
    /// The input is not part of the stored record: a record that carries one (a new run's,
    /// or an older directory's read back) has it written to the `inputs` table, once (see
    /// `inputs.rs`).
    fn put_record(&self, txn: &mut RwTxn<'_>, run: RunId, record: &RunRecord) -> Result<(), Error> {
        let sealed = if record.input.is_empty() || self.put_input_in(txn, run, &record.input)? {
            crate::store::stored_record::seal(record, true)
        } else {
            // No table of inputs (never in a writable open): inline, as older builds did.
            encode(record, record.encoded_len_hint() + record.input.len())
        };
        let bytes = sealed.map_err(|e| Error::Encode {
            workflow: record.workflow.clone(),
            what: "run record",
            reason: e.to_string(),
        })?;
        self.runs.put(txn, &run.0, &bytes)?;
        self.track_status(txn, run, record.status)?;
        Ok(())
    }

    /// Reads, changes and writes back one record in a single write transaction, after `more`
    /// has written whatever else belongs to the same commit. `change` may refuse with an error,
    /// which aborts the transaction.
    /// The next run id, taken inside `txn`, so that two processes never get the same one.
    ///
    /// Never the id of a stored run: a counter behind the highest stored id (set back by a
    /// partial restore, damaged, unreadable) would make the new run overwrite an existing one,
    /// so the highest id + 1 wins then, with a warning. Reading the last key is one B-tree
    /// descent, a fraction of the commit.
    pub(crate) fn allocate_run(&self, txn: &mut RwTxn<'_>) -> Result<RunId, Error> {
        self.allocate_runs(txn, 1)
    }

    /// [`allocate_run`](Self::allocate_run) for `count` (at least 1) runs at once: the
    /// returned id and the `count - 1` after it, with one read of the counter and of the last
    /// key, and one write of the counter.
    pub(crate) fn allocate_runs(&self, txn: &mut RwTxn<'_>, count: u64) -> Result<RunId, Error> {
        debug_assert!(count >= 1, "allocating no run");
        let counter = match self.meta.get(txn, NEXT_RUN_KEY)? {
            Some(bytes) => be_u64(bytes),
            None => Some(1),
        };
        let after_last = match last_run_id(self.runs, txn)? {
            Some(last) => last.saturating_add(1),
            None => 1,
        };
        let next = match counter {
            Some(counter) if counter >= after_last => counter,
            _ => {
                tracing::warn!(
                    ?counter,
                    next = after_last,
                    "the run-id counter is behind the stored runs or unreadable; continuing after the highest stored id"
                );
                after_last
            }
        };
        // Only a damaged counter or run id gets near the end of the id space.
        let after = next.checked_add(count).ok_or_else(|| Error::CorruptState {
            run: RunId(next),
            workflow: "<unknown>".to_owned(),
            reason: format!(
                "the run-id counter or the highest run id is too near u64::MAX: \
                 {count} ids are not left"
            ),
        })?;
        self.meta.put(txn, NEXT_RUN_KEY, &after.to_be_bytes())?;
        Ok(RunId(next))
    }

    /// A write transaction. Every write of the store begins here, so that with the write map
    /// the disk it may use is reserved first (see [`reserve`]).
    pub(crate) fn write_txn(&self) -> Result<RwTxn<'_>, Error> {
        self.write_txn_for(0)
    }

    /// A write transaction that will store about `extra` bytes more than a small update (see
    /// [`WriteOp::reserve_bytes`](crate::store::group_commit::WriteOp::reserve_bytes)).
    pub(crate) fn write_txn_for(&self, extra: u64) -> Result<RwTxn<'_>, Error> {
        if self.read_only {
            return Err(Error::ReadOnly {
                path: self.dir.clone(),
            });
        }
        let txn = self.env.write_txn()?;
        if let Some(reserve) = &self.reserve {
            // On error `txn` is dropped, aborted, before anything was written.
            reserve.ensure(&self.env, extra)?;
        }
        Ok(txn)
    }

    /// `error`, from a write transaction that stores about `extra` bytes, as the caller
    /// should see it: [`Error::DiskFull`] when the disk is full (see [`reserve::write_error`]).
    pub(crate) fn write_error(&self, error: Error, extra: u64) -> Error {
        match error {
            Error::Storage(error) => reserve::write_error(error, &self.dir, extra),
            other => other,
        }
    }

    fn apply_writes(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        writes: &StateWrites,
    ) -> Result<(), Error> {
        if writes.is_empty() {
            return Ok(());
        }
        if writes.clear {
            delete_prefix(self.state, txn, &key(run, &[]))?;
        }
        for (name, value) in &writes.puts {
            let k = key(run, &[name.as_bytes()]);
            match value {
                Some(value) => self.state.put(txn, &k, value)?,
                None => {
                    self.state.delete(txn, &k)?;
                }
            }
        }
        Ok(())
    }

    /// Appends `history` after the run's last history entry, numbered `transitions` (the
    /// run's count after this transition). The key comes from the record's `hints`, which it
    /// then moves on (the caller writes the record after this); a record without them (an
    /// older directory's) pays one lookup of the run's last key, once.
    fn append_history(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        transitions: u64,
        hints: &mut Hints,
        history: &HistoryRecord,
    ) -> Result<(), Error> {
        let next = match hints.history_len {
            Some(next) => next,
            None => {
                let end = key_at(run, u64::MAX);
                let last = self.history.get_lower_than(txn, &end)?;
                match last.and_then(|(key, _)| split_pair(key)) {
                    Some((of, seq)) if of == run.0 => seq + 1,
                    _ => 0,
                }
            }
        };
        hints.history_len = Some(next + 1);
        // Fixed fields, names and error messages: a few dozen bytes unless a step failed.
        let hint = 64 + history.state.len() + history.step.as_ref().map_or(0, String::len);
        let bytes =
            encode(&history_numbered(history, transitions), hint).map_err(|e| Error::Encode {
                workflow: String::new(),
                what: "history record",
                reason: e.to_string(),
            })?;
        self.history.put(txn, &key_at(run, next), &bytes)?;
        Ok(())
    }
}

/// `history`'s fields with its number replaced by `number`, borrowed: a tuple of its fields in
/// order is the same postcard bytes as the struct, with no clone of its strings.
#[allow(clippy::type_complexity)]
fn history_numbered(
    history: &HistoryRecord,
    number: u64,
) -> (
    u64,
    &str,
    Option<&str>,
    u64,
    u64,
    u32,
    &[String],
    &crate::history::HistoryOutcome,
) {
    (
        number,
        &history.state,
        history.step.as_deref(),
        history.started_at_ms,
        history.ended_at_ms,
        history.attempts,
        &history.attempt_errors,
        &history.outcome,
    )
}
