//! Which writes are commits of a run's own task (a new state, a sleep, a question, an await
//! of an event or of children, its end): the commits that meet the run's cancel or pause
//! request ([`lifecycle::at_commit`](crate::lifecycle::at_commit)). Both backends apply
//! requests by it (`lmdb/cancel.rs`, `postgres/cancel.rs`).

use crate::run::RunId;
use crate::store::WriteOp;

/// The run whose own task commits `op`, and whether that commit ends the run; `None` for any
/// other write.
pub(crate) fn own_commit(op: &WriteOp) -> Option<(RunId, bool)> {
    match op {
        WriteOp::CommitState { run, .. }
        | WriteOp::Suspend { run, .. }
        | WriteOp::Ask { run, .. }
        | WriteOp::AwaitEvent { run, .. } => Some((*run, false)),
        WriteOp::StartChild { parent, .. } | WriteOp::AwaitChildren { parent, .. } => {
            Some((*parent, false))
        }
        WriteOp::Complete { run, .. } | WriteOp::Fail { run, .. } => Some((*run, true)),
        _ => None,
    }
}
