//! SIGKILL right after durable state was written: each child is killed while a step is in
//! flight, just after the workflow buffered `processed += 1` for it. The next process reads
//! the stored state before resuming: it must match the stored position exactly (the buffered
//! write is lost with the position it belonged to), and the finished run counts each item
//! exactly once.

use cairn::{Context, workflow};

use super::process::{Proc, child_dir, generation, param, parent_store, report, tokio_runtime};
use super::{Backend, fresh_store};

const ITEMS: u64 = 4;

/// Reports that it began, then in the process meant to be killed at this item blocks.
async fn process(item: u64) -> Result<u64, String> {
    report(&format!("begin {item}"));
    if generation() == 0 && item == param() {
        std::future::pending::<()>().await;
    }
    Ok(item * item)
}

#[workflow]
async fn counting(ctx: &mut Context, n: u64) -> Result<u64, String> {
    ctx.state().set("total", &n)?;
    let items: Vec<u64> = (0..n).collect();
    let mut sum = 0;
    for item in items {
        // Written before the step: committed with the transition the step leads to.
        let processed: u64 = ctx.state().get("processed")?.unwrap_or(0);
        ctx.state().set("processed", &(processed + 1))?;
        sum += ctx.task(process, item).await?;
    }
    Ok(sum)
}

#[test]
fn child_entry() {
    if child_dir().is_none() {
        return;
    }
    tokio_runtime().block_on(child());
}

async fn child() {
    let store = parent_store();
    // First without the workflow registered, so that nothing resumes: read what is stored.
    let runtime = store.runtime().start().expect("runtime starts");
    let client = runtime.client();
    if let Some(run) = client.list(None).expect("list").first() {
        let state = client.state(run.id).expect("state");
        let processed: u64 = state.get("processed").expect("typed").unwrap_or(0);
        report(&format!("stored {} {processed}", run.transitions));
    }
    runtime.shutdown().await;

    let runtime = store
        .runtime()
        .register(counting)
        .start()
        .expect("runtime starts");
    let client = runtime.client();
    let run = match client.list(None).expect("list").first() {
        Some(run) => run.id,
        None => client.start(counting, ITEMS).await.expect("start"),
    };
    let output = client.wait(counting, run).await.expect("run completes");
    let processed: u64 = client
        .state(run)
        .expect("state")
        .get("processed")
        .expect("typed")
        .unwrap_or(0);
    report(&format!("output {output} {processed}"));
    runtime.shutdown().await;
}

#[test]
fn state_written_just_before_a_sigkill_matches_the_stored_position() {
    if child_dir().is_some() {
        return;
    }
    for kill_at in 0..ITEMS {
        let store = fresh_store();
        let dir = tempfile::tempdir().unwrap();
        let mut first = Proc::spawn(module_path!(), &store, dir.path(), 0, kill_at);
        first.until(&format!("begin {kill_at}"));
        first.kill();

        let mut second = Proc::spawn(module_path!(), &store, dir.path(), 1, kill_at);
        let stored = second.until("stored");
        // Items 0..kill_at completed and were committed; the write for `kill_at` was lost.
        assert_eq!(
            stored,
            format!("stored {kill_at} {kill_at}"),
            "kill at {kill_at}"
        );
        assert_eq!(second.until("output"), "output 14 4", "kill at {kill_at}");
        second.exit();
    }
}
