//! Group commit: transitions that arrive while a commit is in flight go into the next one.
//!
//! LMDB has one writer, and with [`Durability::Full`](crate::Durability::Full) every commit
//! pays an fsync (0.1 to several ms). Committing each transition in its own transaction caps a
//! whole process at one fsync per transition, however many runs are live. Instead every
//! writer on the hot path (checkpoints, completions, failures, `parallel` branches, durable
//! sleeps) submits a [`WriteOp`] and awaits a oneshot, and whoever commits takes everything
//! queued and applies it all in ONE write transaction (one fsync), then completes each
//! request. A transition's future therefore resolves only once its own commit is durable, and
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
//! Failures never drop a request silently. If one operation of a batch is refused (say, an
//! unknown run), the batch transaction is aborted and every request is retried in a
//! transaction of its own, so that only the faulty one fails. If the commit itself fails
//! (disk full, I/O error), every request of the batch gets the error.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};

use tokio::sync::oneshot;

use crate::error::Error;
use crate::history::HistoryRecord;
use crate::lmdb::LmdbStore;
use crate::loop_items::LoopItems;
use crate::run::RunId;
use crate::state::StateWrites;
use crate::store::{Commit, RunRecord, StoredSleep};

/// Most requests in one transaction: bounds the latency of the requests at the end of a batch
/// and the size of LMDB's dirty page list.
const MAX_BATCH: usize = 8192;

/// Payload bytes (states, loop items, outputs) of every operation committed in this process,
/// for the benchmarks: the figure that must not grow with a loop's length.
static PAYLOAD_BYTES: AtomicU64 = AtomicU64::new(0);

/// Payload bytes committed so far in this process (see `PAYLOAD_BYTES`).
pub fn payload_bytes_committed() -> u64 {
    PAYLOAD_BYTES.load(Ordering::Relaxed)
}

/// One write, owned, so that it can cross to the helper thread.
pub(crate) enum WriteOp {
    /// [`Store::create_run`](crate::store::Store::create_run): the outcome is the new run's id.
    CreateRun { record: RunRecord },
    /// Several new runs in one transaction, all or none (`Client::start_many`), with
    /// consecutive ids: the outcome is the first one. With `hand_over` (a client-only
    /// process) each run is also handed over to the running runtime in the same transaction.
    CreateRuns {
        records: Vec<RunRecord>,
        hand_over: bool,
    },
    /// [`Store::wake_due`](crate::store::Store::wake_due): the outcome is 1 if the run was
    /// woken (it must be resumed), 0 for a wake-up left behind by a sleep that ended otherwise.
    Wake { run: RunId, wake_ms: u64 },
    /// [`Store::commit_state`](crate::store::Store::commit_state), plus the items of loops
    /// entered in the segment that ends (see [`crate::loop_items`]).
    CommitState {
        run: RunId,
        state_name: &'static str,
        step: Option<&'static str>,
        state: Vec<u8>,
        writes: StateWrites,
        history: HistoryRecord,
        items: Vec<LoopItems>,
    },
    /// [`Store::complete`](crate::store::Store::complete); also drops the run's loop items.
    Complete {
        run: RunId,
        output: Vec<u8>,
        writes: StateWrites,
        history: HistoryRecord,
    },
    /// [`Store::fail`](crate::store::Store::fail).
    Fail {
        run: RunId,
        message: String,
        history: Option<HistoryRecord>,
    },
    /// [`Store::suspend`](crate::store::Store::suspend).
    Suspend {
        run: RunId,
        position: u64,
        sleep: StoredSleep,
    },
    /// [`Store::commit_branch`](crate::store::Store::commit_branch).
    CommitBranch {
        run: RunId,
        position: u64,
        index: u32,
        output: Vec<u8>,
    },
}

