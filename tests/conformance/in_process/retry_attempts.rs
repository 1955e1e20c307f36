//! Durable retry attempts: a runtime stopped while a retrying step is in its backoff (its task
//! dropped, as in a crash) and started again continues the backoff where it was, at the right
//! attempt: the attempts across the stop number `max_attempts`, not more, and the wait is not
//! restarted. A failed run resumed by `client.resume` gets its attempts afresh. (The same with
//! a SIGKILLed process is in `processes/events_processes.rs`.) Time is a test clock.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use cairn::{Context, Error, RetryPolicy, Runtime, TestClock, workflow};

use super::support;
use super::{Backend, BackendUnderTest, fresh_store};
use support::ran;

/// Calls of `always_fails` that succeed instead (for the resumed run).
static SUCCEED: AtomicU32 = AtomicU32::new(0);
/// Calls of `always_fails` so far, to wait on.
static CALLS: AtomicU32 = AtomicU32::new(0);

async fn always_fails(n: u32) -> Result<u32, String> {
    ran("attempt");
    CALLS.fetch_add(1, Ordering::SeqCst);
    if SUCCEED.load(Ordering::SeqCst) > 0 {
        return Ok(n);
    }
    Err("unavailable".to_owned())
}

#[workflow]
async fn backoff(ctx: &mut Context, n: u32) -> Result<u32, String> {
    let m = ctx
        .step_fn("call", || always_fails(n))
        .retry(RetryPolicy::fixed(4, Duration::from_secs(10)))
        .await?;
    Ok(m)
}

fn start(store: &BackendUnderTest, clock: &TestClock) -> Runtime {
    store
        .runtime()
        .register(backoff)
        .clock(clock.clone())
        .start()
        .unwrap()
}

/// Waits until `always_fails` has been called `n` times in all, then until the step sleeps in
/// its backoff (the sleep of the previous backoff ended before the call).
async fn in_backoff_after(clock: &TestClock, n: u32) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while CALLS.load(Ordering::SeqCst) < n {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the attempt is made");
    clock.wait_for_sleepers(1).await;
}

fn attempts() -> usize {
    support::take_step_counts()
        .get("attempt")
        .copied()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_during_a_backoff_continues_at_the_right_attempt() {
    let _serial = support::serial().await;
    SUCCEED.store(0, Ordering::SeqCst);
    CALLS.store(0, Ordering::SeqCst);
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = start(&store, &clock);
    let run = runtime.client().start(backoff, 1).await.unwrap();
    // Attempt 1 failed; the backoff before attempt 2 is committed, then slept.
    in_backoff_after(&clock, 1).await;
    clock.advance(Duration::from_secs(10));
    // Attempt 2 failed; in the backoff before attempt 3.
    in_backoff_after(&clock, 2).await;
    assert_eq!(attempts(), 2);
    runtime.shutdown().await;

    // 4 s into the 10 s backoff: the restarted run waits the 6 s left, then makes attempt 3.
    clock.advance(Duration::from_secs(4));
    let runtime = start(&store, &clock);
    clock.wait_for_sleepers(1).await;
    assert_eq!(attempts(), 0, "no attempt before the backoff ends");
    clock.advance(Duration::from_secs(5));
    clock.wait_for_sleepers(1).await;
    assert_eq!(
        attempts(),
        0,
        "the backoff was not restarted, nor shortened"
    );
    clock.advance(Duration::from_secs(1));
    // Attempt 3 fails; after another backoff attempt 4, the last, fails the run.
    in_backoff_after(&clock, 3).await;
    clock.advance(Duration::from_secs(10));
    let client = runtime.client();
    match client.wait(backoff, run).await {
        Err(Error::RunFailed { message, .. }) => assert_eq!(message, "unavailable"),
        other => panic!("expected the run to fail, got {other:?}"),
    }
    assert_eq!(attempts(), 2, "attempts 3 and 4: max_attempts in all");
    let history = client.history(run).unwrap();
    assert_eq!(history.last().unwrap().attempts, 4);

    // Resumed, the step starts from its first attempt again.
    SUCCEED.store(1, Ordering::SeqCst);
    client.resume(run).await.unwrap();
    assert_eq!(client.wait(backoff, run).await.unwrap(), 1);
    assert_eq!(attempts(), 1);
    runtime.shutdown().await;
    SUCCEED.store(0, Ordering::SeqCst);
}
