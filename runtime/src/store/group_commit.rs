//! Group commit: writes that arrive while a commit is in flight go into the next one.
//!
//! Generic over the backend: it only calls [`Store::write`] with a batch of [`WriteOp`]s.
//! A commit is expensive (with [`Durability::Full`](crate::Durability::Full) LMDB pays an
//! fsync, 0.1 to several ms; a database server a round trip). Committing each transition on
//! its own caps a whole process at one commit per transition, however many runs are live.
//! Instead every write of the runtime (checkpoints, completions, failures, `parallel`
//! branches, durable sleeps, questions and answers, creations) is submitted as a [`WriteOp`]
//! and awaited on a oneshot, and whoever commits takes everything queued and writes it all in
//! ONE batch (one fsync), then completes each request. The batch is stamped with the time of
//! the runtime's [`Clock`], the time every record written by it carries. A transition's future therefore resolves only once its own commit is durable, and
//! under load the fsync is shared by the whole batch.
//!
//! Who commits (leader/follower, see [`Inline`]): the first submitter that finds no commit in
//! progress commits on its own thread, so a lone run pays no thread hand-off (two futex
//! wake-ups, 10 to 40 µs, more than a no-sync commit costs). Requests that queue up behind it
//! are handed to a helper thread that batches them. With fsync, a leader on a tokio worker
//! commits inside [`tokio::task::block_in_place`], so the worker's other tasks move to another
//! thread while it waits for the disk; where that is impossible (a current-thread runtime) the
//! helper thread commits instead.
//!
//! An op that needs a transaction of its own ([`WriteOp::commits_alone`]: a take of runs
//! handed over) is committed between the batches of the requests queued before and after
//! it; on a store whose transactions run side by side (PostgreSQL, see
//! [`Store::concurrent_transactions`]) it is committed at once on a thread of its own
//! instead, beside the batch in progress, which it neither waits for nor holds up.
//!
//! Failures never drop a request silently. If one operation of a batch is refused (say, an
//! unknown run), the backend writes nothing of the batch and names the op: it gets its
//! error, and the rest of the batch is written again without it, so that only the faulty one
//! fails. If the write itself fails (disk full, I/O error), every request of the batch gets
//! the error.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};

use tokio::sync::oneshot;

use crate::clock::{Clock, to_ms};
use crate::error::Error;
use crate::store::Store;
use crate::store::write_op::{Outcome, WriteError, WriteOp};

/// Most requests in one transaction: bounds the latency of the requests at the end of a batch
/// and the size of LMDB's dirty page list.
const MAX_BATCH: usize = 8192;

/// A batch large enough that the helper does not wait for more (see [`Inline::gather`]): at
/// a few µs of work per request, its own writes take longer than its flush, so a bigger one
/// would gain little, while committing it at once lets the next requests queue during its
/// commit (with 10,000 runs stepping together, waiting for full batches of [`MAX_BATCH`]
/// left the disk idle while they queued, and took longer).
const ENOUGH: usize = 1024;

/// Payload bytes (states, loop items, outputs) of every operation committed in this process,
/// for the benchmarks: the figure that must not grow with a loop's length.
static PAYLOAD_BYTES: AtomicU64 = AtomicU64::new(0);

/// Payload bytes committed so far in this process (see `PAYLOAD_BYTES`).
pub fn payload_bytes_committed() -> u64 {
    PAYLOAD_BYTES.load(Ordering::Relaxed)
}

/// A request and where its outcome goes.
pub(crate) struct Request {
    op: WriteOp,
    done: oneshot::Sender<Result<Outcome, Error>>,
}

/// How the runtime's writes reach its store: dropping it ends the helper thread once it has
/// answered what was queued.
pub(crate) struct Committer {
    inline: Arc<Inline>,
    /// The store, for the ops that commit alone beside the group commit (see
    /// [`Committer::submit`]); `None` when its transactions cannot run side by side.
    beside: Option<Weak<dyn Store>>,
}

