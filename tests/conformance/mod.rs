//! The backend conformance suite: cairn's behaviour tests, written once against [`Backend`]
//! (a fresh store, runtimes and clients on it, the store handed to a child process) and run
//! on every backend. Every test reaches its store through [`fresh_store`] or, in a child
//! process, [`process::parent_store`]; none names a directory or a backend.
//!
//! - `in_process/`: the client and runtime API's edges, every construct resumed from every
//!   stored state (`support::check_restarts`), the context (tasks, retries, `parallel`,
//!   durable sleep, key-value state, idempotency keys, helper steps, step forms, loops over
//!   owned iterators), human in the loop (answers, sessions, empty choices), serde types, JSON
//!   inputs, typed errors, versioning, unique starts, schedules (on a test clock) and queues
//!   with limits, and hundreds of runs committing at once.
//! - `processes/`: real child processes killed with SIGKILL (after every transition and at
//!   random points, a crash storm, inside `parallel`, around key-value state and serde
//!   fallbacks, during `start_many`, on a refused commit) and client-only processes beside a
//!   runtime (racing on one unique key among them); schedules down over ticks and racing on
//!   ticks (on `file_clock.rs`, a clock the parent moves), queued runs across a SIGKILL. A test module's `child_entry` test is its child.
//!
//! A backend runs the suite with two small test files, `tests/conformance_<backend>.rs` and
//! `tests/conformance_<backend>_processes.rs` (copy the LMDB ones and change the one line that
//! names the backend), plus its [`Backend`] implementation here (`lmdb.rs` for LMDB).
//!
//! Why a binary per backend: the tests keep process-wide state (step counters, gates, logs,
//! once-set directories), so two backends in one process would count each other's steps.
//! Why the child-process tests are a binary of their own: a child is spawned with a copy of
//! the parent's file descriptors, which it keeps until it `exec`s; if meanwhile another test
//! shuts down a runtime and starts one again on the same store, the child's copy of the
//! directory lock refuses the new runtime (`DirectoryInUse`). Tests that restart runtimes in
//! the test process therefore never share a process with tests that spawn children.
//!
//! What stays LMDB-only, outside the suite, and why:
//! - `damaged_meta`, `damaged_stores`, `damaged_values`, `quarantine`: they damage stored bytes
//!   through heed in LMDB's tables, which only exist on LMDB.
//! - `disk_faults`, `disk_full`: a full or faulty file system under LMDB's data file and write
//!   map reservation.
//! - `read_only_client`: a read-only copy of an LMDB directory.
//! - `one_runtime`: one runtime per LMDB directory (a directory lock; other backends run many
//!   workers on one store).
//! - `refused_commits`: state keys and session ids over LMDB's 511-byte key limit (the refused
//!   commit that any backend must handle is in `processes/refused_commits.rs`).
//! - `group_commit`: LMDB's write map and durability modes under concurrent commits.
//! - `versioning`: runs read from an LMDB file written by an older build, a guard of the
//!   on-disk format (the same checks on runs stored through any backend are in
//!   `in_process/versioning.rs`).
//! - `blocking_steps`: it installs a global `tracing` subscriber and reads warnings by run id,
//!   which other tests' runs in the same process would add to; nothing in it is about storage.
//! - `graphs`, `hygiene`, `ui`: state graph snapshots and generated code; no store.

// Each binary that includes the suite uses a part of this support (the in-process tests spawn
// no child).
#![allow(dead_code)]

pub mod backend;
pub mod file_clock;
pub mod jump_clock;
pub mod lmdb;
pub mod postgres;
pub mod postgres_server;
pub mod process;
pub mod support;

pub use crate::BackendUnderTest;
pub use backend::Backend;

/// A new, empty store of the backend under test, removed when dropped.
pub fn fresh_store() -> BackendUnderTest {
    BackendUnderTest::fresh()
}

/// The name of the `child_entry` test of `module` (a `module_path!()` in this binary), as the
/// test harness names it: without the crate.
pub fn child_entry_of(module: &str) -> String {
    let (_crate, path) = module.split_once("::").expect("a module inside the suite");
    format!("{path}::child_entry")
}
