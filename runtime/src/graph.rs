//! A workflow's state machine as data, generated at compile time by `#[workflow]`, and its
//! rendering as Mermaid and Graphviz DOT text for documentation and reviews.
//!
//! ```ignore
//! println!("{}", research_pipeline::graph().to_mermaid());
//! ```

use std::fmt::Write;

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
#[derive(Debug)]
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
        let mut out = String::from("stateDiagram-v2\n");
        let _ = writeln!(out, "    %% workflow `{}`", self.workflow);
        for state in self.states {
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
        for edge in self.edges {
            let from = self.states[edge.from].name;
            match edge.to.map(|to| &self.states[to]) {
                Some(to) => match to.step.filter(|_| to.kind == StateKind::Stored) {
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
            .map(|s| s.name)
            .collect();
        if !transient.is_empty() {
            out.push_str("    classDef transient stroke-dasharray: 4 4\n");
            let _ = writeln!(out, "    class {} transient", transient.join(","));
        }
        out
    }

    /// The graph in Graphviz DOT. Stored states are boxes, transient ones dashed.
    pub fn to_dot(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "digraph \"{}\" {{", escape(self.workflow));
        out.push_str("    node [shape=box, style=rounded, fontname=\"Helvetica\"];\n");
        out.push_str("    \"__end\" [shape=doublecircle, label=\"end\"];\n");
        for state in self.states {
            let style = match state.kind {
                StateKind::Stored => "rounded",
                StateKind::Start => "rounded,bold",
                StateKind::Join | StateKind::LoopHead => "rounded,dashed",
            };
            let label = if state.fields.is_empty() {
                state.name.to_owned()
            } else {
                format!("{}\\n{}", state.name, state.fields.join(", "))
            };
            let _ = writeln!(
                out,
                "    \"{}\" [label=\"{}\", style=\"{style}\"];",
                escape(state.name),
                escape(&label)
            );
        }
        for edge in self.edges {
            let from = escape(self.states[edge.from].name);
            match edge.to.map(|to| &self.states[to]) {
                Some(to) => {
                    let label = to
                        .step
                        .filter(|_| to.kind == StateKind::Stored)
                        .map(|step| format!(" [label=\"{}\"]", escape(step)))
                        .unwrap_or_default();
                    let _ = writeln!(out, "    \"{from}\" -> \"{}\"{label};", escape(to.name));
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
