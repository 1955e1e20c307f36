//! Fencing inside one group commit on PostgreSQL: the checkpoints of many runs share batches
//! that `store/postgres/batch.rs` writes with one statement per table, and the lease check
//! of each op is made from one locked read of all the batch's runs. A run whose lease this
//! worker lost must have its commit refused (`Error::LeaseLost`, nothing of it written) while
//! the other runs of the same batches commit.
//!
//! Forty runs stop inside a step, gated; half of their leases are then taken by hand, as a
//! worker that took them over would (owner and epoch changed in the database, through
//! `psql`); the gate opens, and the forty checkpoints arrive at once, so the group committer
//! batches refused and valid ones together. Every valid run completes with its output; every
//! taken run keeps its first checkpoint only, stays the thief's, and its task in this worker
//! stopped with `LeaseLost`.

mod gated_two_steps;
mod postgres_common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use cairn::{Error, Runtime, Status};
use gated_two_steps::{ENTERED, GATE, two_steps};
use postgres_common::{Store, eventually, sql};

const RUNS: u64 = 40;

#[test]
fn a_batch_refuses_the_commits_of_runs_whose_lease_was_lost_and_writes_the_others() {
    let store = Store::fresh(Duration::from_secs(60));
    let tokio = postgres_common::tokio_runtime();
    tokio.block_on(async {
        let runtime = Runtime::builder()
            .postgres(store.options())
            .register(two_steps)
            .start()
            .unwrap();
        let client = runtime.client();
        let runs = client.start_many(two_steps, 0..RUNS).await.unwrap();
        let entered = || ENTERED.load(Ordering::SeqCst) == RUNS;
        tokio::task::block_in_place(|| {
            eventually(
                Duration::from_secs(60),
                "every run in its gated step",
                entered,
            );
        });

        // Every other run is taken over, as another worker's claim would.
        let taken = postgres_common::take_every_other(&store, &runs, "thief");
        GATE.add_permits(RUNS as usize);

        for (n, run) in (0..RUNS).zip(&runs) {
            if taken.contains(run) {
                continue;
            }
            assert_eq!(client.wait(two_steps, *run).await.unwrap(), n * 10 + 1);
        }
        for run in &taken {
            let stopped = || runtime.stopped(*run).is_some();
            tokio::task::block_in_place(|| {
                eventually(
                    Duration::from_secs(60),
                    "the taken run's task to stop",
                    stopped,
                );
            });
            assert!(
                matches!(runtime.stopped(*run), Some(Error::LeaseLost { run: r }) if r == *run),
                "{:?}",
                runtime.stopped(*run)
            );
            // Only the first checkpoint, from before the take-over, is stored.
            let status = client.status(*run).unwrap();
            assert_eq!(status.status, Status::Running, "run {run}");
            assert_eq!(client.history(*run).unwrap().len(), 1, "run {run}");
            assert_eq!(
                sql(
                    &store,
                    &format!("SELECT owner FROM runs WHERE id = {}", run.0)
                ),
                "thief"
            );
        }
        runtime.shutdown().await;
    });
}
