//! End-to-end tests of the runtime on real LMDB files, with workflows written by hand the way
//! `#[workflow]` generates them.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use cairn_runtime::__private::{
    BoxFuture, DurableIter, IntoDurableIter, SerdeCodec, Start, StateInfo, VecIter, WorkflowResult,
};
use cairn_runtime::{Client, Context, Error, Flow, RunId, Runtime, Status, Workflow};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How many times each step ran, per input `n` (tests run in parallel, each with its own `n`).
static STEP_RUNS: Mutex<Option<HashMap<u32, [u32; 2]>>> = Mutex::new(None);

fn bump(n: u32, step: usize) {
    let mut runs = STEP_RUNS.lock().unwrap();
    runs.get_or_insert_with(HashMap::new).entry(n).or_default()[step] += 1;
}

fn step_runs(n: u32) -> [u32; 2] {
    let runs = STEP_RUNS.lock().unwrap();
    runs.as_ref()
        .and_then(|r| r.get(&n).copied())
        .unwrap_or_default()
}

async fn double(n: u32) -> u32 {
    bump(n, 0);
    // A real suspension, so the supervisor sees `Pending` polls with an empty abort slot.
    tokio::task::yield_now().await;
    assert!(n != 666, "boom at {n}");
    n * 2
}

async fn add_one(n: u32, a: u32) -> u32 {
    bump(n, 1);
    a + 1
}

#[derive(Debug)]
struct Unlucky;

impl std::fmt::Display for Unlucky {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unlucky number")
    }
}

// What `#[workflow] async fn counter(ctx: &mut Context, n: u32) -> Result<u32, Unlucky>` with
// `let a = ctx.task(double, n).await; let b = ctx.step("add_one", add_one(n, a)).await;`
// would expand to.
#[derive(Clone, Copy)]
#[allow(non_camel_case_types)]
struct counter;

#[derive(Serialize, Deserialize)]
enum State {
    Start { n: u32 },
    AfterA { n: u32, a: u32 },
}

impl StateInfo for State {
    fn state_name(&self) -> &'static str {
        match self {
            State::Start { .. } => "Start",
            State::AfterA { .. } => "AfterA",
        }
    }

    fn step_name(&self) -> Option<&'static str> {
        match self {
            State::Start { .. } => None,
            State::AfterA { .. } => Some("double"),
        }
    }
}

fn drive_counter<'a>(
    ctx: &'a mut Context,
    start: Start<u32>,
) -> BoxFuture<'a, Result<u32, String>> {
    Box::pin(async move {
        let mut state = match start {
            Start::New(n) => State::Start { n },
            Start::Resume(bytes) => {
                ctx.__decode_state(&SerdeCodec::<State>::default(), &bytes)
                    .await
            }
        };
        loop {
            match state {
                State::Start { n } => {
                    let a = ctx.task(double, n).await;
                    state = State::AfterA { n, a };
                }
                State::AfterA { n, a } => {
                    let b = ctx.step("add_one", add_one(n, a)).await;
                    let result = if n == 13 { Err(Unlucky) } else { Ok(b) };
                    return WorkflowResult::into_outcome(result);
                }
            }
            ctx.__checkpoint(&SerdeCodec::default(), &state).await;
        }
    })
}

impl Workflow for counter {
    type Input = u32;
    type Output = u32;
    const NAME: &'static str = "counter";
    const FINGERPRINT: u64 = 0x1111;

    fn drive<'a>(ctx: &'a mut Context, start: Start<u32>) -> BoxFuture<'a, Result<u32, String>> {
        drive_counter(ctx, start)
    }
}

/// The same workflow after a change of its state layout.
#[derive(Clone, Copy)]
struct CounterV2;

impl Workflow for CounterV2 {
    type Input = u32;
    type Output = u32;
    const NAME: &'static str = "counter";
    const FINGERPRINT: u64 = 0x2222;

    fn drive<'a>(ctx: &'a mut Context, start: Start<u32>) -> BoxFuture<'a, Result<u32, String>> {
        drive_counter(ctx, start)
    }
}

