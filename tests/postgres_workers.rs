//! Many worker processes on one PostgreSQL schema (cargo feature `postgres`), real processes
//! killed with SIGKILL and stopped with SIGSTOP:
//!
//! - three workers share 240 runs started by a client-only process; one is SIGKILLed midway:
//!   every run completes once with its output, and the step log proves that no step whose
//!   transition was committed ran again; a step ran twice only if it was in flight in the
//!   killed worker (the documented at-least-once window), at most once per run;
//! - fencing: a worker stopped (SIGSTOP) past its lease while a step runs has the run taken
//!   over by another worker, which finishes it; continued (SIGCONT), the stopped worker's
//!   commit is refused with `Error::LeaseLost` and the stored result is the new owner's;
//! - ten processes opening an empty database at once create the schema once, without error;
//! - a run started by a client-only process is picked up by an idle worker through
//!   `LISTEN/NOTIFY`, long before the worker's poll (set to a minute) would find it.

mod postgres_common;

use std::collections::HashMap;
use std::time::Duration;

use cairn::{Context, Error, RunId, Runtime, Status, workflow};
use postgres_common::{
    Proc, Store, child_dir, eventually, log, param, read_log, report, scenario, within,
};

/// The worker number of this child process (its parameter), in every line it logs.
fn me() -> u64 {
    param() % 100
}

async fn work(input: (u64, u64)) -> Result<u64, String> {
    let (run, step) = input;
    log(&format!("step {} {run} {step}", me()));
    // Long enough that a kill lands inside some steps.
    tokio::time::sleep(Duration::from_millis(3 + (run + step) % 7)).await;
    Ok(run * 10 + step)
}

/// A loop of five steps and a branch.
#[workflow]
async fn job(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let mut total = 0;
    for step in 0..5u64 {
        total += ctx.task(work, (n, step)).await?;
    }
    if n.is_multiple_of(2) {
        total += ctx.task(work, (n, 5)).await?;
    }
    Ok(total)
}

fn expected(n: u64) -> u64 {
    let steps = if n.is_multiple_of(2) { 6 } else { 5 };
    (0..steps).map(|step| n * 10 + step).sum()
}

/// Waits in its step until the file `release` exists in the child directory, logging when
/// it starts and when it ends.
async fn slow(tag: String) -> Result<String, String> {
    log(&format!("slow-start {} {tag}", me()));
    let release = child_dir().expect("a child").join("release");
    while !release.exists() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    log(&format!("slow-end {} {tag}", me()));
    Ok(format!("{tag} by worker {}", me()))
}

#[workflow]
async fn fenced(ctx: &mut Context, tag: String) -> Result<String, String> {
    let text = ctx.task(slow, tag).await?;
    Ok(text)
}

/// Roles of a child.
const WORKER: u64 = 0;
const OPENER: u64 = 100;
/// A worker whose poll interval is a minute: only a notification wakes it in time.
const SLOW_POLL_WORKER: u64 = 200;

#[test]
fn child_entry() {
    if child_dir().is_none() {
        return;
    }
    let store = Store::from_parent();
    // Warnings (a refused commit, a failed lease renewal) go to the test's output: the
    // child's `tokio_runtime` installs the subscriber.
    postgres_common::tokio_runtime().block_on(async move {
        match param() / 100 * 100 {
            role @ (WORKER | SLOW_POLL_WORKER) => {
                let poll = if role == WORKER {
                    Duration::from_millis(20)
                } else {
                    Duration::from_secs(60)
                };
                let runtime = Runtime::builder()
                    .postgres(store.options().worker_id(format!("worker-{}", me())))
                    .register(job)
                    .register(fenced)
                    .answer_poll_interval(poll)
                    .start()
                    .expect("worker starts");
                report("ready");
                // Runs until killed; reports it if run 1 stopped here on a refused commit.
                loop {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    if let Some(error) = runtime.stopped(RunId(1)) {
                        report(&format!("stopped {error}"));
                        break;
                    }
                }
                std::future::pending::<()>().await;
            }
            _ => {
                // Opens the schema (a client-only process: it creates or migrates it).
                let runtime = Runtime::builder()
                    .postgres(store.options())
                    .client_only()
                    .start();
                match runtime {
                    Ok(runtime) => {
                        let counts = runtime.client().count_by_status().expect("counts");
                        report(&format!("opened {}", counts.total()));
                    }
                    Err(error) => report(&format!("error {error}")),
                }
            }
        }
    });
}

/// A client-only runtime on `store` in the test process.
fn client(store: &Store) -> cairn::Client {
    store.client(Runtime::builder().register(job).register(fenced))
}

