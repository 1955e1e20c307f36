//! The repro with a real SIGKILL: a step returns an internally tagged enum (which
//! postcard encodes but cannot decode), the run goes on to a second step, and the process is
//! killed during that step. The next process must resume from the committed state (which holds
//! the enum) and finish the run, with the first step not run again.

use cairn::{Context, workflow};
use serde::{Deserialize, Serialize};

use super::process::{Proc, child_dir, generation, parent_store, report, tokio_runtime};
use super::{Backend, fresh_store};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
enum Event {
    Created { id: u64 },
}

async fn create(id: u64) -> Result<Event, String> {
    report(&format!("create {}", generation()));
    Ok(Event::Created { id })
}

/// Blocks in the first process, which is killed here.
async fn publish(id: u64) -> Result<u64, String> {
    report(&format!("publish {}", generation()));
    if generation() == 0 {
        std::future::pending::<()>().await;
    }
    Ok(id + 1)
}

#[workflow]
async fn events(ctx: &mut Context, id: u64) -> Result<String, String> {
    let event = ctx.task(create, id).await?;
    let published = ctx.task(publish, id).await?;
    let Event::Created { id } = event;
    Ok(format!("created {id}, published {published}"))
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
    let runtime = store
        .runtime()
        .register(events)
        .start()
        .expect("runtime starts");
    let client = runtime.client();
    let run = match client.list(None).expect("list").first() {
        Some(run) => run.id,
        None => client.start(events, 7).await.expect("start"),
    };
    match client.wait(events, run).await {
        Ok(output) => report(&format!("output {output}")),
        Err(e) => report(&format!("error {e}")),
    }
    runtime.shutdown().await;
}

#[test]
fn a_tagged_enum_held_across_a_sigkill_resumes() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    let mut first = Proc::spawn(module_path!(), &store, dir.path(), 0, 0);
    assert_eq!(first.until("create"), "create 0");
    assert_eq!(first.until("publish"), "publish 0");
    first.kill();

    let mut second = Proc::spawn(module_path!(), &store, dir.path(), 1, 0);
    // `create` is not run again: the next step is `publish`.
    assert_eq!(second.next(), "publish 1");
    assert_eq!(second.until("output"), "output created 7, published 8");
    second.exit();
}
