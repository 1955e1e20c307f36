//! Snapshots of the state graphs of the examples, as Mermaid and as Graphviz DOT: a change to
//! a workflow's shape shows up in review. Refresh with `CAIRN_BLESS=1 cargo test --test graphs`.

#[allow(dead_code)]
#[path = "../examples/research_pipeline.rs"]
mod research_pipeline_example;

#[allow(dead_code)]
#[path = "../examples/document_processing.rs"]
mod document_processing_example;

#[allow(dead_code)]
#[path = "../examples/deployment_approval.rs"]
mod deployment_approval_example;

use std::path::Path;

use cairn::{StateGraph, Workflow};

fn check_snapshot(name: &str, rendered: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("CAIRN_BLESS").is_some() || !path.exists() {
        std::fs::write(&path, rendered).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        expected,
        rendered,
        "{} changed; review it and refresh with CAIRN_BLESS=1",
        path.display()
    );
}

fn check_graph(name: &str, graph: &StateGraph) {
    check_snapshot(&format!("{name}.mmd"), &graph.to_mermaid());
    check_snapshot(&format!("{name}.dot"), &graph.to_dot());
}

#[test]
fn research_pipeline_graph() {
    let graph = research_pipeline_example::research_pipeline::graph();
    assert_eq!(graph.workflow, "research_pipeline");
    let names: Vec<&str> = graph.states.iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "Start",
            "FetchPapers",
            "ForPaper",
            "Analyze",
            "AfterForPaper",
            "Synthesize"
        ]
    );
    check_graph("research_pipeline", graph);
}

#[test]
fn document_processing_graph() {
    let graph = document_processing_example::document_processing::graph();
    assert_eq!(graph.workflow, "document_processing");
    // The fan-out is one await, so one stored state, whatever the number of documents.
    assert!(graph.states.iter().any(|s| s.step == Some("parallel")));
    check_graph("document_processing", graph);
}

#[test]
fn deployment_approval_graph() {
    let graph = deployment_approval_example::deployment_approval::graph();
    assert_eq!(graph.workflow, "deployment_approval");
    assert!(graph.states.iter().any(|s| s.step == Some("wait_for_user")));
    check_graph("deployment_approval", graph);
}
