//! Crash test with real processes: a workflow with a loop, a branch and seven or eight steps is
//! killed with SIGKILL right after each of its transitions in turn, and at random points (most
//! of them inside steps), and restarted each time until it completes.
//!
//! The test binary re-executes itself as the child (`child_entry`, which does nothing unless
//! `CRASH_CHILD_DIR` is set), on the parent's store. Child and parent share an append-only log
//! in a scratch directory (`CRASH_CHILD_DIR`):
//! a step appends `exec <step> <iteration> <generation>` before it returns, and the transition
//! hook appends `commit <number> <state> <step> <generation>` after each commit (the generation
//! numbers the child processes of one directory). The child also reports on stdout, as lines
//! starting with `@@`, when a step begins, when a transition is committed, and the run's
//! output; the parent reads these to know when to kill, so no sleep hides a race.
//!
//! Checked from the log, against an uncrashed run in another directory: every transition is
//! committed exactly once and in the same order; no step runs again after its transition was
//! committed (a step in flight at a kill may run again); the output is the same.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{self, BufRead, BufReader, Lines, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn::{Context, Flow, workflow};
use serde::{Deserialize, Serialize};

use super::process::{parent_store, tokio_runtime};
use super::{Backend, BackendUnderTest, child_entry_of, fresh_store};

/// How long each step takes, so that random kills land inside steps.
const STEP_TIME: Duration = Duration::from_millis(10);
/// A child that says nothing for this long is killed and the test fails.
const CHILD_TIMEOUT: Duration = Duration::from_secs(30);
/// Even sum: the branch with the `bonus` step is taken (8 steps).
const EVEN: &[u64] = &[1, 2, 3, 4];
/// Odd sum: the branch without a step (7 steps).
const ODD: &[u64] = &[1, 2, 3, 5];

// ---------------------------------------------------------------------------------------------
// The workflow, run by the child.

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Item {
    index: u32,
    value: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Summary {
    total: u64,
    trail: Vec<String>,
    report: String,
}

#[workflow]
async fn crashy(ctx: &mut Context, values: Vec<u64>) -> io::Result<Summary> {
    let items = ctx.task(prepare, values).await?;
    let mut total = 0;
    let mut trail = Vec::new();
    for item in items {
        let score = ctx.task(score, item).await?;
        total += score;
        trail.push(format!("score {score}"));
    }
    if total % 2 == 0 {
        let bonus = ctx.task(bonus, total).await?;
        total += bonus;
        trail.push(format!("bonus {bonus}"));
    }
    let checked = ctx.task(audit, total, trail.len() as u64).await?;
    let report = ctx.step("finish", finish(checked, trail.clone())).await?;
    Ok(Summary {
        total,
        trail,
        report,
    })
}

async fn prepare(values: Vec<u64>) -> io::Result<Vec<Item>> {
    side_effect("prepare", 0).await?;
    Ok((0..)
        .zip(values)
        .map(|(index, value)| Item { index, value })
        .collect())
}

async fn score(item: Item) -> io::Result<u64> {
    side_effect("score", item.index).await?;
    Ok(item.value * 3)
}

async fn bonus(total: u64) -> io::Result<u64> {
    side_effect("bonus", 0).await?;
    Ok(total / 2)
}

async fn audit(total: u64, entries: u64) -> io::Result<String> {
    side_effect("audit", 0).await?;
    Ok(format!("{entries} entries, total {total}"))
}

async fn finish(checked: String, trail: Vec<String>) -> io::Result<String> {
    side_effect("finish", 0).await?;
    Ok(format!("{checked}: {}", trail.join(", ")))
}

/// What every step does: say it began, take a while, and record that it ran.
async fn side_effect(step: &str, iteration: u32) -> io::Result<()> {
    append_log(&format!("begin {step} {iteration} {}", generation()))?;
    report(&format!("begin {step} {iteration}"));
    tokio::time::sleep(STEP_TIME).await;
    append_log(&format!("exec {step} {iteration} {}", generation()))
}

fn child_dir() -> Option<PathBuf> {
    std::env::var_os("CRASH_CHILD_DIR").map(PathBuf::from)
}

fn generation() -> u32 {
    env_number("CRASH_GENERATION").unwrap_or(0)
}

fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().map(|v| match v.parse() {
        Ok(n) => n,
        Err(_) => panic!("{name}={v} is not a number"),
    })
}

