//! A double fault on PostgreSQL (cargo feature `postgres`): a worker's stale task must not
//! write its old state over the progress another worker committed, even once its worker owns
//! the run again. Real worker processes, stopped with SIGSTOP and killed with SIGKILL; every
//! step execution is a line in a log file.
//!
//! The scenario, with run R of four steps:
//!
//! 1. Worker 1 runs step 0 of R (at position 0) and is stopped (SIGSTOP) past its lease.
//! 2. Worker 2 takes R over, commits steps 0 and 1 (position 2), and is killed (SIGKILL) in
//!    step 2.
//! 3. Worker 1 is continued (SIGCONT). Worker 2's lease expires, and worker 1's take-over poll
//!    claims R again: worker 1 now owns R, at a new epoch, and its old task (in step 0, from
//!    position 0) is still live, so no new task is started.
//! 4. The old task's step 0 ends and its commit is made at position 0. The lease does not
//!    refuse it (worker 1 owns R); the position must: R is stored at position 2. The old task
//!    stops with `Error::MovedOn`, and R goes on from its stored state in a new task of
//!    worker 1, at once, under the lease worker 1 holds (not after that lease expires and
//!    is claimed again), so step 1, whose result worker 2 committed, never runs again and
//!    the stored run never goes back.

mod postgres_common;

use std::time::Duration;

use cairn::{Context, Error, RunId, Runtime, Status, workflow};
use postgres_common::{Store, child_dir, eventually, log, param, read_log, report, scenario, sql};

/// The worker number of this child process (its parameter).
fn me() -> u64 {
    param()
}

/// Step `k` of a run, logged as `step <worker> <k>` when it begins. Steps 0 and 2 then wait
/// until the test creates the file `go-<worker>-<k>`, so that the test decides when each
/// worker's step ends.
async fn step(k: u64) -> Result<u64, String> {
    log(&format!("step {} {k}", me()));
    if k == 0 || k == 2 {
        let go = child_dir()
            .expect("a child")
            .join(format!("go-{}-{k}", me()));
        while !go.exists() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    Ok(10 + k)
}

/// Four steps, one transition each (no loop: no loop items, so that the one-statement commit
/// path takes the commits).
#[workflow]
async fn four_steps(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let a = ctx.task(step, 0).await?;
    let b = ctx.task(step, 1).await?;
    let c = ctx.task(step, 2).await?;
    let d = ctx.task(step, 3).await?;
    Ok(n + a + b + c + d)
}

#[test]
fn child_entry() {
    if child_dir().is_none() {
        return;
    }
    let store = Store::from_parent();
    report_refusals();
    postgres_common::tokio_runtime().block_on(async move {
        let _runtime = Runtime::builder()
            .postgres(store.options().worker_id(format!("worker-{}", me())))
            .register(four_steps)
            .answer_poll_interval(Duration::from_millis(20))
            .start()
            .expect("worker starts");
        report("ready");
        std::future::pending::<()>().await
    });
}

/// The warning the runtime logs when it refuses a stale task's commit and goes on from the
/// stored state.
const REFUSED_AS_STALE: &str = "commit refused as stale: going on from the stored state";

/// Installs this child's log subscriber: warnings and errors to stderr, as every child's, and
/// each [`REFUSED_AS_STALE`] warning reported to the test as `refused <error>`.
fn report_refusals() {
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::prelude::*;
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(LevelFilter::WARN),
        )
        .with(RefusalReporter)
        .init();
}

/// The layer of [`report_refusals`].
struct RefusalReporter;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for RefusalReporter {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        if fields.message == REFUSED_AS_STALE {
            report(&format!("refused {}", fields.error));
        }
    }
}

/// The `message` and `error` fields of an event.
#[derive(Default)]
struct Fields {
    message: String,
    error: String,
}

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "error" => self.error = format!("{value:?}"),
            _ => {}
        }
    }
}

/// `owner epoch` of run `run`, as stored.
fn lease_of(store: &Store, run: RunId) -> (String, i64) {
    let row = sql(
        store,
        &format!(
            "SELECT coalesce(owner, '-'), epoch FROM runs WHERE id = {}",
            run.0
        ),
    );
    let (owner, epoch) = row.split_once('|').expect("owner|epoch");
    (owner.to_owned(), epoch.parse().expect("an epoch"))
}

