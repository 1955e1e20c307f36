//! A two-step workflow whose second step waits at a gate, for the PostgreSQL tests that take
//! leases away from runs held inside a step (`postgres_lost_leases.rs`,
//! `postgres_batched_fencing.rs`): a test counts the runs in the step, changes their rows,
//! then opens the gate with as many permits as it has runs. Its own module, so that only the
//! test binaries that use it compile the workflow.

use std::sync::atomic::{AtomicU64, Ordering};

use cairn::{Context, workflow};
use tokio::sync::Semaphore;

/// How many runs are inside `gated`.
pub static ENTERED: AtomicU64 = AtomicU64::new(0);
/// Opened (a permit per run) once the test has changed what it changes.
pub static GATE: Semaphore = Semaphore::const_new(0);

async fn first(n: u64) -> Result<u64, String> {
    Ok(n * 10)
}

async fn gated(n: u64) -> Result<u64, String> {
    ENTERED.fetch_add(1, Ordering::SeqCst);
    GATE.acquire().await.map_err(|e| e.to_string())?.forget();
    Ok(n + 1)
}

/// `n * 10 + 1`, the second step once the gate opens.
#[workflow]
pub async fn two_steps(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let n = ctx.task(first, n).await?;
    ctx.task(gated, n).await
}
