//! [`RuntimeBuilder`]: what every backend shares (workflows, durability, clock, hooks, client
//! mode) plus the backend's own options ([`LmdbOptions`]), and [`start`](RuntimeBuilder::start).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::watch;

use super::{BranchCommit, BranchHook, Flow, Hook, Runtime, Shared, Transition};
use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::layout::StoredState;
use crate::layout::migrate::MigrateFn;
use crate::registry::{Entry, WorkflowEntry};
use crate::runtime::timers::Timers;
use crate::store::group_commit::Committer;
use crate::store::lmdb::options::LmdbOptions;
use crate::workflow::Workflow;

/// Configures and starts a [`Runtime`].
pub struct RuntimeBuilder {
    lmdb: LmdbOptions,
    /// Set by [`RuntimeBuilder::postgres`]: the store is then that database, not LMDB.
    #[cfg(feature = "postgres")]
    postgres: Option<crate::store::postgres::PostgresOptions>,
    entries: Vec<Arc<dyn Entry>>,
    previous: Vec<Arc<dyn Entry>>,
    /// See [`RuntimeBuilder::migrate`].
    migrations: HashMap<&'static str, MigrateFn>,
    hook: Option<Hook>,
    branch_hook: Option<BranchHook>,
    clock: Arc<dyn Clock>,
    answers: crate::runtime::answer_watcher::AnswersConfig,
    durability: crate::durability::Durability,
    /// See [`RuntimeBuilder::startup_check_limit`].
    startup_check_limit: u64,
    /// See [`RuntimeBuilder::retention`].
    retention: Option<std::time::Duration>,
    /// See [`RuntimeBuilder::register_with`].
    limited: Vec<(&'static str, crate::queue::Limits)>,
    /// See [`RuntimeBuilder::schedule`].
    scheduled: Vec<super::scheduler::Scheduled>,
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
    /// Opens the backend the options name: PostgreSQL if set, else LMDB.
    fn open_store(
        lmdb: &LmdbOptions,
        #[cfg(feature = "postgres")] postgres: Option<&crate::store::postgres::PostgresOptions>,
        durability: crate::durability::Durability,
        client_only: bool,
    ) -> Result<crate::store::Opened, Error> {
        #[cfg(feature = "postgres")]
        if let Some(postgres) = postgres {
            return postgres.open(client_only);
        }
        lmdb.open(durability, client_only)
    }

    pub(super) fn new() -> RuntimeBuilder {
        RuntimeBuilder {
            lmdb: LmdbOptions::default(),
            #[cfg(feature = "postgres")]
            postgres: None,
            entries: Vec::new(),
            previous: Vec::new(),
            migrations: HashMap::new(),
            hook: None,
            branch_hook: None,
            clock: Arc::new(SystemClock),
            answers: crate::runtime::answer_watcher::AnswersConfig::default(),
            durability: crate::durability::Durability::Full,
            startup_check_limit: DEFAULT_STARTUP_CHECK_LIMIT,
            retention: None,
            scheduled: Vec::new(),
            limited: Vec::new(),
        }
    }

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

    /// Runs on PostgreSQL instead of LMDB (cargo feature `postgres`): the database and
    /// schema of `options` (a connection string converts: `.postgres("postgresql://...")`).
    /// Any number of processes, on any number of hosts, may run on one schema.
    #[cfg(feature = "postgres")]
    pub fn postgres(mut self, options: impl Into<crate::store::postgres::PostgresOptions>) -> Self {
        self.postgres = Some(options.into());
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

    /// Deletes finished runs (completed, failed, ...) once they have been finished for
    /// `after`, by the runtime's [`Clock`], with everything stored of them (see
    /// [`Client::purge`](crate::Client::purge)). A background task checks at start and then
    /// every tenth of `after` (at least every second, at most every ten minutes), purging in
    /// batches of 1,000 runs, one commit each, so running workflows' commits are never held
    /// up for long. Unfinished runs are never touched. Default: finished runs are kept.
    pub fn retention(mut self, after: std::time::Duration) -> Self {
        self.retention = Some(after);
        self
    }

    /// Registers a workflow, so that runs of it can be started and resumed. Registering two
    /// workflows with the same name makes [`start`](Self::start) fail.
    pub fn register<W: Workflow>(mut self, workflow: W) -> Self {
        let _ = workflow;
        self.entries.push(Arc::new(WorkflowEntry::<W>::new()));
        self
    }

    /// Starts a run of `workflow` with `input` at every tick of `schedule`: a cron expression
    /// in a time zone ([`Schedule::cron`](crate::Schedule::cron)) or a fixed interval
    /// ([`Schedule::every`](crate::Schedule::every)); registers the workflow if it is not
    /// registered yet.
    ///
    /// ```no_run
    /// # use cairn_runtime::{Runtime, Schedule, Workflow, chrono_tz::Europe::Berlin};
    /// # fn demo<W: Workflow<Input = ()>>(report: W) -> Result<(), cairn_runtime::Error> {
    /// let runtime = Runtime::builder()
    ///     .schedule(report, Schedule::cron("0 */6 * * *")?.time_zone(Berlin), ())
    ///     .start()?;
    /// # Ok(()) }
    /// ```
    ///
    /// Each tick starts exactly one run: the tick is handled in one write that records it as
    /// the schedule's last handled tick and starts its run as a unique start keyed by the
    /// schedule's name and the tick's time, so a restart racing the tick, or another process
    /// on the same store, never starts it twice. Ticks wait on the runtime's
    /// [`Clock`](crate::Clock). Ticks that came while no runtime ran are handled at
    /// [`start`](Self::start) per the schedule's [`MissedTicks`](crate::MissedTicks) (default:
    /// one run for all of them). A runtime opened with [`client_only`](Self::client_only)
    /// runs no schedule. [`start`](Self::start) fails with [`Error::DuplicateSchedule`] for
    /// two schedules of one name, and with the input's error if it cannot be stored.
    pub fn schedule<W: Workflow>(
        mut self,
        workflow: W,
        schedule: crate::schedule::Schedule,
        input: W::Input,
    ) -> Self {
        let _ = workflow;
        let name = schedule.name.clone().unwrap_or_else(|| W::NAME.to_owned());
        self.scheduled.push(super::scheduler::Scheduled {
            name,
            schedule,
            entry: Arc::new(WorkflowEntry::<W>::new()),
            input: crate::registry::encode_input::<W>(&input),
        });
        self
    }

    /// Registers a workflow whose runs go through a queue with `limits`: at most so many
    /// at once, at most so many started per second, in a queue of its own or one several
    /// workflows share ([`Limits`](crate::Limits)).
    ///
    /// ```no_run
    /// # use cairn_runtime::{Limits, Runtime, Workflow};
    /// # fn demo<W: Workflow>(send_email: W) -> Result<(), cairn_runtime::Error> {
    /// let runtime = Runtime::builder()
    ///     .register_with(send_email, Limits::new().max_concurrent_runs(5))
    ///     .start()?;
    /// # Ok(()) }
    /// ```
    ///
    /// Every new run of the workflow, however it is started (and from whichever process), is
    /// stored [`Queued`](crate::Status::Queued) in its queue, ordered by
    /// [priority](crate::Client::start_with_priority) (higher first) then start order, and
    /// is started when its queue admits it: a run holds one of the queue's slots from then
    /// until it finishes (sleeping and waiting for a person count as holding), and the commit
    /// that finishes it frees the slot. The cap is counted in the store, so it holds across
    /// processes and restarts; queued runs wait on disk, holding no memory, and survive a
    /// crash. [`start`](Self::start) fails with [`Error::InvalidArgument`] for a cap or rate
    /// of 0, or two workflows giving one queue different limits.
    pub fn register_with<W: Workflow>(mut self, workflow: W, limits: crate::queue::Limits) -> Self {
        self.limited.push((W::NAME, limits));
        self.register(workflow)
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

    /// Moves the runs of `workflow` stored by an older layout to the registered one, at
    /// [`start`](Self::start), before any of them is resumed: `migrate` gets each such run's
    /// state read without the old code ([`StoredState`]: the state's name and its fields as
    /// JSON, decoded through the description the old build stored) and returns the state the
    /// run goes on from, in the registered layout (usually the same state with a field added,
    /// retyped or renamed). The result is checked to decode as the registered workflow's
    /// state before it is committed, in one write that keeps the original until the run's
    /// next transition; a run whose migration returns `Err`, panics or returns a state that
    /// does not decode is left untouched and reported by
    /// [`Runtime::incompatible_runs`](crate::Runtime::incompatible_runs). A migration
    /// applied and committed is not applied again.
    ///
    /// ```ignore
    /// Runtime::builder()
    ///     .register(research_pipeline)
    ///     .migrate(research_pipeline, |mut old| {
    ///         // `papers` became a list of objects with a `year`.
    ///         if let Some(papers) = old.fields.get_mut("papers") {
    ///             for paper in papers.as_array_mut().into_iter().flatten() {
    ///                 paper["year"] = serde_json::json!(0);
    ///             }
    ///         }
    ///         Ok(old)
    ///     })
    /// ```
    pub fn migrate<W: Workflow>(
        mut self,
        workflow: W,
        migrate: impl Fn(StoredState) -> Result<StoredState, String> + Send + Sync + 'static,
    ) -> Self {
        let _ = workflow;
        self.migrations.insert(W::NAME, Arc::new(migrate));
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
    /// waits for and answers runs, next to the one that runs them (see [`Client::open`](crate::Client::open)). No
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
    /// First it describes the state enum of every registered workflow (see
    /// [`StateLayout`](crate::StateLayout)) and stores it with the workflow. A run stored by
    /// another layout is then adopted if the state it is in is stored the same way, or moved
    /// by a [`migrate`](Self::migrate) function, or else left untouched and reported
    /// ([`Runtime::incompatible_runs`]; `wait` and `result` on it return
    /// [`Error::IncompatibleState`]); runs of unregistered workflows are left alone.
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
        super::scheduler::check(&self.scheduled)?;
        let queues = crate::queue::configs(&self.limited)?;
        let mut scheduled = self.scheduled;
        for s in &mut scheduled {
            // The registered entry runs the ticks' runs; a workflow only scheduled is
            // registered by its schedule.
            match registry.get(s.entry.name()) {
                Some(entry) => s.entry = entry.clone(),
                None => {
                    registry.insert(s.entry.name(), s.entry.clone());
                }
            }
        }
        let mut previous = HashMap::new();
        for entry in self.previous {
            // The same macro fingerprint as the current version is refused below, once the
            // descriptions say whether only an inferred type differs.
            let key = (entry.name(), entry.fingerprint());
            if previous.insert(key, entry.clone()).is_some() {
                return Err(Error::DuplicateWorkflow {
                    name: entry.name().to_owned(),
                });
            }
            // Runs it stored under the first fingerprint scheme are its too.
            if let Some(legacy) = entry.legacy_fingerprint() {
                previous.entry((entry.name(), legacy)).or_insert(entry);
            }
        }
        let opened = Self::open_store(
            &self.lmdb,
            #[cfg(feature = "postgres")]
            self.postgres.as_ref(),
            self.durability,
            self.answers.client_only,
        )?;
        let path = opened.description;
        let store = opened.store;
        let instance = store.instance_id();
        let committer = Committer::start(Arc::downgrade(&store), self.clock.clone())?;
        let shared = Arc::new(Shared {
            store: RwLock::new(Some(store)),
            committer,
            registry,
            previous,
            migrations: self.migrations,
            known_layouts: Default::default(),
            incompatible: Mutex::new(Vec::new()),
            hook: self.hook,
            branch_hook: self.branch_hook,
            clock: self.clock.clone(),
            instance,
            timers: Timers::default(),
            answers: crate::runtime::answer_watcher::Answers::new(self.answers),
            timer_task: Mutex::new(None),
            schedule_tasks: Mutex::new(Vec::new()),
            queues: super::queues::Queues::new(queues),
            queue_task: Mutex::new(None),
            retention: super::Retention::default(),
            finished: watch::Sender::new(0),
            commits: watch::Sender::new(0),
            aborted: Mutex::new(HashMap::new()),
            tasks: Mutex::new(Some(HashMap::new())),
            on_closed: Mutex::new(Some(opened.on_closed)),
            handle,
        });
        // Before any run is created: new runs are stored under the described layout.
        crate::layout::probe::describe_registered(&shared)?;
        if self.answers.client_only {
            tracing::info!(path, "cairn client opened (client-only: runs nothing)");
            return Ok(Runtime { shared });
        }
        let clock = self.clock.clone();
        // Another process's change (a shared store's notification) wakes the poller or the
        // timer at once instead of at its next poll.
        let woken = Arc::downgrade(&shared);
        shared.store()?.set_waker(Arc::new(move |change| {
            if let Some(shared) = woken.upgrade() {
                match change {
                    crate::store::Change::Runs => shared.answers.notify(),
                    crate::store::Change::Timers => shared.timers.reload(),
                }
            }
        }));
        // A shared store renews the leases of the runs live here only (`leases.rs`).
        let live = Arc::downgrade(&shared);
        shared.store()?.set_live_runs(Arc::new(move || {
            live.upgrade()
                .map_or_else(Vec::new, |shared| shared.live_runs())
        }));
        super::graphs::store_graphs(&shared)?;
        let resumed = super::recovery::recover(&shared, self.startup_check_limit, self.clock)?;
        let queue_task = shared.handle.spawn(super::queues::run(
            shared.clone(),
            clock.clone(),
            self.answers.poll_interval,
        ));
        *crate::supervise::lock(&shared.queue_task) = Some(queue_task);
        super::scheduler::start(&shared, scheduled, &clock)?;
        if let Some(after) = self.retention {
            super::Retention::start(&shared, after, clock);
        }
        let sleeping = shared.store()?.sleeping()?;
        tracing::info!(path, resumed, sleeping, "cairn runtime started");
        Ok(Runtime { shared })
    }
}
