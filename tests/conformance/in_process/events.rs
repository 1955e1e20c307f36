//! Events into a running run (`client.send`, `ctx.wait_for_event`) in one process: events of
//! one name queue in send order and each is delivered once; an event sent before the run waits
//! is kept; a waiting run holds no task; a timeout gives `None` or the default, also across a
//! restart; a payload of the wrong type is refused at `send` when the workflow is registered
//! there, else fails the run naming the event and the type; unknown and finished runs are
//! typed errors (a sender that does not register the workflow is in
//! `processes/events_processes.rs`); and a run halted after each of its stored states and resumed by a new runtime
//! gets each event once. Time is a test clock where timeouts matter.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cairn::{Client, Context, Error, Flow, RunId, Runtime, Status, TestClock, workflow};
use serde::{Deserialize, Serialize};

use super::support;
use super::{Backend, BackendUnderTest, fresh_store};
use support::ran;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Payment {
    order: String,
    cents: u64,
}

/// Opens when a test says so: holds a run before its wait, so that an event is surely sent
/// first.
static GATE: tokio::sync::Notify = tokio::sync::Notify::const_new();

async fn reserve(order_id: String) -> Result<String, String> {
    ran("reserve");
    Ok(format!("reserved {order_id}"))
}

async fn reserve_at_gate(order_id: String) -> Result<String, String> {
    GATE.notified().await;
    ran("reserve");
    Ok(format!("reserved {order_id}"))
}

async fn ship(reserved: String, cents: u64) -> Result<String, String> {
    ran("ship");
    Ok(format!("{reserved}, paid {cents}, shipped"))
}

#[workflow]
async fn shop_order(ctx: &mut Context, order_id: String) -> Result<String, String> {
    let reserved = ctx.task(reserve, order_id).await?;
    let payment = ctx.wait_for_event::<Payment>("paid").await?;
    let note = ctx
        .wait_for_event::<String>("note")
        .timeout(Duration::from_secs(60))
        .await?;
    let shipped = ctx.task(ship, reserved, payment.cents).await?;
    Ok(format!("{shipped} ({})", note.unwrap_or_default()))
}

#[workflow]
async fn gated_order(ctx: &mut Context, order_id: String) -> Result<String, String> {
    let reserved = ctx.task(reserve_at_gate, order_id).await?;
    let payment = ctx.wait_for_event::<Payment>("paid").await?;
    let shipped = ctx.task(ship, reserved, payment.cents).await?;
    Ok(shipped)
}

/// Collects `n` events named `n`, in the order received.
#[workflow]
async fn collect(ctx: &mut Context, n: u32) -> Result<Vec<u32>, String> {
    let mut got = Vec::new();
    for _ in 0..n {
        let x = ctx.wait_for_event::<u32>("n").await?;
        got.push(x);
    }
    Ok(got)
}

/// A wait with a default: `false` when nothing came within a minute.
#[workflow]
async fn approval(ctx: &mut Context, what: String) -> Result<String, String> {
    let approved = ctx
        .wait_for_event("approved")
        .timeout_or(Duration::from_secs(60), false)
        .await?;
    Ok(format!("{what}: {approved}"))
}

/// Waits without naming the type: `#[workflow]` cannot register it, so a payload of the
/// wrong type is found when it is delivered.
#[workflow]
async fn untyped(ctx: &mut Context, _x: u32) -> Result<u32, String> {
    let n: u32 = ctx.wait_for_event("n").await?;
    Ok(n)
}

fn start(store: &BackendUnderTest, clock: &TestClock) -> Runtime {
    store
        .runtime()
        .register(shop_order)
        .register(gated_order)
        .register(collect)
        .register(approval)
        .register(untyped)
        .clock(clock.clone())
        .answer_poll_interval(Duration::from_millis(10))
        .start()
        .unwrap()
}

