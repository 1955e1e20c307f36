//! The backend conformance suite: cairn's behaviour tests, written once against
//! [`backend::Backend`] and run on every backend.
//!
//! TODO module doc
#![allow(dead_code)]

pub mod backend;
pub mod jump_clock;
pub mod lmdb;
pub mod process;
pub mod support;

pub use crate::BackendUnderTest;
pub use backend::Backend;

/// A new, empty store of the backend under test, removed when dropped.
pub fn fresh_store() -> BackendUnderTest {
    BackendUnderTest::fresh()
}

/// The name of the `child_entry` test of `module` (a `module_path!()` in this binary), as the
/// test harness names it: without the crate.
pub fn child_entry_of(module: &str) -> String {
    let (_crate, path) = module.split_once("::").expect("a module inside the suite");
    format!("{path}::child_entry")
}
