//! Events and retry attempts across SIGKILL. An event sent (from another process, which does
//! not register the workflow) to a run that is not waiting yet survives the kill of the process
//! that runs it and is delivered after the restart; one sent to a parked run just before the
//! kill likewise; a runtime that is running picks up an event sent from another process. A
//! retrying step killed in its backoff continues at the right attempt, so the
//! attempts across the kill number `max_attempts`. Step counters are lines in an append-only
//! file, which survive the kills.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use cairn::{Clock, Context, Error, Flow, RetryPolicy, Sleep, Status, workflow};
use serde::{Deserialize, Serialize};

use super::process::{Proc, child_dir, log, param, parent_store, read_log, report, tokio_runtime};
use super::{Backend, fresh_store};

#[derive(Debug, Serialize, Deserialize)]
struct Payment {
    cents: u64,
}

async fn prepare(order: String) -> Result<String, String> {
    log("prepare");
    Ok(format!("prepared {order}"))
}

async fn finish(prepared: String, cents: u64) -> Result<String, String> {
    log("finish");
    Ok(format!("{prepared}, paid {cents}"))
}

#[workflow]
async fn paid_order(ctx: &mut Context, order: String) -> Result<String, String> {
    let prepared = ctx.task(prepare, order).await?;
    let payment = ctx.wait_for_event::<Payment>("paid").await?;
    let done = ctx.task(finish, prepared, payment.cents).await?;
    Ok(done)
}

async fn unavailable(n: u32) -> Result<u32, String> {
    log("attempt");
    Err(format!("unavailable {n}"))
}

#[workflow]
async fn retried(ctx: &mut Context, n: u32) -> Result<u32, String> {
    let m = ctx
        .step_fn("call", || unavailable(n))
        .retry(RetryPolicy::fixed(3, Duration::from_millis(300)))
        .await?;
    Ok(m)
}

/// What a child does, chosen by the parent's parameter.
const HALT_AFTER_FIRST_STEP: u64 = 0;
const PARK: u64 = 1;
const FINISH: u64 = 2;
const RETRY_UNTIL_BACKOFF: u64 = 3;
const RETRY: u64 = 4;
const PARK_THEN_FINISH: u64 = 5;

#[test]
fn child_entry() {
    if child_dir().is_none() {
        return;
    }
    tokio_runtime().block_on(async move {
        match param() {
            HALT_AFTER_FIRST_STEP => halt_after_first_step().await,
            PARK => park().await,
            FINISH => finish_run().await,
            RETRY_UNTIL_BACKOFF => retry_until_backoff().await,
            RETRY => retry().await,
            PARK_THEN_FINISH => park_then_finish().await,
            other => panic!("unknown child mode {other}"),
        }
    });
}

/// Starts the run and stops it right after its first step is committed, short of its wait:
/// it is running, not waiting. Then stays up until killed.
async fn halt_after_first_step() {
    let runtime = parent_store()
        .runtime()
        .register(paid_order)
        .on_transition(|t| {
            if t.number == 1 {
                Flow::Halt
            } else {
                Flow::Continue
            }
        })
        .start()
        .expect("runtime starts");
    let client = runtime.client();
    let run = client
        .start(paid_order, "o-1".to_owned())
        .await
        .expect("start");
    let halted = client.wait(paid_order, run).await;
    assert!(matches!(halted, Err(Error::Halted { .. })), "{halted:?}");
    report(&format!("halted {run}"));
    std::future::pending::<()>().await;
}

/// Starts the run and reports once it is parked on its wait. Then stays up until killed.
async fn park() {
    let runtime = parent_store()
        .runtime()
        .register(paid_order)
        .answer_poll_interval(Duration::from_millis(5))
        .start()
        .expect("runtime starts");
    let client = runtime.client();
    let run = client
        .start(paid_order, "o-2".to_owned())
        .await
        .expect("start");
    let status = client
        .wait_for_status(run, Status::Waiting)
        .await
        .expect("status");
    assert_eq!(status.status, Status::Waiting);
    report(&format!("waiting {run}"));
    std::future::pending::<()>().await;
}

/// Starts the run, reports once it is parked, then waits for it to finish here.
async fn park_then_finish() {
    let runtime = parent_store()
        .runtime()
        .register(paid_order)
        .answer_poll_interval(Duration::from_millis(20))
        .start()
        .expect("runtime starts");
    let client = runtime.client();
    let run = client
        .start(paid_order, "o-3".to_owned())
        .await
        .expect("start");
    client
        .wait_for_status(run, Status::Waiting)
        .await
        .expect("status");
    report(&format!("waiting {run}"));
    let output = client.wait(paid_order, run).await.expect("run completes");
    report(&format!("output {output}"));
    runtime.shutdown().await;
}

