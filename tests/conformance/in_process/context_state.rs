//! Durable per-run state: `ctx.state()` writes commit with the next transition, so a run
//! resumed from any stored state counts exactly as an uninterrupted one; the client reads the
//! state while the run is in progress and after it finished; a value read as the wrong type is
//! a typed error.

use cairn::{Context, Error, workflow};
use serde_json::json;
use tokio::sync::Semaphore;

use super::support;
use super::{Backend, fresh_store};
use support::{check_restarts, ran};

async fn double(x: u64) -> Result<u64, String> {
    ran("double");
    Ok(x * 2)
}

/// Counts `processed` of `total` in durable state with a read-modify-write after each step: a
/// write committed apart from its position would count an item twice (or not at all) after a
/// restart.
#[workflow]
async fn tally(ctx: &mut Context, items: Vec<u64>) -> Result<(u64, u64, u64, bool), String> {
    ctx.state().set("total", &(items.len() as u64))?;
    ctx.state().set("processed", &0u64)?;
    ctx.state().set("scratch", "temporary")?;
    let mut sum = 0;
    for item in items {
        let value = ctx.task(double, item).await?;
        sum += value;
        let processed: u64 = ctx.state().get("processed")?.unwrap_or(0);
        ctx.state().set("processed", &(processed + 1))?;
        ctx.state().set("sum", &sum)?;
    }
    ctx.state().delete("scratch");
    let last = ctx.task(double, 0).await?;
    let processed: u64 = ctx.state().get("processed")?.unwrap_or(0);
    let total: u64 = ctx.state().get("total")?.unwrap_or(0);
    let scratch: Option<String> = ctx.state().get("scratch")?;
    Ok((sum + last, processed, total, scratch.is_some()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_and_position_agree_after_a_restart_from_every_state() {
    let stored = check_restarts(
        tally,
        vec![1, 2, 3],
        Ok((12, 3, 3, false)),
        &[("double", 4)],
    )
    .await;
    assert_eq!(stored, 4);
}

/// Clears the state, reads a value as the wrong type.
#[workflow]
async fn clearing(ctx: &mut Context, n: u64) -> Result<Option<u64>, String> {
    ctx.state().set("a", &n)?;
    ctx.state().set("b", &n)?;
    let n = ctx.task(double, n).await?;
    ctx.state().clear();
    // Reads see the buffered clear.
    let gone: Option<u64> = ctx.state().get("a")?;
    ctx.state().set("c", &n)?;
    let _ = ctx.task(double, n).await?;
    if n == 0 {
        // Not a string: a typed error, carried out by `?` as the workflow's error.
        let _: Option<String> = ctx.state().get("c")?;
    }
    Ok(gone)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_and_typed_errors() {
    check_restarts(clearing, 5, Ok(None), &[("double", 2)]).await;
    let _serial = support::serial().await;
    let store = fresh_store();
    let runtime = store.runtime().register(clearing).start().unwrap();
    let client = runtime.client();
    let run = client.start(clearing, 5).await.unwrap();
    client.wait(clearing, run).await.unwrap();
    let state = client.state(run).unwrap();
    assert_eq!(state.to_json(), json!({ "c": 10 }));
    assert!(matches!(
        state.get::<String>("c"),
        Err(Error::StateType { ref key, .. }) if key == "c"
    ));
    assert_eq!(state.get::<u64>("missing").unwrap(), None);

    let run = client.start(clearing, 0).await.unwrap();
    let failed = client.wait(clearing, run).await;
    match failed {
        Err(Error::RunFailed { message, .. }) => {
            assert!(message.contains("not of the type asked for"), "{message}")
        }
        other => panic!("expected a failed run, got {other:?}"),
    }
    assert!(matches!(
        client.state(cairn::RunId(99)),
        Err(Error::UnknownRun { .. })
    ));
    runtime.shutdown().await;
}

static GATE: Semaphore = Semaphore::const_new(0);
static REACHED: Semaphore = Semaphore::const_new(0);

/// Waits at a gate the test opens, so the test can read the state mid-run without sleeping.
async fn gated(x: u64) -> Result<u64, String> {
    REACHED.add_permits(1);
    GATE.acquire().await.map_err(|e| e.to_string())?.forget();
    Ok(x)
}

#[workflow]
async fn progress(ctx: &mut Context, items: Vec<u64>) -> Result<u64, String> {
    ctx.state().set("total", &(items.len() as u64))?;
    let mut processed = 0u64;
    for item in items {
        let _ = ctx.task(gated, item).await?;
        processed += 1;
        ctx.state().set("processed", &processed)?;
    }
    Ok(processed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_reads_progress_while_the_run_is_in_progress() {
    let store = fresh_store();
    let runtime = store.runtime().register(progress).start().unwrap();
    let client = runtime.client();
    let run = client.start(progress, vec![1, 2, 3]).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        // The step is in flight: everything before it is committed.
        REACHED.acquire().await.unwrap().forget();
        seen.push(client.state(run).unwrap().to_json());
        GATE.add_permits(1);
    }
    assert_eq!(client.wait(progress, run).await.unwrap(), 3);
    assert_eq!(
        seen,
        [
            json!({}),
            json!({ "total": 3 }),
            json!({ "total": 3, "processed": 1 }),
        ]
    );
    let state = client.state(run).unwrap();
    assert_eq!(state.get::<u64>("processed").unwrap(), Some(3));
    assert_eq!(state.keys().collect::<Vec<_>>(), ["processed", "total"]);
    runtime.shutdown().await;
}
