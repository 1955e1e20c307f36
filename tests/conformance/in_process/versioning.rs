//! Runs stored by an older state layout: a runtime reports them and leaves them untouched
//! while it runs the others, a previous version registered next to the new one finishes them,
//! and registering the current layout as a previous one is refused. The old runs are stored
//! through the backend by the old layout's workflow (on LMDB, `tests/versioning.rs` also reads
//! them from a fixture written by an older build, which guards the on-disk format).

use cairn::{Context, Error, Flow, Status, workflow};

use super::{Backend, BackendUnderTest, fresh_store};

async fn greet(name: String) -> Result<String, String> {
    Ok(format!("hello {name}"))
}

async fn shout(text: String) -> Result<String, String> {
    Ok(text.to_uppercase())
}

async fn count(n: u32) -> Result<u32, String> {
    Ok(n + 1)
}

/// The layout the fixture was stored with, kept in the code to finish its runs.
#[workflow(name = "greeting")]
async fn greeting_v1(ctx: &mut Context, name: String) -> Result<String, String> {
    let text = ctx.task(greet, name).await?;
    let loud = ctx.task(shout, text).await?;
    Ok(loud)
}

/// The current layout: it keeps `name` across the first step, so its states differ.
#[workflow(name = "greeting", version = 2)]
async fn greeting_v2(ctx: &mut Context, name: String) -> Result<String, String> {
    let text = ctx.task(greet, name.clone()).await?;
    let loud = ctx.task(shout, text).await?;
    Ok(format!("{loud} ({name})"))
}

/// Another workflow with a run in the fixture, unchanged between the builds.
#[workflow]
async fn counter(ctx: &mut Context, n: u32) -> Result<u32, String> {
    let a = ctx.task(count, n).await?;
    let b = ctx.task(count, a).await?;
    Ok(b)
}

/// A store as an older build left it: run 1 of `greeting_v1` and run 2 of `counter`, each
/// stopped right after its first committed transition.
async fn old_runs() -> BackendUnderTest {
    let store = fresh_store();
    let runtime = store
        .runtime()
        .register(greeting_v1)
        .register(counter)
        .on_transition(|_| Flow::Halt)
        .start()
        .unwrap();
    let client = runtime.client();
    let greeting = client.start(greeting_v1, "ada".to_owned()).await.unwrap();
    assert!(client.wait(greeting_v1, greeting).await.is_err());
    let counting = client.start(counter, 1).await.unwrap();
    assert!(client.wait(counter, counting).await.is_err());
    runtime.shutdown().await;
    store
}

#[tokio::test]
async fn runs_of_an_old_layout_are_reported_and_left_untouched() {
    let store = old_runs().await;
    let runtime = store
        .runtime()
        .register(greeting_v2)
        .register(counter)
        .start()
        .unwrap();

    let incompatible = runtime.incompatible_runs();
    assert_eq!(incompatible.len(), 1, "{incompatible:?}");
    match &incompatible[0] {
        Error::IncompatibleState { run, workflow, .. } => {
            assert_eq!(run.to_string(), "1");
            assert_eq!(workflow, "greeting");
        }
        other => panic!("expected IncompatibleState, got {other:?}"),
    }
    let message = incompatible[0].to_string();
    assert!(message.contains("register_previous"), "{message}");

    // The other workflow's run goes on.
    let client = runtime.client();
    let counting = "2".parse().unwrap();
    assert_eq!(client.wait(counter, counting).await.unwrap(), 3);

    // The old run is where it was.
    let greeting = "1".parse().unwrap();
    let status = client.status(greeting).unwrap();
    assert_eq!(status.status, Status::Running);
    assert_eq!(status.state, "Greet");
    assert_eq!(status.transitions, 1);
    assert!(matches!(
        client.wait(greeting_v2, greeting).await,
        Err(Error::IncompatibleState { .. })
    ));
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_previous_version_finishes_the_runs_it_stored() {
    let store = old_runs().await;
    let runtime = store
        .runtime()
        .register(greeting_v2)
        .register_previous(greeting_v1)
        .register(counter)
        .start()
        .unwrap();
    assert!(runtime.incompatible_runs().is_empty());
    let client = runtime.client();
    let greeting = "1".parse().unwrap();
    assert_eq!(
        client.wait(greeting_v1, greeting).await.unwrap(),
        "HELLO ADA"
    );
    assert_eq!(client.status(greeting).unwrap().status, Status::Completed);

    // New runs start with the current version.
    let output = client.run(greeting_v2, "bob".to_owned()).await.unwrap();
    assert_eq!(output, "HELLO BOB (bob)");
    // The previous version starts no new runs.
    assert!(matches!(
        client.start(greeting_v1, "eve".to_owned()).await,
        Err(Error::UnknownWorkflow { .. })
    ));
    runtime.shutdown().await;
}

#[tokio::test]
async fn registering_the_current_layout_as_previous_is_refused() {
    let store = fresh_store();
    let result = store
        .runtime()
        .register(greeting_v1)
        .register_previous(greeting_v1)
        .start();
    assert!(matches!(result, Err(Error::DuplicateWorkflow { .. })));
}
