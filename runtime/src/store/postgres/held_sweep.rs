//! The heartbeat's sweep of a worker's held runs (the epoch at which it took each run,
//! `leases.rs`): the runs it holds with no live task here are checked against their rows, a
//! bounded batch per beat, and those it has no more use for are let go of.
//!
//! `let_go.rs` lets go of the runs that end here or whose lease a refused commit found lost,
//! at once. What it cannot see is a run this worker parked (in a sleep, a question, a wait
//! for an event or for children) and that another worker took on later, or that ended
//! elsewhere: nothing of this worker writes it again. Without this sweep, each such run
//! would stay in the map for the worker's life.
//!
//! A run is let go of when its row says the epoch held is of no use: the run is gone or
//! finished, or another worker owns it, or it is at another epoch (a lease once lost never
//! comes back to the same epoch). A run still owned here at the epoch held (parked, or
//! released by a sent event, `events::send`) is kept: a task of it may commit again at that
//! epoch. As in `let_go.rs`, only the epoch read before the check is let go of, so a take of
//! the run by this worker meanwhile is kept.

use std::collections::{HashMap, HashSet};

use super::leases::Worker;
use super::{rid, unbig};
use crate::run::RunId;

/// At most this many runs are checked per beat (one statement, an array of ids).
pub(super) const SWEEP_BATCH: usize = 4_096;

/// Where the next sweep goes on: runs are checked in id order, a batch per beat, starting
/// again from the lowest once past the highest.
#[derive(Default)]
pub(super) struct Sweep {
    after: Option<RunId>,
}

/// What a run's row says of its lease.
pub(super) struct Row {
    pub owner: Option<String>,
    pub epoch: i64,
    pub finished: bool,
}

impl Sweep {
    /// The next batch of held runs to check: those with no live task here (`live`, as
    /// stored), with the epoch held, in id order from where the last batch stopped.
    pub(super) fn next(&mut self, worker: &Worker, live: &[i64]) -> Vec<(RunId, i64)> {
        let live: HashSet<i64> = live.iter().copied().collect();
        let after = self.after;
        let mut idle = worker
            .held_idle(|run| !live.contains(&rid(run)) && after.is_none_or(|after| run > after));
        idle.sort_unstable_by_key(|(run, _)| *run);
        idle.truncate(SWEEP_BATCH);
        self.after = if idle.len() == SWEEP_BATCH {
            idle.last().map(|(run, _)| *run)
        } else {
            None
        };
        idle
    }
}

/// The runs of `checked` (each with the epoch held) to let go of, given their rows (a run
/// without a row is no longer stored): see the module doc.
pub(super) fn stale(
    worker_id: &str,
    checked: &[(RunId, i64)],
    rows: &HashMap<RunId, Row>,
) -> Vec<(RunId, i64)> {
    checked
        .iter()
        .filter(|(run, epoch)| {
            let Some(row) = rows.get(run) else {
                return true;
            };
            let of_use = !row.finished
                && row.epoch == *epoch
                && row.owner.as_deref().is_none_or(|owner| owner == worker_id);
            !of_use
        })
        .copied()
        .collect()
}

/// Checks `checked` against their rows on `client` and lets go of the stale ones.
pub(super) async fn sweep(
    client: &tokio_postgres::Client,
    worker: &Worker,
    checked: &[(RunId, i64)],
) -> Result<(), tokio_postgres::Error> {
    if checked.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = checked.iter().map(|(run, _)| rid(*run)).collect();
    let rows = client
        .query(
            "SELECT id, owner, epoch, finished_ms IS NOT NULL FROM runs WHERE id = ANY($1)",
            &[&ids],
        )
        .await?;
    let rows: HashMap<RunId, Row> = rows
        .iter()
        .map(|row| {
            let run = RunId(unbig(row.get(0)));
            let found = Row {
                owner: row.get(1),
                epoch: row.get(2),
                finished: row.get(3),
            };
            (run, found)
        })
        .collect();
    let stale = stale(&worker.id, checked, &rows);
    let count = stale.len();
    worker.let_go(stale);
    tracing::debug!(
        worker = worker.id,
        checked = checked.len(),
        let_go = count,
        held = worker.held_len(),
        "held runs swept"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(owner: Option<&str>, epoch: i64, finished: bool) -> Row {
        Row {
            owner: owner.map(str::to_owned),
            epoch,
            finished,
        }
    }

    /// Kept: a run owned here at the epoch held (parked), or released by an event at that
    /// epoch. Let go of: a run gone, finished, owned by another worker, or at a later epoch.
    #[test]
    fn only_runs_still_held_here_at_their_epoch_are_kept() {
        let checked: Vec<(RunId, i64)> = (1..=7).map(|n| (RunId(n), 3)).collect();
        let rows = HashMap::from([
            (RunId(1), row(Some("me"), 3, false)),
            (RunId(2), row(None, 3, false)),
            (RunId(3), row(Some("me"), 3, true)),
            (RunId(4), row(Some("other"), 4, false)),
            (RunId(5), row(Some("me"), 5, false)),
            (RunId(6), row(None, 4, false)),
            // Run 7 has no row: purged.
        ]);
        let stale = stale("me", &checked, &rows);
        let ids: Vec<u64> = stale.iter().map(|(run, _)| run.0).collect();
        assert_eq!(ids, [3, 4, 5, 6, 7]);
    }

    /// The sweep goes through every idle held run a batch at a time, skipping live ones, and
    /// starts again from the lowest.
    #[test]
    fn batches_cover_every_idle_run_and_wrap_around() {
        let worker = Worker::new("me".to_owned(), true, std::time::Duration::from_secs(1), 1);
        let total = SWEEP_BATCH as u64 * 2 + 10;
        for n in 1..=total {
            super::super::leases::taken(&worker, RunId(n), 1);
        }
        let live = [rid(RunId(5))];
        let mut sweep = Sweep::default();
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.extend(sweep.next(&worker, &live).into_iter().map(|(run, _)| run.0));
        }
        let expected: Vec<u64> = (1..=total).filter(|n| *n != 5).collect();
        assert_eq!(seen, expected);
        let again = sweep.next(&worker, &live);
        assert_eq!(again.first(), Some(&(RunId(1), 1)));
    }
}
