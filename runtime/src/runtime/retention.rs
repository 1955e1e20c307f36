//! [`RuntimeBuilder::retention`](crate::RuntimeBuilder::retention): a background task that
//! purges the runs finished longer ago than a limit, by the runtime's [`Clock`].
//!
//! It runs one pass at start, then one every tenth of the limit (at least a second, at most
//! ten minutes), so a run is deleted at most about 10% later than the limit says. A pass is
//! [`Client::purge`](crate::Client::purge) with `finished_before(now - limit)`: batches of
//! 1,000 runs, each one commit of the group committer, so the commits of running workflows
//! share a batch's transaction or wait for at most one, never for the whole pass. A pass that
//! fails (a full disk, say) is logged and tried again at the next period.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::Shared;
use crate::client::listing::{RunFilter, purge_batches};
use crate::clock::Clock;
use crate::error::Error;
use crate::supervise::lock;

/// The retention task of a runtime, if it has one.
#[derive(Default)]
pub(crate) struct Retention {
    task: Mutex<Option<JoinHandle<()>>>,
    /// Passes completed, for tests that wait for one.
    passes: watch::Sender<u64>,
}

impl Retention {
    /// Starts the task that purges runs finished more than `after` ago.
    pub(super) fn start(shared: &Arc<Shared>, after: Duration, clock: Arc<dyn Clock>) {
        let task = shared.handle.spawn(run(shared.clone(), after, clock));
        *lock(&shared.retention.task) = Some(task);
    }

    /// Stops the task (at shutdown); a batch being committed finishes on its own.
    pub(super) async fn stop(&self) {
        let task = lock(&self.task).take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }

    /// Waits until `n` passes have completed.
    pub(super) async fn wait_for_passes(&self, n: u64) {
        let mut passes = self.passes.subscribe();
        let _ = passes.wait_for(|&done| done >= n).await;
    }
}

/// How long between two passes: a tenth of the limit, within [1 s, 10 min].
fn period(after: Duration) -> Duration {
    (after / 10).clamp(Duration::from_secs(1), Duration::from_secs(600))
}

async fn run(shared: Arc<Shared>, after: Duration, clock: Arc<dyn Clock>) {
    loop {
        let now = clock.now();
        let cutoff = now.checked_sub(after).unwrap_or(std::time::UNIX_EPOCH);
        let filter = RunFilter::new().finished_before(cutoff);
        match purge_batches(&shared, &filter).await {
            Ok(purged) => {
                if purged > 0 {
                    tracing::info!(purged, ?after, "retention: finished runs purged");
                }
            }
            Err(Error::ShutDown) => return,
            Err(error) => tracing::warn!(%error, "retention: purge failed; trying again later"),
        }
        shared.retention.passes.send_modify(|n| *n += 1);
        clock.sleep_until(now + period(after)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_period_is_a_tenth_of_the_limit_within_bounds() {
        assert_eq!(period(Duration::from_secs(3600)), Duration::from_secs(360));
        assert_eq!(period(Duration::from_millis(10)), Duration::from_secs(1));
        assert_eq!(
            period(Duration::from_secs(30 * 86_400)),
            Duration::from_secs(600)
        );
    }
}