#[test]
fn a_stale_task_of_a_worker_that_owns_the_run_again_cannot_write_over_newer_progress() {
    // Long enough that a busy machine never delays a running worker's heartbeat past it.
    let Some((store, dir)) = scenario(Duration::from_millis(1500)) else {
        return;
    };
    let tokio = postgres_common::tokio_runtime();
    let _guard = tokio.enter();
    let client = store.client(Runtime::builder().register(four_steps));
    let go = |worker: u64, k: u64| {
        std::fs::write(dir.path().join(format!("go-{worker}-{k}")), b"").unwrap();
    };
    let logged = |line: &str| read_log(dir.path()).iter().any(|l| l == line);

    // 1. Worker 1 in step 0, stopped past its lease.
    let mut first = store.start_worker(dir.path(), 1);
    let run = tokio.block_on(client.start(four_steps, 1000)).unwrap();
    assert_eq!(run, RunId(1), "a fresh schema's first run");
    eventually(Duration::from_secs(20), "worker 1 in step 0", || {
        logged("step 1 0")
    });
    first.signal(libc::SIGSTOP);

    // 2. Worker 2 takes the run over, commits steps 0 and 1, and is killed in step 2.
    let second = store.start_worker(dir.path(), 2);
    eventually(Duration::from_secs(20), "worker 2 in step 0", || {
        logged("step 2 0")
    });
    go(2, 0);
    eventually(Duration::from_secs(20), "worker 2 in step 2", || {
        logged("step 2 2")
    });
    second.kill();
    let status = client.status(run).unwrap();
    assert_eq!((status.status, status.transitions), (Status::Running, 2));
    let (owner, taken_over_at) = lease_of(&store, run);
    assert_eq!(owner, "worker-2");

    // 3. Worker 1 continued; once worker 2's lease expires, its take-over poll claims the run
    //    again, while the old task still waits in step 0.
    first.signal(libc::SIGCONT);
    eventually(
        Duration::from_secs(20),
        "worker 1 to own the run again",
        || {
            let (owner, epoch) = lease_of(&store, run);
            owner == "worker-1" && epoch > taken_over_at
        },
    );
    let (_, owned_again_at) = lease_of(&store, run);
    assert_eq!(client.status(run).unwrap().transitions, 2);

    // 4. The old task's step 0 ends, and its commit is made at position 0: refused, the old
    //    task stops, and a new task of worker 1 runs step 2 from the stored position 2.
    go(1, 0);
    eventually(Duration::from_secs(20), "worker 1 in step 2", || {
        logged("step 1 2")
    });
    go(1, 2);
    eventually(Duration::from_secs(30), "the run to complete", || {
        client.status(run).unwrap().status.is_finished()
    });
    let log = read_log(dir.path());
    let ran = |k: u64| {
        log.iter()
            .filter(|l| l.starts_with("step ") && l.ends_with(&format!(" {k}")))
            .cloned()
            .collect::<Vec<_>>()
    };
    // Step 1's result was committed by worker 2: it never runs again.
    assert_eq!(ran(1), ["step 2 1"], "whole log: {log:?}");
    // Steps 0 and 2 were in flight when their worker was stopped or killed (at-least-once).
    assert_eq!(ran(0), ["step 1 0", "step 2 0"], "whole log: {log:?}");
    assert_eq!(ran(2), ["step 2 2", "step 1 2"], "whole log: {log:?}");
    assert_eq!(ran(3), ["step 1 3"], "whole log: {log:?}");
    // One transition per step: the stored run never went back to position 1.
    let status = client.status(run).unwrap();
    assert_eq!((status.status, status.transitions), (Status::Completed, 4));
    assert_eq!(
        client.result(four_steps, run).unwrap(),
        1000 + 10 + 11 + 12 + 13
    );
    // The new task went on under the lease worker 1 took in step 3, at once: the run was
    // not left without a task until that lease expired and was claimed again.
    assert_eq!(
        lease_of(&store, run),
        ("worker-1".to_owned(), owned_again_at)
    );
    // The old task stopped on its refused commit, with the typed error.
    assert_eq!(
        first.until("refused"),
        format!(
            "refused {}",
            Error::MovedOn {
                run,
                position: 0,
                stored: 2
            }
        )
    );
}
