//! Changing a workflow with runs in flight, on LMDB directories written by older layouts
//! (`tests/fixtures/upgrade/<case>/`): each is opened by the current code, which reports the
//! stored runs it cannot resume (which state, which field, the old and new types, both ways
//! out), adopts those whose current state is stored the same way, and moves the others with a
//! migration.
//!
//! The fixtures are written by `make_upgrade_fixtures` below, from the `old` workflows of each
//! case: `cargo test --test upgrade -- --ignored make_upgrade_fixtures` (it rewrites
//! `tests/fixtures/upgrade/`; commit the result). The `new` workflows are the current code.

use std::path::{Path, PathBuf};

use cairn::{Context, Error, Flow, RunId, Runtime, Status, StoredState, workflow};
use serde::{Deserialize, Serialize};
use serde_json::json;

mod v1 {
    use super::*;
    #[derive(Clone, Debug, Serialize, Deserialize)]
    pub struct Paper {
        pub title: String,
    }

    pub async fn fetch(topic: String) -> Result<Vec<Paper>, String> {
        Ok(vec![Paper {
            title: format!("on {topic}"),
        }])
    }

    pub async fn count(papers: Vec<Paper>) -> Result<usize, String> {
        Ok(papers.len())
    }
}

mod v2 {
    use super::*;
    #[derive(Clone, Debug, Serialize, Deserialize)]
    pub struct Paper {
        pub title: String,
        pub year: u32,
    }

    pub async fn fetch(topic: String) -> Result<Vec<Paper>, String> {
        Ok(vec![Paper {
            title: format!("on {topic}"),
            year: 2024,
        }])
    }

    pub async fn count(papers: Vec<Paper>) -> Result<String, String> {
        Ok(papers
            .iter()
            .map(|p| format!("{} ({})", p.title, p.year))
            .collect::<Vec<_>>()
            .join(", "))
    }
}

async fn double(n: u64) -> Result<u64, String> {
    Ok(n * 2)
}

async fn check(n: u64) -> Result<u64, String> {
    Ok(n + 1)
}

async fn verify(n: u64) -> Result<u64, String> {
    Ok(n + 1)
}

async fn finish(n: u64) -> Result<u64, String> {
    Ok(n + 1000)
}

/// The old layouts, as the fixtures were stored.
mod old {
    use super::*;

    /// `field_added`: the first state holds only the step's result.
    #[workflow(name = "field_added")]
    pub async fn field_added(ctx: &mut Context, n: u64) -> Result<u64, String> {
        let a = ctx.task(double, n).await?;
        let b = ctx.task(finish, a).await?;
        Ok(b)
    }

    /// `inferred_type`: `papers` is whatever `v1::fetch` returns (nothing written).
    #[workflow(name = "inferred_type")]
    pub async fn inferred_type(ctx: &mut Context, topic: String) -> Result<String, String> {
        let papers = ctx.task(v1::fetch, topic).await?;
        let n = ctx.task(v1::count, papers).await?;
        Ok(n.to_string())
    }

    /// `state_removed`: three steps.
    #[workflow(name = "state_removed")]
    pub async fn state_removed(ctx: &mut Context, n: u64) -> Result<u64, String> {
        let a = ctx.task(double, n).await?;
        let b = ctx.task(check, a).await?;
        let c = ctx.task(finish, b).await?;
        Ok(c)
    }

    /// `state_renamed`: the second step is `check`, so its state is `Check`.
    #[workflow(name = "state_renamed")]
    pub async fn state_renamed(ctx: &mut Context, n: u64) -> Result<u64, String> {
        let a = ctx.task(double, n).await?;
        let b = ctx.task(check, a).await?;
        let c = ctx.task(finish, b).await?;
        Ok(c)
    }

    /// `loop_added`: straight-line.
    #[workflow(name = "loop_added")]
    pub async fn loop_added(ctx: &mut Context, n: u64) -> Result<u64, String> {
        let a = ctx.task(double, n).await?;
        let b = ctx.task(check, a).await?;
        let c = ctx.task(finish, b).await?;
        Ok(c)
    }
}

/// The current layouts.
mod new {
    use super::*;

    /// Keeps `n` across the first step: its state gains a field.
    #[workflow(name = "field_added")]
    pub async fn field_added(ctx: &mut Context, n: u64) -> Result<u64, String> {
        let a = ctx.task(double, n).await?;
        let b = ctx.task(finish, a).await?;
        Ok(b + n)
    }

