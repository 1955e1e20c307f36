//! A three-step workflow paused while its second step is held at a gate, for the PostgreSQL
//! tests of the guard counters (`postgres_schema10_guards.rs`, `postgres_guard_recount.rs`):
//! the held step's commit is the one statement's (`one_trip.rs`), which reads only the run's
//! counters, and must meet the pause. Its own module, so that only the test binaries that
//! use it compile the workflow.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cairn::{Client, Context, RunId, Status, workflow};
use tokio::sync::Notify;

/// How many times each step ran.
static HELD: AtomicU64 = AtomicU64::new(0);
static AFTER: AtomicU64 = AtomicU64::new(0);
/// The held step is running; the held step may end.
static STARTED: Notify = Notify::const_new();
static GATE: Notify = Notify::const_new();

async fn add(n: u64) -> Result<u64, String> {
    Ok(n + 1)
}

async fn held(n: u64) -> Result<u64, String> {
    HELD.fetch_add(1, Ordering::SeqCst);
    STARTED.notify_one();
    GATE.notified().await;
    Ok(n + 1)
}

async fn after(n: u64) -> Result<u64, String> {
    AFTER.fetch_add(1, Ordering::SeqCst);
    Ok(n + 1)
}

#[workflow]
pub async fn three_steps(ctx: &mut Context, n: u64) -> Result<u64, String> {
    // Once this step is committed the run is running: a pause waits for its next commit.
    let n = ctx.task(add, n).await?;
    let n = ctx.task(held, n).await?;
    let n = ctx.task(after, n).await?;
    Ok(n)
}

/// Starts a run of [`three_steps`] and pauses it while its held step runs: the pause waits
/// for that step's commit.
pub async fn start_and_pause_in_held_step(client: &Client) -> RunId {
    let run = client.start(three_steps, 1).await.unwrap();
    STARTED.notified().await;
    client.pause(run).await.unwrap();
    run
}

/// Lets the held step end, and waits (at most 30 s) until its commit has paused the run.
pub async fn release_until_paused(client: &Client, run: RunId) {
    GATE.notify_one();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = client.status(run).unwrap();
        if status.status == Status::Paused {
            return;
        }
        assert!(
            !status.status.is_finished() && Instant::now() < deadline,
            "run {run} not paused: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The held step ran once, and the paused run ran no next step.
pub fn assert_held_once_and_no_step_after() {
    assert_eq!(HELD.load(Ordering::SeqCst), 1);
    assert_eq!(
        AFTER.load(Ordering::SeqCst),
        0,
        "a paused run runs no next step"
    );
}