impl WriteOp {
    /// Applies the operation inside `txn`; returns the new transition count for a
    /// checkpoint, the id of a created run, whether a run woke, 0 otherwise.
    pub(crate) fn apply(&self, store: &LmdbStore, txn: &mut heed::RwTxn<'_>) -> Result<u64, Error> {
        match self {
            WriteOp::CreateRun { record } => store.create_run_in(txn, record).map(|run| run.0),
            WriteOp::CreateRuns { records, hand_over } => store
                .create_runs_in(txn, records, *hand_over)
                .map(|run| run.0),
            WriteOp::Wake { run, wake_ms } => store
                .wake_due_in(txn, *run, *wake_ms)
                .map(|woken| u64::from(woken.is_some())),
            WriteOp::CommitState {
                run,
                state_name,
                step,
                state,
                writes,
                history,
                items,
            } => {
                let commit = Commit {
                    run: *run,
                    state_name,
                    step: *step,
                    state,
                    writes,
                    history,
                };
                let number = store.commit_state_in(txn, commit)?;
                for loop_items in items {
                    crate::loop_items::put(store.loop_items, txn, *run, loop_items)?;
                }
                Ok(number)
            }
            WriteOp::Complete {
                run,
                output,
                writes,
                history,
            } => {
                store.complete_in(txn, *run, output, writes, history)?;
                crate::loop_items::delete_run(store.loop_items, txn, *run)?;
                Ok(0)
            }
            WriteOp::Fail {
                run,
                message,
                history,
            } => store
                .fail_in(txn, *run, message, history.as_ref())
                .map(|()| 0),
            WriteOp::Suspend {
                run,
                position,
                sleep,
            } => store.suspend_in(txn, *run, *position, *sleep).map(|()| 0),
            WriteOp::CommitBranch {
                run,
                position,
                index,
                output,
            } => store
                .commit_branch_in(txn, *run, *position, *index, output)
                .map(|()| 0),
        }
    }
}

impl WriteOp {
    fn payload_len(&self) -> u64 {
        let len = match self {
            WriteOp::CreateRun { record } => record.input.len(),
            WriteOp::CreateRuns { records, .. } => records.iter().map(|r| r.input.len()).sum(),
            WriteOp::Wake { .. } => 0,
            WriteOp::CommitState { state, items, .. } => {
                state.len() + items.iter().map(LoopItems::byte_len).sum::<usize>()
            }
            WriteOp::Complete { output, .. } | WriteOp::CommitBranch { output, .. } => output.len(),
            WriteOp::Fail { message, .. } => message.len(),
            WriteOp::Suspend { .. } => 16,
        };
        u64::try_from(len).unwrap_or(u64::MAX)
    }
}

/// A request and where its outcome goes.
pub(crate) struct Request {
    op: WriteOp,
    done: oneshot::Sender<Result<u64, Error>>,
}

/// How a store's writes reach LMDB, owned by the store: dropping it (with the store) ends
/// the helper thread once it has answered what was queued.
pub(crate) struct Committer(Arc<Inline>);

impl Committer {
    /// Commits on the submitting threads, with a helper thread that takes over under load;
    /// see [`Inline`]. `fsync` says whether a commit blocks for the disk
    /// ([`Durability::Full`](crate::Durability::Full)).
    pub fn start(store: Weak<LmdbStore>, fsync: bool) -> Result<Committer, Error> {
        let inline = Arc::new(Inline {
            queue: Mutex::new(Queue::default()),
            handoff: Condvar::new(),
            fsync,
        });
        let helper = inline.clone();
        std::thread::Builder::new()
            .name("cairn-committer".to_owned())
            .spawn(move || helper.help(&store))?;
        Ok(Committer(inline))
    }

