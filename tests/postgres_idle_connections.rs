//! Connections that the server closes while cairn is not using them (an administrator's
//! `pg_terminate_backend`, a pooler or a firewall dropping idle connections, the
//! `idle_session_timeout` setting) are replaced at their next use: the run that commits next
//! goes on, as if nothing happened, rather than stopping on a storage error and waiting for
//! its lease to end.
//!
//! This matters most for the group committer's connection (`postgres/committing.rs`), which no
//! task polls between writes: it must notice, before its next write, that the server closed
//! it.

mod postgres_common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cairn::{Context, PostgresOptions, Runtime, Status, workflow};
use postgres_common::{Store, eventually, sql};
use tokio::sync::Notify;

static FIRST_RAN: AtomicU64 = AtomicU64::new(0);
static SECOND_RAN: AtomicU64 = AtomicU64::new(0);
static GATE: Notify = Notify::const_new();

async fn first(n: u64) -> Result<u64, String> {
    FIRST_RAN.fetch_add(1, Ordering::SeqCst);
    Ok(n + 1)
}

/// Waits for the test to open the gate.
async fn second(n: u64) -> Result<u64, String> {
    SECOND_RAN.fetch_add(1, Ordering::SeqCst);
    GATE.notified().await;
    Ok(n + 10)
}

#[workflow]
async fn two_steps(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let a = ctx.task(first, n).await?;
    let b = ctx.task(second, a).await?;
    Ok(b)
}

/// The `application_name` of the runtime's connections: the test closes only those, not
/// those of other clients of a server named by `CAIRN_TEST_POSTGRES_URL`.
const APPLICATION: &str = "cairn_idle_connections_test";

/// `store`'s options, with every connection named [`APPLICATION`].
fn named_options(store: &Store) -> PostgresOptions {
    let url = &store.url;
    let named = if url.contains("://") {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}application_name={APPLICATION}")
    } else {
        format!("{url} application_name={APPLICATION}")
    };
    PostgresOptions::new(named)
        .schema(store.schema.clone())
        .lease(store.lease)
}

/// Terminates the runtime's connections (those named [`APPLICATION`]); their pids.
fn terminate_the_runtimes(store: &Store) -> String {
    sql(
        store,
        // Materialized, so that no plan terminates a connection before filtering it out.
        &format!(
            "WITH runtimes AS MATERIALIZED (
                 SELECT pid FROM pg_stat_activity WHERE application_name = '{APPLICATION}'
             )
             SELECT coalesce(string_agg(pid::text, ','), '') FROM runtimes
             WHERE pg_terminate_backend(pid)"
        ),
    )
}

/// How many of the connections `pids` (comma-separated) are still there.
fn still_there(store: &Store, pids: &str) -> u64 {
    sql(
        store,
        &format!("SELECT count(*) FROM pg_stat_activity WHERE pid IN ({pids})"),
    )
    .parse()
    .expect("a count")
}

#[test]
fn a_commit_after_the_server_closed_the_runtimes_idle_connections_goes_through() {
    // A lease far longer than the test's patience: a run stopped by a failed commit would be
    // taken up again only once it ends.
    let store = Store::fresh(Duration::from_secs(120));
    postgres_common::show_warnings();
    let tokio = postgres_common::tokio_runtime();
    tokio.block_on(async {
        let runtime = Runtime::builder()
            .postgres(named_options(&store))
            .register(two_steps)
            .start()
            .unwrap();
        let client = runtime.client();
        let run = client.start(two_steps, 1).await.unwrap();
        tokio::task::block_in_place(|| {
            eventually(Duration::from_secs(30), "the second step to run", || {
                SECOND_RAN.load(Ordering::SeqCst) == 1
            });
            // The first step's commit went through the committer's connection, now idle.
            let terminated = terminate_the_runtimes(&store);
            assert!(!terminated.is_empty(), "no connection to close");
            eventually(Duration::from_secs(30), "the connections to end", || {
                still_there(&store, &terminated) == 0
            });
        });
        GATE.notify_one();
        tokio::task::block_in_place(|| {
            eventually(Duration::from_secs(30), "the run to complete", || {
                client.status(run).unwrap().status.is_finished()
            });
        });
        assert_eq!(client.status(run).unwrap().status, Status::Completed);
        assert_eq!(client.result(two_steps, run).unwrap(), 12);
        assert!(runtime.stopped(run).is_none());
        assert_eq!(FIRST_RAN.load(Ordering::SeqCst), 1);
        assert_eq!(SECOND_RAN.load(Ordering::SeqCst), 1);
        runtime.shutdown().await;
    });
}
