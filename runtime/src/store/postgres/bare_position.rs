//! Bare positions: which runs the one statement (`one_trip.rs`) may checkpoint without the
//! sub-statements that drop a sleep and branch outputs.
//!
//! A checkpoint that ends the await at position `p` drops the run's sleep at `p` (waking the
//! run, dropping its wake-up) and its branch outputs at `p`. In a lone step those four
//! sub-statements find nothing, yet each opens its relation and index at every execution:
//! most of what the one statement costs the server beyond a raw `UPDATE`.
//!
//! Rows at `p` are written only while the run is at `p`, by the ops of its own task
//! ([`WriteOp::Suspend`] and [`WriteOp::AwaitEvent`] a sleep, [`WriteOp::CommitBranch`] an
//! output), under the lease of the worker that runs it. So when the one statement moved a
//! run to `p` (a position it had never been at) at epoch `e`, nothing but its record is
//! stored at `p` until:
//!
//! - this worker writes another op naming the run: [`Known::not_bare`] is called with every
//!   batch the one statement does not take, before it is written, and forgets the bare
//!   position of each run that [`named_run`] names (any op that names a run, whatever it
//!   writes, so that a new op that writes at a position is covered without a decision here);
//! - or another worker takes the run over: its epoch is then newer than `e`, and so is this
//!   worker's if it takes the run back (the bare position holds only at `e`, compared with
//!   the epoch held at the checkpoint). A run taken or loaded is known without a bare
//!   position.
//!
//! A run whose position is not known to be bare is checkpointed with the four
//! sub-statements, as before; the next checkpoint of the one statement makes it bare again.
//!
//! [`Known::not_bare`]: super::one_trip::Known::not_bare

use crate::run::RunId;
use crate::store::WriteOp;

/// The run an op writes to, if it names one. The match lists every op, so that a new op is
/// placed here by its author.
pub(super) fn named_run(op: &WriteOp) -> Option<RunId> {
    match op {
        WriteOp::Wake { run, .. }
        | WriteOp::CommitState { run, .. }
        | WriteOp::Complete { run, .. }
        | WriteOp::Fail { run, .. }
        | WriteOp::Suspend { run, .. }
        | WriteOp::CommitBranch { run, .. }
        | WriteOp::Ask { run, .. }
        | WriteOp::Answer { run, .. }
        | WriteOp::Claim { run }
        | WriteOp::Reopen { run }
        | WriteOp::HandOver { run, .. }
        | WriteOp::Quarantine { run, .. }
        | WriteOp::Release { run }
        | WriteOp::FailQuarantined { run, .. }
        | WriteOp::Purge { run }
        | WriteOp::Cancel { run }
        | WriteOp::Pause { run }
        | WriteOp::Unpause { run }
        | WriteOp::SendEvent { run, .. }
        | WriteOp::AwaitEvent { run, .. }
        | WriteOp::RecordAttempts { run, .. }
        | WriteOp::MigrateRun { run, .. } => Some(*run),
        WriteOp::StartChild { parent, .. } | WriteOp::AwaitChildren { parent, .. } => Some(*parent),
        // Runs created or admitted here, or runs taken: none of them is known with a bare
        // position (a run taken or loaded is known without one).
        WriteOp::CreateRun { .. }
        | WriteOp::CreateRuns { .. }
        | WriteOp::CreateUnique { .. }
        | WriteOp::ScheduleTick { .. }
        | WriteOp::CreateWithPriority { .. }
        | WriteOp::RegisterQueues { .. }
        | WriteOp::PumpQueues { .. }
        | WriteOp::CreateInSession { .. }
        | WriteOp::TakeHandedOver { .. }
        | WriteOp::SettleRequests
        | WriteOp::PurgeFinished { .. }
        | WriteOp::RegisterWorkflows { .. } => None,
    }
}