/// A build whose state layout changed without its fingerprint changing: the stored bytes of
/// `counter` do not decode as this state.
#[derive(Clone, Copy)]
struct SameFingerprintOtherLayout;

#[derive(Serialize, Deserialize)]
enum WideState {
    Start { n: u32 },
    AfterA { n: u32, a: u32, extra: [u64; 8] },
}

impl Workflow for SameFingerprintOtherLayout {
    type Input = u32;
    type Output = u32;
    const NAME: &'static str = "counter";
    const FINGERPRINT: u64 = counter::FINGERPRINT;

    fn drive<'a>(ctx: &'a mut Context, start: Start<u32>) -> BoxFuture<'a, Result<u32, String>> {
        Box::pin(async move {
            let state = match start {
                Start::New(n) => WideState::Start { n },
                Start::Resume(bytes) => {
                    ctx.__decode_state(&SerdeCodec::<WideState>::default(), &bytes)
                        .await
                }
            };
            match state {
                WideState::Start { n } => Ok(n),
                WideState::AfterA { a, extra, .. } => Ok(a + extra.len() as u32),
            }
        })
    }
}

/// A second, stepless workflow.
#[derive(Clone, Copy)]
struct Echo;

impl Workflow for Echo {
    type Input = (String, u8);
    type Output = String;
    const NAME: &'static str = "echo";
    const FINGERPRINT: u64 = 0xec40;

    fn drive<'a>(
        _ctx: &'a mut Context,
        start: Start<(String, u8)>,
    ) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            match start {
                Start::New((text, times)) => Ok(text.repeat(usize::from(times))),
                Start::Resume(_) => Err("echo has no states to resume".to_owned()),
            }
        })
    }
}

async fn square(x: u32) -> u32 {
    bump(x, 0);
    x * x
}

// What `for x in items { total += ctx.task(square, x).await; }` expands to: the durable
// iterator is a field of the persisted state.
#[derive(Clone, Copy)]
struct SumOfSquares;

#[derive(Serialize, Deserialize)]
enum LoopState {
    Start { items: Vec<u32> },
    Head { iter: VecIter<u32>, total: u32 },
}

impl StateInfo for LoopState {
    fn state_name(&self) -> &'static str {
        match self {
            LoopState::Start { .. } => "Start",
            LoopState::Head { .. } => "Head",
        }
    }

    fn step_name(&self) -> Option<&'static str> {
        match self {
            LoopState::Start { .. } => None,
            LoopState::Head { .. } => Some("square"),
        }
    }
}

impl Workflow for SumOfSquares {
    type Input = Vec<u32>;
    type Output = u32;
    const NAME: &'static str = "sum_of_squares";
    const FINGERPRINT: u64 = 0x5050;

    fn drive<'a>(
        ctx: &'a mut Context,
        start: Start<Vec<u32>>,
    ) -> BoxFuture<'a, Result<u32, String>> {
        Box::pin(async move {
            let mut state = match start {
                Start::New(items) => LoopState::Start { items },
                Start::Resume(bytes) => {
                    ctx.__decode_state(&SerdeCodec::<LoopState>::default(), &bytes)
                        .await
                }
            };
            loop {
                state = match state {
                    LoopState::Start { items } => {
                        // A transient state: nothing was awaited, so nothing is committed.
                        state = LoopState::Head {
                            iter: items.into_durable_iter(),
                            total: 0,
                        };
                        continue;
                    }
                    LoopState::Head { mut iter, total } => match iter.next() {
                        Some(x) => {
                            let squared = ctx.task(square, x).await;
                            LoopState::Head {
                                iter,
                                total: total + squared,
                            }
                        }
                        None => return Ok::<u32, Unlucky>(total).into_outcome(),
                    },
                };
                ctx.__checkpoint(&SerdeCodec::default(), &state).await;
            }
        })
    }
}

fn start(dir: &tempfile::TempDir) -> Runtime {
    Runtime::builder()
        .path(dir.path())
        .lmdb(cairn_runtime::LmdbOptions::new().map_size(1 << 26))
        .register(counter)
        .register(Echo)
        .register(SumOfSquares)
        .start()
        .unwrap()
}

