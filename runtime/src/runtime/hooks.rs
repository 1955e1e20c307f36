//! The hooks a [`RuntimeBuilder`](super::RuntimeBuilder) can install: called right after each
//! committed transition ([`Transition`]) or `parallel` branch ([`BranchCommit`]), on the run's
//! task; their [`Flow`] can stop the run there, as if the process died (crash tests).

use crate::run::RunId;

/// A transition that has just been committed, as shown to the hook of
/// [`RuntimeBuilder::on_transition`](crate::RuntimeBuilder::on_transition).
#[derive(Clone, Copy, Debug)]
pub struct Transition<'a> {
    /// The run.
    pub run: RunId,
    /// Its workflow.
    pub workflow: &'a str,
    /// Name of the new state.
    pub state: &'a str,
    /// Step whose completion led to it, if any.
    pub step: Option<&'a str>,
    /// Number of this transition in the run, from 1.
    pub number: u64,
}

/// Returned by the transition hook, called right after each commit on the run's task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Carry on.
    Continue,
    /// Stop this run right after the commit, as if the process died there (the run stays
    /// unfinished and resumes on the next start). For crash tests.
    Halt,
}

pub(crate) type Hook = Box<dyn Fn(&Transition<'_>) -> Flow + Send + Sync>;

/// A `parallel` branch whose output has just been committed, as shown to the hook of
/// [`RuntimeBuilder::on_branch`](crate::RuntimeBuilder::on_branch).
#[derive(Clone, Copy, Debug)]
pub struct BranchCommit<'a> {
    /// The run.
    pub run: RunId,
    /// Its workflow.
    pub workflow: &'a str,
    /// The run's position (committed transitions) at the `parallel` call.
    pub position: u64,
    /// Index of the branch in the call.
    pub index: usize,
    /// Name of the branch.
    pub name: &'a str,
}

pub(crate) type BranchHook = Box<dyn Fn(&BranchCommit<'_>) -> Flow + Send + Sync>;
