//! Shared support of the LMDB-only tests that read or damage stored bytes (`damaged_*`,
//! `quarantine`, `start_commits`).
//! The restart harness and step counters of the behaviour tests are in the conformance suite
//! (`tests/conformance/support.rs`).

pub mod raw_store;
