//! Three worker processes on one PostgreSQL schema share 300 runs while they are SIGKILLed at
//! random, 50 times, and restarted (cargo feature `postgres`, real processes, no mocks).
//!
//! The workflow has a loop, a branch and a `parallel` call. Every step execution is a line
//! in an append-only log (one `write` with `O_APPEND`, which survives a SIGKILL), and so is
//! every commit (the `on_transition` and `on_branch` hooks, which run right after it). At the
//! end:
//!
//! - every run completed, once, with the right output and the expected number of
//!   transitions, and no run is left in any other status (none lost);
//! - no step ran after its transition (or its branch) was committed: in the log, no
//!   execution of a step comes after the line of its commit;
//! - a step ran more than once only when an earlier execution was in flight in a worker that
//!   was then killed, or whose lease was lost (a refused commit, in its warnings file): the
//!   documented at-least-once window;
//! - no PostgreSQL transaction was aborted as a deadlock and run again (the retry in the
//!   driver warns, into each worker's warnings file): the lock order leaves no cycle;
//! - no run stopped in a worker on an error other than a lost lease.
//!
//! The runs are started in waves of six, one wave before each kill, and a kill waits until
//! its wave is under way: every kill lands while runs are in flight, however fast or slow the
//! machine (no sleeps; every wait has a deadline and says what it waited for).
//!
//! Half of the restarts reuse the killed worker's id (its runs are taken back at once, at
//! start), half take a new one (its runs wait for their lease to expire and any worker takes
//! them over). The victims are drawn from a seed printed at the start; `CAIRN_STORM_SEED`
//! replays one.

mod postgres_common;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use cairn::{Context, Flow, Runtime, Status, step, workflow};
use postgres_common::{Proc, Store, child_dir, log, param, read_log, report, wait_for};

const RUNS: u64 = 300;
const KILLS: usize = 50;
const WORKERS: u64 = 3;
/// Short, so that a killed worker's runs are taken over within a second or two; long enough
/// that a live worker's heartbeat (every third of it) is not late on a busy machine.
const LEASE: Duration = Duration::from_millis(1500);
/// Runs are started in waves, one before each kill, so that every kill lands while runs are
/// in flight however fast the machine is.
const WAVE: u64 = RUNS / KILLS as u64;
/// A kill waits until this many steps of its wave (of `8 * WAVE`) have run: the wave is then
/// under way and far from done.
const WAVE_PROGRESS: usize = 12;

/// This worker incarnation's number (unique in the test: every restart gets a new one).
fn incarnation() -> u64 {
    param() / 10
}

/// The worker slot (0 to 2) this incarnation fills.
fn slot() -> u64 {
    param() % 10
}

/// One step: logs `exec <incarnation> <run> <step>` before it does anything, then takes a
/// few milliseconds, so that kills land inside steps.
async fn work(input: (u64, u64)) -> Result<u64, String> {
    let (run, step) = input;
    log(&format!("exec {} {run} {step}", incarnation()));
    tokio::time::sleep(Duration::from_millis(2 + (run * 7 + step * 3) % 9)).await;
    Ok(run * 100 + step)
}

/// Steps 0 to 2 in a loop (transitions 1 to 3), step 3 or 4 by a branch (transition 4),
/// steps 5 to 7 in parallel (each branch committed as it ends, then transition 5), step 8
/// (transition 6).
#[workflow]
async fn storm(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let mut total = 0;
    for at in 0..3u64 {
        total += ctx.task(work, (n, at)).await?;
    }
    if n.is_multiple_of(3) {
        total += ctx.task(work, (n, 3)).await?;
    } else {
        total += ctx.task(work, (n, 4)).await?;
    }
    let branches: Vec<_> = (5..8u64)
        .map(|at| step(format!("p{at}"), work((n, at))))
        .collect();
    let outputs = ctx.parallel(branches).await?;
    total += outputs.iter().sum::<u64>();
    total += ctx.task(work, (n, 8)).await?;
    Ok(total)
}

/// The steps run `n` takes, in order.
fn path(n: u64) -> Vec<u64> {
    let branch = if n.is_multiple_of(3) { 3 } else { 4 };
    vec![0, 1, 2, branch, 5, 6, 7, 8]
}

