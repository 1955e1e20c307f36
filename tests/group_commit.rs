//! Group commit (leader/follower: commits on the callers' threads, a helper thread under
//! load): many concurrent runs all commit every transition, in order, and what they committed
//! is there when the directory is reopened with fsync. In every durability mode, through
//! LMDB's write map, and with fsync on a current-thread runtime (where a leader may not block
//! and the helper thread commits); and the same for runs created together by `start_many`,
//! whose first transitions the helper thread gathers into shared batches.

use cairn::{Context, Durability, LmdbOptions, Runtime, Status, workflow};

const RUNS: u64 = 200;
const STEPS: u64 = 20;

async fn double(i: u64) -> u64 {
    // Yield, so that the runs interleave and their commits queue behind one another.
    tokio::task::yield_now().await;
    i * 2
}

#[workflow]
async fn counter(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let mut sum = 0u64;
    for i in 0..n {
        sum += ctx.step("double", double(i)).await;
    }
    Ok(sum)
}

async fn many_runs(durability: Durability, write_map: bool) {
    runs_started(durability, write_map, false).await;
}

/// [`many_runs`], the runs created in one `start_many` call.
async fn many_runs_started_together(durability: Durability) {
    runs_started(durability, false, true).await;
}

async fn runs_started(durability: Durability, write_map: bool, together: bool) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::builder()
        .path(dir.path())
        .durability(durability)
        .lmdb(LmdbOptions::new().write_map(write_map))
        .register(counter)
        .start()
        .unwrap();
    let client = runtime.client();
    let mut ids = Vec::new();
    if together {
        ids = client
            .start_many(counter, (0..RUNS).map(|_| STEPS))
            .await
            .unwrap();
    } else {
        for _ in 0..RUNS {
            ids.push(client.start(counter, STEPS).await.unwrap());
        }
    }
    let expected = (0..STEPS).map(|i| i * 2).sum::<u64>();
    for id in &ids {
        assert_eq!(client.wait(counter, *id).await.unwrap(), expected);
    }
    runtime.shutdown().await;

    // Reopened with fsync (no write map): every run is completed, with one history record per
    // transition, numbered in order.
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(counter)
        .start()
        .unwrap();
    let client = runtime.client();
    for id in &ids {
        let status = client.status(*id).unwrap();
        assert_eq!(status.status, Status::Completed);
        assert_eq!(status.transitions, STEPS);
        assert_eq!(client.result(counter, *id).unwrap(), expected);
        let numbers: Vec<u64> = client
            .history(*id)
            .unwrap()
            .iter()
            .map(|h| h.number)
            .collect();
        let mut want: Vec<u64> = (1..=STEPS).collect();
        want.push(STEPS);
        assert_eq!(numbers, want);
    }
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_commit_every_transition_on_their_own_threads() {
    many_runs(Durability::ProcessCrash, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_commit_every_transition_with_fsync() {
    many_runs(Durability::Full, false).await;
}

#[tokio::test(flavor = "current_thread")]
async fn concurrent_runs_commit_every_transition_with_fsync_on_a_current_thread_runtime() {
    many_runs(Durability::Full, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_commit_every_transition_through_the_write_map() {
    many_runs(Durability::ProcessCrash, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_started_together_commit_every_transition_with_fsync() {
    many_runs_started_together(Durability::Full).await;
}

#[tokio::test(flavor = "current_thread")]
async fn runs_started_together_commit_every_transition_on_a_current_thread_runtime() {
    many_runs_started_together(Durability::Full).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_started_together_commit_every_transition_without_fsync() {
    many_runs_started_together(Durability::ProcessCrash).await;
}
