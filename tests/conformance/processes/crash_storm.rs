//! Crash storm: 100 runs at once, their process SIGKILLed at random points at least 50 times,
//! in each durability mode; then one last process finishes them all.
//!
//! Each run loops over four steps, with a durable sleep on one branch. A step's side effect is
//! a line `exec <input> <step> <generation>` appended to a log in the run directory (one
//! `write` with `O_APPEND`, so it survives SIGKILL); the step's result carries the generation
//! of the process that ran it, and that result is what the workflow commits. So at the end,
//! for every step of every run, the output says in which process its committed result was
//! made, and the log says every process in which the step ran. A step whose result was
//! committed must never run again: no `exec` line of it may come from a later process. Every
//! run started must complete, exactly once, with the right values.
//!
//! The parent kills each process after a random number (1 to 6) of steps have begun, plus,
//! every other time, a random delay under 3 ms, so kills land inside steps, inside commits and
//! while runs are still being created. The seed is printed; `CRASH_SEED` replays it. On a
//! loaded machine a process runs far past the steps the parent has read of it before its kill
//! lands, and the runs may all finish before 50 kills: the parent then has 100 more started,
//! until the kills are done.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn::{Context, Durability, workflow};

use super::process::{
    Proc, child_dir, generation, log, param, parent_store, read_log, report, tokio_runtime,
};
use super::{Backend, BackendUnderTest, fresh_store};

/// Runs started, all at once (and as many again each time they all finish before the kills
/// are done).
const RUNS: u64 = 100;
/// Steps per run.
const STEPS: u64 = 4;
/// SIGKILLs per durability mode, at least.
const KILLS: u32 = 50;

/// One step: says that it began, takes a moment, records its side effect.
async fn work(input: u64, step: u64) -> Result<(u64, u32), String> {
    report("begin");
    tokio::time::sleep(Duration::from_millis(1 + (input + step) % 3)).await;
    let generation = generation();
    log(&format!("exec {input} {step} {generation}"));
    Ok((input * 10 + step, generation))
}

#[workflow]
async fn storm(ctx: &mut Context, input: u64) -> Result<Vec<(u64, u32)>, String> {
    let mut results = Vec::new();
    for step in 0..STEPS {
        let result = ctx.task(work, input, step).await?;
        results.push(result);
        if step == 1 && input % 2 == 0 {
            ctx.sleep(Duration::from_millis(2)).await?;
        }
    }
    Ok(results)
}

#[test]
fn child_entry() {
    if child_dir().is_none() {
        return;
    }
    tokio_runtime().block_on(child());
}

/// The parent's parameter: the durability mode and how many runs to have.
fn param_of(mode: u64, runs: u64) -> u64 {
    mode + 2 * runs
}

/// Starts the runs not started yet of the `runs` the parent asked for (runs are started in
/// input order, so the stored runs are inputs `0..stored`), then waits for every run and
/// reports all outputs.
async fn child() {
    let durability = match param() % 2 {
        0 => Durability::Full,
        _ => Durability::ProcessCrash,
    };
    let runs = param() / 2;
    let runtime = parent_store()
        .runtime()
        .durability(durability)
        .register(storm)
        .start()
        .expect("runtime starts");
    let client = runtime.client();
    let stored = client.list(None).expect("list").len() as u64;
    for input in stored..runs {
        client.start(storm, input).await.expect("start");
    }
    let mut outputs = BTreeMap::new();
    for run in client.list(None).expect("list") {
        let output = client.wait(storm, run.id).await.expect("run completes");
        outputs.insert(run.id.0, output);
    }
    report(&format!(
        "output {}",
        serde_json::to_string(&outputs).expect("json")
    ));
    runtime.shutdown().await;
}

/// xorshift64, seeded from the clock unless `CRASH_SEED` is set.
struct Random(u64);

