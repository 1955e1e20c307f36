//! Watching from another process: a client-only process that registers no workflow watches a
//! run that the runtime in the parent process runs, one step at a time. It sees every
//! transition (each is held until the watcher has reported the one before), then the final
//! status, and reads the workflow's stored state graph, which it never registered.

use std::time::Duration;

use cairn::{Client, Context, RunId, Workflow, workflow};
use tokio::sync::Semaphore;

use super::process::{Proc, child_dir, parent_store, report, tokio_runtime};
use super::{Backend, BackendUnderTest, fresh_store};

/// Released by the parent as the child reports each update.
static GATE: Semaphore = Semaphore::const_new(0);

async fn held(n: u32) -> Result<u32, String> {
    GATE.acquire().await.map_err(|e| e.to_string())?.forget();
    Ok(n + 1)
}

#[workflow]
async fn watched(ctx: &mut Context, n: u32) -> Result<u32, String> {
    let a = ctx.task(held, n).await?;
    let b = ctx.task(held, a).await?;
    let c = ctx.task(held, b).await?;
    Ok(c)
}

/// A failure of the test rather than a hang: the child reports a timeout instead.
const PATIENCE: Duration = Duration::from_secs(20);

#[test]
fn child_entry() {
    if child_dir().is_none() {
        return;
    }
    tokio_runtime().block_on(async move {
        // Client-only, nothing registered: the workflow's code is not needed here.
        let client: Client = parent_store().client().expect("client opens");
        let graph = client.workflow_graph("watched").expect("read");
        match graph {
            Some(graph) => report(&format!("graph {} states", graph.states.len())),
            None => report("graph missing"),
        }
        let mut watch = client.watch(RunId(1)).expect("watch");
        loop {
            match tokio::time::timeout(PATIENCE, watch.next()).await {
                Ok(Some(Ok(update))) => {
                    let numbers: Vec<String> = update
                        .history
                        .iter()
                        .map(|h| h.number.to_string())
                        .collect();
                    report(&format!(
                        "update {} {} [{}]",
                        update.status,
                        update.transitions,
                        numbers.join(",")
                    ));
                }
                Ok(Some(Err(error))) => report(&format!("error {error}")),
                Ok(None) => {
                    report("end");
                    return;
                }
                Err(_) => {
                    report("timed out");
                    return;
                }
            }
        }
    });
}

fn runtime(store: &BackendUnderTest) -> cairn::Runtime {
    store.runtime().register(watched).start().unwrap()
}

#[test]
fn a_client_only_process_watches_every_transition_of_a_run_run_elsewhere() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    tokio_runtime().block_on(async {
        let runtime = runtime(&store);
        let client = runtime.client();
        let run = client.start(watched, 1).await.unwrap();
        assert_eq!(run, RunId(1));
        let mut child = Proc::spawn(module_path!(), &store, dir.path(), 0, 0);
        let states = cairn::WorkflowGraph::from(watched::graph()).states.len();
        assert_eq!(child.next(), format!("graph {states} states"));
        assert_eq!(child.next(), "update pending 0 []");
        GATE.add_permits(1);
        assert_eq!(child.next(), "update running 1 [1]");
        GATE.add_permits(1);
        assert_eq!(child.next(), "update running 2 [2]");
        GATE.add_permits(1);
        // The third transition and the end commit back to back: one update or two.
        let mut tail = vec![child.next()];
        while tail.last().map(String::as_str) != Some("end") {
            tail.push(child.next());
        }
        let expected_one = ["update completed 3 [3,3]", "end"];
        let expected_two = ["update running 3 [3]", "update completed 3 [3]", "end"];
        assert!(tail == expected_one || tail == expected_two, "{tail:?}");
        child.exit();
        assert_eq!(client.wait(watched, run).await.unwrap(), 4);
        runtime.shutdown().await;
    });
}
