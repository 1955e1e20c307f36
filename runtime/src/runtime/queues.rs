//! The runtime's side of queues with limits (`crate::queue`): the queue task, which admits
//! queued runs as their queues' caps and rate limits allow and starts them here.
//!
//! The store decides (`WriteOp::PumpQueues` counts the slots and recent starts in the write
//! that admits); this task decides only when to ask. It asks when told that something
//! changed here (a run of a limited workflow stored or ended), when the earliest
//! rate-limited queue allows its next start (a sleep on the runtime's [`Clock`]), and every
//! poll interval while runs wait, for slots freed and runs queued by other processes. Each
//! time it first reads what a pump would do and writes only if it would admit a run, so an
//! idle or full queue costs a read, not a commit.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::Shared;
use crate::clock::{Clock, from_ms};
use crate::error::Error;
use crate::queue::QueueConfig;
use crate::run::RunId;
use crate::store::WriteOp;

/// Runs admitted per write.
const PUMP_BATCH: usize = 256;

/// The queues of a runtime.
pub(crate) struct Queues {
    /// The queues registered with limits, written to the store at start.
    pub configs: Vec<QueueConfig>,
    /// Workflows in a queue: a new run of one is stored queued, not started.
    limited: HashSet<String>,
    /// Wakes the queue task; `notify_one` keeps a permit, so no change is missed.
    changed: Notify,
}

impl Queues {
    pub fn new(configs: Vec<QueueConfig>) -> Queues {
        let limited = configs
            .iter()
            .flat_map(|q| q.workflows.iter().cloned())
            .collect();
        Queues {
            configs,
            limited,
            changed: Notify::new(),
        }
    }

    /// Whether runs of `workflow` go through a queue.
    pub fn is_limited(&self, workflow: &str) -> bool {
        self.limited.contains(workflow)
    }

    /// Something changed that may let a queued run start.
    pub fn notify(&self) {
        self.changed.notify_one();
    }
}

/// Body of the queue task; runs until the runtime shuts down and aborts it.
pub(super) async fn run(shared: Arc<Shared>, clock: Arc<dyn Clock>, poll: Duration) {
    let workflows: Vec<String> = shared.registry.keys().map(|&w| w.to_owned()).collect();
    loop {
        let runnable = |workflow: &str| shared.registry.contains_key(workflow);
        let check = shared
            .store()
            .and_then(|store| store.queue_check(shared.now_ms(), &runnable));
        let check = match check {
            Ok(check) => check,
            Err(Error::ShutDown) => return,
            Err(error) => {
                tracing::error!(%error, "could not read the queues; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if check.ready {
            let op = WriteOp::PumpQueues {
                workflows: workflows.clone(),
                limit: PUMP_BATCH,
            };
            match shared.commit(op).await.and_then(|o| o.admitted()) {
                Ok(runs) => {
                    for run in runs {
                        start_admitted(&shared, run);
                    }
                }
                Err(Error::ShutDown) => return,
                Err(error) => {
                    tracing::error!(%error, "could not admit queued runs; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            continue;
        }
        let rate_limited = async {
            match check.next_ms {
                Some(next) => clock.sleep_until(from_ms(next)).await,
                None => std::future::pending().await,
            }
        };
        let watching = check.waiting || !shared.queues.limited.is_empty();
        let polled = async {
            if watching {
                tokio::time::sleep(poll).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = shared.queues.changed.notified() => {}
            () = rate_limited => {}
            () = polled => {}
        }
    }
}

/// Starts a run the queue admitted.
fn start_admitted(shared: &Arc<Shared>, run: RunId) {
    let started =
        shared
            .store()
            .and_then(|store| store.load(run))
            .and_then(|record| match record {
                Some(record) => shared.resume_stored(run, record),
                None => Ok(()),
            });
    match started {
        Ok(()) => tracing::debug!(%run, "queued run admitted"),
        Err(Error::ShutDown) => {}
        // Admitted and active in the store: the next start resumes it.
        Err(error) => tracing::error!(%run, %error, "could not start an admitted run"),
    }
}
