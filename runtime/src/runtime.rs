//! The runtime: registry, storage, one tokio task per live run and one timer task.
//!
//! [`RuntimeBuilder::start`] opens the store and resumes every unfinished run of a registered
//! workflow from its last committed state, reading them a batch at a time from the store's
//! index of active runs; a run waiting in a durable sleep is not read at all: the timer task
//! finds it in the on-disk wake-up index when it is due. Each run's task polls the workflow's
//! driver through [`Supervised`],
//! then records the outcome and wakes every `wait`er; a run that suspends for a sleep hands
//! itself to the [`Timers`] and ends its task.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::client::Client;
use crate::clock::{Clock, SystemClock, from_ms};
use crate::context::Context;
use crate::error::Error;
use crate::history::HistoryOutcome;
use crate::registry::{Entry, ErasedStart, WorkflowEntry};
use crate::run::{RunId, Status};
use crate::store::group_commit::Committer;
use crate::store::lmdb::options::LmdbOptions;
use crate::store::{RunRecord, Store, WriteOp};
use crate::supervise::{Abort, AbortSlot, Outcome, Supervised, lock};
use crate::timer::Timers;
use crate::workflow::Workflow;

/// Unfinished runs read at a time by [`RuntimeBuilder::start`].
const START_BATCH: usize = 1024;

/// A transition that has just been committed, as shown to the hook of
/// [`RuntimeBuilder::on_transition`].
#[derive(Clone, Copy, Debug)]
pub struct Transition<'a> {
    /// The run.
    pub run: RunId,
    /// Its workflow.
    pub workflow: &'a str,
    /// Name of the new state.
    pub state: &'a str,
    /// Step whose completion led to it, if any.
    pub step: Option<&'a str>,
    /// Number of this transition in the run, from 1.
    pub number: u64,
}

/// Returned by the transition hook, called right after each commit on the run's task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Carry on.
    Continue,
    /// Stop this run right after the commit, as if the process died there (the run stays
    /// unfinished and resumes on the next start). For crash tests.
    Halt,
}

type Hook = Box<dyn Fn(&Transition<'_>) -> Flow + Send + Sync>;

/// A `parallel` branch whose output has just been committed, as shown to the hook of
/// [`RuntimeBuilder::on_branch`].
#[derive(Clone, Copy, Debug)]
pub struct BranchCommit<'a> {
    /// The run.
    pub run: RunId,
    /// Its workflow.
    pub workflow: &'a str,
    /// The run's position (committed transitions) at the `parallel` call.
    pub position: u64,
    /// Index of the branch in the call.
    pub index: usize,
    /// Name of the branch.
    pub name: &'a str,
}