/// A runtime whose hook halts every run right after its commit number `halt_at`, recording
/// transitions.
fn start_halting(dir: &tempfile::TempDir, halt_at: u64, seen: Arc<Mutex<Vec<String>>>) -> Runtime {
    Runtime::builder()
        .path(dir.path())
        .lmdb(cairn_runtime::LmdbOptions::new().map_size(1 << 26))
        .register(counter)
        .register(SumOfSquares)
        .on_transition(move |t| {
            seen.lock().unwrap().push(format!(
                "{} {} {} {:?} {}",
                t.run, t.workflow, t.state, t.step, t.number
            ));
            if t.number == halt_at {
                Flow::Halt
            } else {
                Flow::Continue
            }
        })
        .start()
        .unwrap()
}

/// Starts a run of `counter` with input `n` and lets the hook halt it after its first commit.
async fn halted_run(dir: &tempfile::TempDir, n: u32) -> RunId {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let runtime = start_halting(dir, 1, seen.clone());
    let client = runtime.client();
    let run = client.start(counter, n).await.unwrap();
    assert!(matches!(client.wait(counter, run).await, Err(Error::Halted { run: r }) if r == run));
    assert_eq!(
        *seen.lock().unwrap(),
        [format!("{run} counter AfterA Some(\"double\") 1")]
    );
    assert!(matches!(
        client.result(counter, run),
        Err(Error::NotFinished {
            status: Status::Running,
            ..
        })
    ));
    runtime.shutdown().await;
    run
}

#[tokio::test]
async fn runs_complete_typed_and_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = start(&dir);
    let client = runtime.client();

    assert_eq!(client.run(counter, 1).await.unwrap(), 3);
    assert_eq!(step_runs(1), [1, 1]);
    assert_eq!(
        client.run_json("counter", json!(2)).await.unwrap(),
        json!(5)
    );
    assert_eq!(
        client.run_json("echo", json!(["ab", 3])).await.unwrap(),
        json!("ababab")
    );

    let run = client.start(counter, 3).await.unwrap();
    assert_eq!(client.wait(counter, run).await.unwrap(), 7);
    assert_eq!(client.wait_json(run).await.unwrap(), json!(7));
    assert_eq!(client.result(counter, run).unwrap(), 7);
    assert_eq!(client.result_json(run).unwrap(), json!(7));
    let status = client.status(run).unwrap();
    assert_eq!(status.id, run);
    assert_eq!(status.workflow, "counter");
    assert_eq!(status.status, Status::Completed);
    assert_eq!(status.state, "AfterA");
    assert_eq!(status.step.as_deref(), Some("double"));
    assert_eq!(status.transitions, 1);
    assert_eq!(status.error, None);

    assert_eq!(client.list(None).unwrap().len(), 4);
    assert_eq!(client.list(Some(Status::Completed)).unwrap().len(), 4);
    assert!(client.list(Some(Status::Failed)).unwrap().is_empty());
    let ids: Vec<RunId> = client.list(None).unwrap().iter().map(|s| s.id).collect();
    assert!(ids.is_sorted());
    assert_eq!(run.to_string().parse::<RunId>().unwrap(), run);
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_runs_all_complete() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = start(&dir);
    let client = runtime.client();
    let mut runs = Vec::new();
    for n in 1000..1020 {
        runs.push((n, client.start(counter, n).await.unwrap()));
    }
    for (n, run) in runs {
        assert_eq!(client.wait(counter, run).await.unwrap(), n * 2 + 1);
    }
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_workflow_error_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = start(&dir);
    let client = runtime.client();
    let run = client.start(counter, 13).await.unwrap();
    match client.wait(counter, run).await {
        Err(Error::RunFailed { run: r, message }) => {
            assert_eq!(r, run);
            assert_eq!(message, "unlucky number");
        }
        other => panic!("expected RunFailed, got {other:?}"),
    }
    let status = client.status(run).unwrap();
    assert_eq!(status.status, Status::Failed);
    assert_eq!(status.error.as_deref(), Some("unlucky number"));
    assert!(matches!(
        client.result_json(run),
        Err(Error::RunFailed { .. })
    ));
    runtime.shutdown().await;
}

