//! Runs stored by an older layout, through the backend: an inferred type that changed is
//! reported field by field, a run whose current state is stored the same way is adopted
//! whatever changed elsewhere, and a migration moves a run, keeping the original until the
//! run's next transition (see `crate::layout` in the runtime; on LMDB, `tests/upgrade.rs` does
//! the same on directories written by older layouts).

use std::sync::LazyLock;

use cairn::{Context, Error, Flow, Status, StoredState, workflow};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Semaphore;

use super::{Backend, BackendUnderTest, fresh_store};

mod v1 {
    use super::*;
    #[derive(Clone, Debug, Serialize, Deserialize)]
    pub struct Item {
        pub name: String,
    }
    pub async fn load(n: u32) -> Result<Vec<Item>, String> {
        Ok((0..n)
            .map(|i| Item {
                name: format!("item {i}"),
            })
            .collect())
    }
    pub async fn total(items: Vec<Item>) -> Result<String, String> {
        Ok(items.len().to_string())
    }
}

mod v2 {
    use super::*;
    #[derive(Clone, Debug, Serialize, Deserialize)]
    pub struct Item {
        pub name: String,
        pub weight: u32,
    }
    pub async fn load(n: u32) -> Result<Vec<Item>, String> {
        Ok((0..n)
            .map(|i| Item {
                name: format!("item {i}"),
                weight: i,
            })
            .collect())
    }
    pub async fn total(items: Vec<Item>) -> Result<String, String> {
        Ok(items.iter().map(|i| i.weight).sum::<u32>().to_string())
    }
}

/// Lets the step of the migration test through once the test has looked at the run.
static GATE: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(0));

async fn gated_total(items: Vec<v2::Item>) -> Result<String, String> {
    let _permit = GATE.acquire().await.map_err(|e| e.to_string())?;
    v2::total(items).await
}

async fn note(text: String) -> Result<String, String> {
    Ok(text)
}

#[workflow(name = "inventory")]
async fn inventory_v1(ctx: &mut Context, n: u32) -> Result<String, String> {
    let items = ctx.task(v1::load, n).await?;
    let total = ctx.task(v1::total, items).await?;
    Ok(total)
}

/// Only an inferred type changed: `items` holds `v2::Item`s.
#[workflow(name = "inventory")]
async fn inventory_v2(ctx: &mut Context, n: u32) -> Result<String, String> {
    let items = ctx.task(v2::load, n).await?;
    let total = ctx.task(v2::total, items).await?;
    Ok(total)
}

/// As `inventory_v2`, with the last step held at a gate.
#[workflow(name = "inventory")]
async fn inventory_gated(ctx: &mut Context, n: u32) -> Result<String, String> {
    let items = ctx.task(v2::load, n).await?;
    let total = ctx.task(gated_total, items).await?;
    Ok(total)
}

#[workflow(name = "journal")]
async fn journal_v1(ctx: &mut Context, text: String) -> Result<String, String> {
    let a = ctx.task(note, text).await?;
    let b = ctx.task(note, a).await?;
    Ok(b)
}

/// The state after the second step holds a new field; the first is unchanged.
#[workflow(name = "journal")]
async fn journal_v2(ctx: &mut Context, text: String) -> Result<String, String> {
    let a = ctx.task(note, text).await?;
    let b = ctx.task(note, a.clone()).await?;
    Ok(format!("{b}/{a}"))
}

/// As `journal_v2`, with `version` bumped: its runs must not go on with older runs' state.
#[workflow(name = "journal", version = 3)]
async fn journal_v3(ctx: &mut Context, text: String) -> Result<String, String> {
    let a = ctx.task(note, text).await?;
    let b = ctx.task(note, a.clone()).await?;
    Ok(format!("{b}/{a}"))
}

