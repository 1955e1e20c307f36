//! The contract a storage backend meets for the conformance suite: make a fresh, empty store
//! for one test, build runtimes and open clients on it, and hand it to a child process (the
//! SIGKILL tests). Every test of the suite reaches its store only through this trait, so a
//! backend that implements it runs every test unchanged.

use std::process::Command;

use cairn::{Client, Error, RuntimeBuilder};

/// A store the suite's tests run on. A value is one store: every runtime and client made from
/// it (in this process or a child) sees the same runs.
pub trait Backend: Sized {
    /// A new, empty store of its own, removed when the value is dropped: no runs, nothing
    /// shared with any other store (tests run in parallel), and run ids starting at 1 (tests
    /// assert ids such as `RunId(1)`).
    fn fresh() -> Self;

    /// A runtime builder on this store, with nothing registered and every other option left
    /// at its default; the test adds workflows, hooks and clocks.
    fn runtime(&self) -> RuntimeBuilder;

    /// A client on this store from a process that runs no workflow (`Client::open`).
    fn client(&self) -> Result<Client, Error>;

    /// Tells a child process, before it is spawned, how to reach this store
    /// ([`Backend::from_parent`] reads it there).
    fn pass_to_child(&self, command: &mut Command);

    /// In a child process: the store its parent passed. The parent owns it; dropping this
    /// value removes nothing.
    fn from_parent() -> Self;
}