#[tokio::test]
async fn bad_requests_get_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = start(&dir);
    let client = runtime.client();

    match client.start_json("nope", json!(1)).await {
        Err(Error::UnknownWorkflow { name, registered }) => {
            assert_eq!(name, "nope");
            assert_eq!(registered, ["counter", "echo", "sum_of_squares"]);
        }
        other => panic!("expected UnknownWorkflow, got {other:?}"),
    }
    match client.start_json("counter", json!("seven")).await {
        Err(error @ Error::MalformedInput { .. }) => {
            let message = error.to_string();
            assert!(message.contains("`counter`"), "{message}");
            assert!(message.contains("invalid type"), "{message}");
        }
        other => panic!("expected MalformedInput, got {other:?}"),
    }
    assert!(matches!(
        client.status(RunId(999)),
        Err(Error::UnknownRun { run: RunId(999) })
    ));
    assert!(matches!(
        client.wait_json(RunId(999)).await,
        Err(Error::UnknownRun { .. })
    ));

    let run = client.start(Echo, ("x".to_owned(), 2)).await.unwrap();
    match client.wait(counter, run).await {
        Err(Error::WrongWorkflow {
            expected, actual, ..
        }) => {
            assert_eq!((expected.as_str(), actual.as_str()), ("counter", "echo"));
        }
        other => panic!("expected WrongWorkflow, got {other:?}"),
    }
    // Same name as a registered workflow, but not the registered type.
    assert!(matches!(
        client.start(CounterV2, 1).await,
        Err(Error::UnknownWorkflow { .. })
    ));
    runtime.shutdown().await;
    assert!(matches!(client.status(run), Err(Error::ShutDown)));
    assert!(matches!(
        client.start(counter, 1).await,
        Err(Error::ShutDown)
    ));

    let duplicate = Runtime::builder()
        .path(dir.path())
        .register(counter)
        .register(CounterV2)
        .start();
    assert!(matches!(duplicate, Err(Error::DuplicateWorkflow { name }) if name == "counter"));
}

#[test]
fn starting_outside_tokio_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let started = Runtime::builder().path(dir.path()).start();
    assert!(matches!(started, Err(Error::NoTokioRuntime)));
}

