//! Retries and timeouts: a retried step succeeds after transient failures, an error marked not
//! retryable fails at once, a hung attempt times out, exhausted retries fail the run and
//! `client.resume` continues it from its last committed state; attempts are in the history.
//! Backoff and timeouts run on a jumping test clock: no real waiting.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use cairn::{Context, Error, HistoryOutcome, RetryPolicy, Runtime, workflow};

use super::jump_clock::JumpClock;
use super::support;
use super::{Backend, BackendUnderTest, fresh_store};
use support::{check_restarts_with, ran};

/// How many more calls of `flaky` fail.
static FAILURES: AtomicU32 = AtomicU32::new(0);
/// Held by every test of this file: they share `FAILURES`.
static FLAKY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn prepare(n: u32) -> Result<u32, String> {
    ran("prepare");
    Ok(n)
}

async fn flaky(n: u32) -> Result<u32, String> {
    ran("flaky");
    let left = FAILURES.load(Ordering::SeqCst);
    if left > 0 {
        FAILURES.store(left - 1, Ordering::SeqCst);
        return Err(format!("transient {left}"));
    }
    Ok(n + 1)
}

async fn fatal(_: u32) -> Result<u32, String> {
    ran("fatal");
    Err("fatal: card declined".to_owned())
}

async fn hang(_: u32) -> Result<u32, String> {
    ran("hang");
    std::future::pending().await
}

#[workflow]
async fn retrying(ctx: &mut Context, n: u32) -> Result<u32, String> {
    let n = ctx.task(prepare, n).await?;
    let m = ctx
        .step_fn("flaky", || flaky(n))
        .retry(RetryPolicy::exponential(4).initial_delay(Duration::from_secs(1)))
        .timeout(Duration::from_secs(30))
        .await?;
    let k = ctx.__task("flaky", (m,), |(m,)| flaky(m)).await?;
    Ok(k)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_step_resumes_from_every_stored_state() {
    // No failures: one attempt each.
    let _flaky = FLAKY.lock().await;
    FAILURES.store(0, Ordering::SeqCst);
    check_restarts_with(
        retrying,
        1,
        Ok(3),
        &[("prepare", 1), ("flaky", 2)],
        3,
        |builder| builder.clock(JumpClock::default()),
    )
    .await;
}

fn runtime(store: &BackendUnderTest) -> Runtime {
    store
        .runtime()
        .register(retrying)
        .register(guarded)
        .clock(JumpClock::default())
        .start()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_and_recorded() {
    let _flaky = FLAKY.lock().await;
    let _serial = support::serial().await;
    let store = fresh_store();
    let runtime = runtime(&store);
    let client = runtime.client();
    FAILURES.store(2, Ordering::SeqCst);
    let run = client.start(retrying, 1).await.unwrap();
    assert_eq!(client.wait(retrying, run).await.unwrap(), 3);
    let counts = support::take_step_counts();
    assert_eq!(counts["flaky"], 4, "3 attempts, then the second task");
    let history = client.history(run).unwrap();
    let steps: Vec<_> = history
        .iter()
        .map(|h| (h.number, h.step.as_deref(), h.attempts))
        .collect();
    assert_eq!(
        steps,
        [
            (1, Some("prepare"), 1),
            (2, Some("flaky"), 3),
            (3, Some("flaky"), 1),
            (3, None, 0),
        ]
    );
    assert_eq!(history[1].attempt_errors, ["transient 2", "transient 1"]);
    // Backoff of 1 s then 2 s, less up to half of each as jitter. The jumping clock also jumps
    // to each attempt's 30 s timeout deadline when it is armed: 3 of them.
    let waited = history[1]
        .ended_at()
        .duration_since(history[1].started_at())
        .unwrap()
        - Duration::from_secs(90);
    assert!(
        waited >= Duration::from_millis(1500) && waited <= Duration::from_secs(3),
        "{waited:?}"
    );
    assert_eq!(history[3].outcome, HistoryOutcome::Completed);
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_fail_the_run_and_resume_continues_it() {
    let _flaky = FLAKY.lock().await;
    let _serial = support::serial().await;
    let store = fresh_store();
    let runtime = runtime(&store);
    let client = runtime.client();
    FAILURES.store(10, Ordering::SeqCst);
    let run = client.start(retrying, 1).await.unwrap();
    match client.wait(retrying, run).await {
        Err(Error::RunFailed { message, .. }) => assert_eq!(message, "transient 7"),
        other => panic!("expected the last attempt's error, got {other:?}"),
    }
    let counts = support::take_step_counts();
    assert_eq!((counts["prepare"], counts["flaky"]), (1, 4));
    let history = client.history(run).unwrap();
    let last = history.last().unwrap();
    assert_eq!(
        last.outcome,
        HistoryOutcome::Failed {
            message: "transient 7".to_owned()
        }
    );
    assert_eq!(last.attempts, 4);
    assert_eq!(last.attempt_errors.len(), 4);

    // Later, with the cause gone: the completed step does not run again.
    FAILURES.store(0, Ordering::SeqCst);
    client.resume(run).await.unwrap();
    assert_eq!(client.wait(retrying, run).await.unwrap(), 3);
    let counts = support::take_step_counts();
    assert_eq!(counts.get("prepare"), None);
    assert_eq!(counts["flaky"], 2);
    runtime.shutdown().await;
}

/// `retry_if` refuses fatal errors; a hung attempt times out (and is retried like any error).
#[workflow]
async fn guarded(ctx: &mut Context, case: u8) -> Result<u32, String> {
    let out = match case {
        0 => {
            ctx.step_fn("fatal", || fatal(0))
                .retry_if(RetryPolicy::exponential(5), |e: &String| {
                    !e.starts_with("fatal")
                })
                .await?
        }
        1 => {
            ctx.step_fn("hang", || hang(0))
                .timeout(Duration::from_secs(30))
                .retry(RetryPolicy::fixed(3, Duration::from_secs(1)))
                .await?
        }
        _ => {
            ctx.step_fn("flaky", || flaky(0))
                .retry(RetryPolicy::exponential(0))
                .await?
        }
    };
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_retryable_errors_timeouts_and_bad_policies() {
    let _flaky = FLAKY.lock().await;
    let _serial = support::serial().await;
    let store = fresh_store();
    let runtime = runtime(&store);
    let client = runtime.client();
    FAILURES.store(0, Ordering::SeqCst);
    for (case, expected, step, runs) in [
        (0, "fatal: card declined", "fatal", 1),
        (1, "step `hang` timed out after 30s", "hang", 3),
        (2, "needs at least one attempt", "flaky", 0),
    ] {
        let run = client.start(guarded, case).await.unwrap();
        match client.wait(guarded, run).await {
            Err(Error::RunFailed { message, .. }) => {
                assert!(message.contains(expected), "case {case}: {message}")
            }
            other => panic!("case {case}: expected a failure, got {other:?}"),
        }
        let counts = support::take_step_counts();
        assert_eq!(counts.get(step).copied().unwrap_or(0), runs, "case {case}");
    }
    runtime.shutdown().await;
}
