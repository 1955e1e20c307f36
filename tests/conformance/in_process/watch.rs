//! `Client::watch`: a run's live progress, one update per committed change, ending with its
//! final status. A run held at each step shows every transition; a run that commits faster
//! than the watcher reads may coalesce transitions into one update, but the history the
//! updates carry still holds every one, and the final status is never skipped. Key-value
//! changes come with the update that committed them; an unknown run is a typed error.
//! (Watching from a client-only process beside the runtime: `processes/watch_processes.rs`.)

use std::time::Duration;

use cairn::{Context, Error, HistoryOutcome, RunId, RunUpdate, Status, workflow};
use serde_json::json;
use tokio::sync::Semaphore;

use super::{Backend, fresh_store};

/// Released by `every_transition_of_a_held_run_is_an_update` (its only user), one step at a
/// time.
static GATE: Semaphore = Semaphore::const_new(0);

async fn held(n: u32) -> Result<u32, String> {
    GATE.acquire().await.map_err(|e| e.to_string())?.forget();
    Ok(n + 1)
}

#[workflow]
async fn held_steps(ctx: &mut Context, n: u32) -> Result<u32, String> {
    let a = ctx.task(held, n).await?;
    ctx.state().set("a", &a).map_err(|e| e.to_string())?;
    let b = ctx.task(held, a).await?;
    ctx.state().set("b", &b).map_err(|e| e.to_string())?;
    ctx.state().delete("a");
    let c = ctx.task(held, b).await?;
    Ok(c)
}

async fn bump(n: u32) -> Result<u32, String> {
    Ok(n + 1)
}

#[workflow]
async fn quick(ctx: &mut Context, n: u32) -> Result<u32, String> {
    let mut total = n;
    for _ in 0..20u32 {
        total = ctx.task(bump, total).await?;
    }
    Ok(total)
}

#[workflow]
async fn doomed(ctx: &mut Context, n: u32) -> Result<u32, String> {
    let a = ctx.task(bump, n).await?;
    Err(format!("gave up at {a}"))
}

/// A failure of the test rather than a hang.
const PATIENCE: Duration = Duration::from_secs(20);

async fn next(watch: &mut cairn::RunWatch) -> Option<RunUpdate> {
    tokio::time::timeout(PATIENCE, watch.next())
        .await
        .expect("an update within the patience")
        .map(|update| update.expect("no error"))
}

/// Every update until the end, checking that `next` then stays `None`.
async fn rest(watch: &mut cairn::RunWatch) -> Vec<RunUpdate> {
    let mut updates = Vec::new();
    while let Some(update) = next(watch).await {
        updates.push(update);
    }
    assert!(watch.next().await.is_none(), "nothing after the end");
    updates
}

#[tokio::test]
async fn every_transition_of_a_held_run_is_an_update() {
    let store = fresh_store();
    let runtime = store.runtime().register(held_steps).start().unwrap();
    let client = runtime.client();
    let run = client.start(held_steps, 1).await.unwrap();
    let mut watch = client.watch(run).unwrap();

    let first = next(&mut watch).await.unwrap();
    assert_eq!(
        (first.status, first.state.as_str(), first.transitions),
        (Status::Pending, "Start", 0)
    );
    assert!(first.history.is_empty() && first.changed.is_empty() && !first.is_final());

    GATE.add_permits(1);
    let one = next(&mut watch).await.unwrap();
    assert_eq!((one.status, one.transitions), (Status::Running, 1));
    assert_eq!(one.step.as_deref(), Some("held"));
    assert_eq!(one.history.len(), 1);
    assert_eq!(one.history[0].number, 1);
    assert!(one.changed.is_empty(), "`a` is set after this commit");

    GATE.add_permits(1);
    let two = next(&mut watch).await.unwrap();
    assert_eq!(two.transitions, 2);
    assert_eq!(two.history.len(), 1);
    // `a` was set in the segment the second commit ended: committed with it.
    assert_eq!(
        two.changed.into_iter().collect::<Vec<_>>(),
        [("a".to_owned(), json!(2))]
    );

    GATE.add_permits(1);
    let tail = rest(&mut watch).await;
    let last = tail.last().unwrap();
    assert!(last.is_final());
    assert_eq!((last.status, last.transitions), (Status::Completed, 3));
    // `b` set and `a` deleted, committed with the third transition, came in one of them.
    assert!(
        tail.iter()
            .any(|u| u.removed == ["a"] && u.changed.get("b") == Some(&json!(3))),
        "{tail:?}"
    );
    let numbers: Vec<u64> = tail
        .iter()
        .flat_map(|u| u.history.iter().map(|h| h.number))
        .collect();
    assert_eq!(numbers, [3, 3], "the third transition, then the run's end");
    assert_eq!(
        tail.last().unwrap().history.last().unwrap().outcome,
        HistoryOutcome::Completed
    );
    assert_eq!(client.wait(held_steps, run).await.unwrap(), 4);
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_fast_run_may_coalesce_updates_but_its_history_is_whole_and_it_ends_completed() {
    let store = fresh_store();
    let runtime = store.runtime().register(quick).start().unwrap();
    let client = runtime.client();
    let run = client.start(quick, 0).await.unwrap();
    let mut watch = client.watch(run).unwrap();
    let updates = rest(&mut watch).await;
    let transitions: Vec<u64> = updates.iter().map(|u| u.transitions).collect();
    assert!(
        transitions.windows(2).all(|w| w[0] <= w[1]),
        "{transitions:?}"
    );
    let last = updates.last().unwrap();
    assert_eq!(last.status, Status::Completed);
    assert!(updates[..updates.len() - 1].iter().all(|u| !u.is_final()));
    // One history record per transition and one for the end, each delivered once, in order.
    let history: Vec<u64> = updates
        .iter()
        .flat_map(|u| u.history.iter().map(|h| h.number))
        .collect();
    let mut expected: Vec<u64> = (1..=last.transitions).collect();
    expected.push(last.transitions);
    assert_eq!(history, expected);
    assert_eq!(client.history(run).unwrap().len(), history.len());
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_failed_run_ends_the_watch_with_its_error() {
    let store = fresh_store();
    let runtime = store.runtime().register(doomed).start().unwrap();
    let client = runtime.client();
    let run = client.start(doomed, 1).await.unwrap();
    let mut watch = client.watch(run).unwrap();
    let updates = rest(&mut watch).await;
    let last = updates.last().unwrap();
    assert_eq!(last.status, Status::Failed);
    assert_eq!(last.error.as_deref(), Some("gave up at 2"));
    assert!(last.is_final());
    runtime.shutdown().await;
}

#[tokio::test]
async fn watching_a_finished_run_yields_it_once() {
    let store = fresh_store();
    let runtime = store.runtime().register(quick).start().unwrap();
    let client = runtime.client();
    let run = client.start(quick, 0).await.unwrap();
    client.wait(quick, run).await.unwrap();
    let mut watch = client.watch(run).unwrap();
    let updates = rest(&mut watch).await;
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(updates[0].status, Status::Completed);
    assert_eq!(
        updates[0].history.len(),
        21,
        "the whole history in the first update"
    );
    runtime.shutdown().await;
}

#[tokio::test]
async fn watching_an_unknown_run_is_a_typed_error() {
    let store = fresh_store();
    let runtime = store.runtime().register(quick).start().unwrap();
    assert!(matches!(
        runtime.client().watch(RunId(77)),
        Err(Error::UnknownRun { run: RunId(77) })
    ));
    runtime.shutdown().await;
}
