//! What the PostgreSQL-only tests (`tests/postgres_*.rs`) share: the throwaway server, a
//! fresh schema per test, and worker processes (the test binary re-run as a child, with the
//! store in its environment) whose step executions are lines in an append-only log file.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cairn::PostgresOptions;

#[path = "../conformance/postgres_server.rs"]
pub mod postgres_server;

#[path = "../context_common/process.rs"]
pub mod process;

// Each test binary uses a part of it.
#[allow(unused_imports)]
pub use process::{Proc, child_dir, param, read_log, report};

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
}

/// Appends `line` to the log of the child's directory in one `write` (O_APPEND), which
/// survives a SIGKILL right after it.
pub fn log(line: &str) {
    let dir = child_dir().expect("only children log");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("log"))
        .expect("open log");
    file.write_all(format!("{line}\n").as_bytes())
        .expect("write log");
}

/// A multi-threaded tokio runtime, as a worker process uses.
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Polls `done` every 20 ms until it holds, for at most `patience`; panics with `what`
/// otherwise.
pub fn eventually(patience: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let began = std::time::Instant::now();
    while !done() {
        assert!(began.elapsed() < patience, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
