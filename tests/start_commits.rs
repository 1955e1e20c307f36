//! What a runtime's start commits on LMDB: a start with the workflows as they are stored
//! commits nothing (no write transaction, so no device flush with full durability), read
//! from LMDB's last transaction id; a start with a changed workflow commits its graph.

// Only `last_txn_id` of the support is used here.
#[allow(dead_code)]
mod support;

use std::path::Path;

use cairn::{Context, Runtime, Status, Workflow, workflow};
use support::raw_store::last_txn_id;

async fn double(n: u64) -> Result<u64, String> {
    Ok(n * 2)
}

#[workflow(name = "doubler")]
async fn doubler_v1(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let doubled = ctx.task(double, n).await?;
    Ok(doubled)
}

/// Version 2 keeps `n` across the step: another state layout, another graph.
#[workflow(name = "doubler", version = 2)]
async fn doubler_v2(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let doubled = ctx.task(double, n).await?;
    Ok(doubled + n - n)
}

async fn start_and_stop(dir: &Path, v2: bool) {
    let builder = Runtime::builder().path(dir);
    let builder = if v2 {
        builder.register(doubler_v2).register_previous(doubler_v1)
    } else {
        builder.register(doubler_v1)
    };
    builder.start().unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_with_unchanged_workflows_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    start_and_stop(dir.path(), false).await;
    // A run, so that the start has something to recover too.
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(doubler_v1)
        .start()
        .unwrap();
    let client = runtime.client();
    let run = client.start(doubler_v1, 21).await.unwrap();
    assert_eq!(client.wait(doubler_v1, run).await.unwrap(), 42);
    runtime.shutdown().await;

    let before = last_txn_id(dir.path());
    start_and_stop(dir.path(), false).await;
    start_and_stop(dir.path(), false).await;
    assert_eq!(
        last_txn_id(dir.path()),
        before,
        "an unchanged start committed"
    );

    // A new version: its graph is stored (one commit), and version 1 is kept, not current.
    start_and_stop(dir.path(), true).await;
    let after_change = last_txn_id(dir.path());
    assert_eq!(after_change, before + 1);
    let client = cairn::Client::open(dir.path()).unwrap();
    let versions = client.workflows().unwrap();
    let current: Vec<(u64, bool)> = versions
        .iter()
        .map(|w| (w.code_fingerprint.unwrap_or(w.fingerprint), w.current))
        .collect();
    assert!(
        current.contains(&(doubler_v2::FINGERPRINT, true)),
        "{versions:?}"
    );
    assert!(
        current.contains(&(doubler_v1::FINGERPRINT, false)),
        "{versions:?}"
    );
    assert_eq!(client.status(run).unwrap().status, Status::Completed);
    drop(client);

    // And unchanged again after that.
    start_and_stop(dir.path(), true).await;
    assert_eq!(last_txn_id(dir.path()), after_change);
}