impl Committer {
    /// Commits on the submitting threads, with a helper thread that takes over under load;
    /// see [`Inline`]. Whether a commit blocks its thread for long is the store's
    /// [`Store::commits_block`].
    pub fn start(store: Weak<dyn Store>, clock: Arc<dyn Clock>) -> Result<Committer, Error> {
        let fsync = store.upgrade().is_some_and(|store| store.commits_block());
        let beside = store
            .upgrade()
            .is_some_and(|store| store.concurrent_transactions())
            .then(|| store.clone());
        let inline = Arc::new(Inline {
            queue: Mutex::new(Queue::default()),
            handoff: Condvar::new(),
            fsync,
            clock,
        });
        let helper = inline.clone();
        std::thread::Builder::new()
            .name("cairn-committer".to_owned())
            .spawn(move || helper.help(&store))?;
        Ok(Committer { inline, beside })
    }

    /// Queues `op` for the next group commit; the receiver yields its outcome once the commit
    /// holding it is durable. `store` is the store that owns this committer.
    ///
    /// An op that commits alone ([`WriteOp::commits_alone`]) on a store whose transactions
    /// run side by side ([`Store::concurrent_transactions`]) is committed at once on a thread
    /// of its own instead, beside the batch in progress: a take of handed-over runs then
    /// neither waits for that batch nor holds up the next one. On PostgreSQL a worker took a
    /// burst of 1,000 runs started by a client in six takes, each queued between two batches
    /// of the group commit, and the last runs began 56 ms after the first.
    pub fn submit(
        &self,
        store: &dyn Store,
        op: WriteOp,
    ) -> oneshot::Receiver<Result<Outcome, Error>> {
        let (done, outcome) = oneshot::channel();
        let request = Request { op, done };
        let beside = (self.beside.as_ref())
            .filter(|_| request.op.commits_alone())
            .and_then(Weak::upgrade);
        match beside {
            Some(store) => self.commit_beside(store, request),
            None => self.inline.submit(store, request),
        }
        outcome
    }

    /// Commits `request` on a thread of its own (see [`Committer::submit`]), or with the
    /// group commit if no thread can be made. A thread per op is cheap here: the one such op
    /// is a take, submitted by the answer watcher only, which awaits each before the next, so
    /// at most one of these threads lives at a time.
    fn commit_beside(&self, store: Arc<dyn Store>, request: Request) {
        let now_ms = self.inline.now_ms();
        // Where the thread takes the request from: if the thread cannot be made, the
        // request is still there.
        let slot = Arc::new(Mutex::new(Some(request)));
        let taken = slot.clone();
        let thread_store = store.clone();
        let spawned = std::thread::Builder::new()
            .name("cairn-commit-alone".to_owned())
            .spawn(move || {
                let request = taken.lock().unwrap_or_else(PoisonError::into_inner).take();
                commit_together(&*thread_store, &mut request.into_iter().collect(), now_ms);
            });
        if spawned.is_err() {
            // The closure was dropped unrun.
            let left = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(request) = left {
                self.inline.submit(&*store, request);
            }
        }
    }
}

