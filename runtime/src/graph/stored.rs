//! A workflow's state graph owned, serializable and renderable: what a runtime stores for each
//! registered workflow at start ([`StoredWorkflow`]), so that a tool without the workflow's
//! code (the `cairn` CLI, a dashboard) can read it from the store with
//! [`Client::workflow_graph`](crate::Client::workflow_graph) and draw where a run is.
//!
//! [`StateGraph`] is the compile-time form (`&'static` data the macro emits); it converts into
//! a [`WorkflowGraph`] with `From`, and its own `to_mermaid` and `to_dot` render through this
//! one, so that both forms draw the same text.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::{StateEdge, StateGraph, StateKind, StateNode};

/// The states of a workflow and the transitions between them, owned: read from the store,
/// or made from a [`StateGraph`] with `WorkflowGraph::from(graph)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowGraph {
    /// The workflow's name.
    pub workflow: String,
    /// Its states, in source order; the first is the start.
    pub states: Vec<GraphState>,
    /// Its transitions (indexes into `states`).
    pub edges: Vec<StateEdge>,
}

/// One state of a [`WorkflowGraph`] (the owned [`StateNode`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphState {
    /// The name of the state's variant: a run's [`RunStatus::state`](crate::RunStatus::state)
    /// is one of these.
    pub name: String,
    /// What the state stands for.
    pub kind: StateKind,
    /// The step whose completion leads to it, for states after an await.
    pub step: Option<String>,
    /// The variables it holds.
    pub fields: Vec<String>,
}

/// A workflow as a runtime registered it, read from the store by
/// [`Client::workflows`](crate::Client::workflows).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredWorkflow {
    /// The workflow's name (what runs are started by).
    pub name: String,
    /// The fingerprint of its state layout (its name, `version` and states), as stored with
    /// each of its runs: a run is drawn with the graph of its own fingerprint.
    pub fingerprint: u64,
    /// The same layout's fingerprint under cairn's first fingerprint scheme, which runs stored
    /// by older builds carry, if it has one.
    #[serde(default)]
    pub legacy_fingerprint: Option<u64>,
    /// The macro's fingerprint of the layout, when `fingerprint` is a layout id that mixes it
    /// with the traced description (see [`StateLayout`](crate::StateLayout)); runs stored by
    /// builds before descriptions carry it alone.
    #[serde(default)]
    pub code_fingerprint: Option<u64>,
    /// The description of the state enum traced when it was registered: every field of
    /// every state with its type spelled out, inferred types included (`None` from builds
    /// before descriptions).
    #[serde(default)]
    pub layout: Option<crate::StateLayout>,
    /// The `N` of `#[workflow(version = N)]` (`None` from builds before descriptions).
    #[serde(default)]
    pub version: Option<u32>,
    /// Whether this is the version new runs start with, as of the last registration; `false`
    /// for an older version kept with
    /// [`register_previous`](crate::RuntimeBuilder::register_previous), or replaced since.
    pub current: bool,
    /// When a runtime stored it as it is, in milliseconds since the Unix epoch (by the
    /// runtime's clock): a later start that registers it unchanged writes nothing, so this
    /// is the start that registered it first in this form (or changed its `current` mark).
    pub registered_at_ms: u64,
    /// Its state graph (empty for a workflow written by hand, without `#[workflow]`).
    pub graph: WorkflowGraph,
}

impl StoredWorkflow {
    /// Whether a run stored with `fingerprint` has this version's layout.
    pub fn has_layout(&self, fingerprint: u64) -> bool {
        fingerprint == self.fingerprint
            || Some(fingerprint) == self.legacy_fingerprint
            || Some(fingerprint) == self.code_fingerprint
    }
}

impl From<&StateNode> for GraphState {
    fn from(node: &StateNode) -> GraphState {
        GraphState {
            name: node.name.to_owned(),
            kind: node.kind,
            step: node.step.map(str::to_owned),
            fields: node.fields.iter().map(|&f| f.to_owned()).collect(),
        }
    }
}

impl From<&StateGraph> for WorkflowGraph {
    fn from(graph: &StateGraph) -> WorkflowGraph {
        WorkflowGraph {
            workflow: graph.workflow.to_owned(),
            states: graph.states.iter().map(GraphState::from).collect(),
            edges: graph.edges.to_vec(),
        }
    }
}

impl WorkflowGraph {
    /// The graph as a Mermaid state diagram. Stored states are plain, transient ones dashed;
    /// edges into stored states carry the step's name.
    pub fn to_mermaid(&self) -> String {
        self.mermaid(None)
    }

