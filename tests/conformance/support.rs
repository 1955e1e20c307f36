//! Shared test support: step counters and the restart harness.
//!
//! [`check_restarts`] runs a workflow once without interruption, then once per stored state:
//! the run is halted right after that state's commit (as a crash there would leave it), the
//! runtime shut down and a new one started on the same store, and the resumed run must
//! produce the same output with every step run exactly as often as in the uninterrupted run.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use cairn::{Error, Flow, Runtime, Workflow};

use super::backend::Backend;
use super::fresh_store;

static STEPS: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());
/// Counters are global (one for the whole suite binary), so the harness runs one check at a
/// time, and every test whose workflows count steps holds [`serial`].
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Records that step `name` ran.
pub fn ran(name: impl Into<String>) {
    *STEPS.lock().unwrap().entry(name.into()).or_default() += 1;
}

fn take_counts() -> BTreeMap<String, usize> {
    std::mem::take(&mut *STEPS.lock().unwrap())
}

/// The outcome of a run: its output, or the message it failed with.
pub type Outcome<T> = Result<T, String>;

async fn outcome<W: Workflow>(
    runtime: &Runtime,
    workflow: W,
    run: cairn::RunId,
) -> Outcome<W::Output> {
    match runtime.client().wait(workflow, run).await {
        Ok(output) => Ok(output),
        Err(Error::RunFailed { message, .. }) => Err(message),
        Err(other) => panic!("run {run} ended with {other:?}"),
    }
}

/// Runs `workflow(input)` uninterrupted and then restarted after every stored state; checks
/// the outcome and the step counts each time. Returns the number of stored states.
pub async fn check_restarts<W: Workflow>(
    workflow: W,
    input: W::Input,
    expected: Outcome<W::Output>,
    expected_steps: &[(&str, usize)],
) -> u64
where
    W::Input: Clone,
    W::Output: PartialEq + Debug,
{
    // Every completed await is a stored transition: in a run that succeeds, one per step run.
    let transitions = expected
        .is_ok()
        .then(|| expected_steps.iter().map(|(_, n)| *n as u64).sum());
    check(
        workflow,
        input,
        expected,
        expected_steps,
        transitions,
        |b| b,
    )
    .await
}

/// The step counts recorded since the last call (or the last check), and resets them.
pub fn take_step_counts() -> BTreeMap<String, usize> {
    take_counts()
}

/// Holds the lock that serializes the checks of one test binary, for tests that read the
/// global step counters themselves.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    let guard = SERIAL.lock().await;
    take_counts();
    guard
}

/// [`check_restarts`] for workflows whose stored transitions are not one per step (a
/// `parallel` call runs several steps in one transition, a durable sleep is a transition
/// without a step): `transitions` is the number an uninterrupted run stores, and `configure`
/// sets up every runtime built (say, with a clock).
pub async fn check_restarts_with<W: Workflow>(
    workflow: W,
    input: W::Input,
    expected: Outcome<W::Output>,
    expected_steps: &[(&str, usize)],
    transitions: u64,
    configure: impl Fn(cairn::RuntimeBuilder) -> cairn::RuntimeBuilder,
) where
    W::Input: Clone,
    W::Output: PartialEq + Debug,
{
    check(
        workflow,
        input,
        expected,
        expected_steps,
        Some(transitions),
        configure,
    )
    .await;
}

/// The check behind both: uninterrupted first (its stored transitions must number
/// `transitions`, where given), then halted after each stored state and resumed by a new
/// runtime on the same store. Returns the number of stored states.
async fn check<W: Workflow>(
    workflow: W,
    input: W::Input,
    expected: Outcome<W::Output>,
    expected_steps: &[(&str, usize)],
    transitions: Option<u64>,
    configure: impl Fn(cairn::RuntimeBuilder) -> cairn::RuntimeBuilder,
) -> u64
where
    W::Input: Clone,
    W::Output: PartialEq + Debug,
{
    let _serial = SERIAL.lock().await;
    let expected_steps: BTreeMap<String, usize> = expected_steps
        .iter()
        .map(|(name, n)| (name.to_string(), *n))
        .collect();
    take_counts();

    // Uninterrupted.
    let store = fresh_store();
    let commits = Arc::new(AtomicU64::new(0));
    let counter = commits.clone();
    let runtime = configure(store.runtime().register(workflow))
        .on_transition(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            Flow::Continue
        })
        .start()
        .unwrap();
    let run = runtime
        .client()
        .start(workflow, input.clone())
        .await
        .unwrap();
    let got = outcome(&runtime, workflow, run).await;
    runtime.shutdown().await;
    assert_eq!(got, expected, "uninterrupted run of {}", W::NAME);
    assert_eq!(
        take_counts(),
        expected_steps,
        "steps of the uninterrupted run of {}",
        W::NAME
    );
    let stored = commits.load(Ordering::SeqCst);
    if let Some(transitions) = transitions {
        assert_eq!(stored, transitions, "stored transitions of {}", W::NAME);
    }

    // Halted right after each stored state, then resumed by a new runtime.
    for halt_at in 1..=stored {
        let store = fresh_store();
        let runtime = configure(store.runtime().register(workflow))
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
            .start(workflow, input.clone())
            .await
            .unwrap();
        let halted = runtime.client().wait(workflow, run).await;
        assert!(
            matches!(halted, Err(Error::Halted { .. })),
            "{} should halt after commit {halt_at}, got {halted:?}",
            W::NAME
        );
        runtime.shutdown().await;

        // What the halt left stored, read before a runtime resumes the run: a runtime resumes
        // it as it starts, so a read through it could already see the next commit.
        let status = store.client().unwrap().status(run).unwrap();
        assert_eq!(
            status.transitions,
            halt_at,
            "{} stored state {halt_at}",
            W::NAME
        );
        let runtime = configure(store.runtime().register(workflow))
            .start()
            .unwrap();
        let got = outcome(&runtime, workflow, run).await;
        runtime.shutdown().await;
        assert_eq!(
            got,
            expected,
            "{} resumed after stored state {halt_at} ({})",
            W::NAME,
            status.state
        );
        assert_eq!(
            take_counts(),
            expected_steps,
            "steps of {} resumed after stored state {halt_at} ({})",
            W::NAME,
            status.state
        );
    }
    stored
}