#[test]
fn three_workers_share_240_runs_and_a_sigkilled_one_is_taken_over() {
    const RUNS: u64 = 240;
    // Long enough that a busy machine never delays a live worker's heartbeat past it.
    let Some((store, dir)) = scenario(Duration::from_secs(3)) else {
        return;
    };
    let tokio = postgres_common::tokio_runtime();
    let _guard = tokio.enter();
    let client = client(&store);
    let mut workers: Vec<Option<Proc>> = (0..3)
        .map(|n| Some(store.start_worker(dir.path(), WORKER + n)))
        .collect();
    let runs = tokio
        .block_on(client.start_many(job, 0..RUNS))
        .expect("runs started");
    assert_eq!(runs.len() as u64, RUNS);
    // Midway: a third of the steps logged.
    let steps = |dir| {
        read_log(dir)
            .iter()
            .filter(|l| l.starts_with("step "))
            .count()
    };
    eventually(Duration::from_secs(30), "progress", || {
        steps(dir.path()) >= 400
    });
    workers[0].take().unwrap().kill();
    let killed_at = read_log(dir.path()).len();
    eventually(Duration::from_secs(60), "every run to complete", || {
        let counts = client.count_by_status().unwrap();
        eprintln!(
            "{:?} log {}",
            counts.iter().collect::<Vec<_>>(),
            read_log(dir.path()).len()
        );
        counts.get(Status::Completed) == RUNS
    });
    for (n, run) in runs.iter().enumerate() {
        assert_eq!(
            client.result(job, *run).unwrap(),
            expected(n as u64),
            "{run}"
        );
    }
    let log = read_log(dir.path());
    // Every (run, step) by worker, in log order.
    let mut executions: HashMap<(u64, u64), Vec<(u64, usize)>> = HashMap::new();
    let mut last_of_killed: HashMap<u64, u64> = HashMap::new();
    for (at, line) in log.iter().enumerate() {
        let fields: Vec<u64> = line
            .split(' ')
            .skip(1)
            .map(|f| f.parse().unwrap())
            .collect();
        let [worker, run, step] = fields[..] else {
            panic!("bad log line {line}")
        };
        executions
            .entry((run, step))
            .or_default()
            .push((worker, at));
        if worker == 0 {
            last_of_killed.insert(run, step);
        }
    }
    let mut twice = 0;
    for n in 0..RUNS {
        let steps = if n.is_multiple_of(2) { 6 } else { 5 };
        for step in 0..steps {
            let ran = &executions[&(n, step)];
            match ran[..] {
                [_] => {}
                // The at-least-once window: the killed worker's step in flight (its last
                // one for this run, logged before the kill), run again by another worker.
                [(0, first), (other, _)] => {
                    assert_ne!(other, 0);
                    assert!(first < killed_at);
                    assert_eq!(last_of_killed.get(&n), Some(&step), "run {n} step {step}");
                    twice += 1;
                }
                _ => panic!("run {n} step {step} ran {ran:?}"),
            }
        }
    }
    // Each worker ran some of the runs.
    for worker in 0..3 {
        assert!(
            log.iter()
                .any(|l| l.starts_with(&format!("step {worker} "))),
            "worker {worker} ran nothing"
        );
    }
    eprintln!("{twice} steps ran twice (in flight in the killed worker)");
}

#[test]
fn a_worker_stopped_past_its_lease_has_its_commit_refused_and_the_new_owner_wins() {
    let Some((store, dir)) = scenario(Duration::from_millis(600)) else {
        return;
    };
    let tokio = postgres_common::tokio_runtime();
    let _guard = tokio.enter();
    let client = client(&store);
    let mut first = store.start_worker(dir.path(), WORKER + 1);
    let run = tokio
        .block_on(client.start(fenced, "job".to_owned()))
        .unwrap();
    eventually(Duration::from_secs(10), "worker 1 in the step", || {
        read_log(dir.path()).contains(&"slow-start 1 job".to_owned())
    });
    first.signal(libc::SIGSTOP);
    // Past the lease, a second worker takes the run over and runs the step again.
    let _second = store.start_worker(dir.path(), WORKER + 2);
    eventually(Duration::from_secs(10), "worker 2 in the step", || {
        read_log(dir.path()).contains(&"slow-start 2 job".to_owned())
    });
    // Both steps may now end; worker 2 commits first, then worker 1 is continued.
    std::fs::write(dir.path().join("release"), b"").unwrap();
    eventually(Duration::from_secs(10), "the new owner's result", || {
        client.status(run).unwrap().status == Status::Completed
    });
    assert_eq!(client.result(fenced, run).unwrap(), "job by worker 2");
    first.signal(libc::SIGCONT);
    let stopped = first.until("stopped");
    assert_eq!(
        stopped,
        format!("stopped {}", Error::LeaseLost { run }),
        "worker 1's commit is refused with the typed error"
    );
    assert!(read_log(dir.path()).contains(&"slow-end 1 job".to_owned()));
    // Its refused commit changed nothing.
    assert_eq!(client.result(fenced, run).unwrap(), "job by worker 2");
    assert_eq!(client.status(run).unwrap().transitions, 1);
}

#[test]
fn ten_processes_opening_an_empty_database_at_once_create_the_schema_once() {
    let Some((store, dir)) = scenario(Duration::from_secs(5)) else {
        return;
    };
    let mut openers: Vec<Proc> = (0..10)
        .map(|n| store.spawn("child_entry", dir.path(), OPENER + n))
        .collect();
    for opener in &mut openers {
        assert_eq!(opener.next(), "opened 0");
    }
    for opener in openers {
        opener.exit();
    }
}

#[test]
fn a_run_started_by_a_client_only_process_wakes_an_idle_worker_through_notify() {
    let Some((store, dir)) = scenario(Duration::from_secs(5)) else {
        return;
    };
    let tokio = postgres_common::tokio_runtime();
    let _guard = tokio.enter();
    let client = client(&store);
    let _worker = store.start_worker(dir.path(), SLOW_POLL_WORKER + 7);
    for n in [1, 3] {
        let began = std::time::Instant::now();
        let run = tokio.block_on(client.start(job, n)).unwrap();
        let output = within(
            &tokio,
            Duration::from_secs(10),
            "picked up long before the worker's one-minute poll",
            client.wait(job, run),
        )
        .unwrap();
        assert_eq!(output, expected(n));
        let took = began.elapsed();
        assert!(took < Duration::from_secs(10), "took {took:?}");
        eprintln!("run {n} started from a client-only process finished in {took:?}");
    }
    assert!(
        read_log(dir.path())
            .iter()
            .all(|l| l.starts_with("step 7 "))
    );
}
