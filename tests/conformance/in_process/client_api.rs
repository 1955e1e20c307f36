//! The edges of the client and runtime API that no other test reaches, through workflows the
//! real `#[workflow]` macro generates: asking for a run with the wrong workflow type, an
//! unknown run, a runtime that was shut down or started outside tokio, two workflows under one
//! name, a panicking step, listing and run ids, and the `Send` futures a user spawns.
//!
//! (These replace the runtime crate's old end-to-end test, which drove a hand-written copy of
//! an expansion the macro no longer emits. Its other cases live on in the workspace tests:
//! typed and JSON results in `errors.rs`, unknown names and malformed input in `errors.rs`,
//! resume from every committed state in `constructs.rs`, loops in `loops_owned_iterators.rs`,
//! incompatible layouts in `errors.rs` and `versioning.rs` (all beside this file), undecodable
//! state in `tests/quarantine.rs`, many concurrent runs in `tests/group_commit.rs`.)

use cairn::{Client, Context, Error, RunId, Runtime, Status, workflow};

use super::{Backend, BackendUnderTest, fresh_store};

async fn double(n: u32) -> Result<u32, String> {
    assert!(n != 666, "boom at {n}");
    Ok(n * 2)
}

async fn repeat(text: String, times: usize) -> Result<String, String> {
    Ok(text.repeat(times))
}

#[workflow]
async fn counter(ctx: &mut Context, n: u32) -> Result<u32, String> {
    let doubled = ctx.task(double, n).await?;
    Ok(doubled + 1)
}

#[workflow]
async fn echo(ctx: &mut Context, text: String, times: usize) -> Result<String, String> {
    let repeated = ctx.task(repeat, text, times).await?;
    Ok(repeated)
}

/// Another workflow that calls itself `counter` (with the same state layout, even).
#[workflow(name = "counter")]
async fn other_counter(ctx: &mut Context, n: u32) -> Result<u32, String> {
    let doubled = ctx.task(double, n).await?;
    Ok(doubled)
}

fn start(store: &BackendUnderTest) -> Runtime {
    store
        .runtime()
        .register(counter)
        .register(echo)
        .start()
        .unwrap()
}

#[tokio::test]
async fn waiting_with_another_workflows_type_is_wrong_workflow() {
    let store = fresh_store();
    let runtime = start(&store);
    let client = runtime.client();
    let run = client.start(echo, ("x".to_owned(), 2)).await.unwrap();
    match client.wait(counter, run).await {
        Err(Error::WrongWorkflow {
            expected, actual, ..
        }) => assert_eq!((expected.as_str(), actual.as_str()), ("counter", "echo")),
        other => panic!("expected WrongWorkflow, got {other:?}"),
    }
    // The run itself is fine, read with its own type.
    assert_eq!(client.wait(echo, run).await.unwrap(), "xx");
    runtime.shutdown().await;
}

#[tokio::test]
async fn an_unknown_run_is_a_typed_error() {
    let store = fresh_store();
    let runtime = start(&store);
    let client = runtime.client();
    assert!(matches!(
        client.status(RunId(999)),
        Err(Error::UnknownRun { run: RunId(999) })
    ));
    assert!(matches!(
        client.wait_json(RunId(999)).await,
        Err(Error::UnknownRun { run: RunId(999) })
    ));
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_workflow_of_the_same_name_but_another_type_is_not_registered() {
    let store = fresh_store();
    let runtime = start(&store);
    assert!(matches!(
        runtime.client().start(other_counter, 1).await,
        // Named by its Rust type, as the name it calls itself is taken by `counter`.
        Err(Error::UnknownWorkflow { name, .. }) if name.ends_with("::other_counter")
    ));
    runtime.shutdown().await;

    let both = store
        .runtime()
        .register(counter)
        .register(other_counter)
        .start();
    assert!(matches!(both, Err(Error::DuplicateWorkflow { name }) if name == "counter"));
}

#[tokio::test]
async fn a_client_of_a_shut_down_runtime_gets_shut_down() {
    let store = fresh_store();
    let runtime = start(&store);
    let client = runtime.client();
    let run = client.start(counter, 1).await.unwrap();
    assert_eq!(client.wait(counter, run).await.unwrap(), 3);
    runtime.shutdown().await;
    assert!(matches!(client.status(run), Err(Error::ShutDown)));
    assert!(matches!(
        client.start(counter, 1).await,
        Err(Error::ShutDown)
    ));
}

#[test]
fn starting_outside_tokio_is_an_error() {
    let store = fresh_store();
    let started = store.runtime().register(counter).start();
    assert!(matches!(started, Err(Error::NoTokioRuntime)));
}

#[tokio::test]
async fn a_panicking_step_fails_the_run_and_the_runtime_goes_on() {
    let store = fresh_store();
    let runtime = start(&store);
    let client = runtime.client();
    let run = client.start(counter, 666).await.unwrap();
    match client.wait(counter, run).await {
        Err(Error::RunFailed { run: r, message }) => {
            assert_eq!(r, run);
            assert_eq!(message, "panicked: boom at 666");
        }
        other => panic!("expected RunFailed, got {other:?}"),
    }
    assert_eq!(client.status(run).unwrap().status, Status::Failed);
    assert_eq!(client.run(counter, 4).await.unwrap(), 9);
    runtime.shutdown().await;
}

#[tokio::test]
async fn runs_are_listed_by_status_in_id_order() {
    let store = fresh_store();
    let runtime = start(&store);
    let client = runtime.client();
    for n in 1..=3 {
        client.run(counter, n).await.unwrap();
    }
    let failed = client.start(counter, 666).await.unwrap();
    assert!(client.wait(counter, failed).await.is_err());

    let all: Vec<RunId> = client.list(None).unwrap().iter().map(|s| s.id).collect();
    assert_eq!(all.len(), 4);
    assert!(all.is_sorted(), "{all:?}");
    assert_eq!(client.list(Some(Status::Completed)).unwrap().len(), 3);
    let failed_ids: Vec<RunId> = client
        .list(Some(Status::Failed))
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(failed_ids, [failed]);
    // A run id printed for a person (or a command line) reads back as the same id.
    assert_eq!(failed.to_string().parse::<RunId>().unwrap(), failed);
    runtime.shutdown().await;
}

/// What a user spawns onto tokio is `Send`: the client's futures, the client and the runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_futures_can_be_spawned() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Runtime>();
    send_sync::<Client>();
    send_sync::<Context>();
    send_sync::<Error>();

    let store = fresh_store();
    let runtime = start(&store);
    let client = runtime.client();
    let typed = tokio::spawn({
        let client = client.clone();
        async move { client.run(counter, 5).await }
    });
    let json = tokio::spawn({
        let client = client.clone();
        async move { client.run_json("counter", serde_json::json!(6)).await }
    });
    assert_eq!(typed.await.unwrap().unwrap(), 11);
    assert_eq!(json.await.unwrap().unwrap(), serde_json::json!(13));
    runtime.shutdown().await;
}
