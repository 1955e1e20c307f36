//! Child workflows: `ctx.child(workflow, input)` and `cairn::child` branches of `parallel`.
//! A typed round trip (struct input and output, the parent and children as the client sees
//! them), a failed child as the parent's typed error, children in parallel (tuple and `Vec`,
//! the parent parked with no task while they wait, the first failed branch the call's error),
//! the cancel of a parent cancelling its waiting children and a cancelled child as a typed
//! error, an unregistered child refused at the call, a child by name with JSON in and out;
//! and restarts: the parent and the child
//! each halted after every commit of theirs (and, in `parallel`, after every committed
//! branch), resumed by a new runtime with no second child and no step run twice. A parent
//! killed in another process is in `processes/child_processes.rs`.

use std::time::Duration;

use cairn::{Context, Error, Flow, RunId, Runtime, Status, TestClock, child, workflow};
use serde::{Deserialize, Serialize};

use super::support;
use super::{Backend, BackendUnderTest, fresh_store};
use support::ran;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u64,
    items: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Packed {
    order: u64,
    boxes: u32,
}

async fn pack_items(order: Order) -> Result<Packed, String> {
    ran(format!("pack {}", order.id));
    Ok(Packed {
        order: order.id,
        boxes: order.items.len() as u32,
    })
}

async fn bill(packed: Packed) -> Result<u64, String> {
    ran(format!("bill {}", packed.order));
    Ok(u64::from(packed.boxes) * 5)
}

async fn load(id: u64) -> Result<Order, String> {
    ran(format!("load {id}"));
    Ok(Order {
        id,
        items: vec!["a".to_owned(); id as usize % 4 + 1],
    })
}

/// The child: two steps of its own.
#[workflow]
async fn pack(ctx: &mut Context, order: Order) -> Result<Packed, String> {
    let packed = ctx.task(pack_items, order).await?;
    let _cost = ctx.task(bill, packed.clone()).await?;
    Ok(packed)
}

/// The parent: a step, a child, a step.
#[workflow]
async fn fulfil(ctx: &mut Context, id: u64) -> Result<(u64, u32), String> {
    let order = ctx.task(load, id).await?;
    let packed = ctx.child(pack, order).await?;
    let cost = ctx.task(bill, packed.clone()).await?;
    Ok((cost, packed.boxes))
}

async fn explode(x: u64) -> Result<u64, String> {
    ran(format!("explode {x}"));
    Err(format!("no stock for {x}"))
}

#[workflow]
async fn failing(ctx: &mut Context, x: u64) -> Result<u64, String> {
    let y = ctx.task(explode, x).await?;
    Ok(y)
}

/// The child's outcome as text, its typed error taken apart (a helper, so that the `Result`
/// with a `cairn::Error` is not what the workflow stores).
async fn describe_child(ctx: &mut Context, x: u64) -> Result<String, String> {
    match ctx.child(failing, x).await {
        Ok(y) => Ok(format!("ok {y}")),
        Err(Error::ChildFailed {
            run,
            child,
            workflow,
            message,
        }) => Ok(format!("{run} {child} {workflow} {message}")),
        Err(other) => Err(format!("unexpected {other:?}")),
    }
}

/// Keeps the child's failure as a value, to look at the typed error.
#[workflow]
async fn tolerant(ctx: &mut Context, x: u64) -> Result<String, String> {
    let seen = describe_child(ctx, x).await?;
    Ok(seen)
}

#[workflow]
async fn strict(ctx: &mut Context, x: u64) -> Result<u64, String> {
    let y = ctx.child(failing, x).await?;
    Ok(y)
}

