//! The one error type of the runtime.
//!
//! A variant about a run names the run (and its workflow where the runtime knows it), so a
//! message read in a log says what went wrong without the surrounding code.
//!
//! The type is `Clone` (one failed commit is reported to every waiter of its batch) and holds
//! no dependency's error type, so that cairn's version is not tied to a storage driver's: a
//! backend's failure arrives as a [`StorageError`], converted in the backend (for LMDB,
//! `lmdb/error.rs`), and an I/O error is shared behind an `Arc`.

mod storage;

use std::sync::Arc;
use std::time::Duration;

use crate::run::{RunId, Status};

pub use storage::{StorageError, StorageErrorKind};

/// Everything that can go wrong when starting, running or querying workflow runs.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No workflow with this name (or of this type) is registered with the runtime.
    #[error("workflow `{name}` is not registered with this runtime (registered: {})", registered.join(", "))]
    UnknownWorkflow {
        /// The name that was asked for.
        name: String,
        /// The names that are registered.
        registered: Vec<String>,
    },
    /// A cron expression given to [`Schedule::cron`](crate::Schedule::cron) does not parse.
    #[error("invalid cron expression `{expression}`: {reason}")]
    InvalidCron {
        /// The expression as given.
        expression: String,
        /// What is wrong with it, as the cron parser says.
        reason: String,
    },
    /// Two schedules of one runtime have the same name (by default a schedule is named after
    /// its workflow: name the second with [`Schedule::name`](crate::Schedule::name)).
    #[error("two schedules are named `{name}`; schedule names must be unique")]
    DuplicateSchedule {
        /// The name used twice.
        name: String,
    },
    /// Two registered workflows have the same name.
    #[error("workflow `{name}` is registered twice; workflow names must be unique")]
    DuplicateWorkflow {
        /// The name registered twice.
        name: String,
    },
    /// A JSON input does not deserialize as the workflow's input type.
    #[error("malformed input for workflow `{workflow}`: {reason}")]
    MalformedInput {
        /// The workflow the input was meant for.
        workflow: String,
        /// What serde said.
        reason: String,
    },
    /// A JSON input given as an object keyed by parameter name does not have exactly the
    /// workflow's parameters as keys (see [`Client::start_json`](crate::Client::start_json)).
    #[error(
        "JSON input for workflow `{workflow}` is an object keyed by parameter name, but {}",
        crate::client::json_input::describe_keys(parameters, missing, unknown, as_value.as_deref())
    )]
    InputKeys {
        /// The workflow the input was meant for.
        workflow: String,
        /// Its parameters, in order.
        parameters: Vec<String>,
        /// Parameters the object has no key for.
        missing: Vec<String>,
        /// Keys of the object that name no parameter.
        unknown: Vec<String>,
        /// For a workflow with one parameter, why the object is not that parameter's value
        /// either (what serde said).
        as_value: Option<String>,
    },
    /// The run was stored by a build whose state layout differs from the registered workflow's.
    #[error(
        "run {run} was stored by an incompatible version of workflow `{workflow}` \
         (stored layout {stored:#018x}, this build {expected:#018x}){}; it is left untouched: \
         register the version that stored it with `register_previous` to finish it, or move it \
         to the new layout with `RuntimeBuilder::migrate`",
        crate::layout::check::explain(changes, note.as_deref())
    )]
    IncompatibleState {
        /// The run.
        run: RunId,
        /// Its workflow.
        workflow: String,
        /// Fingerprint stored with the run.
        stored: u64,
        /// Fingerprint of the registered workflow.
        expected: u64,
        /// What changed in the state the run is in, field by field (empty when the layout that
        /// stored the run has no stored description, or a migration failed: see `note`).
        changes: Vec<crate::LayoutChange>,
        /// Why there is nothing more precise, or why a migration of the run failed.
        note: Option<String>,
    },
    /// A durable `for` loop was given an iterator without an end: its items could not be
    /// stored when it started.
    #[error(
        "run {run} (workflow `{workflow}`): the `for` loop{at} loops over an iterator without \
         an end ({}); the items of a loop with an `.await` in its body are stored when it \
         starts, so bound the iterator (`.take(n)`) or collect the items into a `Vec` first",
        unbounded_detail(*yielded)
    )]
    UnboundedLoop {
        /// The run.
        run: RunId,
        /// Its workflow.
        workflow: String,
        /// Where the loop is (` at line N`).
        at: &'static str,
        /// How many items the iterator yielded before it was given up (0: its size hint says
        /// it never ends).
        yielded: usize,
    },
    /// A second step started inside one `.await` of the workflow, before that await was
    /// committed: the steps of a helper `async fn` that takes `&mut Context` are not committed
    /// one by one. Refused before the second step runs; the run fails.
    #[error(
        "run {run} (workflow `{workflow}`): step `{second}` started inside the `.await` \
         {after}, in which step `{first}` had already run; the steps of one \
         `.await` are committed together, so after a failure or a crash `{first}` would run \
         again. A helper `async fn` that takes `&mut Context` is one `.await` of the workflow \
         and may run one step: inline its steps in the workflow, so that each has its own \
         `.await`, or make it a workflow of its own"
    )]
    StepInsideAwait {
        /// The run.
        run: RunId,
        /// Its workflow.
        workflow: String,
        /// Where the `.await` started: ``after state `Name` `` (or `after transition N` in a
        /// resumed run).
        after: String,
        /// The step that ran first.
        first: &'static str,
        /// The step that was refused.
        second: &'static str,
    },
    /// Stored bytes of a run (input, state or output) do not decode.
    #[error("stored data of run {run} (workflow `{workflow}`) is corrupt: {reason}")]
    CorruptState {
        /// The run.
        run: RunId,
        /// Its workflow.
        workflow: String,
        /// What the decoder said.
        reason: String,
    },
    /// A value could not be encoded for storage.
    #[error("could not encode {what} of workflow `{workflow}`: {reason}")]
    Encode {
        /// The workflow.
        workflow: String,
        /// What was being encoded (input, state, output).
        what: &'static str,
        /// What the encoder said.
        reason: String,
    },
    /// A value can be stored neither with postcard nor as JSON (see `codec.rs`), so nothing was
    /// committed: the run fails at the transition that would have stored it, or is not started.
    #[error(
        "cannot store {what} of workflow `{workflow}` (type `{rust_type}`): {reason}; a stored \
         value must decode back to the same value with postcard or with serde_json: give the \
         type a serde representation that JSON can hold (map keys that are strings or numbers, \
         a `Serialize` that succeeds), or keep the value out of what is stored (compute it again \
         after the `.await`)"
    )]
    Unstorable {
        /// The workflow.
        workflow: String,
        /// What was being stored: `input`, `output`, ``variable `x` of state `S` ``, ...
        what: String,
        /// The Rust type of the value (`std::any::type_name`).
        rust_type: String,
        /// What postcard and serde_json said.
        reason: String,
    },
    /// No run with this id exists.
    #[error("there is no run {run}")]
    UnknownRun {
        /// The run asked for.
        run: RunId,
    },
    /// The run belongs to another workflow than the one asked for.
    #[error("run {run} belongs to workflow `{actual}`, not `{expected}`")]
    WrongWorkflow {
        /// The run.
        run: RunId,
        /// The workflow asked for.
        expected: String,
        /// The workflow of the run.
        actual: String,
    },
    /// The run finished with an error.
    #[error("run {run} failed: {message}")]
    RunFailed {
        /// The run.
        run: RunId,
        /// The workflow's error message.
        message: String,
    },
    /// The run has no result yet.
    #[error("run {run} has not finished (status: {status})")]
    NotFinished {
        /// The run.
        run: RunId,
        /// Its current status.
        status: Status,
    },
    /// The transition hook returned [`Flow::Halt`](crate::Flow::Halt) for this run; it resumes on
    /// the next start of a runtime.
    #[error("run {run} was halted by the transition hook; it resumes on the next start")]
    Halted {
        /// The run.
        run: RunId,
    },
    /// The runtime was shut down.
    #[error("the runtime has been shut down")]
    ShutDown,
    /// [`RuntimeBuilder::start`](crate::RuntimeBuilder::start) was called outside a tokio runtime.
    #[error("the cairn runtime must be started inside a tokio runtime")]
    NoTokioRuntime,
    /// The data directory was written by another version of cairn.
    #[error(
        "the data directory uses storage format {found}, this build of cairn reads format {expected}"
    )]
    UnsupportedFormat {
        /// Format found on disk.
        found: u32,
        /// Format this build understands.
        expected: u32,
    },
    /// An argument is out of range: a duration that overflows the clock, a concurrency limit of
    /// zero, a retry policy without attempts, a state key or session id over its size limit.
    #[error("invalid argument to `{call}`: {reason}")]
    InvalidArgument {
        /// The call that was given the argument.
        call: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Two branches of a named `parallel` call have the same name.
    #[error("two branches of a named `parallel` call are both named `{name}` (run {run})")]
    DuplicateBranch {
        /// The run.
        run: RunId,
        /// The name given twice.
        name: String,
    },
    /// A value of the run's durable state does not deserialize as the type asked for.
    #[error("state `{key}` of run {run} is not of the type asked for: {reason}")]
    StateType {
        /// The run.
        run: RunId,
        /// The key of the value.
        key: String,
        /// What the decoder said.
        reason: String,
    },
    /// A step attempt did not finish within its timeout.
    #[error("step `{step}` timed out after {after:?}")]
    Timeout {
        /// The step.
        step: String,
        /// Its timeout.
        after: Duration,
    },
    /// [`Client::resume`](crate::Client::resume) was asked to resume a run that has not failed.
    #[error("run {run} cannot be resumed: only a failed run can (status: {status})")]
    NotResumable {
        /// The run.
        run: RunId,
        /// Its current status.
        status: Status,
    },
    /// [`Client::fail`](crate::Client::fail) or [`Client::purge_run`](crate::Client::purge_run)
    /// was given a run that is not quarantined (and, for a purge, not finished either): a
    /// healthy unfinished run is failed or removed by its own code, not from outside.
    #[error(
        "run {run} is not quarantined (status: {status}); only a quarantined run can be failed from outside, and only a quarantined or finished run purged"
    )]
    NotQuarantined {
        /// The run.
        run: RunId,
        /// Its current status.
        status: Status,
    },
    /// [`Client::answer`](crate::Client::answer) was given a run that is not waiting for an
    /// answer (it is at no question, or has finished).
    #[error("run {run} is not waiting for an answer (status: {status})")]
    NotWaiting {
        /// The run.
        run: RunId,
        /// Its current status.
        status: Status,
    },
    /// The question the run waits on already has an answer (which is kept).
    #[error("the question of run {run} has already been answered")]
    AlreadyAnswered {
        /// The run.
        run: RunId,
    },
    /// The answer does not fit the question (an option that is not offered, a text for an
    /// approval, a skip where skipping is not allowed).
    #[error("invalid answer for run {run}: {reason}")]
    InvalidAnswer {
        /// The run.
        run: RunId,
        /// What does not fit.
        reason: String,
    },
    /// A run of the session has not finished, so the next one cannot start from its state.
    #[error("session `{session}` is busy: its run {run} has not finished")]
    SessionBusy {
        /// The session.
        session: String,
        /// Its unfinished run.
        run: RunId,
    },
    /// The disk holding the database is full: a commit found no room for what it writes
    /// (with LMDB's write map, it could not reserve that room up front; see
    /// [`LmdbOptions::write_map`](crate::LmdbOptions::write_map)), so nothing of it was
    /// committed. Retrying once space is freed commits it.
    #[error("the disk holding {} is full: could not reserve {needed} bytes for a commit", path.display())]
    DiskFull {
        /// The database file.
        path: std::path::PathBuf,
        /// Bytes the commit could not get: what it wanted reserved past the database's last
        /// used page, or (without the write map) about what it writes.
        needed: u64,
    },
    /// Another runtime holds the data directory: one runtime per directory, or every run
    /// would be driven twice. A client-only open ([`Client::open`](crate::Client::open)) is
    /// allowed next to it.
    #[error(
        "the data directory {} is in use by another cairn runtime (pid {}); only one runtime \
         may run a directory: stop that one first, or open this process as a client with \
         `Client::open` or `RuntimeBuilder::client_only`",
        path.display(),
        pid.map_or_else(|| "unknown".to_owned(), |pid| pid.to_string())
    )]
    DirectoryInUse {
        /// The data directory.
        path: std::path::PathBuf,
        /// The process that holds it, as it wrote it in the lock file (`None` if unreadable).
        pid: Option<u32>,
    },
    /// A write through a client opened on a data directory it may only read (a read-only file
    /// system or files without write permission; see [`Client::open`](crate::Client::open)).
    #[error("the data directory {} is open read-only: nothing can be written to it", path.display())]
    ReadOnly {
        /// The data directory.
        path: std::path::PathBuf,
    },
    /// The data file is not LMDB's or was cut short (found at open, before LMDB maps it), or
    /// an entry of the data directory's own bookkeeping (not of a run) is damaged, so using
    /// the directory could silently change what runs see (say, the instance id that is part
    /// of every idempotency key). Restore the directory from a backup.
    #[error("the data directory {} is damaged: `{key}` {reason}", path.display())]
    CorruptDirectory {
        /// The data directory.
        path: std::path::PathBuf,
        /// The damaged entry.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The storage backend failed (see [`StorageError::kind`] for what kind of failure).
    #[error("storage error: {0}")]
    Storage(#[from] StorageError),
    /// A file system operation of cairn's own failed (the data directory, its lock file).
    /// Shared behind an `Arc` because `io::Error` cannot be cloned; `?` converts an
    /// `io::Error` into this variant.
    #[error("i/o error: {0}")]
    Io(#[source] Arc<std::io::Error>),
    /// The run was cancelled ([`Client::cancel`](crate::Client::cancel)): what
    /// [`Client::wait`](crate::Client::wait) and [`Client::result`](crate::Client::result)
    /// return for it.
    #[error("run {run} was cancelled")]
    Cancelled {
        /// The run.
        run: RunId,
    },
    /// The run was paused ([`Client::pause`](crate::Client::pause)) while it ran: its task
    /// stopped after committing its step, and it goes on after
    /// [`Client::unpause`](crate::Client::unpause).
    #[error("run {run} was paused")]
    Paused {
        /// The run.
        run: RunId,
    },
    /// A child workflow started with [`Context::child`](crate::Context::child) failed: what
    /// the call returns to its parent.
    #[error("child run {child} (workflow `{workflow}`) of run {run} failed: {message}")]
    ChildFailed {
        /// The parent run.
        run: RunId,
        /// The child run.
        child: RunId,
        /// The child's workflow.
        workflow: String,
        /// The child's error message.
        message: String,
    },
    /// A child workflow started with [`Context::child`](crate::Context::child) was cancelled
    /// ([`Client::cancel`](crate::Client::cancel) of the child itself): what the call returns
    /// to its parent.
    #[error("child run {child} (workflow `{workflow}`) of run {run} was cancelled")]
    ChildCancelled {
        /// The parent run.
        run: RunId,
        /// The child run.
        child: RunId,
        /// The child's workflow.
        workflow: String,
    },
    /// A worker's commit of `run` was refused because the worker no longer holds the run's
    /// lease (PostgreSQL backend): it was paused or cut off from the database past the lease,
    /// and another worker took the run over. The run is stopped in this worker; the stored
    /// state is the new owner's. The step this worker ran may have run twice (steps are
    /// at-least-once); no committed state was overwritten.
    #[error(
        "run {run} was taken over by another worker (this worker's lease expired): its commit was refused and the run stopped here"
    )]
    LeaseLost {
        /// The run.
        run: RunId,
    },
    /// A commit of `run`'s own task (a new state, a durable sleep, a question, its end) was made
    /// at `position`, and the stored run is no longer there: another task (in this process or
    /// another) committed it further meanwhile. On PostgreSQL this is how a worker's task that
    /// outlived its lease is stopped once its worker owns the run again (a double fault: the
    /// lease's fence alone would pass). The commit was refused, nothing of it written, and the
    /// task that made it stopped (a warning in the log; [`Runtime::stopped`](crate::Runtime::stopped)
    /// returns the error until the run's next task here starts). The run goes on from the
    /// stored state: if it is running there, in a new task that the runtime starts at once.
    #[error(
        "run {run} has moved on: a commit at position {position} was refused, the stored run is at position {stored}"
    )]
    MovedOn {
        /// The run.
        run: RunId,
        /// The position the refused commit was made at.
        position: u64,
        /// The stored run's position (its number of committed transitions).
        stored: u64,
    },
    /// [`Client::cancel`](crate::Client::cancel) was given a run that has finished.
    #[error("run {run} cannot be cancelled: it has finished (status: {status})")]
    NotCancellable {
        /// The run.
        run: RunId,
        /// Its current status.
        status: Status,
    },
    /// [`Client::pause`](crate::Client::pause) was given a run that has finished.
    #[error("run {run} cannot be paused: it has finished (status: {status})")]
    NotPausable {
        /// The run.
        run: RunId,
        /// Its current status.
        status: Status,
    },
    /// [`Client::unpause`](crate::Client::unpause) was given a run that is not paused (nor
    /// about to be).
    #[error("run {run} is not paused (status: {status})")]
    NotPaused {
        /// The run.
        run: RunId,
        /// Its current status.
        status: Status,
    },
    /// [`Client::send`](crate::Client::send) to a run that has finished: nothing will ever
    /// receive the event, so it is refused rather than stored.
    #[error("run {run} has finished (status: {status}): it takes no more events")]
    EventToFinishedRun {
        /// The run.
        run: RunId,
        /// Its status.
        status: Status,
    },
    /// An event's payload is not of the type its receiver waits for: refused by
    /// [`Client::send`](crate::Client::send) when the receiving workflow is registered in the
    /// sending process, else the run that receives it fails with this error.
    #[error("event `{event}` for run {run} is not a `{expected}`: {reason}")]
    EventType {
        /// The run.
        run: RunId,
        /// The event's name.
        event: String,
        /// The type the workflow waits for (`std::any::type_name`).
        expected: String,
        /// What serde said.
        reason: String,
    },
}