fn expected(n: u64) -> u64 {
    path(n).iter().map(|step| n * 100 + step).sum()
}

/// The committed transitions of a finished run.
const TRANSITIONS: u64 = 6;

/// The step a commit line stands for: transition `number` of run `n`, or branch `index` of
/// its `parallel` call.
fn step_of_transition(n: u64, number: u64) -> Option<u64> {
    match number {
        1..=3 => Some(number - 1),
        4 => Some(path(n)[3]),
        // The `parallel` call's own transition: its branches are committed one by one before.
        5 => None,
        6 => Some(8),
        _ => panic!("run {n} has no transition {number}"),
    }
}

/// A worker: runs the workflow until it is killed. Its warnings (a refused commit, a lease it
/// could not renew, a transaction run again) go to `warnings-<incarnation>` in the test's
/// directory.
#[test]
fn child_entry() {
    let Some(dir) = child_dir() else { return };
    let store = Store::from_parent();
    let warnings = dir.join(format!("warnings-{}", incarnation()));
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&warnings)
                .expect("the warnings file")
        })
        .try_init();
    // Half of the restarts keep the slot's id, half take a new one (see the module doc).
    let id = if incarnation().is_multiple_of(2) {
        format!("worker-{}", slot())
    } else {
        format!("worker-{}-{}", slot(), incarnation())
    };
    postgres_common::tokio_runtime().block_on(async move {
        let me = incarnation();
        let _runtime = Runtime::builder()
            .postgres(store.options().worker_id(id))
            .register(storm)
            .answer_poll_interval(Duration::from_millis(50))
            .on_transition(move |t| {
                log(&format!("commit {me} {} {}", t.run.0, t.number));
                Flow::Continue
            })
            .on_branch(move |b| {
                log(&format!("branch {me} {} {}", b.run.0, b.index));
                Flow::Continue
            })
            .start()
            .expect("worker starts");
        report("ready");
        std::future::pending::<()>().await;
    });
}

/// A tiny deterministic generator (xorshift), so that a seed replays the same victims.
struct Victims(u64);

impl Victims {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

fn seed() -> u64 {
    std::env::var("CAIRN_STORM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        })
}

/// One parsed line of the log.
#[derive(Debug)]
enum Line {
    /// A step began: incarnation, run (its input), step.
    Exec(u64, u64, u64),
    /// A transition was committed (by the incarnation in the line): run id, its number.
    Commit(u64, u64),
    /// A `parallel` branch was committed (by the incarnation in the line): run id, branch.
    Branch(u64, u64),
}

fn parse(line: &str) -> Line {
    let fields: Vec<&str> = line.split(' ').collect();
    let number = |i: usize| -> u64 {
        fields[i]
            .parse()
            .unwrap_or_else(|_| panic!("bad log line {line:?}"))
    };
    match fields[0] {
        "exec" => Line::Exec(number(1), number(2), number(3)),
        "commit" => Line::Commit(number(2), number(3)),
        "branch" => Line::Branch(number(2), number(3)),
        _ => panic!("bad log line {line:?}"),
    }
}

fn executions(dir: &Path) -> usize {
    read_log(dir)
        .iter()
        .filter(|l| l.starts_with("exec "))
        .count()
}

/// (incarnation, run id) for each commit refused because the incarnation had lost the run's
/// lease, from the workers' warnings.
fn lost_leases(dir: &Path) -> Vec<(u64, u64)> {
    let mut lost = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let name = entry.file_name().into_string().unwrap();
        let Some(incarnation) = name.strip_prefix("warnings-") else {
            continue;
        };
        let incarnation: u64 = incarnation.parse().unwrap();
        for line in std::fs::read_to_string(entry.path()).unwrap().lines() {
            if line.contains("commit refused")
                && let Some(run) = line
                    .split_whitespace()
                    .find_map(|field| field.strip_prefix("run="))
            {
                let run: u64 = run
                    .parse()
                    .unwrap_or_else(|_| panic!("a run id in {line:?}"));
                lost.push((incarnation, run));
            }
        }
    }
    lost
}

/// Every warning line of every worker.
fn warnings(dir: &Path) -> Vec<String> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.file_name().to_string_lossy().starts_with("warnings-") {
            all.extend(
                std::fs::read_to_string(entry.path())
                    .unwrap()
                    .lines()
                    .map(str::to_owned),
            );
        }
    }
    all
}

