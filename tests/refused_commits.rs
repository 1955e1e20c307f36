//! A commit that can never succeed fails its run, instead of leaving it unfinished to re-run
//! its step at every restart: a state key over LMDB's key limit is refused where the workflow
//! sets it (`Error::InvalidArgument`), and so are session ids that cannot be LMDB keys. Each
//! generation is a real process; step executions are lines in an append-only log that
//! survives them. (A state that cannot be stored at all, on any backend: the conformance
//! suite's `processes/refused_commits.rs`.)

mod context_common;

use std::path::Path;

use cairn::{Context, Runtime, workflow};
use context_common::process::{child_dir, log, read_log, report, spawn_child, tokio_runtime};

async fn first(n: u64) -> Result<u64, String> {
    log("first");
    Ok(n + 1)
}

async fn second(n: u64) -> Result<u64, String> {
    log("second");
    Ok(n * 10)
}

/// LMDB keys are at most 511 bytes; the run's id takes 8 of them.
const LONG_KEY: usize = 504;

#[workflow]
async fn long_key(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let a = ctx.task(first, n).await?;
    ctx.state().set(&"k".repeat(LONG_KEY), &a)?;
    let b = ctx.task(second, a).await?;
    Ok(b)
}

const LONG_KEY_MODE: u64 = 0;

#[test]
fn child_entry() {
    let Some(dir) = child_dir() else { return };
    tokio_runtime().block_on(child(&dir));
}

/// Starts the run if there is none, waits for its outcome
/// and reports it with the run's stored status.
async fn child(dir: &Path) {
    let runtime = Runtime::builder()
        .path(dir.join("db"))
        .register(long_key)
        .start()
        .expect("runtime starts");
    let client = runtime.client();
    let existing = client.list(None).expect("list").first().map(|r| r.id);
    let run = match existing {
        Some(run) => run,
        None => client.start(long_key, 1).await.expect("start"),
    };
    let outcome = client.wait(long_key, run).await;
    let status = client.status(run).expect("status").status;
    match outcome {
        Ok(output) => report(&format!("outcome {status} ok {output}")),
        Err(error) => report(&format!("outcome {status} err {error}")),
    }
    runtime.shutdown().await;
}

fn counts(dir: &Path, step: &str) -> usize {
    read_log(dir).iter().filter(|line| *line == step).count()
}

/// Runs one process on the directory until it reports the run's outcome, then SIGKILLs it:
/// what the next process sees is what was committed, nothing of a clean shutdown.
fn generation(dir: &Path, number: u32, mode: u64) -> String {
    let mut child = spawn_child(dir, number, mode);
    let outcome = child.until("outcome");
    child.kill();
    outcome
}

#[test]
fn an_overlong_state_key_fails_the_run_where_it_is_set_and_no_restart_reruns_a_step() {
    if child_dir().is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let outcome = generation(dir.path(), 0, LONG_KEY_MODE);
    assert!(outcome.starts_with("outcome failed err "), "{outcome}");
    assert!(
        outcome.contains("504 bytes") && outcome.contains("503"),
        "the error names the key length and the limit: {outcome}"
    );
    for number in 1..3 {
        let again = generation(dir.path(), number, LONG_KEY_MODE);
        assert_eq!(again, outcome, "restart {number}");
    }
    assert_eq!(counts(dir.path(), "first"), 1, "{:?}", read_log(dir.path()));
    assert_eq!(
        counts(dir.path(), "second"),
        0,
        "{:?}",
        read_log(dir.path())
    );
}

/// In one process: the typed error reaches `ctx.state().set` and `get` at the call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_keys_over_the_limit_are_invalid_arguments_at_the_call() {
    #[workflow]
    async fn keys(ctx: &mut Context, len: u64) -> Result<String, String> {
        let key = "k".repeat(usize::try_from(len).unwrap());
        let set = ctx.state().set(&key, &1);
        let got = ctx.state().get::<u64>(&key);
        ctx.state().delete(&key);
        Ok(format!("{set:?} {got:?}"))
    }
    if child_dir().is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(keys)
        .start()
        .unwrap();
    let client = runtime.client();
    assert_eq!(client.run(keys, 503).await.unwrap(), "Ok(()) Ok(Some(1))");
    let refused = client.run(keys, 504).await.unwrap();
    assert!(
        refused.starts_with("Err(InvalidArgument { call: \"State::set\""),
        "{refused}"
    );
    assert!(
        refused.contains("Err(InvalidArgument { call: \"State::get\""),
        "{refused}"
    );
    runtime.shutdown().await;
}

/// Session ids are LMDB keys of their own: empty or over 511 bytes, they are refused at the
/// call with a typed error, before any run is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_ids_that_cannot_be_keys_are_invalid_arguments() {
    if child_dir().is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(long_key)
        .start()
        .unwrap();
    let client = runtime.client();
    for session in [String::new(), "s".repeat(512)] {
        let started = client.start_in_session(&session, long_key, 1).await;
        assert!(
            matches!(&started, Err(cairn::Error::InvalidArgument { call: "Client::start_in_session", reason }) if reason.contains("session id")),
            "{started:?}"
        );
        assert!(matches!(
            client.session_runs(&session),
            Err(cairn::Error::InvalidArgument { .. })
        ));
    }
    assert!(client.list(None).unwrap().is_empty());
    let longest = "s".repeat(511);
    let run = client
        .start_in_session(&longest, long_key, 1)
        .await
        .unwrap();
    assert_eq!(client.session_runs(&longest).unwrap(), [run]);
    runtime.shutdown().await;
}
