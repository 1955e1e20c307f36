//! The backend conformance suite: cairn's behaviour tests, written once against
//! [`backend::Backend`] and run on every backend.
//!
//! TODO module doc
#![allow(dead_code)]

pub mod backend;
pub mod jump_clock;
pub mod lmdb;
pub mod process;
pub mod support;

mod client_processes;
mod constructs;
mod context_idempotency;
mod context_parallel;
mod context_parallel_crash;
mod context_retry;
mod context_sleep;
mod context_sleep_many;
mod context_state;
mod context_state_crash;
mod crash;
mod crash_storm;
mod empty_choices;
mod helper_steps;
mod hitl_answers;
mod hitl_processes;
mod hitl_session;
mod json_inputs;
mod loops_owned_iterators;
mod serde_types_crash;
mod start_many;
mod step_forms;

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
