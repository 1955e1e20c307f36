//! `wait_for_user` across processes. A run started in one process is SIGKILLed while it waits;
//! a second process, which runs no workflow, answers it; a third resumes it and finishes it.
//! And a runtime that is running picks up an answer committed by another process, by polling.
//! Step counters are lines in an append-only file, which survive the kills.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use cairn::{Answer, Context, Question, Status, workflow};

use super::process::{
    Proc, append_line, child_dir, count_in_log, param, parent_store, read_log, report,
    tokio_runtime,
};
use super::{Backend, fresh_store};

/// Where counters go: the child's directory, or the parent's when it runs the workflow itself.
static LOG_DIR: OnceLock<PathBuf> = OnceLock::new();

fn count(line: &str) {
    let dir = LOG_DIR.get().expect("log dir set");
    append_line(&dir.join("log"), line).expect("write log");
}

async fn validate(changes: String) -> Result<String, String> {
    count("validate");
    Ok(format!("plan for {changes}"))
}

async fn deploy(plan: String) -> Result<String, String> {
    count("deploy");
    Ok(format!("deployed {plan}"))
}

#[workflow]
async fn release(ctx: &mut Context, changes: String) -> Result<String, String> {
    let plan = ctx.task(validate, changes).await?;
    let answer = ctx
        .wait_for_user(Question::approval(format!("Deploy {plan}?")))
        .await?;
    if !answer.is_approved() {
        return Ok(format!("cancelled: {answer}"));
    }
    let done = ctx.task(deploy, plan).await?;
    Ok(done)
}

/// What a child does, chosen by the parent's parameter.
const WORKER: u64 = 0;
const ANSWERER: u64 = 1;

#[test]
fn child_entry() {
    let Some(dir) = child_dir() else { return };
    LOG_DIR.set(dir.clone()).expect("set once");
    tokio_runtime().block_on(async move {
        match param() {
            WORKER => worker().await,
            ANSWERER => answerer().await,
            other => panic!("unknown child mode {other}"),
        }
    });
}

/// Runs the workflow: starts the run if there is none, reports when it waits, then waits for
/// it to finish.
async fn worker() {
    let runtime = parent_store()
        .runtime()
        .register(release)
        .start()
        .expect("runtime starts");
    let client = runtime.client();
    let run = match client.list(None).expect("list").first() {
        Some(run) => run.id,
        None => client.start(release, "v2".to_owned()).await.expect("start"),
    };
    let status = client
        .wait_for_status(run, Status::Waiting)
        .await
        .expect("status");
    if status.status == Status::Waiting {
        report(&format!("waiting {run}"));
    }
    let output = client.wait(release, run).await.expect("run completes");
    report(&format!("output {output}"));
    runtime.shutdown().await;
}

/// Answers the one pending question, in a process that runs nothing.
async fn answerer() {
    let client = parent_store().client().expect("client opens");
    let pending = client.pending_questions().expect("pending");
    assert_eq!(pending.len(), 1, "{pending:?}");
    let answer = client
        .answer(pending[0].run, Answer::Approved)
        .await
        .expect("answer accepted");
    report(&format!("answered {} {answer}", pending[0].run));
}

#[test]
fn killed_while_waiting_answered_from_a_second_process_finished_by_a_third() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    let mut first = Proc::spawn(module_path!(), &store, dir.path(), 0, WORKER);
    assert_eq!(first.until("waiting"), "waiting 1");
    first.kill();
    assert_eq!(count_in_log(dir.path(), "validate"), 1);

    let mut second = Proc::spawn(module_path!(), &store, dir.path(), 1, ANSWERER);
    assert_eq!(second.until("answered"), "answered 1 approved");
    second.exit();
    // Answering ran nothing.
    assert_eq!(count_in_log(dir.path(), "deploy"), 0);

    let mut third = Proc::spawn(module_path!(), &store, dir.path(), 2, WORKER);
    assert_eq!(third.until("output"), "output deployed plan for v2");
    third.exit();
    assert_eq!(
        count_in_log(dir.path(), "validate"),
        1,
        "{:?}",
        read_log(dir.path())
    );
    assert_eq!(
        count_in_log(dir.path(), "deploy"),
        1,
        "{:?}",
        read_log(dir.path())
    );
}

#[test]
fn a_running_runtime_picks_up_an_answer_from_another_process() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    LOG_DIR.set(dir.path().to_owned()).expect("set once");
    let tokio = tokio_runtime();
    tokio.block_on(async {
        let runtime = store
            .runtime()
            .register(release)
            .answer_poll_interval(Duration::from_millis(20))
            .start()
            .unwrap();
        let client = runtime.client();
        let run = client.start(release, "v3".to_owned()).await.unwrap();
        client.wait_for_status(run, Status::Waiting).await.unwrap();

        let mut answerer = Proc::spawn(module_path!(), &store, dir.path(), 1, ANSWERER);
        assert_eq!(
            answerer.until("answered"),
            format!("answered {run} approved")
        );
        answerer.exit();
        // Nothing in this process was told: the runtime finds the answer by polling.
        let output = client.wait(release, run).await.unwrap();
        assert_eq!(output, "deployed plan for v3");
        runtime.shutdown().await;
    });
    assert_eq!(count_in_log(dir.path(), "validate"), 1);
    assert_eq!(count_in_log(dir.path(), "deploy"), 1);
}