    /// `v2::fetch` returns papers with a year: only an inferred type changed, so the macro's
    /// fingerprint is the same as the old one.
    #[workflow(name = "inferred_type")]
    pub async fn inferred_type(ctx: &mut Context, topic: String) -> Result<String, String> {
        let papers = ctx.task(v2::fetch, topic).await?;
        let n = ctx.task(v2::count, papers).await?;
        Ok(n)
    }

    /// The `check` step is gone.
    #[workflow(name = "state_removed")]
    pub async fn state_removed(ctx: &mut Context, n: u64) -> Result<u64, String> {
        let a = ctx.task(double, n).await?;
        let c = ctx.task(finish, a).await?;
        Ok(c)
    }

    /// `check` is now `verify`: state `Check` became `Verify`.
    #[workflow(name = "state_renamed")]
    pub async fn state_renamed(ctx: &mut Context, n: u64) -> Result<u64, String> {
        let a = ctx.task(double, n).await?;
        let b = ctx.task(verify, a).await?;
        let c = ctx.task(finish, b).await?;
        Ok(c)
    }

    /// A loop between the first and the second step: the states after it move.
    #[workflow(name = "loop_added")]
    pub async fn loop_added(ctx: &mut Context, n: u64) -> Result<u64, String> {
        let mut a = ctx.task(double, n).await?;
        for i in 0..2u64 {
            a += ctx.task(double, i).await?;
        }
        let b = ctx.task(check, a).await?;
        let c = ctx.task(finish, b).await?;
        Ok(c)
    }
}

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/upgrade")
        .join(case)
}

/// A copy of a fixture to work on.
fn copy_fixture(case: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture(case).join("data.mdb"), dir.path().join("data.mdb")).unwrap();
    dir
}

/// Starts one run of `W` per input, each halted right after it commits its state named
/// next to the input (run `i + 1` at `runs[i].1`), in one runtime.
async fn store_halted<W: cairn::Workflow>(dir: &Path, workflow: W, runs: &[(W::Input, &str)])
where
    W::Input: Clone,
{
    let targets: Vec<String> = runs.iter().map(|(_, at)| (*at).to_owned()).collect();
    let runtime = Runtime::builder()
        .path(dir)
        .register(workflow)
        .on_transition(move |t| {
            let target = usize::try_from(t.run.0 - 1)
                .ok()
                .and_then(|i| targets.get(i));
            if target.is_some_and(|at| at == t.state) {
                Flow::Halt
            } else {
                Flow::Continue
            }
        })
        .start()
        .unwrap();
    let client = runtime.client();
    for (input, _) in runs {
        let run = client.start(workflow, input.clone()).await.unwrap();
        assert!(client.wait(workflow, run).await.is_err());
    }
    runtime.shutdown().await;
}

#[tokio::test]
#[ignore = "writes tests/fixtures/upgrade; run by hand when the fixtures must be made anew"]
async fn make_upgrade_fixtures() {
    async fn write<W: cairn::Workflow>(case: &str, workflow: W, runs: &[(W::Input, &str)])
    where
        W::Input: Clone,
    {
        let dir = tempfile::tempdir().unwrap();
        store_halted(dir.path(), workflow, runs).await;
        std::fs::create_dir_all(fixture(case)).unwrap();
        // Compacted (free pages left out), to keep the committed fixtures small.
        // SAFETY: the runtime was shut down and its environment closed; nothing else uses the
        // directory.
        let env = unsafe {
            heed::EnvOpenOptions::new()
                .max_dbs(64)
                .open(dir.path())
                .unwrap()
        };
        let target = fixture(case).join("data.mdb");
        let _ = std::fs::remove_file(&target);
        env.copy_to_path(&target, heed::CompactionOption::Enabled)
            .unwrap();
        env.prepare_for_closing().wait();
    }
    write("field_added", old::field_added, &[(5, "Double")]).await;
    write(
        "inferred_type",
        old::inferred_type,
        &[("rust".to_owned(), "Fetch")],
    )
    .await;
    write(
        "state_removed",
        old::state_removed,
        &[(5, "Check"), (6, "Double")],
    )
    .await;
    write("state_renamed", old::state_renamed, &[(5, "Check")]).await;
    write(
        "loop_added",
        old::loop_added,
        &[(5, "Double"), (6, "Check")],
    )
    .await;
}

fn run(id: u64) -> RunId {
    id.to_string().parse().unwrap()
}