type BranchHook = Box<dyn Fn(&BranchCommit<'_>) -> Flow + Send + Sync>;

/// State shared by the runtime, its clients and every run's context.
pub(crate) struct Shared {
    /// `None` once shut down, so that the LMDB environment can close while clients live on.
    store: RwLock<Option<Arc<dyn Store>>>,
    /// Every write goes through it (see [`crate::store::group_commit`]).
    committer: Committer,
    registry: HashMap<&'static str, Arc<dyn Entry>>,
    /// Older versions kept to finish the runs they stored, by name and layout fingerprint.
    previous: HashMap<(&'static str, u64), Arc<dyn Entry>>,
    /// The unfinished runs found at start whose layout no registered version has.
    incompatible: Mutex<Vec<Error>>,
    pub hook: Option<Hook>,
    pub branch_hook: Option<BranchHook>,
    pub clock: Arc<dyn Clock>,
    /// The data directory's instance id, part of idempotency keys.
    pub instance: u64,
    pub timers: Timers,
    /// Runs waiting for an answer, and the task that watches for answers.
    pub answers: crate::answers::Answers,
    /// The timer task; `None` once shut down.
    timer_task: Mutex<Option<JoinHandle<()>>>,
    /// Bumped whenever a run finishes, aborts or suspends, and at shutdown.
    finished: watch::Sender<u64>,
    /// Runs whose task ended without finishing, and why; `wait` reports these.
    aborted: Mutex<HashMap<RunId, Error>>,
    /// Live run tasks; `None` once shut down.
    tasks: Mutex<Option<HashMap<RunId, JoinHandle<()>>>>,
    /// What shutdown waits for once the store is dropped (see [`crate::store::Opened`]).
    on_closed: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    handle: tokio::runtime::Handle,
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
        outcome.await.unwrap_or(Err(Error::ShutDown))
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
        if entry.fingerprint() == fingerprint {
            return Ok(entry);
        }
        self.previous
            .get(&(entry.name(), fingerprint))
            .ok_or_else(|| Error::IncompatibleState {
                run,
                workflow: workflow.to_owned(),
                stored: fingerprint,
                expected: entry.fingerprint(),
            })
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

    fn names(&self) -> Vec<String> {
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
        let mut tasks = lock(&self.tasks);
        let tasks = tasks.as_mut().ok_or(Error::ShutDown)?;
        self.spawn_into(tasks, run, entry, start, position);
        Ok(())
    }

    /// [`spawn`](Self::spawn) with the task map locked by the caller.
    fn spawn_into(
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
        let task = self
            .handle
            .spawn(drive(self.clone(), run, entry, start, position));
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
    /// a run is never started twice from one hand-over.
    pub fn start_handed_over(self: &Arc<Self>, run: RunId, position: u64) -> Result<(), Error> {
        let mut tasks = lock(&self.tasks);
        let tasks = tasks.as_mut().ok_or(Error::ShutDown)?;
        if tasks.contains_key(&run) {
            return Ok(());
        }
        if self.store()?.quarantine_entry(run)?.is_some() {
            tracing::debug!(%run, "leaving a quarantined handed-over run alone");
            return Ok(());
        }
        let Some(record) = self.store()?.load(run)? else {
            return Ok(());
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
        let entry = match self.entry_for(run, &record.workflow, record.fingerprint) {
            Ok(entry) => entry.clone(),
            Err(error) => {
                tracing::error!(%run, workflow = record.workflow, "not starting: {error}");
                lock(&self.incompatible).push(error);
                return Ok(());
            }
        };
        let start = match record.state {
            Some(state) => ErasedStart::Resume(state),
            None => ErasedStart::New(record.input),
        };
        tracing::debug!(%run, workflow = record.workflow, "handed-over run started");
        lock(&self.aborted).remove(&run);
        self.spawn_into(tasks, run, entry, start, position);
        Ok(())
    }

    /// Starts the task of a stored run from its last committed state (or its input, before
    /// the first transition), if its workflow is registered with the stored layout.
    pub fn resume_stored(self: &Arc<Self>, run: RunId, record: RunRecord) -> Result<(), Error> {
        let entry = self
            .entry_for(run, &record.workflow, record.fingerprint)?
            .clone();
        let start = match record.state {
            Some(state) => ErasedStart::Resume(state),
            None => ErasedStart::New(record.input),
        };
        lock(&self.aborted).remove(&run);
        self.spawn(run, entry, start, record.transitions)
    }

    /// Resumes a sleeping run whose wake-up (`wake_ms`, from the index) has come, if this
    /// runtime can run it; a run of an unregistered workflow or layout keeps its wake-up on
    /// disk for a runtime that can.
    pub async fn wake(self: &Arc<Self>, run: RunId, wake_ms: u64) -> Result<(), Error> {
        let Some(record) = self.store()?.load(run)? else {
            return Ok(());
        };
        if !self.registry.contains_key(record.workflow.as_str()) {
            tracing::debug!(%run, workflow = record.workflow, "leaving a run of an unregistered workflow asleep");
            return Ok(());
        }
        if let Err(error) = self.entry_for(run, &record.workflow, record.fingerprint) {
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
    fn schedule_stored(self: &Arc<Self>, run: RunId, record: &RunRecord) -> Result<(), Error> {
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

/// Commits the failure of `run`, with its history record.
async fn fail(shared: &Shared, ctx: &Context, run: RunId, message: String) -> Result<(), Error> {
    let history = ctx.history(
        "Failed",
        HistoryOutcome::Failed {
            message: message.clone(),
        },
    );
    shared
        .commit(WriteOp::Fail {
            run,
            message,
            history: Some(history),
        })
        .await?
        .done()
}

/// Resumes `run` if a wake-up or an answer claimed it (marked it running in the store) while
/// its previous task was still finishing: that claim's spawn found the task live and did
/// nothing. Called once the task's handle is gone, so one of the two spawns starts it.
fn resume_if_claimed(shared: &Arc<Shared>, run: RunId) {
    let record = match shared.store().and_then(|store| store.load(run)) {
        Ok(Some(record)) => record,
        Ok(None) | Err(Error::ShutDown) => return,
        Err(error) => {
            tracing::error!(%run, %error, "could not check whether a suspended run was claimed");
            return;
        }
    };
    if !matches!(record.status, Status::Running | Status::Pending) {
        return;
    }
    match shared.resume_stored(run, record) {
        Ok(()) | Err(Error::ShutDown) => {}
        Err(error) => tracing::error!(%run, %error, "could not resume a claimed run"),
    }
}

/// Body of a run's task.
async fn drive(
    shared: Arc<Shared>,
    run: RunId,
    entry: Arc<dyn Entry>,
    start: ErasedStart,
    position: u64,
) {
    let workflow = entry.name();
    tracing::debug!(%run, workflow, position, "run task started");
    let slot = AbortSlot::default();
    let mut ctx = Context::new(run, workflow, shared.clone(), slot.clone(), position);
    let outcome = Supervised::new(entry.drive(&mut ctx, start), slot, run, workflow).await;
    let mut suspended = None;
    let mut awaiting = None;
    let recorded = match outcome {
        Outcome::Done(Ok(output)) => {
            tracing::info!(%run, workflow, "run completed");
            let writes = std::mem::take(&mut ctx.writes);
            let history = ctx.history("Completed", HistoryOutcome::Completed);
            shared
                .commit(WriteOp::Complete {
                    run,
                    output,
                    writes,
                    history,
                })
                .await
                .and_then(crate::store::Outcome::done)
        }
        Outcome::Done(Err(message)) => {
            tracing::info!(%run, workflow, error = %message, "run failed");
            fail(&shared, &ctx, run, message).await
        }
        Outcome::Panicked(message) => {
            tracing::error!(%run, workflow, panic = %message, "run panicked");
            fail(&shared, &ctx, run, format!("panicked: {message}")).await
        }
        Outcome::Aborted(Abort::Halt) => {
            tracing::info!(%run, workflow, "run halted by the transition hook");
            Err(Error::Halted { run })
        }
        Outcome::Aborted(Abort::Suspend { wake_at }) => {
            suspended = Some(wake_at);
            Ok(())
        }
        Outcome::Aborted(Abort::AwaitAnswer { deadline }) => {
            awaiting = Some(deadline);
            Ok(())
        }
        Outcome::Aborted(Abort::Error(error)) => Err(error),
        Outcome::Aborted(Abort::Fail(error)) => {
            tracing::info!(%run, workflow, %error, "run failed");
            fail(&shared, &ctx, run, error.to_string()).await
        }
    };
    if let Err(error) = &recorded
        && error.refused_for_good()
    {
        // Left unfinished, the run would re-run its step at every restart and be refused
        // again: it fails instead, with the error, and `Client::resume` takes it up once the
        // cause is fixed.
        tracing::error!(%run, workflow, %error, "commit refused for good: failing the run");
        if let Err(failed) = fail(&shared, &ctx, run, error.to_string()).await {
            tracing::error!(%run, workflow, error = %failed, "could not record the failure");
        }
    }
    if let Err(Error::CorruptState {
        run: of, reason, ..
    }) = &recorded
        && *of == run
    {
        // Left running, the run would fail the same way at every restart: it is quarantined
        // instead (committed), listed with the reason until it is failed, resumed or purged.
        tracing::error!(%run, workflow, reason, "stored data of the run is damaged: quarantined");
        let reason = reason.clone();
        if let Err(error) = shared.commit(WriteOp::Quarantine { run, reason }).await {
            tracing::error!(%run, workflow, %error, "could not quarantine the run");
        }
    }
    drop(ctx);
    if let Err(error) = recorded {
        if !matches!(error, Error::Halted { .. }) {
            tracing::error!(%run, workflow, %error, "run stopped");
        }
        lock(&shared.aborted).insert(run, error);
    }
    if let Some(tasks) = lock(&shared.tasks).as_mut() {
        tasks.remove(&run);
    }
    // Only once the handle is gone: the timer may resume the run at once, with a new task.
    if let Some(wake_at) = suspended {
        shared.timers.schedule(run, wake_at);
    }
    if awaiting.is_some() {
        // Its deadline may come before the one the watcher sleeps towards.
        shared.answers.notify();
    }
    if suspended.is_some() || awaiting.is_some() {
        resume_if_claimed(&shared, run);
    }
    shared.notify();
}

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
        RuntimeBuilder {
            lmdb: LmdbOptions::default(),
            entries: Vec::new(),
            previous: Vec::new(),
            hook: None,
            branch_hook: None,
            clock: Arc::new(SystemClock),
            answers: crate::answers::AnswersConfig::default(),
            durability: crate::durability::Durability::Full,
            startup_check_limit: DEFAULT_STARTUP_CHECK_LIMIT,
        }
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

    /// Stops every run task (aborting them as a crash would; committed state stays) and waits
    /// until they are gone and the LMDB environment is closed, so that the same path can be
    /// opened again in this process. Clients left over get [`Error::ShutDown`].
    pub async fn shutdown(self) {
        let timer = lock(&self.shared.timer_task).take();
        if let Some(timer) = timer {
            timer.abort();
            let _ = timer.await;
        }
        self.shared.answers.stop().await;
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

/// Configures and starts a [`Runtime`].
pub struct RuntimeBuilder {
    lmdb: LmdbOptions,
    entries: Vec<Arc<dyn Entry>>,
    previous: Vec<Arc<dyn Entry>>,
    hook: Option<Hook>,
    branch_hook: Option<BranchHook>,
    clock: Arc<dyn Clock>,
    answers: crate::answers::AnswersConfig,
    durability: crate::durability::Durability,
    /// See [`RuntimeBuilder::startup_check_limit`].
    startup_check_limit: u64,
}

/// Default of [`RuntimeBuilder::startup_check_limit`]: about 15 ms of start-up (measured).
const DEFAULT_STARTUP_CHECK_LIMIT: u64 = 10_000;

impl std::fmt::Debug for RuntimeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let workflows: Vec<&str> = self.entries.iter().map(|e| e.name()).collect();
        f.debug_struct("RuntimeBuilder")
            .field("lmdb", &self.lmdb)
            .field("workflows", &workflows)
            .field("on_transition", &self.hook.is_some())
            .field("on_branch", &self.branch_hook.is_some())
            .finish_non_exhaustive()
    }
}

impl RuntimeBuilder {
    /// Directory of the embedded LMDB store (the default backend), created if missing.
    /// Default: `$CAIRN_DATA_DIR` if set, else `cairn-data` in the current directory. Same as
    /// `.lmdb(LmdbOptions::new().path(dir))`, keeping the other LMDB options set.
    pub fn path(mut self, dir: impl Into<PathBuf>) -> Self {
        self.lmdb = self.lmdb.path(dir);
        self
    }

    /// Runs on the embedded LMDB store (the default backend) with these options: map size,
    /// write map, read-ahead (see [`LmdbOptions`]). Replaces the options set before,
    /// including the directory of [`path`](Self::path) if `options` names one.
    pub fn lmdb(mut self, options: LmdbOptions) -> Self {
        let path = self.lmdb.path.take();
        self.lmdb = options;
        if self.lmdb.path.is_none() {
            self.lmdb.path = path;
        }
        self
    }

    /// What a committed transition survives: [`Durability::Full`](crate::Durability::Full)
    /// (the default: fsync at every commit, survives power loss) or the explicit opt-in
    /// [`Durability::ProcessCrash`](crate::Durability::ProcessCrash) (no fsync: survives a
    /// crash of the process, not of the machine). Either way, concurrent runs share commits.
    pub fn durability(mut self, durability: crate::durability::Durability) -> Self {
        self.durability = durability;
        self
    }

    /// At most how many stored runs the start-up check of the indexes reads. The check
    /// (`lmdb/consistency.rs`) reads every run record once, repairs index entries that a
    /// damaged disk lost or garbled (a run that would never wake or never resume) and
    /// quarantines runs it cannot read; it costs about 15 ms per 10,000 stored runs and
    /// touches every record's pages, so with 100,000 parked runs it would take about 200 ms
    /// and make them cost memory again at every start. With more runs stored than this limit
    /// the check is skipped at start (logged at info level); damaged runs are still
    /// quarantined when they are read. Default: 10,000; `u64::MAX` always checks, 0 never.
    pub fn startup_check_limit(mut self, runs: u64) -> Self {
        self.startup_check_limit = runs;
        self
    }

    /// Registers a workflow, so that runs of it can be started and resumed. Registering two
    /// workflows with the same name makes [`start`](Self::start) fail.
    pub fn register<W: Workflow>(mut self, workflow: W) -> Self {
        let _ = workflow;
        self.entries.push(Arc::new(WorkflowEntry::<W>::new()));
        self
    }

    /// Keeps an older version of a registered workflow (the same name, another state layout)
    /// to finish the runs it stored: they resume with its code, while new runs start with the
    /// registered version. Keep the old fn in the code, renamed, with
    /// `#[workflow(name = "...")]` naming the workflow as before, until its runs are done.
    pub fn register_previous<W: Workflow>(mut self, workflow: W) -> Self {
        let _ = workflow;
        self.previous.push(Arc::new(WorkflowEntry::<W>::new()));
        self
    }

    /// Calls `hook` right after each committed transition, on the run's task.
    pub fn on_transition(
        mut self,
        hook: impl Fn(&Transition<'_>) -> Flow + Send + Sync + 'static,
    ) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }

    /// Calls `hook` right after the output of a `parallel` branch is committed, on the run's
    /// task. [`Flow::Halt`] stops the run there as a crash would (for crash tests).
    pub fn on_branch(
        mut self,
        hook: impl Fn(&BranchCommit<'_>) -> Flow + Send + Sync + 'static,
    ) -> Self {
        self.branch_hook = Some(Box::new(hook));
        self
    }

    /// The clock for durable sleeps, retry backoff, timeouts and history timestamps. Default:
    /// [`SystemClock`]; tests pass a [`TestClock`](crate::TestClock) and advance it.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Opens the store without running any workflow, for a process that only starts, reads,
    /// waits for and answers runs, next to the one that runs them (see [`Client::open`]). No
    /// run is resumed here. Runs started (or resumed) here are stored and handed over to the
    /// runtime that runs the workflows: one that is running starts them within its
    /// [`answer_poll_interval`](Self::answer_poll_interval), one started later at its start.
    /// Answers are committed for that runtime to pick up the same way. `wait` here reads the
    /// store again after a delay that starts at 2 ms and doubles up to 100 ms, so it returns
    /// at most 100 ms after the other process finished the run. It takes no lock on the
    /// directory (any number of clients may open it next to its one runtime), and a directory
    /// this process cannot write (a read-only file system, or a data file without write
    /// permission) is opened read-only: every read works, every write is [`Error::ReadOnly`].
    pub fn client_only(mut self) -> Self {
        self.answers.client_only = true;
        self
    }

    /// How often a runtime checks for answers committed, and runs started or resumed, by a
    /// client-only process (LMDB cannot notify across processes). Each check reads the first
    /// entries of the store's index of answered questions and of its table of handed-over
    /// runs, in two read transactions, whatever the number of waiting runs: an idle runtime
    /// costs a few microseconds per check. Default: 100 ms. Answers given and runs started
    /// through a client of this runtime are picked up at once.
    pub fn answer_poll_interval(mut self, interval: std::time::Duration) -> Self {
        self.answers.poll_interval = interval;
        self
    }

    /// Opens (or creates) the environment, then resumes every unfinished run of a registered
    /// workflow as a tokio task. Must be called inside a tokio runtime.
    ///
    /// Runs whose stored fingerprint differs from the registered workflow's are left untouched
    /// (`wait` and `result` on them return [`Error::IncompatibleState`]); runs of unregistered
    /// workflows are left alone.
    pub fn start(self) -> Result<Runtime, Error> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| Error::NoTokioRuntime)?;
        let mut registry: HashMap<&'static str, Arc<dyn Entry>> = HashMap::new();
        for entry in self.entries {
            if registry.insert(entry.name(), entry.clone()).is_some() {
                return Err(Error::DuplicateWorkflow {
                    name: entry.name().to_owned(),
                });
            }
        }
        let mut previous = HashMap::new();
        for entry in self.previous {
            let current = registry.get(entry.name()).map(|e| e.fingerprint());
            let key = (entry.name(), entry.fingerprint());
            if current == Some(key.1) || previous.insert(key, entry.clone()).is_some() {
                return Err(Error::DuplicateWorkflow {
                    name: entry.name().to_owned(),
                });
            }
        }
        let opened = self.lmdb.open(self.durability, self.answers.client_only)?;
        let path = opened.description;
        let store = opened.store;
        let instance = store.instance_id();
        let committer = Committer::start(Arc::downgrade(&store), self.clock.clone())?;
        let shared = Arc::new(Shared {
            store: RwLock::new(Some(store)),
            committer,
            registry,
            previous,
            incompatible: Mutex::new(Vec::new()),
            hook: self.hook,
            branch_hook: self.branch_hook,
            clock: self.clock.clone(),
            instance,
            timers: Timers::default(),
            answers: crate::answers::Answers::new(self.answers),
            timer_task: Mutex::new(None),
            finished: watch::Sender::new(0),
            aborted: Mutex::new(HashMap::new()),
            tasks: Mutex::new(Some(HashMap::new())),
            on_closed: Mutex::new(Some(opened.on_closed)),
            handle,
        });
        if self.answers.client_only {
            tracing::info!(path, "cairn client opened (client-only: runs nothing)");
            return Ok(Runtime { shared });
        }
        // Before anything reads the indexes (the timer and answer watcher too): a damaged or lost entry would leave a run never
        // resumed or never woken, and an undecodable run would fail at every restart.
        let stored = shared.store()?.run_count()?;
        let checked = if stored <= self.startup_check_limit {
            shared.store()?.check_indexes(shared.now_ms())?
        } else {
            tracing::info!(
                stored,
                limit = self.startup_check_limit,
                "start-up index check skipped: more runs stored than RuntimeBuilder::startup_check_limit"
            );
            crate::quarantine::CheckReport::default()
        };
        if checked.removed + checked.reindexed + checked.quarantined > 0 {
            tracing::warn!(
                runs = checked.runs,
                removed = checked.removed,
                reindexed = checked.reindexed,
                quarantined = checked.quarantined,
                "repaired the run indexes at start"
            );
        }
        let quarantined = shared.store()?.quarantined()?.len();
        if quarantined > 0 {
            tracing::warn!(
                quarantined,
                "runs in quarantine (stored data damaged): left alone; see Runtime::quarantined, then fail, resume or purge them"
            );
        }
        crate::answers::Answers::start(&shared, self.clock.clone());
        let timer = shared
            .handle
            .spawn(crate::timer::run(shared.clone(), self.clock));
        *lock(&shared.timer_task) = Some(timer);
        let mut resumed = 0usize;
        let mut after = None;
        loop {
            // A batch at a time: memory does not grow with the number of unfinished runs, and
            // runs in a durable sleep are not in this index at all (the timer reads theirs).
            let (batch, more) = shared.store()?.active_after(after, START_BATCH)?;
            for (run, record) in batch {
                if !shared.registry.contains_key(record.workflow.as_str()) {
                    tracing::debug!(%run, workflow = record.workflow, "leaving a run of an unregistered workflow alone");
                    continue;
                }
                if let Err(error) = shared.entry_for(run, &record.workflow, record.fingerprint) {
                    // Reported, left untouched for a build that can read it; the others go on.
                    tracing::error!(%run, workflow = record.workflow, "not resuming: {error}");
                    lock(&shared.incompatible).push(error);
                    continue;
                }
                if record.status == Status::Waiting {
                    shared.schedule_stored(run, &record)?;
                    continue;
                }
                shared.resume_stored(run, record)?;
                resumed += 1;
            }
            match more {
                Some(last) => after = Some(last),
                None => break,
            }
        }
        let sleeping = shared.store()?.sleeping()?;
        tracing::info!(path, resumed, sleeping, "cairn runtime started");
        Ok(Runtime { shared })
    }
}

#[cfg(test)]
#[path = "handover_tests.rs"]
mod handover_tests;
