//! Every type that serde round-trips through a self-describing format can be stored, across a
//! crash: internally tagged and untagged enums, `#[serde(flatten)]`, `skip_serializing_if`
//! and `serde_json::Value` (postcard, which is not self-describing, cannot decode any of them).
//! Each is held across awaits, taken as input, returned as output, produced by `parallel`
//! branches, iterated in a durable `for` loop and kept as key-value state, and the run is
//! resumed from every committed state. A value that cannot be stored at all fails the run at
//! once with a typed error naming what it is. (A damaged stored byte is `CorruptState`, never a
//! different value: LMDB-only, `tests/damaged_values.rs`.)

use std::collections::BTreeMap;

use cairn::{Context, Error, Status, step, workflow};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::support;
use super::{Backend, fresh_store};
use support::{check_restarts_with, ran};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
enum Event {
    Created { id: u64 },
    Renamed { id: u64, name: String },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Loose {
    Number(u64),
    Text(String),
    Pair { a: u64, b: String },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Origin {
    source: String,
    retries: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Flat {
    id: u64,
    #[serde(flatten)]
    origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Sparse {
    id: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    note: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    tags: Vec<String>,
    count: u32,
}

/// The same workflow for each type: the input and a step's result held across awaits, the
/// value kept as key-value state, two `parallel` branches returning it, a durable loop over
/// the branch outputs, and the value as the output.
macro_rules! holding {
    ($workflow:ident, $echo:ident, $ty:ty) => {
        async fn $echo(value: $ty) -> Result<$ty, String> {
            ran(stringify!($echo));
            Ok(value)
        }

        #[workflow]
        async fn $workflow(ctx: &mut Context, input: $ty) -> Result<Vec<$ty>, String> {
            let made = ctx.task($echo, input.clone()).await?;
            ctx.state().set("kept", &made)?;
            let again = ctx.task($echo, made.clone()).await?;
            let branches = ctx
                .parallel(vec![
                    step("left", $echo(made.clone())),
                    step("right", $echo(again.clone())),
                ])
                .await?;
            let mut out = Vec::new();
            for item in branches {
                let echoed = ctx.task($echo, item).await?;
                out.push(echoed);
            }
            let kept: $ty = ctx.state().get("kept")?.ok_or("kept is missing")?;
            out.push(kept);
            out.push(input);
            Ok(out)
        }
    };
}

holding!(hold_event, echo_event, Event);
holding!(hold_loose, echo_loose, Vec<Loose>);
holding!(hold_flat, echo_flat, Flat);
holding!(hold_sparse, echo_sparse, Vec<Sparse>);
holding!(hold_json, echo_json, serde_json::Value);

/// Steps: 2 tasks, 2 branches, 2 loop iterations; transitions: 2 tasks, 1 `parallel`, 2 loop
/// steps.
async fn check_holding<W>(workflow: W, echo: &str, value: W::Input)
where
    W: cairn::Workflow<Output = Vec<<W as cairn::Workflow>::Input>>,
    W::Input: Clone + PartialEq + std::fmt::Debug,
{
    check_restarts_with(
        workflow,
        value.clone(),
        Ok(vec![value; 4]),
        &[(echo, 6)],
        5,
        |builder| builder,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internally_tagged_enums_survive_every_restart() {
    let value = Event::Renamed {
        id: 7,
        name: "seven".to_owned(),
    };
    check_holding(hold_event, "echo_event", value).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untagged_enums_survive_every_restart() {
    let value = vec![
        Loose::Number(3),
        Loose::Text("three".to_owned()),
        Loose::Pair {
            a: 3,
            b: "iii".to_owned(),
        },
    ];
    check_holding(hold_loose, "echo_loose", value).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flattened_structs_survive_every_restart() {
    let value = Flat {
        id: 9,
        origin: Origin {
            source: "feed".to_owned(),
            retries: 2,
        },
    };
    check_holding(hold_flat, "echo_flat", value).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_fields_survive_every_restart() {
    let value = vec![
        Sparse {
            id: 1,
            note: None,
            tags: Vec::new(),
            count: 1,
        },
        Sparse {
            id: 2,
            note: Some("two".to_owned()),
            tags: vec!["a".to_owned()],
            count: 0,
        },
    ];
    check_holding(hold_sparse, "echo_sparse", value).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_values_survive_every_restart() {
    let value = json!({
        "model": "m1",
        "choices": [{"text": "hi", "score": 0.5, "logprobs": null}, {"nested": {"deep": [1, [2, {}]]}}],
        "empty": [],
        "ok": true,
        "n": -3,
    });
    check_holding(hold_json, "echo_json", value).await;
}

// ---------------------------------------------------------------------------------------------
// A value that cannot be stored at all.

/// Postcard cannot decode a tagged enum, and JSON cannot encode a map with tuple keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
enum Unstorable {
    Grid { cells: BTreeMap<(u32, u32), u64> },
}

async fn make_grid(n: u32) -> Result<Unstorable, String> {
    ran("make_grid");
    Ok(Unstorable::Grid {
        cells: (0..n).map(|i| ((i, i), u64::from(i))).collect(),
    })
}

async fn count_cells(n: u32) -> Result<u32, String> {
    ran("count_cells");
    Ok(n)
}

#[workflow]
async fn hold_grid(ctx: &mut Context, n: u32) -> Result<u32, String> {
    let grid = ctx.task(make_grid, n).await?;
    let counted = ctx.task(count_cells, n).await?;
    let Unstorable::Grid { cells } = grid;
    Ok(counted + cells.len() as u32)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_that_cannot_be_stored_fails_the_run_at_once_naming_it() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let runtime = store.runtime().register(hold_grid).start().unwrap();
    let client = runtime.client();
    let run = client.start(hold_grid, 2).await.unwrap();
    let message = match client.wait(hold_grid, run).await {
        Err(Error::RunFailed { message, .. }) => message,
        other => panic!("expected the run to fail, got {other:?}"),
    };
    // The step ran once; nothing after it: the state holding `grid` was never committed.
    assert_eq!(
        support::take_step_counts(),
        BTreeMap::from([("make_grid".to_owned(), 1)])
    );
    for part in [
        "variable `grid` of state `MakeGrid`",
        "serde_types::Unstorable",
        "`grid.cells`",
        "key must be a string",
        "JSON can hold",
    ] {
        assert!(message.contains(part), "{part:?} not in: {message}");
    }
    let status = client.status(run).unwrap();
    assert_eq!((status.status, status.transitions), (Status::Failed, 0));
    runtime.shutdown().await;
}

#[workflow]
async fn grid_branches(ctx: &mut Context, n: u32) -> Result<usize, String> {
    let grids = ctx.parallel(vec![step("grid", make_grid(n))]).await?;
    Ok(grids.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_branch_output_that_cannot_be_stored_fails_the_run_naming_the_branch() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let runtime = store.runtime().register(grid_branches).start().unwrap();
    let message = match runtime.client().run(grid_branches, 2).await {
        Err(Error::RunFailed { message, .. }) => message,
        other => panic!("expected the run to fail, got {other:?}"),
    };
    for part in [
        "the output of parallel branch `grid` of workflow `grid_branches`",
        "key must be a string",
    ] {
        assert!(message.contains(part), "{part:?} not in: {message}");
    }
    runtime.shutdown().await;
}

/// A `Serialize` impl that refuses, as input: refused when the run is started, before
/// anything is stored.
#[derive(Clone, Debug, PartialEq, Deserialize)]
struct Refuses;

impl Serialize for Refuses {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("refuses to be serialized"))
    }
}

#[workflow]
async fn take_refuses(_ctx: &mut Context, input: Refuses) -> Result<u32, String> {
    let _ = input;
    Ok(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_that_cannot_be_stored_is_refused_at_start() {
    let store = fresh_store();
    let runtime = store.runtime().register(take_refuses).start().unwrap();
    let error = runtime.client().start(take_refuses, Refuses).await;
    match error {
        Err(Error::Unstorable {
            what, rust_type, ..
        }) => {
            assert_eq!(what, "input");
            assert!(rust_type.ends_with("Refuses"), "{rust_type}");
        }
        other => panic!("expected Unstorable, got {other:?}"),
    }
    assert!(runtime.client().list(None).unwrap().is_empty());
    runtime.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Outputs readable as JSON without the workflow's types.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_are_read_as_json_by_a_process_that_does_not_register_the_workflow() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let runtime = store.runtime().register(hold_event).start().unwrap();
    let value = Event::Created { id: 4 };
    runtime.client().run(hold_event, value).await.unwrap();
    let id = runtime.client().list(None).unwrap()[0].id;
    runtime.shutdown().await;

    let client = store.client().unwrap();
    let expected = serde_json::Value::Array(vec![json!({"type": "Created", "id": 4}); 4]);
    assert_eq!(client.result_json(id).unwrap(), expected);
    assert_eq!(client.status(id).unwrap().status, Status::Completed);
    assert_eq!(client.wait_json(id).await.unwrap(), expected);
}

/// Tuple keys: JSON cannot hold the output, so it is stored with postcard.
#[workflow]
async fn grid_output(_ctx: &mut Context, n: u32) -> Result<BTreeMap<(u32, u32), u64>, String> {
    Ok((0..n).map(|i| ((i, i), u64::from(i))).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postcard_output_needs_the_workflow_registered_to_be_read_as_json() {
    let store = fresh_store();
    let runtime = store.runtime().register(grid_output).start().unwrap();
    let grid = runtime.client().run(grid_output, 2).await.unwrap();
    assert_eq!(grid.len(), 2);
    let run = runtime.client().list(None).unwrap()[0].id;
    runtime.shutdown().await;

    let client = store.client().unwrap();
    match client.result_json(run) {
        Err(Error::UnknownWorkflow { name, .. }) => assert_eq!(name, "grid_output"),
        other => panic!("expected UnknownWorkflow, got {other:?}"),
    }
}
