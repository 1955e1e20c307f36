//! Batch starts: `Client::start_many` (and `start_many_json`) stores every run in one write
//! transaction, all or none. Ids come back in input order and each run completes with its own
//! output; an input that cannot be stored in the middle of the list starts none; no input
//! starts none. In a client-only process the runs are handed over, in the same transaction,
//! to the runtime that runs the workflows.
//!
//! Atomicity across a crash uses real processes (see `context_common/process.rs`): a child
//! starts 1,000 runs at once and is SIGKILLed, either right after it says it is about to call
//! `start_many` (so the kill lands before, during or after the commit) or once the call has
//! returned. The parent then reads the directory: 0 or 1,000 runs, never a part of them, and
//! exactly 1,000 when the call had returned.

use std::time::Duration;

use cairn::{Context, Error, RunId, Runtime, Status, workflow};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::process::{Proc, child_dir, generation, param, parent_store, report, tokio_runtime};
use super::{Backend, BackendUnderTest, fresh_store};

/// Runs the crash tests start at once.
const BATCH: u64 = 1_000;
/// The child is killed right after it says it is about to call `start_many`.
const KILL_BEFORE: u64 = 1;
/// How long after the child says it calls `start_many` each kill lands, in microseconds:
/// before, during and after the commit.
const KILL_POINTS_US: [u64; 16] = [
    0, 250, 500, 1_000, 1_500, 2_000, 3_000, 4_000, 6_000, 8_000, 10_000, 12_000, 15_000, 20_000,
    25_000, 30_000,
];
/// The child is killed after `start_many` returned.
const KILL_AFTER: u64 = 2;
/// The child starts three runs client-only and exits.
const CLIENT_ONLY: u64 = 3;
/// How long a client-only test waits for the other runtime to finish the runs.
const PATIENCE: Duration = Duration::from_secs(20);

async fn add(a: u64, b: u64) -> Result<u64, String> {
    Ok(a + b)
}

/// Three steps: `n + 1 + 2 + 3`.
#[workflow]
async fn three_steps(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let a = ctx.task(add, n, 1).await?;
    let b = ctx.task(add, a, 2).await?;
    let c = ctx.task(add, b, 3).await?;
    Ok(c)
}

/// An input whose `Serialize` refuses the number 13, and only it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
struct Picky(u64);

impl Serialize for Picky {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0 == 13 {
            return Err(serde::ser::Error::custom("13 refuses to be serialized"));
        }
        serializer.serialize_u64(self.0)
    }
}

#[workflow]
async fn picky(ctx: &mut Context, input: Picky) -> Result<u64, String> {
    let doubled = ctx.task(add, input.0, input.0).await?;
    Ok(doubled)
}

fn runtime(store: &BackendUnderTest) -> Runtime {
    store
        .runtime()
        .register(three_steps)
        .register(picky)
        .start()
        .expect("runtime starts")
}

#[test]
fn ids_come_back_in_input_order_and_every_run_completes_with_its_output() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    tokio_runtime().block_on(async {
        let runtime = runtime(&store);
        let client = runtime.client();
        // A run stored before: the batch's ids come after it.
        let before = client.start(three_steps, 1_000).await.unwrap();
        let inputs: Vec<u64> = (0..100).rev().collect();
        let runs = client
            .start_many(three_steps, inputs.clone())
            .await
            .unwrap();
        assert_eq!(runs.len(), inputs.len());
        let expected: Vec<RunId> = (before.0 + 1..).map(RunId).take(inputs.len()).collect();
        assert_eq!(runs, expected);
        for (&run, &n) in runs.iter().zip(&inputs) {
            assert_eq!(client.wait(three_steps, run).await.unwrap(), n + 6, "{run}");
        }
        assert_eq!(client.wait(three_steps, before).await.unwrap(), 1_006);

        // The JSON form, keyed by parameter name or as the bare value.
        let runs = client
            .start_many_json("three_steps", vec![json!({ "n": 10 }), json!(20)])
            .await
            .unwrap();
        assert_eq!(runs, vec![RunId(before.0 + 101), RunId(before.0 + 102)]);
        assert_eq!(client.wait_json(runs[0]).await.unwrap(), json!(16));
        assert_eq!(client.wait_json(runs[1]).await.unwrap(), json!(26));
        assert_eq!(client.list(Some(Status::Completed)).unwrap().len(), 103);
        runtime.shutdown().await;
    });
}

#[test]
fn an_input_that_cannot_be_stored_in_the_middle_starts_none() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    tokio_runtime().block_on(async {
        let runtime = runtime(&store);
        let client = runtime.client();
        let inputs = (10..20).map(Picky);
        match client.start_many(picky, inputs).await {
            Err(Error::Unstorable {
                workflow,
                what,
                reason,
                ..
            }) => {
                assert_eq!(workflow, "picky");
                assert_eq!(what, "input");
                assert!(reason.contains("13 refuses"), "{reason}");
            }
            other => panic!("expected Unstorable, got {other:?}"),
        }
        assert!(client.list(None).unwrap().is_empty());

        // The JSON form: one input of the wrong type in the middle.
        let inputs = vec![json!(1), json!("two"), json!(3)];
        match client.start_many_json("three_steps", inputs).await {
            Err(Error::MalformedInput { .. }) => {}
            other => panic!("expected MalformedInput, got {other:?}"),
        }
        assert!(client.list(None).unwrap().is_empty());

        // Nothing was allocated either: the next run is the first.
        let run = client.start(three_steps, 0).await.unwrap();
        assert_eq!(run, RunId(1));
        runtime.shutdown().await;
    });
}

