//! The counts by status (`Client::count_by_status`) are kept, not counted at each call (LMDB:
//! its listing counters; PostgreSQL: `run_counts`, kept by triggers): they must stay exactly
//! what the runs say through every change of status. After each step below the counts are
//! compared with the statuses of every run, read one by one: starts, completions, failures,
//! sleeps, cancels, a pause and its end, a resume of failed runs, wake-ups, and deletes by
//! retention and by purge. Time is a test clock: nothing here sleeps for real.

use std::collections::BTreeMap;
use std::time::Duration;

use cairn::{Client, Context, Error, RunFilter, RunId, Status, TestClock, workflow};

use super::{Backend, fresh_store};

async fn plus_one(n: u32) -> Result<u32, String> {
    Ok(n + 1)
}

#[workflow]
async fn counted(ctx: &mut Context, n: u32, fail: bool) -> Result<u32, String> {
    let next = ctx.task(plus_one, n).await?;
    if fail {
        return Err(format!("run {n} asked to fail"));
    }
    Ok(next)
}

#[workflow]
async fn dozing(ctx: &mut Context, secs: u64) -> Result<u32, String> {
    ctx.sleep(Duration::from_secs(secs)).await?;
    ctx.task(plus_one, 0).await
}

const HOUR: Duration = Duration::from_secs(3600);

/// Panics unless the counts are the statuses of the runs, read one by one.
fn assert_exact(client: &Client, step: &str) {
    let mut by_hand: BTreeMap<String, u64> = BTreeMap::new();
    for run in client.list(None).unwrap() {
        *by_hand.entry(run.status.to_string()).or_insert(0) += 1;
    }
    let counts = client.count_by_status().unwrap();
    let kept: BTreeMap<String, u64> = counts.iter().map(|(s, n)| (s.to_string(), n)).collect();
    assert_eq!(kept, by_hand, "after {step}");
    assert_eq!(
        counts.total(),
        by_hand.values().sum::<u64>(),
        "after {step}"
    );
}

async fn finish(client: &Client, runs: &[RunId]) {
    for &run in runs {
        match client.wait(counted, run).await {
            Ok(_) | Err(Error::RunFailed { .. }) => {}
            Err(other) => panic!("run {run}: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_counts_by_status_stay_exact_through_every_change() {
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = store
        .runtime()
        .register(counted)
        .register(dozing)
        .clock(clock.clone())
        .retention(HOUR)
        .start()
        .unwrap();
    let client = runtime.client();
    runtime.wait_for_retention_passes(1).await;
    assert_exact(&client, "nothing");

    // Starts, completions and failures (every third run fails).
    let first = client
        .start_many(counted, (0..30).map(|n| (n, n % 3 == 0)))
        .await
        .unwrap();
    finish(&client, &first).await;
    assert_exact(&client, "30 runs finished");
    assert_eq!(client.count_by_status().unwrap().get(Status::Failed), 10);

    // Sleeps, then cancels and a pause of sleeping runs.
    let asleep = client.start_many(dozing, vec![86_400; 6]).await.unwrap();
    for &run in &asleep {
        client.wait_for_status(run, Status::Waiting).await.unwrap();
    }
    assert_exact(&client, "6 runs asleep");
    client.cancel(asleep[0]).await.unwrap();
    client.cancel(asleep[1]).await.unwrap();
    client.pause(asleep[2]).await.unwrap();
    assert_exact(&client, "2 cancels and a pause");
    client.unpause(asleep[2]).await.unwrap();
    // Unpaused, it runs again until it finds its stored sleep: its task ends there.
    while runtime.live_runs() > 0 || client.status(asleep[2]).unwrap().status == Status::Paused {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_exact(&client, "the pause ended");

    // Failed runs resumed: they run again and fail again.
    let failed: Vec<RunId> = first.iter().step_by(3).copied().collect();
    for &run in &failed {
        client.resume(run).await.unwrap();
    }
    finish(&client, &failed).await;
    assert_exact(&client, "10 resumed runs failed again");

    // A day later: the sleepers wake and complete, and retention deletes every run that
    // finished more than an hour before (the cancelled ones too).
    clock.advance(Duration::from_secs(86_400));
    for &run in &asleep[2..] {
        assert_eq!(client.wait(dozing, run).await.unwrap(), 1);
    }
    runtime.wait_for_retention_passes(2).await;
    assert_eq!(client.list(None).unwrap().len(), 4);
    assert_exact(&client, "wake-ups and retention");

    // A purge of every finished run.
    assert_eq!(client.purge(&RunFilter::new()).await.unwrap(), 4);
    assert_exact(&client, "a purge of every finished run");
    assert_eq!(client.count_by_status().unwrap().total(), 0);
    runtime.shutdown().await;
}
