//! Processes that share one PostgreSQL schema as hosts would (cargo feature `postgres`): the
//! client in the test process, workers and a client-only answerer in child processes, each
//! with its own worker id. Step executions are lines in an append-only log, which survives a
//! SIGKILL.
//!
//! - A timer set by a worker that died fires on another: a run sleeps durably on worker A,
//!   A is SIGKILLed, worker B starts after the kill (so it learns of the timer from the
//!   database, not from a notification), the sleep's due time passes, and B finishes the run;
//!   the step before the sleep ran once (on A), the step after it once (on B), and not
//!   before the due time.
//! - An answer given by a third process reaches the waiting run: the test process starts a
//!   run, a worker process runs it until it waits for a person, a client-only process answers,
//!   and the worker (whose poll is a minute, so only the answer's notification wakes it in
//!   time) finishes the run; the test process reads the output.

mod postgres_common;

use std::time::{Duration, Instant};

use cairn::{Answer, Context, Question, Runtime, Status, workflow};
use postgres_common::{
    Store, child_dir, count_in_log, eventually, log, param, read_log, report, scenario, within,
};

/// The worker's name in the log: the child's parameter.
fn me() -> u64 {
    param() % 100
}

async fn mark(what: String) -> Result<String, String> {
    log(&format!("{what} {}", me()));
    Ok(format!("{what} on {}", me()))
}

/// The durable sleep of the timer test.
const NAP: Duration = Duration::from_secs(3);

#[workflow]
async fn napper(ctx: &mut Context, secs: u64) -> Result<Vec<String>, String> {
    let before = ctx.task(mark, "before".to_owned()).await?;
    ctx.sleep(Duration::from_secs(secs)).await?;
    let after = ctx.task(mark, "after".to_owned()).await?;
    Ok(vec![before, after])
}

#[workflow]
async fn approval(ctx: &mut Context, change: String) -> Result<String, String> {
    let asked = ctx.task(mark, format!("ask-{change}")).await?;
    let answer = ctx
        .wait_for_user(Question::approval(format!("{asked}: deploy?")))
        .await?;
    if !answer.is_approved() {
        return Ok(format!("refused: {answer}"));
    }
    let done = ctx.task(mark, format!("deploy-{change}")).await?;
    Ok(done)
}

/// Roles of a child (the parameter's hundreds; its units are the worker's name).
const WORKER: u64 = 0;
const ANSWERER: u64 = 100;

#[test]
fn child_entry() {
    if child_dir().is_none() {
        return;
    }
    let store = Store::from_parent();
    postgres_common::tokio_runtime().block_on(async move {
        match param() / 100 * 100 {
            WORKER => {
                let _runtime = Runtime::builder()
                    .postgres(store.options().worker_id(format!("host-{}", me())))
                    .register(napper)
                    .register(approval)
                    // Only a notification wakes it in time for an answer.
                    .answer_poll_interval(Duration::from_secs(60))
                    .start()
                    .expect("worker starts");
                report("ready");
                std::future::pending::<()>().await;
            }
            ANSWERER => {
                let client = Runtime::builder()
                    .postgres(store.options())
                    .client_only()
                    .start()
                    .expect("client opens")
                    .client();
                let pending = client.pending_questions().expect("pending questions");
                assert_eq!(pending.len(), 1, "{pending:?}");
                let answer = client
                    .answer(pending[0].run, Answer::Approved)
                    .await
                    .expect("answer accepted");
                report(&format!("answered {} {answer}", pending[0].run));
            }
            other => panic!("unknown role {other}"),
        }
    });
}

/// A client-only runtime on `store` in the test process.
fn client(store: &Store) -> cairn::Client {
    store.client(Runtime::builder().register(napper).register(approval))
}

#[test]
fn a_timer_set_by_a_worker_that_died_fires_on_another() {
    let Some((store, dir)) = scenario(Duration::from_secs(2)) else {
        return;
    };
    let tokio = postgres_common::tokio_runtime();
    let _guard = tokio.enter();
    let client = client(&store);
    let a = store.start_worker(dir.path(), WORKER + 1);
    let started = Instant::now();
    let run = tokio.block_on(client.start(napper, NAP.as_secs())).unwrap();
    // The sleep is committed: the run waits on disk for its timer.
    eventually(
        Duration::from_secs(10),
        "the run asleep on worker 1",
        || client.status(run).unwrap().status == Status::Waiting,
    );
    a.kill();
    assert_eq!(count_in_log(dir.path(), "before 1"), 1);
    let b = store.start_worker(dir.path(), WORKER + 2);
    assert!(
        started.elapsed() < NAP,
        "worker 2 started after the sleep's due time ({:?}): the test proves nothing on a \
         machine this slow",
        started.elapsed()
    );
    let output = within(
        &tokio,
        Duration::from_secs(30),
        "worker 2 finishes the run within 30 s",
        client.wait(napper, run),
    )
    .unwrap();
    let took = started.elapsed();
    assert_eq!(
        output,
        vec!["before on 1".to_owned(), "after on 2".to_owned()]
    );
    assert!(took >= NAP, "the timer fired early, after {took:?}");
    assert_eq!(
        count_in_log(dir.path(), "before 1"),
        1,
        "{:?}",
        read_log(dir.path())
    );
    assert_eq!(
        count_in_log(dir.path(), "after 2"),
        1,
        "{:?}",
        read_log(dir.path())
    );
    assert_eq!(read_log(dir.path()).len(), 2, "{:?}", read_log(dir.path()));
    eprintln!("the dead worker's timer fired on another {took:?} after the start (sleep {NAP:?})");
    b.kill();
}

#[test]
fn an_answer_given_by_a_third_process_reaches_the_run_waiting_in_a_worker() {
    let Some((store, dir)) = scenario(Duration::from_secs(5)) else {
        return;
    };
    let tokio = postgres_common::tokio_runtime();
    let _guard = tokio.enter();
    let client = client(&store);
    let worker = store.start_worker(dir.path(), WORKER + 3);
    let run = tokio
        .block_on(client.start(approval, "v7".to_owned()))
        .unwrap();
    eventually(
        Duration::from_secs(10),
        "the run waiting for a person",
        || client.status(run).unwrap().status == Status::Waiting,
    );
    let answered_at = Instant::now();
    let mut answerer = store.spawn("child_entry", dir.path(), ANSWERER);
    assert_eq!(
        answerer.until("answered"),
        format!("answered {run} approved")
    );
    answerer.exit();
    let output = within(
        &tokio,
        Duration::from_secs(10),
        "the worker finishes the run long before its one-minute poll",
        client.wait(approval, run),
    )
    .unwrap();
    assert_eq!(output, "deploy-v7 on 3");
    assert_eq!(
        read_log(dir.path()),
        vec!["ask-v7 3".to_owned(), "deploy-v7 3".to_owned()]
    );
    eprintln!(
        "answered by a third process; the worker finished the run {:?} later",
        answered_at.elapsed()
    );
    worker.kill();
}
