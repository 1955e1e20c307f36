//! The workflow's shape in the store: a runtime stores the state graph and fingerprint of
//! every workflow it registers, so that a process without the code (a `Client::open` that
//! registers nothing, the `cairn` CLI) reads the graph, the versions kept for older runs, and
//! the graph of the version that stored a given run.

use cairn::{Context, Flow, StateKind, Workflow, WorkflowGraph, workflow};

use super::{Backend, fresh_store};

async fn fetch(topic: String) -> Result<Vec<String>, String> {
    Ok(vec![format!("{topic} 1"), format!("{topic} 2")])
}

async fn summarize(papers: Vec<String>) -> Result<String, String> {
    Ok(papers.join(", "))
}

#[workflow(name = "digest")]
async fn digest_v1(ctx: &mut Context, topic: String) -> Result<String, String> {
    let papers = ctx.task(fetch, topic).await?;
    let summary = ctx.task(summarize, papers).await?;
    Ok(summary)
}

/// The current version: keeps `topic` across the first step, so its states differ.
#[workflow(name = "digest", version = 2)]
async fn digest_v2(ctx: &mut Context, topic: String) -> Result<String, String> {
    let papers = ctx.task(fetch, topic.clone()).await?;
    let summary = ctx.task(summarize, papers).await?;
    Ok(format!("{topic}: {summary}"))
}

#[tokio::test]
async fn a_client_without_the_code_reads_the_graph_a_runtime_registered() {
    let store = fresh_store();
    let runtime = store.runtime().register(digest_v2).start().unwrap();
    runtime.shutdown().await;

    // Registers nothing: everything below comes from the store.
    let client = store.client().unwrap();
    let graph = client
        .workflow_graph("digest")
        .unwrap()
        .expect("the runtime stored it");
    assert_eq!(graph, WorkflowGraph::from(digest_v2::graph()));
    assert_eq!(graph.workflow, "digest");
    assert_eq!(graph.states[0].kind, StateKind::Start);
    let steps: Vec<Option<&str>> = graph.states.iter().map(|s| s.step.as_deref()).collect();
    assert!(steps.contains(&Some("fetch")) && steps.contains(&Some("summarize")));
    assert!(
        graph
            .states
            .iter()
            .any(|s| s.fields.contains(&"topic".to_owned()))
    );
    // Drawn exactly as the compile-time graph is.
    assert_eq!(graph.to_mermaid(), digest_v2::graph().to_mermaid());
    assert_eq!(graph.to_dot(), digest_v2::graph().to_dot());
    assert_eq!(client.workflow_graph("nobody").unwrap(), None);

    let stored = client.workflows().unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].name, "digest");
    // Stored under its layout id (the macro's fingerprint mixed with the traced description),
    // with the macro's fingerprint beside it.
    assert_eq!(stored[0].code_fingerprint, Some(digest_v2::FINGERPRINT));
    assert!(stored[0].layout.as_ref().is_some_and(|l| l.is_traced()));
    assert!(stored[0].current);
    assert!(stored[0].registered_at_ms > 0);
}

#[tokio::test]
async fn each_version_is_kept_and_a_run_is_drawn_with_its_own() {
    let store = fresh_store();
    // An older build leaves a run of version 1 after its first transition.
    let runtime = store
        .runtime()
        .register(digest_v1)
        .on_transition(|_| Flow::Halt)
        .start()
        .unwrap();
    let client = runtime.client();
    let old_run = client.start(digest_v1, "rust".to_owned()).await.unwrap();
    assert!(client.wait(digest_v1, old_run).await.is_err(), "halted");
    runtime.shutdown().await;

    // The new build registers version 2 and keeps version 1 to finish that run.
    let runtime = store
        .runtime()
        .register(digest_v2)
        .register_previous(digest_v1)
        .start()
        .unwrap();
    let client = runtime.client();
    client.wait(digest_v1, old_run).await.unwrap();
    let new_run = client.start(digest_v2, "lmdb".to_owned()).await.unwrap();
    client.wait(digest_v2, new_run).await.unwrap();
    runtime.shutdown().await;

    let client = store.client().unwrap();
    let versions = client.workflows().unwrap();
    let mut fingerprints: Vec<(u64, bool)> = versions
        .iter()
        .map(|w| (w.code_fingerprint.unwrap_or(w.fingerprint), w.current))
        .collect();
    fingerprints.sort();
    let mut expected = vec![
        (digest_v1::FINGERPRINT, false),
        (digest_v2::FINGERPRINT, true),
    ];
    expected.sort();
    assert_eq!(fingerprints, expected, "{versions:?}");
    assert_eq!(
        client.workflow_graph("digest").unwrap(),
        Some(WorkflowGraph::from(digest_v2::graph()))
    );
    assert_eq!(
        client.run_graph(old_run).unwrap(),
        Some(WorkflowGraph::from(digest_v1::graph()))
    );
    let new_graph = client.run_graph(new_run).unwrap().unwrap();
    assert_eq!(new_graph, WorkflowGraph::from(digest_v2::graph()));
    // The run's current state, marked.
    let state = client.status(new_run).unwrap().state;
    let marked = new_graph.to_mermaid_marking(&state);
    assert!(
        marked.ends_with(&format!("    class {state} current\n")),
        "{marked}"
    );
    assert!(matches!(
        client.run_graph(cairn::RunId(99)),
        Err(cairn::Error::UnknownRun { .. })
    ));
}

/// A start that registers the workflows as they are stored writes nothing (so their
/// registration time stays that of the start that stored them); a start with a changed
/// workflow stores it, and the versions' `current` marks follow.
#[tokio::test]
async fn a_start_stores_the_graphs_only_when_they_changed() {
    use cairn::Clock;
    use std::time::Duration;

    use super::jump_clock::JumpClock;

    let store = fresh_store();
    let registered = |client: &cairn::Client| {
        let mut versions: Vec<(u64, bool, u64)> = client
            .workflows()
            .unwrap()
            .iter()
            .map(|w| {
                let code = w.code_fingerprint.unwrap_or(w.fingerprint);
                (code, w.current, w.registered_at_ms)
            })
            .collect();
        versions.sort();
        versions
    };
    let clock = JumpClock::default();
    let first_ms = clock.now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let first_ms = u64::try_from(first_ms.as_millis()).unwrap();
    let start = |clock: &JumpClock| {
        store
            .runtime()
            .register(digest_v2)
            .register_previous(digest_v1)
            .clock(clock.clone())
    };
    start(&clock).start().unwrap().shutdown().await;
    let stored = registered(&store.client().unwrap());

    // The same code, an hour later: nothing is written.
    drop(clock.sleep_until(clock.now() + Duration::from_secs(3600)));
    start(&clock).start().unwrap().shutdown().await;
    assert_eq!(registered(&store.client().unwrap()), stored);
    assert!(
        stored.iter().all(|&(_, _, at)| at == first_ms),
        "{stored:?}"
    );

    // Version 1 is current again (a rollback): stored now, at the new time.
    let later_ms = first_ms + 3_600_000;
    let runtime = store
        .runtime()
        .register(digest_v1)
        .register_previous(digest_v2)
        .clock(clock.clone())
        .start()
        .unwrap();
    runtime.shutdown().await;
    let mut expected = vec![
        (digest_v1::FINGERPRINT, true, later_ms),
        (digest_v2::FINGERPRINT, false, later_ms),
    ];
    expected.sort();
    assert_eq!(registered(&store.client().unwrap()), expected);
}
