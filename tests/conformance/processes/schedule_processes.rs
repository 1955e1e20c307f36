//! Schedules with real processes, on a clock the parent moves (`file_clock.rs`):
//!
//! - a runtime with an hourly schedule runs the 1:00 tick, is SIGKILLed, stays down over the
//!   ticks at 2:00, 3:00 and 4:00, and is started again at 4:30: one run for the three
//!   missed ticks with `MissedTicks::RunOnce`, none with `Skip`; then the 5:00 tick runs as
//!   usual. Every run's step ran exactly once (counted in a file).
//! - a runtime SIGKILLed just after it started a tick's run, and started again at the same
//!   time, does not start that tick again (the restart racing the tick).
//! - two client-only processes handle the same ticks at the same moment (released by a
//!   barrier file), 20 ticks in a row, through the write a scheduler makes: one run per tick,
//!   the same id for both, each step run once by the parent's runtime. This is the store's
//!   guarantee that two workers of a shared backend rely on.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cairn::{Client, Context, MissedTicks, RunId, Runtime, Schedule, Status, workflow};

use super::file_clock::FileClock;
use super::process::{
    Proc, append_line, child_dir, generation, param, parent_store, report, tokio_runtime,
};
use super::{Backend, fresh_store};

/// An hour boundary (UTC).
const H: u64 = 1_699_999_200;
const HOUR: u64 = 3600;
/// Ticks raced for by the two client-only processes.
const ROUNDS: u64 = 20;

/// What a child does (its parameter).
const RUN_ONCE: u64 = 0;
const SKIP: u64 = 1;
const RACER: u64 = 2;

fn at(secs_after_h: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(H + secs_after_h)
}

/// The parent's file of step executions, when the parent's runtime runs the steps.
static PARENT_STEPS: OnceLock<PathBuf> = OnceLock::new();

/// The file each step execution appends a line to: the child's, or the parent's.
fn steps_file() -> PathBuf {
    match child_dir() {
        Some(dir) => dir.join("steps"),
        None => PARENT_STEPS.get().expect("set by the test").clone(),
    }
}