/// Resumes the one run and reports its output.
async fn finish_run() {
    let runtime = parent_store()
        .runtime()
        .register(paid_order)
        .start()
        .expect("runtime starts");
    let client = runtime.client();
    let run = client.list(None).expect("list")[0].id;
    let output = client.wait(paid_order, run).await.expect("run completes");
    report(&format!("output {output}"));
    runtime.shutdown().await;
}

/// The system clock, except that the first sleep (the step's first backoff, committed just
/// before it) is reported and never ends: the parent kills the process during it.
struct HangInBackoff(AtomicBool);

impl Clock for HangInBackoff {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep_until(&self, deadline: SystemTime) -> Sleep {
        if self.0.swap(true, Ordering::SeqCst) {
            return cairn::SystemClock.sleep_until(deadline);
        }
        report("backoff");
        Box::pin(std::future::pending())
    }
}

async fn retry_until_backoff() {
    let runtime = parent_store()
        .runtime()
        .register(retried)
        .clock(HangInBackoff(AtomicBool::new(false)))
        .start()
        .expect("runtime starts");
    runtime.client().start(retried, 7).await.expect("start");
    std::future::pending::<()>().await;
}

async fn retry() {
    let runtime = parent_store()
        .runtime()
        .register(retried)
        .start()
        .expect("runtime starts");
    let client = runtime.client();
    let run = client.list(None).expect("list")[0].id;
    match client.wait(retried, run).await {
        Err(Error::RunFailed { message, .. }) => report(&format!("failed {message}")),
        other => panic!("expected the run to fail, got {other:?}"),
    }
    runtime.shutdown().await;
}

fn count(dir: &std::path::Path, name: &str) -> usize {
    read_log(dir).iter().filter(|l| *l == name).count()
}

/// Sends `payment` to `run` from this process, which registers no workflow: the payload is
/// checked when delivered.
fn send_from_here(store: &impl Backend, run: cairn::RunId, cents: u64) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let client = store.client().expect("client opens");
            client
                .send(run, "paid", &Payment { cents })
                .await
                .expect("event sent");
        });
}

#[test]
fn an_event_sent_before_the_run_waits_survives_a_kill() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    let mut first = Proc::spawn(module_path!(), &store, dir.path(), 0, HALT_AFTER_FIRST_STEP);
    let line = first.until("halted");
    let run = cairn::RunId(line["halted ".len()..].parse().unwrap());
    send_from_here(&store, run, 1500);
    first.kill();

    let mut second = Proc::spawn(module_path!(), &store, dir.path(), 1, FINISH);
    assert_eq!(second.until("output"), "output prepared o-1, paid 1500");
    second.exit();
    let log = read_log(dir.path());
    assert_eq!(count(dir.path(), "prepare"), 1, "{log:?}");
    assert_eq!(count(dir.path(), "finish"), 1, "{log:?}");
}

#[test]
fn an_event_sent_to_a_parked_run_just_before_a_kill_is_delivered_once() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    let mut first = Proc::spawn(module_path!(), &store, dir.path(), 0, PARK);
    let line = first.until("waiting");
    let run = cairn::RunId(line["waiting ".len()..].parse().unwrap());
    // The first process may take the event and finish, or be killed before: either way the
    // run finishes once, with it.
    send_from_here(&store, run, 800);
    first.kill();

    let mut second = Proc::spawn(module_path!(), &store, dir.path(), 1, FINISH);
    assert_eq!(second.until("output"), "output prepared o-2, paid 800");
    second.exit();
    let log = read_log(dir.path());
    assert_eq!(count(dir.path(), "prepare"), 1, "{log:?}");
    assert!(count(dir.path(), "finish") >= 1, "{log:?}");
}

#[test]
fn a_step_killed_in_its_backoff_makes_max_attempts_in_all() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    let mut first = Proc::spawn(module_path!(), &store, dir.path(), 0, RETRY_UNTIL_BACKOFF);
    first.until("backoff");
    first.kill();
    assert_eq!(count(dir.path(), "attempt"), 1);

    let mut second = Proc::spawn(module_path!(), &store, dir.path(), 1, RETRY);
    assert_eq!(second.until("failed"), "failed unavailable 7");
    second.exit();
    let log = read_log(dir.path());
    assert_eq!(
        count(dir.path(), "attempt"),
        3,
        "max_attempts across the kill: {log:?}"
    );
}

#[test]
fn a_running_runtime_picks_up_an_event_sent_from_another_process() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    let mut worker = Proc::spawn(module_path!(), &store, dir.path(), 0, PARK_THEN_FINISH);
    let line = worker.until("waiting");
    let run = cairn::RunId(line["waiting ".len()..].parse().unwrap());
    // Nothing in the worker is told: its watcher finds the run handed over, by polling.
    send_from_here(&store, run, 450);
    assert_eq!(worker.until("output"), "output prepared o-3, paid 450");
    worker.exit();
    assert_eq!(count(dir.path(), "prepare"), 1);
    assert_eq!(count(dir.path(), "finish"), 1);
}
