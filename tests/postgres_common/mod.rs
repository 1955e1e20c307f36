//! What the PostgreSQL-only tests (`tests/postgres_*.rs`) share: the throwaway server, a
//! fresh schema per test, a client-only runtime on it in the test process, and worker
//! processes (the test binary re-run as a child, with the store in its environment) whose
//! step executions are lines in an append-only log file; waits with a deadline. Each test
//! file keeps only its workflows, its child's roles and its scenario.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cairn::{Client, PostgresOptions, RuntimeBuilder};

#[path = "../conformance/postgres_server.rs"]
pub mod postgres_server;

#[path = "../context_common/process.rs"]
pub mod process;

pub mod gate;

// Each test binary uses a part of it.
#[allow(unused_imports)]
pub use process::{Proc, child_dir, count_in_log, log, param, read_log, report, tokio_runtime};

const URL_VAR: &str = "CAIRN_PG_URL";
const SCHEMA_VAR: &str = "CAIRN_PG_SCHEMA";
const LEASE_VAR: &str = "CAIRN_PG_LEASE_MS";

/// A schema of the test server, with the lease its workers use.
#[derive(Clone, Debug)]
pub struct Store {
    pub url: String,
    pub schema: String,
    pub lease: Duration,
}

impl Store {
    /// A new schema (created by the first process that opens it).
    pub fn fresh(lease: Duration) -> Store {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Store {
            url: postgres_server::url().to_owned(),
            schema: format!(
                "w{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ),
            lease,
        }
    }

    /// In a child: the store its parent passed.
    pub fn from_parent() -> Store {
        let var = |name| std::env::var(name).expect("the parent passes the store");
        Store {
            url: var(URL_VAR),
            schema: var(SCHEMA_VAR),
            lease: Duration::from_millis(var(LEASE_VAR).parse().expect("a lease in ms")),
        }
    }

    /// Options that reach the store, with its lease and small claim batches (so that the
    /// runs spread over the workers).
    pub fn options(&self) -> PostgresOptions {
        PostgresOptions::new(self.url.clone())
            .schema(self.schema.clone())
            .lease(self.lease)
            .claim_batch(16)
    }

    /// Starts this test binary's `entry` test as a child on this store, with the scratch
    /// directory `dir` and the parameter `param` (its role or number).
    pub fn spawn(&self, entry: &str, dir: &Path, param: u64) -> Proc {
        let mut command: Command = process::child_command(entry, dir, 0, param);
        command
            .env(URL_VAR, &self.url)
            .env(SCHEMA_VAR, &self.schema)
            .env(LEASE_VAR, self.lease.as_millis().to_string());
        // Workers sharing hundreds of runs on a busy machine work longer than the usual
        // child's watchdog allows.
        Proc::start_for(command, Duration::from_secs(180))
    }

    /// Starts this test binary's `child_entry` test as a worker on this store (see
    /// [`spawn`](Self::spawn)) and waits until it reports `ready`.
    pub fn start_worker(&self, dir: &Path, param: u64) -> Proc {
        let mut worker = self.spawn("child_entry", dir, param);
        assert_eq!(
            worker.until("ready"),
            "ready",
            "worker of parameter {param}"
        );
        worker
    }

    /// A client-only runtime on this store, in the test process: `builder` (with the
    /// workflows registered, for typed calls) on the store's options.
    pub fn client(&self, builder: RuntimeBuilder) -> Client {
        builder
            .postgres(self.options())
            .client_only()
            .start()
            .expect("client")
            .client()
    }
}

/// The test process's start of a scenario: a fresh schema with `lease`, and the scratch
/// directory its worker processes log to; `None` in a child (the test binary re-run as a
/// worker), where the scenario must not run.
pub fn scenario(lease: Duration) -> Option<(Store, tempfile::TempDir)> {
    if child_dir().is_some() {
        return None;
    }
    Some((Store::fresh(lease), tempfile::tempdir().unwrap()))
}

/// Polls `done` every 20 ms until it holds, for at most `patience`; panics with `what`
/// otherwise.
pub fn eventually(patience: Duration, what: &str, done: impl FnMut() -> bool) {
    wait_for(patience, done, || what.to_owned());
}

/// [`eventually`], with what it waited for said by `what`, called on a time-out, so that it
/// can show the state at the time.
pub fn wait_for(patience: Duration, mut done: impl FnMut() -> bool, what: impl FnOnce() -> String) {
    let began = Instant::now();
    while !done() {
        if began.elapsed() > patience {
            panic!("timed out after {patience:?} waiting for {}", what());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Shows the runtime's warnings and errors in the test's output (a commit that failed says
/// why); a subscriber set already stays.
pub fn show_warnings() {
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs `future` (a client's wait, say) on `tokio`; panics with `what` if it does not end
/// within `patience`.
pub fn within<T>(
    tokio: &tokio::runtime::Runtime,
    patience: Duration,
    what: &str,
    future: impl Future<Output = T>,
) -> T {
    tokio
        .block_on(tokio::time::timeout(patience, future))
        .expect(what)
}

/// A connection of the test's own to the store's server (tables named with their schema, or
/// after a `SET search_path`), its connection task spawned on the current tokio runtime.
pub async fn connect(store: &Store) -> tokio_postgres::Client {
    let (db, connection) = tokio_postgres::connect(&store.url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test server");
    tokio::spawn(connection);
    db
}

/// `psql` of the installed PostgreSQL: on the `PATH`, else Debian's, newest first.
pub fn psql() -> std::path::PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("psql"))
            .find(|psql| psql.is_file())
    });
    on_path.unwrap_or_else(|| {
        let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's binaries")
            .filter_map(|entry| Some(entry.ok()?.path().join("bin/psql")))
            .filter(|psql| psql.is_file())
            .collect();
        found.sort();
        found.pop().expect("psql")
    })
}

/// Runs `sql` through `psql` in the store's schema, as another process would; its output,
/// one row per line.
pub fn sql(store: &Store, sql: &str) -> String {
    let output = Command::new(psql())
        .arg(&store.url)
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-At", "-c"])
        .arg(format!("SET search_path = {}; {sql}", store.schema))
        .output()
        .expect("psql runs");
    assert!(
        output.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Takes over every other run of `runs` as another worker's claim would (a new owner, a new
/// epoch, a lease that lasts): this worker's next commits of those runs must be refused.
/// Returns the runs taken.
pub fn take_every_other(store: &Store, runs: &[cairn::RunId], owner: &str) -> Vec<cairn::RunId> {
    let taken: Vec<_> = runs.iter().copied().step_by(2).collect();
    let ids: Vec<String> = taken.iter().map(|run| run.0.to_string()).collect();
    let changed = sql(
        store,
        &format!(
            "UPDATE runs SET owner = '{owner}', epoch = epoch + 1,
                 lease_until_ms = 9000000000000000
             WHERE id IN ({}) RETURNING id",
            ids.join(",")
        ),
    );
    assert_eq!(changed.lines().count(), taken.len());
    taken
}