    /// Queues `op` for the next group commit; the receiver yields its outcome once the commit
    /// holding it is durable. `store` is the store that owns this committer.
    pub fn submit(&self, store: &LmdbStore, op: WriteOp) -> oneshot::Receiver<Result<u64, Error>> {
        let (done, outcome) = oneshot::channel();
        self.0.submit(store, Request { op, done });
        outcome
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.handoff.notify_one();
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
    /// Commits fsync ([`Durability::Full`](crate::Durability::Full)).
    fsync: bool,
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
    /// The helper leads and waits (at most [`LINGER`]) for more requests: a submitter wakes it.
    lingering: bool,
}

/// How long the helper thread keeps the leadership with nothing queued, in case more
/// requests come (they do, under load) before stepping down.
const LINGER: std::time::Duration = std::time::Duration::from_micros(50);

impl Inline {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue is consistent at every unlock, so a panic elsewhere leaves it usable.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn submit(&self, store: &LmdbStore, request: Request) {
        let mut queue = self.lock();
        queue.requests.push(request);
        if queue.leading {
            if queue.lingering {
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
        // The commit blocks this thread on purpose, inside the poll of the leader's run: not
        // the step's doing (see `crate::blocking`).
        crate::blocking::excused(|| {
            if self.fsync {
                // Outside a runtime this just runs the closure.
                tokio::task::block_in_place(|| commit_batch(store, &mut batch));
            } else {
                commit_batch(store, &mut batch);
            }
        });
        let mut queue = self.lock();
        std::mem::forget(unwind);
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

    /// Body of the helper thread: leads whenever a submitter hands over.
    fn help(&self, store: &Weak<LmdbStore>) {
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
                queue = self.commit_queued(store, queue, &mut batch);
                if queue.closed {
                    break;
                }
                // Under load the next requests come within microseconds: waiting for them
                // here is cheaper than stepping down and being woken for the next hand-over.
                queue.lingering = true;
                queue = self
                    .handoff
                    .wait_timeout(queue, LINGER)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                queue.lingering = false;
                if queue.requests.is_empty() {
                    break;
                }
            }
            queue.leading = false;
        }
    }

