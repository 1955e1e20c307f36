//! A queue's cap holds across worker processes on one PostgreSQL database: two workers run
//! the same workflow, limited to one run at a time (`Limits::new().max_concurrent_runs(1)`),
//! and a client-only process starts six runs. Each worker's queue task admits runs with
//! `WriteOp::PumpQueues`, which counts the slots under a row lock on the queue, so however
//! the two workers' pumps interleave, one run executes at a time. Each step logs its start
//! and end (and the worker) in a shared file: the log shows that no two steps overlapped and
//! that every run's step ran exactly once.
//!
//! PostgreSQL only: an LMDB directory has one runtime at a time.

#[path = "conformance/mod.rs"]
mod conformance;

/// The backend of this binary.
pub type BackendUnderTest = conformance::postgres::PostgresBackend;

mod queue_workers {
    use std::time::{Duration, Instant};

    use cairn::{Context, Limits, RunId, Status, workflow};

    use crate::conformance::process::{
        Proc, child_dir, log, param, parent_store, read_log, report, tokio_runtime,
    };
    use crate::conformance::{Backend, fresh_store};

    const RUNS: u64 = 6;
    const WORKERS: u64 = 2;

    async fn logged(n: u64) -> Result<u64, String> {
        log(&format!("begin {n} {}", param()));
        // Long enough that a second run admitted by the other worker would overlap it.
        tokio::time::sleep(Duration::from_millis(30)).await;
        log(&format!("end {n} {}", param()));
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
            let _runtime = store
                .runtime()
                .register_with(one_at_a_time, Limits::new().max_concurrent_runs(1))
                .answer_poll_interval(Duration::from_millis(5))
                .start()
                .expect("runtime starts");
            report("ready");
            std::future::pending::<()>().await;
        });
    }

    #[test]
    fn two_workers_never_run_more_than_the_cap_at_once() {
        if child_dir().is_some() {
            return;
        }
        let store = fresh_store();
        let dir = tempfile::tempdir().unwrap();
        // Both workers are up before any run exists: each run is started only by the worker
        // whose pump admitted it.
        let workers: Vec<Proc> = (0..WORKERS)
            .map(|worker| {
                let mut proc = Proc::spawn(module_path!(), &store, dir.path(), 0, worker);
                proc.until("ready");
                proc
            })
            .collect();
        let tokio = tokio_runtime();
        let _in_tokio = tokio.enter();
        // Client-only, with the workflow registered for typed calls.
        let client = store
            .runtime()
            .register_with(one_at_a_time, Limits::new().max_concurrent_runs(1))
            .client_only()
            .start()
            .unwrap()
            .client();
        tokio.block_on(async {
            let runs = client.start_many(one_at_a_time, 0..RUNS).await.unwrap();
            assert_eq!(runs.len() as u64, RUNS);
            for n in 0..RUNS {
                let run = RunId(n + 1);
                let deadline = Instant::now() + Duration::from_secs(30);
                while client.status(run).unwrap().status != Status::Completed {
                    assert!(Instant::now() < deadline, "run {run} did not complete");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        });
        for worker in workers {
            worker.kill();
        }
        // One step at a time: every begin is followed by its own end; each run's step once.
        let log = read_log(dir.path());
        assert_eq!(log.len() as u64, 2 * RUNS, "{log:?}");
        let mut seen = Vec::new();
        for pair in log.chunks(2) {
            let begin = pair[0].strip_prefix("begin ").expect("a begin");
            let end = pair[1].strip_prefix("end ").expect("its end");
            assert_eq!(begin, end, "two steps overlapped: {log:?}");
            seen.push(begin.split(' ').next().unwrap().parse::<u64>().unwrap());
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..RUNS).collect::<Vec<_>>(), "{log:?}");
    }
}
