//! The group committer's own connection, driven by the committing thread.
//!
//! Every other call of the store runs on the store's multi-threaded runtime (`connect.rs`):
//! the calling thread blocks while a connection task on another thread talks to the server,
//! so each round trip wakes two threads (the connection's, then the caller's), 35–60 µs of a
//! lone step's ~0.5 ms on a 2-core machine (measured against the same `UPDATE` awaited on the
//! connection's own runtime, with `synchronous_commit = off` so that only the hops differ).
//!
//! The group committer's small writes ([`Store::write`](crate::store::Store::write) of at
//! most [`MOST_OPS`] ops, one leader at a time: a lone run's step, or a few runs') use a
//! connection of their own, on a current-thread runtime that the committing thread drives
//! itself for the length of the write ([`Runtime::block_on`]): the connection's task runs on
//! that thread, and the server's answer reaches it with no hop. Between writes the
//! connection is idle and nothing polls it; what the server sent meanwhile (a notice, or the
//! connection's end) is read right before the next write, and a connection the server closed
//! is replaced by the pool.

use std::future::Future;

use deadpool_postgres::Pool;
use tokio::runtime::Runtime;

use crate::error::Error;

/// The most ops a write sends on the committer's own connection; larger batches go on the
/// pool's connections, as before. Measured (PostgreSQL bench, 1,000 runs x 10 steps, one
/// worker, five interleaved rounds): with every batch on this connection the worker made
/// 10,160–14,947 transitions/s, against 20,367–22,501 with none and 18,927–23,335 with only
/// single-op batches; latency gains come from the small ones. The cause, seen in
/// `pg_stat_statements`: on one connection every batch size shares one prepared statement per
/// shape, whose first five executions (small batches) made the server keep a generic plan,
/// and that plan runs a 1,000-run batch in ~39 ms where a custom plan takes 6–9 ms (on the
/// pool's connections large batches kept custom plans: as many plans as calls).
pub(super) const MOST_OPS: usize = 8;

/// The committer's connection (a pool of one, which reconnects) and the runtime that drives
/// it.
pub(super) struct Committing {
    pool: Pool,
    /// `Some` until dropped: shut down in the background, as the store's (a store may be
    /// dropped on a runtime thread, where a blocking shutdown panics).
    runtime: Option<Runtime>,
}

impl Committing {
    /// For `config` (with its `search_path` set): connects lazily, at the first write.
    pub(super) fn new(config: tokio_postgres::Config) -> Result<Committing, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Committing {
            pool: super::connect::new_pool(config, 1)?,
            runtime: Some(runtime),
        })
    }

    /// [`Driver::run_transaction`](super::connect::Driver::run_transaction) on this
    /// connection, driven by the calling thread. A connection is created inside the runtime's
    /// `block_on`, so its task is spawned on that runtime and runs while a write waits.
    pub(super) fn run<T, F>(
        &self,
        f: impl Fn(deadpool_postgres::Object) -> F + Send + Sync,
    ) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>> + Send,
        T: Send,
    {
        let runtime = self.runtime.as_ref().expect("the runtime lives until drop");
        let pool = &self.pool;
        super::connect::blocking(|| {
            runtime.block_on(async {
                read_while_idle().await;
                super::connect::retrying(pool, f).await
            })
        })
    }
}

/// Lets the idle connection's task read what the server sent since the last write, so that
/// the pool sees a connection the server closed meanwhile as closed, and replaces it, instead
/// of handing it to the write (whose statement would fail, and stop its run). The first yield
/// has the runtime poll the socket (a current-thread runtime polls its I/O driver when the
/// only runnable task yields); the second runs the connection's task on what it found. A
/// few µs; `tests/postgres_idle_connections.rs` fails without it.
async fn read_while_idle() {
    for _ in 0..2 {
        tokio::task::yield_now().await;
    }
}

impl Drop for Committing {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
