//! [`Shared`]: what the runtime, its clients and every run's context share: the store and its
//! committer, the registry of workflows, the live run tasks and how runs get (re)started:
//! spawned, handed over, woken, resumed from the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{BranchHook, Hook};
use crate::clock::{Clock, from_ms};
use crate::error::Error;
use crate::registry::{Entry, ErasedStart};
use crate::run::{RunId, Status};
use crate::runtime::timers::Timers;
use crate::store::group_commit::Committer;
use crate::store::write_op::TakenRun;
use crate::store::{RunRecord, Store, WriteOp};
use crate::supervise::lock;
use crate::workflow::Workflow;

/// State shared by the runtime, its clients and every run's context.
pub(crate) struct Shared {
    /// `None` once shut down, so that the LMDB environment can close while clients live on.
    pub(super) store: RwLock<Option<Arc<dyn Store>>>,
    /// Every write goes through it (see [`crate::store::group_commit`]).
    pub(super) committer: Committer,
    pub(crate) registry: HashMap<&'static str, Arc<dyn Entry>>,
    /// Older versions kept to finish the runs they stored, by name and layout fingerprint.
    pub(crate) previous: HashMap<(&'static str, u64), Arc<dyn Entry>>,
    /// Migrations of runs stored by older layouts, by workflow name (see
    /// [`crate::layout::check`]).
    pub(crate) migrations: HashMap<&'static str, crate::layout::migrate::MigrateFn>,
    /// Stored layouts of older versions met at start, read once each.
    pub(crate) known_layouts: crate::layout::check::KnownLayouts,
    /// The unfinished runs found at start whose layout no registered version has.
    pub(super) incompatible: Mutex<Vec<Error>>,
    pub hook: Option<Hook>,
    pub branch_hook: Option<BranchHook>,
    pub clock: Arc<dyn Clock>,
    /// The data directory's instance id, part of idempotency keys.
    pub instance: u64,
    pub timers: Timers,
    /// Runs waiting for an answer, and the task that watches for answers.
    pub answers: crate::runtime::answer_watcher::Answers,
    /// The timer task; `None` once shut down.
    pub(super) timer_task: Mutex<Option<JoinHandle<()>>>,
    /// The tasks of the schedules (`scheduler.rs`), aborted at shutdown.
    pub(super) schedule_tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Queues with limits, and what wakes the queue task (`queues.rs`).
    pub queues: super::queues::Queues,
    /// The queue task; `None` once shut down.
    pub(super) queue_task: Mutex<Option<JoinHandle<()>>>,
    /// The task of [`RuntimeBuilder::retention`](crate::RuntimeBuilder::retention), if set.
    pub(super) retention: super::Retention,
    /// Bumped whenever a run finishes, aborts or suspends, and at shutdown.
    pub(super) finished: watch::Sender<u64>,
    /// Bumped after every commit while someone watches a run (`Client::watch`).
    pub(super) commits: watch::Sender<u64>,
    /// Runs whose task ended without finishing, and why; `wait` reports these.
    pub(super) aborted: Mutex<HashMap<RunId, Error>>,
    /// Live run tasks; `None` once shut down.
    pub(super) tasks: Mutex<Option<HashMap<RunId, JoinHandle<()>>>>,
    /// What shutdown waits for once the store is dropped (see [`crate::store::Opened`]).
    pub(super) on_closed: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    pub(super) handle: tokio::runtime::Handle,
}

impl Shared {
    pub fn store(&self) -> Result<Arc<dyn Store>, Error> {
        self.store
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
            .ok_or(Error::ShutDown)
    }

    /// Now, by the runtime's clock, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        crate::clock::to_ms(self.clock.now())
    }

    /// Queues `op` for the next group commit and waits until the commit holding it is
    /// durable (see [`crate::store::group_commit`]). Returns the new transition count of a checkpoint.
    pub async fn commit(&self, op: WriteOp) -> Result<crate::store::Outcome, Error> {
        let store = self.store()?;
        let outcome = self.committer.submit(store.as_ref(), op);
        drop(store);
        // A dropped sender means the committer is gone with the request unanswered.
        let outcome = outcome.await.unwrap_or(Err(Error::ShutDown));
        // One atomic load per commit while nobody watches.
        if self.commits.receiver_count() > 0 {
            self.commits.send_modify(|n| *n = n.wrapping_add(1));
        }
        outcome
    }

