//! Keeps a worker's map of held runs (the epoch at which it took each run, `leases.rs`)
//! bounded: without this, it keeps one entry for every run it ever held, a slow leak in a
//! long-lived worker.
//!
//! A run is let go of here when the worker has no more use for its epoch:
//!
//! - **it ended here**: a batch of this worker committed its completion or failure, or a
//!   commit of its task met a cancel or pause request ([`Outcome::Stopped`]; unpausing takes
//!   the run again, at a new epoch);
//! - **its lease is lost**: a commit of its task was refused with [`Error::LeaseLost`]
//!   (another worker holds it at a later epoch, and a lost lease never comes back).
//!
//! The rest (a run that this worker parked in a sleep or a wait and that another worker took
//! on, or that ended elsewhere) is for the heartbeat's sweep (`held_sweep.rs`).
//!
//! Only the epoch the worker held before the batch is let go of: should a transaction of this
//! worker take the run again meanwhile (a resumed failed run claimed at start-up, say), the
//! later epoch stays held.

use std::collections::HashSet;

use super::leases::{self, Worker};
use crate::error::Error;
use crate::run::RunId;
use crate::store::own_commit::own_commit;
use crate::store::{Outcome, WriteError, WriteOp};

/// The runs of a batch that its commit or its refusal may let go of: the index of the op,
/// the run, and the epoch this worker held it at before the batch.
pub(super) struct Held(Vec<(usize, RunId, i64)>);

/// Before `ops` are written: the epochs at which this worker holds the runs whose own tasks
/// commit them (those, and their branch outputs, are the ops the fence checks).
pub(super) fn before(worker: &Worker, ops: &[&WriteOp]) -> Held {
    if !worker.runs_here {
        return Held(Vec::new());
    }
    let fenced = ops.iter().enumerate().filter_map(|(index, op)| {
        let run = match op {
            WriteOp::CommitBranch { run, .. } => *run,
            op => own_commit(op)?.0,
        };
        Some((index, run))
    });
    Held(leases::held_epochs(worker, fenced))
}

/// After `held`'s batch committed with `outcomes`: lets go of the runs it ended here.
pub(super) fn after_commit(worker: &Worker, held: &Held, ops: &[&WriteOp], outcomes: &[Outcome]) {
    let ended = held.0.iter().filter(|(index, _, _)| {
        let ends = own_commit(ops[*index]).is_some_and(|(_, ends)| ends);
        match outcomes.get(*index) {
            Some(Outcome::Stopped { .. }) => true,
            Some(Outcome::Done) => ends,
            _ => false,
        }
    });
    worker.let_go(ended.map(|(_, run, epoch)| (*run, *epoch)));
}

/// After `held`'s batch was refused: lets go of the runs whose lease it found lost.
pub(super) fn after_refusal(worker: &Worker, held: &Held, refused: &WriteError) {
    let WriteError::Refused { error, also, .. } = refused else {
        return;
    };
    let lost: HashSet<RunId> = std::iter::once(&**error)
        .chain(also.iter().map(|(_, error)| &**error))
        .filter_map(|error| match error {
            Error::LeaseLost { run } => Some(*run),
            _ => None,
        })
        .collect();
    if lost.is_empty() {
        return;
    }
    let gone = held.0.iter().filter(|(_, run, _)| lost.contains(run));
    worker.let_go(gone.map(|(_, run, epoch)| (*run, *epoch)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::state::StateWrites;
    use crate::history::HistoryRecord;
    use crate::run::Status;

    fn worker() -> Worker {
        Worker::new("me".to_owned(), true, std::time::Duration::from_secs(1), 1)
    }

    fn complete(run: RunId) -> WriteOp {
        WriteOp::Complete {
            run,
            position: 1,
            output: Vec::new(),
            writes: StateWrites::default(),
            history: HistoryRecord::completed_for_test("Done"),
        }
    }

    fn checkpoint(run: RunId) -> WriteOp {
        WriteOp::CommitState {
            run,
            position: 0,
            state_name: "Next",
            step: None,
            state: Vec::new(),
            writes: StateWrites::default(),
            history: HistoryRecord::committed_for_test("Next"),
            items: Vec::new(),
        }
    }

    /// A worker that takes and finishes run after run holds none of them afterwards: the map
    /// stays bounded by the runs in progress, however many it ran.
    #[test]
    fn runs_that_end_here_are_let_go_of() {
        let worker = worker();
        for n in 1..=10_000 {
            let run = RunId(n);
            leases::taken(&worker, run, 1);
            let ops = [complete(run)];
            let ops: Vec<&WriteOp> = ops.iter().collect();
            let held = before(&worker, &ops);
            after_commit(&worker, &held, &ops, &[Outcome::Done]);
            assert!(worker.held_len() <= 1);
        }
        assert_eq!(worker.held_len(), 0);
    }

    /// In one batch: completions and a checkpoint stopped by a cancel are let go of, a
    /// checkpoint that goes on is kept.
    #[test]
    fn only_the_runs_a_batch_ended_are_let_go_of() {
        let worker = worker();
        for n in 1..=3 {
            leases::taken(&worker, RunId(n), 7);
        }
        let ops = [
            complete(RunId(1)),
            checkpoint(RunId(2)),
            checkpoint(RunId(3)),
        ];
        let ops: Vec<&WriteOp> = ops.iter().collect();
        let held = before(&worker, &ops);
        let stopped = Outcome::Stopped {
            run: RunId(3),
            status: Status::Cancelled,
        };
        after_commit(
            &worker,
            &held,
            &ops,
            &[Outcome::Done, Outcome::Transitions(1), stopped],
        );
        assert_eq!(leases::held_epoch(&worker, RunId(1)), None);
        assert_eq!(leases::held_epoch(&worker, RunId(2)), Some(7));
        assert_eq!(leases::held_epoch(&worker, RunId(3)), None);
    }

    /// A refusal lets go of the lost leases it names, but not of a run this worker took again
    /// at a later epoch meanwhile.
    #[test]
    fn lost_leases_are_let_go_of_unless_taken_again() {
        let worker = worker();
        for n in 1..=3 {
            leases::taken(&worker, RunId(n), 4);
        }
        let ops = [
            checkpoint(RunId(1)),
            checkpoint(RunId(2)),
            checkpoint(RunId(3)),
        ];
        let ops: Vec<&WriteOp> = ops.iter().collect();
        let held = before(&worker, &ops);
        leases::taken(&worker, RunId(2), 6);
        let refused = WriteError::Refused {
            index: 0,
            error: Box::new(Error::LeaseLost { run: RunId(1) }),
            also: vec![(1, Box::new(Error::LeaseLost { run: RunId(2) }))],
        };
        after_refusal(&worker, &held, &refused);
        assert_eq!(leases::held_epoch(&worker, RunId(1)), None);
        assert_eq!(leases::held_epoch(&worker, RunId(2)), Some(6));
        assert_eq!(leases::held_epoch(&worker, RunId(3)), Some(4));
    }
}
