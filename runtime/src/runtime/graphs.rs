//! At start, a runtime stores the state graph and fingerprint of every workflow it registers
//! (current versions and those kept with `register_previous`), so that a process without the
//! user's code reads them from the store (`Client::workflow_graph`, `Client::workflows`).
//!
//! One write at a start, before any run is resumed (with the runtime's queues, see
//! `queues.rs`): the graphs change only with the code, and a start is when the code may have
//! changed. Only if it changed: the stored graphs and queues are read first, and a start that
//! would store them as they are writes nothing (with full durability a write is two device
//! flushes, paid by every process start otherwise). Client-only processes store nothing: they
//! run no workflow, may not be able to write, and may register only some workflows for typed
//! calls.

use super::Shared;
use crate::error::Error;
use crate::graph::{StoredWorkflow, WorkflowGraph};
use crate::queue::QueueConfig;
use crate::registry::Entry;
use crate::store::WriteOp;

/// Stores the graphs of the workflows `shared` registered, in one write, unless the store
/// holds them (and the queues) as they are already.
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
    let store = shared.store()?;
    if is_stored(store.as_ref(), &workflows, &shared.queues.configs)? {
        return Ok(());
    }
    let op = WriteOp::RegisterWorkflows { workflows };
    // The queues with limits go in the same write: one commit at start, not two.
    let queues = WriteOp::RegisterQueues {
        queues: shared.queues.configs.clone(),
    };
    // Outside the group committer: start is synchronous, and nothing else writes yet (the
    // index check before it writes directly too).
    match store.write(&[&op, &queues], shared.now_ms()) {
        Ok(_) => Ok(()),
        Err(
            crate::store::WriteError::Refused { error, .. }
            | crate::store::WriteError::Failed(error),
        ) => Err(*error),
    }
}

/// Whether writing `workflows` and `queues` would leave the store as it is, but for the
/// registration times: every workflow stored as it would be written (the time aside), no other
/// stored version of a current one's name marked current, and the stored queues exactly
/// `queues`. Two processes may start at once: each reads, and one that sees a difference
/// writes, as before; one that sees none has nothing to write.
fn is_stored(
    store: &dyn crate::store::Store,
    workflows: &[StoredWorkflow],
    queues: &[QueueConfig],
) -> Result<bool, Error> {
    let stored = store.workflows()?;
    let same = |wanted: &StoredWorkflow, found: &StoredWorkflow| {
        let mut found = found.clone();
        found.registered_at_ms = wanted.registered_at_ms;
        found == *wanted
    };
    let graphs_stored = workflows.iter().all(|wanted| {
        let mut versions = stored.iter().filter(|s| s.name == wanted.name);
        versions
            .clone()
            .any(|found| found.fingerprint == wanted.fingerprint && same(wanted, found))
            && (!wanted.current
                || versions.all(|found| found.fingerprint == wanted.fingerprint || !found.current))
    });
    if !graphs_stored {
        return Ok(false);
    }
    Ok(normalized(store.queue_configs()?) == normalized(queues.to_vec()))
}

/// `queues` in one order (by name, each queue's workflows sorted), to compare sets.
fn normalized(mut queues: Vec<QueueConfig>) -> Vec<QueueConfig> {
    for queue in &mut queues {
        queue.workflows.sort();
    }
    queues.sort_by(|a, b| a.name.cmp(&b.name));
    queues
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::lmdb::LmdbStore;

    fn queue(name: &str, cap: Option<u32>, workflows: &[&str]) -> QueueConfig {
        QueueConfig {
            name: name.to_owned(),
            max_concurrent_runs: cap,
            rate: Some((5, 1000)),
            workflows: workflows.iter().map(|w| (*w).to_owned()).collect(),
        }
    }

    /// The queues read back equal what was registered, in any order, and any change to a
    /// limit or a member reads as a change.
    #[test]
    fn stored_queues_compare_as_sets() {
        let dir = tempfile::tempdir().unwrap();
        let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
        let registered = vec![queue("b", Some(2), &["x", "y"]), queue("a", None, &["z"])];
        let op = WriteOp::RegisterQueues {
            queues: registered.clone(),
        };
        store.write(&[&op], 1).unwrap();
        let same = vec![queue("a", None, &["z"]), queue("b", Some(2), &["y", "x"])];
        assert!(is_stored(&store, &[], &same).unwrap());
        for changed in [
            vec![queue("a", None, &["z"]), queue("b", Some(3), &["x", "y"])],
            vec![queue("a", None, &["z", "x"]), queue("b", Some(2), &["y"])],
            vec![queue("b", Some(2), &["x", "y"])],
            Vec::new(),
        ] {
            assert!(!is_stored(&store, &[], &changed).unwrap(), "{changed:?}");
        }
    }
}
