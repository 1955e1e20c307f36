//! Live progress of one run: [`Client::watch`] returns a [`RunWatch`], whose
//! [`next`](RunWatch::next) yields a [`RunUpdate`] each time the run has changed, until it
//! finishes.
//!
//! **What an update is.** Each update is the run's latest committed progress when it was read
//! (status, state, step, transition count, error), in one snapshot of the store
//! ([`Store::progress`](crate::store::Store::progress)) with the history records and the
//! key-value changes committed since the previous update. When a run commits faster than the
//! watcher reads, several transitions are coalesced into one update and
//! [`transitions`](RunUpdate::transitions) skips ahead; its [`history`](RunUpdate::history)
//! then holds one record per transition in between, so that no transition is lost. The
//! first update is the run as it is when watching starts, with its whole history and state;
//! the last one has a finished status ([`RunUpdate::is_final`]), after which `next` returns
//! `None`. The final status is never skipped: a run that finishes is read once more.
//!
//! **How it learns of a change.** In the process that runs the workflow, every commit bumps a
//! watch channel that [`Shared::commit`](crate::runtime::Shared::commit) holds, so an update
//! follows the commit at once; a client-only process (LMDB cannot notify across processes)
//! reads the run's record again after a delay that starts at 2 ms and doubles up to 100 ms
//! ([`MAX_POLL`]), as `wait` does, and so does the runtime's own process, for
//! writes made by another process (an answer, say). An unchanged run costs one read of its
//! record per poll.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::client::Client;
use crate::client::progress::{FIRST_POLL, MAX_POLL};
use crate::context::state::RunState;
use crate::error::Error;
use crate::history::HistoryRecord;
use crate::run::{RunId, Status};
use crate::runtime::Shared;
use crate::store::ProgressRead;

/// One change of a watched run, from [`RunWatch::next`]: its progress as last committed, and
/// what was committed since the previous update (see [`Client::watch`] for how transitions
/// may be coalesced).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunUpdate {
    /// The run.
    pub run: RunId,
    /// Name of its workflow.
    pub workflow: String,
    /// Where it is in its life; finished in the last update.
    pub status: Status,
    /// Name of the last committed state.
    pub state: String,
    /// The step whose completion led to that state, if any.
    pub step: Option<String>,
    /// Number of committed transitions: increases from one update to the next, by more than
    /// one when transitions were coalesced.
    pub transitions: u64,
    /// Error message of a failed run.
    pub error: Option<String>,
    /// The history records committed since the previous update (all of them in the first),
    /// oldest first: one per transition, and one for the run's end.
    pub history: Vec<HistoryRecord>,
    /// The keys of the run's key-value state set or changed since the previous update (every
    /// key in the first), with their new values as JSON.
    pub changed: BTreeMap<String, serde_json::Value>,
    /// The keys deleted since the previous update.
    pub removed: Vec<String>,
}

impl RunUpdate {
    /// Whether this is the last update: the run has finished.
    pub fn is_final(&self) -> bool {
        self.status.is_finished()
    }
}

/// The live progress of one run, from [`Client::watch`]. Call [`next`](Self::next) until it
/// returns `None`.
///
/// To use it as a `futures::Stream`:
/// `futures::stream::unfold(watch, |mut w| async move { w.next().await.map(|u| (u, w)) })`.
pub struct RunWatch {
    shared: Arc<Shared>,
    run: RunId,
    /// Bumped at every commit of this process.
    commits: watch::Receiver<u64>,
    /// The next delay before reading the run again without being told of a commit.
    poll: Duration,
    /// Transition count and status of the last update; `None` before the first.
    last: Option<(u64, Status)>,
    /// How many history records the updates so far carried.
    history_seen: u64,
    /// The key-value state as of the last update, as stored, to tell what changed.
    state: BTreeMap<String, Vec<u8>>,
    /// Set once the final update or an error was returned.
    done: bool,
}

