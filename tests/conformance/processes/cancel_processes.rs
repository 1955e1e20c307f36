//! Cancel and pause from a second process. A run is brought to a status by a runtime in one
//! child (pending: stored while no runtime runs; running: inside a step held by a gate file;
//! sleeping; waiting for a person; paused), a client-only child cancels it, and a runtime
//! started again in a third child finds it cancelled, in no index (no live task, no sleep, no
//! question waiting or pending), and runs none of its steps. A paused run survives a SIGKILL
//! of its runtime paused, and once unpaused from another process it finishes with the right
//! output. Step executions are lines in an append-only file, which survive the kills.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use cairn::{Answer, Client, Context, Error, Question, RunId, Runtime, Status, workflow};

use super::process::{
    Proc, append_line, child_dir, param, parent_store, read_log, report, tokio_runtime,
};
use super::{Backend, BackendUnderTest, fresh_store};

/// The child's directory: its step log, and the gate file of [`gated`].
static LOG_DIR: OnceLock<PathBuf> = OnceLock::new();

fn count(line: &str) {
    let dir = LOG_DIR.get().expect("log dir set");
    append_line(&dir.join("log"), line).expect("write log");
}

async fn one(x: u64) -> Result<u64, String> {
    count("one");
    Ok(x + 1)
}