/// Children in parallel: a tuple of two, then a `Vec`.
#[workflow]
async fn fan_out(ctx: &mut Context, ids: Vec<u64>) -> Result<(u32, Vec<u32>), String> {
    let (a, b) = ctx
        .parallel((
            child(
                pack,
                Order {
                    id: 100,
                    items: vec!["x".to_owned()],
                },
            ),
            child(
                pack,
                Order {
                    id: 200,
                    items: vec!["y".to_owned(); 2],
                },
            ),
        ))
        .await?;
    let orders: Vec<Order> = ids
        .into_iter()
        .map(|id| Order {
            id,
            items: vec!["z".to_owned(); id as usize],
        })
        .collect();
    let many = ctx
        .parallel(
            orders
                .into_iter()
                .map(|o| child(pack, o))
                .collect::<Vec<_>>(),
        )
        .limit(2)
        .await?;
    Ok((
        a.boxes + b.boxes,
        many.into_iter().map(|p| p.boxes).collect(),
    ))
}

/// A child that sleeps for a minute (by the test clock).
#[workflow]
async fn sleepy(ctx: &mut Context, x: u64) -> Result<u64, String> {
    ctx.sleep(Duration::from_secs(60)).await?;
    let y = ctx.task(explode, x).await?;
    Ok(y)
}

#[workflow]
async fn waits_on_sleepy(ctx: &mut Context, x: u64) -> Result<u64, String> {
    let y = ctx.child(sleepy, x).await?;
    Ok(y)
}

/// Two sleepy children in parallel, the first one's failure the call's.
#[workflow]
async fn sleepy_pair(ctx: &mut Context, x: u64) -> Result<(u64, u64), String> {
    let pair = ctx
        .parallel((child(sleepy, x), child(sleepy, x + 1)))
        .await?;
    Ok(pair)
}

/// A child chosen by name at run time, input and output as JSON.
#[workflow]
async fn by_name(
    ctx: &mut Context,
    name: String,
    input: serde_json::Value,
) -> Result<serde_json::Value, String> {
    let output = ctx.child_json(&name, input).await?;
    Ok(output)
}

#[workflow]
async fn unregistered_child(ctx: &mut Context, x: u64) -> Result<u64, String> {
    let y = ctx.child(failing, x).await?;
    Ok(y)
}

fn builder(store: &BackendUnderTest) -> cairn::RuntimeBuilder {
    store
        .runtime()
        .register(pack)
        .register(fulfil)
        .register(failing)
        .register(tolerant)
        .register(strict)
        .register(fan_out)
        .register(sleepy)
        .register(waits_on_sleepy)
        .register(sleepy_pair)
        .register(by_name)
        .answer_poll_interval(Duration::from_millis(5))
}

