//! A durable sleep committed at a position the run has left is refused on PostgreSQL, as on
//! LMDB (`store/lmdb/tests.rs`, one rule: `lifecycle::suspend`).
//!
//! Such a commit comes from a task that no longer holds the stored run's position: it was
//! started from a stale record, or another task committed the run further while it ran. The
//! lease does not catch it (the same worker holds the run). Stored, the sleep would mark the
//! run waiting on a wake-up that never wakes it (a wake-up only wakes the sleep at the run's
//! position): a run that hangs for ever.
//!
//! The scenario: run X goes two steps and sleeps at position 2; run R does one step, and the
//! transition hook, right after R's commit of position 1, replaces R's stored record by X's
//! (at position 2, as another task's commits would leave it), through `psql`. R's task then
//! commits its sleep at position 1: it must be refused with `Error::MovedOn`, nothing stored.

mod postgres_common;

use std::time::Duration;

use cairn::{Context, Error, Flow, RunId, Runtime, Status, workflow};
use postgres_common::{Store, eventually, sql};

async fn first(n: u64) -> Result<u64, String> {
    Ok(n)
}

async fn second(n: u64) -> Result<u64, String> {
    Ok(n + 1)
}

/// Sleeps at position 2 for `n == 0`, at position 1 otherwise.
#[workflow]
async fn sleeper(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let mut n = ctx.task(first, n).await?;
    if n == 0 {
        n = ctx.task(second, n).await?;
    }
    ctx.sleep(Duration::from_secs(3600)).await?;
    Ok(n)
}

#[test]
fn a_sleep_at_a_position_the_run_has_left_is_refused() {
    let store = Store::fresh(Duration::from_secs(60));
    let tokio = postgres_common::tokio_runtime();
    tokio.block_on(async {
        // Ids start at 1 in a fresh schema: X is run 1, R run 2.
        let (x, r) = (RunId(1), RunId(2));
        let in_hook = store.clone();
        let runtime = Runtime::builder()
            .postgres(store.options())
            .register(sleeper)
            .on_transition(move |t| {
                if t.run == r && t.number == 1 {
                    sql(
                        &in_hook,
                        &format!(
                            "UPDATE runs SET record = x.record, status = x.status
                             FROM runs x WHERE runs.id = {} AND x.id = {}",
                            r.0, x.0
                        ),
                    );
                }
                Flow::Continue
            })
            .start()
            .unwrap();
        let client = runtime.client();
        assert_eq!(client.start(sleeper, 0).await.unwrap(), x);
        tokio::task::block_in_place(|| {
            eventually(Duration::from_secs(60), "X asleep at position 2", || {
                let status = client.status(x).unwrap();
                status.status == Status::Waiting && status.transitions == 2
            });
        });
        assert_eq!(client.start(sleeper, 1).await.unwrap(), r);

        let sleeps_at_1 = || {
            sql(
                &store,
                &format!(
                    "SELECT (SELECT count(*) FROM sleeps WHERE run = {0} AND position = 1)
                          + (SELECT count(*) FROM wakeups WHERE run = {0} AND position = 1)",
                    r.0
                ),
            )
        };
        tokio::task::block_in_place(|| {
            eventually(
                Duration::from_secs(60),
                "R's task to stop or its sleep to be stored",
                || runtime.stopped(r).is_some() || sleeps_at_1() != "0",
            );
        });
        assert_eq!(
            sleeps_at_1(),
            "0",
            "a sleep stored at a position R has left"
        );
        let stopped = runtime.stopped(r);
        assert!(
            matches!(
                stopped,
                Some(Error::MovedOn {
                    run,
                    position: 1,
                    stored: 2
                }) if run == r
            ),
            "{stopped:?}"
        );
        // The stored run is what the other commits left, untouched by the refused one.
        let status = client.status(r).unwrap();
        assert_eq!((status.status, status.transitions), (Status::Waiting, 2));
        runtime.shutdown().await;
    });
}
