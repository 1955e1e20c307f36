//! The `tracing` spans of a run, printed by `tracing-subscriber`'s `fmt` layer: one `run` span
//! per run task (fields `run`, `workflow`, `position`; on close `outcome`, `transitions`) and
//! inside it one `step` span per step (`step`, `attempt`; on close `duration_ms`, `outcome`,
//! and `error` after a failed attempt), printed as each span closes. It also watches the run
//! live with `Client::watch` and prints each update.
//!
//! ```text
//! cargo run --example tracing
//! ```
//!
//! Any subscriber sees the same spans; the README shows how to export them to OpenTelemetry
//! with `tracing-opentelemetry`.

use std::time::Duration;

use cairn::{Context, RetryPolicy, Runtime, workflow};
use tracing_subscriber::fmt::format::FmtSpan;

async fn fetch(url: String) -> Result<usize, String> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(url.len())
}

/// Fails its first attempt, to show a retried step's span.
async fn flaky_store(size: usize) -> Result<usize, String> {
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    if CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
        return Err("storage busy".to_owned());
    }
    Ok(size * 2)
}

#[workflow]
async fn ingest(ctx: &mut Context, url: String) -> Result<usize, String> {
    let size = ctx.task(fetch, url).await?;
    ctx.state()
        .set("fetched", &size)
        .map_err(|e| e.to_string())?;
    let stored = ctx
        .task(flaky_store, size)
        .retry(RetryPolicy::fixed(3, Duration::from_millis(10)))
        .await?;
    Ok(stored)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_span_events(FmtSpan::CLOSE)
        .with_target(false)
        .init();

    let dir = tempfile::tempdir()?;
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(ingest)
        .start()?;
    let client = runtime.client();
    let run = client
        .start(ingest, "https://example.com/data".to_owned())
        .await?;
    let mut watch = client.watch(run)?;
    while let Some(update) = watch.next().await {
        let update = update?;
        println!(
            "watch: {} in {} after {:?} ({} transitions, changed {:?})",
            update.status, update.state, update.step, update.transitions, update.changed
        );
    }
    println!("output: {}", client.wait(ingest, run).await?);
    runtime.shutdown().await;
    Ok(())
}