impl Committer {
    /// Announces `count` requests coming within moments (the first transitions of runs
    /// just created together by `Client::start_many`): unless a commit is in progress, the
    /// helper thread takes the leadership now and gathers them into one batch (see
    /// [`Inline::gather`]), where the first of them would otherwise commit alone on its own
    /// thread while the others queue behind its fsync.
    pub fn expect(&self, count: usize) {
        let mut queue = self.inline.lock();
        queue.expected = queue.expected.max(count);
        queue.announced = true;
        if !queue.leading && count > 1 {
            queue.leading = true;
            queue.handed_off = true;
            self.inline.handoff.notify_one();
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.inline.lock().closed = true;
        self.inline.handoff.notify_one();
    }
}

/// Leader/follower group commit. A submitter that finds no commit in progress becomes the
/// leader: it takes everything queued (its own request included) and commits it in one
/// transaction on its own thread. A submitter that finds a leader only queues its request and
/// awaits its oneshot, which is completed once the commit holding it is done. A lone run thus
/// commits on its own thread with no hand-off.
///
/// If requests queued up while the leader committed, the leader does not go on committing
/// them (its own run, and the runtime worker it sits on, would be held up by everyone else's
/// commits): it hands the leadership, queue and all, to the helper thread, which commits batch
/// after batch, until the queue is empty; then the next submitter leads again on its own
/// thread.
///
/// With fsync a commit blocks its thread for the disk: a leader on a tokio worker commits in
/// [`tokio::task::block_in_place`], and one that cannot block (on a current-thread runtime)
/// hands its request to the helper at once.
pub(crate) struct Inline {
    queue: Mutex<Queue>,
    /// Wakes the helper thread when a leader hands over, or when the store is dropped.
    handoff: Condvar,
    /// A commit blocks its thread for long (an fsync, a round trip).
    fsync: bool,
    /// Stamps each batch.
    clock: Arc<dyn Clock>,
}

#[derive(Default)]
struct Queue {
    requests: Vec<Request>,
    /// A leader (a submitter or the helper) is committing; it takes whatever is queued
    /// before it steps down.
    leading: bool,
    /// The leadership was handed to the helper thread, which has not taken it yet.
    handed_off: bool,
    /// The store is gone: the helper ends once it has answered what was queued.
    closed: bool,
    /// The helper leads and waits for the batch to fill (see [`Inline::gather`]): the
    /// submitter whose request brings the queue to this many wakes it.
    gathering: Option<usize>,
    /// How many requests the helper expects soon: as many as its last batch answered, or a
    /// burst announced by [`Committer::expect`].
    expected: usize,
    /// How long the last commit took: the bound on gathering a batch.
    last_commit: std::time::Duration,
    /// [`Committer::expect`] announced a burst the helper has not gathered yet.
    announced: bool,
}

/// How long the helper thread keeps the leadership with nothing queued, in case more
/// requests come (they do, under load) before stepping down; and the pause in arrivals after
/// which it stops gathering a batch and commits what it has (see [`Inline::gather`]).
const LINGER: std::time::Duration = std::time::Duration::from_micros(50);

impl Inline {
    fn now_ms(&self) -> u64 {
        to_ms(self.clock.now())
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue is consistent at every unlock, so a panic elsewhere leaves it usable.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn submit(&self, store: &dyn Store, request: Request) {
        let mut queue = self.lock();
        queue.requests.push(request);
        if queue.leading {
            if queue.gathering == Some(queue.requests.len()) {
                self.handoff.notify_one();
            }
            return;
        }
        queue.leading = true;
        if self.fsync && !may_block() {
            queue.handed_off = true;
            self.handoff.notify_one();
            return;
        }
        // If the commit panics, this steps down on the way out so that the queue is never
        // stranded (see `Unwind`).
        let unwind = Unwind(self);
        let mut batch = std::mem::take(&mut queue.requests);
        drop(queue);
        let started = std::time::Instant::now();
        // The commit blocks this thread on purpose, inside the poll of the leader's run: not
        // the step's doing (see `crate::blocking`).
        crate::blocking::excused(|| {
            if self.fsync {
                // Outside a runtime this just runs the closure.
                tokio::task::block_in_place(|| commit_batch(store, &mut batch, self.now_ms()));
            } else {
                commit_batch(store, &mut batch, self.now_ms());
            }
        });
        let mut queue = self.lock();
        std::mem::forget(unwind);
        queue.last_commit = started.elapsed();
        if queue.requests.is_empty() {
            // Stepping down under the same lock that saw the queue empty: a request queued
            // after this finds no leader and leads.
            queue.leading = false;
        } else {
            queue.handed_off = true;
            self.handoff.notify_one();
        }
        // Hand the emptied vector back, so that the next batch need not allocate.
        if queue.requests.capacity() < batch.capacity() {
            std::mem::swap(&mut queue.requests, &mut batch);
            queue.requests.append(&mut batch);
        }
    }

    /// Body of the helper thread: leads whenever a submitter hands over (or a burst is
    /// announced, see [`Committer::expect`]): gathers a batch, commits it, and so on until
    /// nothing more comes within [`LINGER`].
    fn help(&self, store: &Weak<dyn Store>) {
        let mut batch = Vec::new();
        let mut queue = self.lock();
        loop {
            while !queue.handed_off && !queue.closed {
                queue = self
                    .handoff
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if !queue.handed_off {
                return; // closed, with nothing handed over
            }
            queue.handed_off = false;
            loop {
                queue = self.gather(queue);
                if queue.requests.is_empty() {
                    break; // nothing came: step down
                }
                queue = self.commit_next(store, queue, &mut batch);
            }
            queue.expected = 0;
            queue.leading = false;
        }
    }

    /// Waits, as the helper leading, for the batch to fill: the runs answered by the last
    /// commit are expected back (a burst of runs steps in rounds: all woken by one commit,
    /// each submits its next state microseconds later), and committing the first few alone
    /// would cost them a whole commit of their own while the rest of the round queues
    /// behind it. Returns once [`Queue::expected`] requests (at most [`ENOUGH`]) are queued,
    /// or none arrived for a pause ([`LINGER`], or an eighth of the last commit if longer: the
    /// rest are in longer steps, or there is no rest), or after as long as the last commit
    /// took (waiting longer would cost more than a commit of its own).
    fn gather<'a>(&'a self, mut queue: MutexGuard<'a, Queue>) -> MutexGuard<'a, Queue> {
        let target = queue.expected.clamp(1, ENOUGH);
        let bound = queue.last_commit.max(LINGER);
        // A pause in arrivals that ends the wait: a linger, or longer when commits are slow
        // (a loaded machine deschedules the submitters for milliseconds at a time).
        // With nothing queued and nothing announced, the helper steps down after a linger.
        let pause = if queue.requests.is_empty() && !queue.announced {
            LINGER
        } else {
            (bound / 8).max(LINGER)
        };
        queue.announced = false;
        let started = std::time::Instant::now();
        loop {
            let queued = queue.requests.len();
            let waited = started.elapsed();
            if queued >= target || queue.closed || waited >= bound {
                return queue;
            }
            queue.gathering = Some(target);
            queue = self
                .handoff
                .wait_timeout(queue, pause.min(bound - waited))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            queue.gathering = None;
            if queue.requests.len() == queued {
                return queue; // nothing new for a whole pause
            }
        }
    }

    /// Commits the next batch (at most [`MAX_BATCH`] of the queued requests); returns with
    /// the queue locked and [`Queue::expected`] set to the batch's size.
    fn commit_next<'a>(
        &'a self,
        store: &Weak<dyn Store>,
        mut queue: MutexGuard<'a, Queue>,
        batch: &mut Vec<Request>,
    ) -> MutexGuard<'a, Queue> {
        let take = queue.requests.len().min(MAX_BATCH);
        batch.extend(queue.requests.drain(..take));
        drop(queue);
        let started = std::time::Instant::now();
        match store.upgrade() {
            // A panicking commit drops its batch's senders (which `Shared::commit`
            // reports as an error) and must not end the thread every later hand-over
            // relies on.
            Some(store) => {
                let committed = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    commit_batch(&*store, batch, self.now_ms());
                }));
                if committed.is_err() {
                    batch.clear();
                }
            }
            None => {
                for request in batch.drain(..) {
                    let _ = request.done.send(Err(Error::ShutDown));
                }
            }
        }
        let mut queue = self.lock();
        queue.expected = take;
        queue.last_commit = started.elapsed();
        queue
    }
}

