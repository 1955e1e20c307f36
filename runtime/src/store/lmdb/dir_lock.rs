//! One runtime per data directory.
//!
//! LMDB lets any number of processes open an environment, which is what client-only processes
//! need, but two runtimes on one directory would each resume every unfinished run and drive it
//! twice (every step run by both). A runtime therefore takes an exclusive advisory lock
//! (`flock` on Unix, `LockFileEx` on Windows, through [`std::fs::File::try_lock`]) on a file
//! in the directory before it opens the store, and keeps it until it shuts down. The OS drops
//! the lock when its process dies, however it dies, so a SIGKILL never leaves a stale lock.
//! The holder writes its pid into the file, only so that the error shown to a second runtime
//! can name it; the lock, not the file's content, decides.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

use crate::error::Error;

/// Name of the lock file in the data directory (LMDB's own `lock.mdb` is a different thing:
/// its reader table, shared by every process that opens the environment).
pub(crate) const LOCK_FILE: &str = "runtime.lock";

/// The held lock on a data directory; dropping it (or the process dying) releases it.
#[derive(Debug)]
pub(crate) struct DirLock {
    /// The open, locked file: the lock lives as long as this handle.
    _file: File,
}

impl DirLock {
    /// Locks `dir` (created if missing) for this runtime, or fails with
    /// [`Error::DirectoryInUse`] naming the holder's pid if another runtime, in any process
    /// including this one, holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<DirLock, Error> {
        std::fs::create_dir_all(dir)?;
        // Not truncated on open: the file may be another runtime's, whose pid is still needed.
        let mut file = owner_only(OpenOptions::new().read(true).write(true).create(true))
            .open(dir.join(LOCK_FILE))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(Error::DirectoryInUse {
                    path: dir.to_owned(),
                    pid: holder_pid(&mut file),
                });
            }
            Err(TryLockError::Error(error)) => return Err(Error::from(error)),
        }
        write_pid(&mut file, std::process::id())?;
        Ok(DirLock { _file: file })
    }
}

/// Bytes of the pid record: the widest `u32` (10 digits), padded with spaces, and a newline.
const PID_RECORD: usize = 11;

/// Writes `pid` over the start of the lock file, padded to [`PID_RECORD`] bytes, which covers
/// every record a runtime writes (older builds wrote the bare pid and a newline), so the file
/// needs no truncation. Truncating it to zero first cost a restart 0.3 to 2 ms on ext4: a
/// truncation to zero waits for the previous holder's write of the page to reach the disk, and
/// marks the file to be flushed again at close (`auto_da_alloc`). Only a file longer than a
/// record (not written by cairn) is cut down to one.
fn write_pid(file: &mut File, pid: u32) -> std::io::Result<()> {
    let record = format!("{pid:<width$}\n", width = PID_RECORD - 1);
    file.rewind()?;
    file.write_all(record.as_bytes())?;
    if file.metadata()?.len() > PID_RECORD as u64 {
        file.set_len(PID_RECORD as u64)?;
    }
    Ok(())
}

/// The pid the holder wrote, if it has written it yet (it writes right after locking).
fn holder_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// Read and write for the owner only, like LMDB's own files.
fn owner_only(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, 0o600);
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The record the current holder wrote, as a second runtime reads it for its error.
    fn recorded_pid(dir: &Path) -> Option<u32> {
        holder_pid(&mut File::open(dir.join(LOCK_FILE)).unwrap())
    }

    #[test]
    fn the_pid_record_replaces_whatever_an_earlier_holder_left() {
        let dir = tempfile::tempdir().unwrap();
        let me = std::process::id();
        // A new lock file, an older build's bare record of a longer pid, and a file longer
        // than any record: each time the file reads as this process's pid and nothing else.
        for left in [
            None,
            Some("4194303\n"),
            Some("12345678901234567890 not cairn's\n"),
        ] {
            if let Some(left) = left {
                std::fs::write(dir.path().join(LOCK_FILE), left).unwrap();
            }
            let lock = DirLock::acquire(dir.path()).unwrap();
            assert_eq!(recorded_pid(dir.path()), Some(me), "after {left:?}");
            let bytes = std::fs::read(dir.path().join(LOCK_FILE)).unwrap();
            assert_eq!(bytes.len(), PID_RECORD, "after {left:?}");
            drop(lock);
        }
    }

    #[test]
    fn every_pid_fits_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = File::create(dir.path().join(LOCK_FILE)).unwrap();
        for pid in [1, 4_194_304, u32::MAX] {
            write_pid(&mut file, pid).unwrap();
            assert_eq!(recorded_pid(dir.path()), Some(pid));
            assert_eq!(file.metadata().unwrap().len(), PID_RECORD as u64);
        }
    }
}
