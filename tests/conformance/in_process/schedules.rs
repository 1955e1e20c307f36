//! Schedules (`RuntimeBuilder::schedule`): each tick of a cron expression or an interval
//! starts one run, at the tick's time on the runtime's clock (a test clock: nothing here
//! waits for real minutes); ticks missed while the runtime was down give one run or none per
//! the schedule's policy; a tick handled elsewhere (a restart, a client, another worker) is
//! not started again; a cron schedule in a time zone ticks at local time across a
//! daylight-saving change; bad schedules are typed errors. (With real processes, SIGKILLed
//! over three ticks and racing on ticks: `processes/schedule_processes.rs`.)

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn::{
    Client, Context, Error, MissedTicks, RunId, Runtime, Schedule, Status, TestClock, workflow,
};

use super::{Backend, BackendUnderTest, fresh_store};

/// An hour boundary (UTC) shortly before the default test clock's time.
const H: u64 = 1_699_999_200;

fn at(secs_after_h: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(H + secs_after_h)
}

const MIN: u64 = 60;
const HOUR: u64 = 3600;

async fn note(tag: u64) -> Result<u64, String> {
    Ok(tag)
}

#[workflow]
async fn scheduled_job(ctx: &mut Context, tag: u64) -> Result<u64, String> {
    let tag = ctx.task(note, tag).await?;
    Ok(tag)
}