#[test]
fn three_workers_share_300_runs_through_50_sigkills_and_restarts() {
    if child_dir().is_some() {
        return;
    }
    let began = Instant::now();
    let seed = seed();
    eprintln!("victims drawn from CAIRN_STORM_SEED={seed}");
    let mut victims = Victims(seed);
    let store = Store::fresh(LEASE);
    let dir = KeptOnFailure(Some(tempfile::tempdir().unwrap()));
    eprintln!(
        "log and warnings in {} (kept if the test fails)",
        dir.path().display()
    );
    let tokio = postgres_common::tokio_runtime();
    let _guard = tokio.enter();
    let client = store.client(Runtime::builder().register(storm));
    let mut next_incarnation = 0;
    let mut spawn = |slot: u64| {
        let incarnation = next_incarnation;
        next_incarnation += 1;
        let worker = store.start_worker(dir.path(), incarnation * 10 + slot);
        (incarnation, worker)
    };
    let mut workers: Vec<Option<(u64, Proc)>> =
        (0..WORKERS).map(|slot| Some(spawn(slot))).collect();
    let mut runs = Vec::with_capacity(RUNS as usize);
    // Which incarnations were killed.
    let mut killed: Vec<u64> = Vec::new();
    // How many runs were unfinished at each kill.
    let mut in_flight: Vec<u64> = Vec::new();
    for kill in 0..KILLS {
        let wave = kill as u64 * WAVE..(kill as u64 + 1) * WAVE;
        let before = executions(dir.path());
        runs.extend(
            tokio
                .block_on(client.start_many(storm, wave))
                .expect("runs started"),
        );
        wait_for(
            Duration::from_secs(60),
            || executions(dir.path()) >= before + WAVE_PROGRESS,
            || {
                format!(
                    "{WAVE_PROGRESS} step executions before kill {kill}: the workers stopped \
                     making progress; runs by status {:?}; warnings {:#?}",
                    client
                        .count_by_status()
                        .map(|c| c.iter().collect::<Vec<_>>()),
                    warnings(dir.path())
                )
            },
        );
        let completed = client.count_by_status().unwrap().get(Status::Completed);
        in_flight.push(runs.len() as u64 - completed);
        let slot = victims.next(WORKERS);
        let (incarnation, worker) = workers[slot as usize].take().expect("a live worker");
        worker.kill();
        killed.push(incarnation);
        workers[slot as usize] = Some(spawn(slot));
    }
    assert_eq!(runs.len() as u64, RUNS);
    let killing_took = began.elapsed();
    eprintln!(
        "{KILLS} kills in {killing_took:?}; unfinished runs at each kill: min {}, max {}",
        in_flight.iter().min().unwrap(),
        in_flight.iter().max().unwrap()
    );
    wait_for(
        Duration::from_secs(120),
        || client.count_by_status().unwrap().get(Status::Completed) == RUNS,
        || {
            format!(
                "every run to complete after the last kill; runs by status {:?}; warnings {:#?}",
                client
                    .count_by_status()
                    .map(|c| c.iter().collect::<Vec<_>>()),
                warnings(dir.path())
            )
        },
    );
    let counts = client.count_by_status().unwrap();
    assert_eq!(counts.total(), RUNS, "{counts:?}");

    // Every run completed once, with its output, after the expected transitions.
    for (n, run) in runs.iter().enumerate() {
        let n = n as u64;
        assert_eq!(client.result(storm, *run).unwrap(), expected(n), "{run}");
        let status = client.status(*run).unwrap();
        assert_eq!(status.status, Status::Completed, "{run}");
        assert_eq!(status.transitions, TRANSITIONS, "{run}");
    }
    // The workers still running have finished their work: stop them before reading the log.
    for (_, worker) in workers.into_iter().flatten() {
        worker.kill();
    }
    check_log(dir.path(), &runs, &killed);
    let warnings = warnings(dir.path());
    let retried: Vec<&String> = warnings
        .iter()
        .filter(|l| l.contains("run again"))
        .collect();
    assert!(
        retried.is_empty(),
        "PostgreSQL aborted transactions (deadlock or serialization failure): {retried:#?}"
    );
    // A run stops in a worker only when its lease was lost; any other error (a storage
    // error, say) would leave it to that worker's restart.
    let stopped: Vec<&String> = warnings
        .iter()
        .filter(|l| l.contains("run stopped") && !l.contains("taken over by another worker"))
        .collect();
    assert!(stopped.is_empty(), "runs stopped on errors: {stopped:#?}");
    eprintln!(
        "{} warnings in all; the test took {:?}",
        warnings.len(),
        began.elapsed()
    );
}

