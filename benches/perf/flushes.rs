//! `flushes`: what a full-durability commit costs in raw heed under each of LMDB's sync
//! options, and with the data file kept extended ahead of LMDB, measured on the same disk
//! (issue 18, "two flushes per commit"). No cairn: these are the floors cairn's commit path
//! can reach with one option or another, and the evidence for which options cairn uses.
//!
//! Each variant commits `N` transactions that write what a cairn transition writes: one
//! ~200-byte history record under a growing key (so the file grows as cairn's does) and a
//! ~100-byte run record overwritten in place. `CAIRN_BENCH_FLUSH=NAME` runs only the variant
//! NAME (for `strace -c -f`, which counts the system calls per variant).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use heed::byteorder::BigEndian;
use heed::types::{Bytes, U64};
use heed::{Database, EnvFlags, EnvOpenOptions};

const N: u64 = 400;

/// How the data file is kept ahead of LMDB, if at all.
#[derive(Clone, Copy, PartialEq)]
enum Ahead {
    /// LMDB extends the file with each `pwrite` past its end (cairn's full mode today).
    No,
    /// `fallocate` without `KEEP_SIZE`: blocks allocated and the size moved, as unwritten
    /// extents.
    Fallocate,
    /// `fallocate` with `KEEP_SIZE`: blocks allocated, the size left to LMDB.
    FallocateKeepSize,
    /// Zeros written and flushed ahead: LMDB's writes then overwrite written blocks.
    Zeros,
}

struct Variant {
    name: &'static str,
    flags: EnvFlags,
    /// `mdb_env_sync(force)` after each commit (the durable way to use `NO_META_SYNC`).
    sync_after: bool,
    ahead: Ahead,
    durable: &'static str,
}

fn variants() -> Vec<Variant> {
    let none = EnvFlags::empty();
    vec![
        Variant {
            name: "default",
            flags: none,
            sync_after: false,
            ahead: Ahead::No,
            durable: "yes (cairn's full mode)",
        },
        Variant {
            name: "nometasync",
            flags: EnvFlags::NO_META_SYNC,
            sync_after: false,
            ahead: Ahead::No,
            durable: "NO: the last commit can be undone by a power loss",
        },
        Variant {
            name: "nometasync+env_sync",
            flags: EnvFlags::NO_META_SYNC,
            sync_after: true,
            ahead: Ahead::No,
            durable: "yes",
        },
        Variant {
            name: "writemap",
            flags: EnvFlags::WRITE_MAP,
            sync_after: false,
            ahead: Ahead::No,
            durable: "yes",
        },
        Variant {
            name: "writemap+nometasync+env_sync",
            flags: EnvFlags::WRITE_MAP | EnvFlags::NO_META_SYNC,
            sync_after: true,
            ahead: Ahead::No,
            durable: "yes",
        },
        Variant {
            name: "ahead-zeros",
            flags: none,
            sync_after: false,
            ahead: Ahead::Zeros,
            durable: "yes",
        },
        Variant {
            name: "ahead-fallocate",
            flags: none,
            sync_after: false,
            ahead: Ahead::Fallocate,
            durable: "yes",
        },
        Variant {
            name: "ahead-fallocate-keep-size",
            flags: none,
            sync_after: false,
            ahead: Ahead::FallocateKeepSize,
            durable: "yes",
        },
    ]
}

