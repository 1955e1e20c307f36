//! The start-up check of the index tables on PostgreSQL (`store/postgres/consistency.rs`).
//!
//! No constraint ties `active` and `wakeups` to the runs: cairn's transactions keep them in
//! step, and a hand edit, a partial restore or a bug of some version can still make them
//! disagree. Without its `active` row a pending run is never claimed; without its wake-up a
//! sleeping run never wakes; both silently. Here the tables are damaged through `psql` while
//! no worker runs: a pending run's `active` row and a sleeping run's wake-up deleted, a
//! finished run given an `active` row, a wake-up and an answered entry. A worker started
//! after that must run both unfinished runs to their end and drop the finished run's entries.
//! The counts by status are damaged too (three runs stored with the counting triggers
//! disabled, every kept count raised by five): the worker's start counts them again.

mod postgres_common;

use std::time::Duration;

use cairn::{Context, Runtime, Status, workflow};
use postgres_common::{Store, eventually, sql};

async fn echo(n: u64) -> Result<u64, String> {
    Ok(n)
}

#[workflow]
async fn quick(ctx: &mut Context, n: u64) -> Result<u64, String> {
    ctx.task(echo, n).await
}

#[workflow]
async fn nap(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let n = ctx.task(echo, n).await?;
    ctx.sleep(Duration::from_secs(2)).await?;
    ctx.task(echo, n + 1).await
}

fn entries(store: &Store, run: cairn::RunId) -> String {
    sql(
        store,
        &format!(
            "SELECT (SELECT count(*) FROM active WHERE run = {0})
                 || ' ' || (SELECT count(*) FROM wakeups WHERE run = {0})
                 || ' ' || (SELECT count(*) FROM answered WHERE run = {0})",
            run.0
        ),
    )
}

#[test]
fn a_worker_repairs_the_index_tables_at_start() {
    let store = Store::fresh(Duration::from_secs(30));
    let tokio = postgres_common::tokio_runtime();
    let worker = || {
        Runtime::builder()
            .postgres(store.options())
            .register(quick)
            .register(nap)
    };

    // A finished run, and a run asleep (its wake-up stored), left by a worker that stops.
    let (finished, asleep) = tokio.block_on(async {
        let runtime = worker().start().unwrap();
        let client = runtime.client();
        let finished = client.start(quick, 1).await.unwrap();
        assert_eq!(client.wait(quick, finished).await.unwrap(), 1);
        let asleep = client.start(nap, 10).await.unwrap();
        tokio::task::block_in_place(|| {
            eventually(Duration::from_secs(60), "the nap asleep", || {
                client.status(asleep).unwrap().status == Status::Waiting
            });
        });
        runtime.shutdown().await;
        (finished, asleep)
    });
    // A pending run, started by a client-only process: no worker has claimed it.
    let pending = tokio.block_on(async {
        let client = store.client(Runtime::builder().register(quick).register(nap));
        client.start(quick, 7).await.unwrap()
    });
    assert_eq!(entries(&store, pending), "1 0 0");
    assert_eq!(entries(&store, asleep), "0 1 0");

    sql(
        &store,
        &format!(
            "DELETE FROM active WHERE run = {pending};
             DELETE FROM wakeups WHERE run = {asleep};
             INSERT INTO active (run) VALUES ({finished});
             INSERT INTO wakeups (wake_ms, run, position) VALUES (1, {finished}, 0);
             INSERT INTO answered (run, position) VALUES ({finished}, 0);
             ALTER TABLE runs DISABLE TRIGGER USER;
             INSERT INTO runs (id, record, workflow, status, created_ms)
                 SELECT 1000 + i, record, workflow, status, created_ms
                 FROM runs, generate_series(1, 3) i WHERE id = {finished};
             ALTER TABLE runs ENABLE TRIGGER USER;
             UPDATE run_counts SET n = n + 5;",
            pending = pending.0,
            asleep = asleep.0,
            finished = finished.0,
        ),
    );

    tokio.block_on(async {
        let runtime = worker().start().unwrap();
        let client = runtime.client();
        let patience = Duration::from_secs(30);
        let pending_ran = tokio::time::timeout(patience, client.wait(quick, pending));
        assert_eq!(pending_ran.await.expect("the pending run ran").unwrap(), 7);
        let asleep_woke = tokio::time::timeout(patience, client.wait(nap, asleep));
        assert_eq!(
            asleep_woke.await.expect("the sleeping run woke").unwrap(),
            11
        );
        assert_eq!(entries(&store, finished), "0 0 0");
        assert_eq!(client.status(finished).unwrap().status, Status::Completed);
        let counts = client.count_by_status().unwrap();
        assert_eq!(
            counts.iter().collect::<Vec<_>>(),
            vec![(Status::Completed, 6)],
            "{counts:?}"
        );
        runtime.shutdown().await;
    });
}
