//! Runs handed over by client-only processes ([`WriteOp::HandOver`](crate::store::WriteOp::HandOver)):
//! a row per run, taken (deleted and returned) by the runtime that runs the workflows.

use super::sql::Sql;
use super::{big, rid, unbig};
use crate::error::Error;
use crate::run::RunId;
use crate::store::write_op::TakenRun;

pub(super) async fn hand_over(sql: Sql<'_, '_>, run: RunId, position: u64) -> Result<(), Error> {
    sql.exec(
        "INSERT INTO handed_over (run, position) VALUES ($1, $2)
         ON CONFLICT (run) DO UPDATE SET position = EXCLUDED.position",
        &[&rid(run), &big(position)],
    )
    .await?;
    Ok(())
}

/// Takes up to `limit` runs for this worker, with their positions and records: the runs that
/// no live lease holds (left by a client-only process, or by a worker that died), claimed as
/// `leases::claim` does. A hand-over row is only the hint that such a run exists: the rows
/// this call reads are dropped, and the run is taken by whichever worker claims it. A
/// process that runs no workflow only drops the hints (it has nothing to start them with).
///
/// The inputs of the runs taken before their first transition are read too, in one statement:
/// the runtime starts such a run from its input, and reading it there would be a round trip
/// per run, one after the other on the task that takes them.
pub(super) async fn take(
    sql: Sql<'_, '_>,
    worker: &super::leases::Worker,
    limit: usize,
) -> Result<Vec<TakenRun>, Error> {
    if !worker.runs_here {
        let hints = drop_hints(sql, limit).await?;
        let hints = hints.into_iter().map(|(run, position)| TakenRun {
            run,
            position,
            record: None,
            input: None,
        });
        return Ok(hints.collect());
    }
    // As many hints as runs asked for: the rest tell the other workers that runs still wait.
    let asked = limit.min(worker.claim_size());
    drop_hints(sql, asked).await?;
    let claimed = super::leases::claim(sql, worker, 0, asked, false).await?;
    worker.claimed(asked, claimed.len());
    let unstarted: Vec<RunId> = claimed
        .iter()
        .filter(|(_, record)| record.state.is_none() && record.input.is_empty())
        .map(|(run, _)| *run)
        .collect();
    let mut inputs = if unstarted.is_empty() {
        Default::default()
    } else {
        super::inputs::get_many(sql, &unstarted).await?
    };
    let taken = claimed.into_iter().map(|(run, record)| TakenRun {
        run,
        position: record.transitions,
        input: inputs.remove(&run),
        record: Some(Box::new(record)),
    });
    Ok(taken.collect())
}

/// Deletes and returns up to `limit` hand-over rows, in run order. `SKIP LOCKED`: rows
/// another transaction is taking right now are left to it.
async fn drop_hints(sql: Sql<'_, '_>, limit: usize) -> Result<Vec<(RunId, u64)>, Error> {
    let rows = sql
        .rows(
            "DELETE FROM handed_over WHERE run IN (
                 SELECT run FROM handed_over ORDER BY run LIMIT $1 FOR UPDATE SKIP LOCKED)
             RETURNING run, position",
            &[&i64::try_from(limit).unwrap_or(i64::MAX)],
        )
        .await?;
    let mut taken: Vec<(RunId, u64)> = rows
        .iter()
        .map(|row| (RunId(unbig(row.get(0))), unbig(row.get(1))))
        .collect();
    taken.sort_unstable_by_key(|(run, _)| *run);
    Ok(taken)
}