#[test]
fn no_input_starts_nothing() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    tokio_runtime().block_on(async {
        let runtime = runtime(&store);
        let client = runtime.client();
        assert_eq!(client.start_many(three_steps, []).await.unwrap(), vec![]);
        assert_eq!(
            client.start_many_json("three_steps", vec![]).await.unwrap(),
            vec![]
        );
        assert!(client.list(None).unwrap().is_empty());
        runtime.shutdown().await;
    });
}

#[test]
fn a_client_only_batch_is_run_by_the_runtime_already_running() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    tokio_runtime().block_on(async {
        // A short poll interval: this runtime learns of the runs from the hand-over table only.
        let runtime = store
            .runtime()
            .register(three_steps)
            .answer_poll_interval(Duration::from_millis(5))
            .start()
            .unwrap();
        let mut child = Proc::spawn(module_path!(), &store, dir.path(), 0, CLIENT_ONLY);
        assert_eq!(child.until("started"), "started [1, 2, 3]");
        child.exit();
        let client = runtime.client();
        for (run, n) in [(RunId(1), 1), (RunId(2), 2), (RunId(3), 3)] {
            let output = tokio::time::timeout(PATIENCE, client.wait(three_steps, run))
                .await
                .expect("the running runtime runs the handed-over run")
                .unwrap();
            assert_eq!(output, n + 6);
        }
        runtime.shutdown().await;
    });
}

// ---------------------------------------------------------------------------------------------
// Atomicity across a SIGKILL.

#[test]
fn child_entry() {
    if child_dir().is_none() {
        return;
    }
    let store = parent_store();
    tokio_runtime().block_on(async {
        if param() == CLIENT_ONLY {
            let client = store
                .runtime()
                .register(three_steps)
                .client_only()
                .start()
                .expect("client opens")
                .client();
            let runs = client.start_many(three_steps, [1, 2, 3]).await;
            let runs: Vec<u64> = runs.expect("start").iter().map(|run| run.0).collect();
            report(&format!("started {runs:?}"));
            return;
        }
        let runtime = runtime(&store);
        let client = runtime.client();
        let first = generation() * BATCH as u32;
        let inputs: Vec<u64> = (u64::from(first)..).take(BATCH as usize).collect();
        report("starting");
        let began = std::time::Instant::now();
        let runs = client.start_many(three_steps, inputs).await.expect("start");
        report(&format!("started {} in {:?}", runs.len(), began.elapsed()));
        if param() == KILL_AFTER {
            std::future::pending::<()>().await;
        }
    });
}

/// The runs in `store`, read with no workflow registered (so nothing resumes).
fn stored(store: &BackendUnderTest) -> Vec<cairn::RunStatus> {
    tokio_runtime().block_on(async {
        let runtime = store.runtime().start().unwrap();
        let runs = runtime.client().list(None).unwrap();
        runtime.shutdown().await;
        runs
    })
}

/// Whole batches only, with consecutive ids from 1.
fn assert_whole_batches(runs: &[cairn::RunStatus]) {
    assert_eq!(
        runs.len() as u64 % BATCH,
        0,
        "a part of a batch is stored: {} runs",
        runs.len()
    );
    for (i, run) in runs.iter().enumerate() {
        assert_eq!(run.id, RunId(i as u64 + 1));
    }
}

#[test]
fn a_kill_during_start_many_leaves_every_run_or_none() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    // Several children on one directory, each killed at a later point after it said it calls
    // `start_many` (the call takes 3 to 10 ms, more in a fresh process): each leaves its whole batch or
    // nothing.
    for (generation, kill_after_us) in (0..).zip(KILL_POINTS_US) {
        let before = stored(&store).len();
        let mut child = Proc::spawn(module_path!(), &store, dir.path(), generation, KILL_BEFORE);
        assert_eq!(child.until("starting"), "starting");
        // Not a wait for anything: where the kill lands is what this sweeps.
        std::thread::sleep(Duration::from_micros(kill_after_us));
        child.kill();
        let runs = stored(&store);
        let added = runs.len() - before;
        assert!(
            added == 0 || added as u64 == BATCH,
            "generation {generation}: {added} runs stored, neither 0 nor {BATCH}"
        );
        assert_whole_batches(&runs);
    }
}

#[test]
fn a_kill_after_start_many_returned_leaves_every_run() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Proc::spawn(module_path!(), &store, dir.path(), 0, KILL_AFTER);
    let started = child.until("started");
    assert!(
        started.starts_with(&format!("started {BATCH} in")),
        "{started}"
    );
    child.kill();
    let runs = stored(&store);
    assert_eq!(runs.len() as u64, BATCH);
    assert_whole_batches(&runs);
}