impl std::fmt::Debug for RunWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunWatch")
            .field("run", &self.run)
            .field("last", &self.last)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Watches `run`: the returned [`RunWatch`] yields an update per committed change (the
    /// first at once, the run as it is now) until the run finishes, from any process, the
    /// workflow registered here or not. [`Error::UnknownRun`] for an unknown run.
    ///
    /// Each update is the run's latest committed progress when it was read, with the history
    /// records and key-value changes committed since the previous update, all from one
    /// snapshot. When the run commits faster than the watcher reads, several transitions are
    /// coalesced into one update and [`RunUpdate::transitions`] skips ahead, but
    /// [`RunUpdate::history`] still holds one record per transition in between. The last
    /// update has the final status ([`RunUpdate::is_final`]); it is never skipped. In the
    /// process that runs the workflow an update follows each commit at once; elsewhere the
    /// store is read again within 100 ms (a delay from 2 ms doubling up to 100 ms).
    ///
    /// ```no_run
    /// # async fn demo(client: cairn_runtime::Client, run: cairn_runtime::RunId) -> Result<(), cairn_runtime::Error> {
    /// let mut watch = client.watch(run)?;
    /// while let Some(update) = watch.next().await {
    ///     let update = update?;
    ///     println!("{} {} after {:?}", update.status, update.state, update.step);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn watch(&self, run: RunId) -> Result<RunWatch, Error> {
        // Subscribed before the first read, so a commit right after it still wakes the watch.
        let commits = self.shared.subscribe_commits();
        if self.shared.store()?.load(run)?.is_none() {
            return Err(Error::UnknownRun { run });
        }
        Ok(RunWatch {
            shared: self.shared.clone(),
            run,
            commits,
            poll: FIRST_POLL,
            last: None,
            history_seen: 0,
            state: BTreeMap::new(),
            done: false,
        })
    }
}

impl RunWatch {
    /// The run being watched.
    pub fn run(&self) -> RunId {
        self.run
    }

    /// The next update: at once for the first, then when the run has changed. `None` after
    /// the final update (the run finished) or an error. Errors: [`Error::UnknownRun`] if the
    /// run was purged, [`Error::CorruptState`] if it was quarantined, [`Error::ShutDown`] if
    /// this process's runtime shut down, and, in the process that runs the workflow, the
    /// error that stopped the run's task (as [`Client::wait`] reports it).
    pub async fn next(&mut self) -> Option<Result<RunUpdate, Error>> {
        if self.done {
            return None;
        }
        loop {
            // Marked seen before the read: a commit after it bumps the channel again.
            self.commits.borrow_and_update();
            match self.read() {
                Ok(Some(update)) => {
                    self.done = update.is_final();
                    self.poll = FIRST_POLL;
                    return Some(Ok(update));
                }
                Ok(None) => {}
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            }
            let delay = self.poll;
            self.poll = (delay * 2).min(MAX_POLL);
            tokio::select! {
                changed = self.commits.changed() => {
                    if changed.is_err() {
                        self.done = true;
                        return Some(Err(Error::ShutDown));
                    }
                }
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// Reads the run: an update if it changed since the last one, `None` if not.
    fn read(&mut self) -> Result<Option<RunUpdate>, Error> {
        let run = self.run;
        let store = self.shared.store()?;
        let record = store.load(run)?.ok_or(Error::UnknownRun { run })?;
        if let Some(entry) = store.quarantine_entry(run)? {
            return Err(Error::CorruptState {
                run,
                workflow: record.workflow,
                reason: format!("quarantined: {}", entry.reason),
            });
        }
        if self.last == Some((record.transitions, record.status)) {
            if let Some(error) = self.shared.aborted(run) {
                return Err(error);
            }
            if self.shared.is_shut_down() {
                return Err(Error::ShutDown);
            }
            return Ok(None);
        }
        // Changed: the record, the new history and the state, in one snapshot.
        let read = store
            .progress(run, self.history_seen)?
            .ok_or(Error::UnknownRun { run })?;
        Ok(Some(self.update(read)))
    }

    fn update(&mut self, read: ProgressRead) -> RunUpdate {
        let ProgressRead {
            record,
            history,
            state,
        } = read;
        self.last = Some((record.transitions, record.status));
        self.history_seen += u64::try_from(history.len()).unwrap_or(u64::MAX);
        let changed_entries: BTreeMap<String, Vec<u8>> = state
            .iter()
            .filter(|(key, value)| self.state.get(*key) != Some(*value))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let removed = self
            .state
            .keys()
            .filter(|key| !state.contains_key(*key))
            .cloned()
            .collect();
        let changed = match RunState::new(self.run, changed_entries).to_json() {
            serde_json::Value::Object(object) => object.into_iter().collect(),
            _ => BTreeMap::new(),
        };
        self.state = state;
        RunUpdate {
            run: self.run,
            workflow: record.workflow,
            status: record.status,
            state: record.state_name,
            step: record.step,
            transitions: record.transitions,
            error: record.error,
            history,
            changed,
            removed,
        }
    }
}
