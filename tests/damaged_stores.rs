//! End to end, through real files: the stored values of one run (its record, history records
//! or key-value state) damaged at random positions through heed (bits flipped, cut short,
//! extended, or replaced by arbitrary bytes), then a runtime started on the directory and a
//! client-only process's view of it. No panic and no signal; every read of the damaged run
//! (`status`, `list`, `history`, `state`, `result`, `result_json`) is a value or a typed error,
//! never a raw storage error; the other runs still read, with their outputs.
//!
//! Bounded: [`CASES`] cases, each a fresh directory with three runs, about five seconds.

mod support;

use std::path::Path;
use std::time::Duration;

use cairn::{Client, Context, Error, RunId, Runtime, Status, workflow};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use support::raw_store::with_database;

/// Cases of the property: each starts runtimes twice on a fresh directory.
/// `CAIRN_FUZZ_CASES=2000 cargo test --test damaged_stores` runs longer.
const CASES: u32 = 64;

async fn double(n: u64) -> Result<u64, String> {
    Ok(n * 2)
}

#[workflow]
async fn tally(ctx: &mut Context, n: u64) -> Result<u64, String> {
    ctx.state().set("n", &n)?;
    let a = ctx.task(double, n).await?;
    ctx.state().set("a", &a)?;
    let b = ctx.task(double, a).await?;
    Ok(b)
}

#[workflow]
async fn napper(ctx: &mut Context, n: u64) -> Result<u64, String> {
    ctx.state().set("n", &n)?;
    let a = ctx.task(double, n).await?;
    ctx.sleep(Duration::from_secs(3_600)).await?;
    Ok(a)
}

fn start(dir: &Path) -> Runtime {
    Runtime::builder()
        .path(dir)
        .register(tally)
        .register(napper)
        .start()
        .expect("a runtime starts on a damaged directory")
}

/// Which stored value of the run is damaged.
#[derive(Clone, Copy, Debug)]
enum Table {
    Record,
    History,
    KvState,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Record => "runs",
            Table::History => "history",
            Table::KvState => "state",
        }
    }
}

/// How it is damaged.
#[derive(Clone, Debug)]
enum Damage {
    Flip(Vec<(Index, u8)>),
    Truncate(Index),
    Extend(Vec<u8>),
    Replace(Vec<u8>),
}

impl Damage {
    fn apply(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        match self {
            Damage::Flip(flips) => {
                for (at, bit) in flips {
                    out[at.index(bytes.len())] ^= 1 << bit;
                }
            }
            Damage::Truncate(len) => out.truncate(len.index(bytes.len())),
            Damage::Extend(more) => out.extend_from_slice(more),
            Damage::Replace(with) => out.clone_from(with),
        }
        out
    }
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        3 => vec((any::<Index>(), 0..8u8), 1..5).prop_map(Damage::Flip),
        1 => any::<Index>().prop_map(Damage::Truncate),
        1 => vec(any::<u8>(), 1..16).prop_map(Damage::Extend),
        1 => vec(any::<u8>(), 0..64).prop_map(Damage::Replace),
    ]
}

fn table() -> impl Strategy<Value = Table> {
    prop_oneof![
        Just(Table::Record),
        Just(Table::History),
        Just(Table::KvState)
    ]
}

/// Damages one value of `run` in `table` (the `which`-th of its entries) through heed, with
/// no runtime open.
fn damage_value(dir: &Path, run: RunId, table: Table, which: Index, damage: &Damage) {
    with_database(dir, table.name(), |txn, db| {
        let prefix = run.0.to_be_bytes();
        let entries: Vec<(Vec<u8>, Vec<u8>)> = db
            .prefix_iter(txn, &prefix)
            .expect("the run's entries")
            .map(|entry| entry.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<Result<_, _>>()
            .expect("entries read");
        let (key, value) = &entries[which.index(entries.len())];
        db.put(txn, key, &damage.apply(value))
            .expect("the damaged value is written");
    });
}

/// `result` is a value or a typed error.
fn typed<T>(what: &str, result: Result<T, Error>) -> Result<Option<T>, TestCaseError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error @ (Error::Storage(_) | Error::Io(_))) => Err(TestCaseError::fail(format!(
            "{what}: a raw error: {error:?}"
        ))),
        Err(_) => Ok(None),
    }
}