    /// [`to_mermaid`](Self::to_mermaid) with the state named `current` highlighted (a run's
    /// [`RunStatus::state`](crate::RunStatus::state)); a name not in the graph marks nothing.
    pub fn to_mermaid_marking(&self, current: &str) -> String {
        self.mermaid(Some(current))
    }

    /// The graph in Graphviz DOT. Stored states are boxes, transient ones dashed.
    pub fn to_dot(&self) -> String {
        self.dot(None)
    }

    /// [`to_dot`](Self::to_dot) with the state named `current` highlighted (a run's
    /// [`RunStatus::state`](crate::RunStatus::state)); a name not in the graph marks nothing.
    pub fn to_dot_marking(&self, current: &str) -> String {
        self.dot(Some(current))
    }

    /// The state an edge enters, `None` for the end of the run (or an index out of range,
    /// which a stored graph could hold if damaged: drawn as the end rather than a panic).
    fn target(&self, edge: &StateEdge) -> Option<&GraphState> {
        edge.to.and_then(|to| self.states.get(to))
    }

    fn name_of(&self, index: usize) -> &str {
        self.states.get(index).map_or("?", |s| s.name.as_str())
    }

    fn mermaid(&self, current: Option<&str>) -> String {
        let mut out = String::from("stateDiagram-v2\n");
        let _ = writeln!(out, "    %% workflow `{}`", self.workflow);
        for state in &self.states {
            let fields = if state.fields.is_empty() {
                "(nothing)".to_owned()
            } else {
                state.fields.join(", ")
            };
            let _ = writeln!(out, "    {} : {}", state.name, fields);
        }
        if let Some(start) = self.states.first() {
            let _ = writeln!(out, "    [*] --> {}", start.name);
        }
        for edge in &self.edges {
            let from = self.name_of(edge.from);
            match self.target(edge) {
                Some(to) => match to.step.as_deref().filter(|_| to.kind == StateKind::Stored) {
                    Some(step) => {
                        let _ = writeln!(out, "    {from} --> {} : {step}", to.name);
                    }
                    None => {
                        let _ = writeln!(out, "    {from} --> {}", to.name);
                    }
                },
                None => {
                    let _ = writeln!(out, "    {from} --> [*]");
                }
            }
        }
        let transient: Vec<&str> = self
            .states
            .iter()
            .filter(|s| matches!(s.kind, StateKind::Join | StateKind::LoopHead))
            .map(|s| s.name.as_str())
            .collect();
        if !transient.is_empty() {
            out.push_str("    classDef transient stroke-dasharray: 4 4\n");
            let _ = writeln!(out, "    class {} transient", transient.join(","));
        }
        if let Some(current) = current.filter(|c| self.states.iter().any(|s| s.name == *c)) {
            out.push_str("    classDef current fill:#ffe082,stroke:#e65100,stroke-width:3px\n");
            let _ = writeln!(out, "    class {current} current");
        }
        out
    }

    fn dot(&self, current: Option<&str>) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "digraph \"{}\" {{", escape(&self.workflow));
        out.push_str("    node [shape=box, style=rounded, fontname=\"Helvetica\"];\n");
        out.push_str("    \"__end\" [shape=doublecircle, label=\"end\"];\n");
        for state in &self.states {
            let style = match state.kind {
                StateKind::Stored => "rounded",
                StateKind::Start => "rounded,bold",
                StateKind::Join | StateKind::LoopHead => "rounded,dashed",
            };
            let label = if state.fields.is_empty() {
                state.name.clone()
            } else {
                format!("{}\\n{}", state.name, state.fields.join(", "))
            };
            let mark = if current == Some(state.name.as_str()) {
                ", penwidth=3, color=\"#e65100\""
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "    \"{}\" [label=\"{}\", style=\"{style}\"{mark}];",
                escape(&state.name),
                escape(&label)
            );
        }
        for edge in &self.edges {
            let from = escape(self.name_of(edge.from));
            match self.target(edge) {
                Some(to) => {
                    let label = to
                        .step
                        .as_deref()
                        .filter(|_| to.kind == StateKind::Stored)
                        .map(|step| format!(" [label=\"{}\"]", escape(step)))
                        .unwrap_or_default();
                    let _ = writeln!(out, "    \"{from}\" -> \"{}\"{label};", escape(&to.name));
                }
                None => {
                    let _ = writeln!(out, "    \"{from}\" -> \"__end\";");
                }
            }
        }
        out.push_str("}\n");
        out
    }
}

/// Escapes a double-quoted DOT string; `\n` stays a line break in labels.
fn escape(text: &str) -> String {
    text.replace('"', "\\\"")
}
