//! Queues with limits (`RuntimeBuilder::register_with(workflow, Limits)`): the cap on runs
//! at once holds under 1,000 queued runs of two workflows sharing a queue (counted by the
//! runs' own steps), queued runs are admitted by priority then start order, a rate limit
//! admits so many runs per window of the runtime's clock (a test clock), queued runs are
//! listed and counted as `Queued` and can be cancelled, and bad limits are typed errors.
//! (Queued runs surviving a SIGKILL: `processes/queue_processes.rs`.)

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cairn::{Client, Context, Error, Limits, RunId, Status, TestClock, workflow};
use tokio::sync::Semaphore;

use super::{Backend, fresh_store};

/// Steps of `capped_a` and `capped_b` executing right now, and the most ever seen.
static EXECUTING: AtomicUsize = AtomicUsize::new(0);
static MOST_AT_ONCE: AtomicUsize = AtomicUsize::new(0);

async fn busy(n: u64) -> Result<u64, String> {
    let now = EXECUTING.fetch_add(1, Ordering::SeqCst) + 1;
    MOST_AT_ONCE.fetch_max(now, Ordering::SeqCst);
    // Long enough for runs admitted together to overlap.
    tokio::time::sleep(Duration::from_millis(1)).await;
    EXECUTING.fetch_sub(1, Ordering::SeqCst);
    Ok(n)
}

#[workflow]
async fn capped_a(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let n = ctx.task(busy, n).await?;
    Ok(n)
}