/// Whether this thread may block for an fsync: not a current-thread runtime's, where
/// [`tokio::task::block_in_place`] is refused and blocking would stall every task.
fn may_block() -> bool {
    tokio::runtime::Handle::try_current().map_or(true, |handle| {
        handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
    })
}

/// Steps down a leader whose commit panicked: the requests of the panicking batch see their
/// sender dropped (which `Shared::commit` reports as [`Error::ShutDown`]), and those queued
/// behind it fail with an I/O error rather than wait for a leader that will not come.
struct Unwind<'a>(&'a Inline);

impl Drop for Unwind<'_> {
    fn drop(&mut self) {
        let mut queue = self.0.lock();
        queue.leading = false;
        for request in queue.requests.drain(..) {
            let error = std::io::Error::other("the group commit leader panicked");
            let _ = request.done.send(Err(Error::from(error)));
        }
    }
}

/// Commits every request of `batch` (emptying it) and completes each one. An op that commits
/// alone ([`WriteOp::commits_alone`]) gets a transaction of its own, between those of the
/// requests queued before and after it.
fn commit_batch(store: &dyn Store, batch: &mut Vec<Request>, now_ms: u64) {
    if batch.len() < 2 || !batch.iter().any(|request| request.op.commits_alone()) {
        return commit_together(store, batch, now_ms);
    }
    for mut transaction in transactions(std::mem::take(batch)) {
        commit_together(store, &mut transaction, now_ms);
    }
}