/// The reports of a runtime started on `dir` with `builder`'s registrations, as text.
fn reports(runtime: &Runtime) -> Vec<String> {
    runtime
        .incompatible_runs()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[tokio::test]
async fn a_field_added_is_reported_with_its_type() {
    let dir = copy_fixture("field_added");
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(new::field_added)
        .start()
        .unwrap();
    let incompatible = runtime.incompatible_runs();
    assert_eq!(incompatible.len(), 1, "{incompatible:?}");
    let Error::IncompatibleState {
        run: r, changes, ..
    } = &incompatible[0]
    else {
        panic!("{incompatible:?}")
    };
    assert_eq!(*r, run(1));
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].state, "Double");
    assert_eq!(changes[0].field.as_deref(), Some("n"));
    assert_eq!(changes[0].old, None);
    assert_eq!(changes[0].new.as_deref(), Some("u64"));
    let message = incompatible[0].to_string();
    assert!(message.contains("field `n: u64` was added"), "{message}");
    assert!(message.contains("register_previous"), "{message}");
    assert!(message.contains("RuntimeBuilder::migrate"), "{message}");
    let status = runtime.client().status(run(1)).unwrap();
    assert_eq!(
        (status.status, status.state.as_str()),
        (Status::Running, "Double")
    );
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_field_added_is_migrated() {
    let dir = copy_fixture("field_added");
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(new::field_added)
        .migrate(new::field_added, |old| {
            // The input was 5: the old state kept `double(5)`.
            let a = old.fields["a"].as_u64().ok_or("no `a`")?;
            Ok(old.with("n", json!(a / 2)))
        })
        .start()
        .unwrap();
    assert!(
        runtime.incompatible_runs().is_empty(),
        "{:?}",
        reports(&runtime)
    );
    let client = runtime.client();
    assert_eq!(client.wait(new::field_added, run(1)).await.unwrap(), 1015);
    assert_eq!(client.migrated_from(run(1)).unwrap(), None);
    runtime.shutdown().await;
}

#[tokio::test]
async fn an_inferred_type_change_is_reported_field_by_field() {
    // The macro sees no difference: only an inferred type changed.
    assert_eq!(
        <old::inferred_type as cairn::Workflow>::FINGERPRINT,
        <new::inferred_type as cairn::Workflow>::FINGERPRINT
    );
    let dir = copy_fixture("inferred_type");
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(new::inferred_type)
        .start()
        .unwrap();
    let incompatible = runtime.incompatible_runs();
    assert_eq!(incompatible.len(), 1, "{incompatible:?}");
    let Error::IncompatibleState { changes, .. } = &incompatible[0] else {
        panic!("{incompatible:?}")
    };
    let change = changes
        .iter()
        .find(|c| c.old.is_some() && c.new.is_some())
        .unwrap_or_else(|| panic!("{changes:?}"));
    assert_eq!(change.state, "Fetch");
    assert_eq!(change.field.as_deref(), Some("papers"));
    assert_eq!(change.old.as_deref(), Some("Vec<Paper { title: String }>"));
    assert_eq!(
        change.new.as_deref(),
        Some("Vec<Paper { title: String, year: u32 }>")
    );
    runtime.shutdown().await;
}