#[workflow]
async fn capped_b(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let n = ctx.task(busy, n).await?;
    Ok(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_holds_under_a_thousand_queued_runs_of_a_shared_queue() {
    const CAP: usize = 5;
    let store = fresh_store();
    let limits = Limits::new().max_concurrent_runs(CAP as u32).queue("cpu");
    let runtime = store
        .runtime()
        .register_with(capped_a, limits.clone())
        .register_with(capped_b, limits)
        .start()
        .unwrap();
    let client = runtime.client();
    let a = client.start_many(capped_a, 0..500).await.unwrap();
    let b = client.start_many(capped_b, 500..1000).await.unwrap();
    let counts = client.count_by_status().unwrap();
    assert!(counts.get(Status::Queued) > 0, "{counts:?}");
    assert_eq!(counts.total(), 1000);
    for (n, &run) in (0..).zip(&a) {
        assert_eq!(client.wait(capped_a, run).await.unwrap(), n);
    }
    for (n, &run) in (500..).zip(&b) {
        assert_eq!(client.wait(capped_b, run).await.unwrap(), n);
    }
    let most = MOST_AT_ONCE.load(Ordering::SeqCst);
    assert!(
        most <= CAP,
        "{most} runs executed at once, over the cap of {CAP}"
    );
    assert!(most >= 2, "the queue ran one run at a time: {most}");
    assert_eq!(
        client.count_by_status().unwrap().get(Status::Completed),
        1000
    );
    runtime.shutdown().await;
}

/// The order `ordered` runs executed in, by input.
static ORDER: Mutex<Vec<u64>> = Mutex::new(Vec::new());
/// What the blocking run (input 0) waits for.
static GATE: Semaphore = Semaphore::const_new(0);

async fn in_order(n: u64) -> Result<u64, String> {
    ORDER.lock().unwrap().push(n);
    if n == 0 {
        GATE.acquire().await.map_err(|e| e.to_string())?.forget();
    }
    Ok(n)
}

#[workflow]
async fn ordered(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let n = ctx.task(in_order, n).await?;
    Ok(n)
}

/// Waits until `condition` holds, reading again every 2 ms; fails after 20 s.
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn with_status(client: &Client, status: Status) -> Vec<RunId> {
    let runs = client.list(Some(status)).unwrap();
    runs.into_iter().map(|r| r.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_runs_are_listed_admitted_by_priority_then_start_order_and_can_be_cancelled() {
    let store = fresh_store();
    let runtime = store
        .runtime()
        .register_with(ordered, Limits::new().max_concurrent_runs(1))
        .start()
        .unwrap();
    let client = runtime.client();
    let blocker = client.start(ordered, 0).await.unwrap();
    eventually("the first run holds the slot", || {
        ORDER.lock().unwrap().as_slice() == [0]
    })
    .await;
    let mut queued = Vec::new();
    for (n, priority) in [(1, 1), (2, 5), (3, 3), (4, 5), (5, 0), (6, 9)] {
        queued.push(
            client
                .start_with_priority(ordered, n, priority)
                .await
                .unwrap(),
        );
    }
    // Waiting on disk, listed and counted as queued.
    assert_eq!(with_status(&client, Status::Queued), queued);
    assert_eq!(client.count_by_status().unwrap().get(Status::Queued), 6);
    assert_eq!(client.status(queued[0]).unwrap().status, Status::Queued);
    // A queued run can be cancelled (it never runs), not paused.
    client.cancel(queued[5]).await.unwrap();
    assert_eq!(client.status(queued[5]).unwrap().status, Status::Cancelled);
    assert!(matches!(
        client.pause(queued[0]).await,
        Err(Error::NotPausable {
            status: Status::Queued,
            ..
        })
    ));
    GATE.add_permits(1);
    assert_eq!(client.wait(ordered, blocker).await.unwrap(), 0);
    for &run in &queued[..5] {
        client.wait(ordered, run).await.unwrap();
    }
    assert_eq!(*ORDER.lock().unwrap(), [0, 2, 4, 3, 1, 5]);
    assert!(with_status(&client, Status::Queued).is_empty());
    runtime.shutdown().await;
}

async fn tick(n: u64) -> Result<u64, String> {
    Ok(n)
}

#[workflow]
async fn rate_limited(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let n = ctx.task(tick, n).await?;
    Ok(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_admits_so_many_runs_per_window_of_the_clock() {
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = store
        .runtime()
        .register_with(
            rate_limited,
            Limits::new().rate_limit(3, Duration::from_secs(1)),
        )
        .clock(clock.clone())
        .start()
        .unwrap();
    let client = runtime.client();
    client.start_many(rate_limited, 0..10).await.unwrap();
    // Each window of the test clock admits three; the clock moves only when the test says.
    for (window, started) in [(0, 3), (1, 6), (2, 9), (3, 10)] {
        let completed = || client.list(Some(Status::Completed)).unwrap().len();
        eventually(&format!("{started} runs by window {window}"), || {
            completed() >= started
        })
        .await;
        assert_eq!(completed(), started, "window {window}");
        assert_eq!(
            with_status(&client, Status::Queued).len(),
            10 - started,
            "window {window}"
        );
        clock.advance(Duration::from_secs(1));
    }
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_limits_are_typed_errors() {
    let store = fresh_store();
    let zero = store
        .runtime()
        .register_with(tick_free, Limits::new().max_concurrent_runs(0))
        .start();
    assert!(matches!(zero, Err(Error::InvalidArgument { .. })));
    let no_rate = store
        .runtime()
        .register_with(
            tick_free,
            Limits::new().rate_limit(0, Duration::from_secs(1)),
        )
        .start();
    assert!(matches!(no_rate, Err(Error::InvalidArgument { .. })));
    let disagree = store
        .runtime()
        .register_with(tick_free, Limits::new().max_concurrent_runs(2).queue("q"))
        .register_with(
            tick_free_too,
            Limits::new().max_concurrent_runs(3).queue("q"),
        )
        .start();
    match disagree {
        Err(Error::InvalidArgument { reason, .. }) => assert!(reason.contains("`q`"), "{reason}"),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[workflow]
async fn tick_free(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let n = ctx.task(tick, n).await?;
    Ok(n)
}

#[workflow]
async fn tick_free_too(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let n = ctx.task(tick, n).await?;
    Ok(n)
}

/// Whether `flaky`'s step has failed once; what its holding run (input 0) waits for.
static FAILED_ONCE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static HOLD: Semaphore = Semaphore::const_new(0);

async fn fail_once_or_hold(n: u64) -> Result<u64, String> {
    if n == 0 {
        HOLD.acquire().await.map_err(|e| e.to_string())?.forget();
    } else if !FAILED_ONCE.swap(true, Ordering::SeqCst) {
        return Err("the first attempt fails".to_owned());
    }
    Ok(n)
}

#[workflow]
async fn flaky(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let n = ctx.task(fail_once_or_hold, n).await?;
    Ok(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_resumed_waits_in_its_queue_again() {
    let store = fresh_store();
    let runtime = store
        .runtime()
        .register_with(flaky, Limits::new().max_concurrent_runs(1))
        .start()
        .unwrap();
    let client = runtime.client();
    let failing = client.start(flaky, 1).await.unwrap();
    assert!(matches!(
        client.wait(flaky, failing).await,
        Err(Error::RunFailed { .. })
    ));
    // Its slot was freed when it failed: another run takes it and holds it.
    let holder = client.start(flaky, 0).await.unwrap();
    eventually("the second run holds the slot", || {
        client.status(holder).unwrap().status == Status::Running
            || client.status(holder).unwrap().status == Status::Pending
    })
    .await;
    client.resume(failing).await.unwrap();
    assert_eq!(client.status(failing).unwrap().status, Status::Queued);
    HOLD.add_permits(1);
    assert_eq!(client.wait(flaky, holder).await.unwrap(), 0);
    assert_eq!(client.wait(flaky, failing).await.unwrap(), 1);
    runtime.shutdown().await;
}
