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
//! Plus the `wakeups` and `active` indexes of [`index`], so that parked runs cost disk only.
//!
//! Sleeps and branches belong to the await in progress; the commit that ends it deletes them.
//! Reads each open a read transaction; every write goes through [`Store::write`]
//! (`writes.rs`), one write transaction per batch of the group committer.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::ops::Bound;
use std::path::Path;

use heed::byteorder::BigEndian;
use heed::types::{Bytes, Str, U64};
use heed::{
    CommitOrAbort, Database, Env, EnvClosingEvent, EnvFlags, EnvOpenOptions, RoTxn, RwTxn,
    WithoutTls,
};

use crate::context::loop_items::LoopKey;
use crate::context::state::StateWrites;
use crate::durability::Durability;
use crate::error::Error;
use crate::history::HistoryRecord;
use crate::run::{RunId, Status};
use crate::store::{Outcome, RunRecord, Store, StoredSleep, WriteError, WriteOp};
use loop_items::ItemsDb;

/// The start-up check of the indexes against the runs.
mod consistency;
pub(crate) mod dir_lock;
/// heed's errors as cairn's [`StorageError`](crate::error::StorageError).
mod error;
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
pub(crate) mod loop_items;
mod open;
pub(crate) mod options;
#[cfg(test)]
mod test_support;
mod writes;
#[cfg(test)]
use test_support::Commit;
/// Format 4: checksums on every value of an older directory.
mod migrate;
/// Quarantined runs, and the ways out.
mod quarantine;
/// Opening a directory this process may only read.
mod read_only;
/// Disk reserved ahead of the write map.
mod reserve;

