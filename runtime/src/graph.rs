//! A workflow's state machine as data, generated at compile time by `#[workflow]`, and its
//! rendering as Mermaid and Graphviz DOT text for documentation and reviews.
//!
//! ```ignore
//! println!("{}", research_pipeline::graph().to_mermaid());
//! ```
//!
//! A runtime also stores each registered workflow's graph, owned ([`WorkflowGraph`], in
//! `graph/stored.rs`), so that tools without the workflow's code read it from the store
//! (`Client::workflow_graph`). Both forms render through the owned one.

use serde::{Deserialize, Serialize};

pub use stored::{GraphState, StoredWorkflow, WorkflowGraph};

/// The owned form of a graph, as stored for tools without the workflow's code.
mod stored;

/// The states of a workflow and the transitions between them.
#[derive(Debug)]
pub struct StateGraph {
    /// The workflow's name.
    pub workflow: &'static str,
    /// Its states, in source order; the first is the start.
    pub states: &'static [StateNode],
    /// Its transitions.
    pub edges: &'static [StateEdge],
}

/// One state of a workflow.
#[derive(Debug)]
pub struct StateNode {
    /// The name of the state's variant.
    pub name: &'static str,
    /// What the state stands for.
    pub kind: StateKind,
    /// The step whose completion leads to it, for states after an await.
    pub step: Option<&'static str>,
    /// The variables it holds.
    pub fields: &'static [&'static str],
}

/// What a state stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateKind {
    /// The start of a run, holding its inputs; not stored (the input is).
    Start,
    /// After an await: stored.
    Stored,
    /// Where the paths of a branch meet or a loop ends: not stored.
    Join,
    /// The head of a loop: not stored.
    LoopHead,
}

/// A transition; `to` is `None` where the run ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateEdge {
    /// Index of the state it leaves.
    pub from: usize,
    /// Index of the state it enters, or `None` for the end of the run.
    pub to: Option<usize>,
}

impl StateGraph {
    /// An empty graph, for workflows written by hand.
    pub const EMPTY: StateGraph = StateGraph {
        workflow: "",
        states: &[],
        edges: &[],
    };

    /// The graph as a Mermaid state diagram. Stored states are plain, transient ones dashed;
    /// edges into stored states carry the step's name.
    pub fn to_mermaid(&self) -> String {
        WorkflowGraph::from(self).to_mermaid()
    }

    /// The graph in Graphviz DOT. Stored states are boxes, transient ones dashed.
    pub fn to_dot(&self) -> String {
        WorkflowGraph::from(self).to_dot()
    }
}