    /// Tells the group committer that `count` runs are about to submit their first
    /// transitions together (see [`Committer::expect`]).
    pub fn expect_commits(&self, count: usize) {
        self.committer.expect(count);
    }

    /// A receiver bumped after every commit of this process (see `client/watch.rs`).
    pub fn subscribe_commits(&self) -> watch::Receiver<u64> {
        self.commits.subscribe()
    }

    pub fn entry(&self, name: &str) -> Result<&Arc<dyn Entry>, Error> {
        self.registry
            .get(name)
            .ok_or_else(|| Error::UnknownWorkflow {
                name: name.to_owned(),
                registered: self.names(),
            })
    }

    /// The entry of the version of `workflow` that stored a run with `fingerprint`: the
    /// registered one, or an older one kept with `register_previous`.
    pub fn entry_for(
        &self,
        run: RunId,
        workflow: &str,
        fingerprint: u64,
    ) -> Result<&Arc<dyn Entry>, Error> {
        let entry = self.entry(workflow)?;
        if entry.has_layout(fingerprint) {
            return Ok(entry);
        }
        if let Some(previous) = self.previous.get(&(entry.name(), fingerprint)) {
            return Ok(previous);
        }
        // A previous version's runs carry its layout id (its fingerprint mixed with its
        // description): a few entries to look through, on a rare path.
        self.previous
            .values()
            .find(|previous| previous.name() == entry.name() && previous.has_layout(fingerprint))
            .ok_or_else(|| Error::IncompatibleState {
                run,
                workflow: workflow.to_owned(),
                stored: fingerprint,
                expected: entry.layout_id(),
                changes: Vec::new(),
                note: Some(
                    "what changed is in `Runtime::incompatible_runs` of the runtime that runs it"
                        .to_owned(),
                ),
            })
    }

    /// [`entry_for`](Self::entry_for) a stored run, after moving it to the current layout if
    /// it was stored by another one and can be (see [`crate::layout::check`]); `record` is
    /// read again after such a move. Only a process that runs workflows moves runs.
    pub fn entry_settled(
        self: &Arc<Self>,
        run: RunId,
        record: &mut RunRecord,
    ) -> Result<Arc<dyn Entry>, Error> {
        if let Ok(entry) = self.entry_for(run, &record.workflow, record.fingerprint) {
            return Ok(entry.clone());
        }
        if self.is_client_only() {
            return self
                .entry_for(run, &record.workflow, record.fingerprint)
                .cloned();
        }
        crate::layout::check::settle(self, run, record)?;
        *record = self.store()?.load(run)?.ok_or(Error::UnknownRun { run })?;
        self.entry_for(run, &record.workflow, record.fingerprint)
            .cloned()
    }

    /// Whether `W` is registered, as the current version or a previous one.
    pub fn check_registered<W: Workflow>(&self) -> Result<(), Error> {
        if self.previous.contains_key(&(W::NAME, W::FINGERPRINT)) {
            return Ok(());
        }
        self.typed_entry::<W>().map(|_| ())
    }

    /// The entry of `W`, refusing another type registered under the same name.
    pub fn typed_entry<W: Workflow>(&self) -> Result<&Arc<dyn Entry>, Error> {
        match self.entry(W::NAME)? {
            entry if entry.workflow_type() == std::any::TypeId::of::<W>() => Ok(entry),
            _ => Err(Error::UnknownWorkflow {
                name: std::any::type_name::<W>().to_owned(),
                registered: self.names(),
            }),
        }
    }

