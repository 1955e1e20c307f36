//! Listing runs from indexes, counting them by status, purging finished ones and the
//! runtime's retention: every run listed exactly once across pages in a stable order, each
//! filter (status, workflow, creation and finish time) selecting what it says, counts that
//! match the runs, a purge that deletes every trace of the runs it selects and nothing of the
//! others, and retention that purges only finished runs older than its limit. Time is a test
//! clock: nothing here sleeps for real.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cairn::{
    Client, Clock, Context, Cursor, Error, RunFilter, RunId, RuntimeBuilder, Status, TestClock,
    workflow,
};

use super::{Backend, fresh_store};

async fn plus_one(n: u32) -> Result<u32, String> {
    Ok(n + 1)
}

#[workflow]
async fn job(ctx: &mut Context, n: u32, fail: bool) -> Result<u32, String> {
    let next = ctx.task(plus_one, n).await?;
    if fail {
        return Err(format!("job {n} asked to fail"));
    }
    Ok(next)
}

#[workflow]
async fn other_job(ctx: &mut Context, n: u32) -> Result<u32, String> {
    let next = ctx.task(plus_one, n).await?;
    Ok(next)
}

#[workflow]
async fn parked(ctx: &mut Context, secs: u64) -> Result<u32, String> {
    ctx.sleep(Duration::from_secs(secs)).await?;
    let next = ctx.task(plus_one, 0).await?;
    Ok(next)
}

fn builder(store: &impl Backend, clock: &TestClock) -> RuntimeBuilder {
    store
        .runtime()
        .register(job)
        .register(other_job)
        .register(parked)
        .clock(clock.clone())
}

const HOUR: Duration = Duration::from_secs(3600);
const DAY: u64 = 24 * 3600;

/// Starts `count` runs of `job` (every fourth one failing) and waits until they finish.
async fn jobs(client: &Client, count: u32) -> Vec<RunId> {
    let inputs = (0..count).map(|n| (n, n % 4 == 0));
    let runs = client.start_many(job, inputs).await.unwrap();
    for &run in &runs {
        match client.wait(job, run).await {
            Ok(_) | Err(Error::RunFailed { .. }) => {}
            Err(other) => panic!("run {run}: {other:?}"),
        }
    }
    runs
}

async fn other_jobs(client: &Client, count: u32) -> Vec<RunId> {
    let runs = client.start_many(other_job, 0..count).await.unwrap();
    for &run in &runs {
        client.wait(other_job, run).await.unwrap();
    }
    runs
}

/// `count` runs asleep for a day.
async fn parked_runs(client: &Client, count: usize) -> Vec<RunId> {
    let runs = client.start_many(parked, vec![DAY; count]).await.unwrap();
    for &run in &runs {
        client.wait_for_status(run, Status::Waiting).await.unwrap();
    }
    runs
}

