//! [`LmdbOptions`]: how the embedded LMDB backend, cairn's default, is opened. Passed to
//! [`RuntimeBuilder::lmdb`](crate::RuntimeBuilder::lmdb); the builder itself keeps only what
//! every backend shares.

use std::path::PathBuf;

/// Default LMDB map size. LMDB reserves the address space but the file grows only as data is
/// written, so a generous limit costs nothing on 64-bit targets.
const DEFAULT_MAP_SIZE: usize = if usize::BITS >= 64 {
    (10u64 << 30) as usize
} else {
    1 << 30
};

/// Options of the embedded LMDB store (the default backend), for
/// [`RuntimeBuilder::lmdb`](crate::RuntimeBuilder::lmdb).
///
/// ```no_run
/// # fn demo() -> Result<(), cairn_runtime::Error> {
/// use cairn_runtime::{LmdbOptions, Runtime};
///
/// let runtime = Runtime::builder()
///     .lmdb(LmdbOptions::new().path("cairn-data").map_size(1 << 30))
///     .start()?;
/// # let _ = runtime; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct LmdbOptions {
    pub(crate) path: Option<PathBuf>,
    pub(crate) map_size: usize,
    /// `None`: the default, decided at open (see [`LmdbOptions::write_map`]).
    pub(crate) write_map: Option<bool>,
    pub(crate) read_ahead: bool,
}

impl Default for LmdbOptions {
    fn default() -> Self {
        LmdbOptions {
            path: None,
            map_size: DEFAULT_MAP_SIZE,
            write_map: None,
            read_ahead: true,
        }
    }
}

impl LmdbOptions {
    /// The defaults: the directory of [`RuntimeBuilder::path`](crate::RuntimeBuilder::path)
    /// (or `$CAIRN_DATA_DIR`, else `cairn-data`), a 10 GiB map, the write map decided by
    /// durability, read-ahead on.
    pub fn new() -> LmdbOptions {
        LmdbOptions::default()
    }

    /// Directory of the LMDB environment, created if missing. Same as
    /// [`RuntimeBuilder::path`](crate::RuntimeBuilder::path).
    pub fn path(mut self, dir: impl Into<PathBuf>) -> Self {
        self.path = Some(dir.into());
        self
    }

    /// Maximum size of the database in bytes. Default: 10 GiB (reserved address space, not
    /// disk).
    pub fn map_size(mut self, bytes: usize) -> Self {
        self.map_size = bytes;
        self
    }

    /// With [`Durability::ProcessCrash`](crate::Durability::ProcessCrash), whether LMDB writes
    /// commits straight into its memory map (`MDB_WRITEMAP`) instead of `pwrite`-ing each
    /// dirty page: a commit then costs about a third (2 µs instead of 6 on the benchmark
    /// machine). Ignored with [`Durability::Full`](crate::Durability::Full), where the flush
    /// dominates and the write map measured no faster.
    ///
    /// On by default on Linux with `ProcessCrash`, off elsewhere. What LMDB trades for it: the
    /// data file is extended to the full [`map_size`](Self::map_size) at open (a sparse file:
    /// no disk is used for the holes, but its apparent size is the map size, which copies that
    /// are not sparse-aware will allocate), and a write into a hole on a full disk would kill
    /// the process with `SIGBUS`. To turn that into an error, cairn keeps disk allocated
    /// (`fallocate`) ahead of LMDB's last used page, by 64 MiB chunks plus a margin for each
    /// commit, and a commit that cannot reserve its margin fails with
    /// [`Error::DiskFull`](crate::Error::DiskFull) before writing anything. The file therefore
    /// uses up to ~70 MiB more disk than the database holds. The guarantee holds on file
    /// systems that overwrite in place (ext4, XFS, tmpfs); on copy-on-write ones (btrfs, ZFS,
    /// bcachefs) an overwrite needs new blocks and a full disk can still be `SIGBUS`, so there
    /// the default is off, as where `fallocate` is missing (some network file systems); an
    /// explicit `write_map(true)` there runs without the guarantee (full disk = `SIGBUS`, a
    /// process crash: what was committed survives).
    pub fn write_map(mut self, on: bool) -> Self {
        self.write_map = Some(on);
        self
    }

    /// Whether the kernel may read ahead around each page of the data file that LMDB reads
    /// from disk (on by default). Off sets `MDB_NORDAHEAD`: a page that is not in the page
    /// cache (after a reboot, or once memory pressure evicted it) is then read alone. That
    /// keeps a resume's cost independent of the history's length when the page cache is
    /// cold: resuming reads a handful of pages (run record, state, the history's last leaf),
    /// but with read-ahead each of them pulls in the device's read-ahead window
    /// (`read_ahead_kb`, 8 MiB on the benchmark VM). Measured there: resuming a
    /// 1,000,000-step run took a median of 3.7–6.3 ms with read-ahead and 0.6–0.9 ms
    /// without, like a 10-step run. The price is on reads that scan: a cold
    /// [`Client::history`](crate::Client::history) of that run took 0.64–0.74 s instead of
    /// 28–46 ms. No effect on durability, and none once the pages are cached.
    pub fn read_ahead(mut self, on: bool) -> Self {
        self.read_ahead = on;
        self
    }
}