    pub(super) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.registry.keys().map(|&n| n.to_owned()).collect();
        names.sort();
        names
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.finished.subscribe()
    }

    pub fn is_shut_down(&self) -> bool {
        lock(&self.tasks).is_none()
    }

    /// Whether `run` has reached `status`, one its task ends at (finished, waiting, paused),
    /// while its task here has not ended yet: a `wait` that read the status from the store
    /// (it polls, see `client/progress.rs`) then waits for the task's notification, so that
    /// it returns once the run holds no task here, as it did when only told by the task.
    pub fn ending_here(&self, run: RunId, status: Status) -> bool {
        let ends_task = status.is_finished() || matches!(status, Status::Waiting | Status::Paused);
        ends_task
            && lock(&self.tasks)
                .as_ref()
                .is_some_and(|tasks| tasks.contains_key(&run))
    }

    /// The runs with a live task here.
    pub fn live_runs(&self) -> Vec<RunId> {
        lock(&self.tasks)
            .as_ref()
            .map_or_else(Vec::new, |tasks| tasks.keys().copied().collect())
    }

    pub fn aborted(&self, run: RunId) -> Option<Error> {
        lock(&self.aborted).get(&run).cloned()
    }

    pub fn notify(&self) {
        self.finished.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Whether this process runs no workflow ([`RuntimeBuilder::client_only`]).
    pub fn is_client_only(&self) -> bool {
        self.answers.config.client_only
    }

    /// Starts the task that drives `run`, which has committed `position` transitions.
    pub fn spawn(
        self: &Arc<Self>,
        run: RunId,
        entry: Arc<dyn Entry>,
        start: ErasedStart,
        position: u64,
    ) -> Result<(), Error> {
        if self.is_client_only() {
            // A client-only process runs nothing: the run stays stored for a runtime to resume.
            tracing::debug!(%run, "client-only: leaving the run to a runtime");
            return Ok(());
        }
        if self.queues.is_limited(entry.name())
            && self
                .store()?
                .load(run)?
                .is_some_and(|record| record.status == Status::Queued)
        {
            // Stored queued: the queue task starts it when its queue admits it.
            tracing::debug!(%run, workflow = entry.name(), "run queued");
            self.queues.notify();
            return Ok(());
        }
        let mut tasks = lock(&self.tasks);
        let tasks = tasks.as_mut().ok_or(Error::ShutDown)?;
        self.spawn_into(tasks, run, entry, start, position);
        Ok(())
    }

    /// Has `run`, just created at position 0 with `input` by this process, run here.
    pub fn start_new(
        self: &Arc<Self>,
        run: RunId,
        entry: Arc<dyn Entry>,
        input: Vec<u8>,
    ) -> Result<(), Error> {
        self.spawn(run, entry, ErasedStart::New(input), 0)
    }

    /// [`spawn`](Self::spawn) with the task map locked by the caller.
    pub(super) fn spawn_into(
        self: &Arc<Self>,
        tasks: &mut HashMap<RunId, JoinHandle<()>>,
        run: RunId,
        entry: Arc<dyn Entry>,
        start: ErasedStart,
        position: u64,
    ) {
        if tasks.contains_key(&run) {
            // Already live (say, woken by its timer and resumed by hand at once).
            return;
        }
        // The task removes its own handle when done; it cannot get there before the insert
        // below, because that needs the lock held here.
        let task = self.handle.spawn(super::run_task::drive(
            self.clone(),
            run,
            entry,
            start,
            position,
        ));
        tasks.insert(run, task);
    }

    /// Has `run`, just stored at `position` (or reopened there) by a client, run: here by a
    /// task, or in a client-only process by handing it over to the runtime that runs the
    /// workflows, which starts it within its poll interval (see `lmdb/handover.rs`). Handing
    /// over is a write of its own after the run's: a crash between the two leaves the run to
    /// that runtime's next start, like a run stored while no runtime runs.
    pub async fn launch(
        self: &Arc<Self>,
        run: RunId,
        entry: Arc<dyn Entry>,
        start: ErasedStart,
        position: u64,
    ) -> Result<(), Error> {
        if self.is_client_only() {
            self.commit(WriteOp::HandOver { run, position })
                .await?
                .done()?;
            tracing::debug!(%run, position, "client-only: run handed over to a runtime");
            return Ok(());
        }
        self.spawn(run, entry, start, position)
    }

    /// Starts a run that a client-only process handed over at `position`, unless it is live
    /// here already or has gone on since (it ran here, say resumed by start-up, and finished,
    /// slept, or committed further): the record is read with the task map locked, and a task
    /// of this run removes its handle under that lock only after committing its outcome, so
    /// a run is never started twice from one hand-over. A `record` the store's take read
    /// (PostgreSQL's claim, under the run's row lock, quarantined runs left out; see
    /// [`TakenRun`](crate::store::write_op::TakenRun)) is used as is, and so is an input the
    /// take read: reading them again would cost a round trip per run, one after the other.
    pub fn start_handed_over(self: &Arc<Self>, taken: TakenRun) -> Result<(), Error> {
        let TakenRun {
            run,
            position,
            record,
            input,
        } = taken;
        let mut tasks = lock(&self.tasks);
        let tasks = tasks.as_mut().ok_or(Error::ShutDown)?;
        if tasks.contains_key(&run) {
            return Ok(());
        }
        let mut record = match record {
            Some(record) => *record,
            None => {
                if self.store()?.quarantine_entry(run)?.is_some() {
                    tracing::debug!(%run, "leaving a quarantined handed-over run alone");
                    return Ok(());
                }
                let Some(record) = self.store()?.load(run)? else {
                    return Ok(());
                };
                record
            }
        };
        let waiting_here = matches!(record.status, Status::Pending | Status::Running)
            && record.transitions == position;
        if !waiting_here {
            tracing::debug!(%run, status = %record.status, "handed-over run has gone on already");
            return Ok(());
        }
        if !self.registry.contains_key(record.workflow.as_str()) {
            tracing::debug!(%run, workflow = record.workflow, "leaving a handed-over run of an unregistered workflow alone");
            return Ok(());
        }
        let entry = match self.entry_settled(run, &mut record) {
            Ok(entry) => entry,
            Err(error) => {
                tracing::error!(%run, workflow = record.workflow, "not starting: {error}");
                lock(&self.incompatible).push(error);
                return Ok(());
            }
        };
        // An input inline in the record (an older one's) is the run's; else the take's, if it
        // read it.
        let inline = match input {
            Some(input) if record.input.is_empty() => input,
            _ => record.input,
        };
        let start = self.start_of(run, record.state, inline)?;
        tracing::debug!(%run, workflow = record.workflow, "handed-over run started");
        if !self.may_start_again(run) {
            return Ok(());
        }
        self.spawn_into(tasks, run, entry, start, position);
        Ok(())
    }

    /// Resumes a run that the start-up scan returned with `record`, unless a task of it is
    /// live here or the run has gone on since the scan read it. On a store shared by many
    /// workers the take-over poll (the answer watcher) runs beside the start-up scan and may
    /// have started the run, and even finished it, in the meantime: resuming the scan's
    /// record then would run committed steps again. Checked with the task map locked, as in
    /// [`start_handed_over`](Self::start_handed_over). Whether it started the run.
    pub fn resume_claimed(self: &Arc<Self>, run: RunId, record: RunRecord) -> Result<bool, Error> {
        let mut tasks = lock(&self.tasks);
        let tasks = tasks.as_mut().ok_or(Error::ShutDown)?;
        if tasks.contains_key(&run) {
            return Ok(false);
        }
        let current = self.store()?.load(run)?;
        let unchanged = current.is_some_and(|current| {
            current.transitions == record.transitions && current.status == record.status
        });
        if !unchanged {
            tracing::debug!(%run, "run went on since the start-up scan read it");
            return Ok(false);
        }
        let entry = self
            .entry_for(run, &record.workflow, record.fingerprint)?
            .clone();
        if record.status == Status::Queued && self.queues.is_limited(entry.name()) {
            // As `spawn`: the queue task starts it when its queue admits it.
            self.queues.notify();
            return Ok(false);
        }
        let start = self.start_of(run, record.state, record.input)?;
        if !self.may_start_again(run) {
            return Ok(false);
        }
        self.spawn_into(tasks, run, entry, start, record.transitions);
        Ok(true)
    }

    /// Resumes `run` if it is active at `position` (no transition committed since) with no
    /// task live here, reading its record with the task map locked, as
    /// [`resume_claimed`](Self::resume_claimed) does: a task of this run removes its handle
    /// under that lock only after committing its outcome, so the record read here is not
    /// older than the last task's commits. A record read before taking the lock could be:
    /// another task could then commit further and end before this spawn, and the run would
    /// be started again from a state it has left. Whether it started the run.
    pub fn resume_at(self: &Arc<Self>, run: RunId, position: u64) -> Result<bool, Error> {
        let mut tasks = lock(&self.tasks);
        let tasks = tasks.as_mut().ok_or(Error::ShutDown)?;
        if tasks.contains_key(&run) {
            return Ok(false);
        }
        let Some(record) = self.store()?.load(run)? else {
            return Ok(false);
        };
        let active = matches!(record.status, Status::Running | Status::Pending);
        if !active || record.transitions != position {
            return Ok(false);
        }
        let entry = self
            .entry_for(run, &record.workflow, record.fingerprint)?
            .clone();
        let start = self.start_of(run, record.state, record.input)?;
        if !self.may_start_again(run) {
            return Ok(false);
        }
        self.spawn_into(tasks, run, entry, start, record.transitions);
        Ok(true)
    }

    /// Forgets why `run`'s last task here stopped, before a new task of it starts; `false`
    /// (start nothing) if the transition hook halted it. A halt stands for a crash, so only
    /// the next runtime's start resumes the run ([`Error::Halted`]), not a wake-up, an answer
    /// or a claim this runtime meets in the meantime: on PostgreSQL the timer task reads the
    /// halted run's due wake-up from the store and would carry the run on in this runtime.
    fn may_start_again(&self, run: RunId) -> bool {
        let mut aborted = lock(&self.aborted);
        if matches!(aborted.get(&run), Some(Error::Halted { .. })) {
            tracing::debug!(%run, "halted by the transition hook: left for the next start");
            return false;
        }
        aborted.remove(&run);
        true
    }

    /// Starts the task of a stored run from its last committed state (or its input, before
    /// the first transition), if its workflow is registered with the stored layout.
    pub fn resume_stored(self: &Arc<Self>, run: RunId, record: RunRecord) -> Result<(), Error> {
        let entry = self
            .entry_for(run, &record.workflow, record.fingerprint)?
            .clone();
        let start = self.start_of(run, record.state, record.input)?;
        if !self.may_start_again(run) {
            return Ok(());
        }
        self.spawn(run, entry, start, record.transitions)
    }

    /// Where the task of stored run `run` starts: its last committed `state`, or, before its
    /// first transition, its input (`inline` in an older directory's record, else kept apart).
    fn start_of(
        &self,
        run: RunId,
        state: Option<Vec<u8>>,
        inline: Vec<u8>,
    ) -> Result<ErasedStart, Error> {
        Ok(match state {
            Some(state) => ErasedStart::Resume(state),
            None => ErasedStart::New(self.stored_input(run, inline)?),
        })
    }

    /// The input to start stored run `run` from: `inline` if its record carried it (an
    /// older directory's), else the input the store keeps apart, written when the run was
    /// created (see [`Store::input`](crate::store::Store::input)).
    fn stored_input(&self, run: RunId, inline: Vec<u8>) -> Result<Vec<u8>, Error> {
        if !inline.is_empty() {
            return Ok(inline);
        }
        self.store()?.input(run)?.ok_or(Error::UnknownRun { run })
    }

    /// Resumes a sleeping run whose wake-up (`wake_ms`, from the index) has come, if this
    /// runtime can run it; a run of an unregistered workflow or layout keeps its wake-up on
    /// disk for a runtime that can.
    pub async fn wake(self: &Arc<Self>, run: RunId, wake_ms: u64) -> Result<(), Error> {
        if matches!(self.aborted(run), Some(Error::Halted { .. })) {
            // Left as the halt left it, for the next start (see `may_start_again`).
            return Ok(());
        }
        let Some(mut record) = self.store()?.load(run)? else {
            return Ok(());
        };
        if !self.registry.contains_key(record.workflow.as_str()) {
            tracing::debug!(%run, workflow = record.workflow, "leaving a run of an unregistered workflow asleep");
            return Ok(());
        }
        if let Err(error) = self.entry_settled(run, &mut record) {
            tracing::error!(%run, workflow = record.workflow, "not resuming: {error}");
            lock(&self.incompatible).push(error);
            return Ok(());
        }
        // Group-committed: when many sleeps end at once, their wake-ups share commits.
        let woken = self.commit(WriteOp::Wake { run, wake_ms }).await?.woken()?;
        if !woken {
            // A wake-up left behind by a sleep that ended otherwise: now dropped.
            return Ok(());
        }
        // Read again: the wake-up changed its status.
        let record = self.store()?.load(run)?.ok_or(Error::UnknownRun { run })?;
        tracing::debug!(%run, workflow = record.workflow, "run woken");
        self.resume_stored(run, record)
    }

    /// Gives a waiting run found on disk a timer for its wake-up time (its wake-up is in the
    /// index already; this only wakes the timer task), or watches for its answer.
    pub(super) fn schedule_stored(
        self: &Arc<Self>,
        run: RunId,
        record: &RunRecord,
    ) -> Result<(), Error> {
        match self.store()?.wake_at(run, record.transitions)? {
            Some(sleep) => {
                self.timers.schedule(run, from_ms(sleep.wake_ms));
                Ok(())
            }
            // Waiting for a person: the answer watcher resumes it (at once if answered).
            None => match self.store()?.current_question(run)? {
                Some(_) => {
                    self.answers.notify();
                    Ok(())
                }
                // Waiting with neither cannot be written, but if it is found, running the run
                // is the safe way out: its sleep or question is stored again.
                None => self.resume_stored(run, record.clone()),
            },
        }
    }
}
