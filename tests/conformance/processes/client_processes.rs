//! Processes that run no workflow (client-only) and a runtime in another process see each
//! other: a run started by a client-only process is picked up by a runtime that is already
//! running, within its poll interval, and run once; a client-only `wait` returns when the
//! runtime in another process finishes the run, with its output or its failure, and agrees
//! with `status`. Step executions are lines in an append-only file shared by the processes.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use cairn::{Client, Context, Error, RunId, Runtime, Status, workflow};
use serde_json::json;

use super::process::{
    Proc, append_line, child_dir, generation, param, parent_store, read_log, report, tokio_runtime,
};
use super::{Backend, BackendUnderTest, fresh_store};

/// Where step executions are logged: one directory for the parent process, whose tests run
/// every step (the children run none), with the run's input in each line.
static LOG_DIR: OnceLock<tempfile::TempDir> = OnceLock::new();

fn log_dir() -> &'static Path {
    LOG_DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

fn count(line: &str) {
    append_line(&log_dir().join("log"), line).expect("write log");
}

/// How many times the step logged `line`.
fn counts(line: &str) -> usize {
    read_log(log_dir()).iter().filter(|l| *l == line).count()
}

async fn greet(name: String) -> Result<String, String> {
    count(&format!("greet {name}"));
    Ok(format!("hello {name}"))
}

#[workflow]
async fn greeting(ctx: &mut Context, name: String) -> Result<String, String> {
    let text = ctx.task(greet, name).await?;
    Ok(text)
}

/// Released by the parent (which runs these steps) once the child waits.
static GATE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(0);

async fn held(name: String) -> Result<String, String> {
    GATE.acquire().await.expect("gate open").forget();
    count(&format!("held {name}"));
    Ok(format!("held {name}"))
}

#[workflow]
async fn held_greeting(ctx: &mut Context, name: String) -> Result<String, String> {
    let text = ctx.task(held, name).await?;
    Ok(text)
}

#[workflow]
async fn held_failure(ctx: &mut Context, name: String) -> Result<String, String> {
    let text = ctx.task(held, name).await?;
    Err(format!("refused after {text}"))
}

/// Fails its first call in the parent's process, so that the run has to be resumed.
static FAILED_ONCE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

async fn flaky(name: String) -> Result<String, String> {
    count(&format!("flaky {name}"));
    if !FAILED_ONCE.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return Err("not yet".to_owned());
    }
    Ok(format!("finally {name}"))
}

#[workflow]
async fn flaky_greeting(ctx: &mut Context, name: String) -> Result<String, String> {
    let text = ctx.task(greet, name).await?;
    let text = ctx.task(flaky, text).await?;
    Ok(text)
}

/// What a child does, chosen by the parent's parameter.
const STARTER: u64 = 0;
const WAITER: u64 = 1;
const STARTER_THEN_EXIT: u64 = 2;
const RESUMER: u64 = 3;

/// A failure of the test rather than a hang: the child reports a timeout instead.
const PATIENCE: Duration = Duration::from_secs(20);

#[test]
fn child_entry() {
    if child_dir().is_none() {
        return;
    }
    tokio_runtime().block_on(async move {
        match param() {
            STARTER => starter().await,
            WAITER => waiter().await,
            STARTER_THEN_EXIT => {
                let client = client_only();
                let run = client
                    .start_json(
                        "greeting",
                        json!({ "name": format!("dora{}", generation()) }),
                    )
                    .await
                    .expect("start");
                report(&format!("started {run}"));
            }
            RESUMER => {
                let client = client_only();
                let run = client.list(Some(Status::Failed)).expect("list")[0].id;
                client.resume(run).await.expect("resume");
                match tokio::time::timeout(PATIENCE, client.wait(flaky_greeting, run)).await {
                    Ok(output) => report(&format!("output {}", output.expect("completes"))),
                    Err(_) => report("output timed out"),
                }
            }
            other => panic!("unknown child mode {other}"),
        }
    });
}

/// Opens the parent's store client-only, with the workflows registered for typed calls.
fn client_only() -> Client {
    parent_store()
        .runtime()
        .register(greeting)
        .register(held_greeting)
        .register(held_failure)
        .register(flaky_greeting)
        .client_only()
        .start()
        .expect("client opens")
        .client()
}

/// Starts runs in a process that runs nothing, and waits for them.
async fn starter() {
    let client = client_only();
    let run = client
        .start(greeting, "bob".to_owned())
        .await
        .expect("start");
    report(&format!("started {run}"));
    match tokio::time::timeout(PATIENCE, client.wait(greeting, run)).await {
        Ok(output) => report(&format!("output {}", output.expect("run completes"))),
        Err(_) => report("output timed out"),
    }
    report(&format!(
        "status {}",
        client.status(run).expect("status").status
    ));
    // Keyed by parameter name, as users write it.
    let input = json!({ "name": "carol" });
    match tokio::time::timeout(PATIENCE, client.run_json("greeting", input)).await {
        Ok(output) => report(&format!("json {}", output.expect("run completes"))),
        Err(_) => report("json timed out"),
    }
}

