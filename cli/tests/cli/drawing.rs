//! `cairn graph`: a workflow's states read from the store (the CLI has none of the
//! workflows' code), in Mermaid or DOT, with a run's current state marked.

use crate::fixture::DataDir;

#[test]
fn a_workflow_is_drawn_from_the_graph_its_runtime_stored() {
    let dir = DataDir::new();
    let mermaid = dir.cairn(&["graph", "deploy"]).ok();
    assert!(mermaid.starts_with("stateDiagram-v2\n"), "{mermaid}");
    assert!(mermaid.contains("--> Build : build\n"), "{mermaid}");
    assert!(mermaid.contains("--> Release : release\n"), "{mermaid}");
    assert!(!mermaid.contains("class Build current"), "{mermaid}");

    let dot = dir.cairn(&["graph", "deploy", "--format", "dot"]).ok();
    assert!(dot.starts_with("digraph \"deploy\" {\n"), "{dot}");
    assert!(!dot.contains("penwidth=3"), "{dot}");
}

#[test]
fn a_runs_current_state_is_marked() {
    let dir = DataDir::new();
    let run = dir.approval.to_string();
    let mermaid = dir.cairn(&["graph", "deploy", "--run", &run]).ok();
    assert!(mermaid.contains("    class Build current\n"), "{mermaid}");
    let dot = dir
        .cairn(&["graph", "deploy", "--run", &run, "--format", "dot"])
        .ok();
    let build = dot
        .lines()
        .find(|l| l.starts_with("    \"Build\" ["))
        .unwrap();
    assert!(build.contains("penwidth=3"), "{dot}");

    let graph = dir
        .cairn(&["graph", "deploy", "--run", &run, "--json"])
        .json();
    assert_eq!(graph["workflow"], "deploy");
    assert_eq!(graph["current"], "Build");
    let states: Vec<&str> = graph["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|state| state["name"].as_str().unwrap())
        .collect();
    assert!(
        states.contains(&"Build") && states.contains(&"Release"),
        "{states:?}"
    );
}

#[test]
fn an_unknown_workflow_or_a_run_of_another_is_refused() {
    let dir = DataDir::new();
    assert_eq!(
        dir.cairn(&["graph", "nope"]).error(1),
        "error: no runtime on this directory registered workflow `nope` (registered: checkout, deploy, greet, pick_region)"
    );
    let run = dir.approval.to_string();
    assert_eq!(
        dir.cairn(&["graph", "greet", "--run", &run]).error(1),
        format!("error: run {run} belongs to workflow `deploy`, not `greet`")
    );
    assert_eq!(
        dir.cairn(&["graph", "deploy", "--run", "99"]).error(1),
        "error: there is no run 99"
    );
    let wrong = dir.cairn(&["graph", "deploy", "--format", "svg"]).error(2);
    assert!(wrong.contains("'svg'"), "{wrong}");
}