/// Every run `filter` selects, read `limit` at a time; checks that no run comes twice and
/// that ids increase.
fn all_pages(client: &Client, filter: &RunFilter, limit: usize) -> Vec<RunId> {
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = client.list_runs(filter, limit, cursor).unwrap();
        assert!(page.runs.len() <= limit);
        seen.extend(page.runs.iter().map(|r| r.id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    seen
}

fn ids_with(client: &Client, status: Status) -> Vec<RunId> {
    client
        .list(Some(status))
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_list_every_run_once_and_filters_select_what_they_say() {
    let store = fresh_store();
    let clock = TestClock::default();
    let t0 = clock.now();
    let runtime = builder(&store, &clock).start().unwrap();
    let client = runtime.client();
    let first = jobs(&client, 40).await;
    clock.advance(HOUR);
    let second = other_jobs(&client, 20).await;
    let sleeping = parked_runs(&client, 5).await;

    // Counts, from the counters, are what the records say.
    let counts = client.count_by_status().unwrap();
    let mut by_hand = BTreeMap::new();
    for run in client.list(None).unwrap() {
        *by_hand.entry(run.status.to_string()).or_insert(0u64) += 1;
    }
    let counted: BTreeMap<String, u64> = counts.iter().map(|(s, n)| (s.to_string(), n)).collect();
    assert_eq!(counted, by_hand);
    assert_eq!(
        counts.iter().collect::<Vec<_>>(),
        vec![
            (Status::Completed, 50),
            (Status::Failed, 10),
            (Status::Waiting, 5)
        ]
    );
    assert_eq!(counts.get(Status::Running), 0);
    assert_eq!(counts.total(), 65);

    // One status, a page at a time: exactly the runs with it.
    for limit in [1, 7, 50, 1000] {
        let completed = all_pages(&client, &RunFilter::new().status(Status::Completed), limit);
        assert_eq!(completed, ids_with(&client, Status::Completed));
    }
    let failed = RunFilter::new().status(Status::Failed);
    assert_eq!(
        all_pages(&client, &failed, 3),
        ids_with(&client, Status::Failed)
    );
    let waiting = RunFilter::new().status(Status::Waiting);
    assert_eq!(all_pages(&client, &waiting, 2), sleeping);

    // Workflow, creation and finish time, and their combinations.
    let of = |name: &str| RunFilter::new().workflow(name);
    assert_eq!(all_pages(&client, &of("other_job"), 6), second);
    assert_eq!(all_pages(&client, &of("job"), 6), first);
    assert_eq!(all_pages(&client, &of("nobody"), 6), []);
    let half_hour = t0 + HOUR / 2;
    let created_early = RunFilter::new().created_before(half_hour);
    assert_eq!(all_pages(&client, &created_early, 8), first);
    let created_late = RunFilter::new().created_since(half_hour);
    let late: Vec<RunId> = second.iter().chain(&sleeping).copied().collect();
    assert_eq!(all_pages(&client, &created_late, 8), late);
    let finished_early = RunFilter::new().finished_before(half_hour);
    assert_eq!(all_pages(&client, &finished_early, 8), first);
    // Unfinished runs have no finish time: a finish bound leaves them out.
    let finished_late = RunFilter::new().finished_since(half_hour);
    assert_eq!(all_pages(&client, &finished_late, 8), second);
    let failed_jobs = of("job").status(Status::Failed).created_before(half_hour);
    let expected: Vec<RunId> = first.iter().copied().step_by(4).collect();
    assert_eq!(all_pages(&client, &failed_jobs, 4), expected);

    // A cursor survives its text form.
    let page = client.list_runs(&RunFilter::new(), 10, None).unwrap();
    let cursor: Cursor = page.next.unwrap().to_string().parse().unwrap();
    let again = client
        .list_runs(&RunFilter::new(), 10, Some(cursor))
        .unwrap();
    assert_eq!(again.runs[0].id, RunId(first[0].0 + 10));

    // Stable under writes between pages: runs started meanwhile come after, and every run
    // that matched from the first page to the last is listed exactly once.
    let before: Vec<RunId> = client.list(None).unwrap().iter().map(|r| r.id).collect();
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut added = Vec::new();
    loop {
        let page = client.list_runs(&RunFilter::new(), 9, cursor).unwrap();
        seen.extend(page.runs.iter().map(|r| r.id));
        if added.len() < 3 {
            added.extend(jobs(&client, 2).await);
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let unique: BTreeSet<RunId> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "a run listed twice");
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    let expected: Vec<RunId> = before.iter().chain(&added).copied().collect();
    assert_eq!(seen, expected);
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_deletes_the_finished_runs_it_selects_and_leaves_the_others_intact() {
    let store = fresh_store();
    let clock = TestClock::default();
    let t0 = clock.now();
    let runtime = builder(&store, &clock).start().unwrap();
    let client = runtime.client();
    let old = jobs(&client, 8).await;
    clock.advance(HOUR);
    let recent = other_jobs(&client, 3).await;
    let sleeping = parked_runs(&client, 2).await;

    let kept: Vec<_> = recent
        .iter()
        .map(|&run| (client.history(run).unwrap(), client.state(run).unwrap()))
        .collect();
    let before_cutoff = RunFilter::new().finished_before(t0 + HOUR / 2);
    // Only finished runs are ever purged, whatever the filter says.
    let waiting = RunFilter::new().status(Status::Waiting);
    assert_eq!(client.purge(&waiting).await.unwrap(), 0);
    assert_eq!(client.purge(&before_cutoff).await.unwrap(), 8);
    for &run in &old {
        assert!(matches!(client.status(run), Err(Error::UnknownRun { .. })));
        assert!(matches!(client.history(run), Err(Error::UnknownRun { .. })));
        assert!(matches!(client.state(run), Err(Error::UnknownRun { .. })));
    }
    assert_eq!(
        all_pages(&client, &RunFilter::new(), 5),
        [recent.clone(), sleeping.clone()].concat()
    );
    for (n, (&run, (history, state))) in recent.iter().zip(&kept).enumerate() {
        assert_eq!(client.result(other_job, run).unwrap(), n as u32 + 1);
        assert_eq!(&client.history(run).unwrap(), history);
        assert_eq!(client.state(run).unwrap().to_json(), state.to_json());
    }
    assert_eq!(
        client.count_by_status().unwrap().iter().collect::<Vec<_>>(),
        vec![(Status::Completed, 3), (Status::Waiting, 2)]
    );
    assert_eq!(client.purge(&before_cutoff).await.unwrap(), 0);

    // Everything finished: the sleeping runs stay, and still wake and finish.
    assert_eq!(client.purge(&RunFilter::new()).await.unwrap(), 3);
    assert_eq!(all_pages(&client, &RunFilter::new(), 5), sleeping);
    clock.advance(Duration::from_secs(DAY));
    for &run in &sleeping {
        assert_eq!(client.wait(parked, run).await.unwrap(), 1);
    }
    assert_eq!(
        client
            .purge(&RunFilter::new().workflow("parked"))
            .await
            .unwrap(),
        2
    );
    assert_eq!(client.count_by_status().unwrap().total(), 0);
    assert_eq!(client.list(None).unwrap(), []);
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_purges_only_finished_runs_older_than_its_limit() {
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = builder(&store, &clock).retention(HOUR).start().unwrap();
    let client = runtime.client();
    // A pass at start (nothing to purge), then one every six minutes of the clock.
    runtime.wait_for_retention_passes(1).await;
    let first = jobs(&client, 6).await;
    let sleeping = parked_runs(&client, 2).await;
    clock.advance(HOUR / 2);
    runtime.wait_for_retention_passes(2).await;
    let second = other_jobs(&client, 3).await;
    let remaining = |client: &Client| all_pages(client, &RunFilter::new(), 100);
    assert_eq!(remaining(&client).len(), 11, "nothing is an hour old yet");

    // An hour and a minute after the first runs finished: those go, the rest stay.
    clock.advance(HOUR / 2 + Duration::from_secs(60));
    runtime.wait_for_retention_passes(3).await;
    assert_eq!(
        remaining(&client),
        [sleeping.clone(), second.clone()].concat()
    );
    for &run in &first {
        assert!(matches!(client.status(run), Err(Error::UnknownRun { .. })));
    }

    // And later the second ones; the sleeping runs are never touched while unfinished.
    clock.advance(HOUR);
    runtime.wait_for_retention_passes(4).await;
    assert_eq!(remaining(&client), sleeping);
    runtime.shutdown().await;
}
