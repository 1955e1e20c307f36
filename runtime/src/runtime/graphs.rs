//! At start, a runtime stores the state graph and fingerprint of every workflow it registers
//! (current versions and those kept with `register_previous`), so that a process without the
//! user's code reads them from the store (`Client::workflow_graph`, `Client::workflows`).
//!
//! One write at each start, before any run is resumed (with the runtime's queues, see
//! `queues.rs`): the graphs change only with the code,
//! and a start is when the code may have changed. Client-only processes store nothing: they
//! run no workflow, may not be able to write, and may register only some workflows for typed
//! calls.

use super::Shared;
use crate::error::Error;
use crate::graph::{StoredWorkflow, WorkflowGraph};
use crate::registry::Entry;
use crate::store::WriteOp;

/// Stores the graphs of the workflows `shared` registered, in one write.
pub(super) fn store_graphs(shared: &Shared) -> Result<(), Error> {
    let stored = |entry: &dyn Entry, current: bool| StoredWorkflow {
        name: entry.name().to_owned(),
        fingerprint: entry.layout_id(),
        legacy_fingerprint: entry.legacy_fingerprint(),
        code_fingerprint: Some(entry.fingerprint()),
        layout: entry.layout().cloned(),
        version: Some(entry.version()),
        current,
        // Stamped by the write.
        registered_at_ms: 0,
        graph: WorkflowGraph::from(entry.graph()),
    };
    let mut workflows: Vec<StoredWorkflow> = shared
        .previous
        .values()
        .map(|entry| stored(entry.as_ref(), false))
        .collect();
    // After the previous versions: a current one marks every other version not current.
    workflows.extend(
        shared
            .registry
            .values()
            .map(|entry| stored(entry.as_ref(), true)),
    );
    if workflows.is_empty() {
        return Ok(());
    }
    let op = WriteOp::RegisterWorkflows { workflows };
    // The queues with limits go in the same write: one commit at start, not two.
    let queues = WriteOp::RegisterQueues {
        queues: shared.queues.configs.clone(),
    };
    // Outside the group committer: start is synchronous, and nothing else writes yet (the
    // index check before it writes directly too).
    match shared.store()?.write(&[&op, &queues], shared.now_ms()) {
        Ok(_) => Ok(()),
        Err(
            crate::store::WriteError::Refused { error, .. }
            | crate::store::WriteError::Failed(error),
        ) => Err(*error),
    }
}