/// Runs the variants side by side, one commit of each in turn, so that every variant meets the
/// same disk (whose flush time on this shared machine swings from 0.1 ms to 10 ms within
/// seconds), and prints each one's median, p10-p90 and mean time per commit.
pub fn flushes(scratch: impl Fn() -> tempfile::TempDir) {
    let only = std::env::var("CAIRN_BENCH_FLUSH").ok();
    let variants: Vec<Variant> = variants()
        .into_iter()
        .filter(|v| only.as_deref().is_none_or(|o| v.name == o))
        .collect();
    let dirs: Vec<tempfile::TempDir> = variants.iter().map(|_| scratch()).collect();
    let opened: Vec<Opened> = variants
        .iter()
        .zip(&dirs)
        .map(|(variant, dir)| Opened::new(dir.path(), variant))
        .collect();
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(N as usize); variants.len()];
    for i in 0..N {
        for ((variant, opened), times) in variants.iter().zip(&opened).zip(&mut times) {
            times.push(opened.commit(i, variant));
        }
    }
    for (variant, times) in variants.iter().zip(&mut times) {
        let mean = times.iter().sum::<Duration>() / N as u32;
        times.sort();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let at = |q: usize| us(times[(times.len() - 1) * q / 100]);
        println!(
            "(flushes) raw heed, full durability, {:<30} median {:>5.0} µs/commit (p10–p90 {:.0}–{:.0}, mean {:.0}, {N} commits side by side); durable: {}",
            variant.name,
            at(50),
            at(10),
            at(90),
            us(mean),
            variant.durable,
        );
    }
}

type Table = Database<'static, U64<BigEndian>, Bytes>;

/// A variant's environment, opened with its flags and its file kept ahead as it says.
struct Opened {
    env: &'static heed::Env,
    history: Table,
    runs: Table,
}

impl Opened {
    fn new(dir: &Path, variant: &Variant) -> Opened {
        let mut options = EnvOpenOptions::new();
        options.map_size(1 << 30).max_dbs(2);
        // SAFETY: a throwaway environment for a measurement; the flags are what is measured.
        unsafe {
            options.flags(variant.flags);
        }
        // SAFETY: a fresh directory that nothing else opens. Leaked: a few environments for
        // the process's lifetime, so that the tables borrow it for `'static`.
        let env: &'static heed::Env =
            Box::leak(Box::new(unsafe { options.open(dir) }.expect("open heed")));
        let wtxn = env.write_txn().unwrap();
        let (history, runs): (Table, Table) = env
            .create_databases_and_commit(wtxn, |opener, wtxn| -> heed::Result<_> {
                let history: Database<'_, U64<BigEndian>, Bytes> =
                    opener.create_database(wtxn, Some("history"))?;
                let runs: Database<'_, U64<BigEndian>, Bytes> =
                    opener.create_database(wtxn, Some("runs"))?;
                Ok(heed::CommitOrAbort::<_, ()>::Commit((history, runs)))
            })
            .unwrap()
            .unwrap_commit();
        let file = File::options()
            .write(true)
            .open(dir.join("data.mdb"))
            .unwrap();
        // Ahead by more than the N commits will use, so that the measured loop never extends.
        extend_ahead(&file, variant.ahead, 8 << 20);
        Opened { env, history, runs }
    }

    /// Commit `i`: a history record under a new key and the run record in place.
    fn commit(&self, i: u64, variant: &Variant) -> Duration {
        let t = Instant::now();
        let mut wtxn = self.env.write_txn().unwrap();
        self.history.put(&mut wtxn, &i, &[7u8; 200]).unwrap();
        self.runs.put(&mut wtxn, &1, &[9u8; 100]).unwrap();
        wtxn.commit().unwrap();
        if variant.sync_after {
            self.env.force_sync().unwrap();
        }
        t.elapsed()
    }
}

fn extend_ahead(file: &File, ahead: Ahead, bytes: u64) {
    let start = file.metadata().unwrap().len();
    match ahead {
        Ahead::No => {}
        Ahead::Zeros => {
            use std::os::unix::fs::FileExt;
            let zeros = vec![0u8; 1 << 20];
            let mut at = start;
            while at < start + bytes {
                file.write_all_at(&zeros, at).unwrap();
                at += zeros.len() as u64;
            }
            file.sync_all().unwrap();
        }
        Ahead::Fallocate | Ahead::FallocateKeepSize => {
            let mode = if ahead == Ahead::FallocateKeepSize {
                libc::FALLOC_FL_KEEP_SIZE
            } else {
                0
            };
            // SAFETY: a plain system call on a descriptor `file` owns.
            let rc = unsafe { libc::fallocate(file.as_raw_fd(), mode, start as i64, bytes as i64) };
            assert_eq!(rc, 0, "fallocate: {}", std::io::Error::last_os_error());
            file.sync_all().unwrap();
        }
    }
}
