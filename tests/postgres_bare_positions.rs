//! The usual checkpoint (one statement, `one_trip.rs`) leaves out dropping a sleep and
//! branch outputs when the worker knows the position it ends is bare
//! (`bare_position.rs`): this shows that sleeps and branch outputs are still dropped when
//! their run moves on, each await right after steps whose checkpoints made their positions
//! bare.
//!
//! What is stored is read with SQL: a leftover row changes nothing a client sees (the run
//! never comes back to a position it left), so only the tables show it.

mod postgres_common;

use std::time::Duration;

use cairn::{Context, PostgresOptions, Runtime, step, workflow};
use postgres_common::Store;

async fn add(n: u64) -> Result<u64, String> {
    Ok(n + 1)
}

#[workflow]
async fn every_kind_of_await(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let n = ctx.task(add, n).await?;
    let n = ctx.task(add, n).await?;
    ctx.sleep(Duration::from_millis(20)).await?;
    let n = ctx.task(add, n).await?;
    let (a, b) = ctx.parallel((step("a", add(n)), step("b", add(n)))).await?;
    let n = ctx.task(add, a + b).await?;
    let (c, d) = ctx.parallel((step("c", add(n)), step("d", add(n)))).await?;
    let n = ctx.task(add, c + d).await?;
    ctx.sleep(Duration::from_millis(20)).await?;
    let n = ctx.task(add, n).await?;
    Ok(n)
}

fn options(store: &Store) -> PostgresOptions {
    PostgresOptions::new(store.url.clone()).schema(store.schema.clone())
}

#[test]
fn sleeps_and_branch_outputs_are_dropped_when_their_run_moves_on() {
    let store = Store::fresh(Duration::from_secs(60));
    let schema = &store.schema;
    let tokio = postgres_common::tokio_runtime();
    tokio.block_on(async {
        let runtime = Runtime::builder()
            .postgres(options(&store))
            .register(every_kind_of_await)
            .start()
            .unwrap();
        let client = runtime.client();
        let mut runs = Vec::new();
        for n in 0..8 {
            runs.push(client.start(every_kind_of_await, n).await.unwrap());
        }
        for (n, run) in runs.iter().enumerate() {
            let n = n as u64;
            let output = client.wait(every_kind_of_await, *run).await.unwrap();
            assert_eq!(output, 4 * n + 22, "run {run}");
        }
        runtime.shutdown().await;

        let db = postgres_common::connect(&store).await;
        for table in ["sleeps", "branches", "wakeups", "active"] {
            let left: i64 = db
                .query_one(&format!("SELECT count(*) FROM {schema}.{table}"), &[])
                .await
                .unwrap()
                .get(0);
            assert_eq!(left, 0, "rows left in {table}");
        }
    });
}
