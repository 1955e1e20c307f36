//! A worker's claim of waiting runs is a HOT update on PostgreSQL (cargo feature `postgres`):
//! the row's new version stays on its page and no index gets a new entry, because no index
//! covers the `owner` a claim sets.
//!
//! Schema version 12 dropped the one index that did (`runs_by_owner`, used by no statement):
//! with it, every claim, take-over and release of a run was a non-HOT update with a new
//! entry in each of the table's indexes, 5.7-6.0 ms for 1,000 claims against 1.1-1.4 ms
//! without (runs-like rows with cairn's indexes). Here 40 runs started by a client-only
//! process are claimed by a worker whose steps wait at a gate, so that the claims are the
//! only updates of their rows; the server's own counters (`pg_stat_user_tables`) must count
//! every one of them as HOT. A schema still at version 11, with the index, loses it when a
//! build of version 12 opens it.

mod postgres_common;

use std::time::Duration;

use cairn::{Context, Runtime, workflow};
use postgres_common::{Store, eventually, sql};
use tokio::sync::Semaphore;

/// A permit per run the test lets through.
static GATE: Semaphore = Semaphore::const_new(0);

/// Waits for the test to let it through.
async fn gated_step(n: u64) -> Result<u64, String> {
    GATE.acquire().await.map_err(|e| e.to_string())?.forget();
    Ok(n + 1)
}

#[workflow]
async fn gated(ctx: &mut Context, n: u64) -> Result<u64, String> {
    ctx.task(gated_step, n).await
}

/// Updates of `runs` and how many of them were HOT, as the server has counted so far.
fn updates(store: &Store) -> (u64, u64) {
    let row = sql(
        store,
        &format!(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables
             WHERE schemaname = '{}' AND relname = 'runs'",
            store.schema
        ),
    );
    let (all, hot) = row.split_once('|').expect("two counts");
    (all.parse().expect("a count"), hot.parse().expect("a count"))
}

/// The indexes of `runs` that cover its `owner` column.
fn owner_indexes(store: &Store) -> String {
    sql(
        store,
        &format!(
            "SELECT coalesce(string_agg(indexname, ','), '') FROM pg_indexes
             WHERE schemaname = '{}' AND tablename = 'runs' AND indexdef LIKE '%owner%'",
            store.schema
        ),
    )
}

const RUNS: u64 = 40;

#[test]
fn a_claim_is_a_hot_update() {
    // Long enough that no heartbeat renews a lease (another update) during the test: the
    // first renewal comes a third of a lease after the worker starts.
    let store = Store::fresh(Duration::from_secs(600));
    postgres_common::show_warnings();
    let tokio = postgres_common::tokio_runtime();
    tokio.block_on(async {
        let client_only = store.client(Runtime::builder().register(gated));
        let runs = client_only
            .start_many(gated, (0..RUNS).collect::<Vec<_>>())
            .await
            .unwrap();
        assert_eq!(owner_indexes(&store), "", "no index covers `owner`");
        let before = tokio::task::block_in_place(|| updates(&store));

        let worker = Runtime::builder()
            .postgres(store.options())
            .register(gated)
            .start()
            .unwrap();
        tokio::task::block_in_place(|| {
            eventually(
                Duration::from_secs(30),
                "the worker to claim every run",
                || {
                    sql(
                        &store,
                        "SELECT count(*) FROM runs WHERE owner IS NOT NULL AND finished_ms IS NULL",
                    ) == RUNS.to_string()
                },
            );
            // The server publishes a backend's counts once it is idle, within seconds.
            eventually(
                Duration::from_secs(60),
                "the server to count the claims",
                || updates(&store).0 >= before.0 + RUNS,
            );
        });
        let after = tokio::task::block_in_place(|| updates(&store));
        assert_eq!(
            after.0 - before.0,
            RUNS,
            "the claims are the only updates of the runs while their steps wait"
        );
        // A new version that does not fit on its row's page is never HOT: the table's fill
        // factor leaves room for about one more version of each row, not always all of them.
        let hot = after.1 - before.1;
        assert!(hot >= RUNS * 3 / 4, "{hot} of {RUNS} claims HOT");

        GATE.add_permits(RUNS as usize);
        for (n, run) in runs.into_iter().enumerate() {
            let result =
                tokio::time::timeout(Duration::from_secs(30), client_only.wait(gated, run));
            assert_eq!(result.await.expect("the run ends").unwrap(), n as u64 + 1);
        }
        worker.shutdown().await;
    });
}

#[test]
fn a_schema_of_version_11_loses_its_owner_index() {
    let store = Store::fresh(Duration::from_secs(60));
    let tokio = postgres_common::tokio_runtime();
    tokio.block_on(async {
        drop(store.client(Runtime::builder().register(gated)));
        tokio::task::block_in_place(|| {
            sql(
                &store,
                "CREATE INDEX runs_by_owner ON runs (owner)
                     WHERE owner IS NOT NULL AND finished_ms IS NULL;
                 UPDATE meta SET value = 11 WHERE key = 'schema_version'",
            );
            assert_eq!(owner_indexes(&store), "runs_by_owner");
        });
        drop(store.client(Runtime::builder().register(gated)));
        tokio::task::block_in_place(|| {
            assert_eq!(owner_indexes(&store), "", "dropped by the migration");
            let version = sql(
                &store,
                "SELECT value FROM meta WHERE key = 'schema_version'",
            );
            assert!(
                version.parse::<i64>().unwrap() >= 12,
                "migrated to {version}"
            );
        });
    });
}