/// A scratch directory removed when dropped, unless the test is failing (then its log and
/// warnings are left for a post-mortem).
struct KeptOnFailure(Option<tempfile::TempDir>);

impl KeptOnFailure {
    fn path(&self) -> &Path {
        self.0.as_ref().expect("until dropped").path()
    }
}

impl Drop for KeptOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(dir) = self.0.take()
        {
            eprintln!("kept {}", dir.keep().display());
        }
    }
}

/// Checks the log of step executions and commits against the rules of the module doc.
fn check_log(dir: &Path, runs: &[cairn::RunId], killed: &[u64]) {
    let log = read_log(dir);
    // (incarnation, input) of the refused commits.
    let lost: Vec<(u64, u64)> = lost_leases(dir)
        .into_iter()
        .map(|(incarnation, run)| {
            let n = runs
                .iter()
                .position(|r| r.0 == run)
                .expect("a run of the test");
            (incarnation, n as u64)
        })
        .collect();
    // Commit lines name the run by id, executions by input.
    let input: HashMap<u64, u64> = runs
        .iter()
        .enumerate()
        .map(|(n, run)| (run.0, n as u64))
        .collect();
    // The first commit of each (run, step), by its position in the log.
    let mut committed_at: HashMap<(u64, u64), usize> = HashMap::new();
    // Every execution of each (run, step): (position, incarnation).
    let mut executed: HashMap<(u64, u64), Vec<(usize, u64)>> = HashMap::new();
    for (at, line) in log.iter().enumerate() {
        match parse(line) {
            Line::Exec(incarnation, n, step) => {
                executed
                    .entry((n, step))
                    .or_default()
                    .push((at, incarnation));
            }
            Line::Commit(run, number) => {
                let n = input[&run];
                if let Some(step) = step_of_transition(n, number) {
                    committed_at.entry((n, step)).or_insert(at);
                }
            }
            Line::Branch(run, index) => {
                let n = input[&run];
                committed_at.entry((n, 5 + index)).or_insert(at);
            }
        }
    }
    let mut again = 0;
    for n in 0..runs.len() as u64 {
        for step in 0..9 {
            let ran = executed.get(&(n, step)).map_or(&[][..], Vec::as_slice);
            if !path(n).contains(&step) {
                assert!(
                    ran.is_empty(),
                    "run {n} ran step {step}, off its path: {ran:?}"
                );
                continue;
            }
            assert!(!ran.is_empty(), "run {n} never ran step {step}");
            // A commit the hook did not log (a kill right after the commit) leaves no line:
            // then only the executions are checked.
            if let Some(&commit) = committed_at.get(&(n, step)) {
                let late: Vec<_> = ran.iter().filter(|(at, _)| *at > commit).collect();
                assert!(
                    late.is_empty(),
                    "run {n} step {step} ran again after its commit (log line {commit}): {late:?}"
                );
            }
            // Every execution but the last was cut short: its worker was killed, or lost the
            // run's lease.
            for (at, incarnation) in &ran[..ran.len() - 1] {
                assert!(
                    killed.contains(incarnation) || lost.contains(&(*incarnation, n)),
                    "run {n} step {step} ran at log line {at} in worker incarnation \
                     {incarnation}, which was neither killed nor lost the lease, and ran \
                     again: {ran:?}"
                );
                again += 1;
            }
        }
    }
    eprintln!(
        "{again} step executions ran again (in flight in a killed worker or one that lost \
         the lease); {} refused commits; {} log lines",
        lost.len(),
        log.len()
    );
}
