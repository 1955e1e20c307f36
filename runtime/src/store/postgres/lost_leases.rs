//! Every lost lease of a refused batch at once.
//!
//! A worker paused past its lease comes back with many runs in flight whose leases other
//! workers took, and their commits share its group committer's batches with those of the
//! runs it still holds. The first commit of a lost run refuses the batch ([`Error::LeaseLost`],
//! `leases::fence`) and the whole transaction is rolled back. Were that refusal the only one
//! named, the committer would drop that op and write the batch again, once per lost run:
//! hundreds of rolled-back transactions before the runs still held commit.
//!
//! So, once a batch is refused for a lost lease, one read (in the same transaction, before
//! its rollback) finds every other op of the batch that `leases::fence` would refuse as well,
//! and the refusal names them all ([`WriteError::Refused`]'s `also`): the committer fails
//! them together and the next attempt writes the rest.
//!
//! Why a read without the row locks decides as the fence would: a lease once lost never
//! comes back to the same (owner, epoch). A row's epoch only grows, and a worker's claim
//! bumps it, so a row owned by another worker, or at another epoch than the one this worker
//! holds, stays refused; a row this worker still holds is left to the next attempt's fence,
//! under its lock. The ops checked are those the fence checks: the commits of a run's own task
//! and branch outputs. A run this same batch takes (a wake-up, a claim) has no task here yet,
//! so none of its own commits can be in the batch.

use super::leases::{self, Worker};
use super::sql::Sql;
use super::{rid, unbig};
use crate::error::Error;
use crate::run::RunId;
use crate::store::own_commit::own_commit;
use crate::store::{WriteError, WriteOp};

/// The ops of `ops` other than `refused` whose run's lease this worker has lost, by their
/// index, each with its [`Error::LeaseLost`].
pub(super) async fn lost_besides(
    sql: Sql<'_, '_>,
    worker: &Worker,
    ops: &[&WriteOp],
    refused: usize,
) -> Result<Vec<(usize, Box<Error>)>, Error> {
    if !worker.runs_here {
        return Ok(Vec::new());
    }
    let fenced: Vec<(usize, RunId)> = ops
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != refused)
        .filter_map(|(index, op)| Some((index, fenced_run(op)?)))
        .collect();
    if fenced.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<i64> = fenced.iter().map(|(_, run)| rid(*run)).collect();
    ids.sort_unstable();
    ids.dedup();
    let rows = sql
        .rows(
            "SELECT id, owner, epoch FROM runs WHERE id = ANY($1)",
            &[&ids],
        )
        .await?;
    let mut lost = std::collections::HashSet::new();
    for row in rows {
        let run = RunId(unbig(row.get(0)));
        let owner: Option<String> = row.get(1);
        let epoch: i64 = row.get(2);
        let held = leases::held_epoch(worker, run);
        if !leases::holds(worker, held, owner.as_deref(), epoch) {
            lost.insert(run);
        }
    }
    if !lost.is_empty() {
        tracing::warn!(
            runs = lost.len() + 1,
            "commits refused: the leases of these runs are held by other workers now"
        );
    }
    Ok(fenced
        .into_iter()
        .filter(|(_, run)| lost.contains(run))
        .map(|(index, run)| (index, Box::new(Error::LeaseLost { run })))
        .collect())
}

/// The run whose lease `leases::fence` checks before `op` is written, if it checks one.
fn fenced_run(op: &WriteOp) -> Option<RunId> {
    match op {
        WriteOp::CommitBranch { run, .. } => Some(*run),
        op => own_commit(op).map(|(run, _)| run),
    }
}

/// The refusal of op `index` of `ops` with `error`, naming every other lost lease of the
/// batch too when `error` is a lost lease. Called before the transaction is rolled back; if
/// the read fails, the refusal names op `index` alone, as before (the next attempt finds
/// the others).
pub(super) async fn refusal(
    sql: Sql<'_, '_>,
    worker: &Worker,
    ops: &[&WriteOp],
    index: usize,
    error: Error,
) -> WriteError {
    let also = if matches!(error, Error::LeaseLost { .. }) {
        lost_besides(sql, worker, ops, index)
            .await
            .unwrap_or_else(|read| {
                tracing::debug!(error = %read, "could not look for other lost leases");
                Vec::new()
            })
    } else {
        Vec::new()
    };
    WriteError::Refused {
        index,
        error: Box::new(error),
        also,
    }
}
