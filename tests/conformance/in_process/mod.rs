//! The suite's tests that run in the test process: the client and runtime API's edges, every
//! construct resumed from every stored state, the context (tasks, retries, parallel, sleep,
//! state, idempotency keys), human in the loop, serde types, errors and versioning. No test
//! here spawns a process (the suite's module doc says why that matters).

pub use crate::BackendUnderTest;
pub use crate::conformance::{Backend, fresh_store, jump_clock, support};

mod cancel_pause;
mod child_workflows;
mod client_api;
mod concurrent_transitions;
mod constructs;
mod context_idempotency;
mod context_parallel;
mod context_retry;
mod context_sleep;
mod context_sleep_many;
mod context_state;
mod empty_choices;
mod errors;
mod events;
mod helper_steps;
mod hitl_answers;
mod hitl_session;
mod json_inputs;
mod layout_changes;
mod listing;
mod loops_owned_iterators;
mod queues;
mod retry_attempts;
mod schedules;
mod serde_types;
mod status_counts;
mod step_forms;
mod unique_starts;
mod versioning;
mod watch;
mod workflow_graphs;