fn steps_in(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

async fn record_step(tag: u64) -> Result<u64, String> {
    append_line(&steps_file(), &tag.to_string()).map_err(|e| e.to_string())?;
    Ok(tag)
}

#[workflow]
async fn hourly_job(ctx: &mut Context, tag: u64) -> Result<u64, String> {
    let tag = ctx.task(record_step, tag).await?;
    Ok(tag)
}

fn clock_file(dir: &Path) -> PathBuf {
    dir.join("clock")
}

fn barrier(dir: &Path, round: u64) -> PathBuf {
    dir.join(format!("go-{round}"))
}

#[test]
fn child_entry() {
    let Some(dir) = child_dir() else {
        return;
    };
    let store = parent_store();
    tokio_runtime().block_on(async {
        if param() == RACER {
            race_ticks(&store, &dir).await;
            return;
        }
        let policy = if param() == SKIP {
            MissedTicks::Skip
        } else {
            MissedTicks::RunOnce
        };
        let hourly = Schedule::every(Duration::from_secs(HOUR)).missed_ticks(policy);
        let _runtime = store
            .runtime()
            .schedule(hourly_job, hourly, u64::from(generation()))
            .clock(FileClock::new(clock_file(&dir)))
            .start()
            .expect("runtime starts");
        // Missed ticks are handled inside `start`: what the parent reads now is settled.
        report("started");
        std::future::pending::<()>().await;
    });
}

/// A racer child: handles tick `round` when the parent drops the barrier, and reports the
/// tick's run.
async fn race_ticks(store: &super::BackendUnderTest, dir: &Path) {
    let client = store
        .runtime()
        .register(hourly_job)
        .client_only()
        .start()
        .expect("client opens")
        .client();
    for round in 0..ROUNDS {
        report(&format!("ready {round}"));
        // Spins rather than sleeps, so both children leave the barrier together.
        while !barrier(dir, round).exists() {
            std::thread::yield_now();
        }
        let run = client
            .handle_tick(hourly_job, "race", at(round * HOUR), round)
            .await
            .expect("handle_tick")
            .expect("a run for a tick not handled before");
        report(&format!("run {round} {}", run.0));
    }
}

/// Waits until the store holds `n` runs, all completed, and returns them; fails after 20 s.
async fn completed_runs(client: &Client, n: usize) -> Vec<RunId> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let runs = client.list(None).unwrap();
        if runs.len() >= n && runs.iter().all(|r| r.status == Status::Completed) {
            return runs.into_iter().map(|r| r.id).collect();
        }
        assert!(
            Instant::now() < deadline,
            "expected {n} completed runs, found {runs:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The SIGKILL-over-three-ticks scenario with `policy` (a child parameter): the number of
/// runs right after the restart and after the next tick, and the step executions.
fn killed_over_three_ticks(policy: u64) -> (usize, usize, Vec<String>) {
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    let clock = clock_file(dir.path());
    FileClock::set(&clock, at(HOUR / 2));
    tokio_runtime().block_on(async {
        let mut first = Proc::spawn(module_path!(), &store, dir.path(), 0, policy);
        first.until("started");
        let client = store.client().unwrap();
        FileClock::set(&clock, at(HOUR));
        completed_runs(&client, 1).await;
        first.kill();
        // Down from 1:00 to 4:30, over the ticks at 2:00, 3:00 and 4:00.
        FileClock::set(&clock, at(4 * HOUR + HOUR / 2));
        let mut second = Proc::spawn(module_path!(), &store, dir.path(), 1, policy);
        second.until("started");
        let after_restart = client.list(None).unwrap().len();
        completed_runs(&client, after_restart).await;
        FileClock::set(&clock, at(5 * HOUR));
        let after_next = completed_runs(&client, after_restart + 1).await.len();
        second.kill();
        assert_eq!(
            client.list(None).unwrap().len(),
            after_next,
            "a run too many"
        );
        (
            after_restart,
            after_next,
            steps_in(&dir.path().join("steps")),
        )
    })
}

#[test]
fn a_schedule_killed_over_three_ticks_starts_one_run_for_them_with_run_once() {
    if child_dir().is_some() {
        return;
    }
    let (after_restart, after_next, steps) = killed_over_three_ticks(RUN_ONCE);
    assert_eq!((after_restart, after_next), (2, 3));
    // The 1:00 run by the first process, the catch-up and 5:00 runs by the second.
    assert_eq!(steps, ["0", "1", "1"], "each run's step once");
}

#[test]
fn a_schedule_killed_over_three_ticks_starts_nothing_for_them_with_skip() {
    if child_dir().is_some() {
        return;
    }
    let (after_restart, after_next, steps) = killed_over_three_ticks(SKIP);
    assert_eq!((after_restart, after_next), (1, 2));
    assert_eq!(steps, ["0", "1"], "each run's step once");
}

#[test]
fn a_restart_racing_a_tick_does_not_start_it_again() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    let clock = clock_file(dir.path());
    FileClock::set(&clock, at(HOUR / 2));
    tokio_runtime().block_on(async {
        let mut first = Proc::spawn(module_path!(), &store, dir.path(), 0, RUN_ONCE);
        first.until("started");
        let client = store.client().unwrap();
        FileClock::set(&clock, at(HOUR));
        // Killed as soon as the tick's run is stored, whatever it has done since.
        let deadline = Instant::now() + Duration::from_secs(20);
        while client.list(None).unwrap().is_empty() {
            assert!(Instant::now() < deadline, "the 1:00 tick started no run");
            std::thread::yield_now();
        }
        first.kill();
        // Started again at the tick's time: the tick is handled, its run resumed.
        let mut second = Proc::spawn(module_path!(), &store, dir.path(), 1, RUN_ONCE);
        second.until("started");
        let runs = completed_runs(&client, 1).await;
        assert_eq!(runs.len(), 1, "the tick started twice");
        FileClock::set(&clock, at(2 * HOUR));
        assert_eq!(completed_runs(&client, 2).await.len(), 2);
        second.kill();
        assert_eq!(client.list(None).unwrap().len(), 2);
    });
}

#[test]
fn two_processes_handling_the_same_ticks_at_once_start_one_run_each() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    let steps = dir.path().join("parent-steps");
    PARENT_STEPS.set(steps.clone()).unwrap();
    tokio_runtime().block_on(async {
        // This runtime runs the ticks' runs, handed over by the client-only racers.
        let runtime: Runtime = store
            .runtime()
            .register(hourly_job)
            .answer_poll_interval(Duration::from_millis(5))
            .start()
            .unwrap();
        let mut racers = [0, 1].map(|g| Proc::spawn(module_path!(), &store, dir.path(), g, RACER));
        let mut runs = Vec::new();
        for round in 0..ROUNDS {
            for racer in &mut racers {
                assert_eq!(racer.until("ready"), format!("ready {round}"));
            }
            std::fs::write(barrier(dir.path(), round), b"").unwrap();
            let ids = racers.each_mut().map(|racer| {
                let message = racer.until("run");
                let id = message.split(' ').nth(2).expect("an id").to_owned();
                id.parse::<u64>().expect("a number")
            });
            assert_eq!(ids[0], ids[1], "tick {round}: two runs");
            runs.push(RunId(ids[0]));
        }
        for racer in racers {
            racer.exit();
        }
        let client = runtime.client();
        for (round, &run) in (0..).zip(&runs) {
            let output =
                tokio::time::timeout(Duration::from_secs(20), client.wait(hourly_job, run))
                    .await
                    .expect("the runtime runs the handed-over run")
                    .unwrap();
            assert_eq!(output, round);
        }
        assert_eq!(client.list(None).unwrap().len() as u64, ROUNDS);
        runtime.shutdown().await;
    });
    let mut counted: Vec<u64> = steps_in(&steps)
        .iter()
        .map(|l| l.parse().unwrap())
        .collect();
    counted.sort_unstable();
    assert_eq!(counted, (0..ROUNDS).collect::<Vec<_>>(), "each step once");
}
