//! The backend conformance suite (`tests/conformance/`) on LMDB.
//!
//! A backend runs the suite with a file like this one: include the suite and name the
//! backend. Each backend gets a test binary of its own, so the process-wide state the tests
//! keep (step counters, gates, logs) is never shared between two backends.

#[path = "conformance/mod.rs"]
mod conformance;

/// The backend every test of the suite runs on in this binary.
pub type BackendUnderTest = conformance::lmdb::LmdbBackend;
