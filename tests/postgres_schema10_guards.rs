//! A PostgreSQL schema of version 10, holding a pause request for a running run, opened by
//! the current build: the migration counts the request on the run's row (`runs.rare_rows`,
//! version 11), so the run's next commit meets the pause, as before the migration.
//!
//! Why it matters: from version 11 the usual checkpoint (one statement, `one_trip.rs`) no
//! longer looks for a request in `requests`; it reads the counter on the run's row. A
//! migration that added the counter without counting the requests already stored would let
//! that checkpoint through, and the paused run would run its next step.
//!
//! The version-10 schema is the current one with version 11's DDL undone (its triggers,
//! functions and columns dropped, the version set back): versions up to 10 are the same DDL
//! in both builds. The run's worker stays up throughout, with its step held at a gate, so
//! that its next checkpoint is the one statement's (its record known, its lease held); a
//! client-only runtime opened after the downgrade migrates the schema again.

mod paused_at_gate;
mod postgres_common;

use std::time::Duration;

use cairn::{PostgresOptions, Runtime};
use paused_at_gate::{
    assert_held_once_and_no_step_after, release_until_paused, start_and_pause_in_held_step,
    three_steps,
};
use postgres_common::Store;

/// Version 11's DDL undone.
const DOWNGRADE: &str = "
DROP TRIGGER requests_counted ON requests;
DROP TRIGGER quarantine_counted ON quarantine;
DROP TRIGGER migrated_counted ON migrated;
DROP TRIGGER queue_runs_counted ON queue_runs;
DROP TRIGGER children_counted ON children;
DROP FUNCTION rare_rows_counted(), queue_slot_counted(), parent_counted();
ALTER TABLE runs DROP COLUMN rare_rows, DROP COLUMN end_ties;
UPDATE meta SET value = 10 WHERE key = 'schema_version';
";

fn options(store: &Store) -> PostgresOptions {
    PostgresOptions::new(store.url.clone()).schema(store.schema.clone())
}

#[test]
fn a_request_stored_before_version_11_is_counted_by_its_migration() {
    let store = Store::fresh(Duration::from_secs(60));
    let schema = &store.schema;
    let tokio = postgres_common::tokio_runtime();
    tokio.block_on(async {
        let worker = Runtime::builder()
            .postgres(options(&store))
            .register(three_steps)
            .start()
            .unwrap();
        let client = worker.client();
        let run = start_and_pause_in_held_step(&client).await;

        let db = postgres_common::connect(&store).await;
        let count = |sql: String| {
            let db = &db;
            async move { db.query_one(&sql, &[]).await.unwrap().get::<_, i64>(0) }
        };
        let requests = format!("SELECT count(*) FROM {schema}.requests");
        assert_eq!(
            count(requests.clone()).await,
            1,
            "the pause waits for a commit"
        );
        db.batch_execute(&format!(
            "SET search_path = {schema}; {DOWNGRADE} RESET search_path"
        ))
        .await
        .unwrap();

        // Opened by the current build: migrated to version 11, the request counted.
        let opener = Runtime::builder()
            .postgres(options(&store))
            .register(three_steps)
            .client_only()
            .start()
            .unwrap();
        let version = format!("SELECT value FROM {schema}.meta WHERE key = 'schema_version'");
        assert!(count(version).await >= 11, "migrated");
        let counted = format!("SELECT rare_rows::bigint FROM {schema}.runs WHERE id = {run}");
        assert_eq!(count(counted).await, 1, "the stored request, counted");

        // The held step ends: its commit meets the pause.
        release_until_paused(&client, run).await;
        assert_eq!(count(requests).await, 0, "the request, applied");
        assert_eq!(
            client.status(run).unwrap().transitions,
            2,
            "the held step's result kept"
        );
        worker.shutdown().await;
        opener.shutdown().await;
        assert_held_once_and_no_step_after();
    });
}