#[tokio::test]
async fn a_halted_run_resumes_without_rerunning_committed_steps() {
    let dir = tempfile::tempdir().unwrap();
    let run = halted_run(&dir, 100).await;
    assert_eq!(step_runs(100), [1, 0]);

    let runtime = start(&dir);
    let client = runtime.client();
    let status = client.status(run).unwrap();
    assert_eq!(status.transitions, 1);
    assert_eq!(client.wait(counter, run).await.unwrap(), 201);
    assert_eq!(step_runs(100), [1, 1], "the committed step ran again");
    assert_eq!(client.status(run).unwrap().status, Status::Completed);
    runtime.shutdown().await;

    // And the result is still there after another restart.
    let runtime = start(&dir);
    assert_eq!(runtime.client().result(counter, run).unwrap(), 201);
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_durable_loop_resumes_at_the_next_item() {
    let dir = tempfile::tempdir().unwrap();
    let items = vec![7001, 7002, 7003];
    let seen = Arc::new(Mutex::new(Vec::new()));
    let runtime = start_halting(&dir, 2, seen.clone());
    let client = runtime.client();
    let run = client.start(SumOfSquares, items.clone()).await.unwrap();
    assert!(matches!(
        client.wait(SumOfSquares, run).await,
        Err(Error::Halted { .. })
    ));
    assert_eq!(seen.lock().unwrap().len(), 2);
    runtime.shutdown().await;
    assert_eq!(
        items.iter().map(|&x| step_runs(x)[0]).collect::<Vec<_>>(),
        [1, 1, 0]
    );

    let runtime = start(&dir);
    let expected: u32 = items.iter().map(|x| x * x).sum();
    assert_eq!(
        runtime.client().wait(SumOfSquares, run).await.unwrap(),
        expected
    );
    assert_eq!(
        items.iter().map(|&x| step_runs(x)[0]).collect::<Vec<_>>(),
        [1, 1, 1]
    );
    assert_eq!(runtime.client().status(run).unwrap().transitions, 3);
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_changed_fingerprint_is_incompatible_state() {
    let dir = tempfile::tempdir().unwrap();
    let run = halted_run(&dir, 200).await;

    let runtime = Runtime::builder()
        .path(dir.path())
        .register(CounterV2)
        .start()
        .unwrap();
    let client = runtime.client();
    match client.wait(CounterV2, run).await {
        Err(error @ Error::IncompatibleState { .. }) => {
            let message = error.to_string();
            assert!(
                message.starts_with(&format!(
                    "run {run} was stored by an incompatible version of workflow `counter`"
                )),
                "{message}"
            );
            let Error::IncompatibleState {
                stored, expected, ..
            } = error
            else {
                unreachable!()
            };
            assert_eq!((stored, expected), (0x1111, 0x2222));
        }
        other => panic!("expected IncompatibleState, got {other:?}"),
    }
    assert!(matches!(
        client.result_json(run),
        Err(Error::IncompatibleState { .. })
    ));
    // Left untouched: not resumed, nothing ran.
    assert_eq!(client.status(run).unwrap().status, Status::Running);
    assert_eq!(step_runs(200), [1, 0]);
    runtime.shutdown().await;
}

#[tokio::test]
async fn undecodable_state_is_corrupt_state_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let run = halted_run(&dir, 300).await;

    let runtime = Runtime::builder()
        .path(dir.path())
        .register(SameFingerprintOtherLayout)
        .start()
        .unwrap();
    let client = runtime.client();
    match client.wait_json(run).await {
        Err(Error::CorruptState {
            run: r,
            workflow,
            reason,
        }) => {
            assert_eq!(r, run);
            assert_eq!(workflow, "counter");
            assert!(reason.contains("state does not decode"), "{reason}");
        }
        other => panic!("expected CorruptState, got {other:?}"),
    }
    // Quarantined, not failed: its state is kept for a build that can read it, and no
    // restart of this build tries it again.
    assert_eq!(client.status(run).unwrap().status, Status::Corrupt);
    assert_eq!(runtime.quarantined().unwrap()[0].run, run);
    runtime.shutdown().await;

    // The build that can read it resumes it by hand, and it finishes.
    let runtime = start(&dir);
    assert_eq!(
        runtime.client().status(run).unwrap().status,
        Status::Corrupt
    );
    runtime.client().resume(run).await.unwrap();
    assert_eq!(runtime.client().wait(counter, run).await.unwrap(), 601);
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_panicking_step_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = start(&dir);
    let client = runtime.client();
    let run = client.start(counter, 666).await.unwrap();
    match client.wait(counter, run).await {
        Err(Error::RunFailed { message, .. }) => {
            assert_eq!(message, "panicked: boom at 666");
        }
        other => panic!("expected RunFailed, got {other:?}"),
    }
    assert_eq!(client.status(run).unwrap().status, Status::Failed);
    // The runtime is unharmed.
    assert_eq!(client.run(counter, 4).await.unwrap(), 9);
    runtime.shutdown().await;
}

/// Compile-time checks: the futures generated code builds on are `Send`, whatever the state.
#[allow(dead_code, clippy::diverging_sub_expression)]
fn futures_are_send(ctx: &mut Context, client: &Client) {
    fn send<T: Send>(_: T) {}

    #[derive(Serialize, Deserialize)]
    struct NotSend(#[serde(skip)] PhantomData<*const ()>);

    send(counter::drive(ctx, Start::New(1)));
    send(ctx.step("x", async { 1 }));
    send(ctx.task(double, 1));
    send(ctx.__checkpoint(&SerdeCodec::default(), &State::Start { n: 1 }));
    send(ctx.__decode_state(&SerdeCodec::<NotSend>::default(), &[]));
    send(client.run(counter, 1));
    send(client.run_json("counter", json!(1)));
    send(client.clone());
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Runtime>();
    send_sync::<Client>();
    send_sync::<Context>();
    send_sync::<Error>();
}
