//! A damaged run is quarantined, never stuck, and never breaks other runs: stored bytes are
//! damaged here through heed in a real LMDB directory (as a flipped bit or a bad restore would
//! leave them), and the runtime is shut down and started again on the same directory.
//!
//! A quarantined run is listed with its reason, counted at start, left alone at every restart
//! (it does not fail again), and can be failed, resumed once repaired, or purged; the other runs
//! and every listing keep working. A damaged index entry is repaired at start from the run
//! records.

mod support;

use std::path::Path;
use std::time::Duration;

use cairn::{
    Client, Context, Error, Flow, Question, RunId, Runtime, RuntimeBuilder, Status, workflow,
};
use support::raw_store::with_database;

/// Every key of the named database.
fn keys(dir: &Path, name: &str) -> Vec<Vec<u8>> {
    with_database(dir, name, |txn, db| {
        db.iter(txn)
            .unwrap()
            .map(|entry| entry.unwrap().0.to_vec())
            .collect()
    })
}

/// Flips the low bit of the middle byte of `run`'s record, and returns the good bytes.
fn damage_record(dir: &Path, run: RunId) -> Vec<u8> {
    with_database(dir, "runs", |txn, db| {
        let key = run.0.to_be_bytes();
        let good = db.get(txn, &key).unwrap().unwrap().to_vec();
        let mut damaged = good.clone();
        let at = damaged.len() / 2;
        damaged[at] ^= 1;
        db.put(txn, &key, &damaged).unwrap();
        good
    })
}

fn put(dir: &Path, name: &str, key: &[u8], value: &[u8]) {
    with_database(dir, name, |txn, db| db.put(txn, key, value).unwrap());
}

async fn echo(n: u64) -> Result<u64, String> {
    Ok(n)
}

#[workflow]
async fn two_steps(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let a = ctx.task(echo, n).await?;
    let b = ctx.task(echo, a + 1).await?;
    Ok(b)
}

/// Starts `builder`'s runtime; with `halt_first`, every run halts after its first transition
/// (left `Running`, as a crash would), else runs go through.
fn start_with(builder: RuntimeBuilder, halt_first: bool) -> Runtime {
    let builder = if halt_first {
        builder.on_transition(|t| {
            if t.number == 1 {
                Flow::Halt
            } else {
                Flow::Continue
            }
        })
    } else {
        builder
    };
    builder.start().unwrap()
}

/// A runtime of `two_steps` on `dir` (see [`start_with`]).
fn start(dir: &Path, halt_first: bool) -> Runtime {
    start_with(Runtime::builder().path(dir).register(two_steps), halt_first)
}

/// Two runs left `Running` after their first transition.
async fn two_halted_runs(dir: &Path) -> [RunId; 2] {
    let runtime = start(dir, true);
    let client = runtime.client();
    let mut runs = [RunId(0); 2];
    for (n, slot) in runs.iter_mut().enumerate() {
        let run = client.start(two_steps, n as u64 * 10).await.unwrap();
        let status = client.wait_for_status(run, Status::Completed).await;
        assert!(matches!(status, Err(Error::Halted { .. })), "{status:?}");
        *slot = run;
    }
    runtime.shutdown().await;
    runs
}

