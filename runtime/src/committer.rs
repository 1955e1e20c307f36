//! Group commit: one thread owns LMDB's write path and commits many transitions at once.
//!
//! LMDB has one writer, and with [`Durability::Full`](crate::Durability::Full) every commit
//! pays an fsync (about 200 µs). Committing each transition in its own transaction caps a
//! whole process at one fsync per transition, however many runs are live. Instead every
//! writer on the hot path (checkpoints, completions, failures, `parallel` branches, durable
//! sleeps) sends a [`WriteOp`] to the committer thread and awaits a oneshot. The thread takes
//! everything queued, applies it all in ONE write transaction and commits it (one fsync), then
//! completes each request; requests that arrive while a commit is in flight wait in the
//! channel and go into the next one. A transition's future therefore resolves only once its
//! own commit is durable, and under load the fsync is shared by the whole batch.
//!
//! Failures never drop a request silently. If one operation of a batch is refused (say, an
//! unknown run), the batch transaction is aborted and every request is retried in a
//! transaction of its own, so that only the faulty one fails. If the commit itself fails
//! (disk full, I/O error), every request of the batch gets the error.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Weak, mpsc};

use tokio::sync::oneshot;

use crate::error::Error;
use crate::history::HistoryRecord;
use crate::lmdb::LmdbStore;
use crate::loop_items::LoopItems;
use crate::run::RunId;
use crate::state::StateWrites;
use crate::store::{Commit, StoredSleep};

/// Most requests in one transaction: bounds the latency of the requests at the end of a batch
/// and the size of LMDB's dirty page list.
const MAX_BATCH: usize = 8192;

/// Payload bytes (states, loop items, outputs) of every operation committed in this process,
/// for the benchmarks: the figure that must not grow with a loop's length.
static PAYLOAD_BYTES: AtomicU64 = AtomicU64::new(0);

/// Payload bytes committed so far in this process (see [`PAYLOAD_BYTES`]).
pub fn payload_bytes_committed() -> u64 {
    PAYLOAD_BYTES.load(Ordering::Relaxed)
}

/// One write, owned, so that it can cross to the committer thread.
pub(crate) enum WriteOp {
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
    /// checkpoint, 0 otherwise.
    pub(crate) fn apply(&self, store: &LmdbStore, txn: &mut heed::RwTxn<'_>) -> Result<u64, Error> {
        PAYLOAD_BYTES.fetch_add(self.payload_len(), Ordering::Relaxed);
        match self {
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
struct Request {
    op: WriteOp,
    done: oneshot::Sender<Result<u64, Error>>,
}

/// The sending side of the committer thread, owned by the store. The thread holds only a
/// weak reference to the store, so dropping the store drops this sender, and the thread ends
/// once it has answered what was queued.
pub(crate) struct Committer {
    tx: mpsc::Sender<Request>,
}

impl Committer {
    /// Starts the committer thread, which applies requests to `store`.
    pub fn start(store: Weak<LmdbStore>) -> Result<Committer, Error> {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("cairn-committer".to_owned())
            .spawn(move || run(&store, &rx))?;
        Ok(Committer { tx })
    }

    /// Queues `op` for the next group commit; the receiver yields its outcome once the commit
    /// holding it is durable.
    pub fn submit(&self, op: WriteOp) -> oneshot::Receiver<Result<u64, Error>> {
        let (done, outcome) = oneshot::channel();
        let request = Request { op, done };
        if let Err(mpsc::SendError(request)) = self.tx.send(request) {
            let _ = request.done.send(Err(Error::ShutDown));
        }
        outcome
    }
}

/// Body of the committer thread.
fn run(store: &Weak<LmdbStore>, rx: &mpsc::Receiver<Request>) {
    let mut batch = Vec::new();
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        match store.upgrade() {
            Some(store) => commit_batch(&store, &mut batch),
            // The store is gone (the runtime shut down) while these were queued.
            None => {
                for request in batch.drain(..) {
                    let _ = request.done.send(Err(Error::ShutDown));
                }
            }
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
                let outcome = try_one(store, &request.op);
                let _ = request.done.send(outcome);
            }
        }
        Err(BatchError::Commit(error)) => {
            tracing::error!(%error, requests = batch.len(), "group commit failed");
            for request in batch.drain(..) {
                let _ = request.done.send(Err(error.duplicate()));
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
    let mut txn = store.write_txn().map_err(BatchError::Commit)?;
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
        .map_err(|e| BatchError::Commit(Error::from(e)))?;
    Ok(numbers)
}

fn try_one(store: &LmdbStore, op: &WriteOp) -> Result<u64, Error> {
    let mut txn = store.write_txn()?;
    let number = op.apply(store, &mut txn)?;
    txn.commit()?;
    Ok(number)
}
