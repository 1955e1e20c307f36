//! The runtime: registry, storage, one tokio task per live run and one timer task.
//!
//! [`RuntimeBuilder::start`] opens the store and resumes every unfinished run of a registered
//! workflow from its last committed state, reading them a batch at a time from the store's
//! index of active runs; a run waiting in a durable sleep is not read at all: the timer task
//! finds it in the on-disk wake-up index when it is due. Each run's task polls the workflow's
//! driver through [`Supervised`],
//! then records the outcome and wakes every `wait`er; a run that suspends for a sleep hands
//! itself to the [`Timers`] and ends its task.

pub(crate) mod answer_watcher;
mod builder;
mod child_wake;
mod graphs;
mod hooks;
mod queues;
mod recovery;
mod retention;
mod run_task;
mod scheduler;
mod shared;
pub(crate) mod timers;

pub use builder::RuntimeBuilder;
pub use hooks::{BranchCommit, Flow, Transition};
pub(crate) use hooks::{BranchHook, Hook};
pub(crate) use retention::Retention;
pub(crate) use shared::Shared;

use std::collections::HashMap;
use std::sync::Arc;

use crate::client::Client;
use crate::error::Error;
use crate::supervise::lock;

/// Runs workflows and keeps their state in LMDB. Cheap to clone.
///
/// Call [`shutdown`](Self::shutdown) before opening the same directory again in this process:
/// LMDB allows one open environment per path and process, and live run tasks keep it open.
#[derive(Clone)]
pub struct Runtime {
    shared: Arc<Shared>,
}

impl Runtime {
    /// Configures a runtime.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::new()
    }

    /// A client to start and query runs.
    pub fn client(&self) -> Client {
        Client::new(self.shared.clone())
    }

    /// The unfinished runs found at [`start`](RuntimeBuilder::start) that were stored by a
    /// state layout no registered version of their workflow has, each as an
    /// [`Error::IncompatibleState`] naming the run and the workflow. They were left untouched:
    /// register the version that stored them with
    /// [`register_previous`](RuntimeBuilder::register_previous) to finish them.
    pub fn incompatible_runs(&self) -> Vec<Error> {
        lock(&self.shared.incompatible).iter().cloned().collect()
    }

    /// The runs in quarantine (see [`Client::quarantined`]): found at start, or met while
    /// running, with stored data that does not decode or index entries that could not be
    /// derived. [`start`](RuntimeBuilder::start) logs their number as a warning.
    pub fn quarantined(&self) -> Result<Vec<crate::quarantine::Quarantined>, Error> {
        self.client().quarantined()
    }

    /// The error that stopped `run`'s task in this process, if one did (a commit the store
    /// refused, such as [`Error::LeaseLost`] when another worker took the run over), until
    /// the run is started here again.
    pub fn stopped(&self, run: crate::run::RunId) -> Option<Error> {
        self.shared.aborted(run)
    }

    /// How many runs have a task in this process right now. A run in a durable sleep has
    /// none.
    pub fn live_runs(&self) -> usize {
        lock(&self.shared.tasks).as_ref().map_or(0, HashMap::len)
    }

    /// How many runs are in a durable sleep (wake-ups stored in the data directory; this
    /// process holds only the earliest few in memory).
    pub fn sleeping_runs(&self) -> usize {
        self.shared
            .store()
            .and_then(|store| store.sleeping())
            .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// How many wake-ups of sleeping runs this process holds in memory: a small window of
    /// the earliest, however many runs sleep. For tests and benchmarks.
    #[doc(hidden)]
    pub fn timers_in_memory(&self) -> usize {
        self.shared.timers.in_memory()
    }

    /// How many runs wait for a person's answer (unanswered questions stored in the data
    /// directory; this process holds none of them in memory).
    pub fn waiting_for_answers(&self) -> usize {
        self.shared
            .store()
            .and_then(|store| store.waiting_for_answers())
            .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// Waits until the retention task ([`RuntimeBuilder::retention`]) has completed `n`
    /// passes (the first runs at start). For tests.
    #[doc(hidden)]
    pub async fn wait_for_retention_passes(&self, n: u64) {
        self.shared.retention.wait_for_passes(n).await;
    }

    /// Stops every run task (aborting them as a crash would; committed state stays) and waits
    /// until they are gone and the LMDB environment is closed, so that the same path can be
    /// opened again in this process. Clients left over get [`Error::ShutDown`].
    pub async fn shutdown(self) {
        let timer = lock(&self.shared.timer_task).take();
        if let Some(timer) = timer {
            timer.abort();
            let _ = timer.await;
        }
        let queue = lock(&self.shared.queue_task).take();
        if let Some(queue) = queue {
            queue.abort();
            let _ = queue.await;
        }
        let schedules = std::mem::take(&mut *lock(&self.shared.schedule_tasks));
        for task in schedules {
            task.abort();
            let _ = task.await;
        }
        self.shared.answers.stop().await;
        self.shared.retention.stop().await;
        let tasks = lock(&self.shared.tasks).take().unwrap_or_default();
        for task in tasks.values() {
            task.abort();
        }
        for (_, task) in tasks {
            // A cancelled task's JoinError is the expected result here.
            let _ = task.await;
        }
        let store = self
            .shared
            .store
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        drop(store);
        self.shared.notify();
        let on_closed = lock(&self.shared.on_closed).take();
        if let Some(on_closed) = on_closed {
            // A commit in flight when its task was aborted still holds the store; it finishes
            // on its own, and the close follows.
            let _ = self.shared.handle.spawn_blocking(on_closed).await;
        }
        tracing::debug!("runtime shut down");
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut workflows: Vec<&str> = self.shared.registry.keys().copied().collect();
        workflows.sort_unstable();
        f.debug_struct("Runtime")
            .field("workflows", &workflows)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod clock_tests;
#[cfg(test)]
mod handover_tests;