async fn wait(client: &cairn::Client, run: RunId) -> Result<u64, Error> {
    tokio::time::timeout(Duration::from_secs(20), client.wait(two_steps, run))
        .await
        .expect("the run finishes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_run_is_quarantined_once_listed_and_resumed_after_repair() {
    let dir = tempfile::tempdir().unwrap();
    let [damaged, healthy] = two_halted_runs(dir.path()).await;
    let good = damage_record(dir.path(), damaged);

    let mut since = None;
    for restart in 0..2 {
        let runtime = start(dir.path(), false);
        let client = runtime.client();
        // The other run completes; the damaged one is quarantined, with why.
        assert_eq!(wait(&client, healthy).await.unwrap(), 11);
        let quarantined = runtime.quarantined().unwrap();
        assert_eq!(quarantined.len(), 1, "restart {restart}: {quarantined:?}");
        assert_eq!(quarantined[0].run, damaged);
        // Quarantined once: the second start finds the mark of the first, untouched.
        assert_eq!(
            *since.get_or_insert(quarantined[0].since),
            quarantined[0].since
        );
        assert!(
            quarantined[0].reason.contains("run record"),
            "{}",
            quarantined[0].reason
        );
        let listed = client.list(None).unwrap();
        let ids: Vec<RunId> = listed.iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            [damaged, healthy],
            "a damaged run is listed, not dropped"
        );
        assert_eq!(listed[0].status, Status::Corrupt);
        assert!(listed[0].error.as_deref().unwrap().contains("run record"));
        let corrupt = client.list(Some(Status::Corrupt)).unwrap();
        assert_eq!(corrupt.len(), 1);
        assert_eq!(client.status(damaged).unwrap().status, Status::Corrupt);
        assert!(client.pending_questions().unwrap().is_empty());
        if restart == 1 {
            // Resumed while still damaged: quarantined again, with the new reason.
            assert!(matches!(
                client.resume(damaged).await,
                Err(Error::CorruptState { run, .. }) if run == damaged
            ));
            assert_eq!(runtime.quarantined().unwrap().len(), 1);
        }
        runtime.shutdown().await;
    }

    // Repaired: the good bytes written back, then resumed by hand. It completes.
    put(dir.path(), "runs", &damaged.0.to_be_bytes(), &good);
    let runtime = start(dir.path(), false);
    let client = runtime.client();
    assert_eq!(
        runtime.quarantined().unwrap().len(),
        1,
        "a repaired run stays quarantined until resumed"
    );
    client.resume(damaged).await.unwrap();
    assert_eq!(wait(&client, damaged).await.unwrap(), 1);
    assert!(runtime.quarantined().unwrap().is_empty());
    assert_eq!(client.status(damaged).unwrap().status, Status::Completed);
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarantined_run_can_be_purged_leaving_nothing_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let [damaged, healthy] = two_halted_runs(dir.path()).await;
    damage_record(dir.path(), damaged);

    let runtime = start(dir.path(), false);
    let client = runtime.client();
    assert_eq!(wait(&client, healthy).await.unwrap(), 11);
    // Only a quarantined run is failed from outside, and an unfinished one purged only if
    // quarantined: typed errors, nothing changed.
    assert!(matches!(
        client.fail(healthy, "no").await,
        Err(Error::NotQuarantined { run, status: Status::Completed }) if run == healthy
    ));
    client.purge_run(damaged).await.unwrap();
    assert!(runtime.quarantined().unwrap().is_empty());
    assert!(matches!(
        client.status(damaged),
        Err(Error::UnknownRun { .. })
    ));
    let ids: Vec<RunId> = client.list(None).unwrap().iter().map(|r| r.id).collect();
    assert_eq!(ids, [healthy]);
    runtime.shutdown().await;

    let prefix = damaged.0.to_be_bytes();
    for table in [
        "runs",
        "state",
        "history",
        "sleeps",
        "branches",
        "loop_items",
        "questions",
        "pending",
        "answered",
        "active",
        "quarantine",
        "handed_over",
    ] {
        let left: Vec<_> = keys(dir.path(), table)
            .into_iter()
            .filter(|k| k.starts_with(&prefix))
            .collect();
        assert!(left.is_empty(), "{table} still holds {left:?}");
    }
    // Keyed by time first: no entry names the run.
    for table in ["wakeups", "deadlines"] {
        let left: Vec<_> = keys(dir.path(), table)
            .into_iter()
            .filter(|k| k.get(8..) == Some(&prefix[..]))
            .collect();
        assert!(left.is_empty(), "{table} still holds {left:?}");
    }
    // The healthy run's history is all there.
    assert_eq!(
        keys(dir.path(), "history")
            .iter()
            .filter(|k| k.starts_with(&healthy.0.to_be_bytes()))
            .count(),
        3
    );
}

async fn sum(items: Vec<u64>) -> Result<u64, String> {
    Ok(items.iter().sum())
}

#[workflow]
async fn looping(ctx: &mut Context, items: Vec<u64>) -> Result<u64, String> {
    let mut total = 0;
    for item in items {
        let got = ctx.task(echo, item).await?;
        total += got;
    }
    let checked = ctx.task(sum, vec![total]).await?;
    Ok(checked)
}