impl Random {
    fn new() -> Random {
        let seed = std::env::var("CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
                    | 1
            });
        println!("CRASH_SEED={seed}");
        Random(seed)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

type Outputs = BTreeMap<u64, Vec<(u64, u32)>>;

fn parse_output(message: &str) -> Outputs {
    let json = message.strip_prefix("output ").expect("output message");
    serde_json::from_str(json).expect("outputs")
}

/// Kills processes on `store` (logging in `dir`) until `KILLS` kills are done, then lets one
/// finish; returns the outputs it reported, how many processes were killed and how many runs
/// were started.
fn storm_on(store: &BackendUnderTest, dir: &Path, mode: u64) -> (Outputs, u32, u64) {
    let mut random = Random::new();
    let mut generation = 0;
    let mut kills = 0;
    let mut runs = RUNS;
    while kills < KILLS {
        let param = param_of(mode, runs);
        let mut child = Proc::spawn(module_path!(), store, dir, generation, param);
        generation += 1;
        let budget = random.below(6) + 1;
        let mut begun = 0;
        let mut finished = false;
        while begun < budget && !finished {
            let message = child.next();
            if message == "begin" {
                begun += 1;
            }
            finished = message.starts_with("output ");
        }
        if finished {
            // Every run finished within this process's budget: more runs, for more kills.
            child.exit();
            runs += RUNS;
            continue;
        }
        if random.below(2) == 0 {
            std::thread::sleep(Duration::from_micros(random.below(3_000)));
        }
        child.kill();
        kills += 1;
    }
    let mut child = Proc::spawn(module_path!(), store, dir, generation, param_of(mode, runs));
    let message = child.until("output ");
    child.exit();
    (parse_output(&message), kills, runs)
}

fn crash_storm(mode: u64) {
    let store = fresh_store();
    let dir = tempfile::tempdir().expect("tempdir");
    let (outputs, kills, runs) = storm_on(&store, dir.path(), mode);
    assert!(kills >= KILLS, "only {kills} kills");

    // No run lost, none started twice, every output right.
    assert_eq!(outputs.len() as u64, runs, "runs: {:?}", outputs.keys());
    let mut inputs: Vec<u64> = outputs.values().map(|steps| steps[0].0 / 10).collect();
    inputs.sort();
    assert_eq!(inputs, (0..runs).collect::<Vec<_>>());
    for steps in outputs.values() {
        let input = steps[0].0 / 10;
        let values: Vec<u64> = steps.iter().map(|(value, _)| *value).collect();
        let expected: Vec<u64> = (0..STEPS).map(|step| input * 10 + step).collect();
        assert_eq!(values, expected, "run of input {input}");
    }

    // No step ran again in a process after the one whose result was committed.
    let mut ran_in: BTreeMap<(u64, u64), Vec<u32>> = BTreeMap::new();
    for line in read_log(dir.path()) {
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields[0], "exec", "log line {line:?}");
        let number = |i: usize| fields[i].parse::<u64>().expect("number");
        ran_in
            .entry((number(1), number(2)))
            .or_default()
            .push(number(3) as u32);
    }
    let mut reruns = 0;
    for steps in outputs.values() {
        let input = steps[0].0 / 10;
        for (step, (_, committed_in)) in steps.iter().enumerate() {
            let generations = &ran_in[&(input, step as u64)];
            assert!(
                generations.contains(committed_in),
                "step {step} of input {input}: committed from process {committed_in}, \
                 which has no record of running it ({generations:?})"
            );
            let later: Vec<&u32> = generations.iter().filter(|g| *g > committed_in).collect();
            assert!(
                later.is_empty(),
                "step {step} of input {input} was committed in process {committed_in} and \
                 ran again in {later:?}"
            );
            reruns += generations.len() - 1;
        }
    }
    println!("{kills} kills, {runs} runs, {reruns} steps re-run after being in flight at a kill");
}

#[test]
fn crash_storm_full_durability() {
    crash_storm(0);
}

#[test]
fn crash_storm_process_crash_durability() {
    crash_storm(1);
}
