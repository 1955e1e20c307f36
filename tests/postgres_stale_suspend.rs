//! A durable sleep, a question (`wait_for_user`), a wait for an event or a child started,
//! committed at a position the run has left, is refused on PostgreSQL, as on LMDB (`store/lmdb/tests.rs`, one
//! rule: `lifecycle::at_position`).
//!
//! Such a commit comes from a task that no longer holds the stored run's position: it was
//! started from a stale record, or another task committed the run further while it ran. The
//! lease does not catch it (the same worker holds the run). Stored, the sleep would mark the
//! run waiting on a wake-up that never wakes it (a wake-up only wakes the sleep at the run's
//! position), the question one that no answer reaches (an answer goes to the question at the
//! run's position), and the event wait one that no event meets (an event queued for the run
//! would even be taken and bound there, lost to it): a run that hangs for ever.
//!
//! The scenario: run X goes two steps and parks (sleeps, asks, or waits for an event) at
//! position 2; run R does
//! one step, and the transition hook, right after R's commit of position 1, replaces R's
//! stored record by X's (at position 2, as another task's commits would leave it), through
//! `psql`. R's task then parks at position 1: it must be refused with `Error::MovedOn`,
//! nothing stored. With a cancel request written beside the stale record, the park meets it
//! first: R is cancelled, still nothing of the park stored.

mod postgres_common;

use std::time::Duration;

use cairn::{Context, Error, Flow, Question, RunId, Runtime, Status, workflow};
use postgres_common::{Store, eventually, sql};

async fn first(n: u64) -> Result<u64, String> {
    Ok(n)
}

async fn second(n: u64) -> Result<u64, String> {
    Ok(n + 1)
}

/// How a run parks.
const SLEEP: u64 = 0;
const ASK: u64 = 1;
const EVENT: u64 = 2;
const CHILD: u64 = 3;

/// A child that never finishes: its parent stays parked on it.
#[workflow]
async fn idler(ctx: &mut Context, n: u64) -> Result<u64, String> {
    ctx.wait_for_event::<u64>("never").await?;
    Ok(n)
}

/// Parks (sleeps an hour, asks a question, waits for an event, or starts a child that never
/// ends and waits for it) at position 2 for
/// `n == 0`, at position 1 otherwise.
#[workflow]
async fn parker(ctx: &mut Context, input: (u64, u64)) -> Result<u64, String> {
    let (n, how) = input;
    let mut n = ctx.task(first, n).await?;
    if n == 0 {
        n = ctx.task(second, n).await?;
    }
    match how {
        SLEEP => ctx.sleep(Duration::from_secs(3600)).await?,
        ASK => {
            ctx.wait_for_user(Question::approval("go on?")).await?;
        }
        CHILD => {
            ctx.child(idler, n).await?;
        }
        _ => {
            ctx.wait_for_event::<u64>("go").await?;
        }
    }
    Ok(n)
}

/// Runs the scenario (see the module doc) with runs that park `how`; `parked_at_1` counts
/// what R's refused commit would have stored at position 1.
fn a_park_at_a_position_the_run_has_left_is_refused(
    how: u64,
    parked_at_1: impl Fn(&Store, RunId) -> String,
) {
    park_at_a_position_the_run_has_left(how, false, parked_at_1);
}

