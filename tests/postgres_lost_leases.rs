//! Many lost leases in one group commit cost one refused transaction, not one each, on
//! PostgreSQL.
//!
//! A worker paused past its lease (a GC pause, a stopped VM, a partition) comes back with
//! many runs in flight whose leases other workers took. Their commits arrive together and
//! share the group committer's batches with the commits of the runs it still holds. Each
//! lost run's op is refused (`Error::LeaseLost`) and the batch rolled back; if a refusal named
//! only one op, the batch would be written again once per lost run: with hundreds of lost
//! runs, hundreds of rolled-back transactions before the runs still held could commit.
//!
//! Here 120 runs stop inside a gated step; the leases of 60 of them are taken by hand, as
//! other workers' claims would (owner and epoch changed through `psql`); the gate opens. The
//! test counts the transactions the server rolled back meanwhile (`pg_stat_database`, read
//! once every connection of the runtime has closed, since a backend's counts reach it by its
//! exit at the latest): one per refused batch, plus one per failed one-statement attempt
//! (`one_trip.rs`) before it. Each of the 60 refused runs costing a transaction would make
//! at least 60.

mod gated_two_steps;
mod postgres_common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use cairn::{Error, Runtime, Status};
use gated_two_steps::{ENTERED, GATE, two_steps};
use postgres_common::{Store, eventually, sql};

const RUNS: u64 = 120;

/// Transactions rolled back in the store's database so far, as the server counts them.
fn rollbacks(store: &Store) -> u64 {
    sql(
        store,
        "SELECT xact_rollback FROM pg_stat_database WHERE datname = current_database()",
    )
    .parse()
    .unwrap()
}

/// Connections to the store's database other than this `psql`'s.
fn other_backends(store: &Store) -> u64 {
    sql(
        store,
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .parse()
    .unwrap()
}

#[test]
fn one_refusal_names_every_lost_lease_of_a_batch() {
    let store = Store::fresh(Duration::from_secs(60));
    let tokio = postgres_common::tokio_runtime();
    // Read before the runtime connects: what its connections roll back reaches the count at
    // their exit at the latest, so the difference at the end is exactly theirs.
    let before = rollbacks(&store);
    let (rolled_back, took) = tokio.block_on(async {
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

        let taken = postgres_common::take_every_other(&store, &runs, "other worker");
        let opened = Instant::now();
        GATE.add_permits(RUNS as usize);

        for (n, run) in (0..RUNS).zip(&runs) {
            if taken.contains(run) {
                continue;
            }
            assert_eq!(client.wait(two_steps, *run).await.unwrap(), n * 10 + 1);
        }
        let took = opened.elapsed();
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
            let status = client.status(*run).unwrap();
            assert_eq!(status.status, Status::Running, "run {run}");
            assert_eq!(client.history(*run).unwrap().len(), 1, "run {run}");
        }
        runtime.shutdown().await;
        drop(client);
        tokio::task::block_in_place(|| {
            eventually(
                Duration::from_secs(60),
                "the runtime's connections to close",
                || other_backends(&store) == 0,
            );
        });
        (rollbacks(&store) - before, took)
    });
    eprintln!(
        "{} lost leases among {RUNS} runs: {rolled_back} transactions rolled back; \
         the held runs completed in {took:?}",
        RUNS / 2
    );
    assert!(
        rolled_back < RUNS / 8,
        "{rolled_back} transactions rolled back for {} lost leases",
        RUNS / 2
    );
}
