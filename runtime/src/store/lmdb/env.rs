//! Opening the LMDB environment: flags for the durability asked for, the write map and its
//! disk reserve, the databases (created or checked), the format version (migrated or
//! refused), the instance id; and the read-only open for a client that cannot write.

use std::hash::{BuildHasher, Hasher};
use std::path::Path;

use heed::types::{Bytes, Str};
use heed::{CommitOrAbort, Database, EnvClosingEvent, EnvFlags, EnvOpenOptions, RoTxn, RwTxn};

use super::*;
use crate::durability::Durability;
use crate::error::Error;

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
            7 + hitl::DATABASES
                + index::DATABASES
                + handover::DATABASES
                + quarantine::DATABASES
                + cancel::DATABASES
                + listing::DATABASES
                + workflows::DATABASES
                + unique::DATABASES
                + schedules::DATABASES
                + queues::DATABASES
                + children::DATABASES
                + events::DATABASES,
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
            let requests = cancel::Table::open(&env, true)?;
            let listing = listing::Tables::open(&env, main.runs, main.meta, None)?;
            let workflows = workflows::Table::open_existing(&env)?;
            let unique = unique::Tables::open_existing(&env)?;
            let schedules = schedules::Table::open_existing(&env)?;
            let queues = queues::Tables::open_existing(&env)?;
            let children = children::Tables::open_existing(&env)?;
            let events = events::Tables::open_existing(&env)?;
            return Ok(LmdbStore {
                queues,
                unique,
                schedules,
                children,
                events,
                listing,
                quarantine,
                requests,
                workflows,
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
        let mut instance = 0;
        let (runs, meta, state, history, sleeps, branches) = env
            .create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, Error> {
                let runs: Database<'_, U64<BigEndian>, Bytes> =
                    opener.create_database(wtxn, Some("runs"))?;
                let meta: Database<'_, Str, Bytes> = opener.create_database(wtxn, Some("meta"))?;
                if check_format(meta, wtxn)? == Stored::New {
                    new_directory::create_tables(opener, wtxn)?;
                }
                let state: Database<'_, Bytes, Bytes> =
                    opener.create_database(wtxn, Some("state"))?;
                let history: Database<'_, Bytes, Bytes> =
                    opener.create_database(wtxn, Some("history"))?;
                let sleeps: Database<'_, Bytes, Bytes> =
                    opener.create_database(wtxn, Some("sleeps"))?;
                let branches: Database<'_, Bytes, Bytes> =
                    opener.create_database(wtxn, Some("branches"))?;
                // In the same transaction: a new directory is created in one commit.
                instance = instance_id(dir, meta, wtxn)?;
                Ok(CommitOrAbort::<_, ()>::Commit((
                    runs, meta, state, history, sleeps, branches,
                )))
            })?
            .unwrap_commit();
        // First: the older migrations below read run records and questions, sealed.
        migrate::seal_values(&env, runs, meta)?;
        let index = index::Tables::open(&env, runs, meta, sleeps)?;
        let hitl = hitl::Tables::open(&env, runs, meta, index.active)?;
        migrate::finish(&env, meta)?;
        let loop_items = loop_items::open_db(&env)?;
        let handover = handover::Table::open(&env)?;
        let quarantine = quarantine::Table::open(&env, false)?;
        let requests = cancel::Table::open(&env, false)?;
        let listing = listing::Tables::open(&env, runs, meta, Some(quarantine.db()?))?;
        let workflows = workflows::Table::open(&env)?;
        let unique = unique::Tables::open(&env)?;
        let schedules = schedules::Table::open(&env)?;
        let queues = queues::Tables::open(&env)?;
        let children = children::Tables::open(&env)?;
        let events = events::Tables::open(&env)?;
        Ok(LmdbStore {
            queues,
            unique,
            schedules,
            children,
            events,
            listing,
            quarantine,
            requests,
            workflows,
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
}

/// The directory's instance id, made on first open from the process's random hasher seed and
/// the time (no random number crate needed for 64 bits that only have to differ). A stored id
/// that is damaged is [`Error::CorruptDirectory`]: a new one would change the idempotency keys
/// of the steps in flight.
pub(super) fn instance_id(
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
pub(super) fn last_run_id(runs: Runs, txn: &RoTxn<'_>) -> Result<Option<u64>, Error> {
    for entry in runs.remap_key_type::<Bytes>().rev_iter(txn)? {
        let (key, _) = entry?;
        if let Some(id) = be_u64(key) {
            return Ok(Some(id));
        }
    }
    Ok(None)
}
/// The directory's format version (set by [`check_format`] before anything reads it).
pub(super) fn stored_format(meta: Meta, txn: &RoTxn<'_>) -> Result<u32, Error> {
    Ok(meta
        .get(txn, FORMAT_KEY)?
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(FORMAT_VERSION, u32::from_be_bytes))
}

/// What [`check_format`] found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Stored {
    /// No format number: a new directory, now stamped with the current format.
    New,
    /// A format this build reads (older ones are migrated by the tables' opens).
    Supported,
}

pub(super) fn check_format(
    meta: Database<'_, Str, Bytes>,
    wtxn: &mut RwTxn<'_>,
) -> Result<Stored, Error> {
    match meta.get(wtxn, FORMAT_KEY)? {
        None => {
            meta.put(wtxn, FORMAT_KEY, &FORMAT_VERSION.to_be_bytes())?;
            Ok(Stored::New)
        }
        Some(bytes) => {
            let found = <[u8; 4]>::try_from(bytes).map_or(0, u32::from_be_bytes);
            // An older layout is brought up to date by `index::Tables::open`, then
            // `hitl::Tables::open`.
            if (index::OLDEST_FORMAT..=FORMAT_VERSION).contains(&found) {
                Ok(Stored::Supported)
            } else {
                Err(Error::UnsupportedFormat {
                    found,
                    expected: FORMAT_VERSION,
                })
            }
        }
    }
}
