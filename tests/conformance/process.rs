//! Child processes for the SIGKILL tests of the conformance suite: the test binary re-runs
//! itself as the child (the test `child_entry` of the calling module, which does nothing
//! unless `CAIRN_CHILD_DIR` is set). The child reaches the parent's store through
//! [`Backend::pass_to_child`] and [`parent_store`], and keeps its log in `CAIRN_CHILD_DIR`, a
//! scratch directory of the parent's. The child side and the `@@` protocol are shared with the
//! LMDB-only tests (`tests/context_common/process.rs`).

use std::path::Path;

use super::backend::Backend;
use super::{BackendUnderTest, child_entry_of};

#[path = "../context_common/process.rs"]
// Each test binary uses a part of it.
#[allow(dead_code)]
mod shared;

// The in-process binary compiles this module without using it.
#[allow(unused_imports)]
pub use shared::{
    Proc, append_line, child_dir, count_in_log, generation, log, param, read_log, report,
    tokio_runtime,
};

/// In a child process: the store the parent passed.
pub fn parent_store() -> BackendUnderTest {
    BackendUnderTest::from_parent()
}

impl Proc {
    /// Runs the `child_entry` test of `module` (the caller's `module_path!()`) as a child on
    /// `store`, with the scratch directory `dir`.
    pub fn spawn(
        module: &str,
        store: &BackendUnderTest,
        dir: &Path,
        generation: u32,
        param: u64,
    ) -> Proc {
        let mut command = shared::child_command(&child_entry_of(module), dir, generation, param);
        store.pass_to_child(&mut command);
        Proc::start(command)
    }
}