/// Tells the parent it has started, then holds until the parent creates the file `open`.
async fn gated(x: u64) -> Result<u64, String> {
    count("gated");
    report("in gated step");
    let gate = LOG_DIR.get().expect("log dir set").join("open");
    while !gate.exists() {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    count("gated done");
    Ok(x * 10)
}

async fn three(x: u64) -> Result<u64, String> {
    count("three");
    Ok(x + 3)
}

#[workflow]
async fn napper(ctx: &mut Context, x: u64) -> Result<u64, String> {
    let a = ctx.task(one, x).await?;
    ctx.sleep(Duration::from_secs(3600)).await?;
    let b = ctx.task(three, a).await?;
    Ok(b)
}

#[workflow]
async fn asker(ctx: &mut Context, x: u64) -> Result<u64, String> {
    let a = ctx.task(one, x).await?;
    ctx.wait_for_user(Question::approval("go on?")).await?;
    let b = ctx.task(three, a).await?;
    Ok(b)
}

#[workflow]
async fn slow(ctx: &mut Context, x: u64) -> Result<u64, String> {
    let a = ctx.task(one, x).await?;
    let b = ctx.task(gated, a).await?;
    let c = ctx.task(three, b).await?;
    Ok(c)
}

/// What a child does: the parent's parameter is `mode + 100 * run`.
const STORE_PENDING: u64 = 1;
const RUN_RUNNING: u64 = 2;
const RUN_SLEEPING: u64 = 3;
const RUN_WAITING: u64 = 4;
const CANCEL: u64 = 5;
const PAUSE: u64 = 6;
const CHECK: u64 = 7;
const FINISH_PAUSED: u64 = 8;
const UNPAUSE: u64 = 9;

fn param_of(mode: u64, run: RunId) -> u64 {
    mode + 100 * run.0
}

#[test]
fn child_entry() {
    let Some(dir) = child_dir() else { return };
    LOG_DIR.set(dir).expect("set once");
    let (mode, run) = (param() % 100, RunId(param() / 100));
    tokio_runtime().block_on(async move {
        match mode {
            STORE_PENDING => {
                let run = client_only().start(napper, 1).await.expect("start");
                report(&format!("ready {run}"));
            }
            RUN_RUNNING => run_running().await,
            RUN_SLEEPING => run_until(napper, Status::Waiting).await,
            RUN_WAITING => run_until(asker, Status::Waiting).await,
            CANCEL => cancel(run).await,
            PAUSE => {
                let client = client_only();
                client.pause(run).await.expect("pause");
                report(&format!("paused {}", client.status(run).unwrap().status));
            }
            CHECK => check(run).await,
            FINISH_PAUSED => finish_paused(run).await,
            UNPAUSE => {
                client_only().unpause(run).await.expect("unpause");
                report("unpaused");
            }
            other => panic!("unknown child mode {other}"),
        }
    });
}

fn runtime() -> Runtime {
    parent_store()
        .runtime()
        // Without the start-up repair of the indexes, which would hide an entry left behind.
        .startup_check_limit(0)
        .register(napper)
        .register(asker)
        .register(slow)
        .answer_poll_interval(Duration::from_millis(10))
        .start()
        .expect("runtime starts")
}

fn client_only() -> Client {
    parent_store()
        .runtime()
        .register(napper)
        .register(asker)
        .register(slow)
        .client_only()
        .start()
        .expect("client opens")
        .client()
}

/// Starts a run of `workflow`, reports it once it has `status`, then runs until killed.
async fn run_until<W: cairn::Workflow<Input = u64, Output = u64>>(workflow: W, status: Status) {
    let runtime = runtime();
    let client = runtime.client();
    let run = client.start(workflow, 1).await.expect("start");
    let reached = client.wait_for_status(run, status).await.expect("status");
    assert_eq!(reached.status, status);
    report(&format!("ready {run}"));
    // Cancelled from another process, the run ends for this process's `wait` too.
    let ended = client.wait(workflow, run).await;
    report(&format!("ended {ended:?}"));
    std::future::pending::<()>().await;
}

/// Starts a run of `slow` (its step `gated` reports), then reports how it stops here once
/// cancelled or paused from another process, with its task gone.
async fn run_running() {
    let runtime = runtime();
    let client = runtime.client();
    let run = client.start(slow, 1).await.expect("start");
    report(&format!("ready {run}"));
    let reached = client
        .wait_for_status(run, Status::Paused)
        .await
        .expect("status");
    while runtime.live_runs() > 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    report(&format!("status {}", reached.status));
    if reached.status == Status::Cancelled {
        let ended = client.wait(slow, run).await;
        report(&format!("ended {ended:?}"));
    }
    std::future::pending::<()>().await;
}

/// Cancels `run` from a process that runs nothing, then checks what a cancelled run refuses.
async fn cancel(run: RunId) {
    let client = client_only();
    client.cancel(run).await.expect("cancel");
    let status = client.status(run).unwrap().status;
    // Idempotent.
    client.cancel(run).await.expect("cancel again");
    // A late answer finds nothing to answer.
    let answered = client.answer(run, Answer::Approved).await;
    let refused = matches!(answered, Err(Error::NotWaiting { .. }));
    report(&format!("cancelled {status} answer-refused={refused}"));
}

/// A runtime started again: reports the run and every index a runtime reads.
async fn check(run: RunId) {
    let runtime = runtime();
    let client = runtime.client();
    let status = client.status(run).unwrap().status;
    let waited = client.wait_json(run).await;
    report(&format!(
        "checked {status} live={} sleeping={} waiting={} pending={} wait={}",
        runtime.live_runs(),
        runtime.sleeping_runs(),
        runtime.waiting_for_answers(),
        client.pending_questions().unwrap().len(),
        matches!(waited, Err(Error::Cancelled { run: r }) if r == run),
    ));
    runtime.shutdown().await;
}

/// A runtime started again after a SIGKILL: reports the paused run, then waits for another
/// process to unpause it and reports its output.
async fn finish_paused(run: RunId) {
    let runtime = runtime();
    let client = runtime.client();
    report(&format!(
        "restarted {} live={}",
        client.status(run).unwrap().status,
        runtime.live_runs()
    ));
    let output = tokio::time::timeout(Duration::from_secs(20), client.wait(slow, run)).await;
    report(&format!("output {:?}", output.expect("finished in time")));
    runtime.shutdown().await;
}

/// Cancels `run` from a second process, kills the runtime's process (`worker`, if one runs),
/// restarts the runtime in a third, and checks that the run stays cancelled and in no index.
fn cancel_and_check(store: &BackendUnderTest, dir: &Path, run: RunId, worker: Option<Proc>) {
    let mut canceller = Proc::spawn(module_path!(), store, dir, 1, param_of(CANCEL, run));
    // Cancelled in the write: no step of it is in flight.
    assert_eq!(
        canceller.until("cancelled"),
        "cancelled cancelled answer-refused=true"
    );
    canceller.exit();
    if let Some(mut worker) = worker {
        assert_eq!(
            worker.until("ended"),
            format!("ended Err(Cancelled {{ run: {run:?} }})")
        );
        worker.kill();
    }
    let mut checker = Proc::spawn(module_path!(), store, dir, 2, param_of(CHECK, run));
    assert_eq!(
        checker.until("checked"),
        "checked cancelled live=0 sleeping=0 waiting=0 pending=0 wait=true"
    );
    checker.exit();
}

/// Starts run 1 in a worker process, and once its gated step is running, cancels it from a
/// second process: the cancel is a request while the step runs (the run is still running,
/// and a late answer is refused). Returns the worker, its step still in flight.
fn cancel_mid_step(store: &BackendUnderTest, dir: &Path) -> Proc {
    let mut worker = Proc::spawn(module_path!(), store, dir, 0, RUN_RUNNING);
    assert_eq!(worker.until("ready"), "ready 1");
    assert_eq!(worker.until("in gated step"), "in gated step");
    let mut canceller = Proc::spawn(module_path!(), store, dir, 1, param_of(CANCEL, RunId(1)));
    assert_eq!(
        canceller.until("cancelled"),
        "cancelled running answer-refused=true"
    );
    canceller.exit();
    worker
}

#[test]
fn a_pending_run_cancelled_from_another_process_never_runs() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    // Stored (and handed over) while no runtime runs: pending.
    let mut starter = Proc::spawn(module_path!(), &store, dir.path(), 0, STORE_PENDING);
    assert_eq!(starter.until("ready"), "ready 1");
    starter.exit();
    cancel_and_check(&store, dir.path(), RunId(1), None);
    assert_eq!(read_log(dir.path()), Vec::<String>::new());
}

