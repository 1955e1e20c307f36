//! Shared support of the LMDB-only tests with child processes (`one_runtime`,
//! `refused_commits`). The behaviour tests' child processes are in the conformance suite
//! (`tests/conformance/process.rs`).

// Each test binary uses a part of it.
#![allow(dead_code)]

pub mod process;
