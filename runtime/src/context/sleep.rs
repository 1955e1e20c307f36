//! Durable sleep: [`Context::sleep`] and [`Context::sleep_until`]. The wake-up time is
//! committed with the run marked waiting; the run's task then ends, and the runtime's timers
//! (or, after a restart, the on-disk wake-up index) resume the run when it is due.

use std::time::{Duration, SystemTime};

use super::Context;
use crate::clock::{from_ms, to_ms};
use crate::error::Error;
use crate::store::{Outcome, StoredSleep, WriteOp};
use crate::supervise::Abort;

impl Context {
    /// Sleeps durably for `duration`: the wake-up time is committed and the run is suspended,
    /// holding no task and no memory, until the runtime's clock reaches it; a restart during
    /// the sleep waits only for what remains. [`Error::InvalidArgument`] if `now + duration`
    /// overflows the clock.
    pub fn sleep(&mut self, duration: Duration) -> impl Future<Output = Result<(), Error>> + Send {
        let wake = self.shared.clock.now().checked_add(duration);
        async move {
            let wake = wake.ok_or_else(|| Error::InvalidArgument {
                call: "Context::sleep",
                reason: format!("{duration:?} from now is past the end of the clock"),
            })?;
            self.sleep_until(wake).await
        }
    }

    /// Sleeps durably until the runtime's clock reads `wake_at` (at once if it already does).
    pub async fn sleep_until(&mut self, wake_at: SystemTime) -> Result<(), Error> {
        if let Err(refused) = self.begin_step("sleep") {
            return self.abort(refused).await;
        }
        let (run, position) = (self.run, self.position);
        let stored = self
            .shared
            .store()
            .and_then(|store| store.wake_at(run, position));
        let wake_ms = match stored {
            Ok(Some(sleep)) => {
                // Resumed at the same sleep: it began before the suspension.
                self.segment.started_at = from_ms(sleep.started_ms);
                if from_ms(sleep.wake_ms) > self.shared.clock.now() {
                    // Resumed before its wake-up (unpaused, see `Client::pause`): out of the
                    // wake-up index, so the sleep is committed again.
                    if let Err(error) = self.commit_sleep(sleep).await {
                        return self.abort(Abort::Error(error)).await;
                    }
                }
                sleep.wake_ms
            }
            Ok(None) => {
                if wake_at <= self.shared.clock.now() {
                    return Ok(());
                }
                // Rounded up, so that the stored time is never before the one asked for.
                let mut wake_ms = to_ms(wake_at);
                if from_ms(wake_ms) < wake_at {
                    wake_ms = wake_ms.saturating_add(1);
                }
                let sleep = StoredSleep {
                    started_ms: to_ms(self.segment.started_at),
                    wake_ms,
                };
                if let Err(error) = self.commit_sleep(sleep).await {
                    return self.abort(Abort::Error(error)).await;
                }
                wake_ms
            }
            Err(error) => return self.abort(Abort::Error(error)).await,
        };
        let wake_at = from_ms(wake_ms);
        if wake_at <= self.shared.clock.now() {
            return Ok(());
        }
        tracing::debug!(%run, workflow = self.workflow, position, wake_ms, "run suspended");
        // Drops the driver: the runtime's timer resumes the run from its last committed
        // state, which comes back here at the same position and finds the time passed.
        self.abort(Abort::Suspend { wake_at }).await
    }

    /// Commits `sleep` at the run's position: the run is marked waiting, with its wake-up in
    /// the index the timers read.
    async fn commit_sleep(&self, sleep: StoredSleep) -> Result<(), Error> {
        let (run, position) = (self.run, self.position);
        self.shared
            .commit(WriteOp::Suspend {
                run,
                position,
                sleep,
            })
            .await
            .and_then(Outcome::done)
    }
}