#[tokio::test]
async fn an_inferred_type_change_is_migrated() {
    let dir = copy_fixture("inferred_type");
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(new::inferred_type)
        .migrate(new::inferred_type, |mut old: StoredState| {
            // Each stored paper gets a year.
            if let Some(papers) = old.fields.get_mut("papers") {
                for paper in papers.as_array_mut().into_iter().flatten() {
                    paper["year"] = json!(1999);
                }
            }
            Ok(old)
        })
        .start()
        .unwrap();
    assert!(
        runtime.incompatible_runs().is_empty(),
        "{:?}",
        reports(&runtime)
    );
    let output = runtime
        .client()
        .wait(new::inferred_type, run(1))
        .await
        .unwrap();
    assert_eq!(output, "on rust (1999)");
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_removed_state_strands_only_the_runs_in_it() {
    let dir = copy_fixture("state_removed");
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(new::state_removed)
        .start()
        .unwrap();
    // Run 1 is in `Check`, which is gone; run 2 is in `Double`, stored the same way.
    let incompatible = runtime.incompatible_runs();
    assert_eq!(incompatible.len(), 1, "{incompatible:?}");
    let message = incompatible[0].to_string();
    assert!(message.contains("run 1 "), "{message}");
    assert!(message.contains("state `Check`"), "{message}");
    assert!(message.contains("no longer exists"), "{message}");
    let client = runtime.client();
    assert_eq!(client.wait(new::state_removed, run(2)).await.unwrap(), 1012);
    assert_eq!(client.status(run(1)).unwrap().state, "Check");
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_renamed_state_is_migrated_by_name() {
    let dir = copy_fixture("state_renamed");
    {
        let runtime = Runtime::builder()
            .path(dir.path())
            .register(new::state_renamed)
            .start()
            .unwrap();
        let message = reports(&runtime).join("\n");
        assert!(message.contains("state `Check`"), "{message}");
        runtime.shutdown().await;
    }
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(new::state_renamed)
        .migrate(new::state_renamed, |old| match old.state.as_str() {
            "Check" => {
                let b = old.fields["b"].clone();
                Ok(StoredState::new("Verify").with("b", b))
            }
            other => Err(format!("no migration from `{other}`")),
        })
        .start()
        .unwrap();
    assert!(
        runtime.incompatible_runs().is_empty(),
        "{:?}",
        reports(&runtime)
    );
    let client = runtime.client();
    assert_eq!(client.wait(new::state_renamed, run(1)).await.unwrap(), 1011);
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_failing_migration_leaves_the_run_untouched_and_reported() {
    let dir = copy_fixture("state_renamed");
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(new::state_renamed)
        .migrate(new::state_renamed, |old| {
            // A state the current code does not have: refused before anything is written.
            let b = old.fields["b"].clone();
            Ok(StoredState::new("Nowhere").with("b", b))
        })
        .start()
        .unwrap();
    let message = reports(&runtime).join("\n");
    assert!(message.contains("its migration failed"), "{message}");
    assert!(message.contains("Nowhere"), "{message}");
    let client = runtime.client();
    let status = client.status(run(1)).unwrap();
    assert_eq!(
        (status.status, status.state.as_str()),
        (Status::Running, "Check")
    );
    assert_eq!(client.migrated_from(run(1)).unwrap(), None);
    runtime.shutdown().await;

    // Untouched: the old code still finishes it.
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(new::state_renamed)
        .register_previous(old::state_renamed)
        .start()
        .unwrap();
    assert!(
        runtime.incompatible_runs().is_empty(),
        "{:?}",
        reports(&runtime)
    );
    let output = runtime
        .client()
        .wait(old::state_renamed, run(1))
        .await
        .unwrap();
    assert_eq!(output, 1011);
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_loop_added_moves_later_states_and_an_identity_migration_moves_them_back() {
    let dir = copy_fixture("loop_added");
    {
        let runtime = Runtime::builder()
            .path(dir.path())
            .register(new::loop_added)
            .start()
            .unwrap();
        // Run 1 (in `Double`, before the loop) is adopted and finishes; run 2, in `Check`
        // after it, is stored as another variant position now.
        let incompatible = runtime.incompatible_runs();
        assert_eq!(incompatible.len(), 1, "{incompatible:?}");
        let message = incompatible[0].to_string();
        assert!(message.contains("run 2 "), "{message}");
        assert!(
            message.contains("state `Check`: stored as variant"),
            "{message}"
        );
        assert_eq!(
            runtime
                .client()
                .wait(new::loop_added, run(1))
                .await
                .unwrap(),
            1000 + 10 + 2 + 1
        );
        runtime.shutdown().await;
    }
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(new::loop_added)
        .migrate(new::loop_added, Ok)
        .start()
        .unwrap();
    assert!(
        runtime.incompatible_runs().is_empty(),
        "{:?}",
        reports(&runtime)
    );
    assert_eq!(
        runtime
            .client()
            .wait(new::loop_added, run(2))
            .await
            .unwrap(),
        1013
    );
    runtime.shutdown().await;
}

async fn raw(n: u64) -> Result<serde_json::Value, String> {
    Ok(json!({ "n": n }))
}

/// Holds a `serde_json::Value` across a step: a type serde-reflection cannot trace.
#[workflow(name = "untraced")]
async fn untraced(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let data = ctx.task(raw, n).await?;
    let b = ctx.task(finish, n).await?;
    Ok(b + data["n"].as_u64().unwrap_or(0))
}

#[tokio::test]
async fn a_type_that_cannot_be_traced_is_named_and_runs_fall_back_to_the_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(untraced)
        .start()
        .unwrap();
    let client = runtime.client();
    let stored = client.workflows().unwrap();
    let layout = stored[0].layout.as_ref().unwrap();
    assert!(!layout.is_traced());
    let reason = layout.untraced_reason().unwrap();
    assert!(reason.contains("`data`"), "{reason}");
    // Runs of it are stored under the macro's fingerprint, and run as ever.
    assert_eq!(
        stored[0].fingerprint,
        <untraced as cairn::Workflow>::FINGERPRINT
    );
    assert_eq!(client.run(untraced, 2).await.unwrap(), 1004);
    runtime.shutdown().await;
}
