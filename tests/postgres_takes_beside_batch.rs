//! A worker picks up runs that client-only processes start even while its group committer's
//! batch in progress waits (cargo feature `postgres`): the take of handed-over runs commits
//! beside that batch, on a connection of its own, instead of queueing behind it.
//!
//! Queued behind the batch, a take waited for every batch in progress: a burst of 1,000 runs
//! started by a client reached a busy worker in takes spaced out by its batches, and the last
//! runs of the burst began tens of milliseconds after the first (`benches/postgres.rs`,
//! `throughput`). Here the batch in progress cannot end at all (another transaction holds
//! its run's row), so a take queued behind it would never come.

mod postgres_common;

use std::time::Duration;

use cairn::{Context, RunId, Runtime, Status, workflow};
use postgres_common::gate::{GATE, STEP_BEGAN, gated_step};
use postgres_common::{Store, connect, eventually, sql};

async fn quick_step(n: u64) -> Result<u64, String> {
    Ok(n * 2)
}

#[workflow]
async fn gated(ctx: &mut Context, n: u64) -> Result<u64, String> {
    ctx.task(gated_step, n).await
}

#[workflow]
async fn quick(ctx: &mut Context, n: u64) -> Result<u64, String> {
    ctx.task(quick_step, n).await
}

/// The worker that owns `run`, if any.
fn owner(store: &Store, run: RunId) -> String {
    sql(
        store,
        &format!("SELECT coalesce(owner, '') FROM runs WHERE id = {}", run.0),
    )
}

/// How many of the server's sessions wait for a lock on `store`'s `runs` rows: the worker's
/// commit, once the test holds its run's row.
fn commits_waiting_for_a_row(store: &Store) -> u64 {
    sql(
        store,
        "SELECT count(*) FROM pg_stat_activity
         WHERE wait_event_type = 'Lock' AND datname = current_database()
           AND query ILIKE '%runs%' AND pid <> pg_backend_pid()",
    )
    .parse()
    .expect("a count")
}

#[test]
fn a_run_handed_over_is_taken_while_the_workers_batch_waits() {
    let store = Store::fresh(Duration::from_secs(60));
    postgres_common::show_warnings();
    let tokio = postgres_common::tokio_runtime();
    tokio.block_on(async {
        let worker = Runtime::builder()
            .postgres(store.options().worker_id("the-worker"))
            .register(gated)
            .register(quick)
            .answer_poll_interval(Duration::from_millis(50))
            .start()
            .unwrap();
        let client = worker.client();
        let blocked = client.start(gated, 1).await.unwrap();
        STEP_BEGAN.notified().await;

        // Another transaction holds the row of `blocked`: the commit of its step, the batch
        // in progress of the worker's group committer, waits for it.
        let holder = connect(&store).await;
        holder.batch_execute("BEGIN").await.unwrap();
        let locked = format!(
            "SELECT 1 FROM {}.runs WHERE id = {} FOR UPDATE",
            store.schema, blocked.0
        );
        assert_eq!(holder.execute(&locked, &[]).await.unwrap(), 1);
        GATE.notify_one();
        tokio::task::block_in_place(|| {
            eventually(
                Duration::from_secs(30),
                "the step's commit to wait for the row",
                || commits_waiting_for_a_row(&store) >= 1,
            );
        });

        // A client-only process starts a run: it is handed over, and the worker takes it
        // while its batch still waits.
        let client_only = store.client(Runtime::builder().register(quick));
        let handed = client_only.start(quick, 21).await.unwrap();
        tokio::task::block_in_place(|| {
            eventually(
                Duration::from_secs(30),
                "the worker to take the run handed over while its batch waits",
                || owner(&store, handed) == "the-worker",
            );
            assert!(
                commits_waiting_for_a_row(&store) >= 1,
                "the batch was still waiting"
            );
        });
        assert_eq!(
            client.status(blocked).unwrap().status,
            Status::Pending,
            "the first step's commit has not gone through yet"
        );

        // The row let go, both runs go on to their results.
        holder.batch_execute("ROLLBACK").await.unwrap();
        let patience = Duration::from_secs(30);
        let first = tokio::time::timeout(patience, client.wait(gated, blocked));
        assert_eq!(first.await.expect("the gated run ends").unwrap(), 2);
        let second = tokio::time::timeout(patience, client_only.wait(quick, handed));
        assert_eq!(second.await.expect("the handed-over run ends").unwrap(), 42);
        worker.shutdown().await;
    });
}