fn start_looping(dir: &Path, halt_first: bool) -> Runtime {
    start_with(Runtime::builder().path(dir).register(looping), halt_first)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_meets_corrupt_state_while_running_is_quarantined_then_failed_or_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = start_looping(dir.path(), true);
    let client = runtime.client();
    let run = client.start(looping, vec![1, 2, 3]).await.unwrap();
    let status = client.wait_for_status(run, Status::Completed).await;
    assert!(matches!(status, Err(Error::Halted { .. })), "{status:?}");
    runtime.shutdown().await;

    // The record is fine; a loop item is damaged, found only when the run reads it.
    let (item_key, good) = with_database(dir.path(), "loop_items", |txn, db| {
        let (k, v) = db.iter(txn).unwrap().nth(1).unwrap().unwrap();
        let (k, good) = (k.to_vec(), v.to_vec());
        let mut damaged = good.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        db.put(txn, &k, &damaged).unwrap();
        (k, good)
    });

    let runtime = start_looping(dir.path(), false);
    let client = runtime.client();
    // Quarantined, committed: the wait reports it rather than hanging.
    let waited = tokio::time::timeout(Duration::from_secs(20), client.wait(looping, run))
        .await
        .expect("the wait ends");
    assert!(
        matches!(waited, Err(Error::CorruptState { .. })),
        "{waited:?}"
    );
    runtime.shutdown().await;

    // Found at start, not run (and failed) again.
    let runtime = start_looping(dir.path(), false);
    let client = runtime.client();
    let quarantined = runtime.quarantined().unwrap();
    assert_eq!(quarantined.len(), 1);
    assert!(
        quarantined[0].reason.contains("loop"),
        "{}",
        quarantined[0].reason
    );
    assert_eq!(runtime.live_runs(), 0);
    let transitions = client.status(run).unwrap().transitions;
    // Failed by hand, with a message: then resumable as any failed run.
    client.fail(run, "gave up on damaged data").await.unwrap();
    let status = client.status(run).unwrap();
    assert_eq!(status.status, Status::Failed);
    assert_eq!(status.error.as_deref(), Some("gave up on damaged data"));
    assert_eq!(status.transitions, transitions);
    assert!(runtime.quarantined().unwrap().is_empty());
    runtime.shutdown().await;

    put(dir.path(), "loop_items", &item_key, &good);
    let runtime = start_looping(dir.path(), false);
    let client = runtime.client();
    client.resume(run).await.unwrap();
    let output = tokio::time::timeout(Duration::from_secs(20), client.wait(looping, run))
        .await
        .expect("the run finishes");
    assert_eq!(output.unwrap(), 6);
    runtime.shutdown().await;
}

#[workflow]
async fn ask(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let a = ctx.task(echo, n).await?;
    let answer = ctx.wait_for_user(Question::approval("go on?")).await?;
    Ok(if answer.is_approved() { a } else { 0 })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_undecodable_question_does_not_break_pending_questions() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        Runtime::builder()
            .path(dir.path())
            .register(ask)
            .start()
            .unwrap()
    };
    let runtime = open();
    let client = runtime.client();
    let a = client.start(ask, 1).await.unwrap();
    let b = client.start(ask, 2).await.unwrap();
    for run in [a, b] {
        client.wait_for_status(run, Status::Waiting).await.unwrap();
    }
    while client.pending_questions().unwrap().len() < 2 {
        tokio::task::yield_now().await;
    }
    runtime.shutdown().await;

    with_database(dir.path(), "questions", |txn, db| {
        let (k, v) = db.iter(txn).unwrap().next().unwrap().unwrap();
        let (k, mut v) = (k.to_vec(), v.to_vec());
        assert!(k.starts_with(&a.0.to_be_bytes()));
        let last = v.len() - 1;
        v[last] ^= 1;
        db.put(txn, &k, &v).unwrap();
    });

    // A client-only process (no start-up check) lists the other run's question.
    let reader = Runtime::builder()
        .path(dir.path())
        .register(ask)
        .client_only()
        .start()
        .unwrap();
    let pending = reader.client().pending_questions().unwrap();
    assert_eq!(pending.iter().map(|q| q.run).collect::<Vec<_>>(), [b]);
    reader.shutdown().await;

    let runtime = open();
    let client = runtime.client();
    let pending = client.pending_questions().unwrap();
    let runs: Vec<RunId> = pending.iter().map(|q| q.run).collect();
    assert_eq!(runs, [b]);
    let quarantined = runtime.quarantined().unwrap();
    assert_eq!(quarantined.len(), 1);
    assert_eq!(quarantined[0].run, a);
    assert!(
        quarantined[0].reason.contains("question"),
        "{}",
        quarantined[0].reason
    );
    client.answer(b, cairn::Answer::Approved).await.unwrap();
    let output = tokio::time::timeout(Duration::from_secs(20), client.wait(ask, b))
        .await
        .expect("the run finishes");
    assert_eq!(output.unwrap(), 2);
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_active_index_entry_is_repaired_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let [a, b] = two_halted_runs(dir.path()).await;
    // `a` lost from the active index, a key that is no run id, and one of a run that is not
    // there: `a` would never resume.
    with_database(dir.path(), "active", |txn, db| {
        assert!(db.delete(txn, &a.0.to_be_bytes()).unwrap());
        db.put(txn, &[1, 2, 3], &[]).unwrap();
        db.put(txn, &999u64.to_be_bytes(), &[]).unwrap();
    });
    let runtime = start(dir.path(), false);
    let client = runtime.client();
    assert_eq!(wait(&client, a).await.unwrap(), 1);
    assert_eq!(wait(&client, b).await.unwrap(), 11);
    assert!(runtime.quarantined().unwrap().is_empty());
    runtime.shutdown().await;
    assert!(keys(dir.path(), "active").is_empty());
}

