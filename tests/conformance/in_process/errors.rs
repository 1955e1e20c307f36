//! The typed errors a user meets: a stored run from an incompatible layout, an unknown
//! workflow name, malformed input; and the JSON side of the client.

use cairn::{Context, Error, Flow, Status, workflow};
use serde_json::json;

use super::{Backend, fresh_store};

async fn greet(name: String) -> Result<String, String> {
    Ok(format!("hello {name}"))
}

async fn shout(text: String) -> Result<String, String> {
    Ok(text.to_uppercase())
}

/// The first layout of the `greeting` workflow.
#[workflow(name = "greeting")]
async fn greeting_v1(ctx: &mut Context, name: String) -> Result<String, String> {
    let text = ctx.task(greet, name).await?;
    let loud = ctx.task(shout, text).await?;
    Ok(loud)
}

/// A later layout of it: a different state after the first step.
#[workflow(name = "greeting")]
async fn greeting_v2(ctx: &mut Context, name: String) -> Result<String, String> {
    let text = ctx.task(greet, name.clone()).await?;
    let loud = ctx.task(shout, text).await?;
    Ok(format!("{loud} ({name})"))
}

#[test]
fn layouts_have_different_fingerprints() {
    use cairn::Workflow;
    assert_ne!(greeting_v1::FINGERPRINT, greeting_v2::FINGERPRINT);
    assert_eq!(greeting_v1::NAME, "greeting");
}

#[tokio::test]
async fn a_run_stored_by_another_layout_is_a_typed_error() {
    let store = fresh_store();
    let runtime = store
        .runtime()
        .register(greeting_v1)
        .on_transition(|_| Flow::Halt)
        .start()
        .unwrap();
    let run = runtime
        .client()
        .start(greeting_v1, "ada".to_owned())
        .await
        .unwrap();
    assert!(matches!(
        runtime.client().wait(greeting_v1, run).await,
        Err(Error::Halted { .. })
    ));
    runtime.shutdown().await;

    // A new build registers the new layout under the same name.
    let runtime = store.runtime().register(greeting_v2).start().unwrap();
    let error = runtime.client().wait(greeting_v2, run).await.unwrap_err();
    match &error {
        Error::IncompatibleState {
            run: stored_run,
            workflow,
            ..
        } => {
            assert_eq!(*stored_run, run);
            assert_eq!(workflow, "greeting");
        }
        other => panic!("expected IncompatibleState, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains(&format!("run {run}")), "{message}");
    assert!(message.contains("`greeting`"), "{message}");
    // Nothing was lost: the run is still there, unfinished, for a migration or the old build.
    let status = runtime.client().status(run).unwrap();
    assert_eq!(status.status, Status::Running);
    assert_eq!(status.state, "Greet");
    runtime.shutdown().await;

    // The old build still resumes it.
    let runtime = store.runtime().register(greeting_v1).start().unwrap();
    let output = runtime.client().wait(greeting_v1, run).await.unwrap();
    assert_eq!(output, "HELLO ADA");
    runtime.shutdown().await;
}

#[tokio::test]
async fn unknown_workflow_and_malformed_input_are_typed_errors() {
    let store = fresh_store();
    let runtime = store.runtime().register(greeting_v1).start().unwrap();
    let client = runtime.client();

    match client.start_json("greting", json!("ada")).await {
        Err(Error::UnknownWorkflow { name, registered }) => {
            assert_eq!(name, "greting");
            assert_eq!(registered, ["greeting"]);
        }
        other => panic!("expected UnknownWorkflow, got {other:?}"),
    }
    match client.start_json("greeting", json!({ "name": 3 })).await {
        Err(Error::MalformedInput { workflow, reason }) => {
            assert_eq!(workflow, "greeting");
            assert!(!reason.is_empty());
        }
        other => panic!("expected MalformedInput, got {other:?}"),
    }
    // Neither created a run.
    assert!(client.list(None).unwrap().is_empty());

    // The typed client refuses a workflow that is not registered.
    let unregistered = client.start(greeting_v2, "ada".to_owned()).await;
    assert!(
        matches!(unregistered, Err(Error::UnknownWorkflow { .. })),
        "{unregistered:?}"
    );
    runtime.shutdown().await;
}

#[tokio::test]
async fn json_callers_start_runs_by_name_and_read_results() {
    let store = fresh_store();
    let runtime = store.runtime().register(greeting_v1).start().unwrap();
    let client = runtime.client();
    let output = client.run_json("greeting", json!("ada")).await.unwrap();
    assert_eq!(output, json!("HELLO ADA"));

    let run = client.start_json("greeting", json!("bob")).await.unwrap();
    assert_eq!(client.wait_json(run).await.unwrap(), json!("HELLO BOB"));
    let status = client.status(run).unwrap();
    assert_eq!(status.status, Status::Completed);
    assert_eq!(status.workflow, "greeting");
    assert_eq!(client.result(greeting_v1, run).unwrap(), "HELLO BOB");
    assert_eq!(client.result_json(run).unwrap(), json!("HELLO BOB"));
    runtime.shutdown().await;
}

/// A failed run reports the workflow's error message, typed and through JSON.
#[workflow]
async fn refuses(ctx: &mut Context, name: String) -> Result<String, String> {
    let text = ctx.task(greet, name).await?;
    Err(format!("refused: {text}"))
}

#[tokio::test]
async fn a_failed_run_keeps_its_error() {
    let store = fresh_store();
    let runtime = store.runtime().register(refuses).start().unwrap();
    let client = runtime.client();
    let run = client.start(refuses, "ada".to_owned()).await.unwrap();
    match client.wait(refuses, run).await {
        Err(Error::RunFailed {
            run: failed,
            message,
        }) => {
            assert_eq!(failed, run);
            assert_eq!(message, "refused: hello ada");
        }
        other => panic!("expected RunFailed, got {other:?}"),
    }
    assert_eq!(client.status(run).unwrap().status, Status::Failed);
    assert!(matches!(
        client.result_json(run),
        Err(Error::RunFailed { .. })
    ));
    runtime.shutdown().await;
}