/// Appends one line to the shared log in a single `write`.
fn append_log(line: &str) -> io::Result<()> {
    let dir = child_dir().expect("CRASH_CHILD_DIR is set in the child");
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("log"))?;
    log.write_all(format!("{line}\n").as_bytes())
}

/// Tells the parent, on stdout, right away.
fn report(message: &str) {
    let mut out = io::stdout().lock();
    writeln!(out, "@@{message}").expect("stdout");
    out.flush().expect("stdout");
}

/// The child process. Runs the workflow on the parent's store (resuming the run there if there
/// is one) until it completes, or until transition `CRASH_STOP_AFTER` is committed, after which
/// it blocks until the parent kills it.
#[test]
fn child_entry() {
    if child_dir().is_none() {
        return;
    }
    tokio_runtime().block_on(child());
}

async fn child() {
    let stop_after: Option<u64> = env_number("CRASH_STOP_AFTER");
    let values: Vec<u64> =
        serde_json::from_str(&std::env::var("CRASH_INPUT").expect("CRASH_INPUT")).expect("input");
    let runtime = parent_store()
        .runtime()
        .register(crashy)
        .on_transition(move |t| {
            let step = t.step.unwrap_or("-");
            append_log(&format!(
                "commit {} {} {step} {}",
                t.number,
                t.state,
                generation()
            ))
            .expect("log");
            report(&format!("commit {}", t.number));
            if stop_after == Some(t.number) {
                // Wait for SIGKILL; exit on our own only if the parent is gone.
                std::thread::sleep(CHILD_TIMEOUT);
                std::process::exit(3);
            }
            Flow::Continue
        })
        .start()
        .expect("runtime starts");
    report("started");
    let client = runtime.client();
    let run = match client.list(None).expect("list").first() {
        Some(run) => run.id,
        None => client.start(crashy, values).await.expect("start"),
    };
    let output = client.wait(crashy, run).await.expect("run completes");
    let status = client.status(run).expect("status");
    let output = serde_json::to_string(&output).expect("json");
    report(&format!("output {} {output}", status.transitions));
    runtime.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// The parent.

/// A running child process and the `@@` lines of its stdout. Killed when dropped, so that a
/// failing test leaves no child behind.
struct Proc {
    child: Arc<Mutex<Child>>,
    lines: Lines<BufReader<ChildStdout>>,
    /// Dropping it stops the watchdog.
    _watchdog: mpsc::Sender<()>,
}

impl Proc {
    fn spawn(
        store: &BackendUnderTest,
        dir: &Path,
        generation: u32,
        input: &[u64],
        stop_after: Option<u64>,
    ) -> Proc {
        let mut command = Command::new(std::env::current_exe().expect("current exe"));
        let entry = child_entry_of(module_path!());
        command
            .args(["--exact", &entry, "--nocapture", "--test-threads=1"])
            .env("CRASH_CHILD_DIR", dir)
            .env("CRASH_GENERATION", generation.to_string())
            .env("CRASH_INPUT", serde_json::to_string(input).expect("json"))
            .env_remove("CRASH_STOP_AFTER")
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        if let Some(k) = stop_after {
            command.env("CRASH_STOP_AFTER", k.to_string());
        }
        store.pass_to_child(&mut command);
        let mut child = command.spawn().expect("spawn child");
        let stdout = child.stdout.take().expect("piped stdout");
        let child = Arc::new(Mutex::new(child));
        let (watchdog, timeout) = mpsc::channel::<()>();
        let guarded = child.clone();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = timeout.recv_timeout(CHILD_TIMEOUT) {
                let _ = guarded.lock().unwrap().kill();
            }
        });
        Proc {
            child,
            lines: BufReader::new(stdout).lines(),
            _watchdog: watchdog,
        }
    }

    /// The next `@@` message; panics if the child exits first.
    fn next(&mut self) -> String {
        for line in self.lines.by_ref() {
            let line = line.expect("read child stdout");
            if let Some((_, message)) = line.split_once("@@") {
                return message.to_owned();
            }
        }
        let status = self.child.lock().unwrap().wait();
        panic!("child exited early ({status:?}); see its stderr above");
    }

    /// Sends SIGKILL and reaps the child; if the child had already completed the run and
    /// exited, returns the output it reported instead.
    fn kill(self) -> Option<Output> {
        let status = {
            let mut child = self.child.lock().unwrap();
            child.kill().expect("kill child");
            child.wait().expect("wait child")
        };
        if status.success() {
            Some(self.finish())
        } else {
            None
        }
    }

    /// Reads until the child reports its output, then checks that it exits cleanly.
    fn finish(mut self) -> Output {
        loop {
            let message = self.next();
            if message.starts_with("output ") {
                return self.exit(&message);
            }
        }
    }

    /// Given the child's `output` message, checks that it exits cleanly and parses the output.
    fn exit(self, message: &str) -> Output {
        let status = self.child.lock().unwrap().wait().expect("wait child");
        assert!(status.success(), "child failed after its output: {status}");
        let output = message.strip_prefix("output ").expect("output message");
        let (transitions, json) = output.split_once(' ').expect("output message");
        Output {
            transitions: transitions.parse().expect("transition count"),
            json: json.to_owned(),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if let Ok(None) = child.try_wait() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[derive(Debug, PartialEq)]
struct Output {
    /// Committed transitions of the run.
    transitions: u64,
    /// The run's output as JSON.
    json: String,
}

/// One line of the shared log.
#[derive(Clone, Debug, PartialEq)]
enum Event {
    /// A step began.
    Begin {
        step: String,
        iteration: u32,
        generation: u32,
    },
    /// A step's side effect took place.
    Exec {
        step: String,
        iteration: u32,
        generation: u32,
    },
    /// A transition was committed.
    Commit {
        number: u64,
        state: String,
        step: String,
        generation: u32,
    },
}

fn read_log(dir: &Path) -> Vec<Event> {
    let text = std::fs::read_to_string(dir.join("log")).expect("read log");
    text.lines()
        .map(|line| {
            let words: Vec<&str> = line.split(' ').collect();
            match words[..] {
                ["begin", step, iteration, generation] => Event::Begin {
                    step: step.to_owned(),
                    iteration: iteration.parse().unwrap(),
                    generation: generation.parse().unwrap(),
                },
                ["exec", step, iteration, generation] => Event::Exec {
                    step: step.to_owned(),
                    iteration: iteration.parse().unwrap(),
                    generation: generation.parse().unwrap(),
                },
                ["commit", number, state, step, generation] => Event::Commit {
                    number: number.parse().unwrap(),
                    state: state.to_owned(),
                    step: step.to_owned(),
                    generation: generation.parse().unwrap(),
                },
                _ => panic!("malformed log line {line:?}"),
            }
        })
        .collect()
}

/// The transitions of an uncrashed run, in order: (state, step, iteration of the step).
#[derive(Debug)]
struct Reference {
    transitions: Vec<(String, String, u32)>,
    output: Output,
}

fn uncrashed(input: &[u64]) -> Reference {
    let store = fresh_store();
    let dir = tempfile::tempdir().expect("tempdir");
    let output = Proc::spawn(&store, dir.path(), 0, input, None).finish();
    let log = read_log(dir.path());
    // Uncrashed, each step runs once and its transition is committed right after it.
    assert!(interrupted(&log).is_empty(), "uncrashed log: {log:#?}");
    let log: Vec<Event> = log
        .into_iter()
        .filter(|e| !matches!(e, Event::Begin { .. }))
        .collect();
    assert_eq!(log.len() % 2, 0, "uncrashed log: {log:#?}");
    let transitions: Vec<_> = log
        .chunks(2)
        .zip(1..)
        .map(|(pair, n)| match pair {
            [
                Event::Exec {
                    step, iteration, ..
                },
                Event::Commit {
                    number,
                    state,
                    step: committed,
                    ..
                },
            ] if step == committed && *number == n => (state.clone(), step.clone(), *iteration),
            _ => panic!("uncrashed log out of order at transition {n}: {log:#?}"),
        })
        .collect();
    assert_eq!(output.transitions, transitions.len() as u64);
    assert!(transitions.len() >= 7, "too few steps: {transitions:?}");
    Reference {
        transitions,
        output,
    }
}

/// The steps that began and did not finish (no `exec` line from the same process).
fn interrupted(log: &[Event]) -> Vec<&Event> {
    log.iter()
        .filter(|begin| match begin {
            Event::Begin {
                step,
                iteration,
                generation,
            } => !log.iter().any(|e| {
                *e == Event::Exec {
                    step: step.clone(),
                    iteration: *iteration,
                    generation: *generation,
                }
            }),
            _ => false,
        })
        .collect()
}

/// Checks a crashed-and-restarted run's log against the reference. `unlogged_allowed`: how many
/// commits may be missing from the log (a random kill can land between a commit and the hook's
/// log line). Returns how many step executions were repeats of a step in flight at a kill.
fn check(log: &[Event], reference: &Reference, unlogged_allowed: usize) -> usize {
    let n = reference.transitions.len();
    // Position in the log of each logged commit, by transition number.
    let mut committed_at: BTreeMap<u64, usize> = BTreeMap::new();
    for (position, event) in log.iter().enumerate() {
        if let Event::Commit {
            number,
            state,
            step,
            ..
        } = event
        {
            let (ref_state, ref_step, _) = reference
                .transitions
                .get((*number as usize).wrapping_sub(1))
                .unwrap_or_else(|| {
                    panic!("transition {number} beyond the {n} of an uncrashed run")
                });
            assert_eq!(
                (state, step),
                (ref_state, ref_step),
                "transition {number} differs from the uncrashed run's"
            );
            let previous = committed_at.insert(*number, position);
            assert!(previous.is_none(), "transition {number} committed twice");
        }
    }
    let unlogged = n - committed_at.len();
    assert!(
        unlogged <= unlogged_allowed,
        "{unlogged} transitions missing from the log: {log:#?}"
    );

    // Where each transition was committed at the latest: its own log line, else (unlogged) the
    // next logged commit, which could not have happened before it.
    let mut repeats = 0;
    for (index, (_, step, iteration)) in reference.transitions.iter().enumerate() {
        let number = index as u64 + 1;
        let bound = committed_at
            .range(number..)
            .next()
            .map_or(log.len(), |(_, &position)| position);
        let runs: Vec<usize> = log
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                matches!(e, Event::Exec { step: s, iteration: i, .. } if s == step && i == iteration)
            })
            .map(|(position, _)| position)
            .collect();
        assert!(
            runs.first().is_some_and(|&first| first < bound),
            "step {step} #{iteration} (transition {number}) was committed without running: {log:#?}"
        );
        assert!(
            runs.iter().all(|&position| position < bound),
            "step {step} #{iteration} ran again after transition {number} was committed: {log:#?}"
        );
        repeats += runs.len() - 1;
    }
    let execs = log
        .iter()
        .filter(|e| matches!(e, Event::Exec { .. }))
        .count();
    assert_eq!(
        execs,
        n + repeats,
        "executions of steps that are not in the run: {log:#?}"
    );
    repeats
}

