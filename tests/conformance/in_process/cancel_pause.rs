//! Cancel, pause and unpause in one process: the typed errors (unknown run, finished run, not
//! paused), idempotence, what `wait` returns for a cancelled run, and what a pause does to a
//! running run, a sleeping one (its wake-up kept for after unpause) and one waiting for a
//! person (answered while paused, the answer taken after unpause). Time is a test clock. The
//! same operations from another process, with restarts, are in `processes/cancel_processes.rs`.

use std::time::Duration;

use cairn::{Answer, Context, Error, Question, RunId, Runtime, Status, TestClock, workflow};

use super::support;
use super::{Backend, BackendUnderTest, fresh_store};
use support::ran;

async fn add(x: u64) -> Result<u64, String> {
    ran(format!("add {x}"));
    Ok(x + 1)
}

/// Released by the test while the run is inside the step.
static GATE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(0);
static ENTERED: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(0);

async fn held(x: u64) -> Result<u64, String> {
    ENTERED.add_permits(1);
    GATE.acquire().await.expect("gate").forget();
    ran(format!("held {x}"));
    Ok(x * 10)
}

#[workflow]
async fn quick(ctx: &mut Context, x: u64) -> Result<u64, String> {
    let a = ctx.task(add, x).await?;
    Ok(a)
}

#[workflow]
async fn gated(ctx: &mut Context, x: u64) -> Result<u64, String> {
    let a = ctx.task(add, x).await?;
    let b = ctx.task(held, a).await?;
    let c = ctx.task(add, b).await?;
    Ok(c)
}

#[workflow]
async fn gated_first(ctx: &mut Context, x: u64) -> Result<u64, String> {
    let a = ctx.task(held, x).await?;
    let b = ctx.task(add, a).await?;
    Ok(b)
}

#[workflow]
async fn napping(ctx: &mut Context, x: u64) -> Result<u64, String> {
    let a = ctx.task(add, x).await?;
    ctx.sleep(Duration::from_secs(60)).await?;
    let b = ctx.task(add, a).await?;
    Ok(b)
}

#[workflow]
async fn asking(ctx: &mut Context, x: u64) -> Result<u64, String> {
    let a = ctx.task(add, x).await?;
    let answer = ctx.wait_for_user(Question::approval("go on?")).await?;
    if !answer.is_approved() {
        return Ok(0);
    }
    let b = ctx.task(add, a).await?;
    Ok(b)
}

fn start(store: &BackendUnderTest, clock: &TestClock) -> Runtime {
    store
        .runtime()
        .register(quick)
        .register(gated)
        .register(gated_first)
        .register(napping)
        .register(asking)
        .clock(clock.clone())
        .answer_poll_interval(Duration::from_millis(5))
        .start()
        .unwrap()
}

