//! How a client waits for a run to change: told by this process's run tasks, or, in a
//! client-only process, by reading the store again after a bounded delay.
//!
//! A runtime that runs the workflow bumps a watch channel whenever a run finishes, aborts or
//! suspends, so a `wait` in that process wakes at once. A run can also end in another
//! process (a client-only one runs nothing; any process can cancel a sleeping or waiting run,
//! see `Client::cancel`), and LMDB cannot notify across processes, so the wait also polls. In
//! a client-only process the first read again comes after [`FIRST_POLL`], each next delay
//! twice the last, never more than [`MAX_POLL`]: a short run is seen finished within
//! milliseconds. In a process that runs the workflows, where its own runs' changes are told at
//! once, the poll is only the fallback for what another process did, every [`MAX_POLL`]: a
//! thousand waiters polling from 2 ms there took a fifth of the throughput of a thousand
//! concurrent runs (figure 3). Either way a long wait costs one read transaction per
//! [`MAX_POLL`], a few microseconds.

use std::time::Duration;

use tokio::sync::watch;

use crate::error::Error;
use crate::runtime::Shared;

/// The first delay before a client-only process reads a run again.
pub(crate) const FIRST_POLL: Duration = Duration::from_millis(2);

/// The longest delay between two reads of a client-only process waiting for a run: the bound
/// on how late it sees a change made by another process.
pub(crate) const MAX_POLL: Duration = Duration::from_millis(100);

/// Changes to runs, as one waiting client sees them.
pub(crate) struct Changes {
    changes: watch::Receiver<u64>,
    /// The next delay before reading again.
    poll: Option<Duration>,
}

impl Changes {
    /// Subscribes before the caller's first read, so that a change between that read and
    /// [`next`](Self::next) still wakes it.
    pub fn new(shared: &Shared) -> Changes {
        let first = if shared.is_client_only() {
            FIRST_POLL
        } else {
            MAX_POLL
        };
        Changes {
            changes: shared.subscribe(),
            poll: Some(first),
        }
    }

    /// Returns when something may have changed: a change in this process, or the next poll
    /// delay is over.
    pub async fn next(&mut self) -> Result<(), Error> {
        let Some(delay) = self.poll else {
            return self.changes.changed().await.map_err(|_| Error::ShutDown);
        };
        self.poll = Some((delay * 2).min(MAX_POLL));
        tokio::select! {
            changed = self.changes.changed() => changed.map_err(|_| Error::ShutDown),
            () = tokio::time::sleep(delay) => Ok(()),
        }
    }
}
