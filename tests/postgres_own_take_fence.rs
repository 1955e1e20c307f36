//! The lease fence and a take of the worker's own that it has not recorded yet (cargo feature
//! `postgres`).
//!
//! A take (a wake-up, a claimed answer, a take-over poll) makes the worker the run's owner at
//! a new epoch in its transaction; the worker holds that epoch only once the commit has
//! returned. A run released by an event can have a live task here meanwhile (started by
//! `run_task::resume_if_claimed`): its commit in that window found the row one epoch ahead
//! of the worker and was refused with `LeaseLost`, so the task stopped and `wait` failed
//! although no other worker had the run. Seen once in CI, in the conformance test
//! `a_run_fed_by_events_resumes_from_every_stored_state` ("halt after commit 2:
//! Err(LeaseLost { run: RunId(1) })").
//!
//! The window is too short to hit on purpose, so the test puts the row in the state it
//! leaves: while the run's step is in flight, the row's epoch goes one up with the worker
//! still its owner, as this worker's take would have left it. The step's commit must go
//! through, and the run end with its output. The same with another worker as the owner must
//! still be refused: that is what the fence is for.

mod postgres_common;

use std::time::Duration;

use cairn::{Context, Error, Runtime, workflow};
use postgres_common::gate::{GATE, STEP_BEGAN, gated_step};
use postgres_common::{Store, connect};

#[workflow]
async fn gated(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let first = ctx.task(gated_step, n).await?;
    Ok(first * 2)
}

/// Starts a run of `gated`, sets its row's owner to `owner` and its epoch one up while its
/// step is in flight, then lets the step end; returns what `wait` says.
async fn with_row_moved_under_the_step(
    store: &Store,
    client: &cairn::Client,
    owner: &str,
) -> Result<u64, Error> {
    let run = client.start(gated, 1).await.unwrap();
    STEP_BEGAN.notified().await;
    let db = connect(store).await;
    let moved = format!(
        "UPDATE {}.runs SET owner = $1, epoch = epoch + 1 WHERE id = {}",
        store.schema, run.0
    );
    assert_eq!(db.execute(&moved, &[&owner]).await.unwrap(), 1);
    GATE.notify_one();
    tokio::time::timeout(Duration::from_secs(30), client.wait(gated, run))
        .await
        .expect("the run's wait ends")
}

#[test]
fn a_commit_goes_through_a_take_of_its_own_worker_not_recorded_yet() {
    // A lease far longer than the test: no take-over poll claims anything meanwhile.
    let store = Store::fresh(Duration::from_secs(600));
    postgres_common::show_warnings();
    let tokio = postgres_common::tokio_runtime();
    tokio.block_on(async {
        let worker = Runtime::builder()
            .postgres(store.options().worker_id("the-worker"))
            .register(gated)
            .start()
            .unwrap();
        let client = worker.client();

        let own = with_row_moved_under_the_step(&store, &client, "the-worker").await;
        assert_eq!(
            own.unwrap(),
            4,
            "a newer epoch of this worker's own does not stop its run"
        );

        let other = with_row_moved_under_the_step(&store, &client, "another-worker").await;
        assert!(
            matches!(other, Err(Error::LeaseLost { .. })),
            "another worker's take still fences the commit out: {other:?}"
        );
        worker.shutdown().await;
    });
}