    /// Commits batches until the queue is empty; returns with the queue locked.
    fn commit_queued<'a>(
        &'a self,
        store: &Weak<LmdbStore>,
        mut queue: MutexGuard<'a, Queue>,
        batch: &mut Vec<Request>,
    ) -> MutexGuard<'a, Queue> {
        while !queue.requests.is_empty() {
            let take = queue.requests.len().min(MAX_BATCH);
            batch.extend(queue.requests.drain(..take));
            drop(queue);
            match store.upgrade() {
                // A panicking commit drops its batch's senders (which `Shared::commit`
                // reports as an error) and must not end the thread every later hand-over
                // relies on.
                Some(store) => {
                    let committed = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        commit_batch(&store, batch);
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
            queue = self.lock();
        }
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

/// Commits every request of `batch` (emptying it) and completes each one.
fn commit_batch(store: &LmdbStore, batch: &mut Vec<Request>) {
    match try_batch(store, batch) {
        Ok(numbers) => {
            for (request, number) in batch.drain(..).zip(numbers) {
                let _ = request.done.send(Ok(number));
            }
        }
        Err(BatchError::Op) => {
            // Someone's operation was refused: isolate it, so the others still commit.
            for request in batch.drain(..) {
                let outcome = commit_one(store, &request.op);
                let _ = request.done.send(outcome);
            }
        }
        Err(BatchError::Commit(error)) => {
            tracing::error!(%error, requests = batch.len(), "group commit failed");
            for request in batch.drain(..) {
                let _ = request.done.send(Err(error.clone()));
            }
        }
    }
}

/// Why a batch did not commit.
enum BatchError {
    /// An operation failed; the transaction was aborted and nothing was written.
    Op,
    /// The transaction could not begin or commit.
    Commit(Error),
}

fn try_batch(store: &LmdbStore, batch: &[Request]) -> Result<Vec<u64>, BatchError> {
    let reserve = batch.iter().map(|request| request.op.reserve_bytes()).sum();
    let mut txn = store.write_txn_for(reserve).map_err(BatchError::Commit)?;
    let mut numbers = Vec::with_capacity(batch.len());
    for request in batch {
        // Dropping `txn` on the way out aborts it.
        numbers.push(
            request
                .op
                .apply(store, &mut txn)
                .map_err(|_| BatchError::Op)?,
        );
    }
    txn.commit()
        .map_err(|e| BatchError::Commit(store.write_error(Error::from(e), reserve)))?;
    // Counted once committed, so that a batch retried one by one is not counted twice.
    let payload: u64 = batch.iter().map(|request| request.op.payload_len()).sum();
    PAYLOAD_BYTES.fetch_add(payload, Ordering::Relaxed);
    Ok(numbers)
}

/// Applies and commits one operation in a transaction of its own.
pub(crate) fn commit_one(store: &LmdbStore, op: &WriteOp) -> Result<u64, Error> {
    let extra = op.reserve_bytes();
    let mut txn = store.write_txn_for(extra)?;
    // A put can write too: LMDB spills dirty pages of a large transaction to the file.
    let number = op
        .apply(store, &mut txn)
        .map_err(|e| store.write_error(e, extra))?;
    txn.commit()
        .map_err(|e| store.write_error(Error::from(e), extra))?;
    PAYLOAD_BYTES.fetch_add(op.payload_len(), Ordering::Relaxed);
    Ok(number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durability::Durability;
    use crate::history::HistoryOutcome;
    use crate::store::Store;

    fn checkpoint(run: RunId) -> WriteOp {
        WriteOp::CommitState {
            run,
            state_name: "Next",
            step: Some("s"),
            state: vec![1],
            writes: StateWrites::default(),
            history: HistoryRecord {
                number: 0,
                state: "Next".to_owned(),
                step: Some("s".to_owned()),
                started_at_ms: 1,
                ended_at_ms: 2,
                attempts: 1,
                attempt_errors: Vec::new(),
                outcome: HistoryOutcome::Committed,
            },
            items: Vec::new(),
        }
    }

    /// The state key limit is LMDB's: a key of [`MAX_STATE_KEY_BYTES`] commits, one byte more
    /// is refused for good (so the run fails rather than re-running its step at each restart),
    /// and the refusal, isolated, does not fail the requests batched with it.
    ///
    /// [`MAX_STATE_KEY_BYTES`]: crate::state::MAX_STATE_KEY_BYTES
    #[test]
    fn a_state_key_over_lmdbs_limit_is_refused_for_good_and_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            LmdbStore::open_shared(dir.path(), 1 << 24, Durability::ProcessCrash, false, true)
                .unwrap();
        let run = store.create_run(&RunRecord::new("w", 7, vec![])).unwrap();
        let with_key = |len: usize| {
            let mut op = checkpoint(run);
            if let WriteOp::CommitState { writes, .. } = &mut op {
                writes.puts.insert("k".repeat(len), Some(b"1".to_vec()));
            }
            op
        };
        let max = crate::state::MAX_STATE_KEY_BYTES;
        let mut batch = vec![with_key(max), with_key(max + 1), checkpoint(run)];
        let mut outcomes = Vec::new();
        let mut requests = Vec::new();
        for op in batch.drain(..) {
            let (done, outcome) = oneshot::channel();
            requests.push(Request { op, done });
            outcomes.push(outcome);
        }
        commit_batch(&store, &mut requests);
        let outcomes: Vec<_> = outcomes
            .into_iter()
            .map(|o| o.blocking_recv().unwrap())
            .collect();
        assert_eq!(outcomes[0].as_ref().unwrap(), &1);
        let refused = outcomes[1].as_ref().unwrap_err();
        assert!(refused.refused_for_good(), "{refused:?}");
        assert_eq!(outcomes[2].as_ref().unwrap(), &2);
        assert_eq!(store.state_all(run).unwrap().len(), 1);
    }

    /// Threads submitting at once: whoever leads commits the others' requests too, each
    /// request gets its own outcome in order, and a refused one fails alone.
    #[test]
    fn inline_leaders_commit_every_request_and_isolate_a_refused_one() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            LmdbStore::open_shared(dir.path(), 1 << 24, Durability::ProcessCrash, false, true)
                .unwrap();
        let runs: Vec<RunId> = (0..4)
            .map(|_| store.create_run(&RunRecord::new("w", 7, vec![])).unwrap())
            .collect();
        std::thread::scope(|s| {
            for &run in &runs {
                let store = &store;
                s.spawn(move || {
                    for i in 1..=50u64 {
                        let outcome = store.submit(checkpoint(run)).blocking_recv();
                        assert_eq!(outcome.unwrap().unwrap(), i);
                        if i % 10 == 0 {
                            let refused = store.submit(checkpoint(RunId(999)));
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
}
