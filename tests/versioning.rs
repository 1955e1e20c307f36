//! Runs stored by an older state layout, on LMDB files written by an older build: a runtime
//! reports them and leaves them untouched while it runs the others, and a previous version
//! registered next to the new one finishes them. The stored databases come from
//! `tests/fixtures/` (`make_fixture` below, run by hand with `--ignored`), so these tests guard
//! LMDB's on-disk format against silent changes; the same checks on runs stored through any
//! backend are in the conformance suite (`tests/conformance/versioning.rs`).

use std::path::{Path, PathBuf};

use cairn::{Context, Error, Flow, Runtime, Status, workflow};

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

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/greeting_v1")
}

/// A copy of the fixture to work on.
fn copy_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture().join("data.mdb"), dir.path().join("data.mdb")).unwrap();
    dir
}

/// Writes the fixture: run 1 of `greeting_v1` and run 2 of `counter`, each stopped right
/// after its first committed transition.
#[tokio::test]
#[ignore = "writes tests/fixtures; run by hand when the fixture must be made anew"]
async fn make_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::builder()
        .path(dir.path())
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
    std::fs::create_dir_all(fixture()).unwrap();
    std::fs::copy(dir.path().join("data.mdb"), fixture().join("data.mdb")).unwrap();
}

#[tokio::test]
async fn runs_of_an_old_layout_are_reported_and_left_untouched() {
    let dir = copy_fixture();
    let runtime = Runtime::builder()
        .path(dir.path())
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
    let dir = copy_fixture();
    let runtime = Runtime::builder()
        .path(dir.path())
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