/// `batch` cut into the transactions it commits in, in order: each op that commits alone in
/// one of its own, the requests between them together.
fn transactions(batch: Vec<Request>) -> Vec<Vec<Request>> {
    let mut transactions = Vec::new();
    let mut together = Vec::new();
    for request in batch {
        if request.op.commits_alone() {
            if !together.is_empty() {
                transactions.push(std::mem::take(&mut together));
            }
            transactions.push(vec![request]);
        } else {
            together.push(request);
        }
    }
    if !together.is_empty() {
        transactions.push(together);
    }
    transactions
}

/// Commits every request of `batch` (emptying it) in one transaction, and completes each one.
fn commit_together(store: &dyn Store, batch: &mut Vec<Request>, now_ms: u64) {
    loop {
        let ops: Vec<&WriteOp> = batch.iter().map(|request| &request.op).collect();
        match store.write(&ops, now_ms) {
            Ok(outcomes) => {
                // Counted once committed, so that a batch written again is not counted twice.
                let payload: u64 = ops.iter().map(|op| op.payload_len()).sum();
                PAYLOAD_BYTES.fetch_add(payload, Ordering::Relaxed);
                for (request, outcome) in batch.drain(..).zip(outcomes) {
                    let _ = request.done.send(Ok(outcome));
                }
                return;
            }
            Err(WriteError::Refused { index, error, also }) if index < batch.len() => {
                // Someone's operation was refused and nothing was written: it fails alone
                // (with those the store found refused as well), and the others are written
                // again without it.
                let mut refused: Vec<(usize, Box<Error>)> = also
                    .into_iter()
                    .filter(|(other, _)| *other < batch.len() && *other != index)
                    .collect();
                refused.push((index, error));
                // Removed from the last, so that each index still names its request.
                refused.sort_unstable_by_key(|(at, _)| std::cmp::Reverse(*at));
                refused.dedup_by_key(|(at, _)| *at);
                for (at, error) in refused {
                    let _ = batch.remove(at).done.send(Err(*error));
                }
                if batch.is_empty() {
                    return;
                }
            }
            Err(WriteError::Refused { error, .. } | WriteError::Failed(error)) => {
                let error = *error;
                tracing::error!(%error, requests = batch.len(), "group commit failed");
                for request in batch.drain(..) {
                    let _ = request.done.send(Err(error.clone()));
                }
                return;
            }
        }
    }
}

