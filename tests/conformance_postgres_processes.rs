//! The backend conformance suite (`tests/conformance/`) on PostgreSQL: the tests with real child
//! processes, killed with SIGKILL or run side by side. The in-process tests are
//! `conformance_postgres.rs`.

#[path = "conformance/mod.rs"]
mod conformance;
#[path = "conformance/processes/mod.rs"]
mod processes;

/// The backend every test of this binary runs on.
pub type BackendUnderTest = conformance::postgres::PostgresBackend;
