// The crate's documentation is the README, so that the two are one text and every example in
// it is compiled and run as a doctest (`cargo test --doc`).
#![doc = include_str!("../README.md")]
// The examples are what users copy: they compile without a warning, but for the workflows that
// only the first example runs (dead code) and the macro's `T_name` type parameters in the state
// enum shown.
#![doc(test(attr(deny(warnings), allow(dead_code, non_camel_case_types))))]

pub use cairn_macros::workflow;
pub use cairn_runtime::*;

/// The local web dashboard (feature `dashboard`): [`dashboard::router`] to mount it in your
/// own axum server, [`dashboard::serve`] to serve it alone, as `cairn ui` does.
#[cfg(feature = "dashboard")]
pub use cairn_dashboard as dashboard;