/// Kills the child right after transition 1, restarts it, kills it right after transition 2,
/// and so on; then lets the last child complete the run. `steps`: the steps the run takes.
fn kill_after_every_transition(input: &[u64], steps: &[&str]) {
    let reference = uncrashed(input);
    let taken: Vec<&str> = reference
        .transitions
        .iter()
        .map(|(_, step, _)| step.as_str())
        .collect();
    assert_eq!(taken, steps);
    let n = reference.transitions.len() as u64;
    let store = fresh_store();
    let dir = tempfile::tempdir().expect("tempdir");
    for k in 1..=n {
        let mut child = Proc::spawn(&store, dir.path(), k as u32, input, Some(k));
        loop {
            let message = child.next();
            if let Some(number) = message.strip_prefix("commit ") {
                // The previous child stopped right after k - 1: this one commits exactly k.
                assert_eq!(number, k.to_string(), "child {k} committed {number}");
                break;
            }
            assert!(!message.starts_with("output"), "run completed before {k}");
        }
        child.kill();
    }
    let output = Proc::spawn(&store, dir.path(), n as u32 + 1, input, None).finish();
    assert_eq!(output, reference.output);

    let log = read_log(dir.path());
    let repeats = check(&log, &reference, 0);
    assert_eq!(repeats, 0, "no step was in flight at any kill: {log:#?}");
    assert!(interrupted(&log).is_empty(), "{log:#?}");
    // Each child ran exactly one step and committed it; the last ran none.
    for (k, event) in (1..).zip(log.chunks(3)) {
        for e in event {
            let (Event::Begin { generation, .. }
            | Event::Exec { generation, .. }
            | Event::Commit { generation, .. }) = e;
            assert_eq!(*generation, k, "{log:#?}");
        }
    }
}