/// Version of the on-disk layout; bump it when [`RunRecord`] or the key layout changes.
/// Format 2 added the indexes of [`index`], format 3 those of answered questions and question
/// deadlines ([`hitl`]), format 4 the envelope of [`crate::codec`] (format tag and checksum)
/// around every value ([`migrate`]); older directories are brought up to date on open.
pub(crate) const FORMAT_VERSION: u32 = migrate::SEALED_FORMAT;

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
    /// Opens (creating if needed) the environment in `dir` and checks its format version.
    #[cfg(test)]
    pub fn open(dir: &Path, map_size: usize) -> Result<LmdbStore, Error> {
        Self::open_with(dir, map_size, Durability::Full, false, true)
    }

    /// Whether the write map is on when the user did not say: with
    /// [`Durability::ProcessCrash`] on Linux, where disk can be reserved ahead of it (see
    /// [`reserve`]) so that a full disk is an error rather than `SIGBUS`.
    pub fn default_write_map(dir: &Path, durability: Durability) -> bool {
        durability == Durability::ProcessCrash && reserve::supported(dir)
    }

    /// Opens (creating if needed) the environment in `dir` with the given durability;
    /// `write_map` (honoured with [`Durability::ProcessCrash`] only) sets `MDB_WRITEMAP`;
    /// `read_ahead: false` sets `MDB_NORDAHEAD`.
    pub fn open_with(
        dir: &Path,
        map_size: usize,
        durability: Durability,
        write_map: bool,
        read_ahead: bool,
    ) -> Result<LmdbStore, Error> {
        Self::open_mode(dir, map_size, durability, write_map, read_ahead, false)
    }

    /// Opens the existing environment in `dir` for reading only (see [`read_only`]): for a
    /// client on a directory this process cannot write. Every write is [`Error::ReadOnly`].
    pub fn open_read_only(dir: &Path, map_size: usize) -> Result<LmdbStore, Error> {
        Self::open_mode(dir, map_size, Durability::Full, false, true, true)
    }

    fn open_mode(
        dir: &Path,
        map_size: usize,
        durability: Durability,
        write_map: bool,
        read_ahead: bool,
        read_only: bool,
    ) -> Result<LmdbStore, Error> {
        if !read_only {
            std::fs::create_dir_all(dir)?;
        }
        file_check::check(dir)?;
        let write_map = write_map && {
            let room = reserve::room_for_write_map(dir);
            if !room && durability == Durability::ProcessCrash {
                tracing::warn!(
                    dir = %dir.display(),
                    "too little free disk to reserve ahead of the write map: running without it"
                );
            }
            room
        };
        let mut options = EnvOpenOptions::new().read_txn_without_tls();
        if read_only {
            // SAFETY: `READ_ONLY` makes LMDB refuse every write transaction; it weakens
            // nothing. heed marks every environment flag `unsafe` alike.
            unsafe {
                options.flags(EnvFlags::READ_ONLY);
            }
        }
        options.map_size(map_size).max_dbs(
            7 + hitl::DATABASES + index::DATABASES + handover::DATABASES + quarantine::DATABASES,
        );
        if !read_ahead {
            // SAFETY: `NO_READ_AHEAD` only advises the kernel (`MADV_RANDOM` on the map) not to
            // read ahead around a page fault; it changes no data and no durability. heed marks
            // every environment flag `unsafe` alike.
            unsafe {
                options.flags(EnvFlags::NO_READ_AHEAD);
            }
        }
        if durability == Durability::ProcessCrash {
            // SAFETY: `NO_SYNC` is `unsafe` in heed because it weakens durability, not memory
            // safety: LMDB still writes every commit to the page cache in order, so a process
            // crash loses nothing, while an OS crash may lose the last commits (or, on a file
            // system that reorders writes, corrupt the file). The user opted into exactly that
            // trade-off with `Durability::ProcessCrash`, which documents it.
            unsafe {
                options.flags(EnvFlags::NO_SYNC);
            }
            if write_map {
                // SAFETY: `WRITE_MAP` maps the data file writable, so a wild write through a
                // bad pointer elsewhere in the process could corrupt it; cairn has no unsafe
                // code that writes through raw pointers, and LMDB's own writes go through the
                // same map. It is incompatible with nested transactions, which cairn never
                // opens. LMDB extends the file to `map_size` (sparse) and a write into a hole
                // on a full disk would be `SIGBUS`; `reserve` allocates the blocks ahead of
                // LMDB so that a full disk fails the commit instead (where `fallocate` is
                // missing, the `SIGBUS` is a process crash, which `ProcessCrash` is documented
                // to survive, and `LmdbOptions::write_map` documents it). Commit order and
                // the page cache are as with `NO_SYNC` alone, so a process crash loses nothing.
                unsafe {
                    options.flags(EnvFlags::NO_SYNC | EnvFlags::WRITE_MAP);
                }
            }
        }
        // SAFETY: the memory map is only unsound if the files are modified behind LMDB's back.
        // The runtime opens the environment with its lock file (no `NO_LOCK`), so other
        // processes go through LMDB's locking; heed refuses a second open of the same path in
        // this process (`EnvAlreadyOpened`); and cairn never truncates or writes the files
        // itself: `reserve` only allocates blocks (`fallocate` with `KEEP_SIZE`, which changes
        // no byte), and gives back only blocks past the last page LMDB has written.
        let env = unsafe { options.open(dir)? };
        // Before the first write transaction below, which writes through the map.
        let reserve = if durability == Durability::ProcessCrash && write_map {
            reserve::Reserve::new(&env, dir)?
        } else {
            None
        };
        if read_only {
            let main = read_only::open_main(&env)?;
            let index = index::Tables::open(&env, main.runs, main.meta, main.sleeps)?;
            let hitl = hitl::Tables::open(&env, main.runs, main.meta, index.active)?;
            let loop_items = read_only::open_existing(&env, "loop_items")?;
            let handover = handover::Table::open_existing(&env)?;
            let quarantine = quarantine::Table::open(&env, true)?;
            return Ok(LmdbStore {
                quarantine,
                env,
                runs: main.runs,
                meta: main.meta,
                state: main.state,
                history: main.history,
                sleeps: main.sleeps,
                branches: main.branches,
                instance: main.instance,
                hitl,
                index,
                loop_items,
                durability,
                handover,
                reserve: None,
                read_only: true,
                dir: dir.to_owned(),
            });
        }
        let wtxn = env.write_txn()?;
        let (runs, meta, state, history, sleeps, branches) = env
            .create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, Error> {
                let runs: Database<'_, U64<BigEndian>, Bytes> =
                    opener.create_database(wtxn, Some("runs"))?;
                let meta: Database<'_, Str, Bytes> = opener.create_database(wtxn, Some("meta"))?;
                check_format(meta, wtxn)?;
                let state: Database<'_, Bytes, Bytes> =
                    opener.create_database(wtxn, Some("state"))?;
                let history: Database<'_, Bytes, Bytes> =
                    opener.create_database(wtxn, Some("history"))?;
                let sleeps: Database<'_, Bytes, Bytes> =
                    opener.create_database(wtxn, Some("sleeps"))?;
                let branches: Database<'_, Bytes, Bytes> =
                    opener.create_database(wtxn, Some("branches"))?;
                Ok(CommitOrAbort::<_, ()>::Commit((
                    runs, meta, state, history, sleeps, branches,
                )))
            })?
            .unwrap_commit();
        let mut wtxn = env.write_txn()?;
        let instance = instance_id(dir, meta, &mut wtxn)?;
        wtxn.commit()?;
        // First: the older migrations below read run records and questions, sealed.
        migrate::seal_values(&env, runs, meta)?;
        let index = index::Tables::open(&env, runs, meta, sleeps)?;
        let hitl = hitl::Tables::open(&env, runs, meta, index.active)?;
        migrate::finish(&env, meta)?;
        let loop_items = loop_items::open_db(&env)?;
        let handover = handover::Table::open(&env)?;
        let quarantine = quarantine::Table::open(&env, false)?;
        Ok(LmdbStore {
            quarantine,
            env,
            runs,
            meta,
            state,
            history,
            sleeps,
            branches,
            instance,
            hitl,
            index,
            handover,
            loop_items,
            durability,
            reserve,
            read_only: false,
            dir: dir.to_owned(),
        })
    }

    /// An event that fires once the last handle on the environment is dropped, so that the
    /// same path can be opened again.
    pub fn closing_event(&self) -> EnvClosingEvent {
        self.env.clone().prepare_for_closing()
    }

    fn decode(run: RunId, bytes: &[u8]) -> Result<RunRecord, Error> {
        crate::codec::open_record(bytes).map_err(|e| Error::CorruptState {
            run,
            workflow: "<unknown>".to_owned(),
            reason: format!("run record does not decode: {e}"),
        })
    }

    fn get(&self, txn: &RoTxn<'_>, run: RunId) -> Result<Option<RunRecord>, Error> {
        match self.runs.get(txn, &run.0)? {
            Some(bytes) => Self::decode(run, bytes).map(Some),
            None => Ok(None),
        }
    }

    fn put(&self, txn: &mut RwTxn<'_>, run: RunId, record: &RunRecord) -> Result<(), Error> {
        let bytes = encode(record, record.encoded_len_hint()).map_err(|e| Error::Encode {
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

    /// Appends `record` after the run's last history entry, numbered `number`.
    fn append_history(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        number: u64,
        record: &HistoryRecord,
    ) -> Result<(), Error> {
        let end = key_at(run, u64::MAX);
        let last = self.history.get_lower_than(txn, &end)?;
        let next = match last.and_then(|(key, _)| split_pair(key)) {
            Some((of, seq)) if of == run.0 => seq + 1,
            _ => 0,
        };
        let mut record = record.clone();
        record.number = number;
        // Fixed fields, names and error messages: a few dozen bytes unless a step failed.
        let hint = 64 + record.state.len() + record.step.as_ref().map_or(0, String::len);
        let bytes = encode(&record, hint).map_err(|e| Error::Encode {
            workflow: String::new(),
            what: "history record",
            reason: e.to_string(),
        })?;
        self.history.put(txn, &key_at(run, next), &bytes)?;
        Ok(())
    }
}

/// The directory's instance id, made on first open from the process's random hasher seed and
/// the time (no random number crate needed for 64 bits that only have to differ). A stored id
/// that is damaged is [`Error::CorruptDirectory`]: a new one would change the idempotency keys
/// of the steps in flight.
fn instance_id(
    dir: &Path,
    meta: Database<'_, Str, Bytes>,
    wtxn: &mut RwTxn<'_>,
) -> Result<u64, Error> {
    if let Some(bytes) = meta.get(wtxn, INSTANCE_KEY)? {
        return be_u64(bytes).ok_or_else(|| Error::CorruptDirectory {
            path: dir.to_owned(),
            key: INSTANCE_KEY,
            reason: format!("is {} bytes long, not 8", bytes.len()),
        });
    }
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    // Entropy for the id, not a timestamp: the clock of the runtime has no say here.
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    hasher.write_u128(since_epoch.as_nanos());
    hasher.write_u32(std::process::id());
    let id = hasher.finish();
    meta.put(wtxn, INSTANCE_KEY, &id.to_be_bytes())?;
    Ok(id)
}

/// The highest run id stored. Keys are read as bytes and a damaged one (not eight bytes
/// long) is skipped: decoded as `u64`, it failed every new run with a decoding error.
fn last_run_id(runs: Runs, txn: &RoTxn<'_>) -> Result<Option<u64>, Error> {
    for entry in runs.remap_key_type::<Bytes>().rev_iter(txn)? {
        let (key, _) = entry?;
        if let Some(id) = be_u64(key) {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// `run ‖ n`: a history, sleep or branch-prefix key, without allocating (the hot path builds
/// several per transition).
fn key_at(run: RunId, n: u64) -> [u8; 16] {
    be_pair(run.0, n)
}

/// `a ‖ b`, big-endian, so that keys sort by `a`, then `b`: the layout of every two-part key
/// (run ‖ position, time ‖ run).
fn be_pair(a: u64, b: u64) -> [u8; 16] {
    let mut key = [0; 16];
    key[..8].copy_from_slice(&a.to_be_bytes());
    key[8..].copy_from_slice(&b.to_be_bytes());
    key
}

/// The two halves of a [`be_pair`] key; `None` for a key of another length.
fn split_pair(key: &[u8]) -> Option<(u64, u64)> {
    Some((be_u64(key.get(..8)?)?, be_u64(key.get(8..)?)?))
}

/// A big-endian `u64` of exactly eight bytes.
fn be_u64(bytes: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(bytes).ok().map(u64::from_be_bytes)
}

/// Postcard bytes of `value` in the envelope of [`crate::codec`], written into a vector of
/// about `capacity` bytes: `to_stdvec` starts empty and reallocates as it grows, several times
/// for a run record, on every transition.
fn encode<T: serde::Serialize>(value: &T, capacity: usize) -> postcard::Result<Vec<u8>> {
    crate::codec::seal_record(value, capacity)
}

/// `run ‖ parts...`, all big-endian.
fn key(run: RunId, parts: &[&[u8]]) -> Vec<u8> {
    let mut key = run.0.to_be_bytes().to_vec();
    for part in parts {
        key.extend_from_slice(part);
    }
    key
}

/// Deletes every key that starts with `prefix`.
fn delete_prefix(db: ByRun, txn: &mut RwTxn<'_>, prefix: &[u8]) -> Result<(), Error> {
    let end = successor(prefix);
    let range = (
        Bound::Included(prefix),
        end.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
    );
    db.delete_range(txn, &range)?;
    Ok(())
}

/// The smallest byte string greater than every string starting with `prefix`; `None` if there
/// is none (all `0xff`).
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The directory's format version (set by [`check_format`] before anything reads it).
fn stored_format(meta: Meta, txn: &RoTxn<'_>) -> Result<u32, Error> {
    Ok(meta
        .get(txn, FORMAT_KEY)?
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(FORMAT_VERSION, u32::from_be_bytes))
}

fn check_format(meta: Database<'_, Str, Bytes>, wtxn: &mut RwTxn<'_>) -> Result<(), Error> {
    match meta.get(wtxn, FORMAT_KEY)? {
        None => {
            meta.put(wtxn, FORMAT_KEY, &FORMAT_VERSION.to_be_bytes())?;
            Ok(())
        }
        Some(bytes) => {
            let found = <[u8; 4]>::try_from(bytes).map_or(0, u32::from_be_bytes);
            // An older layout is brought up to date by `index::Tables::open`, then
            // `hitl::Tables::open`.
            if (index::OLDEST_FORMAT..=FORMAT_VERSION).contains(&found) {
                Ok(())
            } else {
                Err(Error::UnsupportedFormat {
                    found,
                    expected: FORMAT_VERSION,
                })
            }
        }
    }
}

impl Store for LmdbStore {
    fn write(&self, ops: &[&WriteOp], now_ms: u64) -> Result<Vec<Outcome>, WriteError> {
        self.write_batch(ops, now_ms)
    }

    fn commits_block(&self) -> bool {
        self.durability != Durability::ProcessCrash
    }

    fn any_handed_over(&self) -> Result<bool, Error> {
        self.any_handed_over_impl()
    }

    fn quarantine_entry(
        &self,
        run: RunId,
    ) -> Result<Option<crate::quarantine::StoredEntry>, Error> {
        let txn = self.env.read_txn()?;
        self.quarantine_entry_in(&txn, run)
    }

    fn quarantined(&self) -> Result<Vec<(RunId, crate::quarantine::StoredEntry)>, Error> {
        self.quarantined_impl()
    }

    fn list_status(&self, status: Option<Status>) -> Result<Vec<crate::run::RunStatus>, Error> {
        self.list_status_impl(status)
    }

    fn run_status(&self, run: RunId) -> Result<crate::run::RunStatus, Error> {
        self.run_status_impl(run)
    }

    fn check_indexes(&self, now_ms: u64) -> Result<crate::quarantine::CheckReport, Error> {
        self.check_indexes_impl(now_ms)
    }

    fn run_count(&self) -> Result<u64, Error> {
        let txn = self.env.read_txn()?;
        // `mdb_stat`: the count LMDB keeps in the tree's header, no scan.
        Ok(self.runs.len(&txn)?)
    }

    fn loop_item(&self, run: RunId, key: LoopKey, index: u64) -> Result<Option<Vec<u8>>, Error> {
        let txn = self.env.read_txn()?;
        let k = loop_items::item_key(run, key, index);
        Ok(self.loop_items.get(&txn, &k)?.map(<[u8]>::to_vec))
    }

    fn instance_id(&self) -> u64 {
        self.instance
    }

    fn load(&self, run: RunId) -> Result<Option<RunRecord>, Error> {
        let txn = self.env.read_txn()?;
        self.get(&txn, run)
    }

    fn active_after(
        &self,
        after: Option<RunId>,
        limit: usize,
    ) -> Result<(Vec<(RunId, RunRecord)>, Option<RunId>), Error> {
        self.active_after_impl(after, limit)
    }

    fn wakeups_after(
        &self,
        after: Option<(u64, RunId)>,
        limit: usize,
    ) -> Result<Vec<(u64, RunId)>, Error> {
        self.wakeups_after_impl(after, limit)
    }

    fn sleeping(&self) -> Result<u64, Error> {
        self.sleeping_impl()
    }

    fn wake_at(&self, run: RunId, position: u64) -> Result<Option<StoredSleep>, Error> {
        let txn = self.env.read_txn()?;
        let k = key(run, &[&position.to_be_bytes()]);
        let Some(bytes) = self.sleeps.get(&txn, &k)? else {
            return Ok(None);
        };
        let half = |range: std::ops::Range<usize>| {
            bytes
                .get(range)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
        };
        match (half(0..8), half(8..16)) {
            (Some(wake_ms), Some(started_ms)) => Ok(Some(StoredSleep {
                started_ms,
                wake_ms,
            })),
            _ => Err(Error::CorruptState {
                run,
                workflow: "<unknown>".to_owned(),
                reason: format!("sleep at position {position} does not decode"),
            }),
        }
    }

    fn branches(&self, run: RunId, position: u64) -> Result<Vec<(u32, Vec<u8>)>, Error> {
        let txn = self.env.read_txn()?;
        let prefix = key(run, &[&position.to_be_bytes()]);
        let mut out = Vec::new();
        for entry in self.branches.prefix_iter(&txn, &prefix)? {
            let (k, v) = entry?;
            if let Ok(index) = <[u8; 4]>::try_from(&k[prefix.len()..]) {
                out.push((u32::from_be_bytes(index), v.to_vec()));
            }
        }
        Ok(out)
    }

    fn state_get(&self, run: RunId, name: &str) -> Result<Option<Vec<u8>>, Error> {
        let txn = self.env.read_txn()?;
        Ok(self
            .state
            .get(&txn, &key(run, &[name.as_bytes()]))?
            .map(<[u8]>::to_vec))
    }

    fn state_all(&self, run: RunId) -> Result<BTreeMap<String, Vec<u8>>, Error> {
        let txn = self.env.read_txn()?;
        let prefix = key(run, &[]);
        let mut out = BTreeMap::new();
        for entry in self.state.prefix_iter(&txn, &prefix)? {
            let (k, v) = entry?;
            // Keys are written from `&str`, so they are UTF-8.
            let name = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            out.insert(name, v.to_vec());
        }
        Ok(out)
    }

    fn history(&self, run: RunId) -> Result<Vec<HistoryRecord>, Error> {
        let txn = self.env.read_txn()?;
        let mut out = Vec::new();
        for entry in self.history.prefix_iter(&txn, &key(run, &[]))? {
            let (_, bytes) = entry?;
            let record = crate::codec::open_record(bytes).map_err(|e| Error::CorruptState {
                run,
                workflow: "<unknown>".to_owned(),
                reason: format!("history record does not decode: {e}"),
            })?;
            out.push(record);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_ids_increase() {
        let dir = tempfile::tempdir().unwrap();
        let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
        let a = store
            .create_run(&RunRecord::new("w", 7, vec![1], 0))
            .unwrap();
        let b = store
            .create_run(&RunRecord::new("w", 7, vec![2], 0))
            .unwrap();
        assert!(b > a);
        let writes = StateWrites::default();
        let history = test_history();
        let commit = Commit {
            run: a,
            state_name: "Next",
            step: Some("s"),
            state: &[9],
            writes: &writes,
            history: &history,
        };
        assert_eq!(store.commit_state(commit).unwrap(), 1);
        store.complete(a, &[4], &writes, &history).unwrap();
        let record = store.load(a).unwrap().unwrap();
        assert_eq!(record.status, Status::Completed);
        assert_eq!(record.state.as_deref(), Some(&[9][..]));
        assert_eq!(record.output.as_deref(), Some(&[4][..]));
        assert_eq!(store.unfinished().unwrap().len(), 1);
        assert_eq!(store.list(None).unwrap().len(), 2);
        assert!(matches!(
            store.fail(RunId(99), "x", None),
            Err(Error::UnknownRun { run: RunId(99) })
        ));
    }

    /// A batch takes consecutive ids after the highest stored run, even when the counter was
    /// set back behind it (a partial restore), and moves the counter past all of them.
    #[test]
    fn a_batch_never_takes_a_stored_runs_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
        for input in 0..3 {
            store
                .create_run(&RunRecord::new("w", 7, vec![input], 0))
                .unwrap();
        }
        store
            .in_txn(|txn| Ok(store.meta.put(txn, NEXT_RUN_KEY, &1u64.to_be_bytes())?))
            .unwrap();
        let records: Vec<RunRecord> = (10..15)
            .map(|i| RunRecord::new("w", 7, vec![i], 0))
            .collect();
        let first = store
            .in_txn(|txn| store.create_runs_in(txn, &records, false))
            .unwrap();
        assert_eq!(first, RunId(4));
        for (i, run) in (4..9).map(RunId).enumerate() {
            let record = store.load(run).unwrap().unwrap();
            assert_eq!(record.input, vec![10 + i as u8]);
            assert_eq!(record.status, Status::Pending);
        }
        assert_eq!(store.list(None).unwrap().len(), 8);
        assert_eq!(store.unfinished().unwrap().len(), 8);
        let next = store
            .create_run(&RunRecord::new("w", 7, vec![], 0))
            .unwrap();
        assert_eq!(next, RunId(9));
    }

    fn test_history() -> HistoryRecord {
        HistoryRecord {
            number: 0,
            state: "Next".to_owned(),
            step: Some("s".to_owned()),
            started_at_ms: 1,
            ended_at_ms: 2,
            attempts: 1,
            attempt_errors: Vec::new(),
            outcome: crate::history::HistoryOutcome::Committed,
        }
    }

    #[test]
    fn state_history_sleeps_and_branches_are_per_run_and_cleaned_up() {
        let dir = tempfile::tempdir().unwrap();
        let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
        let a = store
            .create_run(&RunRecord::new("w", 7, vec![], 0))
            .unwrap();
        let b = store
            .create_run(&RunRecord::new("w", 7, vec![], 0))
            .unwrap();
        let mut writes = StateWrites::default();
        writes.puts.insert("x".to_owned(), Some(b"1".to_vec()));
        writes.puts.insert("y".to_owned(), Some(b"2".to_vec()));
        let history = test_history();
        for run in [a, b] {
            let sleep = StoredSleep {
                started_ms: 100,
                wake_ms: 500,
            };
            store.suspend(run, 0, sleep).unwrap();
            store.commit_branch(run, 0, 1, &[7]).unwrap();
            store.commit_branch(run, 1, 0, &[8]).unwrap();
        }
        assert_eq!(store.load(a).unwrap().unwrap().status, Status::Waiting);
        assert_eq!(store.wake_at(a, 0).unwrap().map(|s| s.wake_ms), Some(500));
        assert_eq!(store.branches(a, 0).unwrap(), vec![(1, vec![7])]);
        let commit = |run| Commit {
            run,
            state_name: "Next",
            step: None,
            state: &[],
            writes: &writes,
            history: &history,
        };
        store.commit_state(commit(a)).unwrap();
        assert_eq!(store.wake_at(a, 0).unwrap(), None);
        assert!(store.branches(a, 0).unwrap().is_empty());
        assert_eq!(store.branches(a, 1).unwrap(), vec![(0, vec![8])]);
        assert_eq!(
            store.wake_at(b, 0).unwrap().map(|s| s.started_ms),
            Some(100)
        );
        assert_eq!(store.state_all(a).unwrap().len(), 2);
        assert!(store.state_all(b).unwrap().is_empty());
        let mut clear = StateWrites {
            clear: true,
            ..StateWrites::default()
        };
        clear.puts.insert("z".to_owned(), Some(b"3".to_vec()));
        store.complete(a, &[], &clear, &history).unwrap();
        assert_eq!(
            store.state_all(a).unwrap().keys().collect::<Vec<_>>(),
            ["z"]
        );
        let numbers: Vec<u64> = store.history(a).unwrap().iter().map(|h| h.number).collect();
        assert_eq!(numbers, [1, 1]);
        assert!(store.history(b).unwrap().is_empty());
        assert!(matches!(store.reopen(a), Err(Error::NotResumable { .. })));
    }

    #[test]
    fn without_read_ahead_records_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let open = || LmdbStore::open_with(dir.path(), 1 << 24, Durability::Full, false, false);
        let store = open().unwrap();
        let run = store
            .create_run(&RunRecord::new("w", 7, vec![3], 0))
            .unwrap();
        let closed = store.closing_event();
        drop(store);
        closed.wait();
        let store = open().unwrap();
        let record = store.load(run).unwrap().unwrap();
        assert_eq!((record.status, record.input), (Status::Pending, vec![3]));
    }

    #[test]
    fn a_newer_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
        let mut txn = store.env.write_txn().unwrap();
        store
            .meta
            .put(&mut txn, FORMAT_KEY, &(FORMAT_VERSION + 1).to_be_bytes())
            .unwrap();
        txn.commit().unwrap();
        let closed = store.closing_event();
        drop(store);
        closed.wait();
        assert!(matches!(
            LmdbStore::open(dir.path(), 1 << 24),
            Err(Error::UnsupportedFormat { found, .. }) if found == FORMAT_VERSION + 1
        ));
    }
}
