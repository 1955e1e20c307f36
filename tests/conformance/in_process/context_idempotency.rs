//! Idempotency keys: the same when a step runs again (after a failure and `client.resume`,
//! after a halt and restart, across retries), different at every other await, loop
//! iterations and `parallel` branches included.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use cairn::{Context, Error, Flow, step, workflow};

use super::support;
use super::{Backend, fresh_store};

/// Every key a step was called with, in call order.
static KEYS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static FAIL_ONCE: AtomicBool = AtomicBool::new(false);

async fn charge(key: String, amount: u64) -> Result<u64, String> {
    KEYS.lock().unwrap().push(key);
    if amount == 2 && FAIL_ONCE.swap(false, Ordering::SeqCst) {
        return Err("network down".to_owned());
    }
    Ok(amount)
}

#[workflow]
async fn payments(ctx: &mut Context, amounts: Vec<u64>) -> Result<u64, String> {
    let mut total = 0;
    for amount in amounts {
        let key = ctx.idempotency_key();
        total += ctx.task(charge, key, amount).await?;
    }
    let (a, b) = ctx
        .parallel((
            step("x", charge(ctx.branch_key(0), 10)),
            step("y", charge(ctx.branch_key(1), 20)),
        ))
        .await?;
    Ok(total + a + b)
}

fn take_keys() -> Vec<String> {
    std::mem::take(&mut *KEYS.lock().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_stable_across_reruns_and_distinct_across_awaits() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let runtime = store.runtime().register(payments).start().unwrap();
    let client = runtime.client();
    take_keys();

    // Uninterrupted: five distinct keys.
    let run = client.start(payments, vec![1, 2, 3]).await.unwrap();
    assert_eq!(client.wait(payments, run).await.unwrap(), 36);
    let keys = take_keys();
    assert_eq!(keys.len(), 5);
    assert_eq!(keys.iter().collect::<BTreeSet<_>>().len(), 5, "{keys:?}");
    assert!(
        keys[3].ends_with("-3-0") && keys[4].ends_with("-3-1"),
        "{keys:?}"
    );

    // The second charge fails; resumed, it runs again with the same key.
    FAIL_ONCE.store(true, Ordering::SeqCst);
    let run = client.start(payments, vec![1, 2, 3]).await.unwrap();
    assert!(matches!(
        client.wait(payments, run).await,
        Err(Error::RunFailed { .. })
    ));
    let failed = take_keys();
    client.resume(run).await.unwrap();
    assert_eq!(client.wait(payments, run).await.unwrap(), 36);
    let resumed = take_keys();
    assert_eq!(failed.len(), 2);
    assert_eq!(resumed[0], failed[1], "the re-run step has the same key");
    assert_eq!(resumed.len(), 4);
    // Another run has other keys.
    assert!(failed.iter().all(|k| !keys.contains(k)));
    runtime.shutdown().await;

    // Another data directory has other keys for the same run id and position.
    let other = fresh_store();
    let runtime = other
        .runtime()
        .register(payments)
        .on_transition(|_| Flow::Halt)
        .start()
        .unwrap();
    let run = runtime.client().start(payments, vec![1]).await.unwrap();
    assert!(runtime.client().wait(payments, run).await.is_err());
    runtime.shutdown().await;
    let elsewhere = take_keys();
    assert_eq!(run, cairn::RunId(1));
    assert_ne!(elsewhere[0], keys[0]);
    assert_eq!(
        elsewhere[0].split_once('-').unwrap().1,
        keys[0].split_once('-').unwrap().1
    );
}