#[test]
fn kill_after_every_transition_branch_with_step() {
    kill_after_every_transition(
        EVEN,
        &[
            "prepare", "score", "score", "score", "score", "bonus", "audit", "finish",
        ],
    );
}

#[test]
fn kill_after_every_transition_branch_without_step() {
    kill_after_every_transition(
        ODD,
        &[
            "prepare", "score", "score", "score", "score", "audit", "finish",
        ],
    );
}

/// xorshift64, seeded from the clock; the seed is printed so that a failure can be replayed
/// with `CRASH_SEED`.
struct Random(u64);

impl Random {
    fn new() -> Random {
        let seed = env_number("CRASH_SEED").unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
        println!("CRASH_SEED={seed}");
        Random(seed)
    }

    /// Uniform enough in `0..bound`.
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// Kills the child at random points until the run completes: half the time a random delay
/// after a random step began (so mostly inside that step, sometimes in its commit), half the
/// time a random delay after the runtime started (anywhere, startup and commits included).
fn kill_at_random_points(input: &[u64], kills: u32) {
    let reference = uncrashed(input);
    let store = fresh_store();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut random = Random::new();
    let step_ms = STEP_TIME.as_millis() as u64;
    let mut generation = 0;
    let mut killed = 0;
    let output = loop {
        generation += 1;
        let mut child = Proc::spawn(&store, dir.path(), generation, input, None);
        if killed == kills {
            break child.finish();
        }
        let inside_step = random.below(2) == 0;
        let (marker, mut skip, delay) = if inside_step {
            ("begin", random.below(3), random.below(step_ms + 3))
        } else {
            ("started", 0, random.below(step_ms * 4))
        };
        let completed = loop {
            let message = child.next();
            if message.starts_with("output ") {
                break Some(message);
            }
            if message.starts_with(marker) {
                if skip == 0 {
                    break None;
                }
                skip -= 1;
            }
        };
        if let Some(message) = completed {
            // The run outran the kill.
            break child.exit(&message);
        }
        std::thread::sleep(Duration::from_millis(delay));
        if let Some(output) = child.kill() {
            break output; // Too late: the run completed in the meantime.
        }
        killed += 1;
    };
    assert_eq!(output, reference.output);
    let log = read_log(dir.path());
    let repeats = check(&log, &reference, killed as usize);
    println!(
        "{killed} random kills; {} steps interrupted, {repeats} ran again after their side effect",
        interrupted(&log).len()
    );
}

#[test]
fn kill_at_random_points_branch_with_step() {
    kill_at_random_points(EVEN, 6);
}

#[test]
fn kill_at_random_points_branch_without_step() {
    kill_at_random_points(ODD, 6);
}
