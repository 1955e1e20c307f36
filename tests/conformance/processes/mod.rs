//! The suite's tests with real child processes, killed with SIGKILL or run side by side: each
//! module's `child_entry` test is the child (it does nothing unless `CAIRN_CHILD_DIR` is set),
//! and reaches the parent's store through `Backend::pass_to_child`.

pub use crate::BackendUnderTest;
pub use crate::conformance::{Backend, child_entry_of, file_clock, fresh_store, process};

mod cancel_processes;
mod child_processes;
mod client_processes;
mod context_parallel_crash;
mod context_state_crash;
mod crash;
mod crash_storm;
mod events_processes;
mod hitl_processes;
mod queue_processes;
mod refused_commits;
mod schedule_processes;
mod serde_types_crash;
mod start_many;
mod unique_processes;
mod watch_processes;
