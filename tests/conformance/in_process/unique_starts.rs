//! Unique starts: `Client::start_unique(workflow, key, input)` starts at most one run per
//! workflow and key, and a later call with the same key returns that run's id, running
//! nothing again, whether the run is still going or finished. Two workflows may use the same
//! key. An empty or too long key is a typed error. Purging the run frees its key.
//! (Two processes racing on one key: `processes/unique_processes.rs`.)

use std::collections::BTreeMap;
use std::sync::Mutex;

use cairn::{Context, Error, MAX_UNIQUE_KEY_BYTES, RunFilter, Runtime, workflow};
use serde_json::json;

use super::{Backend, BackendUnderTest, fresh_store};

/// How many times the step ran for each input; each test uses inputs of its own.
static RAN: Mutex<BTreeMap<u64, u32>> = Mutex::new(BTreeMap::new());

fn times_ran(n: u64) -> u32 {
    RAN.lock().unwrap().get(&n).copied().unwrap_or(0)
}

async fn count(n: u64) -> Result<u64, String> {
    *RAN.lock().unwrap().entry(n).or_default() += 1;
    Ok(n * 2)
}

#[workflow]
async fn charge(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let doubled = ctx.task(count, n).await?;
    Ok(doubled)
}

#[workflow]
async fn refund(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let doubled = ctx.task(count, n).await?;
    Ok(doubled)
}

fn start(store: &BackendUnderTest) -> Runtime {
    store
        .runtime()
        .register(charge)
        .register(refund)
        .start()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_start_with_the_same_key_returns_the_same_run_and_runs_nothing_again() {
    let store = fresh_store();
    let runtime = start(&store);
    let client = runtime.client();
    // Two calls at once, then one after the run finished, then one through JSON.
    let (a, b) = tokio::join!(
        client.start_unique(charge, "order-1", 100),
        client.start_unique(charge, "order-1", 100),
    );
    let run = a.unwrap();
    assert_eq!(b.unwrap(), run);
    assert_eq!(client.wait(charge, run).await.unwrap(), 200);
    // The input of a later call is not looked at: the key names the run.
    assert_eq!(
        client.start_unique(charge, "order-1", 7).await.unwrap(),
        run
    );
    let json = client.start_unique_json("charge", "order-1", json!({ "n": 100 }));
    assert_eq!(json.await.unwrap(), run);
    assert_eq!(client.list(None).unwrap().len(), 1);
    assert_eq!(times_ran(100), 1);
    assert_eq!(times_ran(7), 0);
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_keys_start_different_runs_and_keys_are_per_workflow() {
    let store = fresh_store();
    let runtime = start(&store);
    let client = runtime.client();
    let one = client.start_unique(charge, "order-1", 201).await.unwrap();
    let two = client.start_unique(charge, "order-2", 202).await.unwrap();
    // The same key in another workflow is another run.
    let other = client.start_unique(refund, "order-1", 203).await.unwrap();
    assert_ne!(one, two);
    assert_ne!(one, other);
    assert_ne!(two, other);
    assert_eq!(client.wait(charge, one).await.unwrap(), 402);
    assert_eq!(client.wait(charge, two).await.unwrap(), 404);
    assert_eq!(client.wait(refund, other).await.unwrap(), 406);
    let again = client.start_unique_json("refund", "order-1", json!(203));
    assert_eq!(again.await.unwrap(), other);
    assert_eq!((times_ran(201), times_ran(202), times_ran(203)), (1, 1, 1));
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_or_too_long_key_is_a_typed_error_and_stores_nothing() {
    let store = fresh_store();
    let runtime = start(&store);
    let client = runtime.client();
    let too_long = "k".repeat(MAX_UNIQUE_KEY_BYTES + 1);
    for key in ["", too_long.as_str()] {
        match client.start_unique(charge, key, 301).await {
            Err(Error::InvalidArgument { call, reason }) => {
                assert_eq!(call, "Client::start_unique");
                assert!(reason.contains("key"), "{reason}");
            }
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
        match client.start_unique_json("charge", key, json!(301)).await {
            Err(Error::InvalidArgument { call, .. }) => {
                assert_eq!(call, "Client::start_unique_json");
            }
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }
    assert!(client.list(None).unwrap().is_empty());
    // The longest key is fine, and so is any UTF-8.
    let longest = "k".repeat(MAX_UNIQUE_KEY_BYTES);
    let run = client.start_unique(charge, &longest, 302).await.unwrap();
    assert_eq!(
        client.start_unique(charge, &longest, 302).await.unwrap(),
        run
    );
    let run = client
        .start_unique(charge, "commande-é-🦀", 303)
        .await
        .unwrap();
    assert_eq!(client.wait(charge, run).await.unwrap(), 606);
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purging_the_run_frees_its_key() {
    let store = fresh_store();
    let runtime = start(&store);
    let client = runtime.client();
    let first = client.start_unique(charge, "order-9", 400).await.unwrap();
    assert_eq!(client.wait(charge, first).await.unwrap(), 800);
    let kept = client.start_unique(refund, "order-9", 401).await.unwrap();
    assert_eq!(client.wait(refund, kept).await.unwrap(), 802);

    // One run purged by id, the key of the other workflow stays bound.
    client.purge_run(first).await.unwrap();
    let second = client.start_unique(charge, "order-9", 400).await.unwrap();
    assert_ne!(second, first);
    assert_eq!(client.wait(charge, second).await.unwrap(), 800);
    assert_eq!(times_ran(400), 2);
    assert_eq!(
        client.start_unique(refund, "order-9", 401).await.unwrap(),
        kept
    );

    // Purged by a filter, the same.
    assert_eq!(
        client
            .purge(&RunFilter::new().workflow("charge"))
            .await
            .unwrap(),
        1
    );
    let third = client.start_unique(charge, "order-9", 400).await.unwrap();
    assert!(third != first && third != second);
    assert_eq!(client.wait(charge, third).await.unwrap(), 800);
    assert_eq!(times_ran(400), 3);
    runtime.shutdown().await;
}
