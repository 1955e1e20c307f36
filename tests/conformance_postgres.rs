//! The backend conformance suite (`tests/conformance/`) on PostgreSQL: the tests that run in the
//! test process. Its tests with child processes are `conformance_postgres_processes.rs`.

#[path = "conformance/mod.rs"]
mod conformance;
#[path = "conformance/in_process/mod.rs"]
mod in_process;

/// The backend every test of this binary runs on.
pub type BackendUnderTest = conformance::postgres::PostgresBackend;