#[test]
fn a_running_run_cancelled_mid_step_from_another_process_starts_no_further_step() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    let mut worker = cancel_mid_step(&store, dir.path());
    // The step in flight finishes; its commit cancels the run instead.
    std::fs::write(dir.path().join("open"), b"").unwrap();
    assert_eq!(worker.until("status"), "status cancelled");
    assert_eq!(
        worker.until("ended"),
        "ended Err(Cancelled { run: RunId(1) })"
    );
    worker.kill();
    let mut checker = Proc::spawn(
        module_path!(),
        &store,
        dir.path(),
        2,
        param_of(CHECK, RunId(1)),
    );
    assert_eq!(
        checker.until("checked"),
        "checked cancelled live=0 sleeping=0 waiting=0 pending=0 wait=true"
    );
    checker.exit();
    let log = read_log(dir.path());
    assert_eq!(log, ["one", "gated", "gated done"], "{log:?}");
}

#[test]
fn a_sleeping_run_cancelled_from_another_process_never_wakes() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    let mut worker = Proc::spawn(module_path!(), &store, dir.path(), 0, RUN_SLEEPING);
    assert_eq!(worker.until("ready"), "ready 1");
    cancel_and_check(&store, dir.path(), RunId(1), Some(worker));
    assert_eq!(read_log(dir.path()), ["one"]);
}

#[test]
fn a_run_waiting_for_a_person_cancelled_from_another_process_is_no_longer_asked() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    let mut worker = Proc::spawn(module_path!(), &store, dir.path(), 0, RUN_WAITING);
    assert_eq!(worker.until("ready"), "ready 1");
    cancel_and_check(&store, dir.path(), RunId(1), Some(worker));
    assert_eq!(read_log(dir.path()), ["one"]);
}

#[test]
fn a_paused_run_cancelled_from_another_process_stays_cancelled() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    let mut worker = Proc::spawn(module_path!(), &store, dir.path(), 0, RUN_SLEEPING);
    assert_eq!(worker.until("ready"), "ready 1");
    // Paused while it sleeps: from then on a paused run.
    let mut pauser = Proc::spawn(
        module_path!(),
        &store,
        dir.path(),
        1,
        param_of(PAUSE, RunId(1)),
    );
    assert_eq!(pauser.until("paused"), "paused paused");
    pauser.exit();
    cancel_and_check(&store, dir.path(), RunId(1), Some(worker));
    assert_eq!(read_log(dir.path()), ["one"]);
}

#[test]
fn a_paused_run_survives_a_sigkill_paused_and_finishes_once_unpaused() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    let mut worker = Proc::spawn(module_path!(), &store, dir.path(), 0, RUN_RUNNING);
    assert_eq!(worker.until("ready"), "ready 1");
    assert_eq!(worker.until("in gated step"), "in gated step");
    // Asked while the step runs: the run commits that step, then holds.
    let mut pauser = Proc::spawn(
        module_path!(),
        &store,
        dir.path(),
        1,
        param_of(PAUSE, RunId(1)),
    );
    assert_eq!(pauser.until("paused"), "paused running");
    pauser.exit();
    std::fs::write(dir.path().join("open"), b"").unwrap();
    // Its task is gone.
    assert_eq!(worker.until("status"), "status paused");
    worker.kill();

    let mut restarted = Proc::spawn(
        module_path!(),
        &store,
        dir.path(),
        2,
        param_of(FINISH_PAUSED, RunId(1)),
    );
    assert_eq!(restarted.until("restarted"), "restarted paused live=0");
    // No step ran at the restart.
    assert_eq!(read_log(dir.path()), ["one", "gated", "gated done"]);
    let mut unpauser = Proc::spawn(
        module_path!(),
        &store,
        dir.path(),
        3,
        param_of(UNPAUSE, RunId(1)),
    );
    assert_eq!(unpauser.until("unpaused"), "unpaused");
    unpauser.exit();
    // 1 + 1 = 2, * 10 = 20, + 3 = 23; the committed steps did not run again.
    assert_eq!(restarted.until("output"), "output Ok(23)");
    restarted.exit();
    assert_eq!(
        read_log(dir.path()),
        ["one", "gated", "gated done", "three"]
    );
}

#[test]
fn a_run_asked_to_cancel_whose_runtime_dies_mid_step_is_cancelled_at_the_restart() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    let worker = cancel_mid_step(&store, dir.path());
    // Killed inside the step: the request is all that is left of the cancel.
    worker.kill();
    let mut checker = Proc::spawn(
        module_path!(),
        &store,
        dir.path(),
        2,
        param_of(CHECK, RunId(1)),
    );
    assert_eq!(
        checker.until("checked"),
        "checked cancelled live=0 sleeping=0 waiting=0 pending=0 wait=true"
    );
    checker.exit();
    // The step in flight at the kill did not run again.
    assert_eq!(read_log(dir.path()), ["one", "gated"]);
}
