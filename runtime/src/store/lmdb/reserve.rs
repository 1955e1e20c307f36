//! Disk reserved ahead of LMDB's write map, so that a full disk fails a commit with
//! [`Error::DiskFull`] instead of killing the process with `SIGBUS`.
//!
//! With `MDB_WRITEMAP`, LMDB extends `data.mdb` to the map size with `ftruncate` when it
//! opens the environment (`mdb_env_map`): a sparse file whose tail is one big hole. A write
//! transaction writes its pages straight into the map: pages reused from the free list lie
//! below the last used page and were written before, so they have blocks; new pages come from
//! the end (`mdb_page_alloc` hands out `mt_next_pgno` onwards), inside the hole. The first
//! store into a hole page makes the kernel allocate a block in the page fault, and if the file
//! system has none left, the fault cannot be served and the process gets `SIGBUS`. Without the
//! write map the same commit `pwrite`s its pages and gets `ENOSPC`, an error.
//!
//! [`Reserve`] keeps the blocks past LMDB's last used page allocated before LMDB gets there:
//! at the start of every write transaction (inside it, so under LMDB's writer lock, where no
//! other process can move the last page), it compares the last used page plus a margin with
//! what is reserved, and when short it `fallocate`s the next chunk. `fallocate` fails with
//! `ENOSPC` up front, before the transaction has written anything, and the commit fails with
//! [`Error::DiskFull`]. Reserving is rare (every [`CHUNK`]); the check itself is one
//! `mdb_env_info` call, no system call.
//!
//! The margin must cover what one transaction can allocate past the last page: the pages it
//! copies on write or splits, and the overflow pages of large values. It is estimated from the
//! transaction's requests ([`WriteOp::reserve_bytes`]) with generous headroom, plus a fixed
//! [`MARGIN`]; a transaction that allocates more than that on a disk that fills up at that
//! very moment could still fault. What `fallocate` guarantees depends on the file system:
//! on ext4 and XFS, writes into allocated (unwritten) extents need no further data blocks; on
//! copy-on-write file systems (btrfs, ZFS, reflinked XFS files) an overwrite allocates anew,
//! and no reservation can rule out `SIGBUS` there.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use heed::{Env, WithoutTls};

use crate::error::{Error, StorageError};
use crate::store::WriteOp;

/// Fixed part of the margin kept reserved past the last used page: the branch pages and the
/// free-list pages a transaction copies, which requests of one batch share.
const MARGIN: u64 = 8 << 20;

/// How far past what is needed one reservation goes, so that `fallocate` runs about once per
/// this much growth of the database.
const CHUNK: u64 = 64 << 20;

/// Per request, on top of twice its bytes: room for the leaves it dirties (run record,
/// history, state, an index entry), each possibly split.
const PER_REQUEST: u64 = 16 << 10;

/// Per stored entry (a state value, a loop item), on top of its bytes: its node header and key.
const PER_ENTRY: u64 = 64;

/// Whether LMDB's write map can be made safe in `dir`: `fallocate` works on its file system
/// (it does not on some network and FUSE file systems, where the write map stays off unless
/// asked for). Creates `data.mdb` if missing (empty, which LMDB then initializes).
#[cfg(target_os = "linux")]
pub(crate) fn supported(dir: &Path) -> bool {
    let probe = || -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::create_dir_all(dir)?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            // What heed creates it with.
            .mode(0o600)
            .open(data_file(dir))?;
        if copy_on_write(&file)? {
            return Err(std::io::Error::other(
                "copy-on-write file system: reserved blocks do not rule out SIGBUS",
            ));
        }
        // One page at the start: already allocated in an existing file (a no-op), and
        // `KEEP_SIZE` leaves a new file empty for LMDB to initialize.
        fallocate(&file, 0, 4096)
    };
    match probe() {
        Ok(()) => true,
        Err(error) => {
            tracing::debug!(%error, dir = %dir.display(), "fallocate unsupported: no write map");
            false
        }
    }
}

/// Whether `file` is on a copy-on-write file system (btrfs, ZFS, bcachefs), where an overwrite
/// allocates new blocks, so that `fallocate` cannot keep a full disk from faulting the map.
#[cfg(target_os = "linux")]
fn copy_on_write(file: &File) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    const BTRFS: u32 = 0x9123_683e;
    const ZFS: u32 = 0x2fc1_2fc1;
    const BCACHEFS: u32 = 0xca45_1a4e;
    // SAFETY: `statfs` is plain old data, valid zeroed, and filled by the call from a
    // descriptor `file` owns.
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `stat` is a live, writable `statfs` for the call to fill, and the descriptor
    // stays open for the call because `file` is borrowed for it.
    if unsafe { libc::fstatfs(file.as_raw_fd(), &mut stat) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // `f_type` is a signed word on some targets; the magic numbers are 32-bit.
    #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
    let kind = stat.f_type as u32;
    Ok([BTRFS, ZFS, BCACHEFS].contains(&kind))
}