impl Error {
    /// Whether a commit that failed with this error would fail the same way however often it
    /// is retried: a value that cannot be encoded, an argument out of range, a key or value
    /// over the backend's size limit. The run is then failed with the error (resumable once
    /// the cause is fixed) rather than left unfinished, which would re-run its step at every
    /// restart. A full disk, an I/O error, a full database or a shutdown may pass, and are not.
    pub(crate) fn refused_for_good(&self) -> bool {
        match self {
            Error::Encode { .. } | Error::Unstorable { .. } | Error::InvalidArgument { .. } => true,
            Error::Storage(storage) => matches!(
                storage.kind(),
                StorageErrorKind::TooLarge | StorageErrorKind::Encoding
            ),
            _ => false,
        }
    }

    /// The operating system's error behind this one, if it is an I/O failure of cairn's own
    /// or of the storage backend.
    pub(crate) fn io_error(&self) -> Option<&std::io::Error> {
        match self {
            Error::Io(io) => Some(io),
            Error::Storage(storage) => storage.io_error(),
            _ => None,
        }
    }
}

fn unbounded_detail(yielded: usize) -> String {
    if yielded == 0 {
        "its size hint says it never ends".to_owned()
    } else {
        format!("its size hint has no upper bound, and it did not end after {yielded} items")
    }
}

