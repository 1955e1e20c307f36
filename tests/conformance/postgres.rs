//! The conformance suite's PostgreSQL backend: one schema per store, in the test process's
//! throwaway server (`postgres_server.rs`), reached with `Runtime::builder().postgres(..)`; a
//! child process gets the server's URL and the schema in `CAIRN_PG_URL` and `CAIRN_PG_SCHEMA`.

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use cairn::{Client, Error, PostgresOptions, Runtime, RuntimeBuilder};

use super::backend::Backend;
use super::postgres_server;

const CHILD_URL_VAR: &str = "CAIRN_PG_URL";
const CHILD_SCHEMA_VAR: &str = "CAIRN_PG_SCHEMA";

/// A schema of the test server: a store of its own.
pub struct PostgresBackend {
    url: String,
    schema: String,
}

impl PostgresBackend {
    /// The options that reach this store. One worker id per store: the suite runs one
    /// runtime on a store at a time (as LMDB allows), and a runtime restarted after a SIGKILL
    /// takes its runs back at once, as on LMDB, instead of waiting for their leases.
    pub fn options(&self) -> PostgresOptions {
        PostgresOptions::new(self.url.clone())
            .schema(self.schema.clone())
            .worker_id(format!("worker-{}", self.schema))
    }
}

impl Backend for PostgresBackend {
    fn fresh() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        // Unique across the test processes that may share a server (`CAIRN_TEST_POSTGRES_URL`).
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        PostgresBackend {
            url: postgres_server::url().to_owned(),
            schema: format!("t{}_{n}_{nanos}", std::process::id()),
        }
    }

    fn runtime(&self) -> RuntimeBuilder {
        Runtime::builder().postgres(self.options())
    }

    fn client(&self) -> Result<Client, Error> {
        Ok(Runtime::builder()
            .postgres(self.options())
            .client_only()
            .start()?
            .client())
    }

    fn pass_to_child(&self, command: &mut Command) {
        command.env(CHILD_URL_VAR, &self.url);
        command.env(CHILD_SCHEMA_VAR, &self.schema);
    }

    fn from_parent() -> Self {
        let var = |name| std::env::var(name).expect("the parent passes the PostgreSQL store");
        PostgresBackend {
            url: var(CHILD_URL_VAR),
            schema: var(CHILD_SCHEMA_VAR),
        }
    }
}