/// Waits for the runs the parent started (the parent runs them), one completes, one fails.
async fn waiter() {
    let client = client_only();
    let runs = client.list(None).expect("list");
    assert_eq!(runs.len(), 2, "{runs:?}");
    for run in &runs {
        assert!(!run.status.is_finished(), "{run:?}");
    }
    report("waiting");
    let (done, doomed) = (runs[0].id, runs[1].id);
    match tokio::time::timeout(PATIENCE, client.wait(held_greeting, done)).await {
        Ok(output) => report(&format!("output {}", output.expect("run completes"))),
        Err(_) => report("output timed out"),
    }
    report(&format!("status {}", client.status(done).unwrap().status));
    match tokio::time::timeout(PATIENCE, client.wait_json(doomed)).await {
        Ok(Err(Error::RunFailed { run, message })) => {
            report(&format!("failed {run} {message}"));
        }
        Ok(other) => report(&format!("failed? {other:?}")),
        Err(_) => report("failed timed out"),
    }
    report(&format!("status {}", client.status(doomed).unwrap().status));
}

fn runtime(store: &BackendUnderTest) -> Runtime {
    store
        .runtime()
        .register(greeting)
        .register(held_greeting)
        .register(held_failure)
        .register(flaky_greeting)
        .start()
        .unwrap()
}

#[test]
fn a_run_started_by_a_client_only_process_is_run_by_the_runtime_already_running() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    tokio_runtime().block_on(async {
        // The default poll interval: nothing in this process is told about the new runs.
        let runtime = runtime(&store);
        let mut child = Proc::spawn(module_path!(), &store, dir.path(), 0, STARTER);
        assert_eq!(child.until("started"), "started 1");
        assert_eq!(child.until("output"), "output hello bob");
        assert_eq!(child.until("status"), "status completed");
        assert_eq!(child.until("json"), "json \"hello carol\"");
        child.exit();
        let client = runtime.client();
        assert_eq!(client.result(greeting, RunId(1)).unwrap(), "hello bob");
        assert_eq!(client.result(greeting, RunId(2)).unwrap(), "hello carol");
        runtime.shutdown().await;
    });
    // Each run ran its step once, in this process.
    assert_eq!(counts("greet bob"), 1, "{:?}", read_log(log_dir()));
    assert_eq!(counts("greet carol"), 1, "{:?}", read_log(log_dir()));
}

#[test]
fn a_client_only_wait_returns_when_another_process_finishes_the_run() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    tokio_runtime().block_on(async {
        let runtime = runtime(&store);
        let client = runtime.client();
        let done = client.start(held_greeting, "eve".to_owned()).await.unwrap();
        let doomed = client.start(held_failure, "fay".to_owned()).await.unwrap();
        let mut child = Proc::spawn(module_path!(), &store, dir.path(), 0, WAITER);
        assert_eq!(child.until("waiting"), "waiting");
        // Only now can the runs finish; the child learns of it from the store alone.
        GATE.add_permits(2);
        assert_eq!(child.until("output"), "output held eve");
        assert_eq!(child.until("status"), "status completed");
        assert_eq!(
            child.until("failed"),
            format!("failed {doomed} refused after held fay")
        );
        assert_eq!(child.until("status"), "status failed");
        child.exit();
        assert_eq!(client.status(done).unwrap().status, Status::Completed);
        runtime.shutdown().await;
    });
    assert_eq!(counts("held eve"), 1);
    assert_eq!(counts("held fay"), 1);
}

#[test]
fn a_run_started_while_no_runtime_runs_is_run_once_by_the_next_runtime() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    // Started and handed over while nothing runs workflows.
    let mut child = Proc::spawn(module_path!(), &store, dir.path(), 0, STARTER_THEN_EXIT);
    assert_eq!(child.until("started"), "started 1");
    child.exit();
    tokio_runtime().block_on(async {
        // Start-up resumes run 1, and the watcher finds the hand-over the child left for it:
        // the run must still run once (the rule itself is unit-tested in the runtime crate,
        // `handover_tests.rs`, where the order of the two can be forced).
        let runtime = store
            .runtime()
            .register(greeting)
            .answer_poll_interval(Duration::from_millis(1))
            .start()
            .unwrap();
        let client = runtime.client();
        assert_eq!(
            client.wait(greeting, RunId(1)).await.unwrap(),
            "hello dora0"
        );
        // A second run handed over while the runtime runs: the poller reads hand-overs in
        // order, so once run 2 is done, run 1's was dealt with too.
        let mut child = Proc::spawn(module_path!(), &store, dir.path(), 1, STARTER_THEN_EXIT);
        assert_eq!(child.until("started"), "started 2");
        child.exit();
        let waited = tokio::time::timeout(PATIENCE, client.wait(greeting, RunId(2))).await;
        assert_eq!(waited.expect("picked up").unwrap(), "hello dora1");
        while runtime.live_runs() > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        runtime.shutdown().await;
    });
    assert_eq!(counts("greet dora0"), 1, "{:?}", read_log(log_dir()));
    assert_eq!(counts("greet dora1"), 1, "{:?}", read_log(log_dir()));
}

#[test]
fn a_failed_run_resumed_by_a_client_only_process_is_finished_by_the_running_runtime() {
    if child_dir().is_some() {
        return;
    }
    tokio_runtime().block_on(async {
        let store = fresh_store();
        let dir = tempfile::tempdir().unwrap();
        let runtime = runtime(&store);
        let client = runtime.client();
        let run = client
            .start(flaky_greeting, "gus".to_owned())
            .await
            .unwrap();
        let failed = client.wait(flaky_greeting, run).await;
        assert!(matches!(failed, Err(Error::RunFailed { .. })), "{failed:?}");
        let mut child = Proc::spawn(module_path!(), &store, dir.path(), 0, RESUMER);
        assert_eq!(child.until("output"), "output finally hello gus");
        child.exit();
        runtime.shutdown().await;
    });
    // The committed step did not run again; the failed one ran twice.
    assert_eq!(counts("greet gus"), 1);
    assert_eq!(counts("flaky hello gus"), 2);
}
