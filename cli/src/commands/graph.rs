//! `cairn graph WORKFLOW [--run RUN]`: the workflow's state graph as a runtime stored it when
//! it registered the workflow, in Mermaid or DOT, with a run's current state marked. Needs no
//! code of the workflow: the graph is read from the store.

use cairn::{Client, WorkflowGraph};
use serde_json::json;

use crate::args::{GraphArgs, GraphFormat};
use crate::failure::Failure;
use crate::output;

pub fn graph(client: &Client, what: &GraphArgs, json: bool) -> Result<(), Failure> {
    let (graph, current) = match what.run {
        Some(run) => {
            let status = client.status(run)?;
            if status.workflow != what.workflow {
                return Err(Failure(format!(
                    "run {run} belongs to workflow `{}`, not `{}`",
                    status.workflow, what.workflow
                )));
            }
            // The graph of the version that stored the run, which an older run may predate.
            let graph = client.run_graph(run)?.ok_or_else(|| {
                Failure(format!(
                    "no runtime on this directory registered the version of `{}` that stored run {run}",
                    what.workflow
                ))
            })?;
            (graph, Some(status.state))
        }
        None => (current_graph(client, &what.workflow)?, None),
    };

    if json {
        let mut shown = serde_json::to_value(&graph).expect("a graph always converts to JSON");
        if let Some(shown) = shown.as_object_mut() {
            shown.insert("current".to_owned(), json!(current));
        }
        output::json(&shown);
        return Ok(());
    }
    let drawn = match (what.format, &current) {
        (GraphFormat::Mermaid, None) => graph.to_mermaid(),
        (GraphFormat::Mermaid, Some(state)) => graph.to_mermaid_marking(state),
        (GraphFormat::Dot, None) => graph.to_dot(),
        (GraphFormat::Dot, Some(state)) => graph.to_dot_marking(state),
    };
    output::text(&drawn);
    Ok(())
}

/// The graph of the version of `workflow` that runs start with, or a failure naming the
/// workflows that are registered.
fn current_graph(client: &Client, workflow: &str) -> Result<WorkflowGraph, Failure> {
    if let Some(graph) = client.workflow_graph(workflow)? {
        return Ok(graph);
    }
    let mut known: Vec<String> = client.workflows()?.into_iter().map(|w| w.name).collect();
    known.dedup();
    let known = if known.is_empty() {
        "none".to_owned()
    } else {
        known.join(", ")
    };
    Err(Failure(format!(
        "no runtime on this directory registered workflow `{workflow}` (registered: {known})"
    )))
}