/// Waits until the store holds `n` runs, all completed, and returns them; fails after 20 s.
async fn completed_runs(client: &Client, n: usize) -> Vec<RunId> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let runs = client.list(None).unwrap();
        if runs.len() >= n && runs.iter().all(|r| r.status == Status::Completed) {
            return runs.into_iter().map(|r| r.id).collect();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expected {n} completed runs, found {runs:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn start(store: &BackendUnderTest, clock: &TestClock, schedule: Schedule) -> Runtime {
    store
        .runtime()
        .schedule(scheduled_job, schedule, 7)
        .clock(clock.clone())
        .start()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_schedule_starts_one_run_at_each_tick_and_none_before() {
    let store = fresh_store();
    let clock = TestClock::at(at(30 * MIN));
    let runtime = start(&store, &clock, Schedule::cron("0 * * * *").unwrap());
    let client = runtime.client();
    clock.wait_for_sleepers(1).await;
    clock.advance(Duration::from_secs(30 * MIN - 1));
    assert!(
        client.list(None).unwrap().is_empty(),
        "a run before the tick"
    );
    clock.advance(Duration::from_secs(1));
    let first = completed_runs(&client, 1).await;
    clock.advance(Duration::from_secs(HOUR));
    let both = completed_runs(&client, 2).await;
    assert_eq!(both.len(), 2);
    assert_eq!(both[0], first[0]);
    assert_eq!(client.wait(scheduled_job, both[1]).await.unwrap(), 7);
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interval_ticks_at_its_multiples_and_a_late_wake_starts_one_run() {
    let store = fresh_store();
    let clock = TestClock::at(at(3 * MIN));
    let runtime = start(
        &store,
        &clock,
        Schedule::every(Duration::from_secs(10 * MIN)),
    );
    let client = runtime.client();
    clock.wait_for_sleepers(1).await;
    clock.advance(Duration::from_secs(7 * MIN - 1));
    assert!(client.list(None).unwrap().is_empty(), "a run before :10");
    clock.advance(Duration::from_secs(1));
    completed_runs(&client, 1).await;
    clock.advance(Duration::from_secs(10 * MIN));
    completed_runs(&client, 2).await;
    // Now :20; jump to :45, past the ticks at :30 and :40: one run, for :40.
    clock.advance(Duration::from_secs(25 * MIN));
    completed_runs(&client, 3).await;
    // The next is :50, not :40 again.
    clock.advance(Duration::from_secs(5 * MIN - 1));
    assert_eq!(client.list(None).unwrap().len(), 3);
    clock.advance(Duration::from_secs(1));
    assert_eq!(completed_runs(&client, 4).await.len(), 4);
    runtime.shutdown().await;
}

/// Runs one tick, shuts the runtime down over three more ticks, and starts it again: how
/// many runs the store holds right after the restart (missed ticks are handled in `start`),
/// and after the next tick.
async fn down_over_three_ticks(policy: MissedTicks) -> (usize, usize) {
    let store = fresh_store();
    let clock = TestClock::at(at(30 * MIN));
    let hourly = || Schedule::every(Duration::from_secs(HOUR)).missed_ticks(policy);
    let runtime = start(&store, &clock, hourly());
    clock.wait_for_sleepers(1).await;
    clock.advance(Duration::from_secs(30 * MIN));
    completed_runs(&runtime.client(), 1).await;
    runtime.shutdown().await;
    // Down from 1:00 to 4:30: the ticks at 2:00, 3:00 and 4:00 are missed.
    clock.advance(Duration::from_secs(3 * HOUR + 30 * MIN));
    let runtime = start(&store, &clock, hourly());
    let client = runtime.client();
    let after_restart = client.list(None).unwrap().len();
    completed_runs(&client, after_restart).await;
    clock.wait_for_sleepers(1).await;
    clock.advance(Duration::from_secs(30 * MIN));
    let after_next_tick = completed_runs(&client, after_restart + 1).await.len();
    runtime.shutdown().await;
    (after_restart, after_next_tick)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_missed_while_down_start_one_run_by_default() {
    assert_eq!(MissedTicks::default(), MissedTicks::RunOnce);
    assert_eq!(down_over_three_ticks(MissedTicks::RunOnce).await, (2, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_missed_while_down_start_nothing_when_skipped() {
    assert_eq!(down_over_three_ticks(MissedTicks::Skip).await, (1, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_handled_elsewhere_first_is_not_started_again() {
    let store = fresh_store();
    let clock = TestClock::at(at(30 * MIN));
    let schedule = Schedule::every(Duration::from_secs(HOUR)).name("hourly");
    let runtime = start(&store, &clock, schedule);
    let client = runtime.client();
    clock.wait_for_sleepers(1).await;
    // Another worker (here: this client, through the same write a scheduler makes) handles
    // the 1:00 tick before this runtime's scheduler gets to it.
    let elsewhere = client
        .handle_tick(scheduled_job, "hourly", at(HOUR), 7)
        .await
        .unwrap()
        .expect("the tick's run");
    completed_runs(&client, 1).await;
    clock.advance(Duration::from_secs(30 * MIN));
    // The scheduler's own attempt at 1:00 finds it handled; the 2:00 tick is its own.
    clock.wait_for_sleepers(1).await;
    clock.advance(Duration::from_secs(HOUR));
    let runs = completed_runs(&client, 2).await;
    assert_eq!(runs.len(), 2, "the 1:00 tick started twice: {runs:?}");
    assert_eq!(runs[0], elsewhere);
    // Handling a tick again returns its run; a tick before the last handled one (never
    // started) starts nothing.
    let again = client.handle_tick(scheduled_job, "hourly", at(HOUR), 7);
    assert_eq!(again.await.unwrap(), Some(elsewhere));
    let old = client.handle_tick(scheduled_job, "hourly", at(0), 7);
    assert_eq!(old.await.unwrap(), None);
    assert_eq!(client.list(None).unwrap().len(), 2);
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_cron_in_a_time_zone_ticks_at_local_time_across_daylight_saving() {
    // 9:00 in Berlin, on Saturday 28 March 2026 (winter time, 8:00 UTC) and on Sunday
    // 29 March (summer time, 7:00 UTC).
    let saturday_noon = UNIX_EPOCH + Duration::from_secs(1_774_699_200);
    let store = fresh_store();
    let clock = TestClock::at(saturday_noon);
    let nine = Schedule::cron("0 9 * * *")
        .unwrap()
        .time_zone(cairn::chrono_tz::Europe::Berlin);
    let runtime = start(&store, &clock, nine);
    let client = runtime.client();
    clock.wait_for_sleepers(1).await;
    // Sunday 6:59:59 UTC (8:59:59 summer time): nothing yet. At 7:00 UTC: the run.
    clock.advance(Duration::from_secs(19 * HOUR - 1));
    assert!(client.list(None).unwrap().is_empty(), "a run before 9:00");
    clock.advance(Duration::from_secs(1));
    completed_runs(&client, 1).await;
    // Monday 9:00 Berlin is 7:00 UTC too: 24 hours later.
    clock.wait_for_sleepers(1).await;
    clock.advance(Duration::from_secs(24 * HOUR - 1));
    assert_eq!(client.list(None).unwrap().len(), 1);
    clock.advance(Duration::from_secs(1));
    completed_runs(&client, 2).await;
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_schedules_are_typed_errors() {
    match Schedule::cron("0 */6 * *") {
        Err(Error::InvalidCron { expression, reason }) => {
            assert_eq!(expression, "0 */6 * *");
            assert!(!reason.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Schedule::cron("0 0 31 2 *"),
        Err(Error::InvalidCron { .. })
    ));
    let store = fresh_store();
    let twice = store
        .runtime()
        .schedule(scheduled_job, Schedule::every(Duration::from_secs(60)), 1)
        .schedule(scheduled_job, Schedule::cron("0 * * * *").unwrap(), 2)
        .start();
    match twice {
        Err(Error::DuplicateSchedule { name }) => assert_eq!(name, "scheduled_job"),
        other => panic!("{:?}", other.map(|_| ())),
    }
    let zero = store
        .runtime()
        .schedule(scheduled_job, Schedule::every(Duration::ZERO), 1)
        .start();
    assert!(matches!(zero, Err(Error::InvalidArgument { .. })));
    // Two schedules of one workflow, named apart, are fine.
    let runtime = store
        .runtime()
        .schedule(scheduled_job, Schedule::every(Duration::from_secs(60)), 1)
        .schedule(
            scheduled_job,
            Schedule::cron("0 * * * *").unwrap().name("hourly"),
            2,
        )
        .start()
        .unwrap();
    runtime.shutdown().await;
}
