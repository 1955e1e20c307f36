//! The rule that keeps a run handed over by a client-only process from running twice in the
//! runtime that picks it up: [`Shared::start_handed_over`] starts a run only if it is not live
//! and has not gone on since it was handed over. Driven by hand here, because the order in
//! which start-up, the watcher and a run's task meet is not something a test can force
//! through the public API.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;
use crate::context::Context;
use crate::run::RunId;
use crate::store::write_op::TakenRun;
use crate::store::{RunRecord, WriteOp};
use crate::workflow::Workflow;
use crate::workflow::{BoxFuture, Start};

/// A run handed over at position 0, taken without its record (as from LMDB).
fn taken(run: RunId) -> TakenRun {
    TakenRun {
        run,
        position: 0,
        record: None,
        input: None,
    }
}

/// How many times the workflow below began from its input.
static STARTS: AtomicUsize = AtomicUsize::new(0);

/// A workflow without steps: it returns its input.
#[derive(Clone, Copy)]
struct Echo;

impl Workflow for Echo {
    type Input = u64;
    type Output = u64;
    const NAME: &'static str = "echo";
    const FINGERPRINT: u64 = 1;

    fn drive<'a>(_: &'a mut Context, start: Start<u64>) -> BoxFuture<'a, Result<u64, String>> {
        Box::pin(async move {
            match start {
                Start::New(input) => {
                    STARTS.fetch_add(1, Ordering::SeqCst);
                    Ok(input)
                }
                Start::Resume(_) => Err("echo has no state to resume".to_owned()),
            }
        })
    }
}

#[tokio::test]
async fn a_hand_over_starts_a_run_once_and_never_one_that_went_on() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(Echo)
        // The watcher polls once at start and then not during the test.
        .answer_poll_interval(Duration::from_secs(3600))
        .start()
        .unwrap();
    let (shared, client) = (runtime.shared.clone(), runtime.client());

    // A run this runtime started and finished, with a hand-over left for it (as when
    // start-up resumed a handed-over run before the watcher read the hand-over).
    let done = client.start(Echo, 7).await.unwrap();
    assert_eq!(client.wait(Echo, done).await.unwrap(), 7);
    shared.start_handed_over(taken(done)).unwrap();
    assert_eq!(runtime.live_runs(), 0);
    assert_eq!(STARTS.load(Ordering::SeqCst), 1);

    // A run stored by a client-only process: started once, however often it is handed over.
    let input = crate::codec::encode(&5u64).unwrap();
    let record = RunRecord::new("echo", 1, input, 0);
    let written = shared.commit(WriteOp::CreateRun { record }).await;
    let handed = written.unwrap().created().unwrap();
    shared.start_handed_over(taken(handed)).unwrap();
    shared.start_handed_over(taken(handed)).unwrap();
    assert!(runtime.live_runs() <= 1);
    assert_eq!(client.wait(Echo, handed).await.unwrap(), 5);
    while runtime.live_runs() > 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    shared.start_handed_over(taken(handed)).unwrap();
    assert_eq!(runtime.live_runs(), 0);
    assert_eq!(STARTS.load(Ordering::SeqCst), 2);

    // Taking hand-overs empties the table.
    let hand_over = WriteOp::HandOver {
        run: handed,
        position: 0,
    };
    shared.commit(hand_over).await.unwrap();
    let take = || WriteOp::TakeHandedOver { limit: 10 };
    let taken = shared.commit(take()).await.unwrap().handed_over().unwrap();
    let taken: Vec<_> = taken.iter().map(|t| (t.run, t.position)).collect();
    assert_eq!(taken, vec![(handed, 0)]);
    let taken = shared.commit(take()).await.unwrap().handed_over().unwrap();
    assert!(taken.is_empty());
    runtime.shutdown().await;
}
