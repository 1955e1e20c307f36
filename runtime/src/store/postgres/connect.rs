//! The connection pool and the bridge from the [`Store`](crate::store::Store) trait's
//! synchronous calls to the async driver.
//!
//! The store owns a small multi-threaded tokio runtime: the pool's connections live there
//! (their I/O tasks are spawned on it), so they keep working whatever runtime, or none, the
//! caller is on. A call runs its future with [`Handle::block_on`](tokio::runtime::Handle::block_on)
//! on the calling thread: directly on a plain thread (the group committer's helper), inside
//! [`block_in_place`](tokio::task::block_in_place) on a worker of a multi-threaded runtime (so
//! the worker's other tasks move on while it waits for the server), and on a short-lived scoped
//! thread from a current-thread runtime, which may not block in place.
//!
//! The group committer's small writes are the exception: they have a connection of their own,
//! which the committing thread drives itself (`committing.rs`), saving two thread wake-ups per
//! round trip.

use std::future::Future;

use deadpool_postgres::{Manager, ManagerConfig, Pool, QueueMode, RecyclingMethod};
use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

use super::committing::Committing;
use super::error::{pg_error, pool_error};
use crate::error::Error;
use crate::store::WriteOp;

/// The pool and the runtime its connections run on, and the group committer's connection.
pub(super) struct Driver {
    pool: Pool,
    /// `Some` until dropped: shut down in the background, since the last handle on the store
    /// may be dropped on a runtime thread, where a blocking shutdown would panic.
    runtime: Option<Runtime>,
    handle: Handle,
    /// The group committer's connection (`committing.rs`).
    committing: Committing,
}

impl Driver {
    /// At most `max_connections` connections to `config` (one of them the group committer's,
    /// `committing.rs`), with every connection's `search_path` set to `schema`.
    pub(super) fn connect(
        mut config: tokio_postgres::Config,
        schema: &str,
        max_connections: usize,
    ) -> Result<Driver, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cairn-postgres")
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        // Unqualified table names in every statement resolve to the user's schema. Options
        // the URL gave (a `statement_timeout`, say) are kept, ahead of ours: set after them,
        // the schema wins over a `search_path` of their own.
        let options = match config.get_options() {
            Some(given) if !given.trim().is_empty() => format!("{given} -c search_path={schema}"),
            _ => format!("-c search_path={schema}"),
        };
        config.options(options);
        let pool = new_pool(config.clone(), max_connections.saturating_sub(1).max(1))?;
        let committing = Committing::new(config)?;
        Ok(Driver {
            pool,
            runtime: Some(runtime),
            handle,
            committing,
        })
    }

    /// Runs `f` with a pooled connection and returns its result, blocking the calling thread.
    pub(super) fn run<T, F>(
        &self,
        f: impl FnOnce(deadpool_postgres::Object) -> F + Send,
    ) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>> + Send,
        T: Send,
    {
        self.block_on(async {
            let client = self.pool.get().await.map_err(pool_error)?;
            f(client).await
        })
    }

    /// [`run`](Self::run) for a transaction: run again, on a fresh connection, when the server
    /// aborted it as a deadlock victim or a serialization failure (see
    /// [`is_retryable`](super::error::is_retryable)), a few times with a short, growing pause;
    /// the last error otherwise.
    pub(super) fn run_transaction<T, F>(
        &self,
        f: impl Fn(deadpool_postgres::Object) -> F + Send + Sync,
    ) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>> + Send,
        T: Send,
    {
        self.block_on(retrying(&self.pool, f))
    }

    /// [`run_transaction`](Self::run_transaction) for a write of `ops` by the group committer
    /// ([`Store::write`](crate::store::Store::write)): a small one on the committer's own
    /// connection, driven by the committing thread (see `committing.rs`), a larger one on the
    /// pool's. So is an op that commits alone, which may run beside the committer's batch
    /// ([`WriteOp::commits_alone`]): it must not wait for that batch's connection.
    pub(super) fn commit_transaction<T, F>(
        &self,
        ops: &[&WriteOp],
        f: impl Fn(deadpool_postgres::Object) -> F + Send + Sync,
    ) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>> + Send,
        T: Send,
    {
        if ops.len() <= super::committing::MOST_OPS && !ops.iter().any(|op| op.commits_alone()) {
            self.committing.run(f)
        } else {
            self.run_transaction(f)
        }
    }

    /// Runs `future` to completion on the store's runtime from any thread (see the module doc).
    pub(super) fn block_on<T: Send>(&self, future: impl Future<Output = T> + Send) -> T {
        blocking(|| self.handle.block_on(future))
    }

    /// The store's runtime, for its background tasks (heartbeat, notifications).
    pub(super) fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A pool of at most `size` connections to `config` (its `search_path` set by the caller).
pub(super) fn new_pool(config: tokio_postgres::Config, size: usize) -> Result<Pool, Error> {
    let manager = Manager::from_config(
        config,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    // The connection used last is taken first: a lone run's statements go to one server
    // process, whose caches and plans are warm, instead of each of the pool's in turn (each
    // of which planned its statements anew: five custom plans of ~0.3-0.9 ms before the
    // server keeps a generic one). The group committer's pool of one has nothing to choose.
    Pool::builder(manager)
        .max_size(size)
        .queue_mode(QueueMode::Lifo)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .map_err(|e| Error::from(std::io::Error::other(format!("PostgreSQL pool: {e}"))))
}

/// Runs `wait`, which blocks the calling thread until a future of another runtime is done:
/// directly on a plain thread, in [`block_in_place`](tokio::task::block_in_place) on a
/// worker of a multi-threaded runtime, on a scoped thread from a current-thread runtime,
/// which may not block in place.
pub(super) fn blocking<T: Send>(wait: impl FnOnce() -> T + Send) -> T {
    match Handle::try_current() {
        Err(_) => wait(),
        Ok(caller) if caller.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(wait)
        }
        Ok(_) => std::thread::scope(|scope| {
            // A current-thread runtime cannot block in place; its thread waits here.
            match scope.spawn(wait).join() {
                Ok(out) => out,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }),
    }
}

/// `f` with a connection of `pool`, run again on a fresh connection when the server aborted
/// its transaction as a deadlock victim or a serialization failure (see
/// [`is_retryable`](super::error::is_retryable)), a few times with a short, growing pause;
/// the last error otherwise.
pub(super) async fn retrying<T, F>(
    pool: &Pool,
    f: impl Fn(deadpool_postgres::Object) -> F + Send + Sync,
) -> Result<T, Error>
where
    F: Future<Output = Result<T, Error>> + Send,
    T: Send,
{
    const ATTEMPTS: u32 = 5;
    let mut attempt = 1;
    loop {
        let client = pool.get().await.map_err(pool_error)?;
        match f(client).await {
            Err(error) if attempt < ATTEMPTS && super::error::is_retryable(&error) => {
                // A warning, not a debug line: the lock order (see `leases.rs`) is meant to
                // leave no deadlock, and the multi-worker tests read it.
                tracing::warn!(
                    attempt,
                    %error,
                    "PostgreSQL transaction aborted by the server, run again"
                );
                tokio::time::sleep(std::time::Duration::from_millis(5 * u64::from(attempt))).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Turns a driver error into cairn's (for `?` in the async bodies).
pub(super) trait PgResult<T> {
    fn pg(self) -> Result<T, Error>;
}

impl<T> PgResult<T> for Result<T, tokio_postgres::Error> {
    fn pg(self) -> Result<T, Error> {
        self.map_err(pg_error)
    }
}
