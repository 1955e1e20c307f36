//! A run's guard counter that disagrees with the rare tables (`runs.rare_rows`, kept by
//! triggers; here zeroed by hand, as a disabled trigger or a hand edit would leave it) is
//! counted again by the start-up check of the next worker, so that the run's next commit
//! still meets the pause waiting for it.
//!
//! The run's own worker stays up with its step held at a gate (its next checkpoint is the
//! one statement's, which reads only the counter); a second worker starting meanwhile runs
//! the check, and leaves the run to its owner (its lease is live).

mod postgres_common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cairn::{Context, PostgresOptions, Runtime, Status, workflow};
use postgres_common::Store;
use tokio::sync::Notify;

/// How many times each step ran.
static HELD: AtomicU64 = AtomicU64::new(0);
static AFTER: AtomicU64 = AtomicU64::new(0);
/// The held step is running; the held step may end.
static STARTED: Notify = Notify::const_new();
static GATE: Notify = Notify::const_new();

async fn add(n: u64) -> Result<u64, String> {
    Ok(n + 1)
}

async fn held(n: u64) -> Result<u64, String> {
    HELD.fetch_add(1, Ordering::SeqCst);
    STARTED.notify_one();
    GATE.notified().await;
    Ok(n + 1)
}

async fn after(n: u64) -> Result<u64, String> {
    AFTER.fetch_add(1, Ordering::SeqCst);
    Ok(n + 1)
}

#[workflow]
async fn three_steps(ctx: &mut Context, n: u64) -> Result<u64, String> {
    // Once this step is committed the run is running: a pause waits for its next commit.
    let n = ctx.task(add, n).await?;
    let n = ctx.task(held, n).await?;
    let n = ctx.task(after, n).await?;
    Ok(n)
}

fn options(store: &Store, worker: &str) -> PostgresOptions {
    PostgresOptions::new(store.url.clone())
        .schema(store.schema.clone())
        .worker_id(worker)
}

#[test]
fn a_guard_counter_that_disagrees_is_counted_again_at_start() {
    let store = Store::fresh(Duration::from_secs(60));
    let schema = &store.schema;
    let tokio = postgres_common::tokio_runtime();
    tokio.block_on(async {
        let worker = Runtime::builder()
            .postgres(options(&store, "owner"))
            .register(three_steps)
            .start()
            .unwrap();
        let client = worker.client();
        let run = client.start(three_steps, 1).await.unwrap();
        STARTED.notified().await;
        client.pause(run).await.unwrap();

        let (db, connection) = tokio_postgres::connect(&store.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let counted = format!("SELECT rare_rows::bigint FROM {schema}.runs WHERE id = {run}");
        let rare_rows = || {
            let (db, counted) = (&db, &counted);
            async move { db.query_one(counted, &[]).await.unwrap().get::<_, i64>(0) }
        };
        assert_eq!(rare_rows().await, 1, "the pause request, counted");
        db.execute(
            &format!("UPDATE {schema}.runs SET rare_rows = 0 WHERE id = {run}"),
            &[],
        )
        .await
        .unwrap();

        // Another worker starts: its start-up check counts again.
        let other = Runtime::builder()
            .postgres(options(&store, "other"))
            .register(three_steps)
            .start()
            .unwrap();
        assert_eq!(rare_rows().await, 1, "counted again at the start");

        // The held step ends: its commit meets the pause.
        GATE.notify_one();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let status = client.status(run).unwrap();
            if status.status == Status::Paused {
                break;
            }
            assert!(
                !status.status.is_finished() && std::time::Instant::now() < deadline,
                "run {run} not paused: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        worker.shutdown().await;
        other.shutdown().await;
        assert_eq!(HELD.load(Ordering::SeqCst), 1);
        assert_eq!(
            AFTER.load(Ordering::SeqCst),
            0,
            "a paused run runs no next step"
        );
    });
}
