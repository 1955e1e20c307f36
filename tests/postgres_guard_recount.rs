//! A run's guard counter that disagrees with the rare tables (`runs.rare_rows`, kept by
//! triggers; here zeroed by hand, as a disabled trigger or a hand edit would leave it) is
//! counted again by the start-up check of the next worker, so that the run's next commit
//! still meets the pause waiting for it.
//!
//! The run's own worker stays up with its step held at a gate (its next checkpoint is the
//! one statement's, which reads only the counter); a second worker starting meanwhile runs
//! the check, and leaves the run to its owner (its lease is live).

mod paused_at_gate;
mod postgres_common;

use std::time::Duration;

use cairn::{PostgresOptions, Runtime};
use paused_at_gate::{
    assert_held_once_and_no_step_after, release_until_paused, start_and_pause_in_held_step,
    three_steps,
};
use postgres_common::Store;

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
        let run = start_and_pause_in_held_step(&client).await;

        let db = postgres_common::connect(&store).await;
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
        release_until_paused(&client, run).await;
        worker.shutdown().await;
        other.shutdown().await;
        assert_held_once_and_no_step_after();
    });
}
