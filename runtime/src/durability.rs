//! How durable a commit is when its future resolves: the one knob that trades safety for
//! latency.
//!
//! LMDB's default (fsync at every commit) is the only mode that keeps a committed transition
//! through a power loss or a kernel panic; it costs one fsync per commit (shared by every
//! transition of a group commit, see [`crate::store::group_commit`]). [`Durability::ProcessCrash`] skips
//! the fsync (LMDB `MDB_NOSYNC`): a commit is written to the OS page cache, which survives the
//! process being killed (SIGKILL, panic, OOM) but not the machine going down.

/// What a committed transition survives. Set with
/// [`RuntimeBuilder::durability`](crate::RuntimeBuilder::durability).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Durability {
    /// Every commit is flushed to disk (fsync) before its transition's future resolves: a
    /// committed transition survives a process crash, an OS crash and a power loss. The
    /// default.
    #[default]
    Full,
    /// Commits are written to the operating system's page cache but not flushed (LMDB
    /// `MDB_NOSYNC`). A committed transition survives a crash of the process (SIGKILL, panic,
    /// abort, OOM kill), because the kernel still writes the pages out; an OS crash or a power
    /// loss can lose the most recent commits, and, on a file system that reorders writes, can
    /// leave the database unreadable. Choose it when the work can be redone after a machine
    /// failure, or when the disk is itself not durable (a tmpfs, an ephemeral cloud disk); it
    /// is what SQLite-WAL-based engines do by default (`synchronous=NORMAL`).
    ///
    /// On Linux this mode also turns on LMDB's write map (commits written straight into the
    /// memory map, no system call per page), with disk reserved ahead so that a full disk
    /// fails a commit with [`Error::DiskFull`](crate::Error::DiskFull); see
    /// [`LmdbOptions::write_map`](crate::LmdbOptions::write_map) for the trade-offs and
    /// how to turn it off.
    ProcessCrash,
}