/// Lets `?` carry a cairn error (a timeout, a bad argument, an undecodable state value) out of
/// a workflow or step whose error type is `String`.
impl From<Error> for String {
    fn from(error: Error) -> String {
        error.to_string()
    }
}

/// Lets `?` turn an I/O error into a cairn error.
impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Error {
        Error::Io(Arc::new(error))
    }
}

/// Lets `?` carry a cairn error out of a workflow or step whose error type is `io::Error`: an
/// I/O error comes back as it was (or, while a clone of the cairn error still shares it, as an
/// error of the same kind with it as the source), a timeout as
/// [`TimedOut`](std::io::ErrorKind::TimedOut), a full disk as
/// [`StorageFull`](std::io::ErrorKind::StorageFull), anything else as
/// [`Other`](std::io::ErrorKind::Other) with the cairn error as its source.
impl From<Error> for std::io::Error {
    fn from(error: Error) -> std::io::Error {
        match error {
            Error::Io(e) => Arc::try_unwrap(e).unwrap_or_else(|e| std::io::Error::new(e.kind(), e)),
            Error::Timeout { .. } => std::io::Error::new(std::io::ErrorKind::TimedOut, error),
            Error::DiskFull { .. } => std::io::Error::new(std::io::ErrorKind::StorageFull, error),
            other => std::io::Error::other(other),
        }
    }
}

#[cfg(test)]
mod tests;