/// Waits until no run of the runtime has a task.
async fn until_no_task(runtime: &Runtime) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while runtime.live_runs() > 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the run's task ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_pause_and_unpause_refuse_with_typed_errors_and_cancel_is_idempotent() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = start(&store, &clock);
    let client = runtime.client();
    let unknown = RunId(99);
    assert!(
        matches!(client.cancel(unknown).await, Err(Error::UnknownRun { run }) if run == unknown)
    );
    assert!(matches!(
        client.pause(unknown).await,
        Err(Error::UnknownRun { .. })
    ));
    assert!(matches!(
        client.unpause(unknown).await,
        Err(Error::UnknownRun { .. })
    ));

    let done = client.start(quick, 1).await.unwrap();
    assert_eq!(client.wait(quick, done).await.unwrap(), 2);
    let error = client.cancel(done).await.unwrap_err();
    assert!(
        matches!(error, Error::NotCancellable { run, status: Status::Completed } if run == done),
        "{error:?}"
    );
    assert!(error.to_string().contains("completed"), "{error}");
    assert!(matches!(
        client.pause(done).await,
        Err(Error::NotPausable {
            status: Status::Completed,
            ..
        })
    ));
    assert!(matches!(
        client.unpause(done).await,
        Err(Error::NotPaused {
            status: Status::Completed,
            ..
        })
    ));

    let asleep = client.start(napping, 1).await.unwrap();
    client
        .wait_for_status(asleep, Status::Waiting)
        .await
        .unwrap();
    until_no_task(&runtime).await;
    client.cancel(asleep).await.unwrap();
    client.cancel(asleep).await.unwrap();
    assert_eq!(client.status(asleep).unwrap().status, Status::Cancelled);
    assert!(Status::Cancelled.is_finished());
    assert!(
        matches!(client.wait(napping, asleep).await, Err(Error::Cancelled { run }) if run == asleep)
    );
    assert!(matches!(
        client.result(napping, asleep),
        Err(Error::Cancelled { .. })
    ));
    assert!(matches!(
        client.wait_json(asleep).await,
        Err(Error::Cancelled { .. })
    ));
    assert!(matches!(
        client.pause(asleep).await,
        Err(Error::NotPausable {
            status: Status::Cancelled,
            ..
        })
    ));
    let listed = client.list(Some(Status::Cancelled)).unwrap();
    assert_eq!(listed.iter().map(|r| r.id).collect::<Vec<_>>(), [asleep]);
    assert_eq!(runtime.sleeping_runs(), 0);
    // Its time comes: nothing runs.
    clock.advance(Duration::from_secs(61));
    assert_eq!(client.status(asleep).unwrap().status, Status::Cancelled);
    // A cancelled run is finished: it can be purged.
    client.purge_run(asleep).await.unwrap();
    runtime.shutdown().await;
    let steps = support::take_step_counts();
    assert_eq!(steps.get("add 1"), Some(&2), "{steps:?}");
    assert_eq!(steps.get("add 2"), None, "{steps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_run_paused_commits_its_step_then_holds_until_unpaused() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = start(&store, &clock);
    let client = runtime.client();
    let run = client.start(gated, 1).await.unwrap();
    ENTERED.acquire().await.unwrap().forget();
    client.pause(run).await.unwrap();
    client.pause(run).await.unwrap();
    // Asked, not applied: the step is in flight.
    assert_eq!(client.status(run).unwrap().status, Status::Running);
    GATE.add_permits(1);
    let paused = client.wait_for_status(run, Status::Paused).await.unwrap();
    assert_eq!(paused.status, Status::Paused);
    // The step's result was committed; the next step did not start.
    assert_eq!(paused.transitions, 2);
    until_no_task(&runtime).await;
    let steps = support::take_step_counts();
    assert_eq!(steps.get("add 1"), Some(&1), "{steps:?}");
    assert_eq!(steps.get("held 2"), Some(&1), "{steps:?}");
    assert_eq!(steps.get("add 20"), None, "{steps:?}");

    client.unpause(run).await.unwrap();
    assert_eq!(client.wait(gated, run).await.unwrap(), 21);
    let steps = support::take_step_counts();
    assert_eq!(steps.get("held 2"), None, "{steps:?}");
    assert_eq!(steps.get("add 20"), Some(&1), "{steps:?}");

    // A pending run (its first step in flight) is paused at once; that step commits, then
    // the run holds.
    let pending = client.start(gated_first, 5).await.unwrap();
    ENTERED.acquire().await.unwrap().forget();
    client.pause(pending).await.unwrap();
    assert_eq!(client.status(pending).unwrap().status, Status::Paused);
    GATE.add_permits(1);
    until_no_task(&runtime).await;
    let held = client.status(pending).unwrap();
    assert_eq!((held.status, held.transitions), (Status::Paused, 1));
    client.unpause(pending).await.unwrap();
    assert_eq!(client.wait(gated_first, pending).await.unwrap(), 51);

    // A pause withdrawn before the commit it waited for: the run goes on as if not paused.
    let again = client.start(gated, 2).await.unwrap();
    ENTERED.acquire().await.unwrap().forget();
    client.pause(again).await.unwrap();
    client.unpause(again).await.unwrap();
    GATE.add_permits(1);
    assert_eq!(client.wait(gated, again).await.unwrap(), 31);
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_sleeping_run_keeps_its_wake_up_for_after_unpause() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = start(&store, &clock);
    let client = runtime.client();
    let run = client.start(napping, 1).await.unwrap();
    client.wait_for_status(run, Status::Waiting).await.unwrap();
    until_no_task(&runtime).await;
    client.pause(run).await.unwrap();
    assert_eq!(client.status(run).unwrap().status, Status::Paused);
    assert_eq!(runtime.sleeping_runs(), 0);
    // Unpaused before its wake-up: it sleeps again, until the same time.
    clock.advance(Duration::from_secs(30));
    client.unpause(run).await.unwrap();
    client.wait_for_status(run, Status::Waiting).await.unwrap();
    until_no_task(&runtime).await;
    assert_eq!(runtime.sleeping_runs(), 1);
    // Paused again past its wake-up: it does not wake while paused...
    client.pause(run).await.unwrap();
    clock.advance(Duration::from_secs(31));
    assert_eq!(client.status(run).unwrap().status, Status::Paused);
    // ...and goes on at once when unpaused.
    client.unpause(run).await.unwrap();
    assert_eq!(client.wait(napping, run).await.unwrap(), 3);
    runtime.shutdown().await;
    let steps = support::take_step_counts();
    assert_eq!(steps.get("add 1"), Some(&1), "{steps:?}");
    assert_eq!(steps.get("add 2"), Some(&1), "{steps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_run_can_be_answered_and_takes_the_answer_after_unpause() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = start(&store, &clock);
    let client = runtime.client();
    let run = client.start(asking, 1).await.unwrap();
    client.wait_for_status(run, Status::Waiting).await.unwrap();
    until_no_task(&runtime).await;
    client.pause(run).await.unwrap();
    assert_eq!(runtime.waiting_for_answers(), 1);
    // Still listed for a person, and answered while paused: the run does not go on.
    assert_eq!(client.pending_questions().unwrap().len(), 1);
    client.answer(run, Answer::Approved).await.unwrap();
    assert!(client.pending_questions().unwrap().is_empty());
    assert_eq!(client.status(run).unwrap().status, Status::Paused);
    assert_eq!(runtime.live_runs(), 0);
    client.unpause(run).await.unwrap();
    assert_eq!(client.wait(asking, run).await.unwrap(), 3);
    runtime.shutdown().await;
    let steps = support::take_step_counts();
    assert_eq!(steps.get("add 1"), Some(&1), "{steps:?}");
    assert_eq!(steps.get("add 2"), Some(&1), "{steps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_and_cancelled_runs_stay_so_through_a_restart_with_the_index_check() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = start(&store, &clock);
    let client = runtime.client();
    let asleep = client.start(napping, 1).await.unwrap();
    let asking_run = client.start(asking, 1).await.unwrap();
    client
        .wait_for_status(asleep, Status::Waiting)
        .await
        .unwrap();
    client
        .wait_for_status(asking_run, Status::Waiting)
        .await
        .unwrap();
    until_no_task(&runtime).await;
    client.pause(asleep).await.unwrap();
    client.cancel(asking_run).await.unwrap();
    runtime.shutdown().await;

    // The start-up check of the indexes runs (few runs stored) and finds nothing to repair:
    // a paused run is in no index, a cancelled one is finished.
    let runtime = start(&store, &clock);
    let client = runtime.client();
    assert_eq!(client.status(asleep).unwrap().status, Status::Paused);
    assert_eq!(client.status(asking_run).unwrap().status, Status::Cancelled);
    assert_eq!(runtime.live_runs(), 0);
    assert_eq!(runtime.sleeping_runs(), 0);
    assert_eq!(runtime.waiting_for_answers(), 0);
    assert!(client.pending_questions().unwrap().is_empty());
    clock.advance(Duration::from_secs(61));
    client.unpause(asleep).await.unwrap();
    assert_eq!(client.wait(napping, asleep).await.unwrap(), 3);
    runtime.shutdown().await;
    let steps = support::take_step_counts();
    assert_eq!(steps.get("add 1"), Some(&2), "{steps:?}");
    assert_eq!(steps.get("add 2"), Some(&1), "{steps:?}");
}