/// The scenario; with `cancel`, a cancel request for R is pending when its stale park is
/// committed (written with the stale record).
fn park_at_a_position_the_run_has_left(
    how: u64,
    cancel: bool,
    parked_at_1: impl Fn(&Store, RunId) -> String,
) {
    let store = Store::fresh(Duration::from_secs(60));
    let tokio = postgres_common::tokio_runtime();
    tokio.block_on(async {
        // Ids start at 1 in a fresh schema: X is run 1, R run 2 (3 when X's child is 2).
        let (x, r) = (RunId(1), RunId(if how == CHILD { 3 } else { 2 }));
        let in_hook = store.clone();
        let runtime = Runtime::builder()
            .postgres(store.options())
            .register(parker)
            .register(idler)
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
                    if cancel {
                        sql(
                            &in_hook,
                            &format!("INSERT INTO requests (run, request) VALUES ({}, 1)", r.0),
                        );
                    }
                }
                Flow::Continue
            })
            .start()
            .unwrap();
        let client = runtime.client();
        assert_eq!(client.start(parker, (0, how)).await.unwrap(), x);
        tokio::task::block_in_place(|| {
            eventually(Duration::from_secs(60), "X parked at position 2", || {
                let status = client.status(x).unwrap();
                status.status == Status::Waiting && status.transitions == 2
            });
        });
        assert_eq!(client.start(parker, (1, how)).await.unwrap(), r);

        if cancel {
            // The stale commit meets the cancel: the run is cancelled there, and nothing of
            // the commit is written.
            tokio::task::block_in_place(|| {
                eventually(Duration::from_secs(60), "R cancelled", || {
                    client.status(r).unwrap().status == Status::Cancelled
                });
            });
            assert_eq!(
                parked_at_1(&store, r),
                "0",
                "a park stored at a position R has left"
            );
            assert_eq!(client.status(r).unwrap().transitions, 2);
            assert!(runtime.stopped(r).is_none(), "{:?}", runtime.stopped(r));
            runtime.shutdown().await;
            return;
        }
        tokio::task::block_in_place(|| {
            eventually(
                Duration::from_secs(60),
                "R's task to stop or its park to be stored",
                || runtime.stopped(r).is_some() || parked_at_1(&store, r) != "0",
            );
        });
        assert_eq!(
            parked_at_1(&store, r),
            "0",
            "a park stored at a position R has left"
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

/// The sleeps and wake-ups stored for `r` at position 1.
fn sleeps_at_1(store: &Store, r: RunId) -> String {
    sql(
        store,
        &format!(
            "SELECT (SELECT count(*) FROM sleeps WHERE run = {0} AND position = 1)
                  + (SELECT count(*) FROM wakeups WHERE run = {0} AND position = 1)",
            r.0
        ),
    )
}

#[test]
fn a_sleep_at_a_position_the_run_has_left_is_refused() {
    a_park_at_a_position_the_run_has_left_is_refused(SLEEP, sleeps_at_1);
}

#[test]
fn a_question_at_a_position_the_run_has_left_is_refused() {
    a_park_at_a_position_the_run_has_left_is_refused(ASK, |store, r| {
        sql(
            store,
            &format!(
                "SELECT (SELECT count(*) FROM questions WHERE run = {0} AND position = 1)
                      + (SELECT count(*) FROM deadlines WHERE run = {0} AND position = 1)",
                r.0
            ),
        )
    });
}

#[test]
fn an_event_wait_at_a_position_the_run_has_left_is_refused() {
    a_park_at_a_position_the_run_has_left_is_refused(EVENT, |store, r| {
        sql(
            store,
            &format!(
                "SELECT count(*) FROM event_waits WHERE run = {} AND position = 1",
                r.0
            ),
        )
    });
}

/// A child started at a position the parent has left is refused too: it would be a run that
/// no await of the parent waits for.
#[test]
fn a_child_started_at_a_position_the_run_has_left_is_refused() {
    a_park_at_a_position_the_run_has_left_is_refused(CHILD, |store, r| {
        sql(
            store,
            &format!(
                "SELECT count(*) FROM children WHERE parent = {} AND position = 1",
                r.0
            ),
        )
    });
}

/// A stale commit that meets a pending cancel cancels the run there and writes nothing of its
/// own (the same rule on LMDB, `store/lmdb/tests.rs`): the cancel is what the user asked, and
/// refusing the commit instead would start a new task whose step ran before the cancel.
#[test]
fn a_sleep_at_a_position_the_run_has_left_that_meets_a_cancel_cancels_the_run() {
    park_at_a_position_the_run_has_left(SLEEP, true, sleeps_at_1);
}