/// Over `startup_check_limit` stored runs the check is skipped: the lost entry stays lost
/// (so the limit is what keeps a large store's start cheap), and a start with the default
/// limit repairs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_startup_check_limit_the_check_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let [a, b] = two_halted_runs(dir.path()).await;
    with_database(dir.path(), "active", |txn, db| {
        assert!(db.delete(txn, &a.0.to_be_bytes()).unwrap());
    });
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(two_steps)
        .startup_check_limit(1)
        .start()
        .unwrap();
    let client = runtime.client();
    assert_eq!(wait(&client, b).await.unwrap(), 11);
    runtime.shutdown().await;
    // Not resumed: still at its first transition.
    let stored = Client::open(dir.path()).unwrap().status(a).unwrap();
    assert_eq!((stored.status, stored.transitions), (Status::Running, 1));

    let runtime = start(dir.path(), false);
    assert_eq!(wait(&runtime.client(), a).await.unwrap(), 1);
    runtime.shutdown().await;
}

async fn mark(n: u64) -> Result<u64, String> {
    Ok(n)
}

#[workflow]
async fn napper(ctx: &mut Context, ms: u64) -> Result<u64, String> {
    let before = ctx.task(mark, ms).await?;
    ctx.sleep(Duration::from_millis(ms)).await?;
    let after = ctx.task(mark, before + 1).await?;
    Ok(after)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_wakeup_entry_is_repaired_at_start_and_the_run_wakes() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        Runtime::builder()
            .path(dir.path())
            .register(napper)
            .start()
            .unwrap()
    };
    let runtime = open();
    let client = runtime.client();
    let run = client.start(napper, 200).await.unwrap();
    client.wait_for_status(run, Status::Waiting).await.unwrap();
    runtime.shutdown().await;

    // Its wake-up moved far into the future (a flipped high bit of the time), plus a key that
    // is no wake-up at all: the run would never wake.
    with_database(dir.path(), "wakeups", |txn, db| {
        let (k, v) = db.iter(txn).unwrap().next().unwrap().unwrap();
        let (mut k, v) = (k.to_vec(), v.to_vec());
        assert_eq!(&k[8..], &run.0.to_be_bytes());
        db.delete(txn, &k).unwrap();
        k[2] ^= 0x10;
        db.put(txn, &k, &v).unwrap();
        db.put(txn, &[7; 5], &v).unwrap();
    });
    let runtime = open();
    let client = runtime.client();
    let output = tokio::time::timeout(Duration::from_secs(20), client.wait(napper, run))
        .await
        .expect("the run wakes");
    assert_eq!(output.unwrap(), 201);
    runtime.shutdown().await;
    assert!(keys(dir.path(), "wakeups").is_empty());
}