/// Every read a user makes of `run`, the `n`-th run (input `n + 1`): values or typed errors,
/// and every value read is the one stored, never another.
fn read_damaged(client: &Client, run: RunId, n: u64) -> Result<(), TestCaseError> {
    let input = n + 1;
    typed("status", client.status(run))?;
    typed("list", client.list(None))?;
    typed("history", client.history(run))?;
    if let Some(state) = typed("state", client.state(run))? {
        let _ = state.to_json();
        if let Some(Some(stored)) = typed("state value n", state.get::<u64>("n"))? {
            prop_assert_eq!(stored, input);
        }
        if let Some(Some(stored)) = typed("state value a", state.get::<u64>("a"))? {
            prop_assert_eq!(stored, input * 2);
        }
    }
    let tally_run = n < 2;
    if let Some(output) = typed("result", client.result(tally, run))? {
        prop_assert!(tally_run);
        prop_assert_eq!(output, input * 4);
    }
    if let Some(output) = typed("result_json", client.result_json(run))?
        && tally_run
    {
        prop_assert_eq!(output, serde_json::json!(input * 4));
    }
    Ok(())
}

/// The runs beside the damaged one read as they were.
fn read_sound(client: &Client, runs: &[RunId; 3], damaged: RunId) -> Result<(), TestCaseError> {
    for (n, &run) in (0u64..).zip(runs) {
        if run == damaged {
            continue;
        }
        let status = client
            .status(run)
            .map_err(|e| TestCaseError::fail(format!("status of sound run {run}: {e:?}")))?;
        if n < 2 {
            prop_assert_eq!(status.status, Status::Completed);
            let output = client
                .result(tally, run)
                .map_err(|e| TestCaseError::fail(format!("result of {run}: {e:?}")))?;
            prop_assert_eq!(output, (n + 1) * 4);
        } else {
            prop_assert_eq!(status.status, Status::Waiting);
        }
        let history = client
            .history(run)
            .map_err(|e| TestCaseError::fail(format!("history of {run}: {e:?}")))?;
        prop_assert!(!history.is_empty());
    }
    let listed = client
        .list(None)
        .map_err(|e| TestCaseError::fail(format!("list: {e:?}")))?;
    for run in runs.iter().filter(|&&run| run != damaged) {
        prop_assert!(listed.iter().any(|status| status.id == *run));
    }
    Ok(())
}

#[test]
fn a_damaged_run_is_typed_errors_and_the_others_stay_readable() {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut runner = TestRunner::new(Config {
        cases: std::env::var("CAIRN_FUZZ_CASES")
            .ok()
            .and_then(|cases| cases.parse().ok())
            .unwrap_or(CASES),
        failure_persistence: None,
        ..Config::default()
    });
    let cases = (0..3usize, table(), any::<Index>(), damage());
    runner
        .run(&cases, |(target, table, which, damage)| {
            tokio.block_on(async {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let runtime = start(dir.path());
                let client = runtime.client();
                let a = client.start(tally, 1).await.expect("a run");
                let b = client.start(tally, 2).await.expect("a run");
                let c = client.start(napper, 3).await.expect("a run");
                client.wait(tally, a).await.expect("finished");
                client.wait(tally, b).await.expect("finished");
                client
                    .wait_for_status(c, Status::Waiting)
                    .await
                    .expect("asleep");
                runtime.shutdown().await;
                let runs = [a, b, c];
                let run = runs[target];
                damage_value(dir.path(), run, table, which, &damage);

                // A runtime's start-up reads the unfinished runs, the damaged one too.
                let runtime = start(dir.path());
                read_damaged(&runtime.client(), run, target as u64)?;
                read_sound(&runtime.client(), &runs, run)?;
                runtime.shutdown().await;

                // A client-only process: reads, starts no run.
                let client_only = Runtime::builder()
                    .path(dir.path())
                    .register(tally)
                    .register(napper)
                    .client_only()
                    .start()
                    .map_err(|e| TestCaseError::fail(format!("client-only open: {e:?}")))?;
                read_damaged(&client_only.client(), run, target as u64)?;
                read_sound(&client_only.client(), &runs, run)?;
                client_only.shutdown().await;
                // Without the workflows registered, as a dashboard would open it.
                let client = Client::open(dir.path())
                    .map_err(|e| TestCaseError::fail(format!("Client::open: {e:?}")))?;
                typed("status", client.status(run))?;
                typed("list", client.list(None))?;
                typed("history", client.history(run))?;
                typed("state", client.state(run))?;
                typed("result_json", client.result_json(run))?;
                Ok(())
            })
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
}
