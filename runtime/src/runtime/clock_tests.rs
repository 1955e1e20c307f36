//! The times a store writes come from the runtime's [`Clock`](crate::Clock), not the system
//! clock: a test clock governs a run's record too, as it governs its sleeps and deadlines.

use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::clock::TestClock;
use crate::context::Context;
use crate::workflow::{BoxFuture, Start, Workflow};

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
                Start::New(input) => Ok(input),
                Start::Resume(_) => Err("echo has no state to resume".to_owned()),
            }
        })
    }
}

#[tokio::test]
async fn a_runs_record_is_stamped_by_the_runtimes_clock() {
    let dir = tempfile::tempdir().unwrap();
    // Far from the system clock's now, so that a stamp taken from it cannot pass.
    let at = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    let runtime = Runtime::builder()
        .path(dir.path())
        .clock(TestClock::at(at))
        .register(Echo)
        .start()
        .unwrap();
    let client = runtime.client();
    let run = client.start(Echo, 3).await.unwrap();
    assert_eq!(client.wait(Echo, run).await.unwrap(), 3);
    let record = runtime.shared.store().unwrap().load(run).unwrap().unwrap();
    let at_ms = crate::clock::to_ms(at);
    assert_eq!(record.created_at_ms, at_ms);
    assert_eq!(record.updated_at_ms, at_ms);
    runtime.shutdown().await;
}