/// A store with run 1 of `inventory_v1` stopped after its first transition.
async fn old_inventory() -> BackendUnderTest {
    let store = fresh_store();
    let runtime = store
        .runtime()
        .register(inventory_v1)
        .on_transition(|_| Flow::Halt)
        .start()
        .unwrap();
    let client = runtime.client();
    let run = client.start(inventory_v1, 3).await.unwrap();
    assert!(client.wait(inventory_v1, run).await.is_err());
    runtime.shutdown().await;
    store
}

#[tokio::test]
async fn an_inferred_type_change_is_reported_field_by_field() {
    let store = old_inventory().await;
    let runtime = store.runtime().register(inventory_v2).start().unwrap();
    let incompatible = runtime.incompatible_runs();
    assert_eq!(incompatible.len(), 1, "{incompatible:?}");
    let Error::IncompatibleState { changes, .. } = &incompatible[0] else {
        panic!("{incompatible:?}")
    };
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].state, "Load");
    assert_eq!(changes[0].field.as_deref(), Some("items"));
    assert_eq!(
        changes[0].old.as_deref(),
        Some("Vec<Item { name: String }>")
    );
    assert_eq!(
        changes[0].new.as_deref(),
        Some("Vec<Item { name: String, weight: u32 }>")
    );
    let status = runtime.client().status("1".parse().unwrap()).unwrap();
    assert_eq!(
        (status.status, status.state.as_str()),
        (Status::Running, "Load")
    );
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_migration_keeps_the_original_until_the_next_transition() {
    let store = old_inventory().await;
    let runtime = store
        .runtime()
        .register(inventory_gated)
        .migrate(inventory_gated, |mut old: StoredState| {
            for item in old.fields["items"].as_array_mut().into_iter().flatten() {
                item["weight"] = json!(5);
            }
            Ok(old)
        })
        .start()
        .unwrap();
    assert!(
        runtime.incompatible_runs().is_empty(),
        "{:?}",
        runtime.incompatible_runs()
    );
    let client = runtime.client();
    let run = "1".parse().unwrap();
    // The step after the migrated state is held: nothing was committed since.
    let (layout, state) = client.migrated_from(run).unwrap().expect("original kept");
    assert_eq!(state, "Load");
    let current = client
        .workflows()
        .unwrap()
        .into_iter()
        .find(|w| w.current)
        .unwrap();
    assert_ne!(
        layout, current.fingerprint,
        "the original's layout is the old one"
    );
    GATE.add_permits(1);
    assert_eq!(client.wait(inventory_gated, run).await.unwrap(), "15");
    assert_eq!(client.migrated_from(run).unwrap(), None);
    runtime.shutdown().await;
}

/// A store with a run of `journal_v1` stopped after its first transition, in `Note`.
async fn old_journal() -> (BackendUnderTest, cairn::RunId) {
    let store = fresh_store();
    let runtime = store
        .runtime()
        .register(journal_v1)
        .on_transition(|_| Flow::Halt)
        .start()
        .unwrap();
    let client = runtime.client();
    let run = client.start(journal_v1, "x".to_owned()).await.unwrap();
    assert!(client.wait(journal_v1, run).await.is_err());
    runtime.shutdown().await;
    (store, run)
}

#[tokio::test]
async fn a_run_whose_state_is_unchanged_is_adopted() {
    let (store, run) = old_journal().await;
    // The run is in `Note` (after the first step), stored the same way by both versions; the
    // state after the second step changed, which does not concern it.
    let runtime = store.runtime().register(journal_v2).start().unwrap();
    assert!(
        runtime.incompatible_runs().is_empty(),
        "{:?}",
        runtime.incompatible_runs()
    );
    let client = runtime.client();
    assert_eq!(client.wait(journal_v2, run).await.unwrap(), "x/x");
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_bumped_version_is_never_adopted() {
    let (store, run) = old_journal().await;
    let runtime = store.runtime().register(journal_v3).start().unwrap();
    let message = runtime
        .incompatible_runs()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(message.contains("`version` went from 0 to 3"), "{message}");
    assert_eq!(runtime.client().status(run).unwrap().state, "Note");
    runtime.shutdown().await;
}