/// Waits until `run` is parked: waiting, with no task left in the runtime.
async fn parked(runtime: &Runtime, run: RunId) {
    let client = runtime.client();
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let status = client.wait_for_status(run, Status::Waiting).await.unwrap();
            if status.status == Status::Waiting && runtime.live_runs() == 0 {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the run parks");
}

fn payment(cents: u64) -> Payment {
    Payment {
        order: "o-1".to_owned(),
        cents,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_one_name_queue_in_order_and_each_is_delivered_once() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = start(&store, &clock);
    let client = runtime.client();
    let run = client.start(collect, 3).await.unwrap();
    client.send(run, "n", &10u32).await.unwrap();
    client.send(run, "n", &20u32).await.unwrap();
    // Another name's queue is another queue.
    client.send(run, "other", &99u32).await.unwrap();
    // Takes 10 and 20, then parks for the third.
    tokio::time::timeout(Duration::from_secs(10), async {
        // One transition per event received.
        while client.status(run).unwrap().transitions < 2 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("two events received");
    parked(&runtime, run).await;
    assert_eq!(runtime.live_runs(), 0, "a waiting run holds no task");
    client.send(run, "n", &30u32).await.unwrap();
    // 30 wakes the run, which may take it and complete before 40 is sent: then 40 is refused
    // (a finished run takes no event); either way it is never delivered.
    let late = client.send(run, "n", &40u32).await;
    assert!(
        matches!(
            late,
            Ok(())
                | Err(Error::EventToFinishedRun {
                    status: Status::Completed,
                    ..
                })
        ),
        "{late:?}"
    );
    let got = client.wait(collect, run).await.unwrap();
    assert_eq!(got, [10, 20, 30]);
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_sent_before_the_run_waits_is_kept() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = start(&store, &clock);
    let client = runtime.client();
    let run = client.start(gated_order, "o-1".to_owned()).await.unwrap();
    // The run is held in its first step: it has not reached its wait.
    client.send(run, "paid", &payment(1200)).await.unwrap();
    assert_ne!(client.status(run).unwrap().status, Status::Waiting);
    GATE.notify_one();
    let output = client.wait(gated_order, run).await.unwrap();
    assert_eq!(output, "reserved o-1, paid 1200, shipped");
    runtime.shutdown().await;
    let steps = support::take_step_counts();
    assert_eq!(steps.get("reserve"), Some(&1), "{steps:?}");
    assert_eq!(steps.get("ship"), Some(&1), "{steps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_gives_none_and_a_default_also_across_a_restart() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = start(&store, &clock);
    let client = runtime.client();
    let run = client.start(shop_order, "o-2".to_owned()).await.unwrap();
    client.send(run, "paid", &payment(500)).await.unwrap();
    let defaulted = client.start(approval, "deploy".to_owned()).await.unwrap();
    parked(&runtime, run).await;
    parked(&runtime, defaulted).await;
    runtime.shutdown().await;

    // The deadlines were committed with the waits: a restart does not push them back.
    clock.advance(Duration::from_secs(30));
    let runtime = start(&store, &clock);
    let client = runtime.client();
    clock.wait_for_sleepers(1).await;
    clock.advance(Duration::from_secs(29));
    clock.wait_for_sleepers(1).await;
    assert_eq!(client.status(run).unwrap().status, Status::Waiting);
    clock.advance(Duration::from_secs(1));
    let output = client.wait(shop_order, run).await.unwrap();
    assert_eq!(output, "reserved o-2, paid 500, shipped ()");
    let output = client.wait(approval, defaulted).await.unwrap();
    assert_eq!(output, "deploy: false");

    // And an event in time is taken instead of the default.
    let approved = client.start(approval, "merge".to_owned()).await.unwrap();
    client.send(approved, "approved", &true).await.unwrap();
    let output = client.wait(approval, approved).await.unwrap();
    assert_eq!(output, "merge: true");
    runtime.shutdown().await;
    support::take_step_counts();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_wakes_a_run_waiting_with_a_timeout_before_its_deadline() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = start(&store, &clock);
    let client = runtime.client();
    let run = client.start(shop_order, "o-3".to_owned()).await.unwrap();
    client.send(run, "paid", &payment(700)).await.unwrap();
    // Parked on "note", with a deadline a minute away that never comes.
    tokio::time::timeout(Duration::from_secs(10), async {
        while client.status(run).unwrap().transitions < 2 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the payment is received");
    parked(&runtime, run).await;
    client
        .send_json(run, "note", serde_json::json!("leave at the door"))
        .await
        .unwrap();
    let output = client.wait(shop_order, run).await.unwrap();
    assert_eq!(
        output,
        "reserved o-3, paid 700, shipped (leave at the door)"
    );
    runtime.shutdown().await;
    let steps = support::take_step_counts();
    assert_eq!(steps.get("ship"), Some(&1), "{steps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_of_the_wrong_type_is_refused_at_send_where_the_workflow_is_registered() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = start(&store, &clock);
    let client = runtime.client();
    let run = client.start(shop_order, "o-4".to_owned()).await.unwrap();
    let refused = client.send(run, "paid", &"a string, not a payment").await;
    match refused {
        Err(Error::EventType {
            run: of,
            event,
            expected,
            ..
        }) => {
            assert_eq!(of, run);
            assert_eq!(event, "paid");
            assert!(expected.ends_with("Payment"), "{expected}");
        }
        other => panic!("expected a typed refusal, got {other:?}"),
    }
    let refused = client
        .send_json(run, "paid", serde_json::json!({ "order": "o-4" }))
        .await;
    assert!(
        matches!(refused, Err(Error::EventType { .. })),
        "{refused:?}"
    );
    // Nothing of them was stored: the run gets the next good one.
    client.send(run, "paid", &payment(900)).await.unwrap();
    client.send(run, "note", &"ok").await.unwrap();
    let output = client.wait(shop_order, run).await.unwrap();
    assert_eq!(output, "reserved o-4, paid 900, shipped (ok)");
    runtime.shutdown().await;
    support::take_step_counts();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_of_the_wrong_type_fails_the_run_at_delivery_when_not_known_at_send() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = start(&store, &clock);
    let client = runtime.client();
    // Registered here, but its wait names no type: nothing to check at send.
    let run = client.start(untyped, 1).await.unwrap();
    client.send(run, "n", &"seven").await.unwrap();
    let failed = client.wait(untyped, run).await;
    match failed {
        Err(Error::RunFailed { message, .. }) => {
            assert!(message.contains("event `n`"), "{message}");
            assert!(message.contains("u32"), "{message}");
        }
        other => panic!("expected the run to fail, got {other:?}"),
    }

    runtime.shutdown().await;
    support::take_step_counts();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_to_an_unknown_or_finished_run_is_a_typed_error() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = start(&store, &clock);
    let client = runtime.client();
    let unknown = client.send(RunId(4242), "paid", &payment(1)).await;
    assert!(
        matches!(unknown, Err(Error::UnknownRun { run: RunId(4242) })),
        "{unknown:?}"
    );
    let run = client.start(collect, 1).await.unwrap();
    client.send(run, "n", &1u32).await.unwrap();
    assert_eq!(client.wait(collect, run).await.unwrap(), [1]);
    let finished = client.send(run, "n", &2u32).await;
    assert!(
        matches!(
            finished,
            Err(Error::EventToFinishedRun {
                status: Status::Completed,
                ..
            })
        ),
        "{finished:?}"
    );
    runtime.shutdown().await;
    support::take_step_counts();
}

/// `check_restarts` for a run fed by events: the run is started, its events are all sent at
/// once (before it waits for most of them), and it is halted right after each stored state and
/// resumed by a new runtime. Each time the output and the step counts are those of the
/// uninterrupted run: no event is lost or delivered twice, no committed step runs again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_fed_by_events_resumes_from_every_stored_state() {
    let _serial = support::serial().await;
    let clock = TestClock::default();
    let expected = "reserved o-6, paid 300, shipped (fragile)".to_owned();
    let expected_steps = BTreeMap::from([("reserve".to_owned(), 1), ("ship".to_owned(), 1)]);
    let send_all = |client: Client, run: RunId| async move {
        client.send(run, "paid", &payment(300)).await.unwrap();
        client.send(run, "note", &"fragile").await.unwrap();
    };

    let store = fresh_store();
    let commits = Arc::new(AtomicU64::new(0));
    let counter = commits.clone();
    let runtime = store
        .runtime()
        .register(shop_order)
        .clock(clock.clone())
        .on_transition(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            Flow::Continue
        })
        .start()
        .unwrap();
    let run = runtime
        .client()
        .start(shop_order, "o-6".to_owned())
        .await
        .unwrap();
    send_all(runtime.client(), run).await;
    assert_eq!(
        runtime.client().wait(shop_order, run).await.unwrap(),
        expected
    );
    runtime.shutdown().await;
    assert_eq!(support::take_step_counts(), expected_steps);
    let stored = commits.load(Ordering::SeqCst);
    assert_eq!(stored, 4, "one state after each await");

    for halt_at in 1..=stored {
        let store = fresh_store();
        let runtime = store
            .runtime()
            .register(shop_order)
            .clock(clock.clone())
            .on_transition(move |t| {
                if t.number == halt_at {
                    Flow::Halt
                } else {
                    Flow::Continue
                }
            })
            .start()
            .unwrap();
        let run = runtime
            .client()
            .start(shop_order, "o-6".to_owned())
            .await
            .unwrap();
        send_all(runtime.client(), run).await;
        let halted = runtime.client().wait(shop_order, run).await;
        assert!(
            matches!(halted, Err(Error::Halted { .. })),
            "halt after commit {halt_at}: {halted:?}"
        );
        runtime.shutdown().await;
        let runtime = store
            .runtime()
            .register(shop_order)
            .clock(clock.clone())
            .start()
            .unwrap();
        let got = runtime.client().wait(shop_order, run).await.unwrap();
        runtime.shutdown().await;
        assert_eq!(got, expected, "resumed after stored state {halt_at}");
        assert_eq!(
            support::take_step_counts(),
            expected_steps,
            "steps resumed after stored state {halt_at}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_run_can_be_paused_and_cancelled_and_keeps_events_sent_while_paused() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = start(&store, &clock);
    let client = runtime.client();

    // Paused while parked: an event sent meanwhile is kept, and taken after the unpause.
    let run = client.start(collect, 1).await.unwrap();
    parked(&runtime, run).await;
    client.pause(run).await.unwrap();
    client.send(run, "n", &5u32).await.unwrap();
    assert_eq!(client.status(run).unwrap().status, Status::Paused);
    client.unpause(run).await.unwrap();
    assert_eq!(client.wait(collect, run).await.unwrap(), [5]);

    // Paused and unpaused while parked with a timeout: parked again, with the same deadline.
    let timed = client.start(approval, "merge".to_owned()).await.unwrap();
    parked(&runtime, timed).await;
    client.pause(timed).await.unwrap();
    client.unpause(timed).await.unwrap();
    parked(&runtime, timed).await;
    clock.wait_for_sleepers(1).await;
    clock.advance(Duration::from_secs(60));
    assert_eq!(client.wait(approval, timed).await.unwrap(), "merge: false");

    // Cancelled while parked: it takes no more events.
    let cancelled = client.start(collect, 1).await.unwrap();
    parked(&runtime, cancelled).await;
    client.cancel(cancelled).await.unwrap();
    let refused = client.send(cancelled, "n", &1u32).await;
    assert!(
        matches!(
            refused,
            Err(Error::EventToFinishedRun {
                status: Status::Cancelled,
                ..
            })
        ),
        "{refused:?}"
    );
    runtime.shutdown().await;
    support::take_step_counts();
}
