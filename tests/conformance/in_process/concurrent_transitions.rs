//! Hundreds of runs committing at once: their transitions share group commits (on PostgreSQL
//! a batch's checkpoints, branch outputs, sleeps, wake-ups, completions and creations are
//! written with one statement per table, `store/postgres/batch.rs`; several branch outputs
//! of one run share a batch with its other commits). Each run must still end exactly as it
//! does alone: the same output, the same history record for record, the same key-value
//! state.

use std::time::Duration;

use cairn::{Context, step, workflow};

use super::jump_clock::JumpClock;
use super::{Backend, fresh_store};

const RUNS: u64 = 300;

async fn add(pair: (u64, u64)) -> Result<u64, String> {
    Ok(pair.0 + pair.1)
}

/// Checkpoints with state writes (a put, a delete), a durable sleep, three branches of one
/// run, and the completion.
#[workflow]
async fn busy(ctx: &mut Context, n: u64) -> Result<(u64, u64, Option<String>), String> {
    ctx.state().set("scratch", "temporary")?;
    let mut sum = 0u64;
    for i in 0..3u64 {
        sum = ctx.task(add, (sum, n + i)).await?;
        ctx.state().set("sum", &sum)?;
    }
    ctx.state().delete("scratch");
    ctx.sleep(Duration::from_secs(1 + n % 7)).await?;
    let (a, b, c) = ctx
        .parallel((
            step("a", add((n, 1))),
            step("b", add((n, 2))),
            step("c", add((n, 3))),
        ))
        .await?;
    let kept: u64 = ctx.state().get("sum")?.unwrap_or(0);
    let scratch: Option<String> = ctx.state().get("scratch")?;
    Ok((kept, a + b + c, scratch))
}

fn expected(n: u64) -> (u64, u64, Option<String>) {
    (3 * n + 3, 3 * n + 6, None)
}

/// What a history says, without its times.
fn shape(history: &[cairn::HistoryRecord]) -> Vec<(u64, String, Option<String>, u32)> {
    history
        .iter()
        .map(|h| (h.number, h.state.clone(), h.step.clone(), h.attempts))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_concurrent_runs_end_as_each_would_alone() {
    let store = fresh_store();
    let runtime = store
        .runtime()
        .register(busy)
        .clock(JumpClock::default())
        .start()
        .unwrap();
    let client = runtime.client();
    // One run alone: the reference history.
    let alone = client.start(busy, 0).await.unwrap();
    assert_eq!(client.wait(busy, alone).await.unwrap(), expected(0));
    let reference = shape(&client.history(alone).unwrap());

    // Then hundreds at once, created in one write, and a few more one by one among them.
    let mut runs: Vec<(u64, cairn::RunId)> = client
        .start_many(busy, 1..=RUNS)
        .await
        .unwrap()
        .into_iter()
        .zip(1..=RUNS)
        .map(|(run, n)| (n, run))
        .collect();
    for n in RUNS + 1..=RUNS + 20 {
        runs.push((n, client.start(busy, n).await.unwrap()));
    }
    for (n, run) in &runs {
        assert_eq!(
            client.wait(busy, *run).await.unwrap(),
            expected(*n),
            "run {n}"
        );
    }
    for (n, run) in &runs {
        assert_eq!(
            shape(&client.history(*run).unwrap()),
            reference,
            "history of run {n}"
        );
    }
    runtime.shutdown().await;
}
