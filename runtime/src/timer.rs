//! Wake-ups of sleeping runs: one ordered queue and one tokio task for the whole runtime.
//!
//! A run that reaches a durable sleep commits its wake-up time and ends its task; all that is
//! left of it in the process is an entry here (a time and a run id). The timer task sleeps on
//! the runtime's [`Clock`] until the earliest entry is due, then resumes the run from its last
//! committed state, exactly like a restart would.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::Notify;

use crate::clock::Clock;
use crate::run::RunId;
use crate::runtime::Shared;
use crate::supervise::lock;

/// The wake-up times of the runs sleeping in this process.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    queue: Mutex<BTreeSet<(SystemTime, RunId)>>,
    /// Wakes the timer task when an entry is added (it may be earlier than the one it sleeps
    /// towards). `notify_one` keeps a permit, so an addition is never missed.
    changed: Notify,
}

impl Timers {
    /// Resumes `run` once the clock reaches `at`.
    pub fn schedule(&self, run: RunId, at: SystemTime) {
        lock(&self.queue).insert((at, run));
        self.changed.notify_one();
    }

    /// How many runs are sleeping.
    pub fn len(&self) -> usize {
        lock(&self.queue).len()
    }

    /// The earliest entry, removed if due.
    fn pop_due(&self, now: SystemTime) -> Next {
        let mut queue = lock(&self.queue);
        match queue.first().copied() {
            None => Next::Idle,
            Some((at, run)) if at <= now => {
                queue.remove(&(at, run));
                Next::Due(run)
            }
            Some((at, _)) => Next::At(at),
        }
    }
}

enum Next {
    Idle,
    Due(RunId),
    At(SystemTime),
}

/// Body of the timer task; runs until the runtime shuts down and aborts it.
pub(crate) async fn run(shared: Arc<Shared>, clock: Arc<dyn Clock>) {
    loop {
        match shared.timers.pop_due(clock.now()) {
            Next::Idle => shared.timers.changed.notified().await,
            Next::Due(run) => {
                if let Err(error) = shared.wake(run).await {
                    tracing::error!(%run, %error, "could not resume a run after its sleep");
                }
            }
            Next::At(at) => {
                tokio::select! {
                    () = clock.sleep_until(at) => {}
                    () = shared.timers.changed.notified() => {}
                }
            }
        }
    }
}
