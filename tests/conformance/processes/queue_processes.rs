//! Queued runs survive a SIGKILL: a runtime whose workflow may run one run at a time
//! (`Limits::new().max_concurrent_runs(1)`) starts five runs; the first takes the slot and
//! its step hangs, the other four wait in the queue, on disk. The process is SIGKILLed and
//! started again: the run that held the slot resumes (its step in flight runs again, as any
//! step in flight at a crash), the four queued runs start after it one at a time, and every
//! run completes. Each step logs its start and end in a file, which shows that no two ran at
//! once and that every queued run's step ran exactly once.

use std::time::{Duration, Instant};

use cairn::{Context, Limits, RunId, Status, workflow};

use super::process::{
    Proc, child_dir, generation, log, parent_store, read_log, report, tokio_runtime,
};
use super::{Backend, fresh_store};

const RUNS: u64 = 5;

async fn logged(n: u64) -> Result<u64, String> {
    log(&format!("begin {n}"));
    if generation() == 0 {
        // The first process is killed with this step in flight.
        std::future::pending::<()>().await;
    }
    log(&format!("end {n}"));
    Ok(n)
}

#[workflow]
async fn one_at_a_time(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let n = ctx.task(logged, n).await?;
    Ok(n)
}

#[test]
fn child_entry() {
    let Some(_dir) = child_dir() else {
        return;
    };
    let store = parent_store();
    tokio_runtime().block_on(async {
        let runtime = store
            .runtime()
            .register_with(one_at_a_time, Limits::new().max_concurrent_runs(1))
            .start()
            .expect("runtime starts");
        if generation() == 0 {
            let runs = runtime
                .client()
                .start_many(one_at_a_time, 0..RUNS)
                .await
                .expect("start_many");
            report(&format!("started {}", runs.len()));
        } else {
            report("restarted");
        }
        std::future::pending::<()>().await;
    });
}

#[test]
fn queued_runs_survive_a_sigkill_and_start_after_the_restart() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    let mut first = Proc::spawn(module_path!(), &store, dir.path(), 0, 0);
    assert_eq!(first.until("started"), format!("started {RUNS}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while read_log(dir.path()).is_empty() {
        assert!(Instant::now() < deadline, "no run took the slot");
        std::thread::sleep(Duration::from_millis(2));
    }
    let tokio = tokio_runtime();
    let _in_tokio = tokio.enter();
    let client = store.client().unwrap();
    let queued = client.list(Some(Status::Queued)).unwrap();
    assert_eq!(queued.len() as u64, RUNS - 1, "{queued:?}");
    first.kill();
    assert_eq!(read_log(dir.path()), ["begin 0"], "one run at a time");

    let mut second = Proc::spawn(module_path!(), &store, dir.path(), 1, 0);
    second.until("restarted");
    tokio.block_on(async {
        for n in 0..RUNS {
            let run = RunId(n + 1);
            let deadline = Instant::now() + Duration::from_secs(20);
            while client.status(run).unwrap().status != Status::Completed {
                assert!(Instant::now() < deadline, "run {run} did not complete");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    });
    second.kill();
    // The first run's step again (it was in flight at the kill), then each queued run's
    // step once, one after the other, in start order.
    let mut expected = vec!["begin 0".to_owned()];
    for n in 0..RUNS {
        expected.push(format!("begin {n}"));
        expected.push(format!("end {n}"));
    }
    assert_eq!(read_log(dir.path()), expected);
}