fn start(store: &BackendUnderTest) -> Runtime {
    builder(store).start().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_returns_its_typed_output_and_is_listed_under_its_parent() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let runtime = start(&store);
    let client = runtime.client();
    let run = client.start(fulfil, 2).await.unwrap();
    assert_eq!(client.wait(fulfil, run).await.unwrap(), (15, 3));
    let children = client.children(run).unwrap();
    assert_eq!(children.len(), 1, "{children:?}");
    let kid = children[0];
    assert_eq!(client.parent(kid).unwrap(), Some(run));
    assert_eq!(client.parent(run).unwrap(), None);
    assert_eq!(
        client.result(pack, kid).unwrap(),
        Packed { order: 2, boxes: 3 }
    );
    assert_eq!(client.status(kid).unwrap().status, Status::Completed);
    assert_eq!(client.list(None).unwrap().len(), 2);
    runtime.shutdown().await;
    let steps = support::take_step_counts();
    let expected = [("bill 2", 2), ("load 2", 1), ("pack 2", 1)];
    let expected = expected
        .map(|(k, v)| (k.to_owned(), v))
        .into_iter()
        .collect();
    assert_eq!(steps, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_child_is_the_parents_typed_error() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let runtime = start(&store);
    let client = runtime.client();
    let run = client.start(tolerant, 7).await.unwrap();
    let seen = client.wait(tolerant, run).await.unwrap();
    let kid = client.children(run).unwrap()[0];
    assert_eq!(seen, format!("{run} {kid} failing no stock for 7"));

    let run = client.start(strict, 8).await.unwrap();
    let error = client.wait(strict, run).await.unwrap_err();
    let kid = client.children(run).unwrap()[0];
    match error {
        Error::RunFailed { message, .. } => assert_eq!(
            message,
            format!("child run {kid} (workflow `failing`) of run {run} failed: no stock for 8")
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(client.status(kid).unwrap().status, Status::Failed);
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_run_in_parallel_and_their_outputs_come_back_in_branch_order() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let runtime = start(&store);
    let client = runtime.client();
    let run = client.start(fan_out, vec![1, 2, 3]).await.unwrap();
    assert_eq!(client.wait(fan_out, run).await.unwrap(), (3, vec![1, 2, 3]));
    let children = client.children(run).unwrap();
    assert_eq!(children.len(), 5, "{children:?}");
    let outputs: Vec<u64> = children
        .iter()
        .map(|kid| client.result(pack, *kid).unwrap().order)
        .collect();
    assert_eq!(outputs, [100, 200, 1, 2, 3]);
    runtime.shutdown().await;
    let steps = support::take_step_counts();
    for id in [100, 200, 1, 2, 3] {
        assert_eq!(steps.get(&format!("pack {id}")), Some(&1), "{steps:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_parent_cancels_its_children_and_a_cancelled_child_is_a_typed_error() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = builder(&store).clock(clock.clone()).start().unwrap();
    let client = runtime.client();
    let run = client.start(waits_on_sleepy, 1).await.unwrap();
    client.wait_for_status(run, Status::Waiting).await.unwrap();
    let kid = client.children(run).unwrap()[0];
    client.wait_for_status(kid, Status::Waiting).await.unwrap();
    client.cancel(run).await.unwrap();
    assert_eq!(client.status(run).unwrap().status, Status::Cancelled);
    assert_eq!(client.status(kid).unwrap().status, Status::Cancelled);
    clock.advance(Duration::from_secs(61));

    // The other way round: the child cancelled, its parent gets `ChildCancelled`.
    let run = client.start(waits_on_sleepy, 2).await.unwrap();
    client.wait_for_status(run, Status::Waiting).await.unwrap();
    let kid: RunId = client.children(run).unwrap()[0];
    client.cancel(kid).await.unwrap();
    match client.wait(waits_on_sleepy, run).await.unwrap_err() {
        Error::RunFailed { message, .. } => assert_eq!(
            message,
            format!("child run {kid} (workflow `sleepy`) of run {run} was cancelled")
        ),
        other => panic!("{other:?}"),
    }
    runtime.shutdown().await;
    let steps = support::take_step_counts();
    assert!(steps.is_empty(), "{steps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unregistered_child_is_a_typed_error_at_the_call() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let runtime = store
        .runtime()
        .register(unregistered_child)
        .start()
        .unwrap();
    let client = runtime.client();
    let run = client.start(unregistered_child, 1).await.unwrap();
    let error = tokio::time::timeout(
        Duration::from_secs(10),
        client.wait(unregistered_child, run),
    )
    .await
    .expect("no hang")
    .unwrap_err();
    match error {
        Error::RunFailed { message, .. } => assert!(
            message.contains("workflow `failing` is not registered"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(client.children(run).unwrap().is_empty());
    assert_eq!(client.list(None).unwrap().len(), 1);
    runtime.shutdown().await;
}

/// Halts the run of `halted` after its commit number `halt_at`, then resumes everything with a
/// new runtime; the parent must give the same output, with one child run and each step run
/// as often as uninterrupted.
async fn halt_and_resume(halted: &'static str, halt_at: u64) {
    let store = fresh_store();
    let runtime = builder(&store)
        .on_transition(move |t| {
            if t.workflow == halted && t.number == halt_at {
                Flow::Halt
            } else {
                Flow::Continue
            }
        })
        .start()
        .unwrap();
    let client = runtime.client();
    let run = client.start(fulfil, 5).await.unwrap();
    // The halted run's task stops; the other waits (or, the child halted, the parent waits).
    let status = |run| client.status(run).unwrap().status;
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let kids = client.children(run).unwrap();
            let stopped = match halted {
                "fulfil" => runtime.live_runs() == 0 && status(run) == Status::Running,
                _ => {
                    !kids.is_empty()
                        && runtime.live_runs() == 0
                        && status(kids[0]) == Status::Running
                }
            };
            if stopped {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{halted} halts after commit {halt_at}"));
    runtime.shutdown().await;
    let runtime = start(&store);
    let client = runtime.client();
    assert_eq!(
        client.wait(fulfil, run).await.unwrap(),
        (10, 2),
        "{halted} halted after commit {halt_at}"
    );
    assert_eq!(client.children(run).unwrap().len(), 1);
    assert_eq!(client.list(None).unwrap().len(), 2);
    runtime.shutdown().await;
    let steps = support::take_step_counts();
    let expected = [("bill 5", 2), ("load 5", 1), ("pack 5", 1)];
    let expected = expected
        .map(|(k, v)| (k.to_owned(), v))
        .into_iter()
        .collect();
    assert_eq!(steps, expected, "{halted} halted after commit {halt_at}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parent_and_child_resume_from_every_commit_without_a_second_child() {
    let _serial = support::serial().await;
    // fulfil: load, child, bill (3 commits); pack: pack_items, bill (2 commits).
    for halt_at in 1..=3 {
        halt_and_resume("fulfil", halt_at).await;
    }
    for halt_at in 1..=2 {
        halt_and_resume("pack", halt_at).await;
    }
}

/// Where [`halt_fan_out`] stops the first runtime.
#[derive(Clone, Copy, Debug)]
enum HaltAt {
    /// After commit `n` of the parent (`fan_out`) or of every child (`pack`).
    Commit(&'static str, u64),
    /// Right after branch `i` of a `parallel` call of the parent has committed.
    Branch(usize),
}

/// Halts `fan_out` (or its children) at `at`, then resumes with a new runtime: the same
/// output, five children in all, every step of every child run once.
async fn halt_fan_out(at: HaltAt) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let store = fresh_store();
    let fired = Arc::new(AtomicBool::new(false));
    let (on_commit, on_branch) = (fired.clone(), fired.clone());
    let runtime = builder(&store)
        .on_transition(move |t| match at {
            HaltAt::Commit(workflow, n) if t.workflow == workflow && t.number == n => {
                on_commit.store(true, Ordering::SeqCst);
                Flow::Halt
            }
            _ => Flow::Continue,
        })
        .on_branch(move |b| match at {
            HaltAt::Branch(i) if b.index == i => {
                on_branch.store(true, Ordering::SeqCst);
                Flow::Halt
            }
            _ => Flow::Continue,
        })
        .start()
        .unwrap();
    let client = runtime.client();
    let run = client.start(fan_out, vec![1, 2, 3]).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while !fired.load(Ordering::SeqCst) || runtime.live_runs() > 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("halted at {at:?}"));
    runtime.shutdown().await;
    let runtime = start(&store);
    let client = runtime.client();
    assert_eq!(
        client.wait(fan_out, run).await.unwrap(),
        (3, vec![1, 2, 3]),
        "halted at {at:?}"
    );
    assert_eq!(client.children(run).unwrap().len(), 5, "halted at {at:?}");
    assert_eq!(client.list(None).unwrap().len(), 6, "halted at {at:?}");
    runtime.shutdown().await;
    let steps = support::take_step_counts();
    for id in [100, 200, 1, 2, 3] {
        for step in ["pack", "bill"] {
            let name = format!("{step} {id}");
            assert_eq!(steps.get(&name), Some(&1), "halted at {at:?}: {steps:?}");
        }
    }
    assert_eq!(steps.len(), 10, "halted at {at:?}: {steps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_children_resume_from_every_commit_and_every_branch() {
    let _serial = support::serial().await;
    // fan_out: two `parallel` calls (2 commits); pack: 2 commits; branches 0 to 2 (the
    // second call has three).
    for at in [
        HaltAt::Commit("fan_out", 1),
        HaltAt::Commit("fan_out", 2),
        HaltAt::Commit("pack", 1),
        HaltAt::Commit("pack", 2),
        HaltAt::Branch(0),
        HaltAt::Branch(1),
        HaltAt::Branch(2),
    ] {
        halt_fan_out(at).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parallel_call_of_children_parks_the_parent_and_fails_with_the_first_failed_branch() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = builder(&store).clock(clock.clone()).start().unwrap();
    let client = runtime.client();
    let run = client.start(sleepy_pair, 1).await.unwrap();
    client.wait_for_status(run, Status::Waiting).await.unwrap();
    let kids = client.children(run).unwrap();
    assert_eq!(kids.len(), 2);
    for kid in &kids {
        client.wait_for_status(*kid, Status::Waiting).await.unwrap();
    }
    // Parent and children all parked: no task anywhere.
    tokio::time::timeout(Duration::from_secs(10), async {
        while runtime.live_runs() > 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("no run holds a task");
    assert_eq!(client.status(run).unwrap().status, Status::Waiting);
    clock.advance(Duration::from_secs(61));
    match client.wait(sleepy_pair, run).await.unwrap_err() {
        Error::RunFailed { message, .. } => assert_eq!(
            message,
            format!(
                "child run {} (workflow `sleepy`) of run {run} failed: no stock for 1",
                kids[0]
            )
        ),
        other => panic!("{other:?}"),
    }
    runtime.shutdown().await;
    let steps = support::take_step_counts();
    assert_eq!(steps.get("explode 1"), Some(&1), "{steps:?}");
    assert_eq!(steps.get("explode 2"), Some(&1), "{steps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_by_name_takes_and_returns_json() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let runtime = start(&store);
    let client = runtime.client();
    let input = serde_json::json!({"id": 4, "items": ["a", "b"]});
    let run = client
        .start(by_name, ("pack".to_owned(), input))
        .await
        .unwrap();
    assert_eq!(
        client.wait(by_name, run).await.unwrap(),
        serde_json::json!({"order": 4, "boxes": 2})
    );
    assert_eq!(client.children(run).unwrap().len(), 1);

    // Refused at the call, nothing started: an unknown name, an input that does not fit.
    let run = client
        .start(by_name, ("nope".to_owned(), serde_json::json!(1)))
        .await
        .unwrap();
    let error = client.wait(by_name, run).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("workflow `nope` is not registered"),
        "{error}"
    );
    let run = client
        .start(
            by_name,
            ("pack".to_owned(), serde_json::json!({"id": "four"})),
        )
        .await
        .unwrap();
    let error = client.wait(by_name, run).await.unwrap_err();
    assert!(
        error.to_string().contains("JSON input for workflow `pack`"),
        "{error}"
    );
    assert!(client.children(run).unwrap().is_empty());
    runtime.shutdown().await;
}

/// A child that ends in the runtime that runs its parent wakes the parent at once, completed
/// or failed: the commit of its end says it is a child. With an hour between the answer
/// watcher's polls, a parent that only a poll would wake does not finish within the bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_ending_here_wakes_its_parent_without_waiting_for_a_poll() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let runtime = builder(&store)
        .answer_poll_interval(Duration::from_secs(3600))
        .start()
        .unwrap();
    let client = runtime.client();
    let bound = Duration::from_secs(30);
    let run = client.start(fulfil, 2).await.unwrap();
    let completed = tokio::time::timeout(bound, client.wait(fulfil, run)).await;
    assert_eq!(completed.expect("woken by its child").unwrap(), (15, 3));
    let run = client.start(tolerant, 7).await.unwrap();
    let failed = tokio::time::timeout(bound, client.wait(tolerant, run)).await;
    let seen = failed.expect("woken by its failed child").unwrap();
    assert!(seen.ends_with("failing no stock for 7"), "{seen}");
    runtime.shutdown().await;
    support::take_step_counts();
}
