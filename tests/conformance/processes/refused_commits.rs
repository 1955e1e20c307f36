//! A commit that can never succeed fails its run, instead of leaving it unfinished to re-run
//! its step at every restart: a state that cannot be stored fails the run with the error,
//! resumable once the cause is fixed. Each generation is a real process; step executions are
//! lines in an append-only log that survives them. (A state key over LMDB's key limit is the
//! LMDB-only part, in `tests/refused_commits.rs`.)

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use cairn::{Context, Status, workflow};
use serde::{Deserialize, Serialize, Serializer};

use super::process::{Proc, child_dir, log, param, parent_store, read_log, report, tokio_runtime};
use super::{Backend, BackendUnderTest, fresh_store};

async fn first(n: u64) -> Result<u64, String> {
    log("first");
    Ok(n + 1)
}

/// Whether [`Fragile`] refuses to be stored: the bug of the build that stored the run.
static BROKEN: AtomicBool = AtomicBool::new(false);

/// A value whose `Serialize` fails in the broken build, as a buggy custom impl would.
#[derive(Deserialize)]
struct Fragile(u64);

impl Serialize for Fragile {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if BROKEN.load(Ordering::Relaxed) {
            return Err(serde::ser::Error::custom(
                "this build cannot store a Fragile",
            ));
        }
        serializer.serialize_newtype_struct("Fragile", &self.0)
    }
}

#[workflow]
async fn fragile(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let kept = Fragile(n);
    let a = ctx.task(first, n).await?;
    Ok(a + kept.0)
}

const FRAGILE_BROKEN: u64 = 1;
const FRAGILE_FIXED: u64 = 2;

#[test]
fn child_entry() {
    if child_dir().is_none() {
        return;
    }
    BROKEN.store(param() == FRAGILE_BROKEN, Ordering::Relaxed);
    tokio_runtime().block_on(child());
}

/// Starts the run if there is none (resuming it, in the fixed build), waits for its outcome
/// and reports it with the run's stored status.
async fn child() {
    let runtime = parent_store()
        .runtime()
        .register(fragile)
        .start()
        .expect("runtime starts");
    let client = runtime.client();
    let existing = client.list(None).expect("list").first().map(|r| r.id);
    let run = match existing {
        Some(run) => run,
        None => client.start(fragile, 1).await.expect("start"),
    };
    if param() == FRAGILE_FIXED && client.status(run).unwrap().status == Status::Failed {
        client.resume(run).await.expect("resume after the fix");
    }
    let outcome = client.wait(fragile, run).await;
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

/// Runs one process on the store until it reports the run's outcome, then SIGKILLs it:
/// what the next process sees is what was committed, nothing of a clean shutdown.
fn generation(store: &BackendUnderTest, dir: &Path, number: u32, mode: u64) -> String {
    let mut child = Proc::spawn(module_path!(), store, dir, number, mode);
    let outcome = child.until("outcome");
    child.kill();
    outcome
}

#[test]
fn a_state_that_cannot_be_stored_fails_the_run_until_resumed_after_a_fix() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    let outcome = generation(&store, dir.path(), 0, FRAGILE_BROKEN);
    assert!(outcome.starts_with("outcome failed err "), "{outcome}");
    assert!(
        outcome.contains("encode") && outcome.contains("`fragile`"),
        "the error says what could not be stored: {outcome}"
    );
    // Restarting the broken build leaves the failed run alone: its step does not run again.
    assert_eq!(generation(&store, dir.path(), 1, FRAGILE_BROKEN), outcome);
    assert_eq!(counts(dir.path(), "first"), 1);
    // The fixed build resumes it from its last committed state (before the step, which had
    // no commit: at-least-once, it runs once more) and finishes it.
    assert_eq!(
        generation(&store, dir.path(), 2, FRAGILE_FIXED),
        "outcome completed ok 3"
    );
    assert_eq!(counts(dir.path(), "first"), 2, "{:?}", read_log(dir.path()));
}
