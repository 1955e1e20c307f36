//! Wake-ups of sleeping runs: one tokio task for the whole runtime, reading the on-disk index.
//!
//! A run that reaches a durable sleep commits its wake-up time, with an entry in the store's
//! wake-up index (time ‖ run), and ends its task: nothing of it stays in the process. The timer
//! task keeps in memory only a window of the earliest entries (at most [`WINDOW`] read at a
//! time, and never more than twice that): it sleeps on the runtime's [`Clock`] until the
//! earliest is due, then resumes the run from its last committed state, exactly like a restart
//! would, and reads the next entries from the index when the window is empty. A sleep
//! committed in this process that falls inside the window is added to it; a later one is left
//! to the index.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;

use crate::clock::{Clock, from_ms, to_ms};
use crate::error::Error;
use crate::run::RunId;
use crate::runtime::Shared;
use crate::store::Store;
use crate::supervise::lock;

/// Wake-ups read from the index at a time.
pub(crate) const WINDOW: usize = 256;

/// A wake-up: milliseconds since the Unix epoch, then the run (the index's order).
type Key = (u64, RunId);

/// How much of the index the window stands for.
#[derive(Debug, Default, Clone, Copy)]
enum Horizon {
    /// Nothing read yet.
    #[default]
    Unread,
    /// The window holds every pending wake-up up to this one; later ones are only on disk.
    Upto(Key),
    /// The window holds every pending wake-up.
    All,
}

#[derive(Debug, Default)]
struct Window {
    due: BTreeSet<Key>,
    horizon: Horizon,
}

impl Window {
    /// Whether a wake-up just stored belongs in the window (else the index has it for later).
    fn covers(&self, key: Key) -> bool {
        match self.horizon {
            Horizon::Unread => false,
            Horizon::Upto(last) => key <= last,
            Horizon::All => true,
        }
    }

    /// Bounds the window: past twice [`WINDOW`] entries (sleeps committed in this process),
    /// the latest are dropped; they are on disk and read again in their turn.
    fn trim(&mut self) {
        if self.due.len() <= 2 * WINDOW {
            return;
        }
        while self.due.len() > WINDOW {
            self.due.pop_last();
        }
        if let Some(&last) = self.due.last() {
            self.horizon = Horizon::Upto(last);
        }
    }
}

/// The window of the earliest wake-ups of this runtime's store.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    /// Also held while the window is refilled from the index, so that a sleep committed
    /// meanwhile is either in what is read or added after it.
    window: Mutex<Window>,
    /// Wakes the timer task when an entry is added (it may be earlier than the one it sleeps
    /// towards). `notify_one` keeps a permit, so an addition is never missed.
    changed: Notify,
    /// Set by [`reload`](Timers::reload), applied by the timer task.
    reload: std::sync::atomic::AtomicBool,
}

impl Timers {
    /// Resumes `run` once the clock reaches `at`. The wake-up must already be committed to
    /// the index: this only tells the timer task, which may hold an earlier window.
    pub fn schedule(&self, run: RunId, at: SystemTime) {
        {
            let mut window = lock(&self.window);
            let key = (to_ms(at), run);
            if window.covers(key) {
                window.due.insert(key);
                window.trim();
            }
        }
        self.changed.notify_one();
    }

    /// Asks the timer task to forget its window and read the index again: another process
    /// committed a sleep that the window (which saw the whole index) would otherwise never
    /// hold. Never blocks: it is called from a store's notification listener, which must not
    /// wait for the window's lock (held across store reads).
    pub fn reload(&self) {
        self.reload
            .store(true, std::sync::atomic::Ordering::Release);
        self.changed.notify_one();
    }

    /// How many wake-ups are held in memory.
    pub fn in_memory(&self) -> usize {
        lock(&self.window).due.len()
    }

    /// Every due wake-up of the window, removed; else the time of the earliest. Reads the next
    /// ones from `store` if the window is empty.
    fn next(&self, store: &dyn Store, now_ms: u64) -> Result<Next, Error> {
        let mut window = lock(&self.window);
        if self
            .reload
            .swap(false, std::sync::atomic::Ordering::Acquire)
        {
            window.due.clear();
            window.horizon = Horizon::Unread;
        }
        if window.due.is_empty() {
            let after = match window.horizon {
                Horizon::All => return Ok(Next::Idle),
                Horizon::Unread => None,
                Horizon::Upto(last) => Some(last),
            };
            let read = store.wakeups_after(after, WINDOW)?;
            window.horizon = match read.last() {
                Some(&last) if read.len() >= WINDOW => Horizon::Upto(last),
                _ => Horizon::All,
            };
            window.due.extend(read);
        }
        Ok(match window.due.first().copied() {
            None => Next::Idle,
            Some((at, _)) if at <= now_ms => {
                let later = window.due.split_off(&(now_ms + 1, RunId(0)));
                Next::Due(std::mem::replace(&mut window.due, later))
            }
            Some((at, _)) => Next::At(from_ms(at)),
        })
    }
}

enum Next {
    Idle,
    Due(BTreeSet<Key>),
    At(SystemTime),
}

/// Body of the timer task; runs until the runtime shuts down and aborts it.
pub(crate) async fn run(shared: Arc<Shared>, clock: Arc<dyn Clock>) {
    loop {
        let next = shared
            .store()
            .and_then(|store| shared.timers.next(store.as_ref(), to_ms(clock.now())));
        match next {
            Ok(Next::Idle) => shared.timers.changed.notified().await,
            Ok(Next::Due(due)) => {
                // All at once, so that the wake-ups share group commits (one fsync for many
                // runs whose sleeps end together, instead of one each).
                let mut wakes = tokio::task::JoinSet::new();
                for (wake_ms, run) in due {
                    let shared = shared.clone();
                    wakes.spawn(async move {
                        if let Err(error) = shared.wake(run, wake_ms).await {
                            tracing::error!(%run, %error, "could not resume a run after its sleep");
                        }
                    });
                }
                while wakes.join_next().await.is_some() {}
            }
            Ok(Next::At(at)) => {
                tokio::select! {
                    () = clock.sleep_until(at) => {}
                    () = shared.timers.changed.notified() => {}
                }
            }
            Err(error) => {
                tracing::error!(%error, "could not read the wake-up index; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
