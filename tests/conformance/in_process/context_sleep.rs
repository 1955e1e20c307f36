//! Durable sleep: the wake-up time is committed, the run holds no task while it sleeps, a
//! restart during the sleep waits only for what remains and a restart after it continues at
//! once; bad durations are typed errors. Time is a test clock: nothing here sleeps for real.

use std::time::{Duration, UNIX_EPOCH};

use cairn::{Clock, Context, Error, Runtime, Status, TestClock, workflow};

use super::jump_clock::JumpClock;
use super::support;
use super::{Backend, BackendUnderTest, fresh_store};
use support::{check_restarts_with, ran};

async fn mark(what: String) -> Result<String, String> {
    ran(format!("mark {what}"));
    Ok(what)
}

#[workflow]
async fn napper(ctx: &mut Context, secs: u64) -> Result<Vec<String>, String> {
    let before = ctx.task(mark, "before".to_owned()).await?;
    ctx.sleep(Duration::from_secs(secs)).await?;
    let after = ctx.task(mark, "after".to_owned()).await?;
    Ok(vec![before, after])
}

fn expected() -> Result<Vec<String>, String> {
    Ok(vec!["before".to_owned(), "after".to_owned()])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleeping_run_resumes_from_every_stored_state() {
    // The jumping clock wakes each sleep as soon as its timer is set, so the run goes through
    // suspension and resumption without the test advancing anything.
    check_restarts_with(
        napper,
        3600,
        expected(),
        &[("mark before", 1), ("mark after", 1)],
        3,
        |builder| builder.clock(JumpClock::default()),
    )
    .await;
}

async fn start(store: &BackendUnderTest, clock: &TestClock) -> Runtime {
    store
        .runtime()
        .register(napper)
        .clock(clock.clone())
        .start()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleeping_run_holds_no_task_and_wakes_on_time() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = start(&store, &clock).await;
    let client = runtime.client();
    let run = client.start(napper, 60).await.unwrap();
    let status = client.wait_for_status(run, Status::Waiting).await.unwrap();
    assert_eq!(status.status, Status::Waiting);
    // The run's task has ended: only a timer entry is left.
    clock.wait_for_sleepers(1).await;
    assert_eq!(runtime.live_runs(), 0);
    assert_eq!(runtime.sleeping_runs(), 1);
    clock.advance(Duration::from_secs(59));
    // The timer re-arms for the same deadline; the run is still asleep.
    clock.wait_for_sleepers(1).await;
    assert_eq!(client.status(run).unwrap().status, Status::Waiting);
    clock.advance(Duration::from_secs(1));
    assert_eq!(client.wait(napper, run).await.unwrap(), expected().unwrap());
    runtime.shutdown().await;
    let steps = support::take_step_counts();
    assert_eq!(steps.values().sum::<usize>(), 2, "{steps:?}");
    let history = {
        let runtime = start(&store, &clock).await;
        let history = runtime.client().history(run).unwrap();
        runtime.shutdown().await;
        history
    };
    let sleep = history
        .iter()
        .find(|h| h.step.as_deref() == Some("sleep"))
        .unwrap();
    assert_eq!(
        sleep.ended_at().duration_since(sleep.started_at()).unwrap(),
        Duration::from_secs(60)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_during_the_sleep_waits_only_for_what_remains() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = start(&store, &clock).await;
    let run = runtime.client().start(napper, 60).await.unwrap();
    runtime
        .client()
        .wait_for_status(run, Status::Waiting)
        .await
        .unwrap();
    runtime.shutdown().await;

    clock.advance(Duration::from_secs(45));
    let runtime = start(&store, &clock).await;
    let client = runtime.client();
    assert_eq!(client.status(run).unwrap().status, Status::Waiting);
    assert_eq!(runtime.live_runs(), 0);
    clock.wait_for_sleepers(1).await;
    clock.advance(Duration::from_secs(14));
    clock.wait_for_sleepers(1).await;
    assert_eq!(client.status(run).unwrap().status, Status::Waiting);
    clock.advance(Duration::from_secs(1));
    assert_eq!(client.wait(napper, run).await.unwrap(), expected().unwrap());
    runtime.shutdown().await;
    let steps = support::take_step_counts();
    assert_eq!(steps.values().sum::<usize>(), 2, "{steps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_the_sleep_continues_at_once() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = start(&store, &clock).await;
    let run = runtime.client().start(napper, 60).await.unwrap();
    runtime
        .client()
        .wait_for_status(run, Status::Waiting)
        .await
        .unwrap();
    runtime.shutdown().await;

    clock.advance(Duration::from_secs(3600));
    let runtime = start(&store, &clock).await;
    assert_eq!(
        runtime.client().wait(napper, run).await.unwrap(),
        expected().unwrap()
    );
    runtime.shutdown().await;
    let steps = support::take_step_counts();
    assert_eq!(steps.values().sum::<usize>(), 2, "{steps:?}");
}

/// Several sleeps in a loop, each its own position; `sleep_until` a past instant is no wait.
#[workflow]
async fn ticker(ctx: &mut Context, ticks: Vec<u64>) -> Result<u64, String> {
    let mut count = 0;
    for secs in ticks {
        ctx.sleep(Duration::from_secs(secs)).await?;
        count += 1;
    }
    ctx.sleep_until(UNIX_EPOCH).await?;
    Ok(count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleeps_in_a_loop_resume_from_every_stored_state() {
    check_restarts_with(ticker, vec![5, 10, 0, 20], Ok(4), &[], 5, |builder| {
        builder.clock(JumpClock::default())
    })
    .await;
}

#[workflow]
async fn oversleeper(ctx: &mut Context, secs: u64) -> Result<(), String> {
    ctx.sleep(Duration::from_secs(secs)).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overflowing_duration_is_a_typed_error() {
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = store
        .runtime()
        .register(oversleeper)
        .clock(clock.clone())
        .start()
        .unwrap();
    let client = runtime.client();
    let run = client.start(oversleeper, u64::MAX).await.unwrap();
    match client.wait(oversleeper, run).await {
        Err(Error::RunFailed { message, .. }) => {
            assert!(message.contains("past the end of the clock"), "{message}")
        }
        other => panic!("expected a typed error, got {other:?}"),
    }
    // Nothing was stored for it, and time did not move.
    assert_eq!(runtime.sleeping_runs(), 0);
    assert_eq!(clock.now(), TestClock::default().now());
    runtime.shutdown().await;
}