/// No `fallocate` to make the write map safe with.
#[cfg(not(target_os = "linux"))]
pub(crate) fn supported(_dir: &Path) -> bool {
    false
}

fn data_file(dir: &Path) -> PathBuf {
    dir.join("data.mdb")
}

/// The disk reserved ahead of LMDB's use of its write map; see the module doc.
pub(crate) struct Reserve {
    /// `data.mdb`, for `fallocate` only (which allocates blocks and never changes contents).
    file: File,
    path: PathBuf,
    page_size: u64,
    /// Bytes from the start of `data.mdb` known to be allocated. Only ever grows; written in
    /// write transactions only, which LMDB serializes.
    reserved: AtomicU64,
}

impl Reserve {
    /// Reserves [`CHUNK`] and the margin past the used part of `env`'s data file; call it
    /// right after opening the environment, before its first write transaction. `None` where
    /// reserving is not possible (not Linux, or `fallocate` unsupported): LMDB's behaviour as
    /// it was.
    pub(crate) fn new(env: &Env<WithoutTls>, dir: &Path) -> Result<Option<Reserve>, Error> {
        if !cfg!(target_os = "linux") {
            return Ok(None);
        }
        let page_size = u64::from(env.unnamed_database_stat().page_size);
        // Every page up to the last used one was written when LMDB allocated it, so it has
        // its blocks already: starting from there spares `fallocate` a walk over the extents
        // of the whole file (measured: 100-200 µs more at open for a 1,000,000-step history).
        let used = (env.info().last_page_number as u64 + 1) * page_size;
        let reserve = Reserve {
            file: env.try_clone_inner_file()?,
            path: data_file(dir),
            page_size,
            reserved: AtomicU64::new(used),
        };
        match reserve.ensure(env, 0) {
            Ok(()) => Ok(Some(reserve)),
            Err(Error::Io(error)) if error.raw_os_error() == Some(EOPNOTSUPP) => {
                tracing::warn!(
                    path = %reserve.path.display(),
                    "fallocate unsupported: the write map runs without disk reserved ahead, \
                     and a full disk kills the process with SIGBUS"
                );
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// Makes sure the blocks of the last used page plus the margin for `extra` bytes of writes
    /// are allocated. Call it inside a write transaction (so that the last page cannot move),
    /// before writing; an error means nothing may be written.
    pub(crate) fn ensure(&self, env: &Env<WithoutTls>, extra: u64) -> Result<(), Error> {
        let info = env.info();
        let used = (info.last_page_number as u64 + 1) * self.page_size;
        // LMDB never writes past its map (it fails with `MDB_MAP_FULL` first).
        let map_size = info.map_size as u64;
        let needed = used
            .saturating_add(MARGIN)
            .saturating_add(extra)
            .min(map_size);
        let reserved = self.reserved.load(Ordering::Relaxed);
        if needed <= reserved {
            return Ok(());
        }
        // A chunk ahead if the disk has it (never more than a quarter of the free space, so
        // that cairn does not take a small disk from everything else), else just what this
        // transaction needs.
        let chunk = available(&self.path).map_or(CHUNK, |free| CHUNK.min(free / 4));
        for end in [needed.saturating_add(chunk).min(map_size), needed] {
            match fallocate(&self.file, reserved, end - reserved) {
                Ok(()) => {
                    self.reserved.store(end, Ordering::Relaxed);
                    return Ok(());
                }
                Err(error) if error.raw_os_error() == Some(ENOSPC) => {
                    // Some file systems (ext4) keep what a failed `fallocate` allocated before
                    // running out, which would leave the disk full for everyone: give it back.
                    // LMDB has written nothing past `reserved` (the margin kept it below).
                    release(&self.file, reserved, end - reserved);
                }
                Err(error) => return Err(Error::from(error)),
            }
        }
        Err(Error::DiskFull {
            path: self.path.clone(),
            needed: needed - used,
        })
    }

    /// Bytes reserved so far (for tests).
    #[cfg(test)]
    pub(crate) fn reserved(&self) -> u64 {
        self.reserved.load(Ordering::Relaxed)
    }
}

#[cfg(target_os = "linux")]
const ENOSPC: i32 = libc::ENOSPC;
#[cfg(target_os = "linux")]
const EOPNOTSUPP: i32 = libc::EOPNOTSUPP;
#[cfg(target_os = "linux")]
const EDQUOT: i32 = libc::EDQUOT;
#[cfg(target_os = "linux")]
const EIO: i32 = libc::EIO;
#[cfg(not(target_os = "linux"))]
const EDQUOT: i32 = 122;
#[cfg(not(target_os = "linux"))]
const EIO: i32 = 5;
#[cfg(not(target_os = "linux"))]
const ENOSPC: i32 = 28;
#[cfg(not(target_os = "linux"))]
const EOPNOTSUPP: i32 = 95;

/// Allocates `len` bytes of `file` from `offset` without changing its size or contents.
/// `fallocate(2)` itself rather than `posix_fallocate`: glibc emulates the latter where the
/// file system lacks support by writing a zero byte into every block, which would race with
/// LMDB writing the same file through its map.
#[cfg(target_os = "linux")]
fn fallocate(file: &File, offset: u64, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
    };
    if len == 0 {
        return Ok(());
    }
    loop {
        // SAFETY: a plain system call on a descriptor `file` owns; it reads no memory of ours.
        let rc =
            unsafe { libc::fallocate(file.as_raw_fd(), libc::FALLOC_FL_KEEP_SIZE, offset, len) };
        if rc == 0 {
            return Ok(());
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn fallocate(_file: &File, _offset: u64, _len: u64) -> std::io::Result<()> {
    Err(std::io::Error::from_raw_os_error(EOPNOTSUPP))
}

/// Deallocates `len` bytes of `file` from `offset` (a hole; size and the rest unchanged).
/// Best effort: where punching holes is unsupported, the blocks stay allocated, as before.
#[cfg(target_os = "linux")]
fn release(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    let mode = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
    // SAFETY: a plain system call on a descriptor `file` owns; it reads no memory of ours.
    if unsafe { libc::fallocate(file.as_raw_fd(), mode, offset, len) } != 0 {
        let error = std::io::Error::last_os_error();
        tracing::debug!(%error, "could not release a failed reservation");
    }
}

#[cfg(not(target_os = "linux"))]
fn release(_file: &File, _offset: u64, _len: u64) {}

/// Free space for an unprivileged writer on the file system holding `path`; `None` where it
/// cannot be known.
#[cfg(target_os = "linux")]
pub(crate) fn available(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: `statvfs` is plain old data, valid zeroed, and filled by the call.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid C string and `stat` a valid buffer for the call.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    #[allow(clippy::useless_conversion)]
    Some(u64::from(stat.f_bavail).saturating_mul(u64::from(stat.f_frsize)))
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn available(_path: &Path) -> Option<u64> {
    None
}

/// Whether the disk holding `dir` has room for the write map's margin with room to spare:
/// below that, process-crash mode runs without the write map (and a full disk is LMDB's
/// `ENOSPC` from `pwrite`), rather than failing to open at all.
pub(crate) fn room_for_write_map(dir: &Path) -> bool {
    available(dir).is_none_or(|free| free >= 2 * MARGIN)
}

/// The error for a failed write of about `extra` bytes to the data file in `dir`:
/// [`Error::DiskFull`] when the disk is full, which LMDB reports as `ENOSPC` (or `EDQUOT`), or
/// as `EIO` for a short write (`mdb_page_flush`), told apart from a real I/O error by how
/// much space is left; anything else as it is.
pub(crate) fn write_error(error: StorageError, dir: &Path, extra: u64) -> Error {
    let full = match error.io_error().and_then(std::io::Error::raw_os_error) {
        Some(code) if code == ENOSPC || code == EDQUOT => true,
        Some(EIO) => available(dir).is_some_and(|free| free < (1 << 20) + 2 * extra),
        _ => false,
    };
    if full {
        Error::DiskFull {
            path: data_file(dir),
            needed: extra,
        }
    } else {
        Error::Storage(error)
    }
}

impl WriteOp {
    /// Bytes this operation may make LMDB allocate past its last used page, over-estimated:
    /// twice what it stores, plus room for the pages it dirties (see [`PER_REQUEST`]).
    pub(crate) fn reserve_bytes(&self) -> u64 {
        let writes = |writes: &crate::context::state::StateWrites| {
            writes
                .puts
                .iter()
                .map(|(name, value)| {
                    name.len() as u64 + value.as_ref().map_or(0, |v| v.len() as u64) + PER_ENTRY
                })
                .sum::<u64>()
        };
        let bytes = match self {
            WriteOp::CreateRun { record } | WriteOp::CreateInSession { record, .. } => {
                record.input.len() as u64
            }
            // Each run: its input and workflow name in the record, plus the record's, the
            // status index's and the hand-over table's entries.
            WriteOp::CreateRuns { records, .. } => records
                .iter()
                .map(|r| r.input.len() as u64 + r.workflow.len() as u64 + 3 * PER_ENTRY)
                .sum(),
            // Its input and workflow name in the record, the key twice (both directions),
            // and the record's, status index's, hand-over's and both keys' entries.
            WriteOp::CreateUnique { key, record, .. } => {
                record.input.len() as u64
                    + 2 * (record.workflow.len() + key.len()) as u64
                    + 5 * PER_ENTRY
            }
            // As a unique start, plus the schedule's entry.
            WriteOp::ScheduleTick {
                schedule, record, ..
            } => {
                record.as_ref().map_or(0, |record| {
                    record.input.len() as u64
                        + 2 * (record.workflow.len() + schedule.len() + 32) as u64
                        + 5 * PER_ENTRY
                }) + schedule.len() as u64
                    + PER_ENTRY
            }
            WriteOp::CreateWithPriority { record, .. } => {
                record.input.len() as u64 + record.workflow.len() as u64 + 5 * PER_ENTRY
            }
            WriteOp::RegisterQueues { queues } => queues
                .iter()
                .map(|q| {
                    (2 * q.name.len() + 16) as u64
                        + q.workflows
                            .iter()
                            .map(|w| (w.len() + q.name.len()) as u64 + PER_ENTRY)
                            .sum::<u64>()
                        + PER_ENTRY
                })
                .sum(),
            // Per admitted run: its record rewritten, its queue entries and active entry.
            WriteOp::PumpQueues { limit, .. } => *limit as u64 * (512 + 4 * PER_ENTRY),
            // Its input and workflow name in the record, and the record's, status index's
            // and both child tables' entries.
            WriteOp::StartChild { record, .. } => {
                record.input.len() as u64 + record.workflow.len() as u64 + 4 * PER_ENTRY
            }
            WriteOp::Wake { .. } | WriteOp::AwaitChildren { .. } => 0,
            // The event, the record, the hand-over entry; a wait with its bound event.
            WriteOp::SendEvent { name, payload, .. } => {
                (payload.len() + name.len()) as u64 + 3 * PER_ENTRY
            }
            WriteOp::AwaitEvent { wait, .. } => wait.name.len() as u64 + 4 * PER_ENTRY,
            WriteOp::RecordAttempts { .. } => PER_ENTRY,
            WriteOp::CommitState {
                state,
                writes: state_writes,
                items,
                ..
            } => {
                state.len() as u64
                    + writes(state_writes)
                    + items
                        .iter()
                        .map(|i| i.byte_len() as u64 + i.count() as u64 * PER_ENTRY)
                        .sum::<u64>()
            }
            WriteOp::Complete {
                output,
                writes: state_writes,
                ..
            } => output.len() as u64 + writes(state_writes),
            WriteOp::Fail { message, .. } => message.len() as u64,
            WriteOp::FailQuarantined { message, .. } => message.len() as u64,
            WriteOp::Quarantine { reason, .. } => reason.len() as u64,
            WriteOp::CommitBranch { output, .. } => output.len() as u64,
            // Deleting writes too (copy-on-write of the pages the keys were on): about a
            // page's share per run, most runs' keys sharing leaf pages with their neighbours.
            WriteOp::PurgeFinished { limit, .. } => *limit as u64 * 256,
            // The record rewritten, and the original state kept beside it.
            WriteOp::MigrateRun { state, .. } => {
                2 * state.as_ref().map_or(0, |(_, s)| s.len() as u64) + PER_ENTRY
            }
            // The JSON of each graph: about its names plus some punctuation per state and edge.
            WriteOp::RegisterWorkflows { workflows } => workflows
                .iter()
                .map(|w| {
                    let states: usize = w
                        .graph
                        .states
                        .iter()
                        .map(|s| {
                            96 + s.name.len()
                                + s.step.as_ref().map_or(0, String::len)
                                + s.fields.iter().map(|f| f.len() + 4).sum::<usize>()
                        })
                        .sum();
                    let layout = w.layout.as_ref().map_or(0, crate::StateLayout::len_hint);
                    (256 + w.name.len() + states + 32 * w.graph.edges.len() + layout) as u64
                        + PER_ENTRY
                })
                .sum(),
            // Small and fixed: covered by `PER_REQUEST`. A question is a few hundred bytes; a
            // session's copied state is the one write here whose size is not known up front,
            // as before this became an op (LMDB reports a full disk itself past the reserve).
            WriteOp::Suspend { .. }
            | WriteOp::Ask { .. }
            | WriteOp::Answer { .. }
            | WriteOp::Claim { .. }
            | WriteOp::Reopen { .. }
            | WriteOp::HandOver { .. }
            | WriteOp::TakeHandedOver { .. }
            | WriteOp::Release { .. }
            | WriteOp::Purge { .. }
            | WriteOp::Cancel { .. }
            | WriteOp::Pause { .. }
            | WriteOp::Unpause { .. }
            | WriteOp::SettleRequests => 0,
        };
        2 * bytes + PER_REQUEST
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests;
