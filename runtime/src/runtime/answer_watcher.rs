//! The watcher that resumes answered runs, whichever process the answer came from (the
//! client's side, listing and answering questions, is [`crate::client::questions`]).
//!
//! A run that reaches [`Context::wait_for_user`](crate::Context::wait_for_user) commits its
//! question, marks itself waiting and ends its task: nothing of it is left in the process, and
//! start-up does not read it (it leaves the active-run index). An answer is validated and
//! committed by [`Client::answer`] in one write transaction, possibly in another process,
//! together with an entry in the store's index of answered runs; a question with a timeout has
//! an entry in the index of deadlines. LMDB has no cross-process notification, so the watcher
//! task polls: every
//! [`RuntimeBuilder::answer_poll_interval`](crate::RuntimeBuilder::answer_poll_interval) (and
//! at the earliest deadline), one read transaction reads the first entries of both indexes,
//! which costs the same with one waiting run or a million. An answered run is then *claimed*
//! (marked running in a write transaction, so that one runtime only resumes it) and resumed
//! from its last committed state, like a restart: it reaches the same `wait_for_user` at the
//! same position and finds the answer. An answer given in this process wakes the watcher at
//! once instead.
//!
//! The same poll takes the runs that client-only processes started or resumed (handed over,
//! see `lmdb/handover.rs`) and starts them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::clock::{Clock, from_ms, to_ms};
use crate::error::Error;
use crate::run::RunId;
use crate::runtime::Shared;
use crate::store::hitl::Claim;
use crate::store::write_op::TakenRun;
use crate::store::{Store, WriteOp};
use crate::supervise::lock;

/// Default time between two checks for answers given by another process.
pub(crate) const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How a runtime deals with answers, set on the builder.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AnswersConfig {
    /// Open the store to start, query and answer runs, but run none in this process.
    pub client_only: bool,
    pub poll_interval: Duration,
}

impl Default for AnswersConfig {
    fn default() -> Self {
        AnswersConfig {
            client_only: false,
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }
}

/// Answered runs (and runs past their deadline) claimed per read of the indexes.
const CLAIMS_PER_POLL: usize = 256;

/// At most this many handed-over runs taken per poll. A store may take fewer: PostgreSQL
/// claims `claim_batch` runs at first, more while its claims come back full
/// (`store/postgres/leases.rs`, `Worker::claim_size`).
const TAKES_PER_POLL: usize = 1024;

/// The task that watches for answers.
#[derive(Debug)]
pub(crate) struct Answers {
    pub config: AnswersConfig,
    /// Wakes the watcher: a run started waiting (its deadline may be the earliest), or an
    /// answer was given in this process. `notify_one` keeps a permit, so a wake-up is never
    /// missed.
    changed: Notify,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Answers {
    pub fn new(config: AnswersConfig) -> Answers {
        Answers {
            config,
            changed: Notify::new(),
            task: Mutex::new(None),
        }
    }

    /// Tells the watcher to read the indexes again now.
    pub fn notify(&self) {
        self.changed.notify_one();
    }

    /// Starts the watcher task (not in client-only mode).
    pub fn start(shared: &Arc<Shared>, clock: Arc<dyn Clock>) {
        if shared.answers.config.client_only {
            return;
        }
        // `RuntimeBuilder::start` runs inside a tokio runtime, so `tokio::spawn` has one.
        let task = tokio::spawn(watch(shared.clone(), clock));
        *lock(&shared.answers.task) = Some(task);
    }

    /// Stops the watcher task, at shutdown.
    pub async fn stop(&self) {
        let task = lock(&self.task).take();
        if let Some(task) = task {
            task.abort();
            // A cancelled task's JoinError is the expected result here.
            let _ = task.await;
        }
    }
}

/// Body of the watcher task; runs until the runtime shuts down and aborts it.
async fn watch(shared: Arc<Shared>, clock: Arc<dyn Clock>) {
    let answers = &shared.answers;
    loop {
        let now = to_ms(clock.now());
        let mut next_deadline = None;
        let mut more = false;
        // Runs handed over by client-only processes are checked in the same poll: one more
        // read transaction, on an empty table while there are none.
        let (handed_over, due) = match shared.store() {
            Ok(store) => (
                take_handed_over(&shared, store.as_ref()).await,
                store.due_answers(now, CLAIMS_PER_POLL),
            ),
            Err(error) => (Err(error.clone()), Err(error)),
        };
        match handed_over {
            Ok(runs) => {
                // Any run taken: poll again at once. A store may take fewer than asked per
                // call (PostgreSQL claims `claim_batch` at a time), so a short batch does not
                // mean there are no more; the poll that finds none ends the round.
                more = !runs.is_empty();
                let started = !runs.is_empty();
                for taken in runs {
                    let run = taken.run;
                    if let Err(error) = shared.start_handed_over(taken) {
                        tracing::error!(%run, %error, "could not start a handed-over run");
                    }
                }
                if started {
                    shared.notify();
                }
            }
            Err(error) => tracing::error!(%error, "could not check for handed-over runs"),
        }
        match due {
            Ok(due) => {
                more |= due.runs.len() >= CLAIMS_PER_POLL;
                next_deadline = due.next_deadline_ms.map(from_ms);
                for run in due.runs {
                    claim(&shared, run).await;
                }
            }
            Err(error) => tracing::error!(%error, "could not check for answers"),
        }
        if more {
            continue;
        }
        let deadline = async {
            match next_deadline {
                Some(at) => clock.sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = tokio::time::sleep(jittered(answers.config.poll_interval)) => {}
            () = deadline => {}
            () = answers.changed.notified() => {}
        }
    }
}

/// 80 to 100% of `interval`, at random (never more: the interval is a promise): workers
/// sharing a store (PostgreSQL) then do
/// not poll it in step.
fn jittered(interval: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    let permille = 800 + hasher.finish() % 201;
    interval.mul_f64(permille as f64 / 1000.0)
}

/// Takes the runs handed over by client-only processes, if there are any: the poll's usual
/// case, none, costs one read.
async fn take_handed_over(shared: &Shared, store: &dyn Store) -> Result<Vec<TakenRun>, Error> {
    if !store.any_handed_over()? {
        return Ok(Vec::new());
    }
    let limit = TAKES_PER_POLL;
    shared
        .commit(WriteOp::TakeHandedOver { limit })
        .await?
        .handed_over()
}

/// Claims an answered run and resumes it (unless another runtime took it).
async fn claim(shared: &Arc<Shared>, run: RunId) {
    let claimed = shared.commit(WriteOp::Claim { run }).await;
    match claimed.and_then(crate::store::Outcome::claim) {
        Ok(Claim::Claimed(record)) => {
            tracing::debug!(%run, workflow = record.workflow, "answered run resumed");
            if let Err(error) = shared.resume_stored(run, *record) {
                tracing::error!(%run, %error, "could not resume an answered run");
            }
            shared.notify();
        }
        Ok(Claim::Gone | Claim::Waiting) => {}
        Err(Error::CorruptState {
            run: of, reason, ..
        }) if of == run => {
            // Its question or record does not decode: claimed at every poll, it would fail
            // every time. Quarantined instead (see `crate::quarantine`).
            tracing::error!(%run, reason, "stored data of a waiting run is damaged: quarantined");
            let quarantined = shared.commit(WriteOp::Quarantine { run, reason }).await;
            if let Err(error) = quarantined {
                tracing::error!(%run, %error, "could not quarantine the run");
            }
            shared.notify();
        }
        Err(error) => tracing::error!(%run, %error, "could not claim an answered run"),
    }
}
