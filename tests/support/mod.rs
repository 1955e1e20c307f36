//! Shared support of the LMDB-only tests that damage stored bytes (`damaged_*`, `quarantine`).
//! The restart harness and step counters of the behaviour tests are in the conformance suite
//! (`tests/conformance/support.rs`).

pub mod raw_store;
