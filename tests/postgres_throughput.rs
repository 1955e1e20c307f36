//! A rough measure of group commit on PostgreSQL (ignored by default; run with
//! `cargo test --test postgres_throughput -- --ignored --nocapture`): transitions per second
//! of 1,000 concurrent runs of 10 steps in one worker, whose transitions share transactions
//! (written with set-based statements, `store/postgres/batch.rs`), next to runs made one at a
//! time, where every transition is a commit of its own. The real benchmark is
//! `benches/postgres.rs`.
//!
//! The test server runs with `fsync=off`; to measure with full durability, point
//! `CAIRN_TEST_POSTGRES_URL` at a server with `fsync=on` and `synchronous_commit=on`.

mod postgres_common;

use std::time::{Duration, Instant};

use cairn::{Context, Runtime, workflow};
use postgres_common::Store;

async fn noop(n: u64) -> Result<u64, String> {
    Ok(n + 1)
}

/// Ten steps: ten transitions and a completion.
#[workflow]
async fn ten(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let mut n = n;
    for _ in 0..10u64 {
        n = ctx.task(noop, n).await?;
    }
    Ok(n)
}

/// Commits per run: ten transitions and the completion (the start is not counted).
const COMMITS_PER_RUN: f64 = 11.0;

#[test]
#[ignore = "a measurement, not a check: run it with --ignored --nocapture"]
fn concurrent_runs_share_commits() {
    let store = Store::fresh(Duration::from_secs(30));
    let tokio = postgres_common::tokio_runtime();
    tokio.block_on(async {
        let runtime = Runtime::builder()
            .postgres(store.options())
            .register(ten)
            .start()
            .unwrap();
        let client = runtime.client();
        // One run at a time: every commit waits for the previous one.
        let began = Instant::now();
        for n in 0..50 {
            client.run(ten, n).await.unwrap();
        }
        let sequential = 50.0 * COMMITS_PER_RUN / began.elapsed().as_secs_f64();
        // 1,000 at once: their commits go in batches.
        let began = Instant::now();
        let runs = client.start_many(ten, 0..1000).await.unwrap();
        for run in runs {
            client.wait(ten, run).await.unwrap();
        }
        let concurrent = 1000.0 * COMMITS_PER_RUN / began.elapsed().as_secs_f64();
        eprintln!(
            "PostgreSQL: one run at a time {sequential:.0} transitions/s; \
             1,000 concurrent runs {concurrent:.0} transitions/s ({:.1}x)",
            concurrent / sequential
        );
        runtime.shutdown().await;
    });
}
