//! Unique starts across processes: two client-only processes call `Client::start_unique`
//! with the same key at the same moment (both released by a barrier file), 20 keys in a
//! row. For each key exactly one run is stored, both processes get its id, and its step runs
//! once (counted in a file by the parent's runtime, which runs the handed-over runs).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use cairn::{Context, Runtime, workflow};

use super::process::{
    Proc, append_line, child_dir, generation, parent_store, report, tokio_runtime,
};
use super::{Backend, fresh_store};

/// Keys raced for, one after the other.
const ROUNDS: u64 = 20;
/// How long the parent waits for its runtime to finish the handed-over runs.
const PATIENCE: Duration = Duration::from_secs(20);

/// The parent's file of step executions, one line per execution.
static STEPS: OnceLock<PathBuf> = OnceLock::new();

async fn count(n: u64) -> Result<u64, String> {
    let path = STEPS.get().expect("only the parent runs steps");
    append_line(path, &n.to_string()).map_err(|e| e.to_string())?;
    Ok(n)
}

#[workflow]
async fn charge_once(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let n = ctx.task(count, n).await?;
    Ok(n)
}

/// The barrier of round `round`: both children wait until it exists.
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
        let client = store
            .runtime()
            .register(charge_once)
            .client_only()
            .start()
            .expect("client opens")
            .client();
        for round in 0..ROUNDS {
            report(&format!("ready {round}"));
            // Spins rather than sleeps, so both children leave the barrier together.
            while !barrier(&dir, round).exists() {
                std::thread::yield_now();
            }
            let key = format!("order-{round}");
            let run = client
                .start_unique(charge_once, &key, round)
                .await
                .expect("start_unique");
            report(&format!("run {round} {} from {}", run.0, generation()));
        }
    });
}

#[test]
fn two_processes_starting_the_same_key_at_once_get_one_run() {
    if child_dir().is_some() {
        return;
    }
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    let steps = dir.path().join("steps");
    STEPS.set(steps.clone()).unwrap();
    tokio_runtime().block_on(async {
        // A short poll interval: this runtime learns of the runs from the hand-over table.
        let runtime: Runtime = store
            .runtime()
            .register(charge_once)
            .answer_poll_interval(Duration::from_millis(5))
            .start()
            .unwrap();
        let mut children = [0, 1].map(|g| Proc::spawn(module_path!(), &store, dir.path(), g, 0));
        let mut runs = Vec::new();
        for round in 0..ROUNDS {
            for child in &mut children {
                assert_eq!(child.until("ready"), format!("ready {round}"));
            }
            std::fs::write(barrier(dir.path(), round), b"").unwrap();
            let ids = children.each_mut().map(|child| {
                let message = child.until("run");
                let id = message.split(' ').nth(2).expect("an id").to_owned();
                id.parse::<u64>().expect("a number")
            });
            assert_eq!(ids[0], ids[1], "round {round}: two runs for one key");
            runs.push(cairn::RunId(ids[0]));
        }
        for child in children {
            child.exit();
        }
        let client = runtime.client();
        for (round, &run) in (0..).zip(&runs) {
            let output = tokio::time::timeout(PATIENCE, client.wait(charge_once, run))
                .await
                .expect("the runtime runs the handed-over run")
                .unwrap();
            assert_eq!(output, round);
        }
        assert_eq!(client.list(None).unwrap().len() as u64, ROUNDS);
        runtime.shutdown().await;
    });
    let mut counted: Vec<u64> = std::fs::read_to_string(&steps)
        .unwrap()
        .lines()
        .map(|line| line.parse().unwrap())
        .collect();
    counted.sort_unstable();
    assert_eq!(counted, (0..ROUNDS).collect::<Vec<_>>(), "each step once");
}