/// Writes one operation in a batch of its own, outside the group commit (unit tests).
#[cfg(test)]
pub(crate) fn write_one(store: &dyn Store, op: &WriteOp, now_ms: u64) -> Result<Outcome, Error> {
    match store.write(&[op], now_ms) {
        Ok(mut outcomes) => {
            PAYLOAD_BYTES.fetch_add(op.payload_len(), Ordering::Relaxed);
            outcomes.pop().ok_or_else(|| {
                Error::from(std::io::Error::other(
                    "the store answered a write with nothing",
                ))
            })
        }
        Err(WriteError::Refused { error, .. } | WriteError::Failed(error)) => Err(*error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::context::state::StateWrites;
    use crate::durability::Durability;
    use crate::history::HistoryRecord;
    use crate::run::RunId;
    use crate::store::RunRecord;
    use crate::store::lmdb::LmdbStore;

    fn open(dir: &std::path::Path) -> Arc<LmdbStore> {
        Arc::new(LmdbStore::open_with(dir, 1 << 24, Durability::ProcessCrash, false, true).unwrap())
    }

    /// A checkpoint of `run`'s task at `position`.
    fn checkpoint(run: RunId, position: u64) -> WriteOp {
        WriteOp::CommitState {
            run,
            position,
            state_name: "Next",
            step: Some("s"),
            state: vec![1],
            writes: StateWrites::default(),
            history: HistoryRecord::committed_for_test("Next"),
            items: Vec::new(),
        }
    }

    /// The state key limit is LMDB's: a key of [`MAX_STATE_KEY_BYTES`] commits, one byte more
    /// is refused for good (so the run fails rather than re-running its step at each restart),
    /// and the refusal, isolated, does not fail the requests batched with it.
    ///
    /// [`MAX_STATE_KEY_BYTES`]: crate::context::state::MAX_STATE_KEY_BYTES
    #[test]
    fn a_state_key_over_lmdbs_limit_is_refused_for_good_and_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let run = store
            .create_run(&RunRecord::new("w", 7, vec![], 0))
            .unwrap();
        let with_key = |len: usize, position| {
            let mut op = checkpoint(run, position);
            if let WriteOp::CommitState { writes, .. } = &mut op {
                writes.puts.insert("k".repeat(len), Some(b"1".to_vec()));
            }
            op
        };
        let max = crate::context::state::MAX_STATE_KEY_BYTES;
        let mut batch = vec![with_key(max, 0), with_key(max + 1, 1), checkpoint(run, 1)];
        let mut outcomes = Vec::new();
        let mut requests = Vec::new();
        for op in batch.drain(..) {
            let (done, outcome) = oneshot::channel();
            requests.push(Request { op, done });
            outcomes.push(outcome);
        }
        commit_batch(&*store, &mut requests, 0);
        let outcomes: Vec<_> = outcomes
            .into_iter()
            .map(|o| o.blocking_recv().unwrap())
            .collect();
        let mut outcomes = outcomes.into_iter();
        assert_eq!(outcomes.next().unwrap().unwrap().transitions().unwrap(), 1);
        let refused = outcomes.next().unwrap().unwrap_err();
        assert!(refused.refused_for_good(), "{refused:?}");
        assert_eq!(outcomes.next().unwrap().unwrap().transitions().unwrap(), 2);
        assert_eq!(store.state_all(run).unwrap().len(), 1);
    }

    /// Threads submitting at once: whoever leads commits the others' requests too, each
    /// request gets its own outcome in order, and a refused one fails alone.
    #[test]
    fn inline_leaders_commit_every_request_and_isolate_a_refused_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let runs: Vec<RunId> = (0..4)
            .map(|_| {
                store
                    .create_run(&RunRecord::new("w", 7, vec![], 0))
                    .unwrap()
            })
            .collect();
        let shared: Arc<dyn Store> = store.clone();
        let committer = Committer::start(Arc::downgrade(&shared), Arc::new(SystemClock)).unwrap();
        std::thread::scope(|s| {
            for &run in &runs {
                let (store, committer) = (&*store, &committer);
                s.spawn(move || {
                    for i in 1..=50u64 {
                        let outcome = committer
                            .submit(store, checkpoint(run, i - 1))
                            .blocking_recv();
                        assert_eq!(outcome.unwrap().unwrap().transitions().unwrap(), i);
                        if i % 10 == 0 {
                            let refused = committer.submit(store, checkpoint(RunId(999), 0));
                            assert!(matches!(
                                refused.blocking_recv().unwrap(),
                                Err(Error::UnknownRun { run: RunId(999) })
                            ));
                        }
                    }
                });
            }
        });
        for run in runs {
            assert_eq!(store.load(run).unwrap().unwrap().transitions, 50);
            assert_eq!(store.history(run).unwrap().len(), 50);
        }
    }

    /// An announced burst ([`Committer::expect`]): the requests that come are all committed
    /// and answered in order, those announced but never coming hold nothing up (the helper
    /// steps down after a pause), and a lone request after that still commits.
    #[test]
    fn an_announced_burst_is_committed_and_one_that_never_comes_holds_nothing_up() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let runs: Vec<RunId> = (0..8)
            .map(|_| {
                store
                    .create_run(&RunRecord::new("w", 7, vec![], 0))
                    .unwrap()
            })
            .collect();
        let shared: Arc<dyn Store> = store.clone();
        let committer = Committer::start(Arc::downgrade(&shared), Arc::new(SystemClock)).unwrap();
        for round in 1..=3u64 {
            // Twice as many announced as come: the gathering ends on a pause, not on a count.
            committer.expect(runs.len() * 2);
            std::thread::scope(|s| {
                for &run in &runs {
                    let (store, committer) = (&*store, &committer);
                    s.spawn(move || {
                        let outcome = committer
                            .submit(store, checkpoint(run, round - 1))
                            .blocking_recv();
                        assert_eq!(outcome.unwrap().unwrap().transitions().unwrap(), round);
                    });
                }
            });
        }
        committer.expect(100);
        let outcome = committer
            .submit(&*store, checkpoint(runs[0], 3))
            .blocking_recv();
        assert_eq!(outcome.unwrap().unwrap().transitions().unwrap(), 4);
        for (i, run) in runs.into_iter().enumerate() {
            let expected = if i == 0 { 4 } else { 3 };
            assert_eq!(store.history(run).unwrap().len(), expected);
        }
    }

    /// A take of handed-over runs commits in a transaction of its own, between the requests
    /// queued before and after it, which keep their order.
    #[test]
    fn a_take_of_handed_over_runs_commits_apart_from_the_batch() {
        let request = |op| Request {
            op,
            done: oneshot::channel().0,
        };
        let hand_over = |run| WriteOp::HandOver {
            run: RunId(run),
            position: 0,
        };
        let take = || WriteOp::TakeHandedOver { limit: 8 };
        let batch = vec![
            request(hand_over(1)),
            request(hand_over(2)),
            request(take()),
            request(take()),
            request(hand_over(3)),
        ];
        let shape: Vec<Vec<String>> = transactions(batch)
            .iter()
            .map(|transaction| {
                let ops = transaction.iter().map(|request| match &request.op {
                    WriteOp::HandOver { run, .. } => format!("hand over {run}"),
                    WriteOp::TakeHandedOver { .. } => "take".to_owned(),
                    other => format!("{other:?}"),
                });
                ops.collect()
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                vec!["hand over 1", "hand over 2"],
                vec!["take"],
                vec!["take"],
                vec!["hand over 3"],
            ]
        );
    }
}
